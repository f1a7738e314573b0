#include <cmath>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"

namespace gemrt::cpu {
namespace {

// HF: angle_i = float(pos * inv_freq[i]), cos/sin rounded from double.
void angles_hf(int32_t pos, const RopeAttrs& a, float* cos_t, float* sin_t) {
  const auto p = static_cast<float>(pos);
  for (int i = 0; i < a.head_dim / 2; ++i) {
    const float angle = p * a.inv_freq[static_cast<size_t>(i)];
    cos_t[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
    sin_t[i] = static_cast<float>(std::sin(static_cast<double>(angle)));
  }
}

// llama.cpp (ggml_rope_cache_init): theta_0 = pos, theta_{i+1} = theta_i * powf(base, -2 / d) in
// float32, angle_i = freq_scale * theta_i, cosf / sinf.
void angles_llama(int32_t pos, const RopeAttrs& a, float* cos_t, float* sin_t) {
  const float theta_scale = std::pow(a.geometric.base, -2.0f / static_cast<float>(a.head_dim));
  auto theta = static_cast<float>(pos);
  for (int i = 0; i < a.head_dim / 2; ++i) {
    const float angle = a.geometric.freq_scale * theta;
    cos_t[i] = std::cos(angle);
    sin_t[i] = std::sin(angle);
    theta *= theta_scale;
  }
}

}  // namespace

// Rotate-half RoPE (spec §1.3): for pair i (i < d/2),
// out[i] = x[i] cos - x[i + d/2] sin, out[i + d/2] = x[i] sin + x[i + d/2] cos.
// Axial RoPE (a.axes = A > 1, spec §6.6) does the same within each of the A sections of s = d / A
// values of a head, section a at positions[t * A + a] (graph/ir.h RopeAttrs).
// Fast numerics evaluate these as llama.cpp's CPU build does, where the compiler contracts each
// into one FMA (GCC, -march=native): fma(x[i], cos, -(x[i + d/2] sin)), fma(x[i], sin, x[i + d/2] cos).
void rope(const float* x, const int32_t* positions, int64_t t, const RopeAttrs& a, Numerics numerics, float* out) {
  const int half = a.head_dim / 2;
  const int axes = a.axes > 1 ? a.axes : 1;
  const int sec_half = half / axes;  // pairs per section
  const bool fast = numerics == Numerics::Fast;
  const bool llama_angles = fast && a.geometric.base > 0.0f && axes == 1;
  std::vector<float> cos_t(static_cast<size_t>(half)), sin_t(static_cast<size_t>(half));
  for (int64_t r = 0; r < t; ++r) {
    if (llama_angles) {
      angles_llama(positions[r], a, cos_t.data(), sin_t.data());
    } else if (axes == 1) {
      angles_hf(positions[r], a, cos_t.data(), sin_t.data());
    } else {
      for (int i = 0; i < half; ++i) {
        const float angle = static_cast<float>(positions[r * axes + i / sec_half]) * a.inv_freq[static_cast<size_t>(i)];
        cos_t[static_cast<size_t>(i)] = static_cast<float>(std::cos(static_cast<double>(angle)));
        sin_t[static_cast<size_t>(i)] = static_cast<float>(std::sin(static_cast<double>(angle)));
      }
    }
    for (int h = 0; h < a.n_heads; ++h) {
      const float* xh = x + (r * a.n_heads + h) * a.head_dim;
      float* yh = out + (r * a.n_heads + h) * a.head_dim;
      for (int i = 0; i < half; ++i) {
        const float c = cos_t[static_cast<size_t>(i)], s = sin_t[static_cast<size_t>(i)];
        const int e1 = (i / sec_half) * 2 * sec_half + i % sec_half, e2 = e1 + sec_half;
        const float x1 = xh[e1], x2 = xh[e2];
        if (fast) {
          yh[e1] = std::fma(x1, c, -(x2 * s));
          yh[e2] = std::fma(x1, s, x2 * c);
        } else {
          yh[e1] = x1 * c - x2 * s;
          yh[e2] = x1 * s + x2 * c;
        }
      }
    }
  }
}

}  // namespace gemrt::cpu
