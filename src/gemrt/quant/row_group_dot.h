// Dot products of 8 weight rows at a time, in the float32 order of llama.cpp's CPU kernels for
// weights it keeps interleaved 8 rows at a time (its "repack" buffer: on AVX2 CPUs, Q4_0 and
// Q4_K matrices whose row count is a multiple of 8). Fast numerics use these for such matrices
// so that gemrt's results on a file match llama.cpp's on the same file, and a group of rows
// shares each activation load.
//
// Arithmetic per output (weight row w, activation row a, in its dot partner type):
//   Q4_0 x Q8_0, every 32 values (one block b):
//       acc = fma(float(isum_b), dw_b * da_b, acc)
//   Q4_K x Q8_K, every chunk of 64 values (FoldGrain::Batched) or 256 (FoldGrain::Single):
//       isum = sum over the chunk's sub-blocks s of sc_s * sum_j q_j a_j      (exact int32)
//       msum = sum over the chunk's sub-blocks s of mn_s * sum_j a_j          (exact int32)
//       acc  = fma(float(isum), dw * da, acc),  acc_min = fma(float(msum), dminw * da, acc_min)
//     result = acc - acc_min.
// Products of scales are rounded to float32 before the FMA, chunks are folded in order. Every
// ISA computes exactly these operations, so results are bit-identical across ISAs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gemrt/core/dtype.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::quant {

inline constexpr int kRowGroup = 8;

// How often a Q4_K row's integer sums are folded into float32 (Q4_0 folds per block either way).
enum class FoldGrain {
  Batched,  // every 64 values: llama.cpp's GEMM, which takes activation rows 4 at a time
  Single,   // every 256 values: its GEMV, for the activation rows left over
};

// The grain llama.cpp gives activation row `row` of a matmul over `rows` rows: the first
// rows - rows % 4 go through its GEMM, the rest through its GEMV.
FoldGrain fold_grain(int64_t row, int64_t rows);

// Q4_0 and Q4_K: the formats llama.cpp interleaves on AVX2 CPUs.
bool has_row_group_dot(DType weight);

// Resolved once per matmul, like RowDot.
class RowGroupDot {
 public:
  // `weight` must satisfy has_row_group_dot; n a whole number of its blocks.
  RowGroupDot(DType weight, int64_t n, DotIsa isa = dot_isa());
  // For j < kRowGroup and r < rows: out[r * out_stride + j] = the dot product of weight row
  // w + j * w_stride with activation row a + r * a_stride, at `grain`.
  void operator()(const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride, int64_t rows,
                  FoldGrain grain, float* out, int64_t out_stride) const;
  // `groups` consecutive groups (weight rows w + j * w_stride, j < groups * kRowGroup, outputs
  // out[r * out_stride + j]): operator() group by group, bit for bit; ISAs with a kernel for two
  // groups at once (AVX-512: 16 rows in the lanes) take them in pairs.
  void groups(const std::byte* w, int64_t w_stride, int64_t groups, const std::byte* a, int64_t a_stride, int64_t rows,
              FoldGrain grain, float* out, int64_t out_stride) const;

  using Fn = void (*)(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride,
                      int64_t rows, FoldGrain grain, float* out, int64_t out_stride);

 private:
  Fn fn_;
  Fn pair_fn_;  // two groups (2 * kRowGroup weight rows, outputs j < 16), or null
  int64_t n_;
};

namespace detail {
// Per-ISA kernels behind RowGroupDot (nullptr where an ISA has none).
RowGroupDot::Fn row_group_fn_scalar(DType weight);
RowGroupDot::Fn row_group_fn_avx2(DType weight);
// Kernels for two groups at once, with the Fn signature over 2 * kRowGroup weight rows.
RowGroupDot::Fn row_group_pair_fn_avx512(DType weight);
}  // namespace detail

}  // namespace gemrt::quant
