// Small AVX-512 building blocks shared by the quant/ kernels. Include only from files compiled with
// the AVX-512 flags (the *_avx512.cpp files), whose functions run after a CPU check
// (quant::dot_isa_available(DotIsa::Avx512)). No other file may include it: an inline function
// compiled with AVX-512 enabled could be the copy the linker keeps for a file compiled without,
// and run on a CPU without AVX-512 (for the same reason these files do not include
// avx2_common.h).
#pragma once

// GCC 12's AVX-512 intrinsics fill their unused operands with a self-initialized value
// (_mm512_undefined_ps), which its own uninitialized-value warnings report wherever one is inlined;
// the warnings are silenced for the header's lines only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

namespace gemrt::quant::detail::avx512 {

// A thread's scratch buffer, 64-byte aligned, grown on demand and kept for the thread's life.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { ::operator delete(p_, std::align_val_t{64}); }
  template <typename T>
  T* get(int64_t count) {
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    if (bytes > cap_) {
      ::operator delete(p_, std::align_val_t{64});
      p_ = nullptr;
      cap_ = 0;
      p_ = ::operator new(bytes, std::align_val_t{64});
      cap_ = bytes;
    }
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
  size_t cap_ = 0;
};

inline uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float f16(uint16_t h) { return _cvtsh_ss(h); }
inline __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The AVX2 kernels' horizontal sum (avx2_common.h hsum_f32), step for step: t_L = a_L + a_{L+4},
// (t_0 + t_2) + (t_1 + t_3).
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m512i load512(const void* p) { return _mm512_load_si512(p); }
inline __m512i broadcast_dword(const std::byte* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Two int16 values as the two halves of every dword (madd's pairs).
inline __m512i pair_dword(int lo, int hi) {
  return _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint16_t>(lo) | (uint32_t{static_cast<uint16_t>(hi)} << 16)));
}

// Part `part` of `parts` of the cache lines of [p, p + bytes), prefetched: the next panel's weight
// bytes are requested a share per tile, so the requests do not overflow the miss buffers.
inline void prefetch_part(const std::byte* p, int64_t bytes, int64_t part, int64_t parts) {
  const int64_t lines = (bytes + 63) / 64;
  for (int64_t l = lines * part / parts; l < lines * (part + 1) / parts; ++l)
    _mm_prefetch(reinterpret_cast<const char*>(p) + 64 * l, _MM_HINT_T0);
}

// The 8 six-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K super-block's 12 scale bytes
// (block_formats.h: k_scale_min; Q5_K's are laid out alike), unpacked four at a time. The same
// steps as row_group_dot_avx2.cpp's q4_k_single_rows: the AVX-512 files share no inline code with
// other files.
inline void q4_k_scales_mins(const std::byte* scales12, uint8_t out[16]) {
  uint32_t u[4];
  std::memcpy(u, scales12, 12);
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
  const uint32_t mins_lo = u[1] & kLow6;
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
  u[2] = mins_lo;
  u[0] &= kLow6;
  std::memcpy(out, u, 16);
}

// The index vectors of a 16 x 8 dword transpose in three rounds of two-source permutes
// (transpose_16x8): index[k][lane] is the source lane, + 16 for the second source.
struct TransposeIndex {
  alignas(64) int32_t v[3][2][16];
  TransposeIndex() {
    for (int e = 0; e < 2; ++e)
      for (int l = 0; l < 16; ++l) {
        const int tt = l / 4, rr = l % 4;  // round 1 out: lane 4 tt + rr = row rr's dword 4e + tt
        v[0][e][l] = rr < 2 ? rr * 8 + 4 * e + tt : 16 + (rr - 2) * 8 + 4 * e + tt;
        const int t2 = l / 8, r8 = l % 8;  // round 2 out: lane 8 t' + rr = row rr's dword 2f + t' (of 4)
        v[1][e][l] = r8 < 4 ? (2 * e + t2) * 4 + r8 : 16 + (2 * e + t2) * 4 + r8 - 4;
        v[2][e][l] = l < 8 ? e * 8 + l : 16 + e * 8 + l - 8;  // round 3 out: lane rr = row rr's dword
      }
  }
};

// rows[j] (j < 16) holds row j's 8 dwords; out[t] gets dword t of every row, row j in lane j.
inline void transpose_16x8(const __m256i* rows, __m512i* out) {
  static const TransposeIndex ix;
  const auto idx = [](int k, int e) { return _mm512_load_si512(ix.v[k][e]); };
  __m512i z[8], s[4][2], u[2][2][2];
  for (int p = 0; p < 8; ++p) z[p] = _mm512_inserti64x4(_mm512_castsi256_si512(rows[2 * p]), rows[2 * p + 1], 1);
  // Round 1: rows 4p .. 4p + 3, dwords 4e .. 4e + 3.
  for (int p = 0; p < 4; ++p)
    for (int e = 0; e < 2; ++e) s[p][e] = _mm512_permutex2var_epi32(z[2 * p], idx(0, e), z[2 * p + 1]);
  // Round 2: rows 8q .. 8q + 7, dwords 4e + 2f, 4e + 2f + 1.
  for (int q = 0; q < 2; ++q)
    for (int e = 0; e < 2; ++e)
      for (int f = 0; f < 2; ++f) u[q][e][f] = _mm512_permutex2var_epi32(s[2 * q][e], idx(1, f), s[2 * q + 1][e]);
  // Round 3: all 16 rows, dword 4e + 2f + g.
  for (int e = 0; e < 2; ++e)
    for (int f = 0; f < 2; ++f)
      for (int g = 0; g < 2; ++g) out[4 * e + 2 * f + g] = _mm512_permutex2var_epi32(u[0][e][f], idx(2, g), u[1][e][f]);
}

}  // namespace gemrt::quant::detail::avx512
