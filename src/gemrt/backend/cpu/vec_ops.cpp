#include "gemrt/backend/cpu/vec_ops.h"

#include "gemrt/backend/cpu/half_table.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::cpu {

namespace detail {
// AVX2 versions (vec_ops_avx2.cpp); absent on other architectures.
float dot_avx2(const float* x, const float* y, int64_t n);
float dot_f16_avx2(const float* x, const uint16_t* y, int64_t n);
float dot_bf16_avx2(const float* x, const uint16_t* y, int64_t n);
void axpy_avx2(float* acc, float a, const float* y, int64_t n);
void axpy_f16_avx2(float* acc, float a, const uint16_t* y, int64_t n);
void axpy_bf16_avx2(float* acc, float a, const uint16_t* y, int64_t n);
void gelu_table_mul_avx2(const float* gate, const float* up, int64_t n, const uint16_t* table, float* out);
}  // namespace detail

namespace {

bool use_avx2() { return quant::dot_isa_available(quant::DotIsa::Avx2); }

template <typename Get>
float dot_scalar(const float* x, Get get, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j] * get(i + j);
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += x[i] * get(i);
  return s;
}

}  // namespace

#if defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS)
#define GEMRT_DISPATCH(call) \
  if (use_avx2()) return detail::call
#else
#define GEMRT_DISPATCH(call)
#endif

float dot(const float* x, const float* y, int64_t n) {
  GEMRT_DISPATCH(dot_avx2(x, y, n));
  return dot_scalar(x, [y](int64_t i) { return y[i]; }, n);
}

float dot_f16(const float* x, const uint16_t* y, int64_t n) {
  GEMRT_DISPATCH(dot_f16_avx2(x, y, n));
  return dot_scalar(x, [y](int64_t i) { return f16_lookup(y[i]); }, n);
}

float dot_bf16(const float* x, const uint16_t* y, int64_t n) {
  GEMRT_DISPATCH(dot_bf16_avx2(x, y, n));
  return dot_scalar(x, [y](int64_t i) { return bf16_to_f32(y[i]); }, n);
}

void gelu_table_mul(const float* gate, const float* up, int64_t n, const uint16_t* table, float* out) {
  GEMRT_DISPATCH(gelu_table_mul_avx2(gate, up, n, table, out));
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : f16_lookup(table[f32_to_f16(x)]);
    out[i] = g * up[i];
  }
}

void axpy(float* acc, float a, const float* y, int64_t n) {
  GEMRT_DISPATCH(axpy_avx2(acc, a, y, n));
  for (int64_t i = 0; i < n; ++i) acc[i] += a * y[i];
}

void axpy_f16(float* acc, float a, const uint16_t* y, int64_t n) {
  GEMRT_DISPATCH(axpy_f16_avx2(acc, a, y, n));
  for (int64_t i = 0; i < n; ++i) acc[i] += a * f16_lookup(y[i]);
}

void axpy_bf16(float* acc, float a, const uint16_t* y, int64_t n) {
  GEMRT_DISPATCH(axpy_bf16_avx2(acc, a, y, n));
  for (int64_t i = 0; i < n; ++i) acc[i] += a * bf16_to_f32(y[i]);
}

}  // namespace gemrt::cpu
