// Dot products of a weight row in its stored format with an activation row rounded to the
// format's partner type (gemrt/quant/activation_quant.h): the inner loop of the fast matmul.
//
// This is the scalar reference: exact integer sums per block (or sub-block), scaled and
// accumulated in float32 per block:
//   Q4_0 / Q5_0 / Q8_0 x Q8_0:  sum_b dw_b * da_b * sum_j qw_j qa_j   (qw with its offset removed)
//   Q4_1 / Q5_1 x Q8_1:         sum_b dw_b * da_b * sum_j qw_j qa_j + mw_b * sa_b
//   Q2_K ... Q6_K x Q8_K:       sum_b da_b * (dw_b * sum_s sc_s sum_j qw_j qa_j
//                                             - dminw_b * sum_s mn_s sum_j qa_j)
//   F16 x F16, BF16 x BF16, F32 x F32: float32 products summed in float32.
// It equals the float64 dot product of the dequantized rows up to float32 rounding of the
// per-block terms. SIMD kernels are tested against it. The AVX2 kernels (DotOrder::VecDot) sum in
// the order of llama.cpp's AVX2 vec_dot kernels (its one-row path): block scales FMA'd into 8
// float lanes, its lane layout, mins and offsets entering as it enters them; for F16 / BF16 /
// F32 its ggml_vec_dot_* reductions.
//
// DotOrder::Batched is the float32 order of llama.cpp's kernels for matmuls over many activation
// rows (batched_order_min_rows), fully specified, so every ISA gives the same bits:
//   Q2_K ... Q6_K x Q8_K (its "tiled" kernels), per super-block:
//       res = dw * float(isum);  res = fma(-dminw, float(msum), res) (formats with mins);
//       acc = fma(res, da, acc)
//   F16 x F16, BF16 x BF16 (its "tinyBLAS" kernels): one 8-lane FMA accumulator over chunks of 8
//       values (n % 8 == 0), reduced as t_L = a_L + a_{L+4}, (t_0 + t_2) + (t_1 + t_3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gemrt/core/dtype.h"

namespace gemrt::quant {

// sum_i w[i] * a[i] for i < n. `weight` is the row's format, `a` holds n values of
// dot_partner(weight); n must be a whole number of blocks of both. Either pointer may have any
// alignment. Throws for a format without a partner.
float vec_dot(DType weight, int64_t n, const std::byte* w, const std::byte* a);

// The instruction sets vec_dot has kernels for. Integer block sums are exact on every ISA; the
// float32 sums that combine them run in an ISA-specific order, so results agree up to float32
// rounding (tests hold every SIMD kernel to the scalar one within 1e-6 of sum |w a|).
// Avx512 (AVX-512 F/BW/VL/DQ + VNNI, on top of AVX2) runs faster kernels with exactly the Avx2 bits.
enum class DotIsa { Scalar, Avx2, Avx512 };
enum class DotOrder { VecDot, Batched };

// The fewest activation rows for which llama.cpp switches `weight` to its batched kernels (8 for
// the K-quants, 2 for F16 / BF16); 0 for formats it has no batched order for.
int64_t batched_order_min_rows(DType weight);
// The best ISA this CPU supports (chosen once, at first use): AVX-512 with VNNI, else AVX2 + FMA +
// F16C, else scalar. The environment variable GEMRT_DOT_ISA (scalar, avx2, avx512) caps the choice,
// for side-by-side timing of one binary's kernels.
DotIsa dot_isa();
// Whether this CPU and build run `isa`'s kernels (Avx512 includes Avx2: its CPUs run both).
bool dot_isa_available(DotIsa isa);
std::string_view dot_isa_name(DotIsa isa);

// The kernel for rows of n values of one weight format, resolved once (format checks, ISA
// choice) so a matmul can call it for every weight row without per-row dispatch.
class RowDot {
 public:
  RowDot(DType weight, int64_t n, DotIsa isa = dot_isa(), DotOrder order = DotOrder::VecDot);
  // out[r * out_stride] = vec_dot(weight, n, w, a + r * a_stride) for r < rows, decoding each
  // weight block once per tile of activation rows.
  void operator()(const std::byte* w, const std::byte* a, int64_t a_stride, int64_t rows, float* out,
                  int64_t out_stride) const;
  // Several weight rows: out[r * out_stride + j] for weight row w + j * w_stride (j < w_rows) and
  // activation row r < rows. The same bits as operator() row by row; ISAs with a block kernel
  // share each activation load and scale across weight rows.
  void block(const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a, int64_t a_stride, int64_t rows,
             float* out, int64_t out_stride) const;

 private:
  void (*fn_)(int64_t, const std::byte*, const std::byte*, int64_t, int, float*);  // detail::TileFn
  void (*block_fn_)(int64_t, const std::byte*, int64_t, int64_t, const std::byte*, int64_t, int64_t, float*,
                    int64_t);  // detail::BlockFn, or null
  void (*stream_fn_)(int64_t, const std::byte*, int64_t, int64_t, const std::byte*, int64_t, int64_t, float*,
                     int64_t);  // detail::BlockFn for one activation row, or null
  int64_t n_;
};

// One-off form of RowDot. `isa` must be available (throws otherwise).
void vec_dot_rows(DType weight, int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int64_t rows,
                  float* out, int64_t out_stride, DotIsa isa = dot_isa());

}  // namespace gemrt::quant
