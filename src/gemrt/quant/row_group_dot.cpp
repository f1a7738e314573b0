#include "gemrt/quant/row_group_dot.h"

#include <cmath>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/block_formats.h"

namespace gemrt::quant {
namespace {

// Scalar reference: one output at a time, the header's operations spelled out. (This file is
// compiled without FP contraction, so `dw * da` is rounded before the explicit fma.)

float dot_q4_0(int64_t n, const std::byte* w, const std::byte* a) {
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const auto wb = load_unaligned<BlockQ4_0>(w + b * static_cast<int64_t>(sizeof(BlockQ4_0)));
    const auto ab = load_unaligned<BlockQ8_0>(a + b * static_cast<int64_t>(sizeof(BlockQ8_0)));
    int isum = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      isum += ((wb.qs[j] & 15) - 8) * ab.qs[j];
      isum += ((wb.qs[j] >> 4) - 8) * ab.qs[j + kQK / 2];
    }
    const float scale = f16_to_f32(wb.d) * f16_to_f32(ab.d);
    acc = std::fma(static_cast<float>(isum), scale, acc);
  }
  return acc;
}

float dot_q4_k(int64_t n, const std::byte* w, const std::byte* a, FoldGrain grain) {
  const int subs_per_chunk = grain == FoldGrain::Batched ? 2 : 8;
  float acc = 0.0f, acc_min = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const auto wb = load_unaligned<BlockQ4_K>(w + b * static_cast<int64_t>(sizeof(BlockQ4_K)));
    const auto ab = load_unaligned<BlockQ8_K>(a + b * static_cast<int64_t>(sizeof(BlockQ8_K)));
    const float scale = f16_to_f32(wb.d) * ab.d;
    const float scale_min = f16_to_f32(wb.dmin) * ab.d;
    for (int s0 = 0; s0 < 8; s0 += subs_per_chunk) {
      int isum = 0, msum = 0;
      for (int s = s0; s < s0 + subs_per_chunk; ++s) {
        int sc, mn;
        k_scale_min(wb.scales, s, &sc, &mn);
        int dot = 0;
        for (int l = 0; l < 32; ++l) dot += ((wb.qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15) * ab.qs[32 * s + l];
        isum += sc * dot;
        msum += mn * (ab.bsums[2 * s] + ab.bsums[2 * s + 1]);
      }
      acc = std::fma(static_cast<float>(isum), scale, acc);
      acc_min = std::fma(static_cast<float>(msum), scale_min, acc_min);
    }
  }
  return acc - acc_min;
}

template <DType kType>
void group_scalar(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride, int64_t rows,
                  FoldGrain grain, float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int j = 0; j < kRowGroup; ++j) {
      const std::byte* wr = w + j * w_stride;
      const std::byte* ar = a + r * a_stride;
      out[r * out_stride + j] = kType == DType::Q4_0 ? dot_q4_0(n, wr, ar) : dot_q4_k(n, wr, ar, grain);
    }
  }
}

}  // namespace

FoldGrain fold_grain(int64_t row, int64_t rows) { return row < rows - rows % 4 ? FoldGrain::Batched : FoldGrain::Single; }

bool has_row_group_dot(DType weight) { return weight == DType::Q4_0 || weight == DType::Q4_K; }

namespace detail {

RowGroupDot::Fn row_group_fn_scalar(DType weight) {
  switch (weight) {
    case DType::Q4_0: return group_scalar<DType::Q4_0>;
    case DType::Q4_K: return group_scalar<DType::Q4_K>;
    default: return nullptr;
  }
}

#if !(defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS))
RowGroupDot::Fn row_group_fn_avx2(DType) { return nullptr; }
#endif
#if !(defined(__x86_64__) && defined(GEMRT_HAVE_AVX512_KERNELS))
RowGroupDot::Fn row_group_pair_fn_avx512(DType) { return nullptr; }
#endif

}  // namespace detail

RowGroupDot::RowGroupDot(DType weight, int64_t n, DotIsa isa) : fn_(nullptr), pair_fn_(nullptr), n_(n) {
  if (!has_row_group_dot(weight)) fail("row_group_dot: no 8-row kernel for weight dtype ", dtype_name(weight));
  const int64_t block = dtype_info(dot_partner(weight)).block_elems;
  if (n % block != 0) fail("row_group_dot: ", n, " values are not a whole number of ", block, "-value blocks");
  if (!dot_isa_available(isa)) fail("row_group_dot: ", dot_isa_name(isa), " kernels requested on a CPU without them");
  if (isa != DotIsa::Scalar) fn_ = detail::row_group_fn_avx2(weight);  // Avx512's one-group kernels are AVX2's
  if (isa == DotIsa::Avx512) pair_fn_ = detail::row_group_pair_fn_avx512(weight);
  if (fn_ == nullptr) fn_ = detail::row_group_fn_scalar(weight);
}

void RowGroupDot::operator()(const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride, int64_t rows,
                             FoldGrain grain, float* out, int64_t out_stride) const {
  fn_(n_, w, w_stride, a, a_stride, rows, grain, out, out_stride);
}

void RowGroupDot::groups(const std::byte* w, int64_t w_stride, int64_t groups, const std::byte* a, int64_t a_stride,
                         int64_t rows, FoldGrain grain, float* out, int64_t out_stride) const {
  int64_t g = 0;
  if (pair_fn_ != nullptr)
    for (; g + 2 <= groups; g += 2)
      pair_fn_(n_, w + g * kRowGroup * w_stride, w_stride, a, a_stride, rows, grain, out + g * kRowGroup, out_stride);
  for (; g < groups; ++g) fn_(n_, w + g * kRowGroup * w_stride, w_stride, a, a_stride, rows, grain, out + g * kRowGroup, out_stride);
}

}  // namespace gemrt::quant
