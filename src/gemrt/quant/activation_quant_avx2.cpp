// AVX2 + F16C rounding of activation rows (compiled with -mavx2 -mfma -mf16c; called after a CPU
// check): byte for byte what activation_quant.cpp's portable code writes (same max, same scale
// arithmetic, round half to even, same sums).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gemrt/core/half.h"
#include "gemrt/quant/avx2_common.h"
#include "gemrt/quant/block_formats.h"

namespace gemrt::quant::detail {
namespace {

float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// 32 floats * scale, rounded half to even, packed to 32 int8 in order.
__m256i round_pack32(const float* x, __m256 scale) {
  const int mode = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), scale), mode));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8), scale), mode));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16), scale), mode));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 24), scale), mode));
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

__m256 abs8(const float* x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x)); }

int sum_i8(__m256i q) { return avx2::hsum_i32(avx2::dot_u8s8(_mm256_set1_epi8(1), q)); }  // 32 signed bytes

template <bool kSums>
void quantize_q8_32(const float* x, int64_t n, std::byte* out) {
  constexpr int64_t kBytes = kSums ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  constexpr int64_t kQs = kSums ? offsetof(BlockQ8_1, qs) : offsetof(BlockQ8_0, qs);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const __m256 m = _mm256_max_ps(_mm256_max_ps(abs8(x), abs8(x + 8)), _mm256_max_ps(abs8(x + 16), abs8(x + 24)));
    const float amax = hmax(m);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256i q = round_pack32(x, _mm256_set1_ps(id));
    std::byte* blk = out + b * kBytes;
    const auto dh = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(blk, &dh, 2);
    if constexpr (kSums) {
      const auto sh = static_cast<uint16_t>(_cvtss_sh(d * static_cast<float>(sum_i8(q)), _MM_FROUND_TO_NEAREST_INT));
      std::memcpy(blk + offsetof(BlockQ8_1, s), &sh, 2);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + kQs), q);
  }
}

}  // namespace

void quantize_q8_0_avx2(const float* x, int64_t n, std::byte* out) { quantize_q8_32<false>(x, n, out); }
void quantize_q8_1_avx2(const float* x, int64_t n, std::byte* out) { quantize_q8_32<true>(x, n, out); }

void quantize_q8_k_avx2(const float* x, int64_t n, std::byte* out) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    __m256 m = abs8(x);
    for (int j = 8; j < kQK_K; j += 8) m = _mm256_max_ps(m, abs8(x + j));
    const float amax = hmax(m);
    BlockQ8_K blk{};
    if (amax != 0.0f) {
      int first = 0;  // the first value of largest magnitude decides the scale's sign
      while (!(x[first] == amax || x[first] == -amax)) ++first;
      const float iscale = -127.0f / x[first];
      const __m256 s = _mm256_set1_ps(iscale);
      for (int c = 0; c < kQK_K / 32; ++c) {
        // |iscale * x| <= 127 rounds to at most 127: the portable min(127, .) never binds here, and
        // the saturating packs keep the same bytes.
        const __m256i q = round_pack32(x + 32 * c, s);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk.qs + 32 * c), q);
        const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);  // pair sums
        alignas(32) int16_t pairs[16];
        _mm256_store_si256(reinterpret_cast<__m256i*>(pairs), s16);
        for (int g = 0; g < 2; ++g) {
          int sum = 0;
          for (int k = 0; k < 8; ++k) sum += pairs[8 * g + k];
          blk.bsums[2 * c + g] = static_cast<int16_t>(sum);
        }
      }
      blk.d = 1.0f / iscale;
    }
    std::memcpy(out + b * static_cast<int64_t>(sizeof(BlockQ8_K)), &blk, sizeof(BlockQ8_K));
  }
}

// F16 / BF16: 8 values at a time, round to nearest even (F16 by the F16C instruction, BF16 by
// adding 0x7fff plus the kept lowest bit, as f32_to_bf16); a group holding a NaN goes through the
// portable conversion, which writes the canonical quiet NaN the hardware would not.
void quantize_16bit_avx2(bool bf16, const float* x, int64_t n, std::byte* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) break;
    __m128i h;
    if (bf16) {
      const __m256i u = _mm256_castps_si256(v);
      const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
      const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
      h = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    } else {
      h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  for (; i < n; ++i) {
    const uint16_t h = bf16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

}  // namespace gemrt::quant::detail
