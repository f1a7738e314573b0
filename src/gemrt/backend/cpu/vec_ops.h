// Vector primitives of the CPU kernels over float32 and 16-bit storage (f16 / bf16), with an
// AVX2 + FMA + F16C implementation chosen at first use when the CPU has it (scalar otherwise).
// Sums are float32; their order is the implementation's (results may differ between ISAs by
// float32 rounding).
#pragma once

#include <cstdint>

namespace gemrt::cpu {

// sum_i x[i] * y[i], y stored as float32 / f16 / bf16.
float dot(const float* x, const float* y, int64_t n);
float dot_f16(const float* x, const uint16_t* y, int64_t n);
float dot_bf16(const float* x, const uint16_t* y, int64_t n);

// acc[i] += a * y[i].
void axpy(float* acc, float a, const float* y, int64_t n);
void axpy_f16(float* acc, float a, const uint16_t* y, int64_t n);
void axpy_bf16(float* acc, float a, const uint16_t* y, int64_t n);

}  // namespace gemrt::cpu
