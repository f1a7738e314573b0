// float32 reference kernels of the CPU backend. Activations are contiguous row-major float32;
// weights are TensorViews in their stored dtype. Each kernel documents its shapes.
#pragma once

#include <cstdint>

#include "gemrt/core/tensor.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/graph/ir.h"

namespace gemrt::cpu {

class CpuKvCache;

// out[t, :] = table[ids[t], :] * scale; table [V, D]. Throws if an id is outside [0, V).
void embed(const TensorView& table, const int32_t* ids, int64_t t, float scale, float* out, ThreadPool& pool);

// out [T, N] = x [T, K] @ w^T, w [N, K] (any float dtype).
void matmul(const float* x, int64_t t, const TensorView& w, float* out, ThreadPool& pool);

// RMSNorm over consecutive groups of a.dim values of x [rows, width]; w [a.dim] or null.
void rms_norm(const float* x, int64_t n_values, const TensorView* w, const RmsNormAttrs& a, float* out,
              ThreadPool& pool);

// Rotate-half RoPE on x [T, n_heads * head_dim] at positions[T].
void rope(const float* x, const int32_t* positions, int64_t t, const RopeAttrs& a, float* out);

// Attention of q [T, H*D] over the cached keys/values of a.kv_slot and this run's k, v [T, Hkv*D];
// positions must be consecutive and continue the slot's sequence. Appends k, v to the cache.
void attention(const float* q, const float* k, const float* v, const int32_t* positions, int64_t t,
               const AttentionAttrs& a, CpuKvCache& kv, float* out, ThreadPool& pool);

void gated_act(const float* gate, const float* up, int64_t n, Activation act, float* out, ThreadPool& pool);
void add(const float* a, const float* b, int64_t n, float* out);
void soft_cap(const float* x, int64_t n, float cap, float* out);

// Scalar activations, exposed for tests.
float gelu_tanh(float x);
float gelu_erf(float x);

}  // namespace gemrt::cpu
