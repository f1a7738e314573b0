// Float32 FMA throughput of one core: independent FMA chains (enough to cover the FMA latency on
// both FMA pipes), best of 5 passes. The compute roofline of the F16 / BF16 prefill: one 8-lane
// FMA is 8 multiply-adds, one 16-lane FMA 16.
// Build: g++ -O2 -mavx2 -mfma bench/fma_peak.cpp -o fma_peak      (8-lane FMAs)
//        add -mavx512f to measure 16-lane FMAs as well (on CPUs with AVX-512)
#include <immintrin.h>

#include <chrono>
#include <cstdio>

namespace {

// Best of 5 passes of `steps` x 10 FMAs on 10 chains of vector type V; returns FMAs per second.
// a = a * m + c converges to c / (1 - m) = 0.1: no overflow, no subnormals. The empty asm keeps
// every chain in a register.
template <typename V, V (*kSet1)(float), V (*kFma)(V, V, V)>
double fma_rate(float* sink) {
  double best = 0.0;
  for (int pass = 0; pass < 5; ++pass) {
    V a0 = kSet1(1), a1 = kSet1(2), a2 = kSet1(3), a3 = kSet1(4), a4 = kSet1(5);
    V a5 = kSet1(6), a6 = kSet1(7), a7 = kSet1(8), a8 = kSet1(9), a9 = kSet1(10);
    const V m = kSet1(0.999999f), c = kSet1(1e-7f);
    const long steps = 100000000;
    const auto t0 = std::chrono::steady_clock::now();
    for (long s = 0; s < steps; ++s) {
      a0 = kFma(a0, m, c);
      a1 = kFma(a1, m, c);
      a2 = kFma(a2, m, c);
      a3 = kFma(a3, m, c);
      a4 = kFma(a4, m, c);
      a5 = kFma(a5, m, c);
      a6 = kFma(a6, m, c);
      a7 = kFma(a7, m, c);
      a8 = kFma(a8, m, c);
      a9 = kFma(a9, m, c);
      __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
                       "+x"(a9));
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    float lanes[sizeof(V) / 4];
    __builtin_memcpy(lanes, &a9, sizeof lanes);
    *sink += lanes[0];
    const double fmas = 10.0 * static_cast<double>(steps) / sec;
    if (fmas > best) best = fmas;
  }
  return best;
}

__m256 set1_256(float x) { return _mm256_set1_ps(x); }
__m256 fma_256(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
#if defined(__AVX512F__)
__m512 set1_512(float x) { return _mm512_set1_ps(x); }
__m512 fma_512(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
#endif

}  // namespace

int main() {
  float sink = 0.0f;
  const double r8 = fma_rate<__m256, set1_256, fma_256>(&sink);
  std::printf("one core: %.2f G 8-lane FMA/s = %.1f G multiply-adds/s (best of 5)\n", r8 * 1e-9, 8.0 * r8 * 1e-9);
#if defined(__AVX512F__)
  const double r16 = fma_rate<__m512, set1_512, fma_512>(&sink);
  std::printf("one core: %.2f G 16-lane FMA/s = %.1f G multiply-adds/s (best of 5)\n", r16 * 1e-9, 16.0 * r16 * 1e-9);
#endif
  std::printf("(checksum %.3f)\n", static_cast<double>(sink));
  return 0;
}
