// AVX2 + FMA + F16C tile kernels of vec_dot (compiled with -mavx2 -mfma -mf16c; called only on
// CPUs that have them). See vec_dot_kernels.h for the contract. Integer block sums are exact;
// they are combined in float32 per vector lane: each block's 8 partial integer sums are scaled
// and accumulated with FMA into 8 float lanes (two accumulators, blocks alternating), reduced
// once at the end of the row. No per-block horizontal sum, which is what makes these kernels
// fast; the price is a float32 summation order different from the scalar reference's.
//
// Integer products use _mm256_maddubs_epi16 (u8 x s8 pairs summed to s16) then
// _mm256_madd_epi16 (s16 pairs summed to s32). No s16 lane can overflow: a pair is at most
// 2 * 255 * 127 for u8 codes (codes here are <= 63, so <= 16002) and signed codes go through
// the sign trick (|w| as u8 times sign(w) * a, |a| <= 127).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "gemrt/core/half.h"
#include "gemrt/quant/avx2_common.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/vec_dot_kernels.h"

namespace gemrt::quant::detail {
namespace {

using namespace avx2;

float f16(uint16_t h) { return _cvtsh_ss(h); }

// 32 4-bit codes of a Q4_0 / Q4_1 / Q5_0 / Q5_1 block: values 0-15 from the low nibbles,
// 16-31 from the high nibbles of the 16 code bytes.
// (The 16 bytes go to both halves in one load; the upper half is shifted right by 4 with a
// per-lane shift: 3 instructions instead of 5.)
__m256i nibbles_32(const uint8_t* qs) {
  const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(15));
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

uint16_t load_u16(const std::byte* p) { return load_unaligned<uint16_t>(p); }

// Q4_0 / Q4_1 / Q5_0 / Q5_1: the 32 unsigned codes of block `wp` (0..15 or 0..31; a value is
// code - 8 / code - 16 for Q4_0 / Q5_0, d * code + m for Q4_1 / Q5_1).
template <typename WBlock>
__m256i unsigned_codes(const std::byte* wp) {
  const auto* qs = reinterpret_cast<const uint8_t*>(wp + offsetof(WBlock, qs));
  if constexpr (std::is_same_v<WBlock, BlockQ4_0> || std::is_same_v<WBlock, BlockQ4_1>) {
    return nibbles_32(qs);
  } else {
    const auto* qh = reinterpret_cast<const uint8_t*>(wp + offsetof(WBlock, qh));
    return _mm256_or_si256(nibbles_32(qs), fifth_bits_32(qh));
  }
}

// The 32 codes of block `wp` of a 32-value format: signed with the offset removed, or (Q4_1,
// Q5_1) unsigned.
template <typename WBlock>
__m256i small_codes(const std::byte* wp) {
  if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
    return loadu(wp + offsetof(BlockQ8_0, qs));
  } else if constexpr (std::is_same_v<WBlock, BlockQ4_0>) {
    return _mm256_sub_epi8(unsigned_codes<WBlock>(wp), _mm256_set1_epi8(8));
  } else if constexpr (std::is_same_v<WBlock, BlockQ5_0>) {
    return _mm256_sub_epi8(unsigned_codes<WBlock>(wp), _mm256_set1_epi8(16));
  } else {
    return unsigned_codes<WBlock>(wp);
  }
}

// Per block: 8 integer lanes, scaled by dw * da and accumulated into float lanes (offsets += mw * sa
// for Q4_1 / Q5_1 in a scalar).
template <typename WBlock>
void tile_small(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr bool kOffset = std::is_same_v<WBlock, BlockQ4_1> || std::is_same_v<WBlock, BlockQ5_1>;
  using ABlock = std::conditional_t<kOffset, BlockQ8_1, BlockQ8_0>;
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(ABlock);
  const int64_t nb = n / kQK;
  const auto dot = [](__m256i c, __m256i q) { return kOffset ? dot_u8s8(c, q) : dot_s8s8(c, q); };
  if (rows == 1) {  // decode: each block's codes go straight into its product
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int64_t blk = 0; blk < nb; ++blk) {
      const std::byte* wp = w + blk * kWB;
      const std::byte* ap = a + blk * kAB;
      prefetch_ahead(wp, 1);
      const __m256i p = dot(small_codes<WBlock>(wp), loadu(ap + offsetof(ABlock, qs)));
      const __m256 d = _mm256_set1_ps(f16(load_u16(wp)) * f16(load_u16(ap)));
      acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
      if constexpr (kOffset) offsets += f16(load_u16(wp + offsetof(WBlock, m))) * f16(load_u16(ap + offsetof(BlockQ8_1, s)));
    }
    out[0] = hsum_f32(acc) + offsets;
    return;
  }
  // Several rows: decode the weight row once (codes and scales, a few KiB in L1), then run the
  // rows against it four at a time with their accumulators in registers. Per row, the float
  // steps are those of the one-row path above, in the same order.
  thread_local std::vector<uint8_t> codes;  // 32 code bytes per block
  thread_local std::vector<float> dws, mws;
  if (dws.size() < static_cast<size_t>(nb)) {
    codes.resize(static_cast<size_t>(32 * nb));
    dws.resize(static_cast<size_t>(nb));
    mws.resize(static_cast<size_t>(nb));
  }
  for (int64_t b = 0; b < nb; ++b) {
    const std::byte* wp = w + b * kWB;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes.data() + 32 * b), small_codes<WBlock>(wp));
    dws[static_cast<size_t>(b)] = f16(load_u16(wp));
    if constexpr (kOffset) mws[static_cast<size_t>(b)] = f16(load_u16(wp + offsetof(WBlock, m)));
  }
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    float offsets[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const std::byte* ar = a + r * a_stride;
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i c = loadu(codes.data() + 32 * b);
      const float dw = dws[static_cast<size_t>(b)];
      for (int i = 0; i < 4; ++i) {
        const std::byte* ap = ar + i * a_stride + b * kAB;
        const __m256i p = dot(c, loadu(ap + offsetof(ABlock, qs)));
        acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16(load_u16(ap))), _mm256_cvtepi32_ps(p), acc[i]);
        if constexpr (kOffset) offsets[i] += mws[static_cast<size_t>(b)] * f16(load_u16(ap + offsetof(BlockQ8_1, s)));
      }
    }
    for (int i = 0; i < 4; ++i) out[r + i] = hsum_f32(acc[i]) + offsets[i];
  }
  for (; r < rows; ++r) {
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const std::byte* ap = a + r * a_stride + b * kAB;
      const __m256i p = dot(loadu(codes.data() + 32 * b), loadu(ap + offsetof(ABlock, qs)));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(dws[static_cast<size_t>(b)] * f16(load_u16(ap))), _mm256_cvtepi32_ps(p), acc);
      if constexpr (kOffset) offsets += mws[static_cast<size_t>(b)] * f16(load_u16(ap + offsetof(BlockQ8_1, s)));
    }
    out[r] = hsum_f32(acc) + offsets;
  }
}

// Block kernel for the 32-value formats: kSmallJN weight rows decoded into a panel (|code| and code,
// or unsigned codes, plus scales) and kSmallRN activation rows at a time, every product's float
// lanes in registers; the activation scales are converted once per call. Per (weight row,
// activation row) the float steps are tile_small's, in the same order.
template <typename WBlock>
struct SmallBlockData {
  static constexpr bool kOffset = std::is_same_v<WBlock, BlockQ4_1> || std::is_same_v<WBlock, BlockQ5_1>;
  // Q4_0 / Q5_0: the panel keeps the unsigned codes u = code + kBias (0..15 / 0..31), so a block
  // product needs no sign trick: lanes(u . a) - kBias * lanes(a) equals lanes(code . a) exactly
  // (integers; no s16 pair can saturate: 31 * 127 * 2 < 32767). kBias * lanes(a) is computed once
  // per activation block. This frees the vector registers the sign trick needs, so the
  // accumulators of a register tile stay in registers.
  static constexpr int kBias = std::is_same_v<WBlock, BlockQ4_0> ? 8 : std::is_same_v<WBlock, BlockQ5_0> ? 16 : 0;
  using ABlock = std::conditional_t<kOffset, BlockQ8_1, BlockQ8_0>;
  int64_t nb;
  const float* da;        // [rows][nb] activation scales
  const uint8_t* aq;      // [rows][nb][32] activation codes, each block's 32 on a 32-byte boundary
  const float* sa;        // [rows][nb] activation block sums (offset formats)
  const int32_t* bias;    // [rows][nb][8] kBias * lanes(a) (kBias != 0)
  const uint8_t* mag;     // [nb][JN][32] |codes| (offset formats and kBias != 0: the unsigned codes)
  const uint8_t* sgn;     // [nb][JN][32] signed codes (Q8_0 only)
  const float* dw;        // [JN][nb8] weight scales, rows padded to nb8 = nb rounded up to 8
  const float* mw;        // [nb][JN] weight offsets (offset formats)
};

// One activation row against many weight rows (decode) for Q4_0 / Q5_0 / Q8_0: the activation's
// block scales as float32 and (Q4_0 / Q5_0) its bias lanes kBias * lanes(a) are computed once per
// call, so each weight block needs no sign trick, no offset subtraction from its codes and one f16
// conversion instead of two; the weight rows stream one after another with prefetch, as
// tile_small's one-row path, whose float steps each row repeats exactly.
template <typename WBlock>
void stream_small(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a, int64_t,
                  int64_t, float* out, int64_t) {
  constexpr int kBias = SmallBlockData<WBlock>::kBias;
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_0);
  const int64_t nb = n / kQK;
  struct alignas(32) Lanes {
    int32_t v[8];
  };
  thread_local std::vector<float> da;
  thread_local std::vector<Lanes> bias;
  if (da.size() < static_cast<size_t>(nb)) {
    da.resize(static_cast<size_t>(nb));
    bias.resize(static_cast<size_t>(nb));
  }
  for (int64_t b = 0; b < nb; ++b) {
    const std::byte* ap = a + b * kAB;
    da[static_cast<size_t>(b)] = f16(load_u16(ap));
    if constexpr (kBias != 0)
      _mm256_store_si256(reinterpret_cast<__m256i*>(bias[static_cast<size_t>(b)].v),
                         dot_u8s8(_mm256_set1_epi8(kBias), loadu(ap + offsetof(BlockQ8_0, qs))));
  }
  for (int64_t j = 0; j < w_rows; ++j) {
    const std::byte* wr = w + j * w_stride;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const std::byte* wp = wr + b * kWB;
      const __m256i av = loadu(a + b * kAB + offsetof(BlockQ8_0, qs));
      prefetch_ahead(wp, 1);
      __m256i p;
      if constexpr (kBias != 0)
        p = _mm256_sub_epi32(dot_u8s8(unsigned_codes<WBlock>(wp), av),
                             _mm256_load_si256(reinterpret_cast<const __m256i*>(bias[static_cast<size_t>(b)].v)));
      else
        p = dot_s8s8(small_codes<WBlock>(wp), av);
      // The weight scale goes to all 8 lanes as f16 and is widened there (one conversion, no
      // scalar-to-vector move); the float32 product is the scalar one, lane by lane.
      const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(load_u16(wp))));
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(da[static_cast<size_t>(b)]));
      acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    out[j] = hsum_f32(acc) + 0.0f;  // (activation row 0: out[0 * out_stride + j]) tile_small adds its (zero) offsets: -0 becomes +0 there too
  }
}

// JN weight rows x RN activation rows (compile-time, so the accumulators stay in registers).
// Written with running pointers and row strides (addresses p + stride * i) so that the compiler
// needs few general registers and keeps all JN x RN accumulators in vector registers.
template <typename WBlock, int JN, int RN>
void small_tile(const SmallBlockData<WBlock>& s, int64_t r0, float* out, int64_t out_stride) {
  using D = SmallBlockData<WBlock>;
  constexpr bool kUnsigned = D::kOffset || D::kBias != 0;
  const int64_t nb = s.nb;
  __m256 acc[JN][RN];
  float offsets[JN][RN] = {};
  for (int jj = 0; jj < JN; ++jj)
    for (int i = 0; i < RN; ++i) acc[jj][i] = _mm256_setzero_ps();
  const uint8_t* ap = s.aq + r0 * nb * 32;
  const float* const da = s.da + r0 * nb;
  const float* sap = s.sa + r0 * nb;
  const int32_t* bp = s.bias + r0 * nb * 8;
  const uint8_t* mp = s.mag;
  const uint8_t* sp = s.sgn;
  const float* mwp = s.mw;
  const int64_t bs = nb * 8, nb8 = (nb + 7) / 8 * 8;
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    // The block scale products dw * da of the next 8 blocks, 8 at a time (the float32 products the
    // one-block step would form; a load then broadcasts each, so the block step needs no multiply).
    // Lanes past nb (dw's row padding, the next row's or the buffer's padding da) are never used.
    alignas(32) float d[JN][RN][8];
    for (int jj = 0; jj < JN; ++jj)
      for (int i = 0; i < RN; ++i)
        _mm256_store_ps(d[jj][i], _mm256_mul_ps(_mm256_loadu_ps(s.dw + jj * nb8 + b0), _mm256_loadu_ps(da + i * nb + b0)));
    const int bn = static_cast<int>(std::min<int64_t>(8, nb - b0));
    for (int bb = 0; bb < bn; ++bb) {
      __m256i av[RN];
      for (int i = 0; i < RN; ++i) av[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(ap + i * nb * 32));
      for (int jj = 0; jj < JN; ++jj) {
        const __m256i m = loadu(mp + 32 * jj);
        for (int i = 0; i < RN; ++i) {
          __m256i p;
          if constexpr (kUnsigned) {
            p = dot_u8s8(m, av[i]);
            if constexpr (D::kBias != 0) p = _mm256_sub_epi32(p, loadu(bp + i * bs));
          } else {
            p = dot_u8s8(m, _mm256_sign_epi8(av[i], loadu(sp + 32 * jj)));
          }
          acc[jj][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[jj][i][bb]), _mm256_cvtepi32_ps(p), acc[jj][i]);
          if constexpr (D::kOffset) offsets[jj][i] += mwp[jj] * sap[i * nb];
        }
      }
      ap += 32;
      sap += 1;
      bp += 8;
      mp += 32 * JN;
      sp += 32 * JN;
      mwp += JN;
    }
  }
  for (int jj = 0; jj < JN; ++jj)
    for (int i = 0; i < RN; ++i) out[(r0 + i) * out_stride + jj] = hsum_f32(acc[jj][i]) + offsets[jj][i];
}

// Weight rows x activation rows per register tile: 3 x 2 accumulators leave room for the
// operands in AVX2's 16 vector registers (the compiler spills with 2 x 3 or 4 x 2).
constexpr int kSmallJN = 3, kSmallRN = 2;

// All activation rows against one decoded panel of JN weight rows, prefetching the next panel's
// weight bytes [next, next + next_bytes) a share per tile (as float_rows).
template <typename WBlock, int JN>
void small_rows(const SmallBlockData<WBlock>& s, int64_t rows, float* out, int64_t out_stride, const std::byte* next,
                int64_t next_bytes) {
  const int64_t tiles = (rows + kSmallRN - 1) / kSmallRN;
  int64_t r0 = 0, tile = 0;
  for (; r0 + kSmallRN <= rows; r0 += kSmallRN, ++tile) {
    prefetch_part(next, next_bytes, tile, tiles);
    small_tile<WBlock, JN, kSmallRN>(s, r0, out, out_stride);
  }
  if (r0 < rows) prefetch_part(next, next_bytes, tiles - 1, tiles);
  for (; r0 < rows; ++r0) small_tile<WBlock, JN, 1>(s, r0, out, out_stride);
}

template <typename WBlock>
void block_small(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a, int64_t a_stride,
                 int64_t rows, float* out, int64_t out_stride) {
  using D = SmallBlockData<WBlock>;
  constexpr bool kUnsigned = D::kOffset || D::kBias != 0;
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(typename D::ABlock);
  const int64_t nb = n / kQK;
  // 32-byte code vectors on 32-byte boundaries: no load in the tile splits a cache line (the
  // activation blocks themselves are 34 or 36 bytes long, so about half their code loads would).
  struct alignas(32) Codes {
    uint8_t v[32];
  };
  thread_local std::vector<float> da, sa, dw, mw;
  thread_local std::vector<int32_t> bias;
  thread_local std::vector<Codes> mag, sgn, aq;
  auto grow = [](auto& v, int64_t size) {
    if (v.size() < static_cast<size_t>(size)) v.resize(static_cast<size_t>(size));
  };
  const int64_t nb8 = (nb + 7) / 8 * 8;
  grow(da, rows * nb + 8);  // 8 floats of padding, read (unused) by the last row's last 8-block group
  grow(sa, rows * nb);
  grow(aq, rows * nb);
  if (D::kBias != 0) grow(bias, 8 * rows * nb);
  grow(mag, kSmallJN * nb);
  grow(sgn, kSmallJN * nb);
  grow(mw, kSmallJN * nb);
  grow(dw, kSmallJN * nb8);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      const std::byte* ap = a + r * a_stride + b * kAB;
      da[static_cast<size_t>(r * nb + b)] = f16(load_u16(ap));
      _mm256_store_si256(reinterpret_cast<__m256i*>(aq[static_cast<size_t>(r * nb + b)].v),
                         loadu(ap + offsetof(typename D::ABlock, qs)));
      if constexpr (D::kOffset) sa[static_cast<size_t>(r * nb + b)] = f16(load_u16(ap + offsetof(BlockQ8_1, s)));
      if constexpr (D::kBias != 0)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(bias.data() + (r * nb + b) * 8),
                            dot_u8s8(_mm256_set1_epi8(D::kBias), loadu(ap + offsetof(BlockQ8_0, qs))));
    }
  const D s{nb, da.data(), aq.data()->v, sa.data(), bias.data(), mag.data()->v, sgn.data()->v, dw.data(), mw.data()};
  for (int64_t j0 = 0; j0 < w_rows; j0 += kSmallJN) {
    const int jn = static_cast<int>(std::min<int64_t>(kSmallJN, w_rows - j0));
    for (int jj = 0; jj < jn; ++jj)
      for (int64_t b = 0; b < nb; ++b) {
        const std::byte* wp = w + (j0 + jj) * w_stride + b * kWB;
        const size_t at = static_cast<size_t>(b * jn + jj);
        if constexpr (kUnsigned) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(mag[at].v), unsigned_codes<WBlock>(wp));
        } else {
          const __m256i c = small_codes<WBlock>(wp);
          _mm256_store_si256(reinterpret_cast<__m256i*>(mag[at].v), _mm256_sign_epi8(c, c));
          _mm256_store_si256(reinterpret_cast<__m256i*>(sgn[at].v), c);
        }
        dw[static_cast<size_t>(jj * nb8 + b)] = f16(load_u16(wp));
        if constexpr (D::kOffset) mw[static_cast<size_t>(b * jn + jj)] = f16(load_u16(wp + offsetof(WBlock, m)));
      }
    const std::byte* next = w + (j0 + jn) * w_stride;
    const int64_t next_bytes = (std::min<int64_t>(w_rows, j0 + jn + kSmallJN) - (j0 + jn)) * w_stride;
    if (jn == 3) small_rows<WBlock, 3>(s, rows, out + j0, out_stride, next, next_bytes);
    else if (jn == 2) small_rows<WBlock, 2>(s, rows, out + j0, out_stride, next, next_bytes);
    else small_rows<WBlock, 1>(s, rows, out + j0, out_stride, next, next_bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// K-quants against Q8_K. A super-block is 8 chunks of 32 values; chunk c's codes come straight
// from the block bytes as 32 unsigned bytes u (value code = u - offset). Per activation row:
//   isum = sum_s sc_s * (sum_j u_j q_j - offset * bsum_s),  msum = sum_s mn_s * bsum_s
// and the row's float sum gains da * (d * isum - dmin * msum), as in the scalar kernel.

template <typename WBlock>
constexpr int kSub = std::is_same_v<WBlock, BlockQ4_K> || std::is_same_v<WBlock, BlockQ5_K> ? 32 : 16;

const __m256i kM15 = _mm256_set1_epi8(15);
const __m256i kM3 = _mm256_set1_epi8(3);
const __m256i kM1 = _mm256_set1_epi8(1);

// Chunk c's 32 unsigned codes, from the block's bytes `blk`.
template <typename WBlock>
__m256i chunk_codes(const uint8_t* blk, int c) {
  if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
    // Sub-block c: nibble c % 2 of qs[32 (c / 2) + l].
    const __m256i q = loadu(blk + offsetof(BlockQ4_K, qs) + 32 * (c / 2));
    return _mm256_and_si256(_mm256_srli_epi16(q, 4 * (c % 2)), kM15);
  } else if constexpr (std::is_same_v<WBlock, BlockQ5_K>) {
    const __m256i q = loadu(blk + offsetof(BlockQ5_K, qs) + 32 * (c / 2));
    const __m256i qh = loadu(blk + offsetof(BlockQ5_K, qh));  // bit c of qh[l]
    const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, c), kM1), 4);
    return _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4 * (c % 2)), kM15), high);
  } else if constexpr (std::is_same_v<WBlock, BlockQ6_K>) {
    // Half h = c / 4, k = c % 4: low nibble k / 2 of ql[64 h + 32 (k % 2) + l], high bits 2k of qh[32 h + l].
    const int h = c / 4, k = c % 4;
    const __m256i ql = loadu(blk + offsetof(BlockQ6_K, ql) + 64 * h + 32 * (k % 2));
    const __m256i qh = loadu(blk + offsetof(BlockQ6_K, qh) + 32 * h);
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (k / 2)), kM15);
    return _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), kM3), 4));
  } else {
    // Q2_K / Q3_K: bits 2k, 2k+1 of qs[32 h + l] (h = c / 4, k = c % 4); Q3_K adds 4 * (bit c of hmask[l]).
    const int h = c / 4, k = c % 4;
    const __m256i q = loadu(blk + offsetof(WBlock, qs) + 32 * h);
    __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), kM3);
    if constexpr (std::is_same_v<WBlock, BlockQ3_K>) {
      const __m256i hm = loadu(blk + offsetof(BlockQ3_K, hmask));
      u = _mm256_or_si256(u, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, c), kM1), 2));
    }
    return u;
  }
}

struct KScales {
  int sc[16];
  int mn[16];
  float d, dmin;
};

template <typename WBlock>
void block_scales(const uint8_t* blk, KScales* k) {
  const auto b = load_unaligned<WBlock>(reinterpret_cast<const std::byte*>(blk));
  k->d = f16(b.d);
  if constexpr (std::is_same_v<WBlock, BlockQ4_K> || std::is_same_v<WBlock, BlockQ5_K>) {
    for (int s = 0; s < 8; ++s) k_scale_min(b.scales, s, &k->sc[s], &k->mn[s]);
    k->dmin = f16(b.dmin);
  } else if constexpr (std::is_same_v<WBlock, BlockQ2_K>) {
    for (int s = 0; s < 16; ++s) {
      k->sc[s] = b.scales[s] & 15;
      k->mn[s] = b.scales[s] >> 4;
    }
    k->dmin = f16(b.dmin);
  } else {
    for (int s = 0; s < 16; ++s) {
      if constexpr (std::is_same_v<WBlock, BlockQ3_K>) k->sc[s] = q3k_scale(b.scales, s);
      else k->sc[s] = b.scales[s];
      k->mn[s] = 0;
    }
    k->dmin = 0.0f;
  }
}

// A row's float state across super-blocks: 8 lanes, plus (Q4_K) 4 lanes of min terms or (Q5_K)
// a scalar of them.
struct KAcc {
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  float summs = 0.0f;
};

// One row's contribution of a super-block whose scaled chunk products are the 8 integer lanes
// `isum`. Code offsets and mins enter as llama.cpp's AVX2 kernels enter them: Q6_K subtracts
// 32 * sc * bsum per lane pair, Q3_K has its offset in the chunk products already, Q2_K / Q4_K /
// Q5_K scale the mins by -da * dmin (8 lanes, 4 lanes, a scalar).
template <typename WBlock>
void k_row_step(const KScales& k, __m256i isum, const std::byte* ap, KAcc& s) {
  float da;
  std::memcpy(&da, ap, 4);
  const __m256i bsums = loadu(ap + offsetof(BlockQ8_K, bsums));  // 16 x s16
  const float dmin = -da * k.dmin;
  if constexpr (std::is_same_v<WBlock, BlockQ6_K>) {
    const __m256i sc = _mm256_setr_epi16(
        static_cast<int16_t>(k.sc[0]), static_cast<int16_t>(k.sc[1]), static_cast<int16_t>(k.sc[2]),
        static_cast<int16_t>(k.sc[3]), static_cast<int16_t>(k.sc[4]), static_cast<int16_t>(k.sc[5]),
        static_cast<int16_t>(k.sc[6]), static_cast<int16_t>(k.sc[7]), static_cast<int16_t>(k.sc[8]),
        static_cast<int16_t>(k.sc[9]), static_cast<int16_t>(k.sc[10]), static_cast<int16_t>(k.sc[11]),
        static_cast<int16_t>(k.sc[12]), static_cast<int16_t>(k.sc[13]), static_cast<int16_t>(k.sc[14]),
        static_cast<int16_t>(k.sc[15]));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc), 5));
  } else if constexpr (std::is_same_v<WBlock, BlockQ2_K>) {
    const __m256i mn = _mm256_setr_epi16(
        static_cast<int16_t>(k.mn[0]), static_cast<int16_t>(k.mn[1]), static_cast<int16_t>(k.mn[2]),
        static_cast<int16_t>(k.mn[3]), static_cast<int16_t>(k.mn[4]), static_cast<int16_t>(k.mn[5]),
        static_cast<int16_t>(k.mn[6]), static_cast<int16_t>(k.mn[7]), static_cast<int16_t>(k.mn[8]),
        static_cast<int16_t>(k.mn[9]), static_cast<int16_t>(k.mn[10]), static_cast<int16_t>(k.mn[11]),
        static_cast<int16_t>(k.mn[12]), static_cast<int16_t>(k.mn[13]), static_cast<int16_t>(k.mn[14]),
        static_cast<int16_t>(k.mn[15]));
    s.acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_madd_epi16(mn, bsums)), s.acc);
  } else if constexpr (std::is_same_v<WBlock, BlockQ4_K> || std::is_same_v<WBlock, BlockQ5_K>) {
    const __m128i pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    const __m128i mn = _mm_setr_epi16(static_cast<int16_t>(k.mn[0]), static_cast<int16_t>(k.mn[1]),
                                      static_cast<int16_t>(k.mn[2]), static_cast<int16_t>(k.mn[3]),
                                      static_cast<int16_t>(k.mn[4]), static_cast<int16_t>(k.mn[5]),
                                      static_cast<int16_t>(k.mn[6]), static_cast<int16_t>(k.mn[7]));
    const __m128i prod = _mm_madd_epi16(mn, pair_sums);
    if constexpr (std::is_same_v<WBlock, BlockQ4_K>) {
      s.acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), s.acc_m);
    } else {
      __m128i h = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, _MM_SHUFFLE(1, 0, 3, 2)));
      h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
      s.summs += dmin * static_cast<float>(_mm_cvtsi128_si32(h));
    }
  }
  s.acc = _mm256_fmadd_ps(_mm256_set1_ps(da * k.d), _mm256_cvtepi32_ps(isum), s.acc);
}

float k_row_result(const KAcc& s) {
  __m128 m = _mm_add_ps(s.acc_m, _mm_movehl_ps(s.acc_m, s.acc_m));
  m = _mm_add_ss(m, _mm_movehdup_ps(m));
  return hsum_f32(s.acc) + _mm_cvtss_f32(m) + s.summs;
}

// Chunk products (16 lanes of s16 pair sums). Q3_K takes its code offset 4 out here, per pair.
template <typename WBlock>
__m256i chunk_products(__m256i u, __m256i q) {
  __m256i p16 = _mm256_maddubs_epi16(u, q);
  if constexpr (std::is_same_v<WBlock, BlockQ3_K>) p16 = _mm256_sub_epi16(p16, _mm256_maddubs_epi16(_mm256_set1_epi8(4), q));
  return p16;
}

template <typename WBlock>
__m256i chunk_scales(const KScales& k, int c) {
  if constexpr (kSub<WBlock> == 32)
    return _mm256_set1_epi16(static_cast<int16_t>(k.sc[c]));
  else
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(k.sc[2 * c + 1])),
                            _mm_set1_epi16(static_cast<int16_t>(k.sc[2 * c])));
}

// Q6_K decode (one activation row): tile_k's one-row steps with the 16 sub-block scales kept in a
// vector (sign-extended once per super-block) instead of scalars: chunk c's scale lanes (sc[2c]
// in the low half, sc[2c + 1] in the high half) are one permute and one shuffle of it, and the
// code-offset term madd(bsums, scales) takes it as it is. Same integers, same float steps.
float q6_k_decode_row(int64_t n, const std::byte* w, const std::byte* a) {
  constexpr int64_t kWB = sizeof(BlockQ6_K), kAB = sizeof(BlockQ8_K);
  // Within each 128-bit half: the s16 at bytes 0-1 (low half) or 2-3 (high half) of every dword.
  const __m256i pair_pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,  //
                                             2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const auto* blk = reinterpret_cast<const uint8_t*>(w + b * kWB);
    const std::byte* ap = a + b * kAB;
    const auto* q = reinterpret_cast<const int8_t*>(ap + offsetof(BlockQ8_K, qs));
    prefetch_ahead(w + b * kWB, kWB);
    const __m256i sc16 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(BlockQ6_K, scales))));
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      const __m256i scale = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(c)), pair_pick);
      const __m256i p16 = _mm256_maddubs_epi16(chunk_codes<BlockQ6_K>(blk, c), loadu(q + 32 * c));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, scale));
    }
    const __m256i bsums = loadu(ap + offsetof(BlockQ8_K, bsums));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5));
    float da;
    std::memcpy(&da, ap, 4);
    const float d = f16(load_u16(w + b * kWB + offsetof(BlockQ6_K, d)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(da * d), _mm256_cvtepi32_ps(isum), acc);
  }
  KAcc st;
  st.acc = acc;
  return k_row_result(st);
}

template <typename WBlock>
void tile_k(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_K);
  KScales k;
  if constexpr (std::is_same_v<WBlock, BlockQ6_K>) {
    if (rows == 1) {
      out[0] = q6_k_decode_row(n, w, a);
      return;
    }
  }
  if (rows == 1) {  // decode: codes go from the block bytes straight into the products
    KAcc st;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const auto* blk = reinterpret_cast<const uint8_t*>(w + b * kWB);
      const std::byte* ap = a + b * kAB;
      const auto* q = reinterpret_cast<const int8_t*>(ap + offsetof(BlockQ8_K, qs));
      prefetch_ahead(w + b * kWB, kWB);
      block_scales<WBlock>(blk, &k);
      __m256i isum = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const __m256i p16 = chunk_products<WBlock>(chunk_codes<WBlock>(blk, c), loadu(q + 32 * c));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, chunk_scales<WBlock>(k, c)));
      }
      k_row_step<WBlock>(k, isum, ap, st);
    }
    out[0] = k_row_result(st);
    return;
  }
  KAcc st[kRowTile];
  __m256i u[8], scales[8];
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const auto* blk = reinterpret_cast<const uint8_t*>(w + b * kWB);
    block_scales<WBlock>(blk, &k);
    for (int c = 0; c < 8; ++c) {
      u[c] = chunk_codes<WBlock>(blk, c);
      scales[c] = chunk_scales<WBlock>(k, c);
    }
    for (int r = 0; r < rows; ++r) {
      const std::byte* ap = a + r * a_stride + b * kAB;
      const auto* q = reinterpret_cast<const int8_t*>(ap + offsetof(BlockQ8_K, qs));
      __m256i isum = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c)
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(chunk_products<WBlock>(u[c], loadu(q + 32 * c)), scales[c]));
      k_row_step<WBlock>(k, isum, ap, st[r]);
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = k_row_result(st[r]);
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

// llama.cpp's ggml_vec_dot_f16 / _bf16 / _f32 order: four 8-lane accumulators over chunks of 32,
// s = (a0 + a2) + (a1 + a3), lanes reduced to a float64 ((s0+s1)+(s2+s3) after folding the
// halves for F16 / F32, (s0+s2)+(s1+s3) for BF16), the values past the last chunk of 32 added
// one by one (float32 products) in float64.
template <DType kType>
void tile_float(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr int64_t kElem = kType == DType::F32 ? 4 : 2;
  for (int r = 0; r < rows; ++r) {
    const std::byte* ar = a + r * a_stride;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      if (rows == 1) prefetch_ahead(w + i * kElem, 32 * kElem);
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm256_fmadd_ps(load8<kType>(w + (i + 8 * j) * kElem), load8<kType>(ar + (i + 8 * j) * kElem), acc[j]);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    double sum;
    if constexpr (kType == DType::BF16) {
      sum = static_cast<double>(hsum_f32(s));
    } else {
      const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
      const __m128 t1 = _mm_hadd_ps(t, t);
      sum = static_cast<double>(_mm_cvtss_f32(_mm_hadd_ps(t1, t1)));
    }
    for (; i < n; ++i) sum += static_cast<double>(load1<kType>(w + i * kElem) * load1<kType>(ar + i * kElem));
    out[r] = static_cast<float>(sum);
  }
}

// DotOrder::Batched for F16 / BF16 (vec_dot.h): one 8-lane accumulator, (t0 + t2) + (t1 + t3).
template <DType kType>
void tile_float_batched(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  for (int r = 0; r < rows; ++r) {
    const std::byte* ar = a + r * a_stride;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(load8<kType>(w + 2 * i), load8<kType>(ar + 2 * i), acc);
    out[r] = hsum_f32(acc);
  }
}

// Block kernel of the F16 / BF16 batched order: JN weight rows widened to float32 once (a panel in
// L1); RN activation rows at a time, one 8-lane accumulator per (weight row, activation row) as in
// tile_float_batched (same FMA sequence, same reduction), JN x RN of them in registers. `a` holds
// rows of n kAct values (F16, or BF16 rows already widened to F32), `a_stride` bytes apart.
template <int JN, int RN, DType kAct>
void float_tile(const float* panel, int64_t n, const std::byte* a, int64_t a_stride, int64_t r0, float* out,
                int64_t out_stride) {
  constexpr int64_t kElem = kAct == DType::F32 ? 4 : 2;
  __m256 acc[JN][RN];
  for (int j = 0; j < JN; ++j)
    for (int r = 0; r < RN; ++r) acc[j][r] = _mm256_setzero_ps();
  const std::byte* ar = a + r0 * a_stride;
  for (int64_t i = 0; i < n; i += 8) {
    __m256 av[RN];
    for (int r = 0; r < RN; ++r) av[r] = load8<kAct>(ar + r * a_stride + kElem * i);
    for (int j = 0; j < JN; ++j) {
      const __m256 wv = _mm256_loadu_ps(panel + j * n + i);
      for (int r = 0; r < RN; ++r) acc[j][r] = _mm256_fmadd_ps(wv, av[r], acc[j][r]);
    }
  }
  for (int j = 0; j < JN; ++j)
    for (int r = 0; r < RN; ++r) out[(r0 + r) * out_stride + j] = hsum_f32(acc[j][r]);
}

// 4 weight rows x 3 activation rows: 12 accumulators + 3 activation vectors + 1 weight vector fill
// the 16 registers exactly (measured against 3 x 3: +10-20 % on the 1B shapes).
constexpr int kFloatJN = 4, kFloatRN = 3;

// All activation rows against one panel, prefetching the next panel's weight bytes [next,
// next + next_bytes) a share per tile (they come from memory: without it, widening the next panel
// waited on them, ~10 % of an F16 prefill).
template <int JN, DType kAct>
void float_rows(const float* panel, int64_t n, const std::byte* a, int64_t a_stride, int64_t rows, float* out,
                int64_t out_stride, const std::byte* next, int64_t next_bytes) {
  const int64_t tiles = (rows + kFloatRN - 1) / kFloatRN;
  int64_t r0 = 0, tile = 0;
  for (; r0 + kFloatRN <= rows; r0 += kFloatRN, ++tile) {
    prefetch_part(next, next_bytes, tile, tiles);
    float_tile<JN, kFloatRN, kAct>(panel, n, a, a_stride, r0, out, out_stride);
  }
  if (r0 < rows) prefetch_part(next, next_bytes, tiles - 1, tiles);
  for (; r0 < rows; ++r0) float_tile<JN, 1, kAct>(panel, n, a, a_stride, r0, out, out_stride);
}

template <DType kType>
void block_float_batched(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a,
                         int64_t a_stride, int64_t rows, float* out, int64_t out_stride) {
  constexpr int kJN = kFloatJN;
  // 32-byte aligned buffers (n is a multiple of 8): no 32-byte load splits a cache line.
  struct alignas(32) Lanes {
    float v[8];
  };
  thread_local std::vector<Lanes> panel_buf, wide_buf;
  if (panel_buf.size() < static_cast<size_t>(kJN * n / 8)) panel_buf.resize(static_cast<size_t>(kJN * n / 8));
  auto* const panel = reinterpret_cast<float*>(panel_buf.data());
  // F16 activation rows are widened as the tile loads them: the conversion runs beside the FMAs, and
  // the block takes half the cache of a float32 copy (measured, 1B shapes, 2 threads: gate 68-77 ->
  // 85 GMAC/s, down (k = 6912, whose float32 block spilled to L3) 63-65 -> 77-79). BF16's widening
  // (a zero-extension and a shift) competes with the FMAs for the vector pipes, so BF16 rows are
  // widened to float32 once per call instead (gate, one thread: 41.5 GMAC/s so, 38.7 in the tile).
  constexpr DType kAct = kType == DType::F16 ? DType::F16 : DType::F32;
  if constexpr (kAct == DType::F32) {
    if (wide_buf.size() < static_cast<size_t>(rows * n / 8)) wide_buf.resize(static_cast<size_t>(rows * n / 8));
    auto* const wide = reinterpret_cast<float*>(wide_buf.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(wide + r * n + i, load8<kType>(a + r * a_stride + 2 * i));
    a = reinterpret_cast<const std::byte*>(wide);
    a_stride = 4 * n;
  }
  for (int64_t j0 = 0; j0 < w_rows; j0 += kJN) {
    const int jn = static_cast<int>(std::min<int64_t>(kJN, w_rows - j0));
    for (int j = 0; j < jn; ++j)
      for (int64_t i = 0; i < n; i += 8)
        _mm256_storeu_ps(panel + j * n + i, load8<kType>(w + (j0 + j) * w_stride + 2 * i));
    const std::byte* next = w + (j0 + jn) * w_stride;
    const int64_t next_bytes = (std::min<int64_t>(w_rows, j0 + jn + kJN) - (j0 + jn)) * w_stride;
    float* const o = out + j0;
    switch (jn) {
      case 4: float_rows<4, kAct>(panel, n, a, a_stride, rows, o, out_stride, next, next_bytes); break;
      case 3: float_rows<3, kAct>(panel, n, a, a_stride, rows, o, out_stride, next, next_bytes); break;
      case 2: float_rows<2, kAct>(panel, n, a, a_stride, rows, o, out_stride, next, next_bytes); break;
      default: float_rows<1, kAct>(panel, n, a, a_stride, rows, o, out_stride, next, next_bytes); break;
    }
  }
}

// DotOrder::Batched for the K-quants: per super-block and row, the exact integer sums, then
// res = dw * isum, res = fma(-dminw, msum, res), acc = fma(res, da, acc).
template <typename WBlock>
void tile_k_batched(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_K);
  constexpr bool kMins =
      std::is_same_v<WBlock, BlockQ2_K> || std::is_same_v<WBlock, BlockQ4_K> || std::is_same_v<WBlock, BlockQ5_K>;
  KScales k;
  __m256i u[8], scales[8];
  float acc[kRowTile] = {};
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const auto* blk = reinterpret_cast<const uint8_t*>(w + b * kWB);
    block_scales<WBlock>(blk, &k);
    for (int c = 0; c < 8; ++c) {
      u[c] = chunk_codes<WBlock>(blk, c);
      scales[c] = chunk_scales<WBlock>(k, c);
    }
    // Per 16-value group g of activation codes (the bsums): Q6_K's code offset 32 * sc, the mins.
    alignas(32) int16_t off16[16], mn16[16];
    for (int g = 0; g < 16; ++g) {
      const int s = g * 16 / kSub<WBlock>;
      off16[g] = static_cast<int16_t>(std::is_same_v<WBlock, BlockQ6_K> ? k.sc[s] : 0);
      mn16[g] = static_cast<int16_t>(kMins ? k.mn[s] : 0);
    }
    const __m256i off_v = _mm256_load_si256(reinterpret_cast<const __m256i*>(off16));
    const __m256i mn_v = _mm256_load_si256(reinterpret_cast<const __m256i*>(mn16));
    for (int r = 0; r < rows; ++r) {
      const std::byte* ap = a + r * a_stride + b * kAB;
      const auto* q = reinterpret_cast<const int8_t*>(ap + offsetof(BlockQ8_K, qs));
      __m256i lanes = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c)
        lanes = _mm256_add_epi32(lanes, _mm256_madd_epi16(chunk_products<WBlock>(u[c], loadu(q + 32 * c)), scales[c]));
      const __m256i bsums = loadu(ap + offsetof(BlockQ8_K, bsums));
      if constexpr (std::is_same_v<WBlock, BlockQ6_K>)  // codes are offset by 32: - 32 * sum_g sc * bsum_g
        lanes = _mm256_sub_epi32(lanes, _mm256_slli_epi32(_mm256_madd_epi16(bsums, off_v), 5));
      const int isum = hsum_i32(lanes);  // exact integers: any summation order gives the same sum
      float res = k.d * static_cast<float>(isum);
      if constexpr (kMins) {
        const int msum = hsum_i32(_mm256_madd_epi16(bsums, mn_v));
        res = std::fma(-k.dmin, static_cast<float>(msum), res);
      }
      float da;
      std::memcpy(&da, ap, 4);
      acc[r] = std::fma(res, da, acc[r]);
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = acc[r];
}

// Block kernel of the batched order for Q5_K / Q6_K: 8 weight rows at a time in the 8 lanes
// (as row_group_dot's Q4_K kernel). Per super-block, the group's codes are transposed once
// (codes[c][t]: bytes 4j..4j+3 = row j's codes 4t..4t+3 of chunk c), then each activation row
// needs one maddubs per 4 values for all 8 rows, scales applied by madd as it widens, and no
// per-row reduction. The integers equal tile_k_batched's, and each lane then takes its row's
// float steps (res = d * isum, the mins by fma, acc = fma(res, da, acc)): the same bits.
template <typename WBlock>
struct KGroup {
  static constexpr bool kQ6 = std::is_same_v<WBlock, BlockQ6_K>;
  // maddubs results summed as int16 before each madd: 2 * 63 * 127 per Q6_K pair (2 fit under
  // 2^15), 2 * 31 * 127 per Q5_K pair (4 fit).
  static constexpr int kPerMadd = kQ6 ? 2 : 4;
  __m256i codes[8][8];
  __m256i sc16[16];   // per scale group (16 values for Q6_K, 32 for Q5_K): lane j = row j's scale, twice
  __m256i pair16[8];  // Q6_K: lane j = row j's scales of groups 2i, 2i+1 (the code offset 32 * sc * bsum);
                      // Q5_K (i < 4): row j's mins of sub-blocks 2i, 2i+1
  __m256 d, dmin;
};

template <typename WBlock>
void decode_k_group(const std::byte* w, int64_t w_stride, int64_t blk_offset, KGroup<WBlock>* g) {
  constexpr bool kQ6 = KGroup<WBlock>::kQ6;
  __m256i rows[8][8];  // rows[c][j]: chunk c of row j
  alignas(32) int16_t sc[16][16], pair[8][16];
  alignas(16) uint16_t d[8], dmin[8];
  for (int j = 0; j < 8; ++j) {
    const auto* blk = reinterpret_cast<const uint8_t*>(w + j * w_stride + blk_offset);
    KScales k;
    block_scales<WBlock>(blk, &k);
    const auto b = load_unaligned<WBlock>(reinterpret_cast<const std::byte*>(blk));
    d[j] = b.d;
    if constexpr (!kQ6) dmin[j] = b.dmin;
    for (int c = 0; c < 8; ++c) rows[c][j] = chunk_codes<WBlock>(blk, c);
    for (int gi = 0; gi < (kQ6 ? 16 : 8); ++gi) sc[gi][2 * j] = sc[gi][2 * j + 1] = static_cast<int16_t>(k.sc[gi]);
    for (int i = 0; i < (kQ6 ? 8 : 4); ++i) {
      pair[i][2 * j] = static_cast<int16_t>(kQ6 ? k.sc[2 * i] : k.mn[2 * i]);
      pair[i][2 * j + 1] = static_cast<int16_t>(kQ6 ? k.sc[2 * i + 1] : k.mn[2 * i + 1]);
    }
  }
  for (int c = 0; c < 8; ++c) transpose_8x8_epi32(rows[c], g->codes[c]);
  for (int gi = 0; gi < (kQ6 ? 16 : 8); ++gi) g->sc16[gi] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc[gi]));
  for (int i = 0; i < (kQ6 ? 8 : 4); ++i) g->pair16[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(pair[i]));
  g->d = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d)));
  if constexpr (!kQ6) g->dmin = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(dmin)));
}

template <typename WBlock>
void block_k_batched(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a,
                     int64_t a_stride, int64_t rows, float* out, int64_t out_stride) {
  using G = KGroup<WBlock>;
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_K);
  constexpr int kTile = 64;  // activation rows per decoded super-block (the decoding is amortized over them)
  const int64_t groups = w_rows / 8;
  G g;
  for (int64_t j0 = 0; j0 < groups * 8; j0 += 8) {
    for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
      const int tile = static_cast<int>(std::min<int64_t>(kTile, rows - r0));
      __m256 acc[kTile];
      for (int r = 0; r < tile; ++r) acc[r] = _mm256_setzero_ps();
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        decode_k_group<WBlock>(w + j0 * w_stride, w_stride, b * kWB, &g);
        for (int r = 0; r < tile; ++r) {
          const std::byte* ab = a + (r0 + r) * a_stride + b * kAB;
          const std::byte* q = ab + offsetof(BlockQ8_K, qs);
          __m256i isum = _mm256_setzero_si256();
          for (int c = 0; c < 8; ++c)
            for (int t = 0; t < 8; t += G::kPerMadd)
              isum = _mm256_add_epi32(isum, _mm256_madd_epi16(lane_products16(g.codes[c] + t, q + 32 * c + 4 * t, G::kPerMadd),
                                                              g.sc16[G::kQ6 ? 2 * c + t / 4 : c]));
          int16_t bsums[16];
          std::memcpy(bsums, ab + offsetof(BlockQ8_K, bsums), sizeof bsums);
          float da;
          std::memcpy(&da, ab, 4);
          __m256 res;
          if constexpr (G::kQ6) {  // codes are offset by 32: - 32 * sum_g sc_g * bsum_g
            __m256i off = _mm256_setzero_si256();
            for (int i = 0; i < 8; ++i) off = _mm256_add_epi32(off, _mm256_madd_epi16(g.pair16[i], pair_dword(bsums[2 * i], bsums[2 * i + 1])));
            res = _mm256_mul_ps(g.d, _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, _mm256_slli_epi32(off, 5))));
          } else {  // mins: sum_s mn_s * (sum of the sub-block's 32 activation codes, |.| <= 32 * 127)
            __m256i msum = _mm256_setzero_si256();
            for (int i = 0; i < 4; ++i)
              msum = _mm256_add_epi32(msum, _mm256_madd_epi16(g.pair16[i], pair_dword(bsums[4 * i] + bsums[4 * i + 1],
                                                                                       bsums[4 * i + 2] + bsums[4 * i + 3])));
            res = _mm256_mul_ps(g.d, _mm256_cvtepi32_ps(isum));
            res = _mm256_fmadd_ps(_mm256_xor_ps(g.dmin, _mm256_set1_ps(-0.0f)), _mm256_cvtepi32_ps(msum), res);  // -dmin, signed zero kept
          }
          acc[r] = _mm256_fmadd_ps(res, _mm256_set1_ps(da), acc[r]);
        }
      }
      for (int r = 0; r < tile; ++r) {
        alignas(32) float v[8];
        _mm256_store_ps(v, acc[r]);
        for (int j = 0; j < 8; ++j) out[(r0 + r) * out_stride + j0 + j] = v[j];
      }
    }
  }
  // Rows past the last whole group: the one-row tile kernel, 16 activation rows at a time.
  for (int64_t j = groups * 8; j < w_rows; ++j)
    for (int64_t r0 = 0; r0 < rows; r0 += kRowTile) {
      const int tile = static_cast<int>(std::min<int64_t>(kRowTile, rows - r0));
      float tmp[kRowTile];
      tile_k_batched<WBlock>(n, w + j * w_stride, a + r0 * a_stride, a_stride, tile, tmp);
      for (int r = 0; r < tile; ++r) out[(r0 + r) * out_stride + j] = tmp[r];
    }
}

}  // namespace

BlockFn stream_fn_avx2(DType weight, DotOrder order) {
  if (order != DotOrder::VecDot) return nullptr;
  switch (weight) {
    case DType::Q4_0: return stream_small<BlockQ4_0>;
    case DType::Q5_0: return stream_small<BlockQ5_0>;
    case DType::Q8_0: return stream_small<BlockQ8_0>;
    default: return nullptr;
  }
}

BlockFn block_fn_avx2(DType weight, DotOrder order) {
  if (order == DotOrder::Batched) {
    if (weight == DType::F16) return block_float_batched<DType::F16>;
    if (weight == DType::BF16) return block_float_batched<DType::BF16>;
    if (weight == DType::Q5_K) return block_k_batched<BlockQ5_K>;
    if (weight == DType::Q6_K) return block_k_batched<BlockQ6_K>;
    return nullptr;
  }
  switch (weight) {
    case DType::Q4_0: return block_small<BlockQ4_0>;
    case DType::Q4_1: return block_small<BlockQ4_1>;
    case DType::Q5_0: return block_small<BlockQ5_0>;
    case DType::Q5_1: return block_small<BlockQ5_1>;
    case DType::Q8_0: return block_small<BlockQ8_0>;
    default: return nullptr;
  }
}

TileFn tile_fn_avx2(DType weight, DotOrder order) {
  if (order == DotOrder::Batched) {
    switch (weight) {
      case DType::F16: return tile_float_batched<DType::F16>;
      case DType::BF16: return tile_float_batched<DType::BF16>;
      case DType::Q2_K: return tile_k_batched<BlockQ2_K>;
      case DType::Q3_K: return tile_k_batched<BlockQ3_K>;
      case DType::Q4_K: return tile_k_batched<BlockQ4_K>;
      case DType::Q5_K: return tile_k_batched<BlockQ5_K>;
      case DType::Q6_K: return tile_k_batched<BlockQ6_K>;
      default: return nullptr;
    }
  }
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
