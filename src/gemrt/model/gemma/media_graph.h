// The Gemma 4 unified model's media embedders as graphs (spec §7.3, §7.4): what turns merged pixel
// patches and raw audio frames into rows of the language model's embedding space.
//
// Vision, P patches (padding patches already dropped):
//   inputs  "pixel_values" float32 [P, patch_values], "pos_x" / "pos_y" int32 [P] (patch column
//           and row, each in [0, posemb_size))
//   output  "features" float32 [P, hidden]
//   LN1 -> Dense (+ bias) -> LN2 -> + pos_embedding[x, 0] + pos_embedding[y, 1] -> pos LN ->
//   weightless RMSNorm -> projection.
// Audio, A frames:
//   input   "audio_frames" float32 [A, audio embed_dim]
//   output  "features" float32 [A, hidden]
//   weightless RMSNorm -> projection.
#pragma once

#include <cstdint>

#include "gemrt/graph/ir.h"
#include "gemrt/graph/kv_layout.h"
#include "gemrt/model/gemma/media_config.h"
#include "gemrt/model/gemma/media_weights.h"

namespace gemrt {

// Gemma 3's SigLIP tower and projector for one image (spec §4.5):
//   inputs  "pixel_patches" float32 [N, patch_values] (N = patches_per_side^2, row-major; each
//           patch's values channel-major, then rows, then columns: the conv weight's order),
//           "patch_ids" int32 [N] (0 .. N-1), "positions" int32 [N] (0 .. N-1),
//           "attention_blocks" int32 [N, 2] (every row [0, N): all patches see each other)
//   output  "features" float32 [tokens_per_image, text hidden]
// The encoder's attention runs through the Attention op over KV slot l for layer l (siglip_kv_layout).
Graph build_siglip_graph(const SiglipSpec& spec, const SiglipWeights& w);
KvLayout siglip_kv_layout(const SiglipSpec& spec);

Graph build_vision_embedder_graph(const VisionEmbedderSpec& spec, const VisionEmbedderWeights& w, int64_t patches);
Graph build_audio_embedder_graph(const AudioEmbedderSpec& spec, const AudioEmbedderWeights& w, int64_t frames);

}  // namespace gemrt
