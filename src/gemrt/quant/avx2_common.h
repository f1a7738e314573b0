// Small AVX2 building blocks shared by the quant/ kernels. Include only from files compiled with
// -mavx2 -mfma -mf16c, whose functions run after a CPU check (quant::dot_isa_available).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gemrt::quant::detail::avx2 {

inline __m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 8 s32 partial sums of u[i] * s[i] over 32 byte pairs (u unsigned, s signed): lane L holds
// bytes 4L .. 4L + 3, the lane layout of llama.cpp's kernels.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// The same for two signed operands (sign trick: |w| * (a * sign w)).
inline __m256i dot_s8s8(__m256i w, __m256i a) { return dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)); }

// Sum of the 8 s32 lanes (exact: any order gives the same integer).
inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Sum of the 8 float lanes in llama.cpp's order: t_L = a_L + a_{L+4}, (t_0 + t_2) + (t_1 + t_3).
inline float hsum_f32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Rows r[0..8) of 8 dwords each, transposed: out[t] holds dword t of every row, row j in lane j.
// The row-group kernels use it to put 8 weight rows' codes side by side (4 codes of each row per
// dword), so that one maddubs against 4 broadcast activation bytes sums for all 8 rows at once.
inline void transpose_8x8_epi32(const __m256i* r, __m256i* out) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3, then rows 4-7
    u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
    u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
    out[4 + i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
  }
}

// 4 bytes at p broadcast to every dword.
inline __m256i broadcast_dword(const std::byte* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Sum as int16 of `count` maddubs products of rows-in-lanes codes codes[0..count) (see
// transpose_8x8_epi32) with the 4 activation bytes q + 4t broadcast; the caller guarantees that
// count products per int16 lane fit (2 * count * max code * 127 < 2^15).
inline __m256i lane_products16(const __m256i* codes, const std::byte* q, int count) {
  __m256i s16 = _mm256_maddubs_epi16(codes[0], broadcast_dword(q));
  for (int t = 1; t < count; ++t) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(codes[t], broadcast_dword(q + 4 * t)));
  return s16;
}

// Two int16 values as the two halves of every dword (madd's pairs).
inline __m256i pair_dword(int lo, int hi) {
  return _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint16_t>(lo) | (uint32_t{static_cast<uint16_t>(hi)} << 16)));
}

// One-row (decode) kernels are memory-bound: they prefetch the weight bytes this far ahead of the
// block they compute (measured on the 1B-shape files: +25% decode speed at 2 KiB, no gain beyond).
inline constexpr int64_t kPrefetchAhead = 2048;

// Prefetches the cache lines of [p + kPrefetchAhead, p + kPrefetchAhead + bytes).
inline void prefetch_ahead(const std::byte* p, int64_t bytes) {
  for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchAhead + o, _MM_HINT_T0);
}

// Part `part` of `parts` of the cache lines of [p, p + bytes): a kernel that computes on one weight
// panel while the next one's bytes come from memory spreads the next panel's prefetches over its
// steps (a few lines per step, so the requests do not overflow the miss buffers).
inline void prefetch_part(const std::byte* p, int64_t bytes, int64_t part, int64_t parts) {
  const int64_t lines = (bytes + 63) / 64;
  for (int64_t l = lines * part / parts; l < lines * (part + 1) / parts; ++l)
    _mm_prefetch(reinterpret_cast<const char*>(p) + 64 * l, _MM_HINT_T0);
}

}  // namespace gemrt::quant::detail::avx2
