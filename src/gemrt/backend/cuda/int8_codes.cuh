// The int8 activation codes that the decode products of block-format weights multiply
// (quant_matvec.cuh's contract): each row of k values is rounded per 32,
//   x_c ~ dx * q_c,  dx = amax / 127,  q_c = rint(x_c / dx) in [-127, 127],
// amax the largest |x_c| of the 32. Every kernel that writes codes (the rounding of a product's
// activation, and the kernels that hand their output to the next product already rounded) goes
// through these helpers, so the codes are the same bits whichever kernel wrote them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gemrt::cuda {

// Codes of t rows of k values (k a multiple of 32) in device memory: codes [t][k] (int8), then
// per-32 scales [t][k / 32] = {dx, dx * sum q} (float2; 16-byte aligned when the base is, k
// being a multiple of 32), then 1 / rms [t] (float; read only by products that normalise their
// activation). int8_codes_bytes(t, k) bytes in all.
struct CodesView {
  int8_t* q;
  float2* s;
  float* inv;
};
__host__ __device__ inline CodesView codes_view(void* base, int64_t t, int64_t k) {
  auto* q = static_cast<int8_t*>(base);
  auto* s = reinterpret_cast<float2*>(q + t * k);
  return {q, s, reinterpret_cast<float*>(s + t * (k / 32))};
}
__host__ __device__ inline int64_t int8_codes_bytes(int64_t t, int64_t k) {
  return t * k + t * (k / 32) * static_cast<int64_t>(sizeof(float2)) + t * static_cast<int64_t>(sizeof(float));
}

// dx of a 32-value block whose largest magnitude is amax, and the code of a value x of it.
__device__ inline float code_step(float amax) { return amax / 127.0f; }
__device__ inline int code_of(float x, float amax, float dx) {
  return amax > 0.0f ? max(-127, min(127, __float2int_rn(x / dx))) : 0;
}

// Rounds one 32-value block held one value per lane by a whole warp (lane i holds value i):
// the 32 codes to q[0 .. 31], {dx, dx * sum q} to *s (written by lane 0).
__device__ inline void round_warp32(float x, int8_t* q, float2* s) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  float amax = fabsf(x);
  for (int o = 16; o > 0; o /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float dx = code_step(amax);
  const int c = code_of(x, amax, dx);
  int sum = c;
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  q[lane] = static_cast<int8_t>(c);
  if (lane == 0) *s = make_float2(dx, dx * static_cast<float>(sum));
}

}  // namespace gemrt::cuda
