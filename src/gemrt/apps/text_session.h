// A model with its tokenizer, template and sampler, for the text commands (run, chat).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gemrt/apps/cli_common.h"
#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/generator.h"
#include "gemrt/runtime/model_assets.h"
#include "gemrt/runtime/session.h"
#include "gemrt/text/chat_template.h"

namespace gemrt::cli {

class TextSession {
 public:
  // `mmproj`: llama.cpp's mmproj file with the towers of a GGUF text model ("" none).
  TextSession(const std::string& model_path, const ComputeFlags& compute, int ctx, const SamplingFlags& flags,
              const std::string& mmproj = "");

  // Tokens of a plain-text prompt (BOS added as the tokenizer says).
  std::vector<int32_t> encode_raw(const std::string& text) const;
  // The chat template rendered with a generation prompt, tokenized without adding BOS again
  // (the template writes it; spec P26).
  std::vector<int32_t> encode_chat(const std::vector<ChatMessage>& msgs) const;
  std::string render_chat(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const;
  std::vector<int32_t> encode_special(const std::string& text) const;

  // Appends `prompt` to the session and generates, streaming complete UTF-8 text to `on_text`.
  // `media`: embedding rows for the prompt's image / audio tokens (runtime/media.h).
  GenerationStats generate(std::vector<int32_t> prompt, int max_new, const std::function<void(const std::string&)>& on_text,
                           const PromptMedia* media = nullptr);

  const GemmaModel& model() const { return *model_; }
  Backend& backend() { return *backend_; }

  Session& session() { return *session_; }
  const Tokenizer& tokenizer() const { return assets_.tokenizer; }
  const SamplingParams& sampling() const { return sampler_->params(); }
  int32_t pending_token() const { return pending_; }

 private:
  std::unique_ptr<GemmaModel> model_;
  ModelAssets assets_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Sampler> sampler_;
  int32_t pending_ = -1;
};

// "prompt 12 tokens, generated 64 tokens | prefill 120.3 tok/s, decode 30.1 tok/s"
std::string summary_line(const GenerationStats& st);

}  // namespace gemrt::cli
