// GEMRT_HOST_DEVICE marks an inline function that both the CPU code and the CUDA kernels call
// (one definition of a rule both backends must follow): __host__ __device__ under nvcc, nothing
// otherwise.
#pragma once

#if defined(__CUDACC__)
#define GEMRT_HOST_DEVICE __host__ __device__
#else
#define GEMRT_HOST_DEVICE
#endif
