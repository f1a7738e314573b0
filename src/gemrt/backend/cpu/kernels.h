// Kernels of the CPU backend. Activations are contiguous row-major float32; weights are
// TensorViews in their stored dtype. Each kernel documents its shapes; kernels taking a Numerics
// implement both modes (gemrt/backend/backend.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "gemrt/backend/backend.h"
#include "gemrt/core/tensor.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/graph/ir.h"

namespace gemrt::cpu {

class CpuKvCache;

// out[t, :] = table[ids[t], :] * scale; table [V, D]. An id outside [0, V) reads row
// `fallback_row`, or throws when that is -1.
void embed(const TensorView& table, const int32_t* ids, int64_t t, float scale, int64_t fallback_row, float* out,
           ThreadPool& pool);

// out [T, N] = x [T, K] @ w^T, w [N, K] (any float dtype), float32 activations: each weight row
// is converted to float32 and dotted with the rows of x.
void matmul(const float* x, int64_t t, const TensorView& w, float* out, ThreadPool& pool);

// The same product with the rows of x first rounded to dot_partner(w.dtype)
// (gemrt/quant/activation_quant.h) into `scratch` (grown as needed, reused across calls), then
// integer / 16-bit dot products against the packed weight rows (gemrt/quant/vec_dot.h).
// F32 weights take the float32 path.
void matmul_fast(const float* x, int64_t t, const TensorView& w, float* out, ThreadPool& pool,
                 std::vector<std::byte>& scratch);

// One activation row x [1, K] against several weights w[i] [N_i, K] (at most 8, non-F32 dtypes,
// every N_i a multiple of 8): out[i] [1, N_i] = x @ w[i]^T, each value bit-identical to matmul_fast's, all
// rows in one parallel loop (decode: q/k/v, gate/up). x is rounded once per partner dtype;
// `scratch` as matmul_fast's. Returns false, computing nothing, if the weights do not qualify.
bool matmul_fast_row(const float* x, std::span<const TensorView* const> w, std::span<float* const> out,
                     ThreadPool& pool, std::vector<std::byte>& scratch);

// RMSNorm over consecutive groups of a.dim values of x [rows, width]; w [a.dim] or null.
void rms_norm(const float* x, int64_t n_values, const TensorView* w, const RmsNormAttrs& a, float* out,
              ThreadPool& pool);

// Rotate-half RoPE on x [T, n_heads * head_dim] at positions[T] (axial, a.axes > 1: positions
// [T, axes], graph/ir.h RopeAttrs). Numerics::Fast forms the angles of a geometric table as
// llama.cpp does (rope.cpp); otherwise angle = float(pos * inv_freq[i]).
void rope(const float* x, const int32_t* positions, int64_t t, const RopeAttrs& a, Numerics numerics, float* out);

// Attention of q [T, H*D] over the cached keys/values of a.kv_slot and this run's k, v [T, Hkv*D];
// positions must be consecutive and continue the slot's sequence. Appends k, v to the cache.
// Keys and values are stored in the cache's dtype; Numerics::Fast also rounds the scaled query
// and the probabilities to it. blocks: int32 [T, 2] bidirectional blocks (graph/ir.h
// AttentionAttrs) or null.
void attention(const float* q, const float* k, const float* v, const int32_t* positions, const int32_t* blocks,
               int64_t t, const AttentionAttrs& a, CpuKvCache& kv, Numerics numerics, float* out, ThreadPool& pool);

// out = act(gate) * up. Numerics::Fast evaluates the tanh GELU through a float16 table: gate
// rounded to f16, table value gelu(f16) rounded to f16; 0 for gate <= -10, gate for gate >= 10.
void gated_act(const float* gate, const float* up, int64_t n, Activation act, Numerics numerics, float* out,
               ThreadPool& pool);
void add(const float* a, const float* b, int64_t n, float* out);
// out = act(x), the float32 formula in both numerics (graph/ir.h Act).
void act(const float* x, int64_t n, Activation act, float* out);
// graph/ir.h AvgPool: x [rows * cols, d] -> [(rows / kernel) * (cols / kernel), d].
void avg_pool(const float* x, int rows, int cols, int kernel, int64_t d, float* out);
// graph/ir.h Clamp: out = min(max(x, lo), hi), NaN kept.
void clamp(const float* x, int64_t n, float lo, float hi, float* out);
void soft_cap(const float* x, int64_t n, float cap, float* out);

// out = x * factor (float32 products).
void scale(const float* x, int64_t n, float factor, float* out);

// out [t, width] = columns [offset, offset + width) of x [t, d].
void slice_cols(const float* x, int64_t t, int64_t d, int64_t offset, int64_t width, float* out);

// graph/ir.h Combine over t rows of d values: xs[i] [t, d], coefs [t, c] (null when every
// col is -1).
void combine(std::span<const float* const> xs, const float* coefs, int64_t t, int64_t d, int64_t c,
             const CombineAttrs& a, float* out);
// graph/ir.h RmsRescale: x, ref [t, d]; sums of squares in double.
void rms_rescale(const float* x, const float* ref, int64_t t, int64_t d, float eps, float* out);
// out[r, j] = x[r, j] * w[j]; x [t, d], w [d] any float dtype.
void mul_vec(const float* x, int64_t t, const TensorView& w, float* out);
// out[r, j] = x[r, j] + w[j]; x [t, d], w [d] any float dtype.
void add_vec(const float* x, int64_t t, const TensorView& w, float* out);
// graph/ir.h LayerNorm over t rows of w.shape[0] values; mean and variance in double.
void layer_norm(const float* x, int64_t t, const TensorView& w, const TensorView& b, float eps, float* out,
                ThreadPool& pool);
// graph/ir.h ReplaceRows: x [t, d], rows [m, d], index [t] in [-1, m) (run_checks.h check_row_index).
void replace_rows(const float* x, const float* rows, const int32_t* index, int64_t t, int64_t d, float* out);
// graph/ir.h GaussianTopK over rows of d values; mean and variance in double, the cutoff
// mean + std * z formed in float32 as HF does.
void gaussian_top_k(const float* x, int64_t t, int64_t d, float z, float* out, ThreadPool& pool);

// graph/ir.h MoE over t tokens. The routing of one token: (expert, weight) for its top_k experts.
void moe_route(const float* logits, int64_t n_experts, int top_k, const float* expert_scale,
               std::vector<std::pair<int, float>>* chosen);
void moe(const float* x, const float* logits, int64_t t, const TensorView& gate_up, const TensorView& down,
         const TensorView& expert_scale, int top_k, Activation act, Numerics numerics, float* out, ThreadPool& pool,
         std::vector<std::byte>& scratch);
// out [t, 2k] = the k largest values of each row of x [t, d] and their indices (graph/ir.h TopK).
void top_k(const float* x, int64_t t, int64_t d, int k, float* out);

// The audio conformer's ops (audio_ops.cpp): graph/ir.h Conv2d over x [a.rows * a.cols, cin]
// (row_mask [a.rows]), DepthwiseConv1d over x [t, D] (w [D, 1, K]), LocalAttention over q, k, v
// [t, H*D] (rel_k [P, H*D], key_mask [t]). Weights in any float dtype.
// conv2d's output rows run in parallel on `pool`.
void conv2d(const float* x, const TensorView& w, const float* row_mask, int64_t cin, const Conv2dAttrs& a, float* out,
            ThreadPool& pool);
void depthwise_conv1d(const float* x, int64_t t, const TensorView& w, float* out);
void local_attention(const float* q, const float* k, const float* v, const TensorView& rel_k, const float* key_mask,
                     int64_t t, const LocalAttentionAttrs& a, float* out);

// Scalar activations, exposed for tests.
float activate(float x, Activation act);
float gelu_tanh(float x);
float gelu_erf(float x);
float gelu_tanh_f16_table(float x);

}  // namespace gemrt::cpu
