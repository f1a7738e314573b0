// AVX2 + FMA + F16C bodies of vec_ops.h (compiled with those flags; called after a CPU check).
#include <immintrin.h>

#include <cstdint>

#include "gemrt/core/half.h"

namespace gemrt::cpu::detail {
namespace {

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
inline __m256 load_f32(const float* p) { return _mm256_loadu_ps(p); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <typename T, typename Load, typename Scalar>
float dot_impl(const float* x, const T* y, int64_t n, Load load, Scalar scalar) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load(y + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), load(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), load(y + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load(y + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i] * scalar(y[i]);
  return s;
}

template <typename T, typename Load, typename Scalar>
void axpy_impl(float* acc, float a, const T* y, int64_t n, Load load, Scalar scalar) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(va, load(y + i), _mm256_loadu_ps(acc + i)));
  for (; i < n; ++i) acc[i] += a * scalar(y[i]);
}

float f16s(uint16_t h) { return _cvtsh_ss(h); }
float bf16s(uint16_t h) { return bf16_to_f32(h); }
float f32s(float f) { return f; }

}  // namespace

void gelu_table_mul_avx2(const float* gate, const float* up, int64_t n, const uint16_t* table, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(gate + i);
    alignas(16) uint16_t h[8], t[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(h), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    for (int k = 0; k < 8; ++k) t[k] = table[h[k]];
    __m256 g = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
    g = _mm256_blendv_ps(g, x, _mm256_cmp_ps(x, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
    g = _mm256_blendv_ps(g, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-10.0f), _CMP_LE_OQ));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(g, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float x = gate[i];
    const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : _cvtsh_ss(table[_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT)]);
    out[i] = g * up[i];
  }
}

float dot_avx2(const float* x, const float* y, int64_t n) { return dot_impl(x, y, n, load_f32, f32s); }
float dot_f16_avx2(const float* x, const uint16_t* y, int64_t n) { return dot_impl(x, y, n, load_f16, f16s); }
float dot_bf16_avx2(const float* x, const uint16_t* y, int64_t n) { return dot_impl(x, y, n, load_bf16, bf16s); }
void axpy_avx2(float* acc, float a, const float* y, int64_t n) { axpy_impl(acc, a, y, n, load_f32, f32s); }
void axpy_f16_avx2(float* acc, float a, const uint16_t* y, int64_t n) { axpy_impl(acc, a, y, n, load_f16, f16s); }
void axpy_bf16_avx2(float* acc, float a, const uint16_t* y, int64_t n) { axpy_impl(acc, a, y, n, load_bf16, bf16s); }

}  // namespace gemrt::cpu::detail
