// AVX-512 (F, BW, VL, DQ, VNNI) block and stream kernels of vec_dot, compiled with those flags and
// called only on CPUs that have them (quant::dot_isa_available(DotIsa::Avx512)). See
// vec_dot_kernels.h.
//
// Contract: every kernel here gives the bits of the AVX2 kernel it stands in for. Where the AVX2
// kernel keeps 8 float32 lanes per output, these keep the same 8 lanes, two outputs to a 16-lane
// register (two activation rows: interleaved for the 32-value formats, in the two halves for
// F16 / BF16), and run every lane's integer sum, conversion, scale product and FMA exactly as the
// AVX2 kernel does; where the AVX2 kernel keeps one weight row per lane (the K-quants' batched
// order), these keep 16 rows. Integer sums come from vpdpbusd / vpdpwssd instead of maddubs + madd
// (+ add): the same exact integers.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemrt/quant/avx512_common.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/vec_dot_kernels.h"

namespace gemrt::quant::detail {
namespace {

using namespace avx512;

// Two 8-lane values a, b interleaved into one 16-lane value: lane 2L = a_L, lane 2L + 1 = b_L.
__m512i interleave_dwords(__m256i a, __m256i b) {
  const __m512i idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutex2var_epi32(_mm512_castsi256_si512(a), idx, _mm512_castsi256_si512(b));
}

// Each dword of an 8-dword value twice: lane 2L = lane 2L + 1 = v_L.
__m512i duplicate_dwords(__m256i v) {
  const __m512i idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  return _mm512_permutexvar_epi32(idx, _mm512_castsi256_si512(v));
}

// The even and the odd lanes of a 16-lane value as two 8-lane values (undoes interleave_dwords).
void deinterleave(__m512 v, __m256* even, __m256* odd) {
  const __m512i idx = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512 s = _mm512_permutexvar_ps(idx, v);
  *even = _mm512_castps512_ps256(s);
  *odd = _mm512_extractf32x8_ps(s, 1);
}

// 8 int32 lanes of sum u[4L + t] * s[4L + t] (t < 4), u unsigned and s signed bytes.
__m256i lanes_u8s8(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }

// ---------------------------------------------------------------------------------------------
// Q4_0 / Q5_0 / Q8_0 against Q8_0 (the AVX2 block_small kernel's formats without offsets).
//
// Every weight code goes in as an unsigned byte u = code + kBias (Q4_0: the nibble, 0..15; Q5_0:
// nibble | fifth bit << 4, 0..31; Q8_0: code + 128 = code ^ 0x80, 0..255), and each lane's
// integer sum is lanes(u . a) - kBias * lanes(a): exactly lanes(code . a), the integer lanes of the
// AVX2 kernel. The bias term, -kBias * lanes(a), is formed once per activation block and is the
// accumulator vpdpbusd starts from.

template <typename WBlock>
constexpr int kBias = std::is_same_v<WBlock, BlockQ4_0> ? 8 : std::is_same_v<WBlock, BlockQ5_0> ? 16 : 128;

// The 32 unsigned codes u of block wp.
template <typename WBlock>
__m256i unsigned_codes(const std::byte* wp) {
  const auto* qs = reinterpret_cast<const uint8_t*>(wp + offsetof(WBlock, qs));
  if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
    return _mm256_xor_si256(loadu256(qs), _mm256_set1_epi8(static_cast<char>(0x80)));
  } else {
    // Values 0-15 from the low nibbles, 16-31 from the high nibbles of the 16 code bytes.
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    __m256i u = _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(15));
    if constexpr (std::is_same_v<WBlock, BlockQ5_0>) {  // bit j of qh is bit 4 of code j
      uint32_t qh;
      std::memcpy(&qh, wp + offsetof(BlockQ5_0, qh), 4);
      const __mmask32 fifth = qh;
      u = _mm256_or_si256(u, _mm256_maskz_mov_epi8(fifth, _mm256_set1_epi8(0x10)));
    }
    return u;
  }
}

// The operands of one call, in the interleaved layouts (P = activation row pairs, nb blocks per
// row, nb8 = nb rounded up to 8):
struct SmallData {
  int64_t nb, nb8;
  const uint8_t* aq;     // [P][nb][64]: the pair's codes, dword-interleaved (bytes 8L.. row i, 8L+4.. row i+1)
  const int32_t* bias;   // [P][nb][16]: -kBias * lanes(a), interleaved
  const float* da;       // [P][nb8][2]: the pair's block scales, interleaved
  const uint8_t* mag;    // [nb][JN][64]: each panel row's unsigned codes, every dword twice
  const float* dw;       // [JN][nb8][2]: each panel row's block scales, each twice
};

// JN weight rows x RP activation row pairs, all JN x RP accumulators in registers.
template <int JN, int RP>
void small_tile(const SmallData& s, int64_t p0, float* out, int64_t out_stride, int64_t rows) {
  const int64_t nb = s.nb, nb8 = s.nb8;
  __m512 acc[JN][RP];
  for (int jj = 0; jj < JN; ++jj)
    for (int pp = 0; pp < RP; ++pp) acc[jj][pp] = _mm512_setzero_ps();
  const uint8_t* ap = s.aq + p0 * nb * 64;
  const int32_t* bp = s.bias + p0 * nb * 16;
  const uint8_t* mp = s.mag;
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    // dw * da for the next 8 blocks of every (weight row, row pair), 16 at a time: the float32
    // products the AVX2 kernel forms; lane 2t (2t + 1) is block b0 + t of row i (i + 1), so an
    // 8-byte broadcast of a block's pair gives every accumulator lane its own row's product.
    alignas(64) float d[JN][RP][16];
    for (int jj = 0; jj < JN; ++jj)
      for (int pp = 0; pp < RP; ++pp)
        _mm512_store_ps(d[jj][pp], _mm512_mul_ps(_mm512_loadu_ps(s.dw + (jj * nb8 + b0) * 2),
                                                 _mm512_loadu_ps(s.da + ((p0 + pp) * nb8 + b0) * 2)));
    const int bn = static_cast<int>(std::min<int64_t>(8, nb - b0));
    for (int bb = 0; bb < bn; ++bb) {
      __m512i av[RP];
      for (int pp = 0; pp < RP; ++pp) av[pp] = _mm512_load_si512(ap + pp * nb * 64);
      for (int jj = 0; jj < JN; ++jj) {
        const __m512i m = _mm512_load_si512(mp + 64 * jj);
        for (int pp = 0; pp < RP; ++pp) {
          const __m512i p = _mm512_dpbusd_epi32(_mm512_load_si512(bp + pp * nb * 16), m, av[pp]);
          double pair;
          std::memcpy(&pair, &d[jj][pp][2 * bb], 8);
          const __m512 dd = _mm512_castpd_ps(_mm512_set1_pd(pair));
          acc[jj][pp] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(p), acc[jj][pp]);
        }
      }
      ap += 64;
      bp += 16;
      mp += 64 * JN;
    }
  }
  for (int jj = 0; jj < JN; ++jj)
    for (int pp = 0; pp < RP; ++pp) {
      __m256 even, odd;
      deinterleave(acc[jj][pp], &even, &odd);
      const int64_t r = 2 * (p0 + pp);
      // + 0.0f as the AVX2 kernel adds its (zero) offsets: a -0 sum becomes +0 there too.
      out[r * out_stride + jj] = hsum8(even) + 0.0f;
      if (r + 1 < rows) out[(r + 1) * out_stride + jj] = hsum8(odd) + 0.0f;
    }
}

// Weight rows x activation row pairs per register tile: 4 x 4 accumulators plus 4 activation
// pairs, a weight vector and the temporaries fit AVX-512's 32 vector registers.
constexpr int kSmallJN = 4, kSmallRP = 4;

template <int JN>
void small_pairs(const SmallData& s, int64_t rows, float* out, int64_t out_stride, const std::byte* next,
                 int64_t next_bytes) {
  const int64_t pairs = (rows + 1) / 2;
  const int64_t tiles = (pairs + kSmallRP - 1) / kSmallRP;
  int64_t p0 = 0, tile = 0;
  for (; p0 + kSmallRP <= pairs; p0 += kSmallRP, ++tile) {
    prefetch_part(next, next_bytes, tile, tiles);
    small_tile<JN, kSmallRP>(s, p0, out, out_stride, rows);
  }
  if (p0 < pairs) prefetch_part(next, next_bytes, tiles - 1, tiles);
  for (; p0 < pairs; ++p0) small_tile<JN, 1>(s, p0, out, out_stride, rows);
}

template <typename WBlock>
void block_small(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a, int64_t a_stride,
                 int64_t rows, float* out, int64_t out_stride) {
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_0);
  const int64_t nb = n / kQK, nb8 = (nb + 7) / 8 * 8;
  const int64_t pairs = (rows + 1) / 2;
  thread_local Scratch aq_buf, bias_buf, da_buf, mag_buf, dw_buf;
  uint8_t* aq = aq_buf.get<uint8_t>(pairs * nb * 64);
  int32_t* bias = bias_buf.get<int32_t>(pairs * nb * 16);
  float* da = da_buf.get<float>(pairs * nb8 * 2);
  uint8_t* mag = mag_buf.get<uint8_t>(kSmallJN * nb * 64);
  float* dw = dw_buf.get<float>(kSmallJN * nb8 * 2);
  // Activation rows in pairs; an odd last row pairs with zeros (its outputs are not written).
  const __m256i kb = _mm256_set1_epi8(static_cast<char>(kBias<WBlock>));
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t p = 0; p < pairs; ++p) {
    const std::byte* a0 = a + 2 * p * a_stride;
    const std::byte* a1 = 2 * p + 1 < rows ? a0 + a_stride : nullptr;
    for (int64_t b = 0; b < nb8; ++b) {
      float* dp = da + (p * nb8 + b) * 2;
      if (b >= nb) {  // padding of the 8-block groups: read by the scale products, never used
        dp[0] = dp[1] = 0.0f;
        continue;
      }
      const __m256i q0 = loadu256(a0 + b * kAB + offsetof(BlockQ8_0, qs));
      const __m256i q1 = a1 ? loadu256(a1 + b * kAB + offsetof(BlockQ8_0, qs)) : zero;
      _mm512_store_si512(aq + (p * nb + b) * 64, interleave_dwords(q0, q1));
      _mm512_store_si512(bias + (p * nb + b) * 16, interleave_dwords(_mm256_sub_epi32(zero, lanes_u8s8(kb, q0)),
                                                                     _mm256_sub_epi32(zero, lanes_u8s8(kb, q1))));
      dp[0] = f16(load_u16(a0 + b * kAB));
      dp[1] = a1 ? f16(load_u16(a1 + b * kAB)) : 0.0f;
    }
  }
  const SmallData s{nb, nb8, aq, bias, da, mag, dw};
  for (int64_t j0 = 0; j0 < w_rows; j0 += kSmallJN) {
    const int jn = static_cast<int>(std::min<int64_t>(kSmallJN, w_rows - j0));
    for (int jj = 0; jj < jn; ++jj) {
      for (int64_t b = 0; b < nb; ++b) {
        const std::byte* wp = w + (j0 + jj) * w_stride + b * kWB;
        _mm512_store_si512(mag + (b * jn + jj) * 64, duplicate_dwords(unsigned_codes<WBlock>(wp)));
        dw[(jj * nb8 + b) * 2] = dw[(jj * nb8 + b) * 2 + 1] = f16(load_u16(wp));
      }
      for (int64_t b = nb; b < nb8; ++b) dw[(jj * nb8 + b) * 2] = dw[(jj * nb8 + b) * 2 + 1] = 0.0f;
    }
    const std::byte* next = w + (j0 + jn) * w_stride;
    const int64_t next_bytes = (std::min<int64_t>(w_rows, j0 + jn + kSmallJN) - (j0 + jn)) * w_stride;
    switch (jn) {
      case 4: small_pairs<4>(s, rows, out + j0, out_stride, next, next_bytes); break;
      case 3: small_pairs<3>(s, rows, out + j0, out_stride, next, next_bytes); break;
      case 2: small_pairs<2>(s, rows, out + j0, out_stride, next, next_bytes); break;
      default: small_pairs<1>(s, rows, out + j0, out_stride, next, next_bytes); break;
    }
  }
}

// One activation row against many weight rows (decode), the AVX2 stream_small kernel's steps with
// vpdpbusd on its 8 lanes: the activation's block scales and its bias lanes -kBias * lanes(a) are
// formed once per call; each weight block is its unsigned codes (Q8_0: one xor) into one vpdpbusd
// that starts from the bias (AVX2: sign trick or bias subtraction, maddubs, madd). The weight rows
// stream one after another with prefetch, as the memory-bound decode wants (two rows in flight,
// two streams, were no faster: 1B Q8_0 tg128 23.8 -> 23.1 tok/s, 270M 94.4 -> 94.3, 3 rounds).
// DecodeL2, ns per 32 values against AVX2 (4 alternating runs): Q8_0 1.07-1.12 -> 0.90-1.04, Q5_0
// 1.53-1.76 -> 1.09-1.23.
template <typename WBlock>
void stream_small(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a, int64_t,
                  int64_t, float* out, int64_t) {
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_0);
  constexpr int64_t kPrefetchAhead = 2048;  // as the AVX2 one-row kernels (avx2_common.h)
  const int64_t nb = n / kQK;
  thread_local Scratch da_buf, bias_buf;
  float* da = da_buf.get<float>(nb);
  auto* bias = bias_buf.get<__m256i>(nb);
  const __m256i kb = _mm256_set1_epi8(static_cast<char>(kBias<WBlock>));
  for (int64_t b = 0; b < nb; ++b) {
    const std::byte* ap = a + b * kAB;
    da[b] = f16(load_u16(ap));
    bias[b] = _mm256_sub_epi32(_mm256_setzero_si256(), lanes_u8s8(kb, loadu256(ap + offsetof(BlockQ8_0, qs))));
  }
  for (int64_t j = 0; j < w_rows; ++j) {
    const std::byte* wr = w + j * w_stride;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const std::byte* wp = wr + b * kWB;
      _mm_prefetch(reinterpret_cast<const char*>(wp) + kPrefetchAhead, _MM_HINT_T0);
      const __m256i p = _mm256_dpbusd_epi32(bias[b], unsigned_codes<WBlock>(wp), loadu256(a + b * kAB + offsetof(BlockQ8_0, qs)));
      // The weight scale widened in all 8 lanes, times the activation's: the float32 product of
      // the AVX2 kernel, lane by lane.
      const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(load_u16(wp))));
      acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da[b])), _mm256_cvtepi32_ps(p), acc);
    }
    out[j] = hsum8(acc) + 0.0f;  // (activation row 0) + 0.0f as the AVX2 kernel: a -0 sum becomes +0
  }
}

// ---------------------------------------------------------------------------------------------
// F16 x F16 and BF16 x BF16 in the batched order (vec_dot.h; the AVX2 block_float_batched kernel):
// one 8-lane float32 FMA accumulator per (weight row, activation row) over chunks of 8 values,
// reduced by hsum8. Here a 16-lane accumulator holds two activation rows, row i in lanes 0-7 and
// row i + 1 in lanes 8-15: the weight row's 8 widened values go to both halves (a broadcast load
// from the float32 panel). Widening either format to float32 is exact.
//
// The activation rows are packed in pairs once per call, [P][n / 8][16] values: chunk c of a pair
// is row 2p's values 8c .. 8c + 7, then row 2p + 1's (zeros for an odd last row). F16 pairs stay
// F16 and are widened in the tile, one conversion per pair and chunk beside the FMAs; BF16 pairs
// are widened as they are packed (as the AVX2 kernel does: BF16's widening, a zero-extension and a
// shift, would take two vector operations in the tile).

// The 8 values at p widened to float32.
template <DType kType>
__m256 widen8(const std::byte* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kType == DType::F16) return _mm256_cvtph_ps(h);
  else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));  // BF16: a float32's top half
}

template <DType kType>
using PairValue = std::conditional_t<kType == DType::F16, uint16_t, float>;

template <DType kType>
void pack_pairs(const std::byte* a, int64_t a_stride, int64_t rows, int64_t n, PairValue<kType>* pairs) {
  for (int64_t p = 0; p < (rows + 1) / 2; ++p) {
    const std::byte* a0 = a + 2 * p * a_stride;
    const std::byte* a1 = 2 * p + 1 < rows ? a0 + a_stride : nullptr;
    PairValue<kType>* dst = pairs + p * n * 2;
    for (int64_t i = 0; i < n; i += 8) {
      if constexpr (kType == DType::F16) {
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a0 + 2 * i));
        const __m128i hi = a1 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a1 + 2 * i)) : _mm_setzero_si128();
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst + 2 * i), _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
      } else {
        _mm256_store_ps(dst + 2 * i, widen8<kType>(a0 + 2 * i));
        _mm256_store_ps(dst + 2 * i + 8, a1 ? widen8<kType>(a1 + 2 * i) : _mm256_setzero_ps());
      }
    }
  }
}

template <DType kType>
__m512 load_pair(const PairValue<kType>* p) {
  if constexpr (kType == DType::F16) return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
  else return _mm512_load_ps(p);
}

template <DType kType, int JN, int RP>
void half_tile(const float* panel, int64_t n, const PairValue<kType>* pairs, int64_t p0, float* out, int64_t out_stride,
               int64_t rows) {
  __m512 acc[JN][RP];
  for (int jj = 0; jj < JN; ++jj)
    for (int pp = 0; pp < RP; ++pp) acc[jj][pp] = _mm512_setzero_ps();
  const PairValue<kType>* ap = pairs + p0 * n * 2;
  for (int64_t i = 0; i < n; i += 8) {
    __m512 av[RP];
    for (int pp = 0; pp < RP; ++pp) av[pp] = load_pair<kType>(ap + pp * n * 2 + 2 * i);
    for (int jj = 0; jj < JN; ++jj) {
      const __m512 wv = _mm512_broadcast_f32x8(_mm256_load_ps(panel + jj * n + i));
      for (int pp = 0; pp < RP; ++pp) acc[jj][pp] = _mm512_fmadd_ps(wv, av[pp], acc[jj][pp]);
    }
  }
  for (int jj = 0; jj < JN; ++jj)
    for (int pp = 0; pp < RP; ++pp) {
      const int64_t r = 2 * (p0 + pp);
      out[r * out_stride + jj] = hsum8(_mm512_castps512_ps256(acc[jj][pp]));
      if (r + 1 < rows) out[(r + 1) * out_stride + jj] = hsum8(_mm512_extractf32x8_ps(acc[jj][pp], 1));
    }
}

// 12 weight rows x 2 row pairs: 24 accumulators, 2 activation pairs and a weight vector; an F16
// pair's conversion serves 12 FMAs (against 8 x 3, MatmulFast/F16 with 2 threads: gate 151-153 ->
// 157-168 GMAC/s, down 141 -> 144; 1B F16 pp512 within the noise, 4 alternating rounds).
constexpr int kHalfJN = 12, kHalfRP = 2;

template <DType kType, int JN>
void half_pairs(const float* panel, int64_t n, const PairValue<kType>* pairs, int64_t rows, float* out,
                int64_t out_stride, const std::byte* next, int64_t next_bytes) {
  const int64_t np = (rows + 1) / 2;
  const int64_t tiles = (np + kHalfRP - 1) / kHalfRP;
  int64_t p0 = 0, tile = 0;
  for (; p0 + kHalfRP <= np; p0 += kHalfRP, ++tile) {
    prefetch_part(next, next_bytes, tile, tiles);
    half_tile<kType, JN, kHalfRP>(panel, n, pairs, p0, out, out_stride, rows);
  }
  if (p0 < np) prefetch_part(next, next_bytes, tiles - 1, tiles);
  for (; p0 < np; ++p0) half_tile<kType, JN, 1>(panel, n, pairs, p0, out, out_stride, rows);
}

// half_pairs<JN> for a panel of jn <= JN rows (JN a compile-time bound, so the tile's arrays stay
// in registers).
template <DType kType, int JN>
void half_panel_rows(const float* panel, int64_t n, const PairValue<kType>* pairs, int64_t rows, float* out,
                     int64_t out_stride, const std::byte* next, int64_t next_bytes, int jn) {
  if constexpr (JN > 1) {
    if (jn < JN) {
      half_panel_rows<kType, JN - 1>(panel, n, pairs, rows, out, out_stride, next, next_bytes, jn);
      return;
    }
  }
  half_pairs<kType, JN>(panel, n, pairs, rows, out, out_stride, next, next_bytes);
}

template <DType kType>
void block_half_batched(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a,
                        int64_t a_stride, int64_t rows, float* out, int64_t out_stride) {
  thread_local Scratch panel_buf, pair_buf;
  float* panel = panel_buf.get<float>(kHalfJN * n);
  auto* pairs = pair_buf.get<PairValue<kType>>((rows + 1) / 2 * n * 2);
  pack_pairs<kType>(a, a_stride, rows, n, pairs);
  for (int64_t j0 = 0; j0 < w_rows; j0 += kHalfJN) {
    const int jn = static_cast<int>(std::min<int64_t>(kHalfJN, w_rows - j0));
    for (int jj = 0; jj < jn; ++jj)
      for (int64_t i = 0; i < n; i += 8) _mm256_store_ps(panel + jj * n + i, widen8<kType>(w + (j0 + jj) * w_stride + 2 * i));
    const std::byte* next = w + (j0 + jn) * w_stride;
    const int64_t next_bytes = (std::min<int64_t>(w_rows, j0 + jn + kHalfJN) - (j0 + jn)) * w_stride;
    half_panel_rows<kType, kHalfJN>(panel, n, pairs, rows, out + j0, out_stride, next, next_bytes, jn);
  }
}

// ---------------------------------------------------------------------------------------------
// Q5_K and Q6_K x Q8_K in the batched order (vec_dot.h), the AVX2 block_k_batched kernel with 16
// weight rows in the lanes instead of 8: per super-block and activation row, lane j holds row j's
// exact integer sums and takes row j's float steps (res = d * isum, Q5_K: res = fma(-dmin, msum,
// res); acc = fma(res, da, acc)); lanes are independent, so their number does not change any bits.
// The integer products are those of the AVX2 kernel (maddubs of 4 codes of every row against 4
// broadcast activation bytes, kPerMadd of them summed in int16: 2 * 2 * 63 * 127 for Q6_K,
// 4 * 2 * 31 * 127 for Q5_K, both < 2^15), widened and scaled by vpdpwssd (madd + add in one).

// Chunk c's 32 unsigned codes of a super-block.
template <typename WBlock>
__m256i k_chunk(const uint8_t* blk, int c) {
  if constexpr (std::is_same_v<WBlock, BlockQ6_K>) {
    // 0..63: low nibble k / 2 of ql[64 h + 32 (k % 2) + l], high bits 2k of qh[32 h + l] (h = c / 4, k = c % 4).
    const int h = c / 4, k = c % 4;
    const __m256i ql = loadu256(blk + offsetof(BlockQ6_K, ql) + 64 * h + 32 * (k % 2));
    const __m256i qh = loadu256(blk + offsetof(BlockQ6_K, qh) + 32 * h);
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (k / 2)), _mm256_set1_epi8(15));
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
    return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
  } else {
    // Q5_K, 0..31: nibble c % 2 of qs[32 (c / 2) + l], fifth bit = bit c of qh[l].
    const __m256i q = loadu256(blk + offsetof(BlockQ5_K, qs) + 32 * (c / 2));
    const __m256i qh = loadu256(blk + offsetof(BlockQ5_K, qh));
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(q, 4 * (c % 2)), _mm256_set1_epi8(15));
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, c), _mm256_set1_epi8(1));
    return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
  }
}

// One super-block of 16 weight rows, rows in the lanes.
template <typename WBlock>
struct KGroup16 {
  static constexpr bool kQ6 = std::is_same_v<WBlock, BlockQ6_K>;
  static constexpr int kScales = kQ6 ? 16 : 8;  // sub-blocks of 16 (Q6_K) or 32 (Q5_K) values
  static constexpr int kPairs = kQ6 ? 8 : 4;
  static constexpr int kPerMadd = kQ6 ? 2 : 4;
  alignas(64) int32_t codes[8][8][16];      // [c][t][j]: row j's codes 4t .. 4t + 3 of chunk c
  alignas(64) uint32_t sc[kScales][16];     // [s][j]: row j's scale of sub-block s, in both int16 halves
  alignas(64) uint32_t pair[kPairs][16];    // [i][j]: Q6_K row j's scales of sub-blocks 2i (low int16),
                                            // 2i + 1; Q5_K its mins of sub-blocks 2i, 2i + 1
  alignas(64) float d[16], dmin[16];
};

template <typename WBlock>
void decode_k_group16(const std::byte* w, int64_t w_stride, int64_t blk_offset, KGroup16<WBlock>* g) {
  const uint8_t* blk[16];
  for (int j = 0; j < 16; ++j) blk[j] = reinterpret_cast<const uint8_t*>(w + j * w_stride + blk_offset);
  for (int c = 0; c < 8; ++c) {
    __m256i rows[16];
    for (int j = 0; j < 16; ++j) rows[j] = k_chunk<WBlock>(blk[j], c);
    transpose_16x8(rows, reinterpret_cast<__m512i*>(g->codes[c]));
  }
  for (int j = 0; j < 16; ++j) {
    const auto* bj = reinterpret_cast<const std::byte*>(blk[j]);
    int16_t sc[16], pr[16];
    if constexpr (KGroup16<WBlock>::kQ6) {
      int8_t s8[16];
      std::memcpy(s8, bj + offsetof(BlockQ6_K, scales), 16);
      for (int s = 0; s < 16; ++s) sc[s] = pr[s] = s8[s];
    } else {
      uint8_t sm[16];  // 6-bit scales, then mins
      q4_k_scales_mins(bj + offsetof(BlockQ5_K, scales), sm);
      for (int s = 0; s < 8; ++s) {
        sc[s] = sm[s];
        pr[s] = sm[8 + s];
      }
      g->dmin[j] = f16(load_u16(bj + offsetof(BlockQ5_K, dmin)));
    }
    for (int s = 0; s < KGroup16<WBlock>::kScales; ++s) g->sc[s][j] = static_cast<uint16_t>(sc[s]) * 0x10001u;
    for (int i = 0; i < KGroup16<WBlock>::kPairs; ++i)
      g->pair[i][j] = static_cast<uint16_t>(pr[2 * i]) | uint32_t{static_cast<uint16_t>(pr[2 * i + 1])} << 16;
    g->d[j] = f16(load_u16(bj + offsetof(WBlock, d)));
  }
}

// RN activation rows (their super-block at a, a_stride bytes apart) against a decoded group: each
// code and scale vector loaded once serves all RN rows (with one row per pass the loads, not the
// arithmetic, set the pace).
template <typename WBlock, int RN>
void k_group_rows(const KGroup16<WBlock>* g, const std::byte* a, int64_t a_stride, __m512* acc) {
  using G = KGroup16<WBlock>;
  __m512i isum[RN];
  for (int i = 0; i < RN; ++i) isum[i] = _mm512_setzero_si512();
  for (int c = 0; c < 8; ++c)
    for (int t = 0; t < 8; t += G::kPerMadd) {
      __m512i p16[RN];
      for (int u = 0; u < G::kPerMadd; ++u) {
        const __m512i codes = load512(g->codes[c][t + u]);
        for (int i = 0; i < RN; ++i) {
          const __m512i p = _mm512_maddubs_epi16(codes, broadcast_dword(a + i * a_stride + offsetof(BlockQ8_K, qs) + 32 * c + 4 * (t + u)));
          p16[i] = u == 0 ? p : _mm512_add_epi16(p16[i], p);
        }
      }
      const __m512i sc = load512(g->sc[G::kQ6 ? 2 * c + t / 4 : c]);
      for (int i = 0; i < RN; ++i) isum[i] = _mm512_dpwssd_epi32(isum[i], p16[i], sc);
    }
  for (int i = 0; i < RN; ++i) {
    const std::byte* ab = a + i * a_stride;
    float da;
    std::memcpy(&da, ab, 4);
    __m512 res;
    if constexpr (G::kQ6) {
      // Codes are offset by 32: - 32 * sum_s sc_s * bsum_s, the bsums taken in pairs.
      __m512i off = _mm512_setzero_si512();
      for (int k = 0; k < 8; ++k)
        off = _mm512_dpwssd_epi32(off, load512(g->pair[k]), broadcast_dword(ab + offsetof(BlockQ8_K, bsums) + 4 * k));
      res = _mm512_mul_ps(_mm512_load_ps(g->d), _mm512_cvtepi32_ps(_mm512_sub_epi32(isum[i], _mm512_slli_epi32(off, 5))));
    } else {
      // Mins: sum_s mn_s * (sum of the sub-block's 32 activation codes, |.| <= 32 * 127: int16).
      int16_t bsums[16];
      std::memcpy(bsums, ab + offsetof(BlockQ8_K, bsums), sizeof bsums);
      __m512i msum = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k)
        msum = _mm512_dpwssd_epi32(msum, load512(g->pair[k]),
                                   pair_dword(bsums[4 * k] + bsums[4 * k + 1], bsums[4 * k + 2] + bsums[4 * k + 3]));
      res = _mm512_mul_ps(_mm512_load_ps(g->d), _mm512_cvtepi32_ps(isum[i]));
      const __m512 neg_dmin = _mm512_castsi512_ps(
          _mm512_xor_si512(_mm512_castps_si512(_mm512_load_ps(g->dmin)), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
      res = _mm512_fmadd_ps(neg_dmin, _mm512_cvtepi32_ps(msum), res);  // -dmin, signed zero kept
    }
    acc[i] = _mm512_fmadd_ps(res, _mm512_set1_ps(da), acc[i]);
  }
}

template <typename WBlock>
void block_k_batched(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a,
                     int64_t a_stride, int64_t rows, float* out, int64_t out_stride) {
  constexpr int64_t kWB = sizeof(WBlock), kAB = sizeof(BlockQ8_K);
  constexpr int kTile = 64;  // activation rows per decoded super-block (the decoding is amortized over them)
  const int64_t groups = w_rows / 16;
  thread_local Scratch group_buf;
  auto* g = group_buf.get<KGroup16<WBlock>>(1);
  for (int64_t j0 = 0; j0 < groups * 16; j0 += 16) {
    for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
      const int tile = static_cast<int>(std::min<int64_t>(kTile, rows - r0));
      __m512 acc[kTile];
      for (int r = 0; r < tile; ++r) acc[r] = _mm512_setzero_ps();
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        decode_k_group16<WBlock>(w + j0 * w_stride, w_stride, b * kWB, g);
        const std::byte* ab = a + r0 * a_stride + b * kAB;
        int r = 0;
        for (; r + 4 <= tile; r += 4) k_group_rows<WBlock, 4>(g, ab + r * a_stride, a_stride, acc + r);
        for (; r < tile; ++r) k_group_rows<WBlock, 1>(g, ab + r * a_stride, a_stride, acc + r);
      }
      for (int r = 0; r < tile; ++r) {
        alignas(64) float v[16];
        _mm512_store_ps(v, acc[r]);
        for (int j = 0; j < 16; ++j) out[(r0 + r) * out_stride + j0 + j] = v[j];
      }
    }
  }
  // Rows past the last group of 16: the AVX2 kernel (the same bits).
  constexpr DType kType = std::is_same_v<WBlock, BlockQ6_K> ? DType::Q6_K : DType::Q5_K;
  if (groups * 16 < w_rows)
    block_fn_avx2(kType, DotOrder::Batched)(n, w + groups * 16 * w_stride, w_stride, w_rows - groups * 16, a, a_stride,
                                            rows, out + groups * 16, out_stride);
}

}  // namespace

BlockFn stream_fn_avx512(DType weight, DotOrder order) {
  if (order != DotOrder::VecDot) return nullptr;
  switch (weight) {
    case DType::Q4_0: return stream_small<BlockQ4_0>;
    case DType::Q5_0: return stream_small<BlockQ5_0>;
    case DType::Q8_0: return stream_small<BlockQ8_0>;
    default: return nullptr;
  }
}

BlockFn block_fn_avx512(DType weight, DotOrder order) {
  if (order == DotOrder::Batched) {
    if (weight == DType::F16) return block_half_batched<DType::F16>;
    if (weight == DType::BF16) return block_half_batched<DType::BF16>;
    if (weight == DType::Q5_K) return block_k_batched<BlockQ5_K>;
    if (weight == DType::Q6_K) return block_k_batched<BlockQ6_K>;
    return nullptr;
  }
  switch (weight) {
    case DType::Q4_0: return block_small<BlockQ4_0>;
    case DType::Q5_0: return block_small<BlockQ5_0>;
    case DType::Q8_0: return block_small<BlockQ8_0>;
    default: return nullptr;
  }
}

}  // namespace gemrt::quant::detail
