// Error checks for CUDA runtime calls: a failed call becomes a gemrt::Error naming the call.
#pragma once

#include <cuda_runtime.h>

#include "gemrt/core/error.h"

namespace gemrt::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("cuda backend: ", what, " failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

// After a kernel launch: a bad configuration shows up here, a fault at the next synchronisation.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace gemrt::cuda
