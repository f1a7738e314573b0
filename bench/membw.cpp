// Memory read bandwidth of this machine: T threads each stream a disjoint part of a buffer much
// larger than the caches (summing 32-byte vectors, so the loads cannot be optimised away), best
// of several passes. Build: g++ -O2 -mavx2 -pthread bench/membw.cpp -o membw; run: ./membw [threads] [MiB]
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2048;
  const size_t n = mib * (1u << 20) / sizeof(__m256i);
  auto* buf = static_cast<__m256i*>(std::aligned_alloc(64, n * sizeof(__m256i)));
  for (size_t i = 0; i < n; ++i) buf[i] = _mm256_set1_epi64x(static_cast<long long>(i));
  double best = 0.0;
  for (int pass = 0; pass < 5; ++pass) {
    std::vector<std::thread> ts;
    std::vector<long long> sink(static_cast<size_t>(threads));
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const size_t b = n * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t e = n * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = b; i + 4 <= e; i += 4) {
          a0 = _mm256_add_epi64(a0, _mm256_load_si256(buf + i));
          a1 = _mm256_add_epi64(a1, _mm256_load_si256(buf + i + 1));
          a2 = _mm256_add_epi64(a2, _mm256_load_si256(buf + i + 2));
          a3 = _mm256_add_epi64(a3, _mm256_load_si256(buf + i + 3));
        }
        const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
        sink[static_cast<size_t>(t)] = _mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 3);
      });
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n * sizeof(__m256i)) / s / 1e9);
    if (sink[0] == 42) std::printf(" ");
  }
  std::printf("read bandwidth, %d thread(s), %zu MiB buffer: %.1f GB/s (best of 5)\n", threads, mib, best);
  std::free(buf);
  return 0;
}
