#include "gemrt/backend/cuda/fused_kernels.cuh"

#include <algorithm>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/matvec_common.cuh"
#include "gemrt/backend/cuda/norm_device.cuh"
#include "gemrt/backend/cuda/quant_matvec.cuh"
#include "gemrt/backend/cuda/timeline_device.cuh"

namespace gemrt::cuda {
namespace {

constexpr int64_t kStageBytes = int64_t{96} << 10;        // activation staged in shared memory up to this
constexpr int kUnroll = 8;                                // 16-byte weight loads per thread and row (sizes tpr)
constexpr int kLoads = 4;                                 // 16-byte loads per weight row in flight per thread
constexpr int kStageLoads = 8;                            // values of each input a thread loads at once when staging

struct MatVecParams {
  const float* x;
  int t;
  int64_t k;
  bool normed;
  NormSpec norm;
  int n_weights;
  const uint8_t* w[3];
  int64_t rows[3];
  float* out[3];
  int64_t row_bytes;
  bool gated;
  Activation act;
  int threads_per_row;  // 8 .. 256 (a power of two): threads sharing one row's k range
  int64_t total_rows;   // rows of all weights (gated: of the gate)
  int64_t row_groups;   // ceil(total_rows / (256 / threads_per_row))
  int prefetch;         // 16-byte chunks each thread asks L2 for before pdl_wait() (prefetch_pieces)
  bool blocks16;        // every weight row starts 16-byte aligned (Q4_K's 64-value units)
  // Staged activation layout: value c of row i at xs[i * stage_stride + c + (c / 64) * stage_pad].
  // Q4_K's units pad each 64 values by one float: the threads of a row read units 64 values
  // apart, which would otherwise all fall in one shared-memory bank.
  int stage_pad;
  int64_t stage_stride;
  bool pre_add;         // x = pre.residual + rms_norm(pre.in), computed (staged) and written first
  PreAdd pre;
  unsigned long long* stamps;  // GEMRT_CUDA_TIMELINE span slots (timeline_device.cuh); null: none
};

__device__ inline int64_t staged_at(const MatVecParams& p, int i, int64_t c) {
  return i * p.stage_stride + c + (c >> 6) * p.stage_pad;
}

// acc[i] += x[i][c] * w for every activation row i (staged: from shared memory, the gain folded
// in; unstaged: from global memory, times the gain when normed), for the gate and, gated, the up.
template <int kRows, bool kGated, bool kStaged>
__device__ inline void add_products(const MatVecParams& p, const float* xs, int64_t c, float va, float vb,
                                    float* acc_a, float* acc_b) {
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    float xv = kStaged ? xs[staged_at(p, i, c)] : p.x[i * p.k + c];
    if (!kStaged && p.normed) xv *= gain_at(p.norm, c);
    acc_a[i] = fmaf(xv, va, acc_a[i]);
    if (kGated) acc_b[i] = fmaf(xv, vb, acc_b[i]);
  }
}

// Q4_K rows through 16-byte loads: a 144-byte block is nine 16-byte chunks (so every block of a
// 16-byte aligned row is aligned), its first chunk holding d, dmin and the 12 scale bytes, the
// other eight its 128 code bytes. A thread takes 64-value units, sub-blocks 2u and 2u + 1 of a
// block (the low and high nibbles of the same 32 code bytes): three loads per unit. Each value is
// block_value's d * sc * code - dmin * mn, with the same float operations.
template <int kRows, bool kGated, bool kStaged>
__device__ inline void q4k_units(const MatVecParams& p, const float* xs, const uint8_t* wa, const uint8_t* wb,
                                 int sub, float* acc_a, float* acc_b) {
  static_assert(sizeof(quant::BlockQ4_K) == 144 && offsetof(quant::BlockQ4_K, scales) == 4 &&
                    offsetof(quant::BlockQ4_K, qs) == 16,
                "Q4_K: d, dmin, 12 scale bytes, then 128 code bytes");
  // Byte i of a 16-byte chunk held in registers (no address taken, so it stays in registers).
  const auto byte_of = [](const uint4& v, int i) -> uint32_t {
    const uint32_t w = i < 4 ? v.x : i < 8 ? v.y : i < 12 ? v.z : v.w;
    return (w >> (8 * (i % 4))) & 0xffu;
  };
  const int64_t units = p.k / 64;
  for (int64_t u = sub; u < units; u += p.threads_per_row) {
    const int64_t blk = u / 4;
    const int pair = static_cast<int>(u % 4);
    uint4 head[2] = {}, codes[2][2] = {};
#pragma unroll
    for (int h = 0; h < (kGated ? 2 : 1); ++h) {
      const auto* b4 = reinterpret_cast<const uint4*>((h == 0 ? wa : wb) + blk * 144);
      head[h] = __ldg(b4);
      codes[h][0] = __ldg(b4 + 1 + 2 * pair);
      codes[h][1] = __ldg(b4 + 2 + 2 * pair);
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {  // sub-block 2 * pair + half: low, then high nibbles
      const int j = 2 * pair + half;
      float dl[2] = {}, ml[2] = {};
#pragma unroll
      for (int h = 0; h < (kGated ? 2 : 1); ++h) {
        // quant::k_scale_min on the scale bytes 4.. of the header chunk
        const auto sb = [&](int i) { return byte_of(head[h], 4 + i); };
        int sc, mn;
        if (j < 4) {
          sc = static_cast<int>(sb(j) & 63);
          mn = static_cast<int>(sb(j + 4) & 63);
        } else {
          sc = static_cast<int>((sb(j + 4) & 15) | ((sb(j - 4) >> 6) << 4));
          mn = static_cast<int>((sb(j + 4) >> 4) | ((sb(j) >> 6) << 4));
        }
        const float d = __half2float(__ushort_as_half(static_cast<unsigned short>(head[h].x & 0xffffu)));
        const float dmin = __half2float(__ushort_as_half(static_cast<unsigned short>(head[h].x >> 16)));
        dl[h] = d * static_cast<float>(sc);
        ml[h] = dmin * static_cast<float>(mn);
      }
      const int64_t c0 = blk * 256 + j * 32;
#pragma unroll
      for (int l = 0; l < 32; ++l) {
        const float va = dl[0] * static_cast<float>((byte_of(codes[0][l / 16], l % 16) >> (4 * half)) & 15) - ml[0];
        const float vb =
            kGated ? dl[1] * static_cast<float>((byte_of(codes[1][l / 16], l % 16) >> (4 * half)) & 15) - ml[1] : 0.0f;
        add_products<kRows, kGated, kStaged>(p, xs, c0 + l, va, vb, acc_a, acc_b);
      }
    }
  }
}

// A block of 256 threads walks groups of rows (grid-stride; the grid is one wave of resident
// blocks): each row is given `tpr` threads (8 .. 256, chosen so that each thread has about
// kUnroll 16-byte loads per row), so a group is 256 / tpr rows. Partial sums meet by shuffles
// (tpr <= 32) or in shared memory. The norm's gain is folded into the activation and its 1 / rms
// applied to each finished dot product: norm(x) . w = inv * sum_c (x_c g_c) w_c.
// kStaged (several activation rows, a norm, or an absorbed NormAdd): the block first writes
// x * gain to shared memory and computes 1 / rms there. Otherwise every thread reads x straight
// from global memory (it stays in L1); only the element-wise path (kVec16 false) also applies a
// norm unstaged, reading the gain per value, and each warp then computes 1 / rms itself once its
// first row is summed. kRows = t and kGated are fixed at compile time so that the accumulators and
// loads in flight stay in registers.
template <DType kType, bool kVec16, bool kStaged, int kRows, bool kGated>
__global__ void __launch_bounds__(kMatVecWarps* kWarp, matvec_min_blocks<kRows, kGated>())
    matvec_kernel(MatVecParams p) {
  extern __shared__ float xs[];  // [t, k] when staged
  __shared__ float inv_block[kRows];
  __shared__ RowSumScratch<kRows> red;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int tpr = p.threads_per_row;
  const int sub = static_cast<int>(threadIdx.x) % tpr, slot = static_cast<int>(threadIdx.x) / tpr;
  const int rows_per_group = kMatVecWarps * kWarp / tpr;
  pdl_launch_dependents();
  stamp_start(p.stamps);
  if constexpr (kVec16) {
    // Launched early (PDL): the first loads of this thread's first row go to L2 while the kernel
    // before finishes; weights are never written, so they may be read before pdl_wait().
    prefetch_first_pieces<kGated>(p.prefetch, p.row_bytes / 16, sub, tpr, slot, rows_per_group, p.row_groups,
                                  p.total_rows, p.rows, [&](int64_t row, int m, int64_t c) {
                                    prefetch_l2(p.w[m] + row * p.row_bytes + c * 16);
                                    if (kGated) prefetch_l2(p.w[1] + row * p.row_bytes + c * 16);
                                  });
  }
  pdl_wait();
  stamp_released(p.stamps);
  float inv[kRows];
#pragma unroll
  for (int i = 0; i < kRows; ++i) inv[i] = 1.0f;
  if constexpr (kStaged) {
    for (int i = 0; i < kRows; ++i) {
      // The absorbed NormAdd, in norm_add_kernel's operation order: every block computes the sum
      // (block 0 also writes it out for the later readers of the residual stream), then x * gain
      // goes to shared memory. A thread loads kStageLoads values of each input, gains included,
      // before it uses any: the sum's global store may alias them, so a load after it waits for
      // the store's value, and a loop of one value per pass waited for every load in turn.
      const float* src = (p.pre_add ? p.pre.residual : p.x) + i * p.k;
      const float* y = p.pre.in + i * p.k;
      const float inv_post = p.pre_add ? row_inv_rms(y, p.k, p.pre.norm.eps) : 0.0f;
      float ss = 0.0f;
      for (int64_t c0 = threadIdx.x; c0 < p.k; c0 += int64_t{kStageLoads} * blockDim.x) {
        float a[kStageLoads], b[kStageLoads], g_post[kStageLoads], g[kStageLoads];
#pragma unroll
        for (int j = 0; j < kStageLoads; ++j) {
          const int64_t c = c0 + int64_t{j} * blockDim.x;
          const bool in = c < p.k;
          a[j] = in ? src[c] : 0.0f;
          b[j] = in && p.pre_add ? y[c] : 0.0f;
          g_post[j] = in && p.pre_add ? gain_at(p.pre.norm, c) : 1.0f;
          g[j] = in && p.normed ? gain_at(p.norm, c) : 1.0f;
        }
#pragma unroll
        for (int j = 0; j < kStageLoads; ++j) {
          const int64_t c = c0 + int64_t{j} * blockDim.x;
          if (c >= p.k) break;
          float v = a[j];
          if (p.pre_add) {
            v = v + (b[j] * inv_post) * g_post[j];
            if (blockIdx.x == 0) p.pre.sum[i * p.k + c] = v;
          }
          ss += v * v;
          xs[staged_at(p, i, c)] = p.normed ? v * g[j] : v;
        }
      }
      if (p.normed) {
        ss = block_sum(ss);
        if (threadIdx.x == 0) inv_block[i] = 1.0f / sqrtf(ss / static_cast<float>(p.k) + p.norm.eps);
      }
    }
    __syncthreads();
    if (p.normed) {
#pragma unroll
      for (int i = 0; i < kRows; ++i) inv[i] = inv_block[i];
    }
  }
  // Unstaged: each warp computes 1 / rms when its first row is summed (x is in L1 by then, and
  // the row's weight loads were not held up behind it).
  bool inv_ready = kStaged || !p.normed;
  const auto warp_inv_rms = [&]() {
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      float ss = 0.0f;
      for (int64_t c = lane; c < p.k; c += kWarp) ss += p.x[i * p.k + c] * p.x[i * p.k + c];
      inv[i] = 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(p.k) + p.norm.eps);
    }
    inv_ready = true;
  };

  for (int64_t group = blockIdx.x; group < p.row_groups; group += gridDim.x) {
    const auto [row, m, active] = group_row<kGated>(group, rows_per_group, slot, p.total_rows, p.rows);
    float acc_a[kRows], acc_b[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) acc_a[i] = acc_b[i] = 0.0f;
    if (active) {
      const uint8_t* wa = p.w[m] + row * p.row_bytes;
      const uint8_t* wb = kGated ? p.w[1] + row * p.row_bytes : nullptr;
      if constexpr (kVec16) {
        constexpr int kPer = kType == DType::F32 ? 4 : 8;  // values per 16-byte chunk
        const int64_t chunks = p.k / kPer;
        const auto* ca = reinterpret_cast<const uint4*>(wa);
        const auto* cb = reinterpret_cast<const uint4*>(wb);
        const auto consume = [&](const uint4& raw_a, const uint4& raw_b, int64_t c) {
          float va[kPer], vb[kPer];
          unpack16<kType>(raw_a, va);
          if constexpr (kGated) unpack16<kType>(raw_b, vb);
#pragma unroll
          for (int i = 0; i < kRows; ++i) {
            const float* src = (kStaged ? xs + i * p.stage_stride : p.x + i * p.k) + c * kPer;
            float xv[kPer];
#pragma unroll
            for (int q = 0; q < kPer / 4; ++q) {
              const float4 v = reinterpret_cast<const float4*>(src)[q];
              xv[4 * q] = v.x;
              xv[4 * q + 1] = v.y;
              xv[4 * q + 2] = v.z;
              xv[4 * q + 3] = v.w;
            }
#pragma unroll
            for (int e = 0; e < kPer; ++e) {
              acc_a[i] = fmaf(xv[e], va[e], acc_a[i]);
              if (kGated) acc_b[i] = fmaf(xv[e], vb[e], acc_b[i]);
            }
          }
        };
        int64_t c = sub;
        for (; c + (kLoads - 1) * tpr < chunks; c += kLoads * tpr) {
          uint4 ra[kLoads], rb[kLoads];
#pragma unroll
          for (int u = 0; u < kLoads; ++u) ra[u] = __ldg(ca + c + u * tpr);
          if constexpr (kGated) {
#pragma unroll
            for (int u = 0; u < kLoads; ++u) rb[u] = __ldg(cb + c + u * tpr);
          }
#pragma unroll
          for (int u = 0; u < kLoads; ++u) consume(ra[u], rb[u], c + u * tpr);
        }
        for (; c < chunks; c += tpr) consume(__ldg(ca + c), kGated ? __ldg(cb + c) : uint4{}, c);
      } else if (kType == DType::Q4_K && p.blocks16) {
        q4k_units<kRows, kGated, kStaged>(p, xs, wa, wb, sub, acc_a, acc_b);
      } else if constexpr (BlockShape<kType>::kElems > 1) {
        // GGML block formats: a thread takes whole 32-value pieces (a block, or a 32-value part
        // of a K-quant super-block; neighbouring threads read neighbouring pieces), so each
        // value's code, scale and offset bytes are read from the piece it just loaded (L1) and,
        // the piece's position being fixed at compile time, its scale is decoded once.
        using S = BlockShape<kType>;
        constexpr int kPiece = 32;
        constexpr unsigned kPerBlock = S::kElems / kPiece;
        const int64_t pieces = p.k / kPiece;
        for (int64_t q = sub; q < pieces; q += tpr) {
          const int64_t blk = q / kPerBlock;
          const unsigned j0 = static_cast<unsigned>(q % kPerBlock) * kPiece;
          const uint8_t* ba = wa + blk * S::kBytes;
          const uint8_t* bb = kGated ? wb + blk * S::kBytes : nullptr;
          const int64_t c0 = q * kPiece;
          // A 32-value block (18 to 34 bytes, always an even size, so 2-byte aligned in a row)
          // is first copied to registers with 16-bit loads, and its values decoded from there:
          // a few wide loads instead of a byte load or two per value.
          constexpr bool kWhole = S::kElems == kPiece;
          constexpr int kHalves = kWhole ? S::kBytes / 2 : 1;
          uint16_t la[kHalves], lb[kHalves];
          if constexpr (kWhole) {
            static_assert(S::kBytes % 2 == 0, "32-value blocks have an even size");
#pragma unroll
            for (int h = 0; h < kHalves; ++h) {
              la[h] = __ldg(reinterpret_cast<const uint16_t*>(ba) + h);
              if (kGated) lb[h] = __ldg(reinterpret_cast<const uint16_t*>(bb) + h);
            }
          }
          const uint8_t* pa = kWhole ? reinterpret_cast<const uint8_t*>(la) : ba;
          const uint8_t* pb = kWhole ? reinterpret_cast<const uint8_t*>(lb) : bb;
#pragma unroll(kWhole ? kPiece : 8)
          for (int l = 0; l < kPiece; ++l) {
            const float va = block_value<kType>(pa, static_cast<int>(j0 + l));
            const float vb = kGated ? block_value<kType>(pb, static_cast<int>(j0 + l)) : 0.0f;
            add_products<kRows, kGated, kStaged>(p, xs, c0 + l, va, vb, acc_a, acc_b);
          }
        }
      } else {
        for (int64_t c = sub; c < p.k; c += tpr) {
          const float va = weight_value<kType>(wa, c);
          const float vb = kGated ? weight_value<kType>(wb, c) : 0.0f;
          add_products<kRows, kGated, kStaged>(p, xs, c, va, vb, acc_a, acc_b);
        }
      }
    }
    row_sums<kRows, kGated>(acc_a, acc_b, tpr, sub, red);
    if (!inv_ready) warp_inv_rms();  // every lane of the warp takes part (warp_sum)
    if (active && sub == 0) {
      float val[kRows];
      row_outputs<kRows, kGated>(acc_a, acc_b, inv, p.act, val);
      store_row<kRows>(p.out, p.rows, row, m, val);
    }
  }
  stamp_end(p.stamps);
}

__global__ void norm_add_kernel(const float* x, const float* residual, int64_t dim, NormSpec n, float* out) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t r = blockIdx.x;
  const float* xr = x + r * dim;
  const float inv = row_inv_rms(xr, dim, n.eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    out[r * dim + i] = residual[r * dim + i] + (xr[i] * inv) * gain_at(n, i);
}

// One block per (row, head); thread i rotates pair (i, i + head_dim / 2) of the normalised head.
__global__ void norm_rope_kernel(const float* x, const int32_t* positions, int n_heads, int head_dim, NormSpec n,
                                 const float* inv_freq, float* out) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t rh = blockIdx.x;  // row * n_heads + head
  const int64_t r = rh / n_heads;
  const int half = head_dim / 2;
  const float* xh = x + rh * head_dim;
  const float inv = row_inv_rms(xh, head_dim, n.eps);
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float x1 = (xh[i] * inv) * gain_at(n, i);
    const float x2 = (xh[i + half] * inv) * gain_at(n, i + half);
    const float angle = static_cast<float>(positions[r]) * inv_freq[i];
    const auto c = static_cast<float>(cos(static_cast<double>(angle)));
    const auto s = static_cast<float>(sin(static_cast<double>(angle)));
    float* yh = out + rh * head_dim;
    yh[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
    yh[i + half] = __fadd_rn(__fmul_rn(x1, s), __fmul_rn(x2, c));
  }
}

template <DType kKv>
__global__ void store_kv_row_kernel(const float* k, const float* v, KvView kv, void* ring_k, void* ring_v) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= kv.kv_w) return;
  const int64_t dst = (kv.positions[0] % kv.cap) * kv.kv_w + c;
  kv_put<kKv>(ring_k, dst, k[c]);
  kv_put<kKv>(ring_v, dst, v[c]);
}

int norm_threads(int64_t dim) { return dim >= 1024 ? 1024 : dim >= 256 ? 256 : 128; }

}  // namespace

void matvec(const MatVecJob& job, cudaStream_t stream) {
  if (job.t == 0 || job.n_weights == 0) return;
  if (job.t > kMatVecMaxRows) fail("cuda backend: matvec of ", job.t, " rows (at most ", kMatVecMaxRows, ")");
  if (job.gated && job.n_weights != 2) fail("cuda backend: a gated matvec takes two weights");
  for (int m = 0; m < job.n_weights; ++m)
    if (job.w[m].cols != job.k)
      fail("cuda backend: a matvec weight of ", job.w[m].cols, " columns for an activation of ", job.k, " values");
  if (job.int8_activation && quant_matvec_supports(job)) {
    quant_matvec(job, stream);
    return;
  }
  if (job.codes_out || job.next_codes)
    fail("cuda backend: a matvec that hands on int8 codes must run on quant_matvec");
  const auto other_dtype = [&](const DeviceWeight& w) { return w.dtype != job.w[0].dtype; };
  if (!job.gated && std::any_of(job.w + 1, job.w + job.n_weights, other_dtype)) {
    // Weights of several dtypes (a step graph/fusion.h grouped as mixable) that no one launch
    // runs: a launch per run of one dtype, the first with the absorbed NormAdd, the rest reading
    // its sum.
    for (int m0 = 0; m0 < job.n_weights;) {
      int m1 = m0 + 1;
      while (m1 < job.n_weights && job.w[m1].dtype == job.w[m0].dtype) ++m1;
      MatVecJob part = job;
      part.n_weights = m1 - m0;
      for (int m = m0; m < m1; ++m) {
        part.w[m - m0] = job.w[m];
        part.out[m - m0] = job.out[m];
      }
      if (m0 > 0 && job.pre) {
        part.pre = nullptr;
        part.x = job.pre->sum;
      }
      matvec(part, stream);
      m0 = m1;
    }
    return;
  }
  MatVecParams p{};
  p.x = job.x;
  p.t = static_cast<int>(job.t);
  p.k = job.k;
  p.normed = job.norm != nullptr;
  if (job.norm) p.norm = *job.norm;
  p.n_weights = job.n_weights;
  p.gated = job.gated;
  p.act = job.act;
  p.stamps = job.stamps ? job.stamps + 3 : nullptr;
  const DType dt = job.w[0].dtype;
  p.row_bytes = job.w[0].row_bytes;
  bool aligned = p.row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(job.x) % 16 == 0;
  for (int m = 0; m < job.n_weights; ++m) {
    const DeviceWeight& w = job.w[m];
    if (w.dtype != dt || w.cols != job.k || w.row_bytes != p.row_bytes)
      fail("cuda backend: the weights of one matvec must share dtype and width");
    p.w[m] = static_cast<const uint8_t*>(w.data);
    p.rows[m] = w.rows;
    p.out[m] = job.out[m];
    p.total_rows += w.rows;
    aligned = aligned && reinterpret_cast<uintptr_t>(w.data) % 16 == 0;
  }
  p.blocks16 = p.row_bytes % 16 == 0;
  for (int m = 0; m < job.n_weights; ++m) p.blocks16 = p.blocks16 && reinterpret_cast<uintptr_t>(p.w[m]) % 16 == 0;
  if (job.gated) {
    if (job.w[1].rows != job.w[0].rows) fail("cuda backend: gate and up weights differ in rows");
    p.total_rows = job.w[0].rows;
  }
  // Threads per row: about kUnroll 16-byte loads each (8 lanes at least: short rows share warps).
  const int64_t chunks = std::max<int64_t>(1, p.row_bytes / 16);
  p.threads_per_row = 8;
  while (p.threads_per_row < kMatVecWarps * kWarp && chunks >= int64_t{2} * p.threads_per_row * kUnroll)
    p.threads_per_row *= 2;
  const int rows_per_group = kMatVecWarps * kWarp / p.threads_per_row;
  p.row_groups = (p.total_rows + rows_per_group - 1) / rows_per_group;
  p.prefetch = prefetch_pieces(kLoads);
  p.stage_pad = dt == DType::Q4_K && p.blocks16 ? 1 : 0;
  p.stage_stride = job.k + (job.k / 64) * p.stage_pad;
  const int64_t stage = job.t * p.stage_stride * static_cast<int64_t>(sizeof(float));
  // An absorbed NormAdd runs in the staged prologue; one whose rows do not fit runs before.
  if (job.pre && stage > kStageBytes) {
    norm_add(job.pre->in, job.pre->residual, job.t, job.k, job.pre->norm, job.pre->sum, stream);
  } else if (job.pre) {
    p.pre_add = true;
    p.pre = *job.pre;
  }
  // Staged: several rows, an absorbed NormAdd, a norm (its gain folded in once per block rather
  // than loaded with every chunk), or Q4_K units (unstaged, one warp load would touch 32 lines).
  const bool staged = (job.t > 1 || p.pre_add || p.normed || p.stage_pad) && stage <= kStageBytes;
  weight_kernel(dt, "matvec", [&]<DType kType>() {
    constexpr bool k16 = kType == DType::F32 || kType == DType::F16 || kType == DType::BF16;
    const auto launch = [&](auto kernel, size_t smem) {
      const int64_t resident = resident_blocks(kernel, smem, "matvec");
      // (quickest_threads_per_row, which helps quant_matvec, left the BF16 decode 0.3-0.7 % slower.)
      p.threads_per_row = balanced_threads_per_row(p.threads_per_row, 8, chunks, kLoads, p.total_rows, resident);
      p.row_groups = (p.total_rows + kMatVecWarps * kWarp / p.threads_per_row - 1) /
                     (kMatVecWarps * kWarp / p.threads_per_row);
      const auto blocks = static_cast<unsigned>(matvec_grid(p.row_groups, resident));
      launch_dependent("matvec", kernel, blocks, kMatVecWarps * kWarp, smem, stream, p);
    };
    const auto rows = [&]<bool kVec16, bool kStaged, bool kGated>() {
      const size_t smem = kStaged ? static_cast<size_t>(stage) : 0;
      switch (job.t) {
        case 1: launch(matvec_kernel<kType, kVec16, kStaged, 1, kGated>, smem); break;
        case 2: launch(matvec_kernel<kType, kVec16, kStaged, 2, kGated>, smem); break;
        case 3: launch(matvec_kernel<kType, kVec16, kStaged, 3, kGated>, smem); break;
        default: launch(matvec_kernel<kType, kVec16, kStaged, 4, kGated>, smem); break;
      }
    };
    const auto gated = [&]<bool kVec16, bool kStaged>() {
      if (job.gated) rows.template operator()<kVec16, kStaged, true>();
      else rows.template operator()<kVec16, kStaged, false>();
    };
    const auto staging = [&]<bool kVec16>() {
      if (staged) gated.template operator()<kVec16, true>();
      else gated.template operator()<kVec16, false>();
    };
    if constexpr (k16) {
      // The 16-byte path takes a norm only staged (its unstaged loop carries no gain code: fewer
      // registers, more resident blocks); an activation too wide to stage goes element-wise.
      if (aligned && (staged || !p.normed)) staging.template operator()<true>();
      else staging.template operator()<false>();
    } else {
      staging.template operator()<false>();
    }
  });
  check_launch("matvec");
}

void norm_add(const float* x, const float* residual, int64_t rows, int64_t dim, const NormSpec& norm, float* out,
              cudaStream_t stream) {
  if (rows == 0) return;
  launch_dependent("norm_add", norm_add_kernel, static_cast<unsigned>(rows), norm_threads(dim), 0, stream, x, residual,
                   dim, norm, out);
  check_launch("norm_add");
}

void norm_rope(const float* x, const int32_t* positions, int64_t t, int n_heads, int head_dim, const NormSpec& norm,
               const float* inv_freq, float* out, cudaStream_t stream) {
  if (t == 0) return;
  const int threads = std::clamp((head_dim / 2 + kWarp - 1) / kWarp * kWarp, kWarp, 256);
  launch_dependent("norm_rope", norm_rope_kernel, static_cast<unsigned>(t * n_heads), threads, 0, stream, x, positions,
                   n_heads, head_dim, norm, inv_freq, out);
  check_launch("norm_rope");
}

void store_kv_row(const float* k, const float* v, const KvView& kv, void* ring_k, void* ring_v, cudaStream_t stream) {
  dispatch_kv(kv.dtype, [&]<DType kKv>() {
    launch_dependent("store_kv_row", store_kv_row_kernel<kKv>, blocks_for(kv.kv_w, 256), 256, 0, stream, k, v, kv,
                     ring_k, ring_v);
  });
  check_launch("store_kv_row");
}

}  // namespace gemrt::cuda
