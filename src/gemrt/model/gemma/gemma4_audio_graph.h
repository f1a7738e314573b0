// Gemma 4's audio tower and embed_audio as a graph (spec §6.7; transformers 5.17's
// Gemma4AudioModel and Gemma4MultimodalEmbedder): one clip's log-mel frames to rows of the language
// model's embedding space.
//
//   inputs  "mel" float32 [F, mel_bins] (Gemma4AudioFeatureExtractor's log-mel frames),
//           "mel_mask" float32 [F] (1 valid, 0 padding),
//           "conv1_mask" float32 [T1] = mel_mask[::2] (T1 = (F - 1) / 2 + 1),
//           "token_mask" float32 [T] = conv1_mask[::2] (T = (T1 - 1) / 2 + 1)
//   output  "features" float32 [T, text hidden]: every subsampled frame's soft token; the valid ones
//           (token_mask 1) are the clip's audio tokens, in order (HF drops the others).
//
//   subsampling, twice: x = relu(layer_norm_nobias(conv3x3_stride2(x * mask))) over channels
//   (the mel grid is one channel); x [T, sub_freq * C1] (frequency major) @ input_proj^T
//   per layer (g = clamp(., +-gradient_clipping)):
//     x = x + residual_weight * post_norm(g(ff2(silu(ff1(pre_norm(g(x)))))))      (feed_forward1)
//     x = x + norm_post_attn(g(post(local_attention(norm_pre_attn(g(x))))))
//         (q * q_scale (per dim, derived), k * ln(1 + e) / ln 2, rel_k derived; ir.h LocalAttention)
//     x = x + linear_end(silu(conv_norm(g(dwconv(glu(linear_start(conv_pre_norm(x))))))))
//     x = norm_out(g(feed_forward2(x)))
//   features = rms_norm_noscale(x @ output_proj^T + bias) @ embedding_projection^T
// Every projection is a Gemma4ClippableLinear (clamped on input and output when the config clips).
#pragma once

#include "gemrt/graph/ir.h"
#include "gemrt/model/gemma/media_config.h"
#include "gemrt/model/gemma/media_weights.h"

namespace gemrt {

// Frames after the subsampling of F mel frames: two stride-2 convolutions (kernel 3, pad 1).
int64_t gemma4_audio_tokens(int64_t frames);

// Which of transformers' attention masks the conformer reproduces (graph/ir.h LocalAttentionAttrs
// eager_mask): Sdpa, the default attn_implementation and the tower's intended sliding window;
// Eager, attn_implementation="eager", whose float mask transformers 5.17 reads inverted (what the
// gemma4-towers-pub fixture was made with).
enum class Gemma4AudioMask { Sdpa, Eager };

Graph build_gemma4_audio_graph(const Gemma4AudioSpec& spec, const Gemma4AudioWeights& w, int64_t frames,
                               Gemma4AudioMask mask = Gemma4AudioMask::Sdpa);

}  // namespace gemrt
