#include "gemrt/model/gemma/decoder_block.h"

#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

// AltUp's router (spec §5.3 step 5): tanh(modality_router(router_norm(v) / hidden)) -> [T, n].
ValueId altup_modalities(GraphBuilder& b, const std::string& L, const LayerSpec& s, const LayerWeights::AltUp& w,
                         ValueId v, int64_t hidden, const std::string& label) {
  ValueId r = b.rms_norm(v, b.weight(w.router_norm), hidden, s.norm_eps, s.norm_offset, L + label + "_router_norm");
  r = b.scale(r, static_cast<float>(1.0 / static_cast<double>(hidden)), L + label + "_router_scale");
  return b.soft_cap(b.matmul(r, b.weight(w.router), L + label + "_router"), 1.0f, L + label + "_tanh");
}

// AltUp predict (spec §5.3 step 6): pred_r = S_r + sum_k M[r, k] S_k, M = prediction_coefs(modal(S_active)).
// (HF clips the coefficient weights to +-altup_coef_clip only while training; inference, like
// this, uses them as stored, which the released checkpoints already hold clipped.)
Streams altup_predict(GraphBuilder& b, const std::string& L, const LayerSpec& s, const LayerWeights::AltUp& w,
                      const Streams& in, int64_t hidden) {
  const int n = s.altup_inputs;
  const ValueId modal = altup_modalities(b, L, s, w, in[static_cast<size_t>(s.altup_active)], hidden, "predict");
  const ValueId coefs = b.matmul(modal, b.weight(w.predict_coefs), L + "predict_coefs");
  Streams pred;
  for (int r = 0; r < n; ++r) {
    Streams xs = in;
    xs.push_back(in[static_cast<size_t>(r)]);
    std::vector<int> cols;
    for (int k = 0; k < n; ++k) cols.push_back(r * n + k);
    cols.push_back(-1);
    std::vector<float> bias(static_cast<size_t>(n), 0.0f);
    bias.push_back(1.0f);
    pred.push_back(b.combine(xs, coefs, std::move(cols), std::move(bias), str(L, "predict", r)));
  }
  return pred;
}

// AltUp correct (spec §5.3 step 12): S'_r = pred_r + (correction_coefs(modal(y))_r + 1) (y - pred_active).
Streams altup_correct(GraphBuilder& b, const std::string& L, const LayerSpec& s, const LayerWeights::AltUp& w,
                      const Streams& pred, ValueId y, int64_t hidden) {
  const ValueId modal = altup_modalities(b, L, s, w, y, hidden, "correct");
  const ValueId coefs = b.matmul(modal, b.weight(w.correct_coefs), L + "correct_coefs");
  const ValueId innovation =
      b.combine({y, pred[static_cast<size_t>(s.altup_active)]}, -1, {-1, -1}, {1.0f, -1.0f}, L + "innovation");
  Streams out;
  for (int r = 0; r < s.altup_inputs; ++r)
    out.push_back(b.combine({innovation, pred[static_cast<size_t>(r)]}, coefs, {r, -1}, {1.0f, 1.0f}, str(L, "correct", r)));
  return out;
}

}  // namespace

std::vector<float> layer_rope_inv_freq(const LayerSpec& s) {
  std::vector<float> inv_freq = rope_inv_freq(s.head_dim, s.rope.theta, s.rope.scaling, s.rope.precision);
  // The pairs beyond the rotated ones get frequency 0 (spec §6.1).
  for (auto i = static_cast<size_t>(rotated_pairs(s)); i < inv_freq.size(); ++i) inv_freq[i] = 0.0f;
  return inv_freq;
}

Streams build_decoder_block(GraphBuilder& b, int layer, const LayerSpec& s, const LayerWeights& w, const Streams& in,
                            const BlockContext& ctx) {
  const std::string L = str("L", layer, ".");
  const auto norm = [&](ValueId v, const TensorView& weight, int64_t dim, const std::string& label) {
    return b.rms_norm(v, b.weight(weight), dim, s.norm_eps, s.norm_offset, L + label);
  };
  const bool altup = s.altup_inputs > 0;
  if (static_cast<int>(in.size()) != (altup ? s.altup_inputs : 1))
    fail("layer ", layer, ": ", in.size(), " residual streams in, expected ", altup ? s.altup_inputs : 1);
  if (altup && !w.altup) fail("layer ", layer, ": AltUp weights are missing");
  // AltUp: the block runs on the active stream's prediction (spec §5.3 steps 6-7).
  const Streams pred = altup ? altup_predict(b, L, s, *w.altup, in, b.shape(in[0])[1]) : in;
  const ValueId x = pred[altup ? static_cast<size_t>(s.altup_active) : 0];
  const int64_t hidden = b.shape(x)[1];
  const ValueId positions = ctx.positions;

  // Attention. The projections come first, so that a backend may run them as one pass over x.
  const ValueId xn = norm(x, w.attn_norm, hidden, "attn_norm");
  ValueId q = b.matmul(xn, b.weight(w.q), L + "q_proj");
  ValueId k = -1, v = -1;
  const bool own_kv = s.kv_source < 0;
  if (own_kv) {
    if (!w.k || (!s.k_eq_v && !w.v)) fail("layer ", layer, ": k / v projection weights are missing");
    k = b.matmul(xn, b.weight(*w.k), L + "k_proj");
    v = s.k_eq_v ? k : b.matmul(xn, b.weight(*w.v), L + "v_proj");  // k=v: V is the raw K (spec §6.3)
  }
  if (s.qk_norm) {
    q = norm(q, *w.q_norm, s.head_dim, "q_norm");
    if (own_kv) k = norm(k, *w.k_norm, s.head_dim, "k_norm");
  }
  if (own_kv && s.v_norm) v = b.rms_norm(v, -1, s.head_dim, s.norm_eps, 0.0f, L + "v_norm");
  const std::vector<float> inv_freq = layer_rope_inv_freq(s);
  GeometricRope geometric;  // the table rope_inv_freq built, by its parameters (float32 full tables only)
  if (s.rope.precision == RopeFreqPrecision::F32 && s.rope.rotary_fraction == 1.0f) {
    geometric.base = s.rope.theta;
    if (s.rope.scaling.kind == RopeScaling::Kind::Linear) geometric.freq_scale = 1.0f / s.rope.scaling.factor;
  }
  q = b.rope(q, positions, s.n_heads, s.head_dim, inv_freq, L + "q_rope", geometric);
  if (own_kv) {
    k = b.rope(k, positions, s.n_kv_heads, s.head_dim, inv_freq, L + "k_rope", geometric);
  } else {
    if (!ctx.layer_kv || ctx.layer_kv->at(static_cast<size_t>(s.kv_source)).first < 0)
      fail("layer ", layer, " reads the KV of layer ", s.kv_source, ", which has not been built");
    std::tie(k, v) = ctx.layer_kv->at(static_cast<size_t>(s.kv_source));
  }
  if (ctx.layer_kv) ctx.layer_kv->at(static_cast<size_t>(layer)) = {k, v};
  AttentionAttrs a;
  a.n_heads = s.n_heads;
  a.n_kv_heads = s.n_kv_heads;
  a.head_dim = s.head_dim;
  a.scale = s.attn_scale;
  a.softcap = s.attn_softcap;
  a.window = s.window;
  a.window_limits_blocks = s.window_limits_blocks;
  a.kv_slot = s.kv_slot;
  a.append = s.appends_kv;
  ValueId attn = b.attention(q, k, v, positions, a, L + "attention", s.image_blocks ? ctx.attention_blocks : -1);
  attn = b.matmul(attn, b.weight(w.o), L + "o_proj");
  if (s.sandwich_norms) attn = norm(attn, *w.attn_out_norm, hidden, "attn_out_norm");
  ValueId h = b.add(x, attn, L + "attn_residual");
  if (s.laurel_rank > 0) {
    // LAuReL (spec §5.3 steps 8, 10): h = (x + attn + xn + norm(right(left(xn)))) / sqrt(2).
    if (!w.laurel) fail("layer ", layer, ": LAuReL weights are missing");
    const ValueId lr = b.matmul(b.matmul(xn, b.weight(w.laurel->left), L + "laurel_left"), b.weight(w.laurel->right),
                                L + "laurel_right");
    const ValueId laurel = b.add(xn, norm(lr, w.laurel->norm, hidden, "laurel_norm"), L + "laurel");
    h = b.scale(b.add(h, laurel, L + "laurel_sum"), static_cast<float>(1.0 / std::sqrt(2.0)), L + "laurel_scale");
  }

  // MLP: down(act(gate(x)) * up(x)).
  const ValueId hn = norm(h, w.ffn_norm, hidden, "ffn_norm");
  ValueId gate = b.matmul(hn, b.weight(w.gate), L + "gate_proj");
  if (s.gaussian_topk) gate = b.gaussian_top_k(gate, s.gaussian_topk_z, L + "gate_sparsity");  // spec §5.3 step 11
  const ValueId up = b.matmul(hn, b.weight(w.up), L + "up_proj");
  ValueId mlp = b.matmul(b.gated_act(gate, up, s.activation, L + "act"), b.weight(w.down), L + "down_proj");
  if (s.n_experts > 0) {
    // MoE beside the dense MLP (spec §6.3, §6.4): both read the attention's residual sum h.
    if (!w.moe) fail("layer ", layer, ": MoE weights are missing");
    const LayerWeights::Moe& m = *w.moe;
    mlp = norm(mlp, m.ffn_out_norm_1, hidden, "ffn_out_norm_1");
    // router: rms_norm(h) * scale * hidden^-1/2 -> logits over the experts
    ValueId r = b.rms_norm(h, b.weight(m.router_scale), hidden, s.norm_eps, 0.0f, L + "router_norm");
    r = b.scale(r, static_cast<float>(1.0 / std::sqrt(static_cast<double>(hidden))), L + "router_scale");
    const ValueId logits = b.matmul(r, b.weight(m.router_proj), L + "router");
    ValueId experts = b.moe(norm(h, m.ffn_norm_2, hidden, "ffn_norm_2"), logits, b.weight(m.gate_up), b.weight(m.down),
                            b.weight(m.expert_scale), s.top_k_experts, s.activation, L + "experts");
    experts = norm(experts, m.ffn_out_norm_2, hidden, "ffn_out_norm_2");
    mlp = b.add(mlp, experts, L + "moe_sum");
  }
  if (s.sandwich_norms) mlp = norm(mlp, *w.ffn_out_norm, hidden, "ffn_out_norm");
  ValueId y = b.add(h, mlp, L + "ffn_residual");

  // Per-layer input (spec §5.3 step 13, §6.3): norm(projection(act(gate(from)) * ple)).
  const auto per_layer_term = [&](ValueId from) {
    if (ctx.per_layer_input < 0 || !w.ple_gate) fail("layer ", layer, ": per-layer input or its weights are missing");
    const ValueId g = b.matmul(from, b.weight(*w.ple_gate), L + "ple_gate");
    const ValueId p = b.matmul(b.gated_act(g, ctx.per_layer_input, s.activation, L + "ple_act"), b.weight(*w.ple_proj),
                               L + "ple_proj");
    return norm(p, *w.ple_norm, hidden, "ple_norm");
  };
  if (altup) {
    // Every stream corrected; the per-layer term of the corrected active stream goes to streams
    // 1 .. n-1 (HF's corrected_predictions[1:]).
    Streams out = altup_correct(b, L, s, *w.altup, pred, y, hidden);
    if (s.per_layer_input > 0) {
      ValueId active = out[static_cast<size_t>(s.altup_active)];
      if (s.altup_correct_scale) active = b.mul_vec(active, b.weight(w.altup->correct_scale), L + "correct_scale");
      const ValueId term = per_layer_term(active);
      for (size_t i = 1; i < out.size(); ++i) out[i] = b.add(out[i], term, str(L, "ple_residual", i));
    }
    return out;
  }
  if (s.per_layer_input > 0) y = b.add(y, per_layer_term(y), L + "ple_residual");
  if (s.layer_scalar) {
    if (!w.layer_scalar) fail("layer ", layer, ": layer_scalar weight is missing");
    const float factor = scalar_weight_value(*w.layer_scalar);
    if (factor != 1.0f) y = b.scale(y, factor, L + "layer_scalar");
  }
  return {y};
}

}  // namespace gemrt
