#include "gemrt/backend/cuda/decode_attention.cuh"

#include <algorithm>
#include <cmath>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/env_switch.h"
#include "gemrt/backend/cuda/int8_codes.cuh"
#include "gemrt/backend/cuda/timeline_device.cuh"
#include "gemrt/core/error.h"

namespace gemrt::cuda {
namespace {

// A block of kThreads per (KV head, key split) serves every query head of the KV head's group,
// so each key and value row is read once per block. Keys go through shared memory in tiles of
// `tile` rows (as float32), every thread issuing 16-byte loads, so a tile costs one memory round
// trip rather than one per key. The (head, dimension) accumulators live in shared memory and
// every loop over them is a plain loop: unrolled, this kernel's code grew to 400 KB and its
// instruction fetches, not its memory reads, set its time.
// Every phase issues its global loads together before using them (one memory round trip per
// phase: a block this small has nothing else to hide latency behind).
// Threads per block: 128, or GEMRT_CUDA_ATTN_THREADS=256 (an experiment switch); the kernel
// reads its own blockDim. kMaxThreads bounds its registers.
constexpr int kThreads = 128, kMaxThreads = 256;
constexpr int kMaxGroupDim = 4096;  // query heads per KV head x head_dim at most
constexpr int kMaxDim = 512, kRowPer = kMaxDim / kWarp;  // head_dim limit; values per lane of a row
constexpr int kTileFloats = 2048;  // floats of one key tile (and of one value tile)
constexpr int kMaxSplits = 64;
// Keys per split at least: a short context still spreads over several blocks (a block's work is
// a serial chain of short steps; few keys each keeps that chain short). GEMRT_CUDA_ATTN_MIN_CHUNK=N
// sets another (an experiment switch: fewer splits to merge against longer chains).
constexpr int kMinChunk = 8;
int min_chunk() {
  static const int n = [] {
    const int64_t v = env_int("GEMRT_CUDA_ATTN_MIN_CHUNK", 0);
    return v > 0 && v <= (1 << 20) ? static_cast<int>(v) : kMinChunk;
  }();
  return n;
}
constexpr int kMaxTp = 8;          // threads per (head, key) score at most

int attention_threads() {
  static const int n = env_is("GEMRT_CUDA_ATTN_THREADS", "256") ? 256 : kThreads;
  return n;
}

int tile_keys(int head_dim) { return std::clamp(kTileFloats / head_dim, 4, 64); }

struct Params {
  AttendSource src[3];  // q, k, v
  const int32_t* positions;
  void* ring_k;
  void* ring_v;
  int cap;  // ring rows (positions are int32, so 32-bit index arithmetic suffices)
  int64_t kv_w;
  int n_heads, n_kv_heads, head_dim, window, tile;
  int min_chunk;  // keys per split at least (min_chunk())
  int stride;  // floats between tile rows: head_dim + 1, so rows start in different banks
  float scale, softcap;
  float* out;
  // [n_heads][splits][head_dim] unnormalised values, then [n_heads][splits][2] max and sum.
  float* partial;
  int* counters;   // [n_kv_heads]
  // The output as int8 codes too (DecodeAttentionJob::codes_out): codes [n_heads * head_dim] and
  // per-32 scales; null: none.
  int8_t* oq;
  float2* os;
  unsigned long long* stamps;  // GEMRT_CUDA_TIMELINE span slots (timeline_device.cuh); null: none
};

// The KV head group's finished rows vals [group][d] (shared memory, complete: the caller
// synchronised the block) to p.out, and, where the o product takes them, as int8 codes, a warp
// per 32 values (head_dim is then a multiple of 32).
__device__ void write_output(const Params& p, int h0, int owned, const float* vals) {
  const int64_t at0 = static_cast<int64_t>(h0) * p.head_dim;
  const int nt = static_cast<int>(blockDim.x);
  for (int idx = static_cast<int>(threadIdx.x); idx < owned; idx += nt) p.out[at0 + idx] = vals[idx];
  if (!p.oq) return;
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  for (int b = warp; b < owned / kWarp; b += nt / kWarp) {
    const int64_t at = at0 + int64_t{b} * kWarp;
    round_warp32(vals[b * kWarp + lane], p.oq + at, p.os + at / kWarp);
  }
}

// Rounds to the KV storage type and back (what a stored value reads back as).
template <DType kKv>
__device__ inline float kv_round(float v) {
  if constexpr (kKv == DType::F32) return v;
  else if constexpr (kKv == DType::F16) return __half2float(__float2half_rn(v));
  else return __bfloat162float(__float2bfloat16_rn(v));
}

// cos and sin of pos * inv_freq[i] for the d / 2 pairs (evaluated in double and rounded, as
// rope_kernel does), once per block: every row of a layer rotates by the same table.
__device__ __noinline__ void rope_table(const float* inv_freq, int d, int pos, float* cs, float* sn) {
  if (!inv_freq) return;
#pragma unroll 1  // one copy of sincos's code (kept small: see kThreads)
  for (int i = static_cast<int>(threadIdx.x); i < d / 2; i += static_cast<int>(blockDim.x)) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    double c, sv;
    sincos(static_cast<double>(angle), &sv, &c);  // one range reduction for both
    cs[i] = static_cast<float>(c);
    sn[i] = static_cast<float>(sv);
  }
}

// One warp makes one head's row [d] at `dst` (shared memory): norm, then RoPE, each only if
// given, in the operation order of norm_rope_kernel / rope_kernel.
__device__ __noinline__ void prepare_row(const AttendSource& s, int head, int d, const float* cs, const float* sn, float* dst) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const float* x = s.x + static_cast<int64_t>(head) * d;
  float xv[kRowPer], gv[kRowPer];
#pragma unroll
  for (int m = 0; m < kRowPer; ++m) {
    xv[m] = lane + m * kWarp < d ? x[lane + m * kWarp] : 0.0f;
    gv[m] = 1.0f;
  }
  // The gains by dtype outside the loop: the loads of a row go out together (gain_at's branches
  // inside the loop would make each wait for the one before).
  if (s.normed && s.norm.gain) {
    const auto gains = [&]<typename T>(const T* g, auto to_float) {
#pragma unroll
      for (int m = 0; m < kRowPer; ++m)
        if (lane + m * kWarp < d) gv[m] = s.norm.offset + to_float(g[lane + m * kWarp]);
    };
    if (s.norm.gain_dtype == DType::F32) gains(static_cast<const float*>(s.norm.gain), [](float v) { return v; });
    else if (s.norm.gain_dtype == DType::BF16)
      gains(static_cast<const __nv_bfloat16*>(s.norm.gain), [](__nv_bfloat16 v) { return __bfloat162float(v); });
    else gains(static_cast<const __half*>(s.norm.gain), [](__half v) { return __half2float(v); });
  }
  if (s.normed) {
    float ss = 0.0f;
#pragma unroll
    for (int m = 0; m < kRowPer; ++m) ss += xv[m] * xv[m];
    const float inv = 1.0f / sqrtf(warp_sum(ss) / static_cast<float>(d) + s.norm.eps);
#pragma unroll
    for (int m = 0; m < kRowPer; ++m) xv[m] = (xv[m] * inv) * gv[m];
  }
#pragma unroll
  for (int m = 0; m < kRowPer; ++m)
    if (lane + m * kWarp < d) dst[lane + m * kWarp] = xv[m];
  __syncwarp();
  if (!s.inv_freq) return;
  const int half = d / 2;
  for (int i = lane; i < half; i += kWarp) {
    const float x1 = dst[i], x2 = dst[i + half];
    dst[i] = __fsub_rn(__fmul_rn(x1, cs[i]), __fmul_rn(x2, sn[i]));
    dst[i + half] = __fadd_rn(__fmul_rn(x1, sn[i]), __fmul_rn(x2, cs[i]));
  }
  __syncwarp();
}

// Copies key and value rows [j0, j0 + n) of KV head kvh to shared memory as float32 (rows
// p.stride floats apart); row `pos` (this token's, not in the ring yet for every block) comes
// from kn / vn. All of a thread's loads are issued before any is stored.
template <DType kKv>
__device__ void load_tiles(const Params& p, int kvh, int j0, int n, int pos, const float* kn,
                           const float* vn, float* kt, float* vt) {
  constexpr int kPer = kKv == DType::F32 ? 4 : 8;  // values per 16-byte load
  constexpr int kLoads = kTileFloats / kPer / kThreads;  // enough for blockDim.x >= kThreads
  const int nt = static_cast<int>(blockDim.x);
  const int d = p.head_dim;
  const auto ring_at = [&](int j, int c) { return (j % p.cap) * p.kv_w + static_cast<int64_t>(kvh) * d + c; };
  if (d % kPer != 0 || p.kv_w % kPer != 0) {  // rows not 16-byte aligned: one value at a time
    for (int idx = static_cast<int>(threadIdx.x); idx < n * d; idx += nt) {
      const int r = idx / d, c = idx % d;
      const int j = j0 + r;
      kt[r * p.stride + c] = j == pos ? kn[c] : kv_get<kKv>(p.ring_k, ring_at(j, c));
      vt[r * p.stride + c] = j == pos ? vn[c] : kv_get<kKv>(p.ring_v, ring_at(j, c));
    }
    return;
  }
  const int per_row = d / kPer, total = n * per_row;
  uint4 rk[kLoads] = {}, rv[kLoads] = {};
#pragma unroll
  for (int u = 0; u < kLoads; ++u) {
    const int idx = static_cast<int>(threadIdx.x) + u * nt;
    const int j = j0 + idx / per_row;
    if (idx < total && j != pos) {
      const int64_t elem = ring_at(j, (idx % per_row) * kPer);
      rk[u] = __ldg(reinterpret_cast<const uint4*>(static_cast<const char*>(p.ring_k) + elem * (16 / kPer)));
      rv[u] = __ldg(reinterpret_cast<const uint4*>(static_cast<const char*>(p.ring_v) + elem * (16 / kPer)));
    }
  }
#pragma unroll
  for (int u = 0; u < kLoads; ++u) {
    const int idx = static_cast<int>(threadIdx.x) + u * nt;
    if (idx >= total) break;
    const int r = idx / per_row, c = (idx % per_row) * kPer;
    float k[kPer], v[kPer];
    if (j0 + r == pos) {
#pragma unroll
      for (int e = 0; e < kPer; ++e) {
        k[e] = kn[c + e];
        v[e] = vn[c + e];
      }
    } else {
      unpack16<kKv>(rk[u], k);
      unpack16<kKv>(rv[u], v);
    }
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      kt[r * p.stride + c + e] = k[e];
      vt[r * p.stride + c + e] = v[e];
    }
  }
}

template <DType kKv>
__global__ void __launch_bounds__(kMaxThreads) decode_attention_kernel(Params p) {
  pdl_launch_dependents();
  stamp_start(p.stamps);
  // Until pdl_wait() (device_util.cuh) this block reads only what no kernel writes: the position
  // (copied in before the run) and the RoPE tables, so the split bounds and the rotations are
  // ready when the kernel before finishes.
  const int kvh = static_cast<int>(blockIdx.x), split = static_cast<int>(blockIdx.y);
  const int splits = static_cast<int>(gridDim.y);  // launched; `used` of them get keys
  const int d = p.head_dim, group = p.n_heads / p.n_kv_heads, h0 = kvh * group, tile = p.tile;
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  const int nt = static_cast<int>(blockDim.x), warps = nt / kWarp;
  const int pos = p.positions[0];
  const int lo = p.window > 0 ? max(0, pos - p.window + 1) : 0;
  // This split's keys: an even share, at least p.min_chunk (later splits may get none).
  const int chunk = max(p.min_chunk, (pos - lo + splits) / splits);
  const int j_begin = lo + split * chunk, j_end = min(pos, j_begin + chunk - 1);
  // Splits that get keys (split 0 always, which also stores the new row); the others leave at
  // once and take no part in the merge, so a short context costs few blocks' work.
  const int used = (pos - lo + chunk) / chunk;
  if (split >= used) return;

  extern __shared__ float smem[];
  float* qs = smem;                // [group][d]
  float* kn = qs + group * d;      // this token's key [d], rounded to the cache dtype
  float* vn = kn + d;              // and value
  float* kt = vn + d;              // key tile [tile][stride]
  float* vt = kt + tile * p.stride;  // value tile [tile][stride]
  float* sc = vt + tile * p.stride;  // scores, then weights [group][tile]
  float* run_m = sc + group * tile;  // per head: running max, running sum, this tile's rescale
  float* run_l = run_m + group;
  float* keep = run_l + group;
  float* q_cos = keep + group;     // RoPE tables of q and k [d / 2] each
  float* q_sin = q_cos + d / 2;
  float* k_cos = q_sin + d / 2;
  float* k_sin = k_cos + d / 2;
  float* acc = k_sin + d / 2;      // [group][d] weighted values, unnormalised

  rope_table(p.src[0].inv_freq, d, pos, q_cos, q_sin);
  rope_table(p.src[1].inv_freq, d, pos, k_cos, k_sin);
  pdl_wait();
  stamp_released(p.stamps);
  __syncthreads();

  // 1. q rows of the group, this token's key and value (warp w makes rows w, w + warps, ...).
  for (int r = warp; r < group + 2; r += warps) {
    if (r < group) prepare_row(p.src[0], h0 + r, d, q_cos, q_sin, qs + r * d);
    else if (r == group) prepare_row(p.src[1], kvh, d, k_cos, k_sin, kn);
    else prepare_row(p.src[2], kvh, d, nullptr, nullptr, vn);
  }
  for (int i = static_cast<int>(threadIdx.x); i < group; i += nt) {
    run_m[i] = -INFINITY;
    run_l[i] = 0.0f;
  }
  __syncthreads();
  // The new key and value as the cache will hold them; split 0 of each KV head stores them.
  for (int i = static_cast<int>(threadIdx.x); i < d; i += nt) {
    kn[i] = kv_round<kKv>(kn[i]);
    vn[i] = kv_round<kKv>(vn[i]);
    if (split == 0) {
      const int64_t at = (pos % p.cap) * p.kv_w + static_cast<int64_t>(kvh) * d + i;
      kv_put<kKv>(p.ring_k, at, kn[i]);
      kv_put<kKv>(p.ring_v, at, vn[i]);
    }
  }
  __syncthreads();

  // 2. Tiles of keys: scores, an online softmax per head, weighted values.
  const int owned = group * d;  // (head, dimension) pairs; thread t owns t, t + nt, ...
  for (int idx = static_cast<int>(threadIdx.x); idx < owned; idx += nt) acc[idx] = 0.0f;
  for (int j0 = j_begin; j0 <= j_end; j0 += tile) {
    const int n = min(tile, j_end - j0 + 1);
    load_tiles<kKv>(p, kvh, j0, n, pos, kn, vn, kt, vt);
    __syncthreads();
    // Scores: tp threads per (head, key) pair (as many as keep the block busy), pairs head-major;
    // a uniform loop so that every lane takes part in the shuffles.
    int tp = 1;
    while (tp < kMaxTp && group * n * tp * 2 <= nt) tp *= 2;
    const int sub = static_cast<int>(threadIdx.x) % tp, per_pass = nt / tp;
    for (int base = 0; base < group * n; base += per_pass) {
      const int pr = base + static_cast<int>(threadIdx.x) / tp;
      const bool valid = pr < group * n;
      const int g = valid ? pr / n : 0, r = valid ? pr % n : 0;
      float a0 = 0.0f, a1 = 0.0f;
      if (valid) {
        const float* qg = qs + g * d;
        const float* kr = kt + r * p.stride;
        int i = sub;
        for (; i + tp < d; i += 2 * tp) {
          a0 += qg[i] * kr[i];
          a1 += qg[i + tp] * kr[i + tp];
        }
        if (i < d) a0 += qg[i] * kr[i];
      }
      float dot = a0 + a1;
      for (int o = tp / 2; o > 0; o /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, o);
      if (valid && sub == 0) {
        float s = dot * p.scale;
        if (p.softcap > 0.0f) s = tanhf(s / p.softcap) * p.softcap;
        sc[g * tile + r] = s;
      }
    }
    __syncthreads();
    for (int g = warp; g < group; g += warps) {
      float mx = -INFINITY;
      for (int r = lane; r < n; r += kWarp) mx = fmaxf(mx, sc[g * tile + r]);
      for (int o = kWarp / 2; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float m_old = run_m[g];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
      for (int r = lane; r < n; r += kWarp) {
        const float e = expf(sc[g * tile + r] - m_new);
        sc[g * tile + r] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      __syncwarp();
      if (lane == 0) {
        const float k = expf(m_old - m_new);  // 0 on the first tile (m_old = -inf)
        keep[g] = k;
        run_l[g] = run_l[g] * k + sum;
        run_m[g] = m_new;
      }
    }
    __syncthreads();
    for (int idx = static_cast<int>(threadIdx.x); idx < owned; idx += nt) {
      const int g = idx / d, c = idx % d;
      float a = acc[idx] * keep[g];
#pragma unroll 4
      for (int r = 0; r < n; ++r) a += sc[g * tile + r] * vt[r * p.stride + c];
      acc[idx] = a;
    }
    __syncthreads();  // the tiles and weights are overwritten next
  }

  // 3. One split: the output. Several: this split's partial result; the last block of the KV
  // head to arrive merges them all (as attention_combine) and re-arms the counter.
  if (used == 1) {
    for (int idx = static_cast<int>(threadIdx.x); idx < owned; idx += nt) acc[idx] = acc[idx] / run_l[idx / d];
    __syncthreads();
    write_output(p, h0, owned, acc);
    stamp_end(p.stamps);
    return;
  }
  const auto part_of = [&](int g, int s) { return p.partial + (static_cast<int64_t>(h0 + g) * splits + s) * d; };
  const auto stats_of = [&](int g, int s) {
    return p.partial + static_cast<int64_t>(p.n_heads) * splits * d + (static_cast<int64_t>(h0 + g) * splits + s) * 2;
  };
  for (int idx = static_cast<int>(threadIdx.x); idx < owned; idx += nt) part_of(idx / d, split)[idx % d] = acc[idx];
  for (int g = static_cast<int>(threadIdx.x); g < group; g += nt) {
    stats_of(g, split)[0] = run_m[g];
    stats_of(g, split)[1] = run_l[g];
  }
  __threadfence();
  __syncthreads();
  __shared__ bool last;
  if (threadIdx.x == 0) last = atomicAdd(&p.counters[kvh], 1) == used - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();  // the other splits' partial results are visible from here
  // Per head: the largest split max, the denominator (in run_l) and each split's factor
  // e^(m_s - M).
  __shared__ float factor[kMaxSplits * 8];
  for (int g = warp; g < group; g += warps) {
    float mx = -INFINITY;
    for (int s = lane; s < used; s += kWarp) mx = fmaxf(mx, __ldcg(stats_of(g, s)));
    for (int o = kWarp / 2; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float denom = 0.0f;
    for (int s = lane; s < used; s += kWarp) {
      const float m = __ldcg(stats_of(g, s)), l = __ldcg(stats_of(g, s) + 1);
      const float f = expf(m - mx);  // every merged split has keys: m is finite
      factor[g * splits + s] = f;
      denom += l * f;
    }
    denom = warp_sum(denom);
    if (lane == 0) run_l[g] = denom;
  }
  __syncthreads();
  // Four values per load where rows allow, eight splits' loads in flight.
  const int per = d % 4 == 0 ? 4 : 1;
  for (int q = static_cast<int>(threadIdx.x); q < owned / per; q += nt) {
    const int g = q * per / d, c = q * per % d;
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 8
    for (int s = 0; s < used; ++s) {
      const float f = factor[g * splits + s];
      if (per == 4) {
        const float4 x = __ldcg(reinterpret_cast<const float4*>(part_of(g, s) + c));
        v[0] += x.x * f;
        v[1] += x.y * f;
        v[2] += x.z * f;
        v[3] += x.w * f;
      } else {
        v[0] += __ldcg(part_of(g, s) + c) * f;
      }
    }
    for (int e = 0; e < per; ++e) acc[g * d + c + e] = v[e] / run_l[g];  // this block's partial is in p.partial
  }
  if (threadIdx.x == 0) p.counters[kvh] = 0;
  __syncthreads();
  write_output(p, h0, owned, acc);
  stamp_end(p.stamps);
}

size_t smem_bytes(const AttentionAttrs& a, int tile, int stride) {
  const int group = a.n_heads / a.n_kv_heads;
  return sizeof(float) * static_cast<size_t>(group * a.head_dim + 2 * a.head_dim + 2 * tile * stride +
                                             group * tile + 3 * group + 2 * a.head_dim + group * a.head_dim);
}

}  // namespace

bool decode_attention_hands_on_codes(const AttentionAttrs& a) { return a.head_dim % kWarp == 0; }

int decode_attention_splits(const AttentionAttrs& a, int64_t cap) {
  const int64_t chunks = (cap + min_chunk() - 1) / min_chunk();
  const int64_t fill = std::max(1, 2 * sm_count() / std::max(1, a.n_kv_heads));  // two blocks per SM
  return static_cast<int>(std::clamp<int64_t>(std::min(chunks, fill), 1, kMaxSplits));
}

int64_t decode_attention_partial_floats(const AttentionAttrs& a, int64_t cap) {
  const int splits = decode_attention_splits(a, cap);
  return splits > 1 ? int64_t{a.n_heads} * splits * (a.head_dim + 2) : 0;
}

void decode_attention(const DecodeAttentionJob& job, float* partial, int* counters, cudaStream_t stream) {
  const AttentionAttrs& a = job.attrs;
  const int group = a.n_kv_heads > 0 ? a.n_heads / a.n_kv_heads : 0;
  if (group <= 0 || a.n_heads % a.n_kv_heads != 0 || group > 8 || group * a.head_dim > kMaxGroupDim ||
      a.head_dim % 2 != 0 || a.head_dim <= 0 || a.head_dim > kMaxDim)
    fail("cuda backend: one-token attention with ", a.n_heads, " heads over ", a.n_kv_heads, " KV heads of dim ",
         a.head_dim, " is not supported (at most 8 query heads per KV head, an even head_dim up to ", kMaxDim, ", group x head_dim <= ",
         kMaxGroupDim, ")");
  Params p{};
  p.src[0] = job.q;
  p.src[1] = job.k;
  p.src[2] = job.v;
  p.positions = job.positions;
  p.ring_k = job.ring_k;
  p.ring_v = job.ring_v;
  if (job.cap <= 0 || job.cap > INT32_MAX) fail("cuda backend: a KV slot of ", job.cap, " rows for one-token attention");
  p.cap = static_cast<int>(job.cap);
  p.kv_w = job.kv_w;
  p.n_heads = a.n_heads;
  p.n_kv_heads = a.n_kv_heads;
  p.head_dim = a.head_dim;
  p.window = a.window;
  p.tile = tile_keys(a.head_dim);
  p.min_chunk = min_chunk();
  p.stamps = job.stamps;
  p.stride = a.head_dim + 1;
  p.scale = a.scale;
  p.softcap = a.softcap;
  p.out = job.out;
  p.partial = partial;
  p.counters = counters;
  if (job.codes_out) {
    if (!decode_attention_hands_on_codes(a))
      fail("cuda backend: one-token attention of head_dim ", a.head_dim, " cannot write int8 codes (a multiple of 32 expected)");
    const CodesView o = codes_view(job.codes_out, 1, int64_t{a.n_heads} * a.head_dim);
    p.oq = o.q;
    p.os = o.s;
  }
  const int splits = decode_attention_splits(a, job.cap);
  const size_t smem = smem_bytes(a, p.tile, p.stride);
  const dim3 grid(static_cast<unsigned>(a.n_kv_heads), static_cast<unsigned>(splits));
  dispatch_kv(job.kv_dtype, [&]<DType kKv>() {
    check(cudaFuncSetAttribute(decode_attention_kernel<kKv>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem)),
          "raising the decode attention's shared memory");
    launch_dependent("decode_attention", decode_attention_kernel<kKv>, grid, attention_threads(), smem, stream, p);
  });
  check_launch("decode_attention");
}

}  // namespace gemrt::cuda
