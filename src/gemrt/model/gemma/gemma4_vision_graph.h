// Gemma 4's vision tower and embed_vision as a graph (spec §6.6; transformers 5.17's
// Gemma4VisionModel and Gemma4MultimodalEmbedder): one image's patches to rows of the language
// model's embedding space.
//
// The image is a rows x cols grid of patches (padding patches already dropped, both sides
// multiples of the pooling kernel k), N = rows * cols, in row-major grid order (y major, x minor):
//   inputs  "patches" float32 [N, 3 patch_size^2]: each patch's values as the processor flattens
//           them, already mapped v -> 2 (v - 0.5) (Gemma4VisionPatchEmbedder's first step),
//           "pos_x" int32 [N] (the patch's x) and "pos_y" int32 [N] (posemb_size + its y): rows of
//           the position table read as [2 posemb_size, hidden],
//           "rope_positions" int32 [N, 2] (x, y), "positions" int32 [N] (0 .. N-1), and
//           "attention_blocks" int32 [N, 2] (every row [0, N): every patch sees every patch)
//   output  "features" float32 [(rows / k) * (cols / k), text hidden], soft tokens in row-major
//           order of the pooled grid (HF's kernel index x / k + (cols / k) * (y / k))
//
//   h = patches @ input_proj^T + (table[x] + table[S + y])
//   per layer: h = h + post_attn_norm(o(attn(rope(q_norm(q(n))), rope(k_norm(k(n))), v_norm(v(n)))))
//              with n = input_norm(h), attention scale 1;
//              h = h + post_ffn_norm(down(gelu_tanh(gate(m)) * up(m))), m = pre_ffn_norm(h);
//              each projection clamped on input and output when the config clips them
//   pooled = avg_pool_k(h) * sqrt(hidden); standardize: (pooled - std_bias) * std_scale
//   features = rms_norm_noscale(pooled) @ embedding_projection^T
// HF pools by a one-hot matrix product (sum of h / k^2); the pool here sums, then divides: the same
// value within float32 rounding. Attention runs through the Attention op over KV slot l for layer
// l (gemma4_vision_kv_layout).
#pragma once

#include "gemrt/graph/ir.h"
#include "gemrt/graph/kv_layout.h"
#include "gemrt/model/gemma/media_config.h"
#include "gemrt/model/gemma/media_weights.h"

namespace gemrt {

Graph build_gemma4_vision_graph(const Gemma4VisionSpec& spec, const Gemma4VisionWeights& w, int rows, int cols);
KvLayout gemma4_vision_kv_layout(const Gemma4VisionSpec& spec, int patches);

}  // namespace gemrt
