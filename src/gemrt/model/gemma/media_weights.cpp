#include "gemrt/model/gemma/media_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/media_weight_rewrites.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {
namespace {

// The first of `names` the store holds, checked against `shape` (bind_weight).
TensorView bind(const TensorStore& store, const std::vector<std::string>& names, const Shape& shape) {
  for (const std::string& n : names)
    if (store.find(n)) return bind_weight(store, n, shape);
  std::string tried;
  for (const std::string& n : names) tried += (tried.empty() ? "'" : ", '") + n + "'";
  fail(store.source(), ": missing tensor ", tried);
}

// The first prefix under which the store holds `leaf`.
std::string find_prefix(const TensorStore& store, const std::vector<std::string>& prefixes, const std::string& leaf) {
  for (const std::string& p : prefixes)
    if (store.find(p + leaf)) return p;
  std::string tried;
  for (const std::string& p : prefixes) tried += (tried.empty() ? "'" : ", '") + p + leaf + "'";
  fail(store.source(), ": missing tensor ", tried);
}

SiglipWeights bind_siglip(const SiglipSpec& s, int64_t text_hidden, const TensorStore& store) {
  // Converted checkpoints (vision_tower.vision_model.*), transformers' module tree
  // (model.vision_tower.vision_model.*), and the bare tower's names.
  const std::string v = find_prefix(store,
                                    {"vision_tower.vision_model.", "model.vision_tower.vision_model.", "vision_tower.",
                                     "model.vision_tower."},
                                    "post_layernorm.weight");
  const std::string mm = find_prefix(store, {"multi_modal_projector.", "model.multi_modal_projector."},
                                     "mm_input_projection_weight");
  const int64_t h = s.hidden, i = s.intermediate, pv = s.patch_values(), n = int64_t{s.patches_per_side()} * s.patches_per_side();
  const auto w = [&](const std::string& name, const Shape& shape) { return bind_weight(store, v + name, shape); };
  SiglipWeights out;
  out.patch = w("embeddings.patch_embedding.weight", Shape{h, s.channels, s.patch_size, s.patch_size});
  out.patch.shape = Shape{h, pv};
  out.patch_bias = w("embeddings.patch_embedding.bias", Shape{h});
  out.position = w("embeddings.position_embedding.weight", Shape{n, h});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    SiglipLayerWeights L;
    L.ln1_weight = w(p + "layer_norm1.weight", Shape{h});
    L.ln1_bias = w(p + "layer_norm1.bias", Shape{h});
    L.ln2_weight = w(p + "layer_norm2.weight", Shape{h});
    L.ln2_bias = w(p + "layer_norm2.bias", Shape{h});
    L.q = w(p + "self_attn.q_proj.weight", Shape{h, h});
    L.q_bias = w(p + "self_attn.q_proj.bias", Shape{h});
    L.k = w(p + "self_attn.k_proj.weight", Shape{h, h});
    L.k_bias = w(p + "self_attn.k_proj.bias", Shape{h});
    L.v = w(p + "self_attn.v_proj.weight", Shape{h, h});
    L.v_bias = w(p + "self_attn.v_proj.bias", Shape{h});
    L.out = w(p + "self_attn.out_proj.weight", Shape{h, h});
    L.out_bias = w(p + "self_attn.out_proj.bias", Shape{h});
    L.fc1 = w(p + "mlp.fc1.weight", Shape{i, h});
    L.fc1_bias = w(p + "mlp.fc1.bias", Shape{i});
    L.fc2 = w(p + "mlp.fc2.weight", Shape{h, i});
    L.fc2_bias = w(p + "mlp.fc2.bias", Shape{h});
    out.layers.push_back(L);
  }
  out.post_ln_weight = w("post_layernorm.weight", Shape{h});
  out.post_ln_bias = w("post_layernorm.bias", Shape{h});
  out.proj_norm = bind_weight(store, mm + "mm_soft_emb_norm.weight", Shape{h});
  out.projection = transposed_copy(bind_weight(store, mm + "mm_input_projection_weight", Shape{h, text_hidden}),
                                   out.projection_storage);
  return out;
}

// A Gemma4ClippableLinear at `name` (".linear.weight" and, clipped, the four scalar buffers).
ClippedLinearWeights bind_clipped(const TensorStore& store, const std::string& name, const Shape& shape, bool clipped) {
  ClippedLinearWeights c;
  c.weight = bind(store, {name + ".linear.weight", name + ".weight"}, shape);
  if (!clipped) return c;
  const auto bound = [&](const char* leaf) {
    const std::string n = name + "." + leaf;
    if (!store.find(n)) fail(store.source(), ": missing tensor '", n, "' (use_clipped_linears is true)");
    return scalar_weight_value(store.get(n));
  };
  c.in_lo = bound("input_min");
  c.in_hi = bound("input_max");
  c.out_lo = bound("output_min");
  c.out_hi = bound("output_max");
  if (!(c.in_lo <= c.in_hi) || !(c.out_lo <= c.out_hi))
    fail(store.source(), ": the clip bounds of '", name, "' are not ordered: input [", c.in_lo, ", ", c.in_hi,
         "], output [", c.out_lo, ", ", c.out_hi, "]");
  return c;
}

Gemma4VisionWeights bind_gemma4_vision(const Gemma4VisionSpec& s, int64_t text_hidden, const TensorStore& store) {
  const std::string v = find_prefix(store, {"model.vision_tower.", "vision_tower."}, "patch_embedder.input_proj.weight");
  const int64_t h = s.hidden, i = s.intermediate, q = int64_t{s.heads} * s.head_dim, kv = int64_t{s.kv_heads} * s.head_dim;
  const auto w = [&](const std::string& name, const Shape& shape) { return bind_weight(store, v + name, shape); };
  Gemma4VisionWeights out;
  out.patch_proj = w("patch_embedder.input_proj.weight", Shape{h, s.patch_values()});
  out.positions = w("patch_embedder.position_embedding_table", Shape{2, s.posemb_size, h});
  out.positions.shape = Shape{2 * s.posemb_size, h};
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    const auto linear = [&](const std::string& name, const Shape& shape) {
      return bind_clipped(store, p + name, shape, s.clipped_linears);
    };
    Gemma4VisionLayerWeights L;
    L.input_norm = bind_weight(store, p + "input_layernorm.weight", Shape{h});
    L.post_attention_norm = bind_weight(store, p + "post_attention_layernorm.weight", Shape{h});
    L.pre_ffn_norm = bind_weight(store, p + "pre_feedforward_layernorm.weight", Shape{h});
    L.post_ffn_norm = bind_weight(store, p + "post_feedforward_layernorm.weight", Shape{h});
    L.q = linear("self_attn.q_proj", Shape{q, h});
    L.k = linear("self_attn.k_proj", Shape{kv, h});
    L.v = linear("self_attn.v_proj", Shape{kv, h});
    L.o = linear("self_attn.o_proj", Shape{h, q});
    L.q_norm = bind_weight(store, p + "self_attn.q_norm.weight", Shape{s.head_dim});
    L.k_norm = bind_weight(store, p + "self_attn.k_norm.weight", Shape{s.head_dim});
    L.gate = linear("mlp.gate_proj", Shape{i, h});
    L.up = linear("mlp.up_proj", Shape{i, h});
    L.down = linear("mlp.down_proj", Shape{h, i});
    out.layers.push_back(L);
  }
  if (s.standardize) {
    out.neg_std_bias = negated_copy(w("std_bias", Shape{h}), out.neg_std_bias_storage);
    out.std_scale = w("std_scale", Shape{h});
  }
  out.projection = bind(store, {"model.embed_vision.embedding_projection.weight", "embed_vision.embedding_projection.weight"},
                        Shape{text_hidden, h});
  return out;
}

Gemma4AudioWeights bind_gemma4_audio(const Gemma4AudioSpec& s, int64_t text_hidden, const TensorStore& store) {
  const std::string a =
      find_prefix(store, {"model.audio_tower.", "audio_tower."}, "subsample_conv_projection.layer0.conv.weight");
  const int64_t h = s.hidden, c0 = s.conv_channels0, c1 = s.conv_channels1, hd = s.head_dim();
  const auto w = [&](const std::string& name, const Shape& shape) { return bind_weight(store, a + name, shape); };
  Gemma4AudioWeights out;
  const std::string sub = "subsample_conv_projection.";
  out.conv0 = w(sub + "layer0.conv.weight", Shape{c0, 1, 3, 3});
  out.conv1 = w(sub + "layer1.conv.weight", Shape{c1, c0, 3, 3});
  out.norm0 = w(sub + "layer0.norm.weight", Shape{c0});
  out.norm1 = w(sub + "layer1.norm.weight", Shape{c1});
  out.input_proj = w(sub + "input_proj_linear.weight", Shape{h, s.sub_freq() * c1});

  std::vector<std::vector<float>> per_dim_softplus;
  std::vector<TensorView> relative_k;
  std::vector<std::string> names;
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    const auto linear = [&](const std::string& name, const Shape& shape) {
      return bind_clipped(store, a + p + name, shape, s.clipped_linears);
    };
    const auto ff = [&](const std::string& name) {
      return Gemma4AudioFeedForwardWeights{w(p + name + ".pre_layer_norm.weight", Shape{h}),
                                           w(p + name + ".post_layer_norm.weight", Shape{h}),
                                           linear(name + ".ffw_layer_1", Shape{4 * h, h}),
                                           linear(name + ".ffw_layer_2", Shape{h, 4 * h})};
    };
    Gemma4AudioLayerWeights L;
    L.ff1 = ff("feed_forward1");
    L.ff2 = ff("feed_forward2");
    L.norm_pre_attn = w(p + "norm_pre_attn.weight", Shape{h});
    L.norm_post_attn = w(p + "norm_post_attn.weight", Shape{h});
    L.norm_out = w(p + "norm_out.weight", Shape{h});
    L.q = linear("self_attn.q_proj", Shape{h, h});
    L.k = linear("self_attn.k_proj", Shape{h, h});
    L.v = linear("self_attn.v_proj", Shape{h, h});
    L.post = linear("self_attn.post", Shape{h, h});
    // The query scale takes softplus(per_dim_scale) (torch's softplus, threshold 20).
    std::vector<float> per_dim = small_weight_values(w(p + "self_attn.per_dim_scale", Shape{hd}));
    for (float& x : per_dim) x = torch_softplus(x);
    per_dim_softplus.push_back(std::move(per_dim));
    relative_k.push_back(w(p + "self_attn.relative_k_proj.weight", Shape{h, h}));
    names.push_back(a + p + "self_attn.");
    L.conv_pre_norm = w(p + "lconv1d.pre_layer_norm.weight", Shape{h});
    L.conv_norm = w(p + "lconv1d.conv_norm.weight", Shape{h});
    L.linear_start = linear("lconv1d.linear_start", Shape{2 * h, h});
    L.linear_end = linear("lconv1d.linear_end", Shape{h, h});
    L.depthwise = w(p + "lconv1d.depthwise_conv1d.weight", Shape{h, 1, s.conv_kernel});
    out.layers.push_back(L);
  }
  out.output_proj = w("output_proj.weight", Shape{s.output_dims, h});
  out.output_bias = w("output_proj.bias", Shape{s.output_dims});
  out.projection = bind(store, {"model.embed_audio.embedding_projection.weight", "embed_audio.embedding_projection.weight"},
                        Shape{text_hidden, s.output_dims});
  derive_gemma4_audio_constants(s, per_dim_softplus, relative_k, names, out);
  return out;
}

}  // namespace

MediaWeights bind_media_weights(const MediaSpec& spec, int64_t hidden, const TensorStore& store) {
  MediaWeights w;
  if (spec.vision) {
    const VisionEmbedderSpec& v = *spec.vision;
    const int64_t p = v.patch_values(), d = v.embed_dim;
    // converted checkpoints' name first, then transformers' module name (spec §7.6)
    const auto part = [&](const std::string& leaf, const Shape& shape) {
      return bind(store, {"model.vision_embedder." + leaf, "model.embed_vision." + leaf}, shape);
    };
    w.vision = VisionEmbedderWeights{
        part("patch_ln1.weight", Shape{p}), part("patch_ln1.bias", Shape{p}),
        part("patch_dense.weight", Shape{d, p}), part("patch_dense.bias", Shape{d}),
        part("patch_ln2.weight", Shape{d}), part("patch_ln2.bias", Shape{d}),
        part("pos_embedding", Shape{v.posemb_size, 2, d}),
        part("pos_norm.weight", Shape{d}), part("pos_norm.bias", Shape{d}),
        bind(store,
             {"model.embed_vision.embedding_projection.weight",
              "model.embed_vision.multimodal_embedder.embedding_projection.weight"},
             Shape{hidden, v.output_proj_dims})};
  }
  if (spec.siglip) w.siglip = bind_siglip(*spec.siglip, hidden, store);
  if (spec.gemma4_vision) w.gemma4_vision = bind_gemma4_vision(*spec.gemma4_vision, hidden, store);
  if (spec.gemma4_audio) w.gemma4_audio = bind_gemma4_audio(*spec.gemma4_audio, hidden, store);
  if (spec.audio)
    w.audio = AudioEmbedderWeights{
        bind(store, {"model.embed_audio.embedding_projection.weight"}, Shape{hidden, spec.audio->embed_dim})};
  return w;
}

}  // namespace gemrt
