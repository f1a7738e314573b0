#include "gemrt/graph/rope.h"

#include <cmath>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"

namespace gemrt {

std::vector<float> rope_inv_freq(int head_dim, float theta, const RopeScaling& scaling, RopeFreqPrecision precision) {
  if (head_dim <= 0 || head_dim % 2 != 0) fail("RoPE: head_dim must be a positive even number, got ", head_dim);
  if (!(theta > 0.0f)) fail("RoPE: theta must be positive, got ", theta);
  std::vector<float> inv(static_cast<size_t>(head_dim / 2));
  for (int i = 0; i < head_dim / 2; ++i) {
    // torch: base ** (arange(0, dim, 2).float() / dim) in float32, then 1.0 / that.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    const float denom = static_cast<float>(std::pow(static_cast<double>(theta), static_cast<double>(exponent)));
    float f = 1.0f / denom;
    if (scaling.kind == RopeScaling::Kind::Linear) f /= scaling.factor;
    if (precision == RopeFreqPrecision::BF16) f = bf16_to_f32(f32_to_bf16(f));
    if (precision == RopeFreqPrecision::F16) f = f16_to_f32(f32_to_f16(f));
    inv[static_cast<size_t>(i)] = f;
  }
  return inv;
}

}  // namespace gemrt
