#include "gemrt/model/gemma/gemma4_vision_graph.h"

#include <cmath>
#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/graph/rope.h"
#include "gemrt/model/gemma/clipped_linear.h"

namespace gemrt {
namespace {

// Gemma4VisionRotaryEmbedding (rope_type "axial"): head_dim / 4 frequencies 1 / theta^(2j / (head_dim / 2)),
// the same for both halves of a head (x, then y).
std::vector<float> axial_inv_freq(const Gemma4VisionSpec& s) {
  std::vector<float> half = rope_inv_freq(s.head_dim / 2, s.rope_theta, {});
  std::vector<float> both = half;
  both.insert(both.end(), half.begin(), half.end());
  return both;
}

}  // namespace

Graph build_gemma4_vision_graph(const Gemma4VisionSpec& s, const Gemma4VisionWeights& w, int rows, int cols) {
  if (rows <= 0 || cols <= 0 || rows % s.pooling != 0 || cols % s.pooling != 0)
    fail("Gemma 4 vision graph: a ", rows, " x ", cols, " patch grid does not pool in ", s.pooling, " x ", s.pooling,
         " squares");
  if (static_cast<int>(w.layers.size()) != s.layers)
    fail("Gemma 4 vision graph: ", w.layers.size(), " layers of weights for ", s.layers, " layers");
  const int64_t n = int64_t{rows} * cols, h = s.hidden;
  Graph g;
  GraphBuilder b(g);
  const ValueId positions = b.input("positions", Shape{n});
  const ValueId blocks = b.input("attention_blocks", Shape{n, 2});
  const ValueId rope_pos = b.input("rope_positions", Shape{n, 2});
  const ValueId table = b.weight(w.positions);

  // Gemma4VisionPatchEmbedder: input_proj(2 (v - 0.5)) + (x_emb + y_emb).
  ValueId x = b.matmul(b.input("patches", Shape{n, s.patch_values()}, DType::F32), b.weight(w.patch_proj), "input_proj");
  const ValueId pos_emb = b.add(b.embed(table, b.input("pos_x", Shape{n}), 1.0f, "x_emb"),
                                b.embed(table, b.input("pos_y", Shape{n}), 1.0f, "y_emb"), "position_embeddings");
  x = b.add(x, pos_emb, "add_positions");

  const std::vector<float> inv_freq = axial_inv_freq(s);
  AttentionAttrs a;
  a.n_heads = s.heads;
  a.n_kv_heads = s.kv_heads;
  a.head_dim = s.head_dim;
  a.scale = 1.0f;  // Gemma4VisionAttention.scaling
  const auto norm = [&](ValueId v, const TensorView& weight, int64_t dim, const std::string& label) {
    return b.rms_norm(v, b.weight(weight), dim, s.eps, 0.0f, label);  // Gemma4RMSNorm: x * w
  };
  for (int l = 0; l < s.layers; ++l) {
    const Gemma4VisionLayerWeights& L = w.layers[static_cast<size_t>(l)];
    const std::string p = "V" + std::to_string(l) + ".";
    const ValueId y = norm(x, L.input_norm, h, p + "input_layernorm");
    ValueId q = norm(clipped_linear(b, y, L.q, p + "q_proj"), L.q_norm, s.head_dim, p + "q_norm");
    q = b.rope_axial(q, rope_pos, s.heads, s.head_dim, 2, inv_freq, p + "q_rope");
    ValueId k = norm(clipped_linear(b, y, L.k, p + "k_proj"), L.k_norm, s.head_dim, p + "k_norm");
    k = b.rope_axial(k, rope_pos, s.kv_heads, s.head_dim, 2, inv_freq, p + "k_rope");
    const ValueId v = b.rms_norm(clipped_linear(b, y, L.v, p + "v_proj"), -1, s.head_dim, s.eps, 0.0f, p + "v_norm");
    a.kv_slot = l;
    const ValueId att = b.attention(q, k, v, positions, a, p + "attention", blocks);
    const ValueId o = norm(clipped_linear(b, att, L.o, p + "o_proj"), L.post_attention_norm, h, p + "post_attention_layernorm");
    x = b.add(x, o, p + "attn_residual");
    const ValueId m = norm(x, L.pre_ffn_norm, h, p + "pre_feedforward_layernorm");
    const ValueId act = b.gated_act(clipped_linear(b, m, L.gate, p + "gate_proj"), clipped_linear(b, m, L.up, p + "up_proj"),
                                    Activation::GeluTanh, p + "gelu");
    x = b.add(x, norm(clipped_linear(b, act, L.down, p + "down_proj"), L.post_ffn_norm, h, p + "post_feedforward_layernorm"),
              p + "mlp_residual");
  }

  // Gemma4VisionPooler: the k x k average by position, then * sqrt(hidden) in float32 (torch
  // multiplies a float32 tensor by the Python float rounded to float32).
  x = b.avg_pool(x, rows, cols, s.pooling, "pool");
  x = b.scale(x, static_cast<float>(std::sqrt(static_cast<double>(h))), "root_hidden_scale");
  if (s.standardize) {
    if (!w.neg_std_bias.data || !w.std_scale.data) fail("Gemma 4 vision graph: standardize without std_bias / std_scale");
    x = b.mul_vec(b.add_vec(x, b.weight(w.neg_std_bias), "std_bias"), b.weight(w.std_scale), "std_scale");
  }
  // Gemma4MultimodalEmbedder (embed_vision).
  x = b.rms_norm(x, -1, h, s.eps, 0.0f, "embedding_pre_projection_norm");
  b.output("features", b.matmul(x, b.weight(w.projection), "embedding_projection"));
  return g;
}

KvLayout gemma4_vision_kv_layout(const Gemma4VisionSpec& s, int patches) {
  KvLayout layout;
  for (int l = 0; l < s.layers; ++l) layout.slots.push_back({patches, s.kv_heads, s.head_dim, 0});
  return layout;
}

}  // namespace gemrt
