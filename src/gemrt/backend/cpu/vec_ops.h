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

// out[i] = g(gate[i]) * up[i] with llama.cpp's f16 GELU table: g = 0 for gate <= -10, gate for
// gate >= 10, else table[f16(gate)] (an f16 value). The same bits on every ISA.
void gelu_table_mul(const float* gate, const float* up, int64_t n, const uint16_t* table, float* out);

// acc[i] += a * y[i].
void axpy(float* acc, float a, const float* y, int64_t n);
void axpy_f16(float* acc, float a, const uint16_t* y, int64_t n);
void axpy_bf16(float* acc, float a, const uint16_t* y, int64_t n);

}  // namespace gemrt::cpu
