#include "gemrt/model/gemma/weight_names.h"

#include "gemrt/core/error.h"

namespace gemrt {

HfWeightNames HfWeightNames::detect(const TensorStore& store) {
  for (const char* prefix : {"model.", "model.language_model.", "language_model.model."}) {
    if (store.find(std::string(prefix) + "embed_tokens.weight")) return HfWeightNames(prefix);
  }
  fail(store.source(), ": missing tensor 'model.embed_tokens.weight' (also looked for the multimodal prefixes ",
       "'model.language_model.' and 'language_model.model.')");
}

std::string HfWeightNames::layer(int i, std::string_view suffix) const {
  return str(prefix_, "layers.", i, ".", suffix, ".weight");
}

std::string HfWeightNames::lm_head(const TensorStore& store) const {
  for (const char* name : {"lm_head.weight", "language_model.lm_head.weight"})
    if (store.find(name)) return name;
  return "lm_head.weight";
}

}  // namespace gemrt
