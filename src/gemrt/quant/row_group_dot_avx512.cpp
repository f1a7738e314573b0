// AVX-512 (F, BW, VL, DQ, VNNI) kernel of row_group_dot: Q4_K at FoldGrain::Batched for two
// groups (16 weight rows) at a time, rows in the 16 lanes. Compiled with those flags and called
// only on CPUs that have them.
//
// The operations per output are the header's, as in the AVX2 group kernel: per 64 values the exact
// integer sums isum and msum, then acc = fma(float(isum), dw * da, acc) and acc_min =
// fma(float(msum), dminw * da, acc_min). Lane j computes exactly those steps for weight row j, so
// the bits equal the AVX2 kernel's group by group. The integer products are the AVX2 kernel's
// (maddubs of 4 codes of every row against 4 broadcast activation bytes, a sub-block's 8 summed in
// int16: 8 * 2 * 15 * 127 < 2^15); vpdpwssd scales and widens them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gemrt/quant/avx512_common.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/row_group_dot.h"

namespace gemrt::quant::detail {
namespace {

using namespace avx512;

// One super-block of 16 weight rows, rows in the lanes.
struct Q4KGroup16 {
  alignas(64) int32_t codes[8][8][16];  // [s][t][j]: row j's codes 4t .. 4t + 3 of sub-block s (0..15)
  alignas(64) uint32_t sc[8][16];       // [s][j]: row j's scale of sub-block s, in both int16 halves
  alignas(64) uint32_t mn[4][16];       // [c][j]: row j's mins of sub-blocks 2c (low int16), 2c + 1
  alignas(64) float d[16], dmin[16];
};

void decode_q4_k_group16(const std::byte* w, int64_t w_stride, int64_t blk_offset, Q4KGroup16* g) {
  const std::byte* blk[16];
  for (int j = 0; j < 16; ++j) blk[j] = w + j * w_stride + blk_offset;
  const __m256i m15 = _mm256_set1_epi8(15);
  for (int s = 0; s < 8; ++s) {  // sub-block s: nibble s % 2 of qs[32 (s / 2) + l]
    __m256i rows[16];
    for (int j = 0; j < 16; ++j)
      rows[j] = _mm256_and_si256(_mm256_srli_epi16(loadu256(blk[j] + offsetof(BlockQ4_K, qs) + 32 * (s / 2)), 4 * (s % 2)),
                                 m15);
    transpose_16x8(rows, reinterpret_cast<__m512i*>(g->codes[s]));
  }
  for (int j = 0; j < 16; ++j) {
    uint8_t sm[16];
    q4_k_scales_mins(blk[j] + offsetof(BlockQ4_K, scales), sm);
    for (int s = 0; s < 8; ++s) g->sc[s][j] = sm[s] * 0x10001u;
    for (int c = 0; c < 4; ++c) g->mn[c][j] = sm[8 + 2 * c] | uint32_t{sm[8 + 2 * c + 1]} << 16;
    g->d[j] = f16(load_u16(blk[j] + offsetof(BlockQ4_K, d)));
    g->dmin[j] = f16(load_u16(blk[j] + offsetof(BlockQ4_K, dmin)));
  }
}

// RN activation rows (their super-block at a, a_stride bytes apart) against a decoded group; each
// code vector loaded once serves all RN rows.
template <int RN>
void q4_k_group_rows(const Q4KGroup16* g, const std::byte* a, int64_t a_stride, __m512* acc, __m512* acc_min) {
  for (int c = 0; c < 4; ++c) {
    __m512i isum[RN];
    for (int i = 0; i < RN; ++i) isum[i] = _mm512_setzero_si512();
    for (int s = 2 * c; s < 2 * c + 2; ++s) {
      __m512i p16[RN];
      for (int t = 0; t < 8; ++t) {
        const __m512i codes = load512(g->codes[s][t]);
        for (int i = 0; i < RN; ++i) {
          const __m512i p = _mm512_maddubs_epi16(codes, broadcast_dword(a + i * a_stride + offsetof(BlockQ8_K, qs) + 32 * s + 4 * t));
          p16[i] = t == 0 ? p : _mm512_add_epi16(p16[i], p);
        }
      }
      const __m512i sc = load512(g->sc[s]);
      for (int i = 0; i < RN; ++i) isum[i] = _mm512_dpwssd_epi32(isum[i], p16[i], sc);
    }
    const __m512i mn = load512(g->mn[c]);
    for (int i = 0; i < RN; ++i) {
      const std::byte* ab = a + i * a_stride;
      int16_t bsums[4];
      std::memcpy(bsums, ab + offsetof(BlockQ8_K, bsums) + 8 * c, sizeof bsums);
      // Sub-block sums of the activation codes (|sum| <= 32 * 127: int16), paired as mn.
      const __m512i msum = _mm512_madd_epi16(mn, pair_dword(bsums[0] + bsums[1], bsums[2] + bsums[3]));
      float da;
      std::memcpy(&da, ab, 4);
      const __m512 dav = _mm512_set1_ps(da);
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(_mm512_load_ps(g->d), dav), acc[i]);
      acc_min[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(_mm512_load_ps(g->dmin), dav), acc_min[i]);
    }
  }
}

void group16_q4_k(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride, int64_t rows,
                  FoldGrain grain, float* out, int64_t out_stride) {
  constexpr int64_t kWB = sizeof(BlockQ4_K), kAB = sizeof(BlockQ8_K);
  if (grain == FoldGrain::Single) {  // the GEMV grain (a few rows at most): the AVX2 kernel, group by group
    const RowGroupDot::Fn fn = row_group_fn_avx2(DType::Q4_K);
    fn(n, w, w_stride, a, a_stride, rows, grain, out, out_stride);
    fn(n, w + kRowGroup * w_stride, w_stride, a, a_stride, rows, grain, out + kRowGroup, out_stride);
    return;
  }
  constexpr int kTile = 64;  // activation rows per decoded super-block (the decoding is amortized over them)
  thread_local Scratch group_buf;
  Q4KGroup16* g = group_buf.get<Q4KGroup16>(1);
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int tile = static_cast<int>(std::min<int64_t>(kTile, rows - r0));
    __m512 acc[kTile], acc_min[kTile];
    for (int r = 0; r < tile; ++r) acc[r] = acc_min[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      decode_q4_k_group16(w, w_stride, b * kWB, g);
      const std::byte* ab = a + r0 * a_stride + b * kAB;
      int r = 0;
      for (; r + 4 <= tile; r += 4) q4_k_group_rows<4>(g, ab + r * a_stride, a_stride, acc + r, acc_min + r);
      for (; r < tile; ++r) q4_k_group_rows<1>(g, ab + r * a_stride, a_stride, acc + r, acc_min + r);
    }
    for (int r = 0; r < tile; ++r) _mm512_storeu_ps(out + (r0 + r) * out_stride, _mm512_sub_ps(acc[r], acc_min[r]));
  }
}

}  // namespace

RowGroupDot::Fn row_group_pair_fn_avx512(DType weight) { return weight == DType::Q4_K ? group16_q4_k : nullptr; }

}  // namespace gemrt::quant::detail
