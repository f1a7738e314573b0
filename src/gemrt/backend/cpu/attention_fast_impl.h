// Body of attend_head_fast (attention_fast.h), compiled twice: portably (8-lane arrays, std::fma)
// and for AVX2 + FMA + F16C (__m256). Every step is an IEEE operation in a fixed order, so both
// builds give identical results. Include only from attention_fast.cpp / attention_fast_avx2.cpp,
// with GEMRT_FAST_ATTN_AVX2 defined (1 or 0) and inside the namespace that names the variant.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#if GEMRT_FAST_ATTN_AVX2
#include <immintrin.h>
#endif

#include "gemrt/backend/cpu/attention_fast.h"
#include "gemrt/core/half.h"

// Internal linkage: each including file gets its own copy (the two builds must not merge).
namespace {

using gemrt::DType;

#if GEMRT_FAST_ATTN_AVX2
struct V8 {
  __m256 v;
};
inline V8 zero8() { return {_mm256_setzero_ps()}; }
inline V8 set8(float x) { return {_mm256_set1_ps(x)}; }
inline V8 load8(const float* p) { return {_mm256_loadu_ps(p)}; }
inline V8 load8(const uint16_t* p, DType t) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (t == DType::F16) return {_mm256_cvtph_ps(h)};
  return {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))};
}
inline void store8(float* p, V8 x) { _mm256_storeu_ps(p, x.v); }
inline V8 fma8(V8 a, V8 b, V8 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline V8 add8(V8 a, V8 b) { return {_mm256_add_ps(a.v, b.v)}; }
inline V8 sub8(V8 a, V8 b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline V8 mul8(V8 a, V8 b) { return {_mm256_mul_ps(a.v, b.v)}; }
#else
struct V8 {
  float v[8];
};
inline V8 zero8() { return {{0, 0, 0, 0, 0, 0, 0, 0}}; }
inline V8 set8(float x) { return {{x, x, x, x, x, x, x, x}}; }
inline V8 load8(const float* p) {
  V8 r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline V8 load8(const uint16_t* p, DType t) {
  V8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = t == DType::F16 ? gemrt::f16_to_f32(p[i]) : gemrt::bf16_to_f32(p[i]);
  return r;
}
inline void store8(float* p, V8 x) { std::memcpy(p, x.v, sizeof x.v); }
inline V8 fma8(V8 a, V8 b, V8 c) {
  for (int i = 0; i < 8; ++i) c.v[i] = std::fma(a.v[i], b.v[i], c.v[i]);
  return c;
}
inline V8 add8(V8 a, V8 b) {
  for (int i = 0; i < 8; ++i) a.v[i] += b.v[i];
  return a;
}
inline V8 sub8(V8 a, V8 b) {
  for (int i = 0; i < 8; ++i) a.v[i] -= b.v[i];
  return a;
}
inline V8 mul8(V8 a, V8 b) {
  for (int i = 0; i < 8; ++i) a.v[i] *= b.v[i];
  return a;
}
#endif

inline float lane(V8 x, int i) {
  float t[8];
  store8(t, x);
  return t[i];
}

// The batched (tinyBLAS) horizontal sum: (t0 + t2) + (t1 + t3), t_L = a_L + a_{L+4}.
inline float hsum_batched(V8 a) {
  float x[8];
  store8(x, a);
  const float t0 = x[4] + x[0], t1 = x[5] + x[1], t2 = x[6] + x[2], t3 = x[7] + x[3];
  return (t0 + t2) + (t1 + t3);
}

// The single-row (vec_dot) reduction of four accumulators to a float64.
inline double reduce_single(V8 a0, V8 a1, V8 a2, V8 a3) {
  float s[8];
  store8(s, add8(add8(a0, a2), add8(a1, a3)));
  const float t0 = s[0] + s[4], t1 = s[1] + s[5], t2 = s[2] + s[6], t3 = s[3] + s[7];
  return static_cast<double>((t0 + t1) + (t2 + t3));
}

template <typename T>
inline V8 load_kv(const T* p, DType t) {
  if constexpr (sizeof(T) == 4) {
    (void)t;
    return load8(p);
  } else {
    return load8(p, t);
  }
}

template <typename T>
inline float elem(const T* p, int64_t i, DType t) {
  if constexpr (sizeof(T) == 4) {
    (void)t;
    return p[i];
  } else {
    return t == DType::F16 ? gemrt::f16_to_f32(p[i]) : gemrt::bf16_to_f32(p[i]);
  }
}

template <typename T>
float dot_batched(const float* x, const T* y, int64_t n, DType t) {
  V8 a = zero8();
  for (int64_t i = 0; i + 8 <= n; i += 8) a = fma8(load8(x + i), load_kv(y + i, t), a);
  return hsum_batched(a);
}

template <typename T>
float dot_single(const float* x, const T* y, int64_t n, DType t) {
  V8 a0 = zero8(), a1 = zero8(), a2 = zero8(), a3 = zero8();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = fma8(load8(x + i), load_kv(y + i, t), a0);
    a1 = fma8(load8(x + i + 8), load_kv(y + i + 8, t), a1);
    a2 = fma8(load8(x + i + 16), load_kv(y + i + 16, t), a2);
    a3 = fma8(load8(x + i + 24), load_kv(y + i + 24, t), a3);
  }
  double s = reduce_single(a0, a1, a2, a3);
  for (; i < n; ++i) s += static_cast<double>(x[i] * elem(y, i, t));
  return static_cast<float>(s);
}

// ggml_v_expf on 8 lanes: x = n ln2 + b (n integral, b reduced in two steps), 2^n * (1 + poly(b)),
// with the large-|n| cases scaled in two factors (or flushed) to avoid overflow in 2^n.
inline V8 expf8(V8 x) {
  const float shift = 0x1.8p23f;
  float xs[8], out[8];
  store8(xs, x);
  for (int i = 0; i < 8; ++i) {
    const float z = std::fma(xs[i], 0x1.715476p+0f, shift);
    const float n = z - shift;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, xs[i]));
    const uint32_t e = std::bit_cast<uint32_t>(z) << 23;
    const float k = std::bit_cast<float>(e + std::bit_cast<uint32_t>(1.0f));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, 0x1.ffffecp-1f * b);
    const float an = std::fabs(n);
    if (!(an > 126.0f)) {
      out[i] = std::fma(j, k, k);
      continue;
    }
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = std::bit_cast<float>(g + 0x7f000000u);
    const float s2 = std::bit_cast<float>(e - g);
    out[i] = an > 192.0f ? s1 * s1 : std::fma(s2, j, s2) * s1;
  }
  return load8(out);
}

template <typename T>
void attend(const gemrt::cpu::FastHead& h) {
  const int64_t d = h.d, n = h.n, lo = h.lo;
  const auto* const* keys = reinterpret_cast<const T* const*>(h.k);
  const auto* const* vals = reinterpret_cast<const T* const*>(h.v);
  float* s = h.scores;
  // llama.cpp's batched kernel takes the scores only from a converted (16-bit) query and 8 | d, and
  // the output only for 4 | d; otherwise those products use its one-row kernel.
  const bool batched_scores = h.batched && h.kv != DType::F32 && d % 8 == 0;
  const bool batched_out = h.batched && d % 4 == 0;
  float max_s = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    float v = batched_scores ? dot_batched(h.q, keys[i], d, h.kv) : dot_single(h.q, keys[i], d, h.kv);
    if (h.softcap > 0.0f) v = std::tanh(v * (1.0f / h.softcap)) * h.softcap;
    s[i] = v;
    max_s = std::max(max_s, v);
  }
  // Softmax in chunks of 8 positions aligned on position 0; positions outside lo .. lo + n - 1
  // are masked (-inf -> 0).
  double total = 0.0;
  const int64_t c_first = lo / 8, c_last = (lo + n - 1) / 8;
  for (int64_t c = c_first; c <= c_last; ++c) {
    float chunk[8];
    for (int l = 0; l < 8; ++l) {
      const int64_t i = 8 * c + l - lo;
      chunk[l] = i >= 0 && i < n ? s[i] - max_s : -INFINITY;
    }
    float e[8];
    store8(e, expf8(load8(chunk)));
    total += static_cast<double>(hsum_batched(load8(e)));
    for (int l = 0; l < 8; ++l) {
      const int64_t i = 8 * c + l - lo;
      if (i >= 0 && i < n) s[i] = e[l];
    }
  }
  const auto inv = static_cast<float>(1.0 / total);
  for (int64_t i = 0; i < n; ++i) {
    const float p = s[i] * inv;
    if (h.kv == DType::F16) s[i] = gemrt::f16_to_f32(gemrt::f32_to_f16(p));
    else if (h.kv == DType::BF16) s[i] = gemrt::bf16_to_f32(gemrt::f32_to_bf16(p));
    else s[i] = p;
  }
  // V^T p: accumulator rows of d floats, row = position mod 8 (batched) or mod 32 (single).
  const int rows = batched_out ? 8 : 32;
  float* acc = h.acc;
  std::memset(acc, 0, static_cast<size_t>(rows * d) * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    float* row = acc + ((lo + i) % rows) * d;
    const V8 p = set8(s[i]);
    const T* v = vals[i];
    for (int64_t x = 0; x + 8 <= d; x += 8) store8(row + x, fma8(p, load_kv(v + x, h.kv), load8(row + x)));
    for (int64_t x = d - d % 8; x < d; ++x) row[x] = std::fma(s[i], elem(v, x, h.kv), row[x]);
  }
  for (int64_t x = 0; x < d; ++x) {
    float a[32];
    for (int r = 0; r < rows; ++r) a[r] = acc[r * d + x];
    if (batched_out) {
      const float t0 = a[4] + a[0], t1 = a[5] + a[1], t2 = a[6] + a[2], t3 = a[7] + a[3];
      h.out[x] = (t0 + t2) + (t1 + t3);
    } else {
      float sl[8];
      for (int l = 0; l < 8; ++l) sl[l] = (a[l] + a[16 + l]) + (a[8 + l] + a[24 + l]);
      const float t0 = sl[0] + sl[4], t1 = sl[1] + sl[5], t2 = sl[2] + sl[6], t3 = sl[3] + sl[7];
      h.out[x] = static_cast<float>(static_cast<double>((t0 + t1) + (t2 + t3)));
    }
  }
}

inline void attend_any(const gemrt::cpu::FastHead& h) {
  if (h.kv == DType::F32) attend<float>(h);
  else attend<uint16_t>(h);
}

}  // namespace
