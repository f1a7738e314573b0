// Body of attend_head_fast (attention_fast.h), compiled twice: portably (8-lane arrays, std::fma)
// and for AVX2 + FMA + F16C (__m256). Every step is an IEEE operation in a fixed order, so both
// builds give identical results. Include only from attention_fast.cpp / attention_fast_avx2.cpp,
// with GEMRT_FAST_ATTN_AVX2 defined (1 or 0) and inside the namespace that names the variant.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

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

// The storage element of a KV dtype, and reads of 8 / 1 values as float32 (K is a compile-time
// constant so the inner loops carry no dtype test).
template <DType K>
using KvElem = std::conditional_t<K == DType::F32, float, uint16_t>;

template <DType K>
inline V8 load_kv(const KvElem<K>* p) {
  if constexpr (K == DType::F32) return load8(p);
  else return load8(p, K);
}

template <DType K>
inline float elem(const KvElem<K>* p, int64_t i) {
  if constexpr (K == DType::F32) return p[i];
  else if constexpr (K == DType::F16) return gemrt::f16_to_f32(p[i]);
  else return gemrt::bf16_to_f32(p[i]);
}

template <DType K>
float dot_single(const float* x, const KvElem<K>* y, int64_t n) {
  V8 a0 = zero8(), a1 = zero8(), a2 = zero8(), a3 = zero8();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = fma8(load8(x + i), load_kv<K>(y + i), a0);
    a1 = fma8(load8(x + i + 8), load_kv<K>(y + i + 8), a1);
    a2 = fma8(load8(x + i + 16), load_kv<K>(y + i + 16), a2);
    a3 = fma8(load8(x + i + 24), load_kv<K>(y + i + 24), a3);
  }
  double s = reduce_single(a0, a1, a2, a3);
  for (; i < n; ++i) s += static_cast<double>(x[i] * elem<K>(y, i));
  return static_cast<float>(s);
}

// ggml_v_expf on 8 lanes: x = n ln2 + b (n integral, b reduced in two steps), 2^n * (1 + poly(b)),
// with the large-|n| cases scaled in two factors (or flushed) to avoid overflow in 2^n.
#if GEMRT_FAST_ATTN_AVX2
inline V8 expf8(V8 xv) {  // the lane-wise steps of the portable version below, as vector operations
  const __m256 x = xv.v;
  const __m256 shift = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
  const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 c = _mm256_cmp_ps(an, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
  const __m256 normal = _mm256_fmadd_ps(j, k, k);
  if (!_mm256_movemask_ps(c)) return {normal};
  const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                     _mm256_set1_epi32(static_cast<int>(0x82000000u)));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 dd = _mm256_cmp_ps(an, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  const __m256 big = _mm256_blendv_ps(_mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1), _mm256_mul_ps(s1, s1), dd);
  return {_mm256_blendv_ps(normal, big, c)};
}
#else
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
#endif

// Softmax of one head's scores in place (see attention_fast.h), then rounded to the cache type.
inline void softmax_llama(float* s, int64_t lo, int64_t n, float max_s, DType kv) {
  // Chunks of 8 positions aligned on position 0; positions outside lo .. lo + n - 1 are masked
  // (-inf -> 0).
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
    if (kv == DType::F16) s[i] = gemrt::f16_to_f32(gemrt::f32_to_f16(p));
    else if (kv == DType::BF16) s[i] = gemrt::bf16_to_f32(gemrt::f32_to_bf16(p));
    else s[i] = p;
  }
}

// The heads h[0..G) share keys, values, positions and shape (the query heads of one KV head): each
// key and value row is loaded once for all of them. Per head the operations are exactly those of
// attention_fast.h.
template <DType K>
void attend(const gemrt::cpu::FastHead* h, int G) {
  using T = KvElem<K>;
  const gemrt::cpu::FastHead& h0 = h[0];
  const int64_t d = h0.d, n = h0.n, lo = h0.lo;
  constexpr DType kvt = K;
  const auto* const* keys = reinterpret_cast<const T* const*>(h0.k);
  const auto* const* vals = reinterpret_cast<const T* const*>(h0.v);
  // llama.cpp's batched kernel takes the scores only from a converted (16-bit) query and 8 | d, and
  // the output only for 4 | d; otherwise those products use its one-row kernel.
  const bool batched_scores = h0.batched && kvt != DType::F32 && d % 8 == 0;
  const bool batched_out = h0.batched && d % 4 == 0;
  constexpr int kMaxG = 8;
  float max_s[kMaxG];
  for (int g = 0; g < G; ++g) max_s[g] = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    float v[kMaxG];
    if (batched_scores) {
      V8 acc[kMaxG];
      for (int g = 0; g < G; ++g) acc[g] = zero8();
      for (int64_t x = 0; x < d; x += 8) {
        const V8 kx = load_kv<K>(keys[i] + x);
        for (int g = 0; g < G; ++g) acc[g] = fma8(load8(h[g].q + x), kx, acc[g]);
      }
      for (int g = 0; g < G; ++g) v[g] = hsum_batched(acc[g]);
    } else {
      for (int g = 0; g < G; ++g) v[g] = dot_single<K>(h[g].q, keys[i], d);
    }
    for (int g = 0; g < G; ++g) {
      if (h0.softcap > 0.0f) v[g] = std::tanh(v[g] * (1.0f / h0.softcap)) * h0.softcap;
      h[g].scores[i] = v[g];
      max_s[g] = std::max(max_s[g], v[g]);
    }
  }
  for (int g = 0; g < G; ++g) softmax_llama(h[g].scores, lo, n, max_s[g], kvt);
  if (batched_out) {
    // V^T p, batched order: per 8 output dims, 8 accumulators (lane L = positions = L mod 8) in
    // registers over the keys in position order; masked positions add p = 0 times a zero row, as
    // llama.cpp's padded product does.
    thread_local std::vector<T> zeros;
    if (zeros.size() < static_cast<size_t>(d)) zeros.assign(static_cast<size_t>(d), T{});
    const int64_t c_first = lo / 8, c_last = (lo + n - 1) / 8;
    for (int g = 0; g < G; ++g) {
      const float* p = h[g].scores;
      for (int64_t x = 0; x + 8 <= d; x += 8) {
        V8 acc[8];
        for (auto& v : acc) v = zero8();
        for (int64_t c = c_first; c <= c_last; ++c) {
          for (int l = 0; l < 8; ++l) {
            const int64_t i = 8 * c + l - lo;
            const bool vis = i >= 0 && i < n;
            acc[l] = fma8(set8(vis ? p[i] : 0.0f), load_kv<K>((vis ? vals[i] : zeros.data()) + x), acc[l]);
          }
        }
        const V8 t0 = add8(acc[4], acc[0]), t1 = add8(acc[5], acc[1]), t2 = add8(acc[6], acc[2]), t3 = add8(acc[7], acc[3]);
        store8(h[g].out + x, add8(add8(t0, t2), add8(t1, t3)));
      }
      for (int64_t x = d - d % 8; x < d; ++x) {  // the last d % 8 dims one at a time
        float a[8] = {};
        for (int64_t i = 0; i < n; ++i) a[(lo + i) % 8] = std::fma(p[i], elem<K>(vals[i], x), a[(lo + i) % 8]);
        const float t0 = a[4] + a[0], t1 = a[5] + a[1], t2 = a[6] + a[2], t3 = a[7] + a[3];
        h[g].out[x] = (t0 + t2) + (t1 + t3);
      }
    }
    return;
  }
  // V^T p, single-row order: accumulator rows of d floats per head, row = position mod 32.
  const int rows = 32;
  for (int g = 0; g < G; ++g) std::memset(h[g].acc, 0, static_cast<size_t>(rows * d) * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = (lo + i) % rows;
    const T* v = vals[i];
    V8 p[kMaxG];
    for (int g = 0; g < G; ++g) p[g] = set8(h[g].scores[i]);
    for (int64_t x = 0; x + 8 <= d; x += 8) {
      const V8 vx = load_kv<K>(v + x);
      for (int g = 0; g < G; ++g) {
        float* row = h[g].acc + r * d + x;
        store8(row, fma8(p[g], vx, load8(row)));
      }
    }
    for (int64_t x = d - d % 8; x < d; ++x)
      for (int g = 0; g < G; ++g) h[g].acc[r * d + x] = std::fma(h[g].scores[i], elem<K>(v, x), h[g].acc[r * d + x]);
  }
  for (int g = 0; g < G; ++g) {
    const float* acc = h[g].acc;
    float* out = h[g].out;
    int64_t x = 0;
    const auto row = [&](int r, int64_t at) { return load8(acc + r * d + at); };
    for (; x + 8 <= d; x += 8) {  // the reduction below, for 8 output dims at once
      V8 sl[8];
      for (int l = 0; l < 8; ++l) sl[l] = add8(add8(row(l, x), row(16 + l, x)), add8(row(8 + l, x), row(24 + l, x)));
      const V8 t0 = add8(sl[0], sl[4]), t1 = add8(sl[1], sl[5]), t2 = add8(sl[2], sl[6]), t3 = add8(sl[3], sl[7]);
      store8(out + x, add8(add8(t0, t1), add8(t2, t3)));  // (float) of the float64 sum: the same value
    }
    for (; x < d; ++x) {
      float a[32];
      for (int r = 0; r < rows; ++r) a[r] = acc[r * d + x];
      float sl[8];
      for (int l = 0; l < 8; ++l) sl[l] = (a[l] + a[16 + l]) + (a[8 + l] + a[24 + l]);
      const float t0 = sl[0] + sl[4], t1 = sl[1] + sl[5], t2 = sl[2] + sl[6], t3 = sl[3] + sl[7];
      out[x] = (t0 + t1) + (t2 + t3);
    }
  }
}

inline void attend_any(const gemrt::cpu::FastHead* h, int G) {
  for (int g0 = 0; g0 < G; g0 += 8) {
    const int gn = std::min(8, G - g0);
    if (h[0].kv == DType::F32) attend<DType::F32>(h + g0, gn);
    else if (h[0].kv == DType::F16) attend<DType::F16>(h + g0, gn);
    else attend<DType::BF16>(h + g0, gn);
  }
}

// ---- attend_tile_fast (attention_fast.h): the batched order of attend() above, register-tiled ----

// Scores of Q query vectors against KB consecutive keys j .. j + KB - 1 (indices from the tile's
// base): one 8-lane FMA accumulator per pair over the chunks of 8 in order, then hsum_batched, as
// attend()'s batched_scores branch.
template <DType K, int Q, int KB>
inline void tile_scores(const gemrt::cpu::FastTile& t, const int* qi, const KvElem<K>* const* keys, int64_t j) {
  V8 acc[Q][KB];
  for (auto& row : acc)
    for (auto& a : row) a = zero8();
  for (int64_t x = 0; x < t.d; x += 8) {
    V8 kx[KB];
    for (int b = 0; b < KB; ++b) kx[b] = load_kv<K>(keys[j + b] + x);
    for (int a = 0; a < Q; ++a) {
      const V8 qx = load8(t.q[qi[a]] + x);
      for (int b = 0; b < KB; ++b) acc[a][b] = fma8(qx, kx[b], acc[a][b]);
    }
  }
  for (int a = 0; a < Q; ++a)
    for (int b = 0; b < KB; ++b) t.scores[qi[a] * t.span + j + b] = hsum_batched(acc[a][b]);
}

// V^T p for Q query vectors and X chunks of 8 output dims from x0, in attend()'s batched_out
// order: per lane L (positions = L mod 8) one accumulator per vector and chunk, over that lane's
// visible keys in position order; then t_L = a_L + a_{L+4}, out = (t_0 + t_2) + (t_1 + t_3).
// Keys visible to all Q vectors run without a test; the few at the edges (rows of a tile see
// ranges shifted by one key per row) skip the vectors that do not see them.
template <DType K, int Q, int X>
inline void tile_outputs(const gemrt::cpu::FastTile& t, const int* qi, const KvElem<K>* const* vals, int64_t x0) {
  int64_t u0 = INT64_MAX, u1 = 0, c0 = 0, c1 = INT64_MAX;  // union and common key ranges
  int64_t lo[Q], hi[Q];
  const float* p[Q];
  for (int a = 0; a < Q; ++a) {
    lo[a] = t.lo[qi[a]] - t.base;
    hi[a] = lo[a] + t.n[qi[a]];
    p[a] = t.scores + qi[a] * t.span;
    u0 = std::min(u0, lo[a]);
    u1 = std::max(u1, hi[a]);
    c0 = std::max(c0, lo[a]);
    c1 = std::min(c1, hi[a]);
  }
  if (c1 <= c0) c0 = c1 = u1;  // no key seen by all: every key takes the tested path
  float lanes[Q][8][X * 8];
  for (int l = 0; l < 8; ++l) {
    V8 acc[Q][X];
    for (auto& row : acc)
      for (auto& a : row) a = zero8();
    const auto step = [&](int64_t j, bool tested) {
      V8 vx[X];
      for (int c = 0; c < X; ++c) vx[c] = load_kv<K>(vals[j] + x0 + 8 * c);
      for (int a = 0; a < Q; ++a) {
        if (tested && (j < lo[a] || j >= hi[a])) continue;
        const V8 pa = set8(p[a][j]);
        for (int c = 0; c < X; ++c) acc[a][c] = fma8(pa, vx[c], acc[a][c]);
      }
    };
    // The first index at or after `from` whose position is in lane l.
    const auto first = [&](int64_t from) { return from + (((l - (t.base + from)) % 8) + 8) % 8; };
    for (int64_t j = first(u0); j < c0; j += 8) step(j, true);
    for (int64_t j = first(c0); j < c1; j += 8) step(j, false);
    for (int64_t j = first(c1); j < u1; j += 8) step(j, true);
    for (int a = 0; a < Q; ++a)
      for (int c = 0; c < X; ++c) store8(lanes[a][l] + 8 * c, acc[a][c]);
  }
  for (int a = 0; a < Q; ++a)
    for (int c = 0; c < X; ++c) {
      const auto L = [&](int l) { return load8(lanes[a][l] + 8 * c); };
      const V8 t0 = add8(L(4), L(0)), t1 = add8(L(5), L(1)), t2 = add8(L(6), L(2)), t3 = add8(L(7), L(3));
      store8(t.out[qi[a]] + x0 + 8 * c, add8(add8(t0, t2), add8(t1, t3)));
    }
}

template <DType K, int Q>
inline void tile_block(const gemrt::cpu::FastTile& t, const int* qi) {
  using T = KvElem<K>;
  const auto* const* keys = reinterpret_cast<const T* const*>(t.k);
  const auto* const* vals = reinterpret_cast<const T* const*>(t.v);
  int64_t u0 = INT64_MAX, u1 = 0;
  for (int a = 0; a < Q; ++a) {
    u0 = std::min(u0, t.lo[qi[a]] - t.base);
    u1 = std::max(u1, t.lo[qi[a]] - t.base + t.n[qi[a]]);
  }
  int64_t j = u0;
  for (; j + 2 <= u1; j += 2) tile_scores<K, Q, 2>(t, qi, keys, j);
  if (j < u1) tile_scores<K, Q, 1>(t, qi, keys, j);
  for (int a = 0; a < Q; ++a) {
    float* s = t.scores + qi[a] * t.span + (t.lo[qi[a]] - t.base);
    const int64_t n = t.n[qi[a]];
    float max_s = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      if (t.softcap > 0.0f) s[i] = std::tanh(s[i] * (1.0f / t.softcap)) * t.softcap;
      max_s = std::max(max_s, s[i]);
    }
    softmax_llama(s, t.lo[qi[a]], n, max_s, K);
  }
  int64_t x0 = 0;
  for (; x0 + 16 <= t.d; x0 += 16) tile_outputs<K, Q, 2>(t, qi, vals, x0);
  if (x0 < t.d) tile_outputs<K, Q, 1>(t, qi, vals, x0);
}

template <DType K>
void attend_tile(const gemrt::cpu::FastTile& t) {
  int a = 0;
  for (; a + 4 <= t.count; a += 4) {
    const int qi[4] = {a, a + 1, a + 2, a + 3};
    tile_block<K, 4>(t, qi);
  }
  const int qi[3] = {a, a + 1, a + 2};
  switch (t.count - a) {
    case 3: tile_block<K, 3>(t, qi); break;
    case 2: tile_block<K, 2>(t, qi); break;
    case 1: tile_block<K, 1>(t, qi); break;
    default: break;
  }
}

inline void attend_tile_any(const gemrt::cpu::FastTile& t) {
  if (t.kv == DType::F16) attend_tile<DType::F16>(t);
  else attend_tile<DType::BF16>(t);
}

}  // namespace
