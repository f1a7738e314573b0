// The media embedders' and towers' weights, bound and checked against the MediaSpec. Gemma 4
// unified (spec §7.6): both spellings are accepted, the converted checkpoints'
// `model.vision_embedder.*` + `model.embed_vision.embedding_projection`, and transformers' module
// names `model.embed_vision.*` + `model.embed_vision.multimodal_embedder.embedding_projection`.
// Gemma 3's SigLIP tower (spec §4.6) and Gemma 4's vision tower (spec §6.8:
// `model.vision_tower.{patch_embedder, encoder.layers.N, std_bias, std_scale}` +
// `model.embed_vision.embedding_projection`; also without the `model.` prefix).
#pragma once

#include <limits>
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
  std::vector<std::shared_ptr<std::vector<std::byte>>> storage = {};  // parts rearranged at load (an mmproj's)
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
  TensorView proj_norm;          // [hidden], Gemma RMSNorm: x * (proj_norm_offset + proj_norm)
  // 1: stored zero-centred (Hugging Face); 0: stored as 1 + w (llama.cpp's mmproj, spec §8.4),
  // whose float32 sum is the very factor transformers forms.
  float proj_norm_offset = 1.0f;
  // mm_input_projection_weight is stored [hidden, text hidden] (x @ W); the product wants
  // [text hidden, hidden]: a transposed copy, owned here (a few MB; the mapped file is untouched).
  TensorView projection;
  std::shared_ptr<std::vector<std::byte>> projection_storage;
};

// A Gemma4ClippableLinear (spec §6.6): the product's weight [out, in] and, when the config's
// use_clipped_linears, the clamp bounds of its input and output (the checkpoint's scalar buffers
// input_min / input_max / output_min / output_max); otherwise (or for an open side) +-infinity.
struct ClippedLinearWeights {
  TensorView weight;
  float in_lo = -std::numeric_limits<float>::infinity(), in_hi = std::numeric_limits<float>::infinity();
  float out_lo = -std::numeric_limits<float>::infinity(), out_hi = std::numeric_limits<float>::infinity();
};

struct Gemma4VisionLayerWeights {
  TensorView input_norm, post_attention_norm, pre_ffn_norm, post_ffn_norm;  // [hidden]
  ClippedLinearWeights q, k, v, o;  // [heads * head_dim, hidden], [kv_heads * head_dim, hidden] x2, [hidden, heads * head_dim]
  TensorView q_norm, k_norm;        // [head_dim]
  ClippedLinearWeights gate, up, down;  // [intermediate, hidden] x2, [hidden, intermediate]
};

struct Gemma4VisionWeights {
  TensorView patch_proj;  // input_proj [hidden, 3 patch_size^2] (row, column, channel per patch)
  std::shared_ptr<std::vector<std::byte>> patch_proj_storage;  // when rearranged at load (an mmproj's conv kernel)
  TensorView positions;   // position_embedding_table [2, S, hidden] read as [2S, hidden]: x rows, then y rows
  std::vector<Gemma4VisionLayerWeights> layers;
  // standardize: -std_bias as float32 (an AddVec weight: x + (-b) is x - b exactly), std_scale.
  TensorView neg_std_bias, std_scale;  // [hidden]
  std::shared_ptr<std::vector<float>> neg_std_bias_storage;
  TensorView projection;  // embed_vision.embedding_projection [text hidden, hidden]
};

// Gemma 4's audio tower (spec §6.7, `model.audio_tower.*` + `model.embed_audio.embedding_projection`,
// also without the `model.` prefix). Derived constants, computed in float32 at binding and owned
// here (float32 TensorViews over `constants`):
//   q_scale [hidden]: per layer, head_dim^-0.5 / ln 2 * softplus(per_dim_scale) repeated over heads
//   rel_k [P, hidden]: per layer, relative_k_proj of the sinusoidal table (Gemma4AudioRelPositionalEncoding:
//                      P = (chunk + context_left - 1 + context_right) / 2 + 1 rows, positions P-1 .. 0)
//   zero [conv_channels] for the subsampling LayerNorms' absent bias.
struct Gemma4AudioFeedForwardWeights {
  TensorView pre_norm, post_norm;  // [hidden]
  ClippedLinearWeights up, down;   // ffw_layer_1 [4 hidden, hidden], ffw_layer_2 [hidden, 4 hidden]
};

struct Gemma4AudioLayerWeights {
  Gemma4AudioFeedForwardWeights ff1, ff2;
  TensorView norm_pre_attn, norm_post_attn, norm_out;  // [hidden]
  ClippedLinearWeights q, k, v, post;                  // [hidden, hidden]
  TensorView q_scale, rel_k;                           // derived (above)
  TensorView conv_pre_norm, conv_norm;                 // [hidden]
  ClippedLinearWeights linear_start, linear_end;       // [2 hidden, hidden], [hidden, hidden]
  TensorView depthwise;                                // [hidden, 1, conv_kernel]
};

struct Gemma4AudioWeights {
  TensorView conv0, conv1;            // [C0, 1, 3, 3], [C1, C0, 3, 3]
  TensorView norm0, norm1;            // [C0], [C1] LayerNorm weights
  TensorView zero0, zero1;            // derived zero biases [C0], [C1]
  TensorView input_proj;              // [hidden, sub_freq * C1]
  std::vector<Gemma4AudioLayerWeights> layers;
  TensorView output_proj, output_bias;  // [output_dims, hidden], [output_dims]
  TensorView projection;                // embed_audio.embedding_projection [text hidden, output_dims]
  std::shared_ptr<std::vector<std::vector<float>>> constants;
};

struct MediaWeights {
  std::optional<VisionEmbedderWeights> vision;
  std::optional<AudioEmbedderWeights> audio;
  std::optional<SiglipWeights> siglip;
  std::optional<Gemma4VisionWeights> gemma4_vision;
  std::optional<Gemma4AudioWeights> gemma4_audio;
};

// Binds the towers of a Hugging Face checkpoint (safetensors names above; llama.cpp's mmproj
// files: model/gemma/mmproj_weights.h). Throws gemrt::Error naming the tensor (and the spellings
// looked for) when one is missing or has the wrong shape or a non-float dtype.
MediaWeights bind_media_weights(const MediaSpec& spec, int64_t hidden, const TensorStore& store);

}  // namespace gemrt
