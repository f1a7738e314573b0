// Hugging Face tensor names of Gemma 1/2/3 checkpoints (spec §2.4, §3.5, §4.6, P27).
#pragma once

#include <string>
#include <string_view>

#include "gemrt/io/tensor_store.h"

namespace gemrt {

class HfWeightNames {
 public:
  // Finds the language-model prefix the checkpoint uses: "model." (text-only exports),
  // "model.language_model." (current HF multimodal) or "language_model.model." (Gemma 3
  // multimodal as converted). Throws if no embedding table is found under any of them.
  static HfWeightNames detect(const TensorStore& store);

  std::string embed() const { return prefix_ + "embed_tokens.weight"; }
  std::string final_norm() const { return prefix_ + "norm.weight"; }
  std::string layer(int i, std::string_view suffix) const;  // suffix e.g. "self_attn.q_proj"
  // The untied LM head's name, if the store has one.
  std::string lm_head(const TensorStore& store) const;
  const std::string& prefix() const { return prefix_; }

 private:
  explicit HfWeightNames(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string prefix_;
};

}  // namespace gemrt
