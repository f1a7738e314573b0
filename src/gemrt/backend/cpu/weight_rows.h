// Reading rows of a stored weight (F32 / F16 / BF16, or a packed GGML block format such as Q4_0 or
// Q4_K) as float32, without copying the tensor: packed rows are dequantized block by block.
#pragma once

#include <cstdint>

#include "gemrt/core/tensor.h"

namespace gemrt::cpu {

// Row width of a [rows, cols] (or [cols]) weight.
inline int64_t row_width(const TensorView& w) { return w.shape.back(); }

// Converts elements [begin, begin + n) of row `row` of `w` to float32 into `out`.
// Reads with memcpy, so the mapped data need not be aligned. For block formats the row width
// must be a whole number of blocks (else throws); `begin` and `n` need not be block-aligned:
// the blocks covering the range are dequantized and the requested part copied out.
void read_weight_row(const TensorView& w, int64_t row, int64_t begin, int64_t n, float* out);

// A float32 pointer to row `row` of `w`: directly into the weight when it is aligned F32,
// otherwise converted into `scratch` (which must hold the row width).
const float* weight_row_f32(const TensorView& w, int64_t row, float* scratch);

}  // namespace gemrt::cpu
