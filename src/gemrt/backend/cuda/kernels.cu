#include "gemrt/backend/cuda/kernels.cuh"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/fused_kernels.cuh"
#include "gemrt/core/error.h"

namespace gemrt::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// Embedding gather.

// Block (r, c) makes values c * kEmbedThreads .. of output row r, a value per thread: a packed
// value takes a few dependent byte loads, so a thread that walked the row (10 values of a 2560-wide
// Q6_K row) paid that chain 10 times over (65 us per decode step on a 4B Q4_K_M shape; now one).
constexpr int kEmbedThreads = 128;
template <DType kType>
__global__ void embed_kernel(const uint8_t* table, int64_t row_bytes, int64_t d, int64_t v, const int32_t* ids,
                             float scale, int64_t fallback_row, float* out) {
  const int64_t r = blockIdx.x, j = static_cast<int64_t>(blockIdx.y) * kEmbedThreads + threadIdx.x;
  if (j >= d) return;
  const int64_t id = ids[r] >= 0 && ids[r] < v ? ids[r] : fallback_row;
  out[r * d + j] = weight_value<kType>(table + id * row_bytes, j) * scale;
}

// Rows of a stored weight as bfloat16 (round to nearest even), for the tensor-core products of
// fast numerics: one block per row.
template <DType kType>
__global__ void rows_to_bf16_kernel(const uint8_t* w, int64_t row_bytes, int64_t k, __nv_bfloat16* out) {
  const int64_t r = blockIdx.x;
  const uint8_t* row = w + r * row_bytes;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) out[r * k + j] = __float2bfloat16_rn(weight_value<kType>(row, j));
}

// ---------------------------------------------------------------------------------------------
// Matrix products. Many rows: 64 x 64 output tiles, 32-wide k slices of x and of the weights
// (dequantized once into shared memory), 4 x 4 outputs per thread. Few rows (decode): the
// matrix-vector kernels of fused_kernels.cu, which the fused decode steps also run.

constexpr int kTile = 64, kSlice = 32;

template <DType kType>
__global__ void __launch_bounds__(256) matmul_tiled(const float* __restrict__ x, int64_t t, const uint8_t* __restrict__ w,
                                                    int64_t row_bytes, int64_t n, int64_t k, float* __restrict__ out) {
  __shared__ float xs[kTile][kSlice + 1];
  __shared__ float ws[kTile][kSlice + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * kTile, n0 = static_cast<int64_t>(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kSlice) {
    for (int e = threadIdx.x; e < kTile * kSlice; e += blockDim.x) {
      const int r = e / kSlice, c = e % kSlice;
      const int64_t kk = k0 + c;
      xs[r][c] = (t0 + r < t && kk < k) ? x[(t0 + r) * k + kk] : 0.0f;
      ws[r][c] = (n0 + r < n && kk < k) ? weight_value<kType>(w + (n0 + r) * row_bytes, kk) : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int c = 0; c < kSlice; ++c) {
      float a[4], b[4];
      for (int i = 0; i < 4; ++i) a[i] = xs[ty * 4 + i][c];
      for (int j = 0; j < 4; ++j) b[j] = ws[tx * 4 + j][c];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t r = t0 + ty * 4 + i, c = n0 + tx * 4 + j;
      if (r < t && c < n) out[r * n + c] = acc[i][j];
    }
}

// ---------------------------------------------------------------------------------------------
// RMSNorm: one block per group.

template <DType kType>
__global__ void rms_norm_kernel(const float* x, int64_t dim, const uint8_t* w, bool has_w, float offset, float eps,
                                float* out) {
  const int64_t g = blockIdx.x;
  const float* xr = x + g * dim;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  __shared__ float part[32];
  ss = warp_sum(ss);
  if (threadIdx.x % kWarp == 0) part[threadIdx.x / kWarp] = ss;
  __syncthreads();
  if (threadIdx.x < kWarp) {
    float v = threadIdx.x < blockDim.x / kWarp ? part[threadIdx.x] : 0.0f;
    v = warp_sum(v);
    if (threadIdx.x == 0) part[0] = v;
  }
  __syncthreads();
  const float mean = part[0] / static_cast<float>(dim);
  const float inv = 1.0f / sqrtf(mean + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float gain = has_w ? offset + weight_value<kType>(w, i) : 1.0f;
    out[g * dim + i] = (xr[i] * inv) * gain;
  }
}

// ---------------------------------------------------------------------------------------------
// RoPE.

// Axial RoPE (axes > 1, graph/ir.h RopeAttrs): pair i of a head lies in section i / sec_half and
// rotates at that section's position; axes = 1 is the plain rotate-half pairing (i, i + half).
__global__ void rope_kernel(const float* x, const int32_t* positions, int64_t t, int n_heads, int head_dim, int axes,
                            const float* inv_freq, float* out) {
  const int half = head_dim / 2;
  const int sec_half = half / axes;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= t * n_heads * half) return;
  const int i = static_cast<int>(idx % half);
  const int64_t rh = idx / half;  // row * n_heads + head
  const int64_t r = rh / n_heads;
  const int section = i / sec_half;
  const float angle = static_cast<float>(positions[r * axes + section]) * inv_freq[i];
  const auto c = static_cast<float>(cos(static_cast<double>(angle)));
  const auto s = static_cast<float>(sin(static_cast<double>(angle)));
  const float* xh = x + rh * head_dim;
  float* yh = out + rh * head_dim;
  const int e1 = section * 2 * sec_half + i % sec_half, e2 = e1 + sec_half;
  const float x1 = xh[e1], x2 = xh[e2];
  yh[e1] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
  yh[e2] = __fadd_rn(__fmul_rn(x1, s), __fmul_rn(x2, c));
}

// ---------------------------------------------------------------------------------------------
// Conversions to 16-bit storage types.

template <DType kKv>
__global__ void cast_kernel(const float* src, int64_t n, void* dst) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) kv_put<kKv>(dst, i, src[i]);
}

// ---------------------------------------------------------------------------------------------
// Attention: one block of kAttnWarps warps per (query row, head, key split). The visible keys
// [lo, p] are cut into `splits` contiguous ranges (one when there are enough (row, head) pairs to
// fill the GPU; more for decode, where a single block per head would walk the whole cache alone).
// Each warp walks every kAttnWarps-th key of its block's range with an online softmax (running
// max, running sum, running weighted values; lane l owns value elements l, l + 32, ...); the
// block merges its warps. With one split it writes the output; otherwise it writes (values,
// max, sum) to `partial` and attention_combine merges the splits. Head dims up to kMaxHeadDim.

constexpr int kAttnWarps = 4, kMaxHeadDim = 512, kPerLane = kMaxHeadDim / kWarp;

template <DType kKv>
__global__ void __launch_bounds__(kAttnWarps * kWarp) attention_kernel(const float* q, KvView kv, AttentionAttrs a,
                                                                      float* out, float* partial) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t r = blockIdx.x / a.n_heads;
  const int h = static_cast<int>(blockIdx.x % a.n_heads);
  const int d = a.head_dim;
  const int kvh = h / (a.n_heads / a.n_kv_heads);
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int64_t p0 = kv.positions[0];
  const int64_t p = p0 + r;
  // Visible keys [lo, hi]: causal / sliding, widened to the row's bidirectional block, which
  // contains p (graph/ir.h AttentionAttrs; the two ranges meet at p).
  int64_t lo = a.window > 0 ? max(static_cast<int64_t>(0), p - a.window + 1) : 0, hi = p;
  if (kv.blocks && kv.blocks[2 * r] < kv.blocks[2 * r + 1]) {
    if (!a.window_limits_blocks) lo = min(lo, static_cast<int64_t>(kv.blocks[2 * r]));
    hi = max(hi, static_cast<int64_t>(kv.blocks[2 * r + 1]) - 1);
  }
  const int splits = static_cast<int>(gridDim.y);
  const int64_t chunk = (hi - lo + splits) / splits;  // ceil((hi - lo + 1) / splits)
  const int64_t j_begin = lo + blockIdx.y * chunk;
  const int64_t j_end = min(hi, j_begin + chunk - 1);

  __shared__ float qs[kMaxHeadDim];
  __shared__ float wm[kAttnWarps], wl[kAttnWarps];
  __shared__ float wacc[kAttnWarps][kMaxHeadDim];
  const float* qh = q + (r * a.n_heads + h) * d;
  for (int i = threadIdx.x; i < d; i += blockDim.x) qs[i] = qh[i];
  __syncthreads();

  float m = -INFINITY, l = 0.0f;
  float acc[kPerLane];
  for (int i = 0; i < kPerLane; ++i) acc[i] = 0.0f;
  for (int64_t j = j_begin + warp; j <= j_end; j += kAttnWarps) {
    const bool fresh = !kv.ring_only && j >= p0;
    const int64_t base = (fresh ? (j - p0) : (j % kv.cap)) * kv.kv_w + static_cast<int64_t>(kvh) * d;
    const void* kb = fresh ? kv.fresh_k : kv.ring_k;
    const void* vb = fresh ? kv.fresh_v : kv.ring_v;
    float part = 0.0f;
    for (int i = lane; i < d; i += kWarp) part += qs[i] * kv_get<kKv>(kb, base + i);
    float s = warp_sum(part) * a.scale;
    if (a.softcap > 0.0f) s = tanhf(s / a.softcap) * a.softcap;
    const float m_new = fmaxf(m, s);
    const float keep = expf(m - m_new);  // 0 on the first key (m = -inf)
    const float e = expf(s - m_new);
    l = l * keep + e;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int c = lane + i * kWarp;
      if (c < d) acc[i] = acc[i] * keep + e * kv_get<kKv>(vb, base + c);
    }
    m = m_new;
  }
  if (lane == 0) {
    wm[warp] = m;
    wl[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int c = lane + i * kWarp;
    if (c < d) wacc[warp][c] = acc[i];
  }
  __syncthreads();
  float mx = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) mx = fmaxf(mx, wm[w]);
  float denom = 0.0f, f[kAttnWarps];
  for (int w = 0; w < kAttnWarps; ++w) {
    f[w] = wm[w] == -INFINITY ? 0.0f : expf(wm[w] - mx);
    denom += wl[w] * f[w];
  }
  if (splits == 1) {
    float* oh = out + (r * a.n_heads + h) * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
      float v = 0.0f;
      for (int w = 0; w < kAttnWarps; ++w) v += wacc[w][c] * f[w];
      oh[c] = v / denom;
    }
    return;
  }
  float* ph = partial + (static_cast<int64_t>(blockIdx.x) * splits + blockIdx.y) * (d + 2);
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w) v += wacc[w][c] * f[w];
    ph[c] = v;
  }
  if (threadIdx.x == 0) {
    ph[d] = mx;  // -inf for a split with no keys (then denom = 0 and every value 0)
    ph[d + 1] = denom;
  }
}

// Merges the key splits of one (query row, head): out = sum_s v_s e^(m_s - M) / sum_s l_s e^(m_s - M).
__global__ void attention_combine(const float* partial, int splits, int d, float* out) {
  pdl_launch_dependents();
  pdl_wait();
  const float* ph = partial + static_cast<int64_t>(blockIdx.x) * splits * (d + 2);
  float mx = -INFINITY;
  for (int s = 0; s < splits; ++s) mx = fmaxf(mx, ph[s * (d + 2) + d]);
  float denom = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float m = ph[s * (d + 2) + d];
    if (m != -INFINITY) denom += ph[s * (d + 2) + d + 1] * expf(m - mx);
  }
  float* oh = out + static_cast<int64_t>(blockIdx.x) * d;
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    float v = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float m = ph[s * (d + 2) + d];
      if (m != -INFINITY) v += ph[s * (d + 2) + c] * expf(m - mx);
    }
    oh[c] = v / denom;
  }
}

template <DType kKv>
__global__ void append_kernel(KvView kv, int64_t r0, int64_t t, void* ring_k, void* ring_v) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n = (t - r0) * kv.kv_w;
  if (idx >= n) return;
  const int64_t r = r0 + idx / kv.kv_w, c = idx % kv.kv_w;
  const int64_t dst = ((kv.positions[0] + r) % kv.cap) * kv.kv_w + c;
  const int64_t src = r * kv.kv_w + c;
  kv_put<kKv>(ring_k, dst, kv_get<kKv>(kv.fresh_k, src));
  kv_put<kKv>(ring_v, dst, kv_get<kKv>(kv.fresh_v, src));
}

// ---------------------------------------------------------------------------------------------
// Elementwise.

__global__ void gated_act_kernel(const float* gate, const float* up, int64_t n, Activation act, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[i] = gated_value(gate[i], up[i], act);
}

__global__ void add_kernel(const float* a, const float* b, int64_t n, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

// ---------------------------------------------------------------------------------------------
// Top k of a row. A block of kTopThreads holds a slice of kTopSlice candidates in registers and
// takes k rounds: each round the block's best (value, index) is found by shuffles and shared
// memory, written out, and struck from its owner's registers.

constexpr int kTopThreads = 256, kTopPer = 8, kTopSlice = kTopThreads * kTopPer;

// Whether candidate (v1, i1) ranks before (v2, i2): larger value first, then the lower index;
// NaN after every number; index -1 (no candidate) after everything.
__device__ inline bool top_before(float v1, int i1, float v2, int i2) {
  if (i2 < 0) return i1 >= 0;
  if (i1 < 0) return false;
  const bool n1 = isnan(v1), n2 = isnan(v2);
  if (n1 || n2) return !n1 || (n2 && i1 < i2);
  return v1 > v2 || (v1 == v2 && i1 < i2);
}

// The best (v, i) of the warp's lanes, to every lane.
__device__ inline void warp_best(float& v, int& i) {
  for (int o = kWarp / 2; o > 0; o /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (top_before(ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
}

// Row r's candidates are vals / ids [r * in_stride, + n) (in_stride = n: rows are packed) (ids null: a candidate's index is its
// position). Block b writes its k best to out_vals / out_ids [(r * gridDim.x + b) * k, + k), or,
// when `final` (one block per row), to out [r, 2k] as values then indices as floats.
__global__ void top_k_pass(const float* vals, const int32_t* ids, int64_t n, int64_t in_stride, int k, bool final,
                           float* out_vals, int32_t* out_ids, float* out) {
  const int64_t r = blockIdx.y;
  const float* v = vals + r * in_stride;
  const int32_t* id = ids ? ids + r * in_stride : nullptr;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kTopSlice;
  float mv[kTopPer];
  int mi[kTopPer];
#pragma unroll
  for (int e = 0; e < kTopPer; ++e) {
    const int64_t j = base + threadIdx.x + e * kTopThreads;
    mv[e] = j < n ? v[j] : 0.0f;
    mi[e] = j < n ? (id ? id[j] : static_cast<int>(j)) : -1;
  }
  __shared__ float wv[kTopThreads / kWarp];
  __shared__ int wi[kTopThreads / kWarp];
  __shared__ int best_i;
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  for (int round = 0; round < k; ++round) {
    float bv = mv[0];
    int bi = mi[0];
#pragma unroll
    for (int e = 1; e < kTopPer; ++e)
      if (top_before(mv[e], mi[e], bv, bi)) {
        bv = mv[e];
        bi = mi[e];
      }
    warp_best(bv, bi);
    if (lane == 0) {
      wv[warp] = bv;
      wi[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
      bv = lane < kTopThreads / kWarp ? wv[lane] : 0.0f;
      bi = lane < kTopThreads / kWarp ? wi[lane] : -1;
      warp_best(bv, bi);
      if (lane == 0) {
        best_i = bi;
        if (final) {
          out[r * 2 * k + round] = bv;
          out[r * 2 * k + k + round] = static_cast<float>(bi);
        } else {
          const int64_t o = (r * gridDim.x + blockIdx.x) * k + round;
          out_vals[o] = bv;
          out_ids[o] = bi;
        }
      }
    }
    __syncthreads();
    const int taken = best_i;
#pragma unroll
    for (int e = 0; e < kTopPer; ++e)
      if (taken >= 0 && mi[e] == taken) mi[e] = -1;  // indices are distinct: one owner
  }
}

__global__ void soft_cap_kernel(const float* x, int64_t n, float cap, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = tanhf(x[i] / cap) * cap;
}

__global__ void scale_kernel(const float* x, int64_t n, float factor, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __fmul_rn(x[i], factor);
}

__global__ void slice_cols_kernel(const float* x, int64_t t, int64_t d, int64_t offset, int64_t width, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= t * width) return;
  const int64_t r = i / width, c = i % width;
  out[i] = x[r * d + offset + c];
}


}  // namespace

void embed(const DeviceWeight& table, const int32_t* ids, int64_t t, float scale, int64_t fallback_row, float* out,
           cudaStream_t stream) {
  if (t == 0) return;
  weight_kernel(table.dtype, "embed", [&]<DType kType>() {
    const dim3 grid(static_cast<unsigned>(t), static_cast<unsigned>((table.cols + kEmbedThreads - 1) / kEmbedThreads));
    embed_kernel<kType><<<grid, kEmbedThreads, 0, stream>>>(
        static_cast<const uint8_t*>(table.data), table.row_bytes, table.cols, table.rows, ids, scale, fallback_row, out);
  });
  check_launch("embed");
}

void matmul(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream, bool int8_activation,
            void* rounded, int64_t rounded_bytes) {
  if (t == 0 || w.rows == 0) return;
  if (t <= kMatVecMaxRows) {  // one pass over the weights: the matrix-vector kernels
    MatVecJob job;
    job.x = x;
    job.t = t;
    job.k = w.cols;
    job.n_weights = 1;
    job.w[0] = w;
    job.out[0] = out;
    job.int8_activation = int8_activation;
    job.rounded = rounded;
    job.rounded_bytes = rounded_bytes;
    matvec(job, stream);
    return;
  }
  const auto* wd = static_cast<const uint8_t*>(w.data);
  weight_kernel(w.dtype, "matmul", [&]<DType kType>() {
    const dim3 grid(blocks_for(w.rows, kTile), blocks_for(t, kTile));
    matmul_tiled<kType><<<grid, 256, 0, stream>>>(x, t, wd, w.row_bytes, w.rows, w.cols, out);
  });
  check_launch("matmul");
}

void rms_norm(const float* x, int64_t n_values, const DeviceWeight* w, const RmsNormAttrs& a, float* out,
              cudaStream_t stream) {
  const int64_t groups = n_values / a.dim;
  if (groups == 0) return;
  const int threads = a.dim >= 1024 ? 1024 : 256;
  weight_kernel(w ? w->dtype : DType::F32, "rms_norm", [&]<DType kType>() {
    rms_norm_kernel<kType><<<static_cast<unsigned>(groups), threads, 0, stream>>>(
        x, a.dim, w ? static_cast<const uint8_t*>(w->data) : nullptr, w != nullptr, a.weight_offset, a.eps, out);
  });
  check_launch("rms_norm");
}

void rope(const float* x, const int32_t* positions, int64_t t, int n_heads, int head_dim, int axes,
          const float* inv_freq, float* out, cudaStream_t stream) {
  const int64_t n = t * n_heads * (head_dim / 2);
  if (n == 0) return;
  if (axes < 1 || head_dim % (2 * axes) != 0)
    fail("cuda backend: rope: head_dim ", head_dim, " does not split into ", axes, " sections of pairs");
  rope_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(x, positions, t, n_heads, head_dim, axes, inv_freq, out);
  check_launch("rope");
}

void cast_f32(const float* src, int64_t n, DType to, void* dst, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_kv(to, [&]<DType kKv>() { cast_kernel<kKv><<<blocks_for(n, 256), 256, 0, stream>>>(src, n, dst); });
  check_launch("cast_f32");
}

void weight_rows_to_bf16(const DeviceWeight& w, int64_t row0, int64_t rows, void* out, cudaStream_t stream) {
  if (rows == 0) return;
  weight_kernel(w.dtype, "weight_rows_to_bf16", [&]<DType kType>() {
    rows_to_bf16_kernel<kType><<<static_cast<unsigned>(rows), 256, 0, stream>>>(
        static_cast<const uint8_t*>(w.data) + row0 * w.row_bytes, w.row_bytes, w.cols,
        static_cast<__nv_bfloat16*>(out));
  });
  check_launch("weight_rows_to_bf16");
}

int attention_splits(int64_t t, const AttentionAttrs& a, int64_t cap) {
  if (t * a.n_heads >= 256) return 1;  // enough blocks already
  return static_cast<int>(std::clamp<int64_t>(cap / 128, 1, 32));
}

void attention(const float* q, const KvView& kv, int64_t t, const AttentionAttrs& a, float* out, float* partial,
               cudaStream_t stream) {
  if (a.head_dim > kMaxHeadDim) fail("cuda backend: attention head_dim ", a.head_dim, " > ", kMaxHeadDim);
  if (t == 0) return;
  const int splits = attention_splits(t, a, kv.cap);
  const dim3 grid(static_cast<unsigned>(t * a.n_heads), static_cast<unsigned>(splits));
  dispatch_kv(kv.dtype, [&]<DType kKv>() {
    launch_dependent("attention", attention_kernel<kKv>, grid, kAttnWarps * kWarp, 0, stream, q, kv, a, out, partial);
  });
  check_launch("attention");
  if (splits > 1) {
    launch_dependent("attention_combine", attention_combine, static_cast<unsigned>(t * a.n_heads), 128, 0, stream, partial, splits,
                     a.head_dim, out);
    check_launch("attention_combine");
  }
}

void append_kv(const KvView& kv, int64_t t, void* ring_k, void* ring_v, cudaStream_t stream) {
  const int64_t r0 = t > kv.cap ? t - kv.cap : 0;
  const int64_t n = (t - r0) * kv.kv_w;
  if (n == 0) return;
  dispatch_kv(kv.dtype, [&]<DType kKv>() {
    append_kernel<kKv><<<blocks_for(n, 256), 256, 0, stream>>>(kv, r0, t, ring_k, ring_v);
  });
  check_launch("append_kv");
}

void gated_act(const float* gate, const float* up, int64_t n, Activation act, float* out, cudaStream_t stream) {
  if (n == 0) return;
  gated_act_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(gate, up, n, act, out);
  check_launch("gated_act");
}

void add(const float* a, const float* b, int64_t n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(a, b, n, out);
  check_launch("add");
}

int64_t top_k_scratch_bytes(int64_t t, int64_t d, int k) {
  const int64_t blocks = (d + kTopSlice - 1) / kTopSlice;
  return blocks > 1 ? 2 * t * blocks * k * static_cast<int64_t>(sizeof(float) + sizeof(int32_t)) : 0;
}

void top_k(const float* x, int64_t t, int64_t d, int k, float* out, void* scratch, cudaStream_t stream) {
  if (k <= 0 || k > d || k > kTopKMax) fail("cuda backend: top_k of ", k, " over rows of ", d, " (at most ", kTopKMax, ")");
  if (t == 0) return;
  // Two candidate buffers (values, then indices), each sized for the first pass's output.
  const int64_t first = t * ((d + kTopSlice - 1) / kTopSlice) * k;
  auto* buf = static_cast<std::byte*>(scratch);
  float* vals[2] = {reinterpret_cast<float*>(buf), reinterpret_cast<float*>(buf + first * 8)};
  int32_t* ids[2] = {reinterpret_cast<int32_t*>(buf + first * 4), reinterpret_cast<int32_t*>(buf + first * 12)};
  const float* in_vals = x;
  const int32_t* in_ids = nullptr;
  int64_t n = d;
  for (int pass = 0;; ++pass) {
    const int64_t blocks = (n + kTopSlice - 1) / kTopSlice;
    const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(t));
    if (blocks == 1) {
      top_k_pass<<<grid, kTopThreads, 0, stream>>>(in_vals, in_ids, n, n, k, true, nullptr, nullptr, out);
      check_launch("top_k");
      return;
    }
    float* ov = vals[pass % 2];
    int32_t* oi = ids[pass % 2];
    top_k_pass<<<grid, kTopThreads, 0, stream>>>(in_vals, in_ids, n, n, k, false, ov, oi, nullptr);
    check_launch("top_k");
    in_vals = ov;
    in_ids = oi;
    n = blocks * k;
  }
}

void soft_cap(const float* x, int64_t n, float cap, float* out, cudaStream_t stream) {
  if (n == 0) return;
  soft_cap_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(x, n, cap, out);
  check_launch("soft_cap");
}

void scale(const float* x, int64_t n, float factor, float* out, cudaStream_t stream) {
  if (n == 0) return;
  scale_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(x, n, factor, out);
  check_launch("scale");
}

void slice_cols(const float* x, int64_t t, int64_t d, int64_t offset, int64_t width, float* out, cudaStream_t stream) {
  if (t * width == 0) return;
  slice_cols_kernel<<<blocks_for(t * width, 256), 256, 0, stream>>>(x, t, d, offset, width, out);
  check_launch("slice_cols");
}

}  // namespace gemrt::cuda
