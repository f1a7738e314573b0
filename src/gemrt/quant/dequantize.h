// Dequantization of packed rows (GGML block formats and the 16/32-bit floats) to float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gemrt/core/dtype.h"

namespace gemrt::quant {

// Converts `n` consecutive values stored as `t` at `src` to float32 in `dst`. `n` must be a
// multiple of the type's block size (checked; throws gemrt::Error otherwise). `src` may have any
// alignment. Supports F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K and Q8_K; throws for the integer types.
//
// The results are bit-identical to ggml's dequantize_row_* and the gguf Python package's
// dequantize: each value is formed from exact products (f16 scale x small integer codes fit in
// float32's 24-bit significand), with at most one rounding, in the final add of the min / offset.
void dequantize_row(DType t, const std::byte* src, float* dst, int64_t n);

}  // namespace gemrt::quant
