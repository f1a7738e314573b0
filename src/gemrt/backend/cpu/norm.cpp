#include <cmath>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"

namespace gemrt::cpu {

// Gemma RMSNorm (spec §1.1): y = x * rsqrt(mean(x^2) + eps) * (offset + w), all in float32
// (squares in float32, summed in double, the mean rounded to float32: llama.cpp's order, which
// keeps the fast numerics' activation rounding in step with it).
void rms_norm(const float* x, int64_t n_values, const TensorView* w, const RmsNormAttrs& a, float* out,
              ThreadPool& pool) {
  const int64_t dim = a.dim;
  std::vector<float> gain(static_cast<size_t>(dim), 1.0f);
  if (w) {
    read_weight_row(*w, 0, 0, dim, gain.data());
    for (float& g : gain) g = a.weight_offset + g;
  }
  const int64_t groups = n_values / dim;
  pool.parallel_for(groups, [&](int64_t b, int64_t e) {
    for (int64_t gi = b; gi < e; ++gi) {
      const float* xr = x + gi * dim;
      float* yr = out + gi * dim;
      double ss = 0.0;
      for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xr[i] * xr[i]);
      const float mean = static_cast<float>(ss / static_cast<double>(dim));
      const float inv = 1.0f / std::sqrt(mean + a.eps);
      for (int64_t i = 0; i < dim; ++i) yr[i] = (xr[i] * inv) * gain[static_cast<size_t>(i)];
    }
  }, 8);
}

}  // namespace gemrt::cpu
