// The mixture-of-experts block's experts (graph/ir.h MoE; Gemma 4 26B-A4B, spec §6.4), after
// HF's Gemma4TextRouter and Gemma4TextExperts.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"
#include "gemrt/core/error.h"

namespace gemrt::cpu {
namespace {

// Rows [row0, row0 + rows) of expert e of a stacked [E, R, C] weight, as a 2-D view [rows, C].
TensorView expert_rows(const TensorView& w, int64_t e, int64_t row0, int64_t rows) {
  const int64_t r = w.shape[1], c = w.shape[2];
  return TensorView{w.name, w.dtype, Shape{rows, c}, w.data + dtype_bytes(w.dtype, (e * r + row0) * c)};
}

}  // namespace

void moe_route(const float* logits, int64_t n_experts, int top_k, const float* expert_scale,
               std::vector<std::pair<int, float>>* chosen) {
  // softmax in float32 (HF: softmax(dtype=float32))
  std::vector<float> p(static_cast<size_t>(n_experts));
  const float m = *std::max_element(logits, logits + n_experts);
  float sum = 0.0f;
  for (int64_t e = 0; e < n_experts; ++e) sum += p[static_cast<size_t>(e)] = std::exp(logits[e] - m);
  for (float& v : p) v /= sum;
  // top-k (ties: the lower expert first), renormalised to sum 1, times the expert's scale
  std::vector<int> order(static_cast<size_t>(n_experts));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + top_k, order.end(), [&](int a, int b) {
    return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)] || (p[static_cast<size_t>(a)] == p[static_cast<size_t>(b)] && a < b);
  });
  float kept = 0.0f;
  for (int j = 0; j < top_k; ++j) kept += p[static_cast<size_t>(order[static_cast<size_t>(j)])];
  chosen->clear();
  for (int j = 0; j < top_k; ++j) {
    const int e = order[static_cast<size_t>(j)];
    chosen->emplace_back(e, p[static_cast<size_t>(e)] / kept * expert_scale[e]);
  }
}

void moe(const float* x, const float* logits, int64_t t, const TensorView& gate_up, const TensorView& down,
         const TensorView& expert_scale, int top_k, Activation act, Numerics numerics, float* out, ThreadPool& pool,
         std::vector<std::byte>& scratch) {
  const int64_t n_experts = gate_up.shape[0], inter = gate_up.shape[1] / 2, hidden = gate_up.shape[2];
  // Tokens per expert with their weights, experts in ascending order: HF adds each expert's
  // weighted output to the token's sum in that order.
  std::vector<float> scales(static_cast<size_t>(n_experts));
  read_weight_row(expert_scale, 0, 0, n_experts, scales.data());
  std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(n_experts));
  std::vector<std::pair<int, float>> chosen;
  for (int64_t r = 0; r < t; ++r) {
    moe_route(logits + r * n_experts, n_experts, top_k, scales.data(), &chosen);
    for (const auto& [e, w] : chosen) routed[static_cast<size_t>(e)].emplace_back(r, w);
  }
  std::fill(out, out + t * hidden, 0.0f);
  std::vector<float> xs, gate, up, g, y;
  const auto product = [&](const float* in, int64_t rows, const TensorView& w, float* o) {
    if (numerics == Numerics::Fast) matmul_fast(in, rows, w, o, pool, scratch);
    else matmul(in, rows, w, o, pool);
  };
  for (int64_t e = 0; e < n_experts; ++e) {
    const auto& tokens = routed[static_cast<size_t>(e)];
    if (tokens.empty()) continue;
    const auto n = static_cast<int64_t>(tokens.size());
    xs.resize(static_cast<size_t>(n * hidden));
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(x + tokens[static_cast<size_t>(i)].first * hidden, hidden, xs.begin() + i * hidden);
    gate.resize(static_cast<size_t>(n * inter));
    up.resize(gate.size());
    g.resize(gate.size());
    y.resize(static_cast<size_t>(n * hidden));
    product(xs.data(), n, expert_rows(gate_up, e, 0, inter), gate.data());  // the first half: gate
    product(xs.data(), n, expert_rows(gate_up, e, inter, inter), up.data());
    gated_act(gate.data(), up.data(), n * inter, act, numerics, g.data(), pool);
    product(g.data(), n, expert_rows(down, e, 0, hidden), y.data());
    for (int64_t i = 0; i < n; ++i) {
      const auto [row, w] = tokens[static_cast<size_t>(i)];
      for (int64_t c = 0; c < hidden; ++c) out[row * hidden + c] += y[static_cast<size_t>(i * hidden + c)] * w;
    }
  }
}

}  // namespace gemrt::cpu
