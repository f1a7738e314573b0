// One-token attention in one launch (the Attend step of graph/fusion.h): q and the new key are
// normalised per head and rotated, the new key and value rounded to the cache dtype and stored
// in the ring, and the query attends over the cache; the key splits are merged by the last block
// of each KV head to finish, so no second launch is needed. Float32 arithmetic with the operation
// order of the unfused kernels inside each value (norm_rope, store_kv_row, attention); sums over
// keys and dimensions may associate differently (float32 noise).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gemrt/backend/cuda/fused_kernels.cuh"
#include "gemrt/backend/cuda/kernels.cuh"

namespace gemrt::cuda {

// One of q, k, v: the source row [heads * head_dim], then an optional per-head norm and an
// optional RoPE (inv_freq [head_dim / 2] on the device).
struct AttendSource {
  const float* x = nullptr;
  bool normed = false;
  NormSpec norm;
  const float* inv_freq = nullptr;  // null: no RoPE
};

struct DecodeAttentionJob {
  AttendSource q, k, v;
  const int32_t* positions = nullptr;  // device, one position (read on the device: graphs replay)
  DType kv_dtype = DType::F32;
  void* ring_k = nullptr;
  void* ring_v = nullptr;
  int64_t cap = 0, kv_w = 0;
  AttentionAttrs attrs;
  float* out = nullptr;  // [n_heads * head_dim]
  // Also out as int8 codes (int8_codes.cuh, t = 1, k = n_heads * head_dim; where
  // decode_attention_hands_on_codes), for the o product's MatVecJob::rounded_ready.
  void* codes_out = nullptr;
  unsigned long long* stamps = nullptr;  // GEMRT_CUDA_TIMELINE: 3 span slots (step_timeline.h); null: none
};

// Whether a one-token attention of these attributes can write its output as int8 codes (head_dim
// a multiple of 32: whole 32-value blocks per KV head group).
bool decode_attention_hands_on_codes(const AttentionAttrs& a);

// Key splits per KV head for a slot of `cap` rows (fixed per capture; each split's share of the
// visible keys is worked out on the device), and the scratch a launch needs: partial results
// (floats) and one arrival counter per KV head (ints, zero before the first launch; every launch
// leaves them zero again).
int decode_attention_splits(const AttentionAttrs& a, int64_t cap);
int64_t decode_attention_partial_floats(const AttentionAttrs& a, int64_t cap);

void decode_attention(const DecodeAttentionJob& job, float* partial, int* counters, cudaStream_t stream);

}  // namespace gemrt::cuda
