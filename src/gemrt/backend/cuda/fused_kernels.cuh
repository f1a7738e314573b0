// Fused kernels of the CUDA backend (the steps of graph/fusion.h): several graph nodes in one
// launch, for decode, where a step is bound by launch latency as much as by weight bytes. Each
// computes what the unfused kernels (kernels.cuh) compute, in float32, with the same operation
// order inside each value (sums may associate differently: float32 noise).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "gemrt/backend/cuda/kernels.cuh"

namespace gemrt::cuda {

// An RMSNorm applied on the fly: y = x * rsqrt(mean(x^2) + eps) * (offset + gain), gain of
// dtype F32 / F16 / BF16 (null: no gain), one group per row of the activation.
struct NormSpec {
  const void* gain = nullptr;
  DType gain_dtype = DType::F32;
  float offset = 0.0f;
  float eps = 1e-6f;
};

// The NormAdd a matvec may run first (graph/fusion.h, PreAdd): sum [t, k] = residual +
// rms_norm(in), written to `sum` and taken as the product's activation.
struct PreAdd {
  const float* in = nullptr;
  const float* residual = nullptr;
  NormSpec norm;
  float* sum = nullptr;
};

// Matrix-vector products of one activation x [t, k] (t <= kMatVecMaxRows), optionally normalised
// as it is loaded: out[m] [t, w[m].rows] = norm(x) @ w[m]^T for up to 3 weights of one dtype; or,
// with `gated`, out[0] [t, w[0].rows] = act(norm(x) @ w[0]^T) * (norm(x) @ w[1]^T).
struct MatVecJob {
  const float* x = nullptr;
  int64_t t = 0, k = 0;
  const NormSpec* norm = nullptr;
  int n_weights = 0;
  DeviceWeight w[3];
  float* out[3] = {};
  bool gated = false;
  Activation act = Activation::GeluTanh;
  const PreAdd* pre = nullptr;  // when set, x is pre->sum, computed by this launch
  // Fast numerics: block-format weights (quant_matvec.cuh lists them) multiply the activation
  // rounded to int8 per 32 values; otherwise, and for every other dtype, float32 products.
  bool int8_activation = false;
  // Device scratch of rounded_bytes (16-byte aligned) for those products: with at least
  // quant_rounded_bytes(t, k), the activation is rounded once per product into it; without (or
  // below GEMRT_CUDA_QGLOBAL_MIN_K values), every block of the product rounds it again.
  void* rounded = nullptr;
  int64_t rounded_bytes = 0;
  // rounded already holds x's codes (int8_codes.cuh), written by the kernel before (an Attend
  // step's or a gated product's codes_out): no rounding launch. x (float32) is still read where
  // the product runs on another kernel.
  bool rounded_ready = false;
  // Gated int8 products (quant_matvec_hands_on_codes): also write their output [t, w[0].rows] as
  // int8 codes here (int8_codes_bytes(t, w[0].rows) bytes), for a next product's rounded_ready.
  void* codes_out = nullptr;
  // One-weight int8 products whose output the next product takes through a NormAdd
  // (quant_matvec_rounds_next): the last block to finish also runs that NormAdd (next_pre, whose
  // `in` is out[0]; its sum written to next_pre->sum) and the norm (next_norm, or none), and
  // writes the result's codes to next_codes (int8_codes_bytes(t, rows)), for the next product's
  // rounded_ready. next_counter: a device int, zero, which the launch leaves zero.
  const PreAdd* next_pre = nullptr;
  const NormSpec* next_norm = nullptr;
  void* next_codes = nullptr;
  int* next_counter = nullptr;
  // GEMRT_CUDA_TIMELINE (step_timeline.h): 6 span slots, the rounding's then the product's; null: none.
  unsigned long long* stamps = nullptr;
};
void matvec(const MatVecJob& job, cudaStream_t stream);

// out [rows, dim] = residual + rms_norm(x) (one group per row).
void norm_add(const float* x, const float* residual, int64_t rows, int64_t dim, const NormSpec& norm, float* out,
              cudaStream_t stream);

// out = rope(rms_norm(x)) for x [t, n_heads * head_dim], one norm group per head; RoPE as rope().
void norm_rope(const float* x, const int32_t* positions, int64_t t, int n_heads, int head_dim, const NormSpec& norm,
               const float* inv_freq, float* out, cudaStream_t stream);

// For a one-token run: rounds k and v [kv_w] to the cache dtype and writes them to ring row
// positions[0] % cap (attention then reads every key from the ring; KvView::ring_only).
void store_kv_row(const float* k, const float* v, const KvView& kv, void* ring_k, void* ring_v, cudaStream_t stream);

}  // namespace gemrt::cuda
