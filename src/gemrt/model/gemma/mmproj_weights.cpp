#include "gemrt/model/gemma/mmproj_weights.h"

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/media_weight_rewrites.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {
namespace {

// The mmproj's tensors, each bound at most once; remembers which were, for check_all_used().
class MmprojTensors {
 public:
  explicit MmprojTensors(const GgufFile& g) : g_(g) {}

  bool has(const std::string& name) const { return g_.find(name) != nullptr; }
  const Shape* shape_of(const std::string& name) const {
    const TensorView* t = g_.find(name);
    return t ? &t->shape : nullptr;
  }

  // The tensor `name` of `shape` (row-major) and a float or packed dtype.
  TensorView get(const std::string& name, const Shape& shape) {
    const TensorView* t = g_.find(name);
    if (!t) fail(g_.source(), ": missing tensor '", name, "'");
    if (t->shape != shape)
      fail(g_.source(), ": tensor '", name, "' has shape ", t->shape.to_string(), " but the clip.* metadata implies ",
           shape.to_string());
    if (!dtype_info(t->dtype).is_float)
      fail(g_.source(), ": tensor '", name, "' has dtype ", dtype_name(t->dtype), ", expected F32, F16 or BF16");
    used_.insert(name);
    return *t;
  }

  // A Gemma4ClippableLinear: `base`.weight and whichever of its four [1] bounds exist.
  ClippedLinearWeights linear(const std::string& base, const Shape& shape) {
    ClippedLinearWeights c;
    c.weight = get(base + ".weight", shape);
    const auto bound = [&](const char* leaf, float& into) {
      const std::string n = base + "." + leaf;
      if (has(n)) into = scalar_weight_value(get(n, Shape{1}));
    };
    bound("input_min", c.in_lo);
    bound("input_max", c.in_hi);
    bound("output_min", c.out_lo);
    bound("output_max", c.out_hi);
    if (!(c.in_lo <= c.in_hi) || !(c.out_lo <= c.out_hi))
      fail(g_.source(), ": the clip bounds of '", base, "' are not ordered: input [", c.in_lo, ", ", c.in_hi, "], output [",
           c.out_lo, ", ", c.out_hi, "]");
    return c;
  }

  void check_all_used() const {
    std::string left;
    int n = 0;
    for (const std::string& name : g_.names())
      if (!used_.count(name) && n++ < 4) left += (left.empty() ? "'" : ", '") + name + "'";
    if (n > 0)
      fail(g_.source(), ": ", n, " tensor", n > 1 ? "s" : "", " not part of the towers gemrt runs for these projectors: ",
           left, n > 4 ? ", ..." : "");
  }

 private:
  const GgufFile& g_;
  std::set<std::string> used_;
};

std::string blk(const char* tower, int l, const char* leaf) { return str(tower, ".blk.", l, ".", leaf); }

// The tensors of layer `l` of a tower ("v" or "a"), by leaf name.
struct LayerTensors {
  MmprojTensors& t;
  const char* tower;
  int l;
  TensorView get(const std::string& leaf, const Shape& shape) const { return t.get(blk(tower, l, leaf.c_str()), shape); }
  ClippedLinearWeights linear(const char* leaf, const Shape& shape) const { return t.linear(blk(tower, l, leaf), shape); }
};

SiglipWeights bind_siglip(const SiglipSpec& s, int64_t text_hidden, MmprojTensors& t) {
  const int64_t h = s.hidden, i = s.intermediate, n = int64_t{s.patches_per_side()} * s.patches_per_side();
  SiglipWeights out;
  out.patch = t.get("v.patch_embd.weight", Shape{h, s.channels, s.patch_size, s.patch_size});
  out.patch.shape = Shape{h, s.patch_values()};  // the conv kernel read as [hidden, channels * p * p]
  out.patch_bias = t.get("v.patch_embd.bias", Shape{h});
  out.position = t.get("v.position_embd.weight", Shape{n, h});
  // Older files name fc1 ffn_down and fc2 ffn_up: clip.cpp swaps them back when ffn_down has
  // fc1's shape (is_ffn_swapped); square ones (i == h) cannot be told apart and are read as named.
  const Shape* down = t.shape_of(blk("v", 0, "ffn_down.weight"));
  const bool swapped = i != h && down && *down == Shape{i, h};
  const char* fc1 = swapped ? "ffn_down" : "ffn_up";
  const char* fc2 = swapped ? "ffn_up" : "ffn_down";
  for (int l = 0; l < s.layers; ++l) {
    const LayerTensors w{t, "v", l};
    SiglipLayerWeights L;
    L.ln1_weight = w.get("ln1.weight", Shape{h});
    L.ln1_bias = w.get("ln1.bias", Shape{h});
    L.ln2_weight = w.get("ln2.weight", Shape{h});
    L.ln2_bias = w.get("ln2.bias", Shape{h});
    L.q = w.get("attn_q.weight", Shape{h, h});
    L.q_bias = w.get("attn_q.bias", Shape{h});
    L.k = w.get("attn_k.weight", Shape{h, h});
    L.k_bias = w.get("attn_k.bias", Shape{h});
    L.v = w.get("attn_v.weight", Shape{h, h});
    L.v_bias = w.get("attn_v.bias", Shape{h});
    L.out = w.get("attn_out.weight", Shape{h, h});
    L.out_bias = w.get("attn_out.bias", Shape{h});
    L.fc1 = w.get(str(fc1, ".weight"), Shape{i, h});
    L.fc1_bias = w.get(str(fc1, ".bias"), Shape{i});
    L.fc2 = w.get(str(fc2, ".weight"), Shape{h, i});
    L.fc2_bias = w.get(str(fc2, ".bias"), Shape{h});
    out.layers.push_back(L);
  }
  out.post_ln_weight = t.get("v.post_ln.weight", Shape{h});
  out.post_ln_bias = t.get("v.post_ln.bias", Shape{h});
  out.proj_norm = t.get("mm.soft_emb_norm.weight", Shape{h});
  out.proj_norm_offset = 0.0f;  // stored as 1 + w
  out.projection = transposed_copy(t.get("mm.input_projection.weight", Shape{h, text_hidden}), out.projection_storage);
  return out;
}

Gemma4VisionWeights bind_gemma4_vision(const Gemma4VisionSpec& s, int64_t text_hidden, MmprojTensors& t) {
  const int64_t h = s.hidden, i = s.intermediate, q = int64_t{s.heads} * s.head_dim, kv = int64_t{s.kv_heads} * s.head_dim;
  Gemma4VisionWeights out;
  out.patch_proj = chw_patch_columns_as_hwc(t.get("v.patch_embd.weight", Shape{h, 3, s.patch_size, s.patch_size}),
                                            s.patch_size, out.patch_proj_storage);
  out.positions = t.get("v.position_embd.weight", Shape{2, s.posemb_size, h});
  out.positions.shape = Shape{2 * s.posemb_size, h};
  for (int l = 0; l < s.layers; ++l) {
    const LayerTensors w{t, "v", l};
    Gemma4VisionLayerWeights L;
    L.input_norm = w.get("ln1.weight", Shape{h});
    L.post_attention_norm = w.get("attn_post_norm.weight", Shape{h});
    L.pre_ffn_norm = w.get("ln2.weight", Shape{h});
    L.post_ffn_norm = w.get("ffn_post_norm.weight", Shape{h});
    L.q = w.linear("attn_q", Shape{q, h});
    L.k = w.linear("attn_k", Shape{kv, h});
    L.v = w.linear("attn_v", Shape{kv, h});
    L.o = w.linear("attn_out", Shape{h, q});
    L.q_norm = w.get("attn_q_norm.weight", Shape{s.head_dim});
    L.k_norm = w.get("attn_k_norm.weight", Shape{s.head_dim});
    L.gate = w.linear("ffn_gate", Shape{i, h});
    L.up = w.linear("ffn_up", Shape{i, h});
    L.down = w.linear("ffn_down", Shape{h, i});
    out.layers.push_back(L);
  }
  if (s.standardize) {
    out.neg_std_bias = negated_copy(t.get("v.std_bias", Shape{h}), out.neg_std_bias_storage);
    out.std_scale = t.get("v.std_scale", Shape{h});
  }
  out.projection = t.get("mm.input_projection.weight", Shape{text_hidden, h});
  return out;
}

Gemma4AudioWeights bind_gemma4_audio(const Gemma4AudioSpec& s, int64_t text_hidden, MmprojTensors& t) {
  const int64_t h = s.hidden, c0 = s.conv_channels0, c1 = s.conv_channels1, hd = s.head_dim();
  Gemma4AudioWeights out;
  out.conv0 = t.get("a.conv1d.0.weight", Shape{c0, 1, 3, 3});
  out.conv1 = t.get("a.conv1d.1.weight", Shape{c1, c0, 3, 3});
  out.norm0 = t.get("a.conv1d.0.norm.weight", Shape{c0});
  out.norm1 = t.get("a.conv1d.1.norm.weight", Shape{c1});
  out.input_proj = t.get("a.input_projection.weight", Shape{h, s.sub_freq() * c1});
  std::vector<std::vector<float>> per_dim_softplus;
  std::vector<TensorView> relative_k;
  std::vector<std::string> names;
  for (int l = 0; l < s.layers; ++l) {
    const LayerTensors w{t, "a", l};
    Gemma4AudioLayerWeights L;
    L.ff1 = {w.get("ffn_norm.weight", Shape{h}), w.get("ffn_post_norm.weight", Shape{h}), w.linear("ffn_up", Shape{4 * h, h}),
             w.linear("ffn_down", Shape{h, 4 * h})};
    L.ff2 = {w.get("ffn_norm_1.weight", Shape{h}), w.get("ffn_post_norm_1.weight", Shape{h}), w.linear("ffn_up_1", Shape{4 * h, h}),
             w.linear("ffn_down_1", Shape{h, 4 * h})};
    L.norm_pre_attn = w.get("attn_pre_norm.weight", Shape{h});
    L.norm_post_attn = w.get("attn_post_norm.weight", Shape{h});
    L.norm_out = w.get("ln2.weight", Shape{h});
    L.q = w.linear("attn_q", Shape{h, h});
    L.k = w.linear("attn_k", Shape{h, h});
    L.v = w.linear("attn_v", Shape{h, h});
    L.post = w.linear("attn_out", Shape{h, h});
    per_dim_softplus.push_back(small_weight_values(w.get("per_dim_scale.weight", Shape{hd})));  // softplus applied
    relative_k.push_back(w.get("attn_k_rel.weight", Shape{h, h}));
    names.push_back(blk("a", l, ""));
    L.conv_pre_norm = w.get("conv_norm.weight", Shape{h});  // lconv1d.pre_layer_norm (llama.cpp's names crosswise)
    L.conv_norm = w.get("norm_conv.weight", Shape{h});      // lconv1d.conv_norm
    L.linear_start = w.linear("conv_pw1", Shape{2 * h, h});
    L.linear_end = w.linear("conv_pw2", Shape{h, h});
    L.depthwise = w.get("conv_dw.weight", Shape{h, s.conv_kernel});
    L.depthwise.shape = Shape{h, 1, s.conv_kernel};  // the depthwise kernel as transformers holds it
    out.layers.push_back(L);
  }
  out.output_proj = t.get("a.pre_encode.out.weight", Shape{s.output_dims, h});
  out.output_bias = t.get("a.pre_encode.out.bias", Shape{s.output_dims});
  out.projection = t.get("mm.a.input_projection.weight", Shape{text_hidden, s.output_dims});
  derive_gemma4_audio_constants(s, per_dim_softplus, relative_k, names, out);
  return out;
}

// Gemma 4 unified's embedders (Gemma4UnifiedVisionAudioModel): patch_norm.1 / patch_embd /
// patch_norm.2 / patch_norm.3 = patch_ln1 / patch_dense / patch_ln2 / pos_norm, patch_ln1 and
// patch_dense's columns in channel-major order, the position table as [2, positions, embed_dim].
VisionEmbedderWeights bind_unified_vision(const VisionEmbedderSpec& s, int64_t text_hidden, MmprojTensors& t) {
  const int64_t p = s.patch_values(), d = s.embed_dim, side = int64_t{s.patch_size} * s.pooling;
  VisionEmbedderWeights out;
  const auto hwc = [&](const TensorView& w) {
    out.storage.emplace_back();
    return chw_patch_columns_as_hwc(w, side, out.storage.back());
  };
  out.ln1_weight = hwc(t.get("v.patch_norm.1.weight", Shape{p}));
  out.ln1_bias = hwc(t.get("v.patch_norm.1.bias", Shape{p}));
  out.dense_weight = hwc(t.get("v.patch_embd.weight", Shape{d, p}));
  out.dense_bias = t.get("v.patch_embd.bias", Shape{d});
  out.ln2_weight = t.get("v.patch_norm.2.weight", Shape{d});
  out.ln2_bias = t.get("v.patch_norm.2.bias", Shape{d});
  out.storage.emplace_back();
  out.pos_embedding = leading_axes_swapped(t.get("v.position_embd.weight", Shape{2, s.posemb_size, d}), out.storage.back());
  out.pos_norm_weight = t.get("v.patch_norm.3.weight", Shape{d});
  out.pos_norm_bias = t.get("v.patch_norm.3.bias", Shape{d});
  out.projection = t.get("mm.input_projection.weight", Shape{text_hidden, s.output_proj_dims});
  return out;
}

}  // namespace

MediaWeights bind_mmproj_weights(const MediaSpec& spec, int64_t text_hidden, const GgufFile& mmproj) {
  MmprojTensors t(mmproj);
  MediaWeights w;
  if (spec.siglip) w.siglip = bind_siglip(*spec.siglip, text_hidden, t);
  if (spec.gemma4_vision) w.gemma4_vision = bind_gemma4_vision(*spec.gemma4_vision, text_hidden, t);
  if (spec.gemma4_audio) w.gemma4_audio = bind_gemma4_audio(*spec.gemma4_audio, text_hidden, t);
  if (spec.vision) w.vision = bind_unified_vision(*spec.vision, text_hidden, t);
  if (spec.audio) w.audio = AudioEmbedderWeights{t.get("mm.a.input_projection.weight", Shape{text_hidden, spec.audio->embed_dim})};
  t.check_all_used();
  return w;
}

}  // namespace gemrt
