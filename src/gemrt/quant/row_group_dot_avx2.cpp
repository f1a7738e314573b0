// AVX2 + FMA + F16C kernels of RowGroupDot (compiled with -mavx2 -mfma -mf16c
// -ffp-contract=off; called only on CPUs that have them). Float lane j of every accumulator
// belongs to weight row j of the group, so each float step is one vector instruction for 8
// outputs, and the arithmetic is exactly the header's (bit-identical to the scalar kernels).
//
// Integer sums: per weight row, _mm256_maddubs_epi16 (unsigned codes x signed activations,
// pairs to s16: at most 2 * 15 * 127) then _mm256_madd_epi16 with ones (to s32); the 8 rows'
// lane vectors are then reduced to one vector of 8 row sums (reduce_rows). Q4_0's offset of 8
// comes out as 8 * sum(a) once per block; Q4_K's sub-block scales multiply the reduced sums.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "gemrt/quant/avx2_common.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/row_group_dot.h"

namespace gemrt::quant::detail {
namespace {

// Activation rows whose accumulators live on the stack at once; each weight block is decoded once
// per tile, so larger tiles amortize the decoding (Q4_K: codes transposed, scales unpacked).
constexpr int kRowTile = 64;

using namespace avx2;

// Lane j of the result = the sum of the 8 lanes of p[j].
__m256i reduce_rows(const __m256i* p) {
  const __m256i t0 = _mm256_hadd_epi32(p[0], p[1]);
  const __m256i t1 = _mm256_hadd_epi32(p[2], p[3]);
  const __m256i t2 = _mm256_hadd_epi32(p[4], p[5]);
  const __m256i t3 = _mm256_hadd_epi32(p[6], p[7]);
  const __m256i u0 = _mm256_hadd_epi32(t0, t1);  // [rows 0-3 low halves | rows 0-3 high halves]
  const __m256i u1 = _mm256_hadd_epi32(t2, t3);  // the same for rows 4-7
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

// Sum of the 32 signed bytes of v, broadcast to 8 s32 lanes.
__m256i byte_sum(__m256i v) {
  __m256i s = dot_u8s8(_mm256_set1_epi8(1), v);
  s = _mm256_add_epi32(s, _mm256_permute2x128_si256(s, s, 0x01));
  s = _mm256_add_epi32(s, _mm256_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm256_add_epi32(s, _mm256_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
}

// 8 f16 scales, one per weight row, at byte offset `field` of each row's block `blk`.
__m256 row_scales(const std::byte* w, int64_t w_stride, int64_t blk_offset, size_t field) {
  alignas(16) uint16_t h[kRowGroup];
  for (int j = 0; j < kRowGroup; ++j) h[j] = load_unaligned<uint16_t>(w + j * w_stride + blk_offset + static_cast<int64_t>(field));
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
}

// One activation row (decode): weight row after weight row, one sequential stream with prefetch,
// the same per-row operations as the grouped kernel below (isum per block, one FMA per block).
void q4_0_single_rows(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, float* out) {
  constexpr int64_t kWB = sizeof(BlockQ4_0), kAB = sizeof(BlockQ8_0);
  const __m256i m15 = _mm256_set1_epi8(15);
  const int64_t nb = n / kQK;
  for (int j = 0; j < kRowGroup; ++j) {
    float acc = 0.0f;
    // Eight blocks' lane vectors reduced together (one transpose-reduction instead of eight
    // horizontal sums), then folded block by block in order.
    for (int64_t b0 = 0; b0 < nb; b0 += kRowGroup) {
      const int m = static_cast<int>(std::min<int64_t>(kRowGroup, nb - b0));
      __m256i lanes[kRowGroup];
      alignas(16) uint16_t dw[kRowGroup], da[kRowGroup];
      for (int k = 0; k < kRowGroup; ++k) {
        if (k >= m) {
          lanes[k] = _mm256_setzero_si256();
          dw[k] = da[k] = 0;
          continue;
        }
        const std::byte* blk = w + j * w_stride + (b0 + k) * kWB;
        const std::byte* ab = a + (b0 + k) * kAB;
        prefetch_ahead(blk, kWB);
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(BlockQ4_0, qs)));
        const __m256i codes = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m15);
        const __m256i av = loadu(ab + offsetof(BlockQ8_0, qs));
        lanes[k] = _mm256_sub_epi32(dot_u8s8(codes, av), _mm256_slli_epi32(dot_u8s8(_mm256_set1_epi8(1), av), 3));
        dw[k] = load_unaligned<uint16_t>(blk);
        da[k] = load_unaligned<uint16_t>(ab);
      }
      alignas(32) int32_t isum[kRowGroup];
      alignas(32) float scale[kRowGroup];
      _mm256_store_si256(reinterpret_cast<__m256i*>(isum), reduce_rows(lanes));
      _mm256_store_ps(scale, _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dw))),
                                           _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(da)))));
      for (int k = 0; k < m; ++k) acc = std::fma(static_cast<float>(isum[k]), scale[k], acc);
    }
    out[j] = acc;
  }
}

void group_q4_0(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride, int64_t rows,
                FoldGrain, float* out, int64_t out_stride) {
  constexpr int64_t kWB = sizeof(BlockQ4_0), kAB = sizeof(BlockQ8_0);
  const __m256i m15 = _mm256_set1_epi8(15);
  if (rows < 4) {  // decode and short tails: one row stream at a time
    for (int64_t r = 0; r < rows; ++r) q4_0_single_rows(n, w, w_stride, a + r * a_stride, out + r * out_stride);
    return;
  }
  for (int64_t r0 = 0; r0 < rows; r0 += kRowTile) {
    const int tile = static_cast<int>(std::min<int64_t>(kRowTile, rows - r0));
    __m256 acc[kRowTile];
    for (int r = 0; r < tile; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK; ++b) {
      __m256i codes[kRowGroup];  // unsigned 0..15
      for (int j = 0; j < kRowGroup; ++j) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j * w_stride + b * kWB + offsetof(BlockQ4_0, qs)));
        codes[j] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m15);
      }
      const __m256 dw = row_scales(w, w_stride, b * kWB, offsetof(BlockQ4_0, d));
      for (int r = 0; r < tile; ++r) {
        const std::byte* ab = a + (r0 + r) * a_stride + b * kAB;
        const __m256i av = loadu(ab + offsetof(BlockQ8_0, qs));
        __m256i p[kRowGroup];
        for (int j = 0; j < kRowGroup; ++j) p[j] = dot_u8s8(codes[j], av);
        const __m256i isum = _mm256_sub_epi32(reduce_rows(p), _mm256_slli_epi32(byte_sum(av), 3));
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(load_unaligned<uint16_t>(ab))));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc[r]);
      }
    }
    for (int r = 0; r < tile; ++r) _mm256_storeu_ps(out + (r0 + r) * out_stride, acc[r]);
  }
}

// FoldGrain::Single for one activation row, weight row after weight row: the same operations as
// the grouped kernel, but reading the 8 rows one after another (a single sequential stream, which
// is what a memory-bound decode step wants) instead of 8 interleaved streams.
void q4_k_single_rows(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, float* out) {
  constexpr int64_t kWB = sizeof(BlockQ4_K), kAB = sizeof(BlockQ8_K);
  const __m256i m15 = _mm256_set1_epi8(15);
  for (int j = 0; j < kRowGroup; ++j) {
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const std::byte* blk = w + j * w_stride + b * kWB;
      const std::byte* ab = a + b * kAB;
      prefetch_ahead(blk, kWB);
      // The 8 six-bit scales and mins at once: bytes 0-7 of u = scales, bytes 8-15 = mins.
      uint32_t u[4];
      std::memcpy(u, blk + offsetof(BlockQ4_K, scales), 12);
      constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
      u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
      const uint32_t mins_lo = u[1] & kLow6;
      u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
      u[2] = mins_lo;
      u[0] &= kLow6;
      uint8_t sm[16];
      std::memcpy(sm, u, 16);
      alignas(32) int16_t mn16[16];
      for (int s = 0; s < 8; ++s) mn16[2 * s] = mn16[2 * s + 1] = sm[8 + s];
      __m256i lanes = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const int sc0 = sm[2 * c], sc1 = sm[2 * c + 1];
        const __m256i q = loadu(blk + offsetof(BlockQ4_K, qs) + 32 * c);
        const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, m15), loadu(ab + offsetof(BlockQ8_K, qs) + 64 * c));
        const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m15),
                                                loadu(ab + offsetof(BlockQ8_K, qs) + 64 * c + 32));
        lanes = _mm256_add_epi32(lanes, _mm256_madd_epi16(p0, _mm256_set1_epi16(static_cast<int16_t>(sc0))));
        lanes = _mm256_add_epi32(lanes, _mm256_madd_epi16(p1, _mm256_set1_epi16(static_cast<int16_t>(sc1))));
      }
      const int isum = hsum_i32(lanes);
      const int msum = hsum_i32(_mm256_madd_epi16(loadu(ab + offsetof(BlockQ8_K, bsums)),
                                                  _mm256_load_si256(reinterpret_cast<const __m256i*>(mn16))));
      const float da = load_unaligned<float>(ab);
      const float scale = _cvtsh_ss(load_unaligned<uint16_t>(blk + offsetof(BlockQ4_K, d))) * da;
      const float scale_min = _cvtsh_ss(load_unaligned<uint16_t>(blk + offsetof(BlockQ4_K, dmin))) * da;
      acc = std::fma(static_cast<float>(isum), scale, acc);
      acc_min = std::fma(static_cast<float>(msum), scale_min, acc_min);
    }
    out[j] = acc - acc_min;
  }
}

// One super-block of the group decoded for products with the rows in the lanes: codes[s][t] holds,
// in bytes 4j..4j+3, the unsigned codes 4t..4t+3 of sub-block s of weight row j, so one
// maddubs against 4 activation bytes broadcast gives every row's partial sum in its own lane and
// no per-row reduction is needed. sc16[s]: both int16 of lane j = row j's scale of sub-block s
// (madd applies the scale while it widens); mn16[c]: lane j = row j's mins of sub-blocks 2c, 2c+1.
struct Q4KGroupBlock {
  __m256i codes[8][8];
  __m256i sc16[8];
  __m256i mn16[4];
};

void decode_q4_k_group(const std::byte* w, int64_t w_stride, int64_t blk_offset, Q4KGroupBlock* g) {
  const __m256i m15 = _mm256_set1_epi8(15);
  __m256i rows[8][kRowGroup];  // rows[s][j]: sub-block s of row j, 32 codes
  alignas(32) int16_t sc[8][16], mn[4][16];
  for (int j = 0; j < kRowGroup; ++j) {
    const std::byte* blk = w + j * w_stride + blk_offset;
    uint8_t scales[kKScaleBytes];
    std::memcpy(scales, blk + offsetof(BlockQ4_K, scales), sizeof scales);
    for (int s = 0; s < 8; ++s) {
      int scv, mnv;
      k_scale_min(scales, s, &scv, &mnv);
      sc[s][2 * j] = sc[s][2 * j + 1] = static_cast<int16_t>(scv);
      mn[s / 2][2 * j + s % 2] = static_cast<int16_t>(mnv);
    }
    for (int c = 0; c < 4; ++c) {
      const __m256i q = loadu(blk + offsetof(BlockQ4_K, qs) + 32 * c);
      rows[2 * c][j] = _mm256_and_si256(q, m15);
      rows[2 * c + 1][j] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m15);
    }
  }
  for (int s = 0; s < 8; ++s) {
    transpose_8x8_epi32(rows[s], g->codes[s]);
    g->sc16[s] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc[s]));
  }
  for (int c = 0; c < 4; ++c) g->mn16[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(mn[c]));
}

// Sub-block s of every row against activation codes q[0..32): lane j = sc_s(j) * sum_i u_i q_i.
// The 8 maddubs results are summed as int16 before widening: each int16 lane then holds 16
// products of a code (<= 15) and an activation (|q| <= 127, Q8_K), at most 30480 < 2^15.
__m256i q4_k_sub_block(const Q4KGroupBlock& g, int s, const std::byte* q) {
  return _mm256_madd_epi16(lane_products16(g.codes[s], q, 8), g.sc16[s]);
}

void group_q4_k(int64_t n, const std::byte* w, int64_t w_stride, const std::byte* a, int64_t a_stride, int64_t rows,
                FoldGrain grain, float* out, int64_t out_stride) {
  constexpr int64_t kWB = sizeof(BlockQ4_K), kAB = sizeof(BlockQ8_K);
  if (grain == FoldGrain::Single) {
    for (int64_t r = 0; r < rows; ++r) q4_k_single_rows(n, w, w_stride, a + r * a_stride, out + r * out_stride);
    return;
  }
  // FoldGrain::Batched: integer sums folded every 64 values (2 sub-blocks).
  Q4KGroupBlock g;
  for (int64_t r0 = 0; r0 < rows; r0 += kRowTile) {
    const int tile = static_cast<int>(std::min<int64_t>(kRowTile, rows - r0));
    __m256 acc[kRowTile], acc_min[kRowTile];
    for (int r = 0; r < tile; ++r) acc[r] = acc_min[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      decode_q4_k_group(w, w_stride, b * kWB, &g);
      const __m256 dw = row_scales(w, w_stride, b * kWB, offsetof(BlockQ4_K, d));
      const __m256 dminw = row_scales(w, w_stride, b * kWB, offsetof(BlockQ4_K, dmin));
      for (int r = 0; r < tile; ++r) {
        const std::byte* ab = a + (r0 + r) * a_stride + b * kAB;
        const std::byte* q = ab + offsetof(BlockQ8_K, qs);
        const __m256 da = _mm256_set1_ps(load_unaligned<float>(ab));
        const __m256 scale = _mm256_mul_ps(dw, da), scale_min = _mm256_mul_ps(dminw, da);
        int16_t bsums[kQK_K / 16];
        std::memcpy(bsums, ab + offsetof(BlockQ8_K, bsums), sizeof bsums);
        for (int c = 0; c < 4; ++c) {
          const __m256i isum = _mm256_add_epi32(q4_k_sub_block(g, 2 * c, q + 64 * c), q4_k_sub_block(g, 2 * c + 1, q + 64 * c + 32));
          // Sub-block sums of the activation codes (|sum| <= 32 * 127: int16), paired as mn16[c].
          const __m256i msum = _mm256_madd_epi16(
              g.mn16[c], pair_dword(bsums[4 * c] + bsums[4 * c + 1], bsums[4 * c + 2] + bsums[4 * c + 3]));
          acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc[r]);
          acc_min[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), scale_min, acc_min[r]);
        }
      }
    }
    for (int r = 0; r < tile; ++r) _mm256_storeu_ps(out + (r0 + r) * out_stride, _mm256_sub_ps(acc[r], acc_min[r]));
  }
}

}  // namespace

RowGroupDot::Fn row_group_fn_avx2(DType weight) {
  switch (weight) {
    case DType::Q4_0: return group_q4_0;
    case DType::Q4_K: return group_q4_k;
    default: return nullptr;
  }
}

}  // namespace gemrt::quant::detail
