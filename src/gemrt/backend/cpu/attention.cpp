#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/kv_cache.h"
#include "gemrt/core/error.h"

namespace gemrt::cpu {

// HF eager attention (spec §1.4, §1.5), one (query, head) at a time:
//   s_j = (q . k_j) * scale; s_j = cap * tanh(s_j / cap) if soft-capped; softmax over the
//   visible keys in float32; out = sum_j p_j v_j.
// Key j is visible to the query at position p iff j <= p and (window == 0 or p - j < window).
// Keys before this run come from the ring (row j % capacity); keys of this run from k, v.
void attention(const float* q, const float* k, const float* v, const int32_t* positions, int64_t t,
               const AttentionAttrs& a, CpuKvCache& kv, float* out, ThreadPool& pool) {
  const KvSlotLayout& slot = kv.slot(a.kv_slot);
  const int64_t d = a.head_dim;
  const int64_t kv_w = int64_t{a.n_kv_heads} * d;
  if (slot.kv_heads != a.n_kv_heads || slot.head_dim != a.head_dim)
    fail("attention: kv slot ", a.kv_slot, " holds ", slot.kv_heads, "x", slot.head_dim, ", op wants ", a.n_kv_heads,
         "x", a.head_dim);
  const int64_t cap = slot.capacity;
  const int64_t p0 = positions[0];
  const int64_t cached = kv.next_position(a.kv_slot);
  if (p0 != cached)
    fail("attention: this run starts at position ", p0, " but the KV cache of slot ", a.kv_slot, " continues at ", cached);
  for (int64_t i = 1; i < t; ++i)
    if (positions[i] != p0 + i) fail("attention: positions must be consecutive (position ", i, " is ", positions[i], ")");
  // The oldest key any query of this run needs must still be in the ring (or in this run).
  const int64_t oldest_needed = a.window > 0 ? std::max<int64_t>(0, p0 - a.window + 1) : 0;
  if (oldest_needed < cached && oldest_needed < cached - cap)
    fail("attention: the KV cache budget of ", cap, " positions is exceeded (sequence reaches position ", p0 + t - 1,
         "); allocate a larger budget");
  if (a.window == 0 && p0 + t > cap)
    fail("attention: the KV cache budget of ", cap, " positions is exceeded (sequence would reach ", p0 + t, " tokens)");

  const int group = a.n_heads / a.n_kv_heads;
  const float* ring_k = kv.keys(a.kv_slot);
  const float* ring_v = kv.values(a.kv_slot);
  const auto key_row = [&](int64_t j, int kvh, const float* fresh, const float* ring) {
    const float* base = j >= p0 ? fresh + (j - p0) * kv_w : ring + (j % cap) * kv_w;
    return base + kvh * d;
  };

  pool.parallel_for(t * a.n_heads, [&](int64_t b, int64_t e) {
    std::vector<float> scores;
    std::vector<float> acc(static_cast<size_t>(d));
    for (int64_t idx = b; idx < e; ++idx) {
      const int64_t r = idx / a.n_heads;
      const int h = static_cast<int>(idx % a.n_heads);
      const int kvh = h / group;
      const int64_t p = p0 + r;
      const int64_t lo = a.window > 0 ? std::max<int64_t>(0, p - a.window + 1) : 0;
      const float* qh = q + r * a.n_heads * d + h * d;
      scores.resize(static_cast<size_t>(p - lo + 1));
      float max_s = -INFINITY;
      for (int64_t j = lo; j <= p; ++j) {
        const float* kr = key_row(j, kvh, k, ring_k);
        float s = 0.0f;
        for (int64_t x = 0; x < d; ++x) s += qh[x] * kr[x];
        s *= a.scale;
        if (a.softcap > 0.0f) s = std::tanh(s / a.softcap) * a.softcap;
        scores[static_cast<size_t>(j - lo)] = s;
        max_s = std::max(max_s, s);
      }
      double denom = 0.0;
      for (float& s : scores) {
        s = std::exp(s - max_s);
        denom += static_cast<double>(s);
      }
      const auto inv = static_cast<float>(1.0 / denom);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = lo; j <= p; ++j) {
        const float pj = scores[static_cast<size_t>(j - lo)] * inv;
        const float* vr = key_row(j, kvh, v, ring_v);
        for (int64_t x = 0; x < d; ++x) acc[static_cast<size_t>(x)] += pj * vr[x];
      }
      std::memcpy(out + r * a.n_heads * d + h * d, acc.data(), static_cast<size_t>(d) * sizeof(float));
    }
  });

  // Append this run's keys/values; only the last `cap` of them can matter later.
  float* wk = kv.keys(a.kv_slot);
  float* wv = kv.values(a.kv_slot);
  for (int64_t r = std::max<int64_t>(0, t - cap); r < t; ++r) {
    const int64_t row = (p0 + r) % cap;
    std::memcpy(wk + row * kv_w, k + r * kv_w, static_cast<size_t>(kv_w) * sizeof(float));
    std::memcpy(wv + row * kv_w, v + r * kv_w, static_cast<size_t>(kv_w) * sizeof(float));
  }
  kv.set_next_position(a.kv_slot, p0 + t);
}

}  // namespace gemrt::cpu
