#include "gemrt/model/gemma/decoder_block.h"

#include "gemrt/core/error.h"

namespace gemrt {

ValueId build_decoder_block(GraphBuilder& b, int layer, const LayerSpec& s, const LayerWeights& w, ValueId x,
                            ValueId positions) {
  const std::string L = str("L", layer, ".");
  const auto norm = [&](ValueId v, const TensorView& weight, int64_t dim, const std::string& label) {
    return b.rms_norm(v, b.weight(weight), dim, s.norm_eps, s.norm_offset, L + label);
  };
  const int64_t hidden = b.shape(x)[1];

  // Attention.
  const ValueId xn = norm(x, w.attn_norm, hidden, "attn_norm");
  ValueId q = b.matmul(xn, b.weight(w.q), L + "q_proj");
  ValueId k = b.matmul(xn, b.weight(w.k), L + "k_proj");
  const ValueId v = b.matmul(xn, b.weight(w.v), L + "v_proj");
  if (s.qk_norm) {
    q = norm(q, *w.q_norm, s.head_dim, "q_norm");
    k = norm(k, *w.k_norm, s.head_dim, "k_norm");
  }
  const std::vector<float> inv_freq = rope_inv_freq(s.head_dim, s.rope.theta, s.rope.scaling, s.rope.precision);
  GeometricRope geometric;  // the table rope_inv_freq built, by its parameters (float32 tables only)
  if (s.rope.precision == RopeFreqPrecision::F32) {
    geometric.base = s.rope.theta;
    if (s.rope.scaling.kind == RopeScaling::Kind::Linear) geometric.freq_scale = 1.0f / s.rope.scaling.factor;
  }
  q = b.rope(q, positions, s.n_heads, s.head_dim, inv_freq, L + "q_rope", geometric);
  k = b.rope(k, positions, s.n_kv_heads, s.head_dim, inv_freq, L + "k_rope", geometric);
  AttentionAttrs a;
  a.n_heads = s.n_heads;
  a.n_kv_heads = s.n_kv_heads;
  a.head_dim = s.head_dim;
  a.scale = s.attn_scale;
  a.softcap = s.attn_softcap;
  a.window = s.window;
  a.kv_slot = s.kv_slot;
  ValueId attn = b.attention(q, k, v, positions, a, L + "attention");
  attn = b.matmul(attn, b.weight(w.o), L + "o_proj");
  if (s.sandwich_norms) attn = norm(attn, *w.attn_out_norm, hidden, "attn_out_norm");
  const ValueId h = b.add(x, attn, L + "attn_residual");

  // MLP: down(act(gate(x)) * up(x)).
  const ValueId hn = norm(h, w.ffn_norm, hidden, "ffn_norm");
  const ValueId gate = b.matmul(hn, b.weight(w.gate), L + "gate_proj");
  const ValueId up = b.matmul(hn, b.weight(w.up), L + "up_proj");
  ValueId mlp = b.matmul(b.gated_act(gate, up, s.activation, L + "act"), b.weight(w.down), L + "down_proj");
  if (s.sandwich_norms) mlp = norm(mlp, *w.ffn_out_norm, hidden, "ffn_out_norm");
  return b.add(h, mlp, L + "ffn_residual");
}

}  // namespace gemrt
