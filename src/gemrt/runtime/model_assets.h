// Everything beside the weights that running a model for a person needs: tokenizer, chat
// template, generation defaults and stop tokens, from a GGUF file's metadata or from the files
// of a Hugging Face checkpoint folder (tokenizer.json / tokenizer.model, tokenizer_config.json,
// generation_config.json).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gemrt/model/gemma/model.h"
#include "gemrt/sample/sampler.h"
#include "gemrt/text/tokenizer.h"

namespace gemrt {

struct ModelAssets {
  Tokenizer tokenizer;
  std::optional<std::string> chat_template;  // Jinja source (the file's, else the family's built-in one)
  std::string bos_token, eos_token;          // pieces the template may reference
  SamplingParams sampling;                   // the model's defaults (generation_config / GGUF)
  std::vector<int32_t> stop_ids;             // EOS ids and the end-of-turn token
};

// `path` as given to GemmaModel::load; `model` supplies the GGUF metadata and config EOS ids.
ModelAssets load_model_assets(const std::string& path, const GemmaModel& model);

// Only the tokenizer: PATH is a GGUF file or a folder with tokenizer files (no weights needed).
Tokenizer load_tokenizer(const std::string& path);

}  // namespace gemrt
