#include <cmath>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"

namespace gemrt::cpu {

// Rotate-half RoPE (spec §1.3): for pair i (i < d/2) with angle = float(pos * inv_freq[i]),
// out[i] = x[i] cos - x[i + d/2] sin, out[i + d/2] = x[i + d/2] cos + x[i] sin.
void rope(const float* x, const int32_t* positions, int64_t t, const RopeAttrs& a, float* out) {
  const int half = a.head_dim / 2;
  std::vector<float> cos_t(static_cast<size_t>(half)), sin_t(static_cast<size_t>(half));
  for (int64_t r = 0; r < t; ++r) {
    const auto pos = static_cast<float>(positions[r]);
    for (int i = 0; i < half; ++i) {
      const float angle = pos * a.inv_freq[static_cast<size_t>(i)];
      cos_t[static_cast<size_t>(i)] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin_t[static_cast<size_t>(i)] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
    for (int h = 0; h < a.n_heads; ++h) {
      const float* xh = x + (r * a.n_heads + h) * a.head_dim;
      float* yh = out + (r * a.n_heads + h) * a.head_dim;
      for (int i = 0; i < half; ++i) {
        const float c = cos_t[static_cast<size_t>(i)], s = sin_t[static_cast<size_t>(i)];
        const float x1 = xh[i], x2 = xh[i + half];
        yh[i] = x1 * c - x2 * s;
        yh[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

}  // namespace gemrt::cpu
