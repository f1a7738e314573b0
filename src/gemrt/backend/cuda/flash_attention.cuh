// Attention of many query rows on tensor cores (FlashAttention-2 style), for the CUDA backend's
// bf16 mode (fast numerics) in prefill. Same contract as attention() in kernels.cuh (spec
// §1.4-1.5: scores q.k * scale, optional soft-cap, causal / sliding-window mask, softmax, weighted
// values) with the fast numerics' roundings: q rounded to the KV dtype, scores and the softmax
// in float32, probabilities rounded to the KV dtype for the product with the values, float32
// sums (mma.sync m16n8k16 with float32 accumulators).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gemrt/backend/cuda/kernels.cuh"

namespace gemrt::cuda {

// Whether flash_attention() takes this shape: KV dtype F16 or BF16, head_dim 128 or 256.
bool flash_attention_supports(const AttentionAttrs& a, DType kv);

// q [t, H*D] float32; keys and values as in KvView (fresh rows for positions >= positions[0]);
// out [t, H*D] float32.
void flash_attention(const float* q, const KvView& kv, int64_t t, const AttentionAttrs& a, float* out,
                     cudaStream_t stream);

}  // namespace gemrt::cuda
