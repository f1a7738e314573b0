#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>
#include <vector>

#include "gemrt/backend/cpu/half_table.h"
#include "gemrt/backend/cpu/vec_ops.h"
#include "gemrt/core/half.h"

#include "gemrt/backend/cpu/kernels.h"

namespace gemrt::cpu {

// gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in float32.
float gelu_tanh(float x) {
  constexpr float kBeta = static_cast<float>(std::numbers::sqrt2 * std::numbers::inv_sqrtpi);  // sqrt(2/pi);
  const float inner = kBeta * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(inner));
}

// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * static_cast<float>(1.0 / std::numbers::sqrt2))); }

namespace {
// The tanh GELU as llama.cpp's CPU build evaluates it to fill its f16 table (ggml_gelu_f32 with
// the compiler's FMA contraction): 0.5 x (1 + tanh((sqrt(2/pi) x) * fma(0.044715 x, x, 1))).
float gelu_tanh_llama(float x) {
  constexpr float kBeta = 0.79788456080286535587989211986876f;
  const float inner = (kBeta * x) * std::fma(0.044715f * x, x, 1.0f);
  return 0.5f * x * (1.0f + std::tanh(inner));
}
}  // namespace

const uint16_t* gelu_f16_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = f32_to_f16(gelu_tanh_llama(f16_to_f32(static_cast<uint16_t>(h))));
    return t;
  }();
  return table.data();
}

float gelu_tanh_f16_table(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return f16_lookup(gelu_f16_table()[f32_to_f16(x)]);
}

void gated_act(const float* gate, const float* up, int64_t n, Activation act, Numerics numerics, float* out,
               ThreadPool& pool) {
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    if (act == Activation::GeluTanh && numerics == Numerics::Fast) {
      gelu_table_mul(gate + b, up + b, e - b, gelu_f16_table(), out + b);
    } else if (act == Activation::GeluTanh) {
      for (int64_t i = b; i < e; ++i) out[i] = gelu_tanh(gate[i]) * up[i];
    } else {
      for (int64_t i = b; i < e; ++i) out[i] = activate(gate[i], act) * up[i];
    }
  }, 4096);
}

float activate(float x, Activation act) {
  switch (act) {
    case Activation::GeluTanh: return gelu_tanh(x);
    case Activation::GeluErf: return gelu_erf(x);
    case Activation::Silu: return x / (1.0f + std::exp(-x));  // torch's silu: x / (1 + exp(-x))
    case Activation::Relu: return x > 0.0f ? x : (x == x ? 0.0f : x);  // NaN kept, as torch
    case Activation::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
  }
  return x;
}

void act(const float* x, int64_t n, Activation act, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = activate(x[i], act);
}

void avg_pool(const float* x, int rows, int cols, int kernel, int64_t d, float* out) {
  const int n_rows = rows / kernel, n_cols = cols / kernel;
  const float count = static_cast<float>(kernel * kernel);
  for (int i = 0; i < n_rows; ++i)
    for (int j = 0; j < n_cols; ++j) {
      float* o = out + (static_cast<int64_t>(i) * n_cols + j) * d;
      for (int64_t c = 0; c < d; ++c) {
        float s = 0.0f;
        for (int dy = 0; dy < kernel; ++dy)
          for (int dx = 0; dx < kernel; ++dx)
            s += x[(static_cast<int64_t>(i * kernel + dy) * cols + j * kernel + dx) * d + c];
        o[c] = s / count;
      }
    }
}

void clamp(const float* x, int64_t n, float lo, float hi, float* out) {
  // torch.clamp: a NaN input stays NaN (neither comparison holds).
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

void add(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void soft_cap(const float* x, int64_t n, float cap, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i] / cap) * cap;
}

void scale(const float* x, int64_t n, float factor, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * factor;
}

void slice_cols(const float* x, int64_t t, int64_t d, int64_t offset, int64_t width, float* out) {
  for (int64_t r = 0; r < t; ++r)
    std::memcpy(out + r * width, x + r * d + offset, static_cast<size_t>(width) * sizeof(float));
}

void top_k(const float* x, int64_t t, int64_t d, int k, float* out) {
  std::vector<int32_t> order(static_cast<size_t>(d));
  for (int64_t r = 0; r < t; ++r) {
    const float* row = x + r * d;
    std::iota(order.begin(), order.end(), 0);
    // Descending, ties by the lower index; NaN below every number.
    const auto before = [&](int32_t a, int32_t b) {
      const float va = row[a], vb = row[b];
      if (std::isnan(va) || std::isnan(vb)) return !std::isnan(va) || (std::isnan(vb) && a < b);
      return va > vb || (va == vb && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
    float* o = out + r * 2 * k;
    for (int i = 0; i < k; ++i) {
      o[i] = row[order[static_cast<size_t>(i)]];
      o[k + i] = static_cast<float>(order[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace gemrt::cpu
