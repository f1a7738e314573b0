#include "gemrt/backend/cuda/flash_attention.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"

namespace gemrt::cuda {
namespace {

// A block: 4 warps, 16 query rows each (64 rows of one head); keys in tiles of 64. Shared memory
// holds the block's queries [64][D], one key tile [64][D] and its values transposed [D][64], all
// 16-bit, rows padded by 8 values so that the fragment reads below hit 32 distinct banks.
constexpr int kWarps = 4, kBlockRows = 16 * kWarps, kKeyTile = 64, kPad = 8;

template <int D>
constexpr size_t smem_bytes() {
  return sizeof(uint16_t) * (size_t{kBlockRows} * (D + kPad) + size_t{kKeyTile} * (D + kPad) +
                             size_t{D} * (kKeyTile + kPad));
}

template <DType kKv>
__device__ inline uint32_t pack2(float lo, float hi) {
  if constexpr (kKv == DType::F16) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
}

// c += a (16x16, row-major fragment) * b (16x8, column fragment); float32 accumulators.
template <DType kKv>
__device__ inline void mma(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                           uint32_t b1) {
  if constexpr (kKv == DType::F16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
}

__device__ inline uint32_t ld32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// Fragment layouts of mma.m16n8k16 (g = lane / 4, q = lane % 4): A regs hold (row g, cols 2q,2q+1),
// (row g+8, same), (row g, cols 2q+8,+9), (row g+8, same); B regs hold (k 2q,2q+1; n g) and
// (k 2q+8,+9; n g); C holds (row g, cols 2q,2q+1) and (row g+8, same).
template <DType kKv, int D>
__global__ void __launch_bounds__(kWarps * kWarp) flash_kernel(const float* q, KvView kv, AttentionAttrs a, int64_t t,
                                                              float* out) {
  constexpr int kS = D + kPad;         // row stride of queries and keys (16-bit values)
  constexpr int kVs = kKeyTile + kPad;  // row stride of the transposed values
  constexpr int kChunks = D / 8;       // 16-byte chunks per key row
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* qs = smem;
  uint16_t* ks = qs + kBlockRows * kS;
  uint16_t* vt = ks + kKeyTile * kS;

  const int h = static_cast<int>(blockIdx.y);
  const int kvh = h / (a.n_heads / a.n_kv_heads);
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const int64_t p0 = kv.positions[0];
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  const int g = lane / 4, qd = lane % 4;
  const int64_t q_stride = static_cast<int64_t>(a.n_heads) * D;

  for (int e = static_cast<int>(threadIdx.x); e < kBlockRows * D / 2; e += kWarps * kWarp) {
    const int r = e / (D / 2), c = (e % (D / 2)) * 2;
    float x0 = 0.0f, x1 = 0.0f;
    if (r0 + r < t) {
      const float* src = q + (r0 + r) * q_stride + static_cast<int64_t>(h) * D + c;
      x0 = src[0];
      x1 = src[1];
    }
    *reinterpret_cast<uint32_t*>(qs + r * kS + c) = pack2<kKv>(x0, x1);
  }

  const int64_t last = min(t, r0 + kBlockRows) - 1;
  int64_t hi = p0 + last;  // the last key any row of the block sees
  int64_t lo = a.window > 0 ? max(static_cast<int64_t>(0), p0 + r0 - a.window + 1) : 0;
  const int64_t pos[2] = {p0 + r0 + warp * 16 + g, p0 + r0 + warp * 16 + g + 8};
  // Bidirectional blocks (graph/ir.h AttentionAttrs): key range of the whole block of rows, and
  // each of this thread's two rows' own block ([0, 0): none).
  int64_t blk[2][2] = {{0, 0}, {0, 0}};
  if (kv.blocks) {
    for (int64_t r = r0; r <= last; ++r)
      if (kv.blocks[2 * r] < kv.blocks[2 * r + 1]) {
        if (!a.window_limits_blocks) lo = min(lo, static_cast<int64_t>(kv.blocks[2 * r]));
        hi = max(hi, static_cast<int64_t>(kv.blocks[2 * r + 1]) - 1);
      }
    for (int r = 0; r < 2; ++r) {
      const int64_t row = pos[r] - p0;
      if (row < t) {
        blk[r][0] = kv.blocks[2 * row];
        blk[r][1] = kv.blocks[2 * row + 1];
      }
    }
  }
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  for (int64_t k0 = lo; k0 <= hi; k0 += kKeyTile) {
    __syncthreads();  // the previous tile is no longer read (and, first time round, the queries are written)
    for (int e = static_cast<int>(threadIdx.x); e < kKeyTile * kChunks; e += kWarps * kWarp) {
      const int key = e / kChunks, chunk = e % kChunks;
      const int64_t kp = k0 + key;
      uint4 kraw{0, 0, 0, 0}, vraw{0, 0, 0, 0};
      if (kp <= hi) {
        const bool fresh = kp >= p0;
        const int64_t row = fresh ? kp - p0 : kp % kv.cap;
        const int64_t off = (row * kv.kv_w + static_cast<int64_t>(kvh) * D) * 2 + chunk * 16;  // bytes
        kraw = *reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(fresh ? kv.fresh_k : kv.ring_k) + off);
        vraw = *reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(fresh ? kv.fresh_v : kv.ring_v) + off);
      }
      *reinterpret_cast<uint4*>(ks + key * kS + chunk * 8) = kraw;
      const uint16_t* vv = reinterpret_cast<const uint16_t*>(&vraw);
#pragma unroll
      for (int i = 0; i < 8; ++i) vt[(chunk * 8 + i) * kVs + key] = vv[i];
    }
    __syncthreads();

    // Scores of this warp's 16 rows against the 64 keys: s[j] covers keys 8j .. 8j+7.
    float s[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll 4
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint16_t* qa = qs + (warp * 16 + g) * kS + kk * 16 + 2 * qd;
      const uint32_t a0 = ld32(qa), a1 = ld32(qa + 8 * kS), a2 = ld32(qa + 8), a3 = ld32(qa + 8 * kS + 8);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const uint16_t* kb = ks + (j * 8 + g) * kS + kk * 16 + 2 * qd;
        mma<kKv>(s[j], a0, a1, a2, a3, ld32(kb), ld32(kb + 8));
      }
    }

    // Scale, soft-cap, mask; online softmax per row (rows g and g+8 of the warp; the four lanes
    // of a quad share a row).
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e / 2;
        const int64_t kp = k0 + j * 8 + 2 * qd + (e % 2);
        float v = s[j][e] * a.scale;
        if (a.softcap > 0.0f) v = tanhf(v / a.softcap) * a.softcap;
        const bool in_window = a.window <= 0 || pos[r] - kp < a.window;
        const bool visible = (kp <= pos[r] && kp <= hi && in_window) ||
                             (blk[r][0] <= kp && kp < blk[r][1] && (in_window || !a.window_limits_blocks));
        s[j][e] = visible ? v : -INFINITY;
        mx[r] = fmaxf(mx[r], s[j][e]);
      }
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float m_new = fmaxf(m[r], mx[r]);
      corr[r] = m_new == -INFINITY ? 1.0f : expf(m[r] - m_new);  // expf(-inf) = 0 on the first keys
      m[r] = m_new;
      l[r] *= corr[r];
    }
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e / 2;
        const float p = m[r] == -INFINITY ? 0.0f : expf(s[j][e] - m[r]);
        s[j][e] = p;
        l[r] += p;
      }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      o[n][0] *= corr[0];
      o[n][1] *= corr[0];
      o[n][2] *= corr[1];
      o[n][3] *= corr[1];
    }

    // o += p v: the score fragments become the A operand (probabilities rounded to the KV type).
#pragma unroll
    for (int kk = 0; kk < kKeyTile / 16; ++kk) {
      const uint32_t a0 = pack2<kKv>(s[2 * kk][0], s[2 * kk][1]), a1 = pack2<kKv>(s[2 * kk][2], s[2 * kk][3]);
      const uint32_t a2 = pack2<kKv>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      const uint32_t a3 = pack2<kKv>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        const uint16_t* vb = vt + (n * 8 + g) * kVs + kk * 16 + 2 * qd;
        mma<kKv>(o[n], a0, a1, a2, a3, ld32(vb), ld32(vb + 8));
      }
    }
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = r0 + warp * 16 + g + 8 * r;
    if (row >= t) continue;
    float* dst = out + row * q_stride + static_cast<int64_t>(h) * D + 2 * qd;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      dst[n * 8] = o[n][2 * r] / l[r];
      dst[n * 8 + 1] = o[n][2 * r + 1] / l[r];
    }
  }
}

template <DType kKv, int D>
void launch(const float* q, const KvView& kv, int64_t t, const AttentionAttrs& a, float* out, cudaStream_t stream) {
  constexpr size_t smem = smem_bytes<D>();
  static const bool raised = [] {
    check(cudaFuncSetAttribute(flash_kernel<kKv, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem)),
          "raising flash attention's shared memory");
    return true;
  }();
  (void)raised;
  const dim3 grid(static_cast<unsigned>((t + kBlockRows - 1) / kBlockRows), static_cast<unsigned>(a.n_heads));
  flash_kernel<kKv, D><<<grid, kWarps * kWarp, smem, stream>>>(q, kv, a, t, out);
}

}  // namespace

bool flash_attention_supports(const AttentionAttrs& a, DType kv) {
  return (kv == DType::F16 || kv == DType::BF16) && (a.head_dim == 128 || a.head_dim == 256) && a.n_kv_heads > 0 &&
         a.n_heads % a.n_kv_heads == 0;
}

void flash_attention(const float* q, const KvView& kv, int64_t t, const AttentionAttrs& a, float* out,
                     cudaStream_t stream) {
  if (!flash_attention_supports(a, kv.dtype))
    fail("cuda backend: flash attention takes F16/BF16 keys and head_dim 128 or 256, not ", dtype_name(kv.dtype),
         " and ", a.head_dim);
  if (t == 0) return;
  const auto go = [&]<DType kKv>() {
    if (a.head_dim == 128) launch<kKv, 128>(q, kv, t, a, out, stream);
    else launch<kKv, 256>(q, kv, t, a, out, stream);
  };
  if (kv.dtype == DType::F16) go.template operator()<DType::F16>();
  else go.template operator()<DType::BF16>();
  check_launch("flash_attention");
}

}  // namespace gemrt::cuda
