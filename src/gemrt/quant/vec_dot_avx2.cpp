// AVX2 + FMA + F16C tile kernels of vec_dot (compiled with -mavx2 -mfma -mf16c; called only on
// CPUs that have them). See vec_dot_kernels.h for the contract: for the packed formats the
// integer block sums are exact and combined in float32 exactly as the scalar reference does, so
// results are bit-identical to it.
//
// Integer products use _mm256_maddubs_epi16 (u8 x s8 pairs summed to s16) then
// _mm256_madd_epi16 (s16 pairs summed to s32). No s16 lane can overflow: a pair is at most
// 2 * 255 * 127 for u8 codes (codes here are <= 63, so <= 16002) and signed codes go through
// the sign trick (|w| as u8 times sign(w) * a, |a| <= 127).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "gemrt/core/half.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/vec_dot_kernels.h"

namespace gemrt::quant::detail {
namespace {

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

float f16(uint16_t h) { return _cvtsh_ss(h); }

int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

float hsum_f32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

const __m256i kOnes16 = _mm256_set1_epi16(1);

// 8 s32 partial sums of u[i] * s[i] over 32 byte pairs (u unsigned, s signed).
__m256i dot_u8s8(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), kOnes16); }

// The same for two signed operands (sign trick: |w| * (a * sign w)).
__m256i dot_s8s8(__m256i w, __m256i a) { return dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)); }

__m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 32 4-bit codes of a Q4_0 / Q4_1 / Q5_0 / Q5_1 block: values 0-15 from the low nibbles,
// 16-31 from the high nibbles of the 16 code bytes.
__m256i nibbles_32(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

// Byte j = 0x10 if bit j of qh is set, else 0 (the fifth code bit of Q5_0 / Q5_1).
__m256i fifth_bits_32(const uint8_t* qh_bytes) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(qh)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// ---------------------------------------------------------------------------------------------
// 32-value formats against Q8_0 / Q8_1.

// Lane j = the sum of the 8 lanes of v[j] (8 vectors reduced at once).
__m256i hsum8_i32(const __m256i* v) {
  const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20), _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Blocks are taken 8 at a time so the 8 integer sums reduce together; the float32 sums still
// run block by block in order, as in the scalar kernel.
// kOneRow: the decode case (one activation row), with the row's sums kept in registers.
template <typename WBlock, bool kOneRow>
void tile_small_impl(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows_in, float* out) {
  const int rows = kOneRow ? 1 : rows_in;
  constexpr bool kOffset = std::is_same_v<WBlock, BlockQ4_1> || std::is_same_v<WBlock, BlockQ5_1>;
  using ABlock = std::conditional_t<kOffset, BlockQ8_1, BlockQ8_0>;
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(ABlock);
  float sum[kRowTile] = {};
  float offsets[kRowTile] = {};
  const int64_t nb = n / kQK;
  __m256i codes[8];
  float dw[8], mw[8];
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    const int m = static_cast<int>(std::min<int64_t>(8, nb - b0));
    for (int j = 0; j < m; ++j) {
      const std::byte* wp = w + (b0 + j) * kWB;
      const auto* qs = reinterpret_cast<const uint8_t*>(wp + offsetof(WBlock, qs));
      dw[j] = f16(load_u16(wp));
      if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
        codes[j] = loadu(qs);
      } else if constexpr (std::is_same_v<WBlock, BlockQ4_0>) {
        codes[j] = _mm256_sub_epi8(nibbles_32(qs), _mm256_set1_epi8(8));
      } else if constexpr (std::is_same_v<WBlock, BlockQ5_0>) {
        const auto* qh = reinterpret_cast<const uint8_t*>(wp + offsetof(WBlock, qh));
        codes[j] = _mm256_sub_epi8(_mm256_or_si256(nibbles_32(qs), fifth_bits_32(qh)), _mm256_set1_epi8(16));
      } else if constexpr (std::is_same_v<WBlock, BlockQ4_1>) {
        codes[j] = nibbles_32(qs);
        mw[j] = f16(load_u16(wp + offsetof(WBlock, m)));
      } else {
        const auto* qh = reinterpret_cast<const uint8_t*>(wp + offsetof(WBlock, qh));
        codes[j] = _mm256_or_si256(nibbles_32(qs), fifth_bits_32(qh));
        mw[j] = f16(load_u16(wp + offsetof(WBlock, m)));
      }
    }
    for (int j = m; j < 8; ++j) codes[j] = _mm256_setzero_si256();
    for (int r = 0; r < rows; ++r) {
      const std::byte* ar = a + r * a_stride + b0 * kAB;
      __m256i p[8];
      for (int j = 0; j < 8; ++j) {
        const __m256i q = j < m ? loadu(ar + j * kAB + offsetof(ABlock, qs)) : _mm256_setzero_si256();
        p[j] = kOffset ? dot_u8s8(codes[j], q) : dot_s8s8(codes[j], q);
      }
      alignas(32) int isum[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(isum), hsum8_i32(p));
      for (int j = 0; j < m; ++j) {
        sum[r] += dw[j] * f16(load_u16(ar + j * kAB)) * static_cast<float>(isum[j]);
        if constexpr (kOffset) offsets[r] += mw[j] * f16(load_u16(ar + j * kAB + offsetof(BlockQ8_1, s)));
      }
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = sum[r] + offsets[r];
}

template <typename WBlock>
void tile_small(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  if (rows == 1)
    tile_small_impl<WBlock, true>(n, w, a, a_stride, 1, out);
  else
    tile_small_impl<WBlock, false>(n, w, a, a_stride, rows, out);
}

// ---------------------------------------------------------------------------------------------
// K-quants against Q8_K. Each super-block is decoded to 256 unsigned codes u (value code =
// u - offset), integer sub-block scales and mins; per activation row:
//   isum = sum_s sc_s * (sum_j u_j q_j - offset * bsum_s),  msum = sum_s mn_s * bsum_s
// and the row's float sum gains da * (d * isum - dmin * msum), as in the scalar kernel.

struct KDecoded {
  alignas(32) uint8_t u[kQK_K];
  int sc[16];
  int mn[16];
  float d, dmin;
};

// Q2_K / Q3_K low bits: value 128 h + 32 k + l is bits 2k, 2k+1 of qs[32 h + l].
void two_bit_codes(const uint8_t* qs, uint8_t* u) {
  const __m256i m3 = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; ++h) {
    const __m256i q = loadu(qs + 32 * h);
    for (int k = 0; k < 4; ++k)
      _mm256_store_si256(reinterpret_cast<__m256i*>(u + 128 * h + 32 * k),
                         _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3));
  }
}

void decode(const BlockQ2_K& b, KDecoded* k) {
  two_bit_codes(b.qs, k->u);
  for (int s = 0; s < 16; ++s) {
    k->sc[s] = b.scales[s] & 15;
    k->mn[s] = b.scales[s] >> 4;
  }
  k->d = f16(b.d);
  k->dmin = f16(b.dmin);
}

void decode(const BlockQ3_K& b, KDecoded* k) {
  two_bit_codes(b.qs, k->u);
  // Third bit: value 32 k + l uses bit k of hmask[l]; u = low2 + 4 * bit, code = u - 4.
  const __m256i hm = loadu(b.hmask);
  const __m256i one = _mm256_set1_epi8(1);
  for (int kk = 0; kk < 8; ++kk) {
    auto* dst = reinterpret_cast<__m256i*>(k->u + 32 * kk);
    const __m256i bit = _mm256_and_si256(_mm256_srli_epi16(hm, kk), one);
    _mm256_store_si256(dst, _mm256_or_si256(_mm256_load_si256(dst), _mm256_slli_epi16(bit, 2)));
  }
  for (int s = 0; s < 16; ++s) {
    k->sc[s] = q3k_scale(b.scales, s);
    k->mn[s] = 0;
  }
  k->d = f16(b.d);
  k->dmin = 0.0f;
}

void decode(const BlockQ4_K& b, KDecoded* k) {
  const __m256i m15 = _mm256_set1_epi8(15);
  for (int p = 0; p < 4; ++p) {  // sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles)
    const __m256i q = loadu(b.qs + 32 * p);
    _mm256_store_si256(reinterpret_cast<__m256i*>(k->u + 64 * p), _mm256_and_si256(q, m15));
    _mm256_store_si256(reinterpret_cast<__m256i*>(k->u + 64 * p + 32), _mm256_and_si256(_mm256_srli_epi16(q, 4), m15));
  }
  for (int s = 0; s < 8; ++s) k_scale_min(b.scales, s, &k->sc[s], &k->mn[s]);
  k->d = f16(b.d);
  k->dmin = f16(b.dmin);
}

void decode(const BlockQ5_K& b, KDecoded* k) {
  const __m256i m15 = _mm256_set1_epi8(15);
  const __m256i one = _mm256_set1_epi8(1);
  const __m256i qh = loadu(b.qh);
  for (int p = 0; p < 4; ++p) {
    const __m256i q = loadu(b.qs + 32 * p);
    const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4);
    const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4);
    _mm256_store_si256(reinterpret_cast<__m256i*>(k->u + 64 * p), _mm256_or_si256(_mm256_and_si256(q, m15), h0));
    _mm256_store_si256(reinterpret_cast<__m256i*>(k->u + 64 * p + 32),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m15), h1));
  }
  for (int s = 0; s < 8; ++s) k_scale_min(b.scales, s, &k->sc[s], &k->mn[s]);
  k->d = f16(b.d);
  k->dmin = f16(b.dmin);
}

void decode(const BlockQ6_K& b, KDecoded* k) {
  // Half h, chunk c (values 128 h + 32 c + l): low nibble c / 2 of ql[64 h + 32 (c % 2) + l],
  // high bits 2c, 2c+1 of qh[32 h + l]; u = low | high << 4, code = u - 32.
  const __m256i m15 = _mm256_set1_epi8(15);
  const __m256i m3 = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; ++h) {
    const __m256i qh = loadu(b.qh + 32 * h);
    for (int c = 0; c < 4; ++c) {
      const __m256i ql = loadu(b.ql + 64 * h + 32 * (c % 2));
      const __m256i low = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (c / 2)), m15);
      const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), m3), 4);
      _mm256_store_si256(reinterpret_cast<__m256i*>(k->u + 128 * h + 32 * c), _mm256_or_si256(low, high));
    }
  }
  for (int s = 0; s < 16; ++s) {
    k->sc[s] = b.scales[s];
    k->mn[s] = 0;
  }
  k->d = f16(b.d);
  k->dmin = 0.0f;
}

template <typename WBlock>
constexpr int kCodeOffset = std::is_same_v<WBlock, BlockQ6_K> ? 32 : std::is_same_v<WBlock, BlockQ3_K> ? 4 : 0;
template <typename WBlock>
constexpr int kSub = std::is_same_v<WBlock, BlockQ4_K> || std::is_same_v<WBlock, BlockQ5_K> ? 32 : 16;

template <typename WBlock>
void tile_k(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr int kSubLen = kSub<WBlock>;
  constexpr int kNSub = kQK_K / kSubLen;
  float sum[kRowTile] = {};
  KDecoded k;
  __m256i scales[8];  // per 32-value chunk: its sub-block scale(s) as s16 lanes
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    decode(load<WBlock>(w + b * static_cast<int64_t>(sizeof(WBlock))), &k);
    for (int c = 0; c < 8; ++c) {
      if constexpr (kSubLen == 32)
        scales[c] = _mm256_set1_epi16(static_cast<int16_t>(k.sc[c]));
      else
        scales[c] = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(k.sc[2 * c + 1])),
                                     _mm_set1_epi16(static_cast<int16_t>(k.sc[2 * c])));
    }
    for (int r = 0; r < rows; ++r) {
      const std::byte* ap = a + r * a_stride + b * static_cast<int64_t>(sizeof(BlockQ8_K));
      const auto* q = reinterpret_cast<const int8_t*>(ap + offsetof(BlockQ8_K, qs));
      int16_t bsums[16];
      std::memcpy(bsums, ap + offsetof(BlockQ8_K, bsums), sizeof(bsums));
      __m256i acc = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const __m256i p16 = _mm256_maddubs_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(k.u + 32 * c)),
                                                 loadu(q + 32 * c));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p16, scales[c]));
      }
      int isum = hsum_i32(acc);
      int msum = 0, osum = 0;
      for (int s = 0; s < kNSub; ++s) {
        int asum = bsums[s * kSubLen / 16];
        if constexpr (kSubLen == 32) asum += bsums[s * kSubLen / 16 + 1];
        msum += k.mn[s] * asum;
        osum += k.sc[s] * asum;
      }
      isum -= kCodeOffset<WBlock> * osum;
      float da;
      std::memcpy(&da, ap, 4);
      sum[r] += da * (k.d * static_cast<float>(isum) - k.dmin * static_cast<float>(msum));
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = sum[r];
}

// ---------------------------------------------------------------------------------------------
// 16/32-bit floats: 4 x 8 float32 accumulators with FMA, then a fixed reduction.

template <DType kType>
__m256 load8(const std::byte* p) {
  if constexpr (kType == DType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (kType == DType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {  // BF16: the top half of a float32
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  }
}

template <DType kType>
float load1(const std::byte* p) {
  uint16_t h;
  if constexpr (kType == DType::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  } else {
    std::memcpy(&h, p, 2);
    return kType == DType::F16 ? f16(h) : bf16_to_f32(h);
  }
}

template <DType kType>
void tile_float(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr int64_t kElem = kType == DType::F32 ? 4 : 2;
  for (int r = 0; r < rows; ++r) {
    const std::byte* ar = a + r * a_stride;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm256_fmadd_ps(load8<kType>(w + (i + 8 * j) * kElem), load8<kType>(ar + (i + 8 * j) * kElem), acc[j]);
    for (; i + 8 <= n; i += 8)
      acc[0] = _mm256_fmadd_ps(load8<kType>(w + i * kElem), load8<kType>(ar + i * kElem), acc[0]);
    float s = hsum_f32(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; ++i) s += load1<kType>(w + i * kElem) * load1<kType>(ar + i * kElem);
    out[r] = s;
  }
}

}  // namespace

TileFn tile_fn_avx2(DType weight) {
  switch (weight) {
    case DType::F32: return tile_float<DType::F32>;
    case DType::F16: return tile_float<DType::F16>;
    case DType::BF16: return tile_float<DType::BF16>;
    case DType::Q4_0: return tile_small<BlockQ4_0>;
    case DType::Q4_1: return tile_small<BlockQ4_1>;
    case DType::Q5_0: return tile_small<BlockQ5_0>;
    case DType::Q5_1: return tile_small<BlockQ5_1>;
    case DType::Q8_0: return tile_small<BlockQ8_0>;
    case DType::Q2_K: return tile_k<BlockQ2_K>;
    case DType::Q3_K: return tile_k<BlockQ3_K>;
    case DType::Q4_K: return tile_k<BlockQ4_K>;
    case DType::Q5_K: return tile_k<BlockQ5_K>;
    case DType::Q6_K: return tile_k<BlockQ6_K>;
    default: return nullptr;
  }
}

}  // namespace gemrt::quant::detail
