#include "gemrt/quant/activation_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::quant {
namespace detail {
// AVX2 versions (activation_quant_avx2.cpp): the same bytes as the portable code below.
void quantize_q8_0_avx2(const float* x, int64_t n, std::byte* out);
void quantize_q8_1_avx2(const float* x, int64_t n, std::byte* out);
void quantize_q8_k_avx2(const float* x, int64_t n, std::byte* out);
void quantize_16bit_avx2(bool bf16, const float* x, int64_t n, std::byte* out);
}  // namespace detail
namespace {

// Round half to even, as the SIMD conversions do, for |v| < 2^22 (adding and removing 1.5 * 2^23
// leaves the nearest integer in the default rounding mode; no libm call in the hot loop).
int round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  const float r = (v + kMagic) - kMagic;
  return static_cast<int>(r);
}


template <typename Block>
void quantize_q8_32(const float* x, int64_t n, std::byte* out) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    Block blk{};
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    blk.d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = round_even(x[j] * id);
      blk.qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    if constexpr (std::is_same_v<Block, BlockQ8_1>) blk.s = f32_to_f16(d * static_cast<float>(sum));
    std::memcpy(out + b * static_cast<int64_t>(sizeof(Block)), &blk, sizeof(Block));
  }
}

void quantize_q8_k(const float* x, int64_t n, std::byte* out) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float amax = 0.0f, m = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        m = x[j];
      }
    }
    BlockQ8_K blk{};
    if (amax != 0.0f) {
      const float iscale = -127.0f / m;
      for (int j = 0; j < kQK_K; ++j) blk.qs[j] = static_cast<int8_t>(std::min(127, round_even(iscale * x[j])));
      for (int g = 0; g < kQK_K / 16; ++g) {
        int s = 0;
        for (int j = 0; j < 16; ++j) s += blk.qs[16 * g + j];
        blk.bsums[g] = static_cast<int16_t>(s);
      }
      blk.d = 1.0f / iscale;
    }
    std::memcpy(out + b * static_cast<int64_t>(sizeof(BlockQ8_K)), &blk, sizeof(BlockQ8_K));
  }
}

}  // namespace

DType dot_partner(DType weight) {
  switch (weight) {
    case DType::F32: return DType::F32;
    case DType::F16: return DType::F16;
    case DType::BF16: return DType::BF16;
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q8_0: return DType::Q8_0;
    case DType::Q4_1:
    case DType::Q5_1: return DType::Q8_1;
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return DType::Q8_K;
    default: fail("no dot-product partner type for weight dtype ", dtype_name(weight));
  }
}

namespace {

void check_whole_blocks(DType partner, int64_t n) {
  const DTypeInfo& info = dtype_info(partner);
  if (n % info.block_elems != 0)
    fail("quantize_activations: ", n, " values are not a whole number of ", info.name, " blocks of ",
         info.block_elems);
}

}  // namespace

void detail::quantize_activations_portable(DType partner, const float* x, int64_t n, std::byte* out) {
  check_whole_blocks(partner, n);
  switch (partner) {
    case DType::F32:
      if (n > 0) std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::F16:
    case DType::BF16: {
      const bool bf = partner == DType::BF16;
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = bf ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    }
    case DType::Q8_0: quantize_q8_32<BlockQ8_0>(x, n, out); return;
    case DType::Q8_1: quantize_q8_32<BlockQ8_1>(x, n, out); return;
    case DType::Q8_K: quantize_q8_k(x, n, out); return;
    default: fail("quantize_activations: ", dtype_name(partner), " is not an activation partner type");
  }
}

bool detail::quantize_activations_avx2_available() { return dot_isa_available(DotIsa::Avx2); }

void detail::quantize_activations_avx2(DType partner, const float* x, int64_t n, std::byte* out) {
#if defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS)
  check_whole_blocks(partner, n);
  switch (partner) {
    case DType::Q8_0: quantize_q8_0_avx2(x, n, out); return;
    case DType::Q8_1: quantize_q8_1_avx2(x, n, out); return;
    case DType::Q8_K: quantize_q8_k_avx2(x, n, out); return;
    case DType::F16: quantize_16bit_avx2(false, x, n, out); return;
    case DType::BF16: quantize_16bit_avx2(true, x, n, out); return;
    default: break;
  }
#endif
  quantize_activations_portable(partner, x, n, out);
}

void quantize_activations(DType partner, const float* x, int64_t n, std::byte* out) {
  if (detail::quantize_activations_avx2_available()) detail::quantize_activations_avx2(partner, x, n, out);
  else detail::quantize_activations_portable(partner, x, n, out);
}

}  // namespace gemrt::quant
