// Random weights in any stored dtype, for synthetic models (`gemrt bench --synthetic`: a 27B
// shape needs no 54 GB file) and for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gemrt/core/dtype.h"

namespace gemrt::quant {

// Byte offsets of the float16 scale fields inside one block of `t` (empty for non-block dtypes):
// random bytes there could be inf or nan.
std::vector<int> block_f16_fields(DType t);

// Fills `n_values` values of dtype `t` at `dst` (dtype_bytes(t, n_values) bytes). F32 / F16 / BF16:
// uniform values of standard deviation `stddev`. Block formats: random codes and sub-block
// scales, every f16 scale field set to stddev / 16 (decoded values of roughly a trained model's
// size, always finite). The same seed gives the same bytes whatever `threads` is (0 = all cores).
void fill_random_weights(DType t, std::byte* dst, int64_t n_values, uint64_t seed, float stddev, int threads = 0);

}  // namespace gemrt::quant
