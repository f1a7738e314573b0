// The media embedders' weights of a Gemma 4 unified checkpoint (spec §7.6), bound and checked
// against the MediaSpec. Both spellings are accepted: the converted checkpoints'
// `model.vision_embedder.*` + `model.embed_vision.embedding_projection`, and transformers' module
// names `model.embed_vision.*` + `model.embed_vision.multimodal_embedder.embedding_projection`.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "gemrt/core/tensor.h"
#include "gemrt/io/tensor_store.h"
#include "gemrt/model/gemma/media_config.h"

namespace gemrt {

struct VisionEmbedderWeights {
  TensorView ln1_weight, ln1_bias;        // [patch_values]
  TensorView dense_weight, dense_bias;    // [embed_dim, patch_values], [embed_dim]
  TensorView ln2_weight, ln2_bias;        // [embed_dim]
  TensorView pos_embedding;               // [posemb_size, 2, embed_dim]: x table, then y table
  TensorView pos_norm_weight, pos_norm_bias;  // [embed_dim]
  TensorView projection;                  // [hidden, output_proj_dims]
};

struct AudioEmbedderWeights {
  TensorView projection;  // [hidden, embed_dim]
};

struct SiglipLayerWeights {
  TensorView ln1_weight, ln1_bias, ln2_weight, ln2_bias;  // [hidden]
  TensorView q, q_bias, k, k_bias, v, v_bias, out, out_bias;  // [hidden, hidden], [hidden]
  TensorView fc1, fc1_bias, fc2, fc2_bias;  // [intermediate, hidden], [intermediate]; [hidden, intermediate], [hidden]
};

struct SiglipWeights {
  TensorView patch, patch_bias;  // the conv [hidden, channels, p, p] read as [hidden, channels * p * p]; [hidden]
  TensorView position;           // [patches, hidden]
  std::vector<SiglipLayerWeights> layers;
  TensorView post_ln_weight, post_ln_bias;  // [hidden]
  TensorView proj_norm;          // [hidden], Gemma RMSNorm (1 + w)
  // mm_input_projection_weight is stored [hidden, text hidden] (x @ W); the product wants
  // [text hidden, hidden]: a transposed copy, owned here (a few MB; the mapped file is untouched).
  TensorView projection;
  std::shared_ptr<std::vector<std::byte>> projection_storage;
};

struct MediaWeights {
  std::optional<VisionEmbedderWeights> vision;
  std::optional<AudioEmbedderWeights> audio;
  std::optional<SiglipWeights> siglip;
};

// Throws gemrt::Error naming the tensor (and the spellings looked for) when one is missing or has
// the wrong shape or a non-float dtype.
MediaWeights bind_media_weights(const MediaSpec& spec, int64_t hidden, const TensorStore& store);

}  // namespace gemrt
