// Kernels of the CUDA backend, precise numerics: float32 activations and float32 arithmetic
// (no TF32, no half-precision math), weights read in their stored dtype (dequant.cuh). Each
// launcher enqueues on `stream` and checks the launch; shapes follow backend/cpu/kernels.h, whose
// functions these mirror op for op (the CPU versions are the reference the tests compare with).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gemrt/core/dtype.h"
#include "gemrt/graph/ir.h"

namespace gemrt::cuda {

// A stored weight on the device: `data` points to rows of `row_bytes` bytes each.
struct DeviceWeight {
  DType dtype = DType::F32;
  const void* data = nullptr;
  int64_t rows = 0, cols = 0, row_bytes = 0;
};

// out[t, :] = table[ids[t], :] * scale, table [V, D]; ids outside [0, V) read row fallback_row
// (fallback_row -1: ids already checked to lie in [0, V)).
void embed(const DeviceWeight& table, const int32_t* ids, int64_t t, float scale, int64_t fallback_row, float* out,
           cudaStream_t stream);

// out [T, N] = x [T, K] @ w^T, w [N, K]: float32 products and sums. Up to kMatVecMaxRows rows run
// on matrix-vector kernels (one pass over the weights), more on a tiled kernel. int8_activation:
// block-format weights on the matrix-vector kernels take the activation rounded to int8 per 32
// values (MatVecJob::int8_activation; fast numerics), once into `rounded` where given
// (MatVecJob::rounded).
inline constexpr int64_t kMatVecMaxRows = 4;
void matmul(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream,
            bool int8_activation = false, void* rounded = nullptr, int64_t rounded_bytes = 0);

// RMSNorm over consecutive groups of a.dim values; gain = weight_offset + w (w null: no gain).
void rms_norm(const float* x, int64_t n_values, const DeviceWeight* w, const RmsNormAttrs& a, float* out,
              cudaStream_t stream);

// Rotate-half RoPE on x [T, n_heads * head_dim] at positions[T] (axes = 1) or, axial, at
// positions [T, axes] (graph/ir.h RopeAttrs); inv_freq [head_dim / 2] on the device;
// angle = float(pos) * inv_freq[i], cos / sin evaluated in double and rounded (as HF and the CPU
// backend's precise path).
void rope(const float* x, const int32_t* positions, int64_t t, int n_heads, int head_dim, int axes,
          const float* inv_freq, float* out, cudaStream_t stream);

// Converts n float32 values to `to` (F32, F16 or BF16; round to nearest even) at `dst`.
void cast_f32(const float* src, int64_t n, DType to, void* dst, cudaStream_t stream);

// Rows [row0, row0 + rows) of a stored weight (any dtype) as bfloat16 [rows, w.cols] at `out`.
void weight_rows_to_bf16(const DeviceWeight& w, int64_t row0, int64_t rows, void* out, cudaStream_t stream);

// One attention call's view of the keys and values: positions >= p0 are this run's rows
// (`fresh_*`, already in the storage dtype), older ones live in the ring at row pos % cap.
// p0 = positions[0] is read on the device, so a captured graph replays for any position.
struct KvView {
  DType dtype = DType::F32;
  const void* fresh_k = nullptr;
  const void* fresh_v = nullptr;
  const void* ring_k = nullptr;
  const void* ring_v = nullptr;
  const int32_t* positions = nullptr;  // device, this run's [T] positions (consecutive)
  const int32_t* blocks = nullptr;     // device, [T, 2] bidirectional blocks (graph/ir.h AttentionAttrs) or null
  int64_t cap = 0, kv_w = 0;
  bool ring_only = false;  // this run's rows are in the ring already (store_kv_row); fresh_* unused
};

// Attention of q [T, H*D] (spec §1.4-1.5): scores q.k * scale, optional soft-cap, causal /
// sliding-window mask, softmax in float32, weighted sum of values -> out [T, H*D]. When few
// (row, head) pairs would leave the GPU idle, the keys are split over attention_splits() blocks
// per pair, whose partial results go to `partial` (attention_partial_floats() floats) and are
// merged by a second kernel.
void attention(const float* q, const KvView& kv, int64_t t, const AttentionAttrs& a, float* out, float* partial,
               cudaStream_t stream);
int attention_splits(int64_t t, const AttentionAttrs& a, int64_t cap);
inline int64_t attention_partial_floats(int64_t t, const AttentionAttrs& a, int64_t cap) {
  const int splits = attention_splits(t, a, cap);
  return splits > 1 ? t * a.n_heads * splits * (a.head_dim + 2) : 0;
}

// Copies this run's last min(t, cap) key / value rows (storage dtype) into the ring.
void append_kv(const KvView& kv, int64_t t, void* ring_k, void* ring_v, cudaStream_t stream);

void gated_act(const float* gate, const float* up, int64_t n, Activation act, float* out, cudaStream_t stream);
void add(const float* a, const float* b, int64_t n, float* out, cudaStream_t stream);
void soft_cap(const float* x, int64_t n, float cap, float* out, cudaStream_t stream);

// out = x * factor (float32 products).
void scale(const float* x, int64_t n, float factor, float* out, cudaStream_t stream);

// out [t, width] = columns [offset, offset + width) of x [t, d].
void slice_cols(const float* x, int64_t t, int64_t d, int64_t offset, int64_t width, float* out, cudaStream_t stream);

// graph/ir.h MoE (moe.cu): x [t, hidden], logits [t, n_experts], gate_up / down the stacked expert
// weights (one device row per expert), expert_scale [n_experts]; `scratch` holds
// moe_scratch_floats(t, top_k, inter) floats.
int64_t moe_scratch_floats(int64_t t, int top_k, int64_t inter);
void moe(const float* x, const float* logits, int64_t t, const DeviceWeight& gate_up, const DeviceWeight& down,
         const DeviceWeight& expert_scale, int64_t n_experts, int64_t inter, int64_t hidden, int top_k, Activation act,
         float* scratch, float* out, cudaStream_t stream);

// Row ops of Gemma 3n (row_ops.cu; graph/ir.h): Combine of at most kCombineMax inputs xs[i]
// [t, d] (coefs [t, c], null when every col is -1), RmsRescale, MulVec (w [d] a weight),
// GaussianTopK.
inline constexpr int kCombineMax = 8;
void combine(const float* const* xs, const float* coefs, int64_t t, int64_t d, int64_t c, const CombineAttrs& a,
             float* out, cudaStream_t stream);
void rms_rescale(const float* x, const float* ref, int64_t t, int64_t d, float eps, float* out, cudaStream_t stream);
void mul_vec(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream);
// Media embedder row ops (row_ops.cu; graph/ir.h AddVec, LayerNorm, ReplaceRows): w, b [d] any
// float dtype (both the same); index int32 [t] on the device, checked on the host beforehand.
void add_vec(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream);
void layer_norm(const float* x, int64_t t, const DeviceWeight& w, const DeviceWeight& b, float eps, float* out,
                cudaStream_t stream);
void replace_rows(const float* x, const float* rows, const int32_t* index, int64_t t, int64_t d, float* out,
                  cudaStream_t stream);
// graph/ir.h Act, AvgPool and Clamp (row_ops.cu), in the CPU's float32 order.
void act(const float* x, int64_t n, Activation act, float* out, cudaStream_t stream);
void avg_pool(const float* x, int rows, int cols, int kernel, int64_t d, float* out, cudaStream_t stream);
void clamp(const float* x, int64_t n, float lo, float hi, float* out, cudaStream_t stream);
void gaussian_top_k(const float* x, int64_t t, int64_t d, float z, float* out, cudaStream_t stream);
// The audio conformer's ops (audio_ops.cu; graph/ir.h Conv2d, DepthwiseConv1d, LocalAttention):
// x [a.rows * a.cols, cin] -> [out_rows * out_cols, cout]; x [t, d] with w [d, 1, k]; q, k, v
// [t, H*D] with rel_k [P, H*D] and key_mask [t] (context chunk + max_past + right <= 64 keys).
void conv2d(const float* x, const DeviceWeight& w, const float* row_mask, int64_t cin, int64_t cout,
            const Conv2dAttrs& a, float* out, cudaStream_t stream);
void depthwise_conv1d(const float* x, int64_t t, int64_t d, int64_t k, const DeviceWeight& w, float* out,
                      cudaStream_t stream);
void local_attention(const float* q, const float* k, const float* v, const DeviceWeight& rel_k, const float* key_mask,
                     int64_t t, const LocalAttentionAttrs& a, float* out, cudaStream_t stream);

// out [t, 2k] = the k largest values of each row of x [t, d] and their indices (graph/ir.h TopK,
// the same order and ties as the CPU backend), k <= kTopKMax: blocks pick the k best of slices of
// each row, then of those candidates, until one block's slice holds them all. `scratch` holds
// top_k_scratch_bytes(t, d, k).
inline constexpr int kTopKMax = 1024;
int64_t top_k_scratch_bytes(int64_t t, int64_t d, int k);
void top_k(const float* x, int64_t t, int64_t d, int k, float* out, void* scratch, cudaStream_t stream);

}  // namespace gemrt::cuda
