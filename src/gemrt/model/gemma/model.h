// A loaded Gemma model: config spec + memory-mapped weights bound by name.
#pragma once

#include <memory>
#include <string>

#include "gemrt/io/gguf.h"
#include "gemrt/io/tensor_store.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/model/gemma/forward_graph.h"
#include "gemrt/model/gemma/media_config.h"
#include "gemrt/model/gemma/media_weights.h"
#include "gemrt/model/gemma/synthetic.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {

struct LoadOptions {
  // Round RoPE inverse frequencies to the checkpoint's stored dtype, reproducing an HF model
  // that was cast to that dtype with `model.to(...)` (see RopeFreqPrecision). Off by default:
  // HF's from_pretrained keeps them float32 whatever the checkpoint dtype.
  bool rope_freqs_in_weight_dtype = false;
  // llama.cpp's companion mmproj GGUF holding the vision / audio towers (model/gemma/mmproj_config.h)
  // of a GGUF text model; empty: none.
  std::string mmproj = {};
};

class GemmaModel {
 public:
  // `path`: a GGUF file, or a Hugging Face checkpoint folder (config.json + model.safetensors or
  // shards). Weights stay memory-mapped in their stored (possibly packed) format. With
  // options.mmproj (a GGUF text model only), the towers come from that file: its projectors must
  // be the text model's family and its projection width the text model's (errors name the file
  // and key), image tokens attend as mmproj_image_blocks() says, and the media token ids come from
  // the text model's vocabulary (model/gemma/gguf_media_tokens.h).
  static std::unique_ptr<GemmaModel> load(const std::string& path, const LoadOptions& options = {});
  // Random weights of the shape an HF config.json describes, made in memory (synthetic.h).
  static std::unique_ptr<GemmaModel> synthetic(const std::string& config_json, const SyntheticWeightType& type,
                                               uint64_t seed = 0);

  const ModelSpec& spec() const { return spec_; }
  const GemmaWeights& weights() const { return weights_; }
  // The media embedders of a Gemma 4 unified checkpoint (empty for text-only models).
  const MediaSpec& media() const { return media_; }
  const MediaWeights& media_weights() const { return media_weights_; }
  const TensorStore& store() const { return *store_; }
  // The GGUF file the model came from (its metadata holds the tokenizer), or nullptr.
  const GgufFile* gguf() const { return gguf_; }
  // The mmproj file the towers came from (LoadOptions::mmproj), or nullptr.
  const GgufFile* mmproj() const { return mmproj_.get(); }

  Graph forward_graph(int64_t tokens, LogitsRows rows, int top_k = 0, MediaSlots media = {}) const {
    return build_forward_graph(spec_, weights_, tokens, rows, top_k, media);
  }
  KvLayout kv_layout(int max_tokens) const { return kv_layout_for(spec_, max_tokens); }

 private:
  ModelSpec spec_;
  std::unique_ptr<TensorStore> store_;
  GemmaWeights weights_;
  MediaSpec media_;
  MediaWeights media_weights_;
  const GgufFile* gguf_ = nullptr;  // owned by store_
  std::unique_ptr<GgufFile> mmproj_;  // media_weights_ point into it
};

}  // namespace gemrt
