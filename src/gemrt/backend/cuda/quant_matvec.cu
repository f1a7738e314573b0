#include "gemrt/backend/cuda/quant_matvec.cuh"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <string>
#include <utility>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/env_switch.h"
#include "gemrt/backend/cuda/int8_codes.cuh"
#include "gemrt/backend/cuda/matvec_common.cuh"
#include "gemrt/backend/cuda/norm_device.cuh"
#include "gemrt/backend/cuda/timeline_device.cuh"

namespace gemrt::cuda {
namespace {

constexpr int64_t kQStageBytes = int64_t{160} << 10;  // rounded activation rows + their scales, per block
constexpr int kRoundThreads = 1024;                   // quant_round_kernel's one block

// ---- Reading 2-byte aligned blocks with aligned 32-bit loads --------------------------------
// GGUF's 32-value blocks (18 to 34 bytes) and Q6_K's 210-byte blocks start on even addresses,
// half of them not on a 4-byte boundary. A region of a block is loaded as the aligned words that
// overlap it (each word that holds a byte of the weights lies inside their allocation), and its
// 4-byte groups are put back together with a funnel shift when the block starts at 2 mod 4.

// The `kWords` aligned words overlapping the region of `kBytes` bytes at p (p even): word i is
// loaded only where it holds a byte of the region.
template <int kWords, int kBytes>
struct Region {
  uint32_t w[kWords];
  uint32_t mis;  // p % 4: 0 or 2
  __device__ inline void load(const uint8_t* p) {
    static_assert(kWords == (kBytes + 1) / 4 + 1, "words overlapping a region that starts at 0 or 2 mod 4");
    const auto a = reinterpret_cast<uintptr_t>(p);
    mis = static_cast<uint32_t>(a & 2u);
    const auto* base = reinterpret_cast<const uint32_t*>(a & ~uintptr_t{3});
#pragma unroll
    for (int i = 0; i < kWords; ++i) w[i] = 4u * i < mis + kBytes ? __ldg(base + i) : 0u;
  }
  // Bytes kOff .. kOff + 3 of the region (kOff even), little-endian.
  template <int kOff>
  __device__ inline uint32_t at() const {
    static_assert(kOff % 2 == 0 && kOff + 4 <= kBytes + (kBytes % 4 ? 2 : 0), "inside the region");
    constexpr int i = kOff / 4;
    if constexpr (kOff % 4 == 0) return mis ? __funnelshift_r(w[i], w[i + 1], 16) : w[i];
    else return mis ? w[i + 1] : __funnelshift_r(w[i], w[i + 1], 16);
  }
};

__device__ inline float half_lo(uint32_t v) { return __half2float(__ushort_as_half(static_cast<unsigned short>(v & 0xffffu))); }
__device__ inline float half_hi(uint32_t v) { return __half2float(__ushort_as_half(static_cast<unsigned short>(v >> 16))); }

// Fifth bits of values 4i .. 4i + 3 (bits 4i.. of qh) moved to bit 4 of each byte.
__device__ inline uint32_t fifth_bits(uint32_t qh, int i) {
  const uint32_t h = (qh >> (4 * i)) & 15u;
  return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25);
}

// Sum of 8 code words times the 32 int8 activation codes at xq (16-byte aligned, shared memory),
// in two halves of 16 values.
__device__ inline int2 dot32(const uint32_t* c, const int8_t* xq) {
  const int4 a = reinterpret_cast<const int4*>(xq)[0];
  const int4 b = reinterpret_cast<const int4*>(xq)[1];
  int lo = __dp4a(static_cast<int>(c[0]), a.x, 0);
  lo = __dp4a(static_cast<int>(c[1]), a.y, lo);
  lo = __dp4a(static_cast<int>(c[2]), a.z, lo);
  lo = __dp4a(static_cast<int>(c[3]), a.w, lo);
  int hi = __dp4a(static_cast<int>(c[4]), b.x, 0);
  hi = __dp4a(static_cast<int>(c[5]), b.y, hi);
  hi = __dp4a(static_cast<int>(c[6]), b.z, hi);
  hi = __dp4a(static_cast<int>(c[7]), b.w, hi);
  return {lo, hi};
}

// ---- Formats -----------------------------------------------------------------------------------
// A format's unit is the run of kValues values of a row that one thread loads (Raw, all loads
// issued before any is used) and multiplies: a block of the 32-value formats, a pair of Q4_K /
// Q5_K sub-blocks (the low and high nibbles of the same 32 code bytes), half a Q6_K block.
// dot() returns sum over the unit of w_c * (dx q_c) for one activation row, where xq holds the
// row's int8 codes from the unit's first value and xs its per-32 {dx, dx * sum q}.
template <DType kType>
struct QFormat;

// The 32-value formats: d (f16) at 0, then m (f16, the _1 formats), qh (4 bytes, Q5_x), codes.
template <DType kType, int kBytes, int kCodes, bool kOffset, bool kFifth>
struct Block32 {
  static constexpr int kValues = 32, kRawWords = (kBytes + 1) / 4 + 1;
  using Raw = Region<(kBytes + 1) / 4 + 1, kBytes>;
  __device__ static inline void load(const uint8_t* row, int64_t u, Raw& r) { r.load(row + u * kBytes); }
  __device__ static inline float dot(const Raw& r, int64_t, const int8_t* xq, const float2* xs) {
    uint32_t c[8];
    if constexpr (kType == DType::Q8_0) {
      c[0] = r.template at<2>(), c[1] = r.template at<6>(), c[2] = r.template at<10>(), c[3] = r.template at<14>();
      c[4] = r.template at<18>(), c[5] = r.template at<22>(), c[6] = r.template at<26>(), c[7] = r.template at<30>();
    } else {
      const uint32_t q[4] = {r.template at<kCodes>(), r.template at<kCodes + 4>(), r.template at<kCodes + 8>(),
                             r.template at<kCodes + 12>()};
#pragma unroll
      for (int i = 0; i < 4; ++i) {  // values 0..15: low nibbles; 16..31: high nibbles
        c[i] = q[i] & 0x0f0f0f0fu;
        c[4 + i] = (q[i] >> 4) & 0x0f0f0f0fu;
      }
      if constexpr (kFifth) {
        const uint32_t qh = r.template at<kCodes - 4>();
#pragma unroll
        for (int i = 0; i < 8; ++i) c[i] |= fifth_bits(qh, i);
      }
      if constexpr (!kOffset) {  // codes centred: q - 8 (Q4_0), q - 16 (Q5_0), as signed bytes
#pragma unroll
        for (int i = 0; i < 8; ++i) c[i] = __vsub4(c[i], kFifth ? 0x10101010u : 0x08080808u);
      }
    }
    const uint32_t head = r.template at<0>();
    const int2 s = dot32(c, xq);
    const float d = half_lo(head);
    const float v = d * (xs[0].x * static_cast<float>(s.x + s.y));
    if constexpr (kOffset) return fmaf(half_hi(head), xs[0].y, v);  // + m * sum of the activation
    return v;
  }
};
template <> struct QFormat<DType::Q4_0> : Block32<DType::Q4_0, 18, 2, false, false> {};
template <> struct QFormat<DType::Q4_1> : Block32<DType::Q4_1, 20, 4, true, false> {};
template <> struct QFormat<DType::Q5_0> : Block32<DType::Q5_0, 22, 6, false, true> {};
template <> struct QFormat<DType::Q5_1> : Block32<DType::Q5_1, 24, 8, true, true> {};
template <> struct QFormat<DType::Q8_0> : Block32<DType::Q8_0, 34, 2, false, false> {};

// Byte k (0..11) of a K-quant's 12 scale bytes, held in words y, z, w of its 16-byte head.
__device__ inline int scale_byte(const uint4& head, int k) {
  const uint32_t w = k < 4 ? head.y : k < 8 ? head.z : head.w;
  return static_cast<int>((w >> (8 * (k % 4))) & 0xffu);
}

// Q4_K / Q5_K: 144 / 176-byte blocks (16-byte aligned rows): a 16-byte head (d, dmin, 12 scale
// bytes), Q5_K's 32 bytes of fifth bits, 128 code bytes. Unit = sub-blocks 2p and 2p + 1.
template <DType kType>
struct KQuant45 {
  static constexpr bool kQ5 = kType == DType::Q5_K;
  static constexpr int kValues = 64, kRawWords = kQ5 ? 20 : 12;
  static constexpr int kBytes = kQ5 ? 176 : 144, kCodeOff = kQ5 ? 48 : 16;
  struct Raw {
    uint4 head, q[2], qh[kQ5 ? 2 : 1];  // qh unused in Q4_K
  };
  __device__ static inline void load(const uint8_t* row, int64_t u, Raw& r) {
    const auto* b = reinterpret_cast<const uint4*>(row + (u / 4) * kBytes);
    const int pair = static_cast<int>(u % 4);
    r.head = __ldg(b);
    r.q[0] = __ldg(b + kCodeOff / 16 + 2 * pair);
    r.q[1] = __ldg(b + kCodeOff / 16 + 2 * pair + 1);
    if constexpr (kQ5) {
      r.qh[0] = __ldg(b + 1);
      r.qh[1] = __ldg(b + 2);
    }
  }
  __device__ static inline float dot(const Raw& r, int64_t u, const int8_t* xq, const float2* xs) {
    const int pair = static_cast<int>(u % 4);
    const uint32_t q[8] = {r.q[0].x, r.q[0].y, r.q[0].z, r.q[0].w, r.q[1].x, r.q[1].y, r.q[1].z, r.q[1].w};
    uint32_t qh[8] = {};
    if constexpr (kQ5) {
      const uint32_t h[8] = {r.qh[0].x, r.qh[0].y, r.qh[0].z, r.qh[0].w, r.qh[1].x, r.qh[1].y, r.qh[1].z, r.qh[1].w};
#pragma unroll
      for (int i = 0; i < 8; ++i) qh[i] = h[i];
    }
    const float d = half_lo(r.head.x), dmin = half_hi(r.head.x);
    float sum = 0.0f;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int j = 2 * pair + half;  // sub-block
      uint32_t c[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        c[i] = (q[i] >> (4 * half)) & 0x0f0f0f0fu;
        if constexpr (kQ5) c[i] |= ((qh[i] >> j) & 0x01010101u) << 4;
      }
      // quant::k_scale_min on the head's scale bytes
      int sc, mn;
      if (j < 4) {
        sc = scale_byte(r.head, j) & 63;
        mn = scale_byte(r.head, j + 4) & 63;
      } else {
        sc = (scale_byte(r.head, j + 4) & 15) | ((scale_byte(r.head, j - 4) >> 6) << 4);
        mn = (scale_byte(r.head, j + 4) >> 4) | ((scale_byte(r.head, j) >> 6) << 4);
      }
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(mn);
      const int2 s = dot32(c, xq + 32 * half);
      sum += fmaf(dl, xs[half].x * static_cast<float>(s.x + s.y), -ml * xs[half].y);
    }
    return sum;
  }
};
template <> struct QFormat<DType::Q4_K> : KQuant45<DType::Q4_K> {};
template <> struct QFormat<DType::Q5_K> : KQuant45<DType::Q5_K> {};

// Q6_K: 210-byte blocks (2-byte aligned): ql[128], qh[64], 16 int8 scales, d (f16). Unit = half
// h of a block, values 128h .. 128h + 127: low nibbles from ql[64h ..], two high bits from
// qh[32h ..], a scale per 16 values; value = d * scale * (code - 32).
template <>
struct QFormat<DType::Q6_K> {
  static constexpr int kValues = 128, kRawWords = 30;
  struct Raw {
    Region<17, 64> ql;
    Region<9, 32> qh;
    Region<3, 8> sc;
    uint32_t d;  // the word holding d
  };
  __device__ static inline void load(const uint8_t* row, int64_t u, Raw& r) {
    const uint8_t* b = row + (u / 2) * 210;
    const int h = static_cast<int>(u % 2);
    r.ql.load(b + 64 * h);
    r.qh.load(b + 128 + 32 * h);
    r.sc.load(b + 192 + 8 * h);
    r.d = __ldg(reinterpret_cast<const uint32_t*>(reinterpret_cast<uintptr_t>(b + 208) & ~uintptr_t{3}));
  }
  __device__ static inline float dot(const Raw& r, int64_t, const int8_t* xq, const float2* xs) {
    const float d = r.ql.mis ? half_hi(r.d) : half_lo(r.d);
    const uint32_t s03 = r.sc.at<0>(), s47 = r.sc.at<4>();
    const uint32_t qh[8] = {r.qh.at<0>(),  r.qh.at<4>(),  r.qh.at<8>(),  r.qh.at<12>(),
                            r.qh.at<16>(), r.qh.at<20>(), r.qh.at<24>(), r.qh.at<28>()};
    float sum = 0.0f;
#pragma unroll
    for (int g = 0; g < 4; ++g) {  // values 32g .. 32g + 31 of the half
      uint32_t ql[8];
      if (g % 2 == 0) {
        ql[0] = r.ql.at<0>(), ql[1] = r.ql.at<4>(), ql[2] = r.ql.at<8>(), ql[3] = r.ql.at<12>();
        ql[4] = r.ql.at<16>(), ql[5] = r.ql.at<20>(), ql[6] = r.ql.at<24>(), ql[7] = r.ql.at<28>();
      } else {
        ql[0] = r.ql.at<32>(), ql[1] = r.ql.at<36>(), ql[2] = r.ql.at<40>(), ql[3] = r.ql.at<44>();
        ql[4] = r.ql.at<48>(), ql[5] = r.ql.at<52>(), ql[6] = r.ql.at<56>(), ql[7] = r.ql.at<60>();
      }
      uint32_t c[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const uint32_t low = (ql[i] >> (4 * (g / 2))) & 0x0f0f0f0fu;
        const uint32_t high = ((qh[i] >> (2 * g)) & 0x03030303u) << 4;
        c[i] = __vsub4(low | high, 0x20202020u);  // code - 32 as signed bytes
      }
      const uint32_t sw = g < 2 ? s03 : s47;
      const auto scale = [&](int k) {  // int8 scale 2g + k of the half
        return static_cast<float>(static_cast<int8_t>((sw >> (8 * ((2 * g + k) % 4))) & 0xffu));
      };
      const int2 s = dot32(c, xq + 32 * g);
      const float dx = xs[g].x;
      sum += (d * scale(0)) * (dx * static_cast<float>(s.x)) + (d * scale(1)) * (dx * static_cast<float>(s.y));
    }
    return sum;
  }
};

// ---- The kernels -------------------------------------------------------------------------------
// The activation rows are rounded to int8 once per product, by quant_round_kernel (one block),
// into the executable's scratch (MatVecJob::rounded), and every block of the product reads the
// codes from there as it goes (through L1). Without scratch each block of the product rounds the
// whole rows into its own shared memory first (stage_int8): k / 2048 dependent passes over x, and
// three with an absorbed NormAdd, before its first product; on an H100 rounding once made Q4_K_M
// decode 8-9 % and Q8_0 decode 14-18 % faster on 4B / 12B shapes (bench/RESULTS.md, session 15).

// What stage_int8 rounds and where the codes go: activation rows x [t][k], or with pre_add the
// NormAdd's sum pre.residual + rms_norm(pre.in) (also written to pre.sum), times the norm's gain
// where normed. Codes: value c of row i at xq[i * xq_stride + c + (c >> unit_shift) * pad], pad
// bytes after each unit of 2^unit_shift values (staged in shared memory: see stage_padding();
// rounded once into scratch: none, xq_stride = k).
struct RoundSpec {
  const float* x;
  int64_t k;
  bool normed;
  NormSpec norm;
  bool pre_add;
  PreAdd pre;
  int64_t xq_stride;
  int unit_shift, pad;
};

struct QParams {
  RoundSpec in;  // the product's activation
  const uint8_t* w[3];
  int64_t rows[3];
  int64_t row_bytes[3];
  bool second[3];       // mixed products: weight m is in the kernel's second format
  float* out[3];
  Activation act;
  int tpr;              // threads per row: 4 .. 256, a power of two
  int64_t total_rows;   // rows of all weights (gated: of the gate)
  int64_t row_groups;   // ceil(total_rows / (256 / tpr))
  int prefetch;         // units each thread asks L2 for before pdl_wait() (prefetch_pieces)
  // Rounded once: codes [t][k], per-32 scales [t][k / 32] and 1 / rms [t] (int8_codes.cuh).
  int8_t* gq;
  float2* gs;
  float* ginv;
  // Gated products that hand their output on as codes (MatVecJob::codes_out): codes [t][rows]
  // and per-32 scales [t][rows / 32]; null: none.
  int8_t* oq;
  float2* os;
  // One-weight products whose output is the next product's NormAdd input
  // (MatVecJob::next_codes): the last block to finish rounds `next` (its pre.in is this output)
  // into codes nq [t][k], scales ns and 1 / rms ninv; counter counts the finished blocks (zero
  // before, left zero). Null counter: none.
  RoundSpec next;
  int8_t* nq;
  float2* ns;
  float* ninv;
  int* counter;
  // GEMRT_CUDA_TIMELINE: the rounding's and the product's span slots (timeline_device.cuh); null: none.
  unsigned long long* round_stamps;
  unsigned long long* stamps;
};

// Units whose loads one thread issues before using any: about 24 words of weights in flight
// (1 to 4 units).
template <DType kType, bool kGated>
constexpr int q_unroll() {
  constexpr int words = QFormat<kType>::kRawWords * (kGated ? 2 : 1);
  return words >= 24 ? 1 : 24 / words > 4 ? 4 : 24 / words;
}

// Rounds the activation rows (normed / PreAdd as matvec) to int8 codes xq [kRows][k] and per-32
// scales xs [kRows][k / 32] = {dx, dx * sum q}; inv[i] = 1 / rms of row i (normed) or 1. A thread
// takes 4 consecutive values (one float4), so 8 neighbouring lanes hold a 32-value block and
// meet by shuffles; each thread issues kLoads such loads before using any, so a row of k values
// costs k / (4 * 256 * kLoads) memory round trips (kLoads 4 spilled registers) (the rows of a down projection are 7-22k
// values long, and one round trip per 32 values would cost more than the product itself).
// writes_sum: this block writes the NormAdd's sum (one block of the launch does). kFresh: pre.in
// was written by other blocks of this launch (the last block's rounding for the next product),
// so it is read from L2, past this SM's L1.
template <int kRows, bool kFresh = false>
__device__ inline void stage_int8(const RoundSpec& p, int8_t* xq, float2* xs, float* inv, bool writes_sum) {
  constexpr int kLoads = 2;
  __shared__ float inv_block[kRows];
  const int tid = static_cast<int>(threadIdx.x);
  const int64_t n4 = p.k / 4, nb = p.k / 32;
  for (int i = 0; i < kRows; ++i) {
    float inv_post = 0.0f;
    if (p.pre_add) inv_post = row_inv_rms<kFresh>(p.pre.in + i * p.k, p.k, p.pre.norm.eps);
    const auto* x4 = reinterpret_cast<const float4*>(p.pre_add ? p.pre.residual + i * p.k : p.x + i * p.k);
    const auto* y4 = reinterpret_cast<const float4*>(p.pre_add ? p.pre.in + i * p.k : p.x + i * p.k);
    float ss = 0.0f;
    for (int64_t f0 = 0; f0 < n4; f0 += int64_t{kLoads} * blockDim.x) {
      // Every load of the pass, the gains too, before any store: a load after the sum's (or the
      // codes') global store may alias it, so it would wait for that store's value, one gain
      // after another.
      float4 a[kLoads], y[kLoads];
      float g_post[kLoads][4], g_norm[kLoads][4];
#pragma unroll
      for (int j = 0; j < kLoads; ++j) {
        const int64_t f = f0 + int64_t{j} * blockDim.x + tid;
        a[j] = f < n4 ? x4[f] : float4{};
        if (p.pre_add) y[j] = f < n4 ? (kFresh ? __ldcg(y4 + f) : y4[f]) : float4{};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          g_post[j][e] = f < n4 && p.pre_add ? gain_at(p.pre.norm, 4 * f + e) : 1.0f;
          g_norm[j][e] = f < n4 && p.normed ? gain_at(p.norm, 4 * f + e) : 1.0f;
        }
      }
#pragma unroll
      for (int j = 0; j < kLoads; ++j) {
        const int64_t f = f0 + int64_t{j} * blockDim.x + tid;
        const bool in = f < n4;  // alike for the 8 lanes of a 32-value block (n4 is a multiple of 8)
        float v[4] = {a[j].x, a[j].y, a[j].z, a[j].w};
        const float yv[4] = {y[j].x, y[j].y, y[j].z, y[j].w};
        float g[4];
        float amax = 0.0f;
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t c = 4 * f + e;
          if (in && p.pre_add) {  // the absorbed NormAdd, in norm_add_kernel's operation order
            v[e] = v[e] + (yv[e] * inv_post) * g_post[j][e];
            if (writes_sum) p.pre.sum[i * p.k + c] = v[e];
          }
          ss += v[e] * v[e];
          g[e] = in && p.normed ? v[e] * g_norm[j][e] : v[e];
          amax = fmaxf(amax, fabsf(g[e]));
        }
        // every lane takes part in the shuffles (a lane past the row holds zeros)
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 4));
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
        const float dx = code_step(amax);
        uint32_t packed = 0;
        int qsum = 0;
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int q = code_of(g[e], amax, dx);
          qsum += q;
          packed |= (static_cast<uint32_t>(q) & 0xffu) << (8 * e);
        }
        qsum += __shfl_xor_sync(0xffffffffu, qsum, 4);
        qsum += __shfl_xor_sync(0xffffffffu, qsum, 2);
        qsum += __shfl_xor_sync(0xffffffffu, qsum, 1);
        if (in) {
          const int64_t c = 4 * f;
          *reinterpret_cast<uint32_t*>(xq + i * p.xq_stride + c + (c >> p.unit_shift) * p.pad) = packed;
          if (tid % 8 == 0) xs[i * nb + f / 8] = make_float2(dx, dx * static_cast<float>(qsum));
        }
      }
    }
    if (p.normed) {
      ss = block_sum(ss);
      if (threadIdx.x == 0) inv_block[i] = 1.0f / sqrtf(ss / static_cast<float>(p.k) + p.norm.eps);
    }
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kRows; ++i) inv[i] = p.normed ? inv_block[i] : 1.0f;
}

// Adds one weight row's products with the activation rows (codes xq, per-32 scales xs) to acc_a,
// and gated the up row's to acc_b: the tpr threads of the row take its units in turn
// (neighbouring threads, neighbouring units), each issuing the loads of kUnroll units before
// using them.
template <DType kType, int kRows, bool kGated>
__device__ inline void row_products(const QParams& p, const uint8_t* wa, const uint8_t* wb, int sub, int tpr,
                                    const int8_t* xq, const float2* xs, float* acc_a, float* acc_b) {
  using F = QFormat<kType>;
  constexpr int kUnroll = q_unroll<kType, kGated>();
  const int64_t units = p.in.k / F::kValues, nb = p.in.k / 32;
  for (int64_t u0 = sub; u0 < units; u0 += int64_t{kUnroll} * tpr) {
    typename F::Raw ra[kUnroll], rb[kUnroll];
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      const int64_t u = u0 + static_cast<int64_t>(j) * tpr;
      if (u < units) {
        F::load(wa, u, ra[j]);
        if constexpr (kGated) F::load(wb, u, rb[j]);
      }
    }
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      const int64_t u = u0 + static_cast<int64_t>(j) * tpr;
      if (u >= units) break;
      const int64_t c0 = u * F::kValues, q0 = u * (F::kValues + p.in.pad);
#pragma unroll
      for (int i = 0; i < kRows; ++i) {
        acc_a[i] += F::dot(ra[j], u, xq + i * p.in.xq_stride + q0, xs + i * nb + c0 / 32);
        if constexpr (kGated) acc_b[i] += F::dot(rb[j], u, xq + i * p.in.xq_stride + q0, xs + i * nb + c0 / 32);
      }
    }
  }
}

// A gated product that hands its output on (QParams::oq): the outputs val of the block's row group
// (256 / tpr rows, a multiple of 32, as the output width is) rounded per 32 rows, a warp per 32,
// into the codes the next product reads instead of rounding them itself. Every thread of the
// block calls it.
template <int kRows>
__device__ inline void hand_on_codes(const QParams& p, int64_t group, int rows_per_group, int slot, int sub,
                                     const float* val) {
  __shared__ float rows_out[kRows][kMatVecWarps * kWarp / 4];  // tpr >= 4
  if (sub == 0) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) rows_out[i][slot] = val[i];
  }
  __syncthreads();
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t first = group * rows_per_group + int64_t{warp} * kWarp;  // the warp's 32 rows
  if (warp < rows_per_group / kWarp && first < p.total_rows) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const int64_t at = i * p.total_rows + first;
      round_warp32(rows_out[i][warp * kWarp + lane], p.oq + at, p.os + at / 32);
    }
  }
  __syncthreads();  // rows_out is written again for the next row group
}

// The next product's rounding, by the last block of this product to finish (QParams::counter):
// every block makes its outputs visible and counts itself; the last one, seeing them all, runs
// the NormAdd and the norm and rounds (quant_round_kernel's arithmetic, on this block's threads),
// so the next product needs no rounding launch. Every thread of the block calls it.
template <int kRows>
__device__ inline void round_next(const QParams& p) {
  __shared__ bool last;
  __threadfence();  // this thread's outputs, before its block counts as finished
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(p.counter, 1) == static_cast<int>(gridDim.x) - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();  // the other blocks' outputs are visible from here
  float inv[kRows];
  stage_int8<kRows, true>(p.next, p.nq, p.ns, inv, true);
  if (threadIdx.x == 0) {
    for (int i = 0; i < kRows; ++i) p.ninv[i] = inv[i];
    *p.counter = 0;
  }
}

// A block of 256 threads walks groups of 256 / tpr rows (grid-stride; the grid is one wave of
// resident blocks), row_products for each. kRows = t and kGated are fixed at compile time so
// that accumulators and loads in flight stay in registers. kRounded: the codes come from the
// scratch quant_round_kernel filled; otherwise the block first stages them in shared memory.
// Weights of format kType, or with kMixed weight m in kSecond where p.second[m] (mixed products:
// both formats read the same codes, so one launch serves, e.g., Q4_K_M's q / k in Q4_K and v in
// Q6_K).
// kMinBlocks: the resident blocks per SM the registers are cut for (0: matvec_min_blocks).
template <DType kType, int kRows, bool kGated, bool kRounded, DType kSecond = kType, int kMinBlocks = 0>
__global__ void __launch_bounds__(kMatVecWarps* kWarp, kMinBlocks ? kMinBlocks : matvec_min_blocks<kRows, kGated>())
    quant_matvec_kernel(QParams p) {
  constexpr bool kMixed = kSecond != kType;
  extern __shared__ __align__(16) int8_t smem[];
  __shared__ RowSumScratch<kRows> red;
  const int8_t* xq = kRounded ? p.gq : smem;                                                  // [kRows][xq_stride]
  const auto* xs = kRounded ? p.gs : reinterpret_cast<const float2*>(smem + kRows * p.in.xq_stride);  // [kRows][k / 32]
  const int tpr = p.tpr;
  const int sub = static_cast<int>(threadIdx.x) % tpr, slot = static_cast<int>(threadIdx.x) / tpr;
  const int rows_per_group = kMatVecWarps * kWarp / tpr;
  const int64_t units = p.in.k / QFormat<kType>::kValues;
  pdl_launch_dependents();
  stamp_start(p.stamps);
  {
    // Launched early (PDL): this thread's first units go to L2 while the kernel before finishes
    // (weights are never written, so they may be read before pdl_wait()).
    prefetch_first_pieces<kGated>(p.prefetch, units, sub, tpr, slot, rows_per_group, p.row_groups, p.total_rows,
                                  p.rows, [&](int64_t row, int m, int64_t u) {
                                    const int64_t row_units =
                                        kMixed && p.second[m] ? p.in.k / QFormat<kSecond>::kValues : units;
                                    if (u >= row_units) return;
                                    const int64_t off = row * p.row_bytes[m] + u * p.row_bytes[m] / row_units;
                                    prefetch_l2(p.w[m] + off);
                                    if (kGated) prefetch_l2(p.w[1] + off);
                                  });
  }
  pdl_wait();
  stamp_released(p.stamps);
  float inv[kRows];
  if constexpr (kRounded) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) inv[i] = p.in.normed ? p.ginv[i] : 1.0f;
  } else {
    stage_int8<kRows>(p.in, smem, reinterpret_cast<float2*>(smem + kRows * p.in.xq_stride), inv, blockIdx.x == 0);
  }

  for (int64_t group = blockIdx.x; group < p.row_groups; group += gridDim.x) {
    const auto [row, m, active] = group_row<kGated>(group, rows_per_group, slot, p.total_rows, p.rows);
    float acc_a[kRows], acc_b[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) acc_a[i] = acc_b[i] = 0.0f;
    if (active) {
      const uint8_t* wa = p.w[m] + row * p.row_bytes[m];
      const uint8_t* wb = kGated ? p.w[1] + row * p.row_bytes[1] : nullptr;
      if (kMixed && p.second[m]) row_products<kSecond, kRows, kGated>(p, wa, wb, sub, tpr, xq, xs, acc_a, acc_b);
      else row_products<kType, kRows, kGated>(p, wa, wb, sub, tpr, xq, xs, acc_a, acc_b);
    }
    row_sums<kRows, kGated>(acc_a, acc_b, tpr, sub, red);
    float val[kRows] = {};  // the row's outputs, in its first thread (the only one holding totals)
    if (sub == 0) row_outputs<kRows, kGated>(acc_a, acc_b, inv, p.act, val);
    if (active && sub == 0) store_row<kRows>(p.out, p.rows, row, m, val);
    if constexpr (kGated) {
      if (p.oq) hand_on_codes<kRows>(p, group, rows_per_group, slot, sub, val);
    }
  }
  if constexpr (!kGated && kRounded) {  // (kept out of the other kernels: their registers)
    if (p.counter) round_next<kRows>(p);
  }
  stamp_end(p.stamps);
}

// Rounds the activation rows once (stage_int8's arithmetic, with the absorbed NormAdd's sum) into
// the scratch, for quant_matvec_kernel<..., kRounded = true>. One block: a row is a few KB.
template <int kRows>
__global__ void __launch_bounds__(kRoundThreads) quant_round_kernel(QParams p) {
  pdl_launch_dependents();
  stamp_start(p.round_stamps);
  pdl_wait();
  stamp_released(p.round_stamps);
  float inv[kRows];
  stage_int8<kRows>(p.in, p.gq, p.gs, inv, true);
  if (threadIdx.x == 0)
    for (int i = 0; i < kRows; ++i) p.ginv[i] = inv[i];
  stamp_end(p.round_stamps);
}

// Calls f.template operator()<kType>() for the formats of this file; false for others.
template <typename F>
bool dispatch_quant(DType t, F&& f) {
  switch (t) {
    case DType::Q4_0: f.template operator()<DType::Q4_0>(); return true;
    case DType::Q4_1: f.template operator()<DType::Q4_1>(); return true;
    case DType::Q5_0: f.template operator()<DType::Q5_0>(); return true;
    case DType::Q5_1: f.template operator()<DType::Q5_1>(); return true;
    case DType::Q8_0: f.template operator()<DType::Q8_0>(); return true;
    case DType::Q4_K: f.template operator()<DType::Q4_K>(); return true;
    case DType::Q5_K: f.template operator()<DType::Q5_K>(); return true;
    case DType::Q6_K: f.template operator()<DType::Q6_K>(); return true;
    default: return false;
  }
}

// The format pairs one launch mixes (kernel formats {first, second}): the K-quant mixes of
// llama.cpp's Q4_K_M / Q5_K_M files (attention v and some FFN down weights in Q6_K) and of
// Q4_K_S-type files.
bool is_pair(DType a, DType b, DType x, DType y) { return (a == x && b == y) || (a == y && b == x); }
bool mixed_pair(DType a, DType b) {
  return is_pair(a, b, DType::Q4_K, DType::Q6_K) || is_pair(a, b, DType::Q5_K, DType::Q6_K) ||
         is_pair(a, b, DType::Q4_K, DType::Q5_K);
}
// Calls f.template operator()<kFirst, kSecond>() for the pair {a, b}; false when it is not one.
template <typename F>
bool dispatch_pair(DType a, DType b, F&& f) {
  if (is_pair(a, b, DType::Q4_K, DType::Q6_K)) f.template operator()<DType::Q4_K, DType::Q6_K>();
  else if (is_pair(a, b, DType::Q5_K, DType::Q6_K)) f.template operator()<DType::Q5_K, DType::Q6_K>();
  else if (is_pair(a, b, DType::Q4_K, DType::Q5_K)) f.template operator()<DType::Q4_K, DType::Q5_K>();
  else return false;
  return true;
}

// The job's weight dtypes: the first, and another where they differ (else the same).
std::pair<DType, DType> job_formats(const MatVecJob& job) {
  DType other = job.w[0].dtype;
  for (int m = 1; m < job.n_weights; ++m)
    if (job.w[m].dtype != job.w[0].dtype) other = job.w[m].dtype;
  return {job.w[0].dtype, other};
}

bool three_formats(const MatVecJob& job) {
  const auto [a, b] = job_formats(job);
  for (int m = 0; m < job.n_weights; ++m)
    if (job.w[m].dtype != a && job.w[m].dtype != b) return true;
  return false;
}

// Bytes of padding after each unit of staged codes. The threads of a row read units one after
// another, so without it the 16-byte loads of a warp phase (8 lanes) land unit_values bytes apart:
// 2-way (32-value units), 4-way (Q4_K / Q5_K) or 8-way (Q6_K) on the same shared-memory banks;
// 16 more bytes per unit spread them over all 32 banks. GEMRT_CUDA_QPAD=0: none.
int stage_padding() {
  static const int pad = env_is("GEMRT_CUDA_QPAD", "0") ? 0 : 16;
  return pad;
}

// Shared memory of the staged rows: codes (with `pad` bytes after each unit of unit_values) and
// per-32 scales. Mixed products stage without padding (their formats' units differ in length).
int64_t stage_bytes(const MatVecJob& job, int unit_values, int pad) {
  const int64_t codes = job.k + job.k / unit_values * pad;
  return job.t * (codes + job.k / 32 * static_cast<int64_t>(sizeof(float2)));
}

// GEMRT_CUDA_QGLOBAL_MIN_K=N (an experiment switch): products of activations shorter than N
// values stage their codes in every block as with GEMRT_CUDA_QGLOBAL=0, longer ones round once.
int64_t round_once_min_k() {
  static const int64_t n = env_int("GEMRT_CUDA_QGLOBAL_MIN_K", 0);
  return n;
}

// One-row mixed products cut their registers for 3 resident blocks per SM, not 4 as the one-format
// ones: at 4, ptxas spills some 100 bytes a thread of the Q4_K + Q6_K kernel (the q / k / v product
// of a Q4_K_M layer), 12 at 3, and the 4B Q4_K_M decode ran 1.6-2.2 % faster at 3 on an H100
// (bench/RESULTS.md, session 16). GEMRT_CUDA_MIX_BLOCKS=4 keeps 4, for measuring.
int mixed_min_blocks() {
  static const int n = env_is("GEMRT_CUDA_MIX_BLOCKS", "4") ? 4 : 3;
  return n;
}

// Whether the job's codes come from job.rounded: rounded there by a launch of its own, or
// already there (rounded_ready).
bool aligned16(const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; }

bool rounded_once(const MatVecJob& job) {
  return job.rounded && job.rounded_bytes >= quant_rounded_bytes(job.t, job.k) &&
         (job.rounded_ready || job.k >= round_once_min_k());
}

}  // namespace

bool quant_round_once() {
  static const bool off = env_is("GEMRT_CUDA_QGLOBAL", "0");
  return !off;
}

int64_t quant_rounded_bytes(int64_t t, int64_t k) { return int8_codes_bytes(t, k); }

bool quant_matvec_rounds_next(const MatVecJob& job) {
  return !job.gated && job.n_weights == 1 && job.int8_activation && rounded_once(job) && job.w[0].rows % kWarp == 0 &&
         job.next_pre &&
         job.next_pre->in == job.out[0] && job.next_counter && aligned16(job.next_pre->in) &&
         aligned16(job.next_pre->residual) && quant_matvec_supports(job);
}

bool quant_matvec_hands_on_codes(const MatVecJob& job) {
  return job.gated && job.int8_activation && job.w[0].rows % kWarp == 0 && quant_matvec_supports(job);
}

bool quant_matvec_supports(const MatVecJob& job) {
  if (job.t < 1 || job.t > kMatVecMaxRows || job.n_weights < 1) return false;
  const auto [first, second] = job_formats(job);
  if (first != second && (job.gated || three_formats(job) || !mixed_pair(first, second))) return false;
  for (int m = 0; m < job.n_weights; ++m) {
    const DType dt = job.w[m].dtype;
    int values = 0;
    if (!dispatch_quant(dt, [&]<DType kType>() { values = QFormat<kType>::kValues; })) return false;
    if (!rounded_once(job) && stage_bytes(job, values, first != second ? 0 : stage_padding()) > kQStageBytes)
      return false;
    if (job.k % dtype_info(dt).block_elems != 0 || job.k % values != 0) return false;
    const uintptr_t align = dt == DType::Q4_K || dt == DType::Q5_K ? 16 : 2;
    if (reinterpret_cast<uintptr_t>(job.w[m].data) % align != 0 || job.w[m].row_bytes % static_cast<int64_t>(align) != 0)
      return false;
  }
  // the rounding reads the activation rows as float4
  return aligned16(job.pre ? job.pre->in : job.x) && (!job.pre || aligned16(job.pre->residual)) &&
         (!job.rounded || aligned16(job.rounded));
}

void quant_matvec(const MatVecJob& job, cudaStream_t stream) {
  QParams p{};
  p.in.x = job.x;
  p.in.k = job.k;
  p.in.normed = job.norm != nullptr;
  if (job.norm) p.in.norm = *job.norm;
  p.act = job.act;
  const auto [first, second] = job_formats(job);
  for (int m = 0; m < job.n_weights; ++m) {
    p.w[m] = static_cast<const uint8_t*>(job.w[m].data);
    p.rows[m] = job.w[m].rows;
    p.row_bytes[m] = job.w[m].row_bytes;
    p.out[m] = job.out[m];
    p.total_rows += job.w[m].rows;
  }
  if (job.gated) p.total_rows = job.w[0].rows;
  if (job.pre) {
    p.in.pre_add = true;
    p.in.pre = *job.pre;
  }
  const bool rounded = rounded_once(job);
  if (job.stamps) {
    p.round_stamps = job.stamps;
    p.stamps = job.stamps + 3;
  }
  if (job.codes_out) {
    if (!job.gated || job.w[0].rows % kWarp != 0)
      fail("cuda backend: only gated products of whole 32-row blocks hand their output on as int8 codes");
    const CodesView o = codes_view(job.codes_out, job.t, job.w[0].rows);
    p.oq = o.q;
    p.os = o.s;
  }
  if (job.next_codes) {
    if (!quant_matvec_rounds_next(job))
      fail("cuda backend: only one-weight int8 products round the next product's NormAdd input");
    p.next.k = job.w[0].rows;
    p.next.normed = job.next_norm != nullptr;
    if (job.next_norm) p.next.norm = *job.next_norm;
    p.next.pre_add = true;
    p.next.pre = *job.next_pre;
    p.next.xq_stride = p.next.k;
    const CodesView n = codes_view(job.next_codes, job.t, p.next.k);
    p.nq = n.q;
    p.ns = n.s;
    p.ninv = n.inv;
    p.counter = job.next_counter;
  }
  if (rounded) {
    const CodesView g = codes_view(job.rounded, job.t, job.k);
    p.gq = g.q;
    p.gs = g.s;
    p.ginv = g.inv;
    p.in.xq_stride = job.k;
  }
  if (rounded && !job.rounded_ready) {
    const auto round = [&](auto kernel) {
      launch_dependent("activation rounding", kernel, 1, kRoundThreads, 0, stream, p);
    };
    switch (job.t) {
      case 1: round(quant_round_kernel<1>); break;
      case 2: round(quant_round_kernel<2>); break;
      case 3: round(quant_round_kernel<3>); break;
      default: round(quant_round_kernel<4>); break;
    }
    check_launch("activation rounding");
  }
  // Launches `kernel` with the threads per row that finish first for rows of `units` units.
  const auto launch = [&](auto kernel, int64_t units, int unroll, size_t smem) {
    const int64_t resident = resident_blocks(kernel, smem, "quantized matvec");
    // handing codes on: row groups of whole 32-row blocks (256 / tpr rows)
    p.tpr = quickest_threads_per_row(4, units, unroll, p.total_rows, resident, p.oq ? 8 : kMatVecWarps * kWarp);
    p.prefetch = prefetch_pieces(unroll);
    const int64_t per_group = kMatVecWarps * kWarp / p.tpr;
    p.row_groups = (p.total_rows + per_group - 1) / per_group;
    const auto blocks = static_cast<unsigned>(matvec_grid(p.row_groups, resident));
    launch_dependent("quantized matvec", kernel, blocks, kMatVecWarps * kWarp, smem, stream, p);
  };
  if (first != second) {
    dispatch_pair(first, second, [&]<DType kA, DType kB>() {
      for (int m = 0; m < job.n_weights; ++m) p.second[m] = job.w[m].dtype == kB;
      const int64_t units = job.k / QFormat<kA>::kValues;
      constexpr int u = q_unroll<kA, false>();
      size_t smem = 0;
      if (!rounded) {  // staged in every block, unpadded
        smem = static_cast<size_t>(stage_bytes(job, QFormat<kA>::kValues, 0));
        p.in.xq_stride = job.k;
      }
      const auto rows = [&]<bool kRounded>() {
        switch (job.t) {
          case 1:
            if (mixed_min_blocks() == 3) launch(quant_matvec_kernel<kA, 1, false, kRounded, kB, 3>, units, u, smem);
            else launch(quant_matvec_kernel<kA, 1, false, kRounded, kB>, units, u, smem);
            break;
          case 2: launch(quant_matvec_kernel<kA, 2, false, kRounded, kB>, units, u, smem); break;
          case 3: launch(quant_matvec_kernel<kA, 3, false, kRounded, kB>, units, u, smem); break;
          default: launch(quant_matvec_kernel<kA, 4, false, kRounded, kB>, units, u, smem); break;
        }
      };
      if (rounded) rows.template operator()<true>();
      else rows.template operator()<false>();
    });
    check_launch("quantized matvec");
    return;
  }
  dispatch_quant(first, [&]<DType kType>() {
    constexpr int kValues = QFormat<kType>::kValues;
    const int64_t units = job.k / kValues;
    size_t smem = 0;
    if (!rounded) {
      smem = static_cast<size_t>(stage_bytes(job, kValues, stage_padding()));
      p.in.pad = stage_padding();
      p.in.unit_shift = std::countr_zero(static_cast<unsigned>(kValues));
      p.in.xq_stride = job.k + units * p.in.pad;
    }
    const auto rows = [&]<bool kGated, bool kRounded>() {
      constexpr int u = q_unroll<kType, kGated>();
      switch (job.t) {
        case 1: launch(quant_matvec_kernel<kType, 1, kGated, kRounded>, units, u, smem); break;
        case 2: launch(quant_matvec_kernel<kType, 2, kGated, kRounded>, units, u, smem); break;
        case 3: launch(quant_matvec_kernel<kType, 3, kGated, kRounded>, units, u, smem); break;
        default: launch(quant_matvec_kernel<kType, 4, kGated, kRounded>, units, u, smem); break;
      }
    };
    if (job.gated && rounded) rows.template operator()<true, true>();
    else if (job.gated) rows.template operator()<true, false>();
    else if (rounded) rows.template operator()<false, true>();
    else rows.template operator()<false, false>();
  });
  check_launch("quantized matvec");
}

}  // namespace gemrt::cuda
