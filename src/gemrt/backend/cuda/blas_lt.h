// Half-precision matrix products on tensor cores through cuBLASLt, for the CUDA backend's fast
// numerics (prefill matmuls; spec'd by issue 5: bf16 inputs, float32 accumulation and output).
//
// The library is opened at run time (dlopen of libcublasLt.so.<major>), not linked: gemrt starts
// and runs its CPU backend and the CUDA backend's precise numerics on machines without it, and a
// missing library is reported, naming the file looked for, when a fast-numerics prefill first
// needs it. GEMRT_CUBLASLT=/path/to/libcublasLt.so.N overrides the search.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "gemrt/core/dtype.h"

namespace gemrt::cuda {

// Workspace a gemm may use (bytes); the caller owns it, one per stream.
inline constexpr size_t kBlasWorkspaceBytes = size_t{32} << 20;

// out [t, n] float32 (row stride ldo floats) = x [t, k] @ w^T, where x and w hold `dt` values
// (BF16 or F16) and w is [n, k] with row stride ldw elements (the nn.Linear layout): products
// in tensor cores, sums in float32, no TF32 rounding of anything. Enqueued on `stream`; safe to
// capture into a CUDA graph. Throws gemrt::Error when cuBLASLt cannot be loaded or has no
// algorithm for the shape.
void gemm_half(DType dt, const void* x, const void* w, int64_t t, int64_t n, int64_t k, int64_t ldw, float* out,
               int64_t ldo, void* workspace, cudaStream_t stream);

}  // namespace gemrt::cuda
