#include "gemrt/model/gemma/gemma4_audio_graph.h"

#include <cmath>
#include <string>

#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/model/gemma/clipped_linear.h"

namespace gemrt {
namespace {

int64_t halved(int64_t n) { return (n - 1) / 2 + 1; }  // (n + 2 - 3) / 2 + 1

}  // namespace

int64_t gemma4_audio_tokens(int64_t frames) { return frames <= 0 ? 0 : halved(halved(frames)); }

Graph build_gemma4_audio_graph(const Gemma4AudioSpec& s, const Gemma4AudioWeights& w, int64_t frames,
                               Gemma4AudioMask mask) {
  if (frames <= 0) fail("Gemma 4 audio graph: no mel frames");
  if (static_cast<int>(w.layers.size()) != s.layers)
    fail("Gemma 4 audio graph: ", w.layers.size(), " layers of weights for ", s.layers, " layers");
  const int64_t t1 = halved(frames), t = halved(t1), h = s.hidden;
  Graph g;
  GraphBuilder b(g);
  const ValueId mel = b.input("mel", Shape{frames, s.mel_bins}, DType::F32);
  const ValueId mel_mask = b.input("mel_mask", Shape{frames}, DType::F32);
  const ValueId conv1_mask = b.input("conv1_mask", Shape{t1}, DType::F32);
  const ValueId token_mask = b.input("token_mask", Shape{t}, DType::F32);

  // Gemma4AudioSubSampleConvProjection (channels last).
  Conv2dAttrs c0{static_cast<int>(frames), s.mel_bins, 3, 2, 1};
  ValueId x = b.conv2d(b.reshape(mel, frames * s.mel_bins, "mel_grid"), b.weight(w.conv0), mel_mask, c0, "conv0");
  x = b.act(b.layer_norm(x, b.weight(w.norm0), b.weight(w.zero0), s.eps, "conv0_norm"), Activation::Relu, "conv0_relu");
  Conv2dAttrs c1{c0.out_rows(), c0.out_cols(), 3, 2, 1};
  x = b.conv2d(x, b.weight(w.conv1), conv1_mask, c1, "conv1");
  x = b.act(b.layer_norm(x, b.weight(w.norm1), b.weight(w.zero1), s.eps, "conv1_norm"), Activation::Relu, "conv1_relu");
  x = b.matmul(b.reshape(x, t, "subsampled"), b.weight(w.input_proj), "input_proj_linear");

  const float gc = s.gradient_clipping;
  const auto clip = [&](ValueId v, const std::string& label) { return b.clamp(v, -gc, gc, label); };
  const auto norm = [&](ValueId v, const TensorView& weight, const std::string& label) {
    return b.rms_norm(v, b.weight(weight), h, s.eps, 0.0f, label);  // Gemma4RMSNorm: x * w
  };
  const auto feed_forward = [&](ValueId in, const Gemma4AudioFeedForwardWeights& f, const std::string& p) {
    ValueId y = norm(clip(in, p + "clip_in"), f.pre_norm, p + "pre_layer_norm");
    y = b.act(clipped_linear(b, y, f.up, p + "ffw_layer_1"), Activation::Silu, p + "silu");
    y = norm(clip(clipped_linear(b, y, f.down, p + "ffw_layer_2"), p + "clip_out"), f.post_norm, p + "post_layer_norm");
    return b.add(in, b.scale(y, s.residual_weight, p + "residual_weight"), p + "residual");
  };
  LocalAttentionAttrs a;
  a.n_heads = s.heads;
  a.head_dim = s.head_dim();
  a.chunk = s.chunk;
  a.max_past = s.context_left - 1;
  a.left = s.context_left - 1;
  a.right = s.context_right;
  a.softcap = s.logit_cap;
  a.invalid = s.invalid_logit;
  a.eager_mask = mask == Gemma4AudioMask::Eager;
  const auto k_scale = static_cast<float>(std::log(1.0 + std::exp(1.0)) / std::log(2.0));
  for (int l = 0; l < s.layers; ++l) {
    const Gemma4AudioLayerWeights& L = w.layers[static_cast<size_t>(l)];
    const std::string p = "A" + std::to_string(l) + ".";
    x = feed_forward(x, L.ff1, p + "ff1.");

    const ValueId n = norm(clip(x, p + "attn_clip_in"), L.norm_pre_attn, p + "norm_pre_attn");
    const ValueId q = b.mul_vec(clipped_linear(b, n, L.q, p + "q_proj"), b.weight(L.q_scale), p + "q_scale");
    const ValueId k = b.scale(clipped_linear(b, n, L.k, p + "k_proj"), k_scale, p + "k_scale");
    const ValueId v = clipped_linear(b, n, L.v, p + "v_proj");
    const ValueId att = b.local_attention(q, k, v, b.weight(L.rel_k), token_mask, a, p + "attention");
    x = b.add(x, norm(clip(clipped_linear(b, att, L.post, p + "post"), p + "attn_clip_out"), L.norm_post_attn,
                      p + "norm_post_attn"),
              p + "attn_residual");

    ValueId c = clipped_linear(b, norm(x, L.conv_pre_norm, p + "conv_pre_norm"), L.linear_start, p + "linear_start");
    c = b.gated_act(b.slice_cols(c, h, h, p + "glu_gate"), b.slice_cols(c, 0, h, p + "glu_value"), Activation::Sigmoid,
                    p + "glu");
    c = norm(clip(b.depthwise_conv1d(c, b.weight(L.depthwise), p + "depthwise_conv1d"), p + "conv_clip"), L.conv_norm,
             p + "conv_norm");
    c = clipped_linear(b, b.act(c, Activation::Silu, p + "conv_silu"), L.linear_end, p + "linear_end");
    x = b.add(x, c, p + "conv_residual");

    x = feed_forward(x, L.ff2, p + "ff2.");
    x = norm(clip(x, p + "out_clip"), L.norm_out, p + "norm_out");
  }
  x = b.add_vec(b.matmul(x, b.weight(w.output_proj), "output_proj"), b.weight(w.output_bias), "output_proj_bias");
  // Gemma4MultimodalEmbedder (embed_audio).
  x = b.rms_norm(x, -1, s.output_dims, s.eps, 0.0f, "embedding_pre_projection_norm");
  b.output("features", b.matmul(x, b.weight(w.projection), "embedding_projection"));
  return g;
}

}  // namespace gemrt
