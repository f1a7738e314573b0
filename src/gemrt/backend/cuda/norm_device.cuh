// Device side of NormSpec (fused_kernels.cuh): the gain of an RMSNorm applied on the fly.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "gemrt/backend/cuda/fused_kernels.cuh"

namespace gemrt::cuda {

// offset + gain[i] (1 without a gain), read in the gain's stored dtype.
__device__ inline float gain_at(const NormSpec& n, int64_t i) {
  if (!n.gain) return 1.0f;
  float g;
  if (n.gain_dtype == DType::F32) g = static_cast<const float*>(n.gain)[i];
  else if (n.gain_dtype == DType::BF16) g = __bfloat162float(static_cast<const __nv_bfloat16*>(n.gain)[i]);
  else g = __half2float(static_cast<const __half*>(n.gain)[i]);
  return n.offset + g;
}

}  // namespace gemrt::cuda
