// Rounding activations to a weight format's dot-product partner type (the "fast" numerics).
//
// A matmul against a packed or 16-bit weight can multiply small integers (or 16-bit floats)
// instead of float32 values: the activation row is first rounded to the weight format's partner
// type, then each output is a sum of integer block dot products scaled in float32
// (gemrt/quant/vec_dot.h). The partner of each format is the one llama.cpp's CPU kernels use, so
// this path reproduces llama.cpp's numbers on the same file:
//   F32 -> F32   F16 -> F16   BF16 -> BF16
//   Q4_0, Q5_0, Q8_0 -> Q8_0 (blocks of 32)   Q4_1, Q5_1 -> Q8_1 (blocks of 32, with sums)
//   Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> Q8_K (blocks of 256, with 16-value sums)
// The rounding error is at most half a code step per value (|x| max / 254 within a block).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gemrt/core/dtype.h"

namespace gemrt::quant {

// The partner type of weight format `weight`; throws for types that hold no real numbers.
DType dot_partner(DType weight);

// Rounds n float32 values to `partner` (a type dot_partner returns) into `out`, which holds
// dtype_bytes(partner, n) bytes (n must be a whole number of the partner's blocks):
//   Q8_0, Q8_1: per block of 32, amax = max |x|, d = amax / 127 (stored as f16), codes =
//     round-half-even(x * (127 / amax)), all 0 when amax is 0; Q8_1 also stores s = d * sum(codes)
//     as f16.
//   Q8_K: per block of 256, m = the value of largest magnitude (the first one on ties), codes =
//     min(127, round-half-even(x * (-127 / m))), d = 1 / (-127 / m) as float32, bsums = sums of each
//     16 codes; all zero when m is 0. (The sign flip keeps codes within -127..127.)
//   F16, BF16: round to nearest even. F32: copied.
void quantize_activations(DType partner, const float* x, int64_t n, std::byte* out);

namespace detail {
// The two implementations behind quantize_activations (they write the same bytes; tests compare
// them). The AVX2 one must only be called when quantize_activations_avx2_available().
void quantize_activations_portable(DType partner, const float* x, int64_t n, std::byte* out);
void quantize_activations_avx2(DType partner, const float* x, int64_t n, std::byte* out);
bool quantize_activations_avx2_available();
}  // namespace detail

}  // namespace gemrt::quant
