// RoPE frequency tables (spec §1.3).
//
// HF computes inv_freq[i] = 1 / base^(2i / dim) in float32 for i < dim/2, divides by the
// linear scaling factor, and forms angles position * inv_freq[i] in float32. Rotation is
// rotate-half style: element i of a head pairs with element i + dim/2.
#pragma once

#include <vector>

namespace gemrt {

struct RopeScaling {
  enum class Kind { None, Linear };
  Kind kind = Kind::None;
  float factor = 1.0f;  // Linear: inv_freq /= factor
};

// The precision the inverse frequencies are kept in. HF computes them in float32 and keeps them
// so when loading any checkpoint; only a module cast with `model.to(bf16)` rounds the buffer
// (and `.float()` afterwards does not restore it). BF16/F16 here reproduce such a model.
enum class RopeFreqPrecision { F32, BF16, F16 };

// head_dim / 2 inverse frequencies, float32 as HF computes them.
std::vector<float> rope_inv_freq(int head_dim, float theta, const RopeScaling& scaling,
                                 RopeFreqPrecision precision = RopeFreqPrecision::F32);

}  // namespace gemrt
