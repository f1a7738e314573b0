// Float32 FMA throughput of one core: 8 independent 8-lane FMA chains (enough to cover the FMA
// latency on both FMA pipes), best of 5 passes. The compute roofline of the F16 / BF16 prefill:
// one 8-lane FMA is 8 multiply-adds. Build: g++ -O2 -mavx2 -mfma bench/fma_peak.cpp -o fma_peak
#include <immintrin.h>

#include <chrono>
#include <cstdio>

int main() {
  double best = 0.0;
  float sink = 0.0f;
  for (int pass = 0; pass < 5; ++pass) {
    __m256 a0 = _mm256_set1_ps(1), a1 = _mm256_set1_ps(2), a2 = _mm256_set1_ps(3), a3 = _mm256_set1_ps(4);
    __m256 a4 = _mm256_set1_ps(5), a5 = _mm256_set1_ps(6), a6 = _mm256_set1_ps(7), a7 = _mm256_set1_ps(8);
    // a = a * m + c converges to c / (1 - m) = 0.1: no overflow, no subnormals.
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    const long steps = 200000000;
    const auto t0 = std::chrono::steady_clock::now();
    for (long s = 0; s < steps; ++s) {
      a0 = _mm256_fmadd_ps(a0, m, c);
      a1 = _mm256_fmadd_ps(a1, m, c);
      a2 = _mm256_fmadd_ps(a2, m, c);
      a3 = _mm256_fmadd_ps(a3, m, c);
      a4 = _mm256_fmadd_ps(a4, m, c);
      a5 = _mm256_fmadd_ps(a5, m, c);
      a6 = _mm256_fmadd_ps(a6, m, c);
      a7 = _mm256_fmadd_ps(a7, m, c);
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                     _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    sink += _mm256_cvtss_f32(sum);
    const double fmas = 8.0 * static_cast<double>(steps) / sec;
    if (fmas > best) best = fmas;
  }
  std::printf("one core: %.2f G 8-lane FMA/s = %.1f G multiply-adds/s (best of 5; checksum %.3f)\n", best * 1e-9,
              8.0 * best * 1e-9, static_cast<double>(sink));
  return 0;
}
