// Device helpers shared by the CUDA backend's kernel files: warp reductions, 16-byte weight
// chunks, KV storage types, the gated activation, and the host-side dtype dispatch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/dequant.cuh"
#include "gemrt/backend/cuda/env_switch.h"
#include "gemrt/core/dtype.h"
#include "gemrt/core/error.h"
#include "gemrt/graph/ir.h"

namespace gemrt::cuda {

constexpr int kWarp = 32;

__device__ inline float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every
// thread. Safe to call repeatedly (the scratch is reused only after every thread has read it).
__device__ inline float block_sum(float v) {
  __shared__ float part[32];
  v = warp_sum(v);
  const int w = static_cast<int>(threadIdx.x) / kWarp, l = static_cast<int>(threadIdx.x) % kWarp;
  __syncthreads();
  if (l == 0) part[w] = v;
  __syncthreads();
  return warp_sum(l < static_cast<int>(blockDim.x) / kWarp ? part[l] : 0.0f);
}

// The 8 (F16 / BF16) or 4 (F32) values of a 16-byte chunk of a weight row, as float32.
template <DType kType>
__device__ inline void unpack16(const uint4& raw, float* v) {
  const uint32_t u[4] = {raw.x, raw.y, raw.z, raw.w};
  if constexpr (kType == DType::F32) {
    for (int i = 0; i < 4; ++i) v[i] = __uint_as_float(u[i]);
  } else if constexpr (kType == DType::F16) {
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&u[i]));
      v[2 * i] = f.x;
      v[2 * i + 1] = f.y;
    }
  } else {
    for (int i = 0; i < 4; ++i) {
      v[2 * i] = __uint_as_float(u[i] << 16);
      v[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
    }
  }
}

// KV storage types (F32, F16, BF16): element i of a buffer as float32, and a rounded store.
template <DType kKv>
__device__ inline float kv_get(const void* base, int64_t i) {
  if constexpr (kKv == DType::F32) return static_cast<const float*>(base)[i];
  else if constexpr (kKv == DType::F16) return __half2float(static_cast<const __half*>(base)[i]);
  else return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
}

template <DType kKv>
__device__ inline void kv_put(void* base, int64_t i, float v) {
  if constexpr (kKv == DType::F32) static_cast<float*>(base)[i] = v;
  else if constexpr (kKv == DType::F16) static_cast<__half*>(base)[i] = __float2half_rn(v);
  else static_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16_rn(v);
}

// act(gate) * up, the float32 operation order of the CPU backend's precise GELUs.
__device__ inline float gated_value(float x, float up, Activation act) {
  float g;
  if (act == Activation::GeluTanh) {
    const float beta = 0.7978845608028654f;  // sqrt(2 / pi), as the CPU's float32 constant
    const float inner = __fmul_rn(beta, __fadd_rn(x, __fmul_rn(__fmul_rn(__fmul_rn(0.044715f, x), x), x)));
    g = __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(inner)));
  } else if (act == Activation::GeluErf) {
    g = __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, erff(__fmul_rn(x, 0.7071067811865476f))));
  } else if (act == Activation::Silu) {
    g = __fdiv_rn(x, __fadd_rn(1.0f, expf(-x)));
  } else if (act == Activation::Relu) {
    g = x > 0.0f ? x : (x == x ? 0.0f : x);
  } else {
    g = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-x)));
  }
  return __fmul_rn(g, up);
}

// Calls f.template operator()<kType>() for a weight dtype; fails naming `what` for others.
template <typename F>
void weight_kernel(DType t, const char* what, F&& launch) {
  if (!dispatch_weight_dtype(t, launch)) fail("cuda backend: ", what, " cannot read weights of dtype ", dtype_name(t));
}

// Calls f.template operator()<kKv>() for F32, F16 or BF16.
template <typename F>
void dispatch_kv(DType t, F&& f) {
  switch (t) {
    case DType::F32: f.template operator()<DType::F32>(); break;
    case DType::F16: f.template operator()<DType::F16>(); break;
    case DType::BF16: f.template operator()<DType::BF16>(); break;
    default: fail("cuda backend: dtype ", dtype_name(t), " is not one of F32, F16, BF16");
  }
}

// Programmatic dependent launch (Hopper): a kernel launched with launch_dependent() may start
// while the kernel before it in the stream is still running, once every block of that kernel has
// called pdl_launch_dependents() (or exited). Until its pdl_wait() returns (the kernel before has
// finished and its writes are visible), it may only read what no kernel writes (weights) and
// write its own shared memory; everything else comes after pdl_wait(). On a kernel launched the
// ordinary way both calls do nothing. Used on the decode path, where a step is a chain of short
// dependent kernels: the next product's weight reads overlap the end of the kernel before.
__device__ inline void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ inline void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// A hint that the 128-byte line holding p will be read soon: fetched into L2, no register tied up.
__device__ inline void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p)); }

// GEMRT_CUDA_PDL=0 launches every kernel the ordinary way (debugging; measuring what PDL gains).
inline bool pdl_enabled() {
  static const bool on = !env_is("GEMRT_CUDA_PDL", "0");
  return on;
}

// Launches `kernel` (which must call pdl_wait() before touching anything an earlier kernel
// writes) as a programmatic dependent of the stream's previous kernel.
template <typename... Params, typename... Args>
void launch_dependent(const char* what, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                      cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (e != cudaSuccess)
    fail("cuda backend: launching ", what, " (grid ", grid.x, " x ", grid.y, ", ", block.x, " threads, ", smem,
         " bytes of shared memory) failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

// Streaming multiprocessors of the current device (read once).
inline int sm_count() {
  static const int n = [] {
    int dev = 0, count = 0;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, dev), "reading the multiprocessor count");
    return count;
  }();
  return n;
}

inline unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace gemrt::cuda
