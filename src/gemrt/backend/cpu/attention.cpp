#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "gemrt/backend/cpu/attention_fast.h"
#include "gemrt/backend/cpu/half_table.h"
#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/kv_cache.h"
#include "gemrt/backend/cpu/vec_ops.h"
#include "gemrt/backend/run_checks.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"

namespace gemrt::cpu {
namespace {

// Element types of the KV storage: how a stored value is read, and how a float32 is stored.
struct F32Kv {
  using T = float;
  static constexpr DType kType = DType::F32;
  static float get(float v) { return v; }
  static float put(float f) { return f; }
  static float dot(const float* x, const T* y, int64_t n) { return cpu::dot(x, y, n); }
  static void axpy(float* acc, float a, const T* y, int64_t n) { cpu::axpy(acc, a, y, n); }
};
struct F16Kv {
  using T = uint16_t;
  static constexpr DType kType = DType::F16;
  static float get(uint16_t h) { return f16_lookup(h); }
  static uint16_t put(float f) { return f32_to_f16(f); }
  static float dot(const float* x, const T* y, int64_t n) { return dot_f16(x, y, n); }
  static void axpy(float* acc, float a, const T* y, int64_t n) { axpy_f16(acc, a, y, n); }
};
struct Bf16Kv {
  using T = uint16_t;
  static constexpr DType kType = DType::BF16;
  static float get(uint16_t h) { return bf16_to_f32(h); }
  static uint16_t put(float f) { return f32_to_bf16(f); }
  static float dot(const float* x, const T* y, int64_t n) { return dot_bf16(x, y, n); }
  static void axpy(float* acc, float a, const T* y, int64_t n) { axpy_bf16(acc, a, y, n); }
};

// What one attention call sees: this run's rows (already in the storage type) and the ring.
template <typename S>
struct KvRows {
  using T = typename S::T;
  const T* fresh_k;
  const T* fresh_v;
  const T* ring_k;
  const T* ring_v;
  int64_t p0, cap, kv_w;
  const T* row(int64_t j, const T* fresh, const T* ring) const {
    return j >= p0 ? fresh + (j - p0) * kv_w : ring + (j % cap) * kv_w;
  }
};

// The keys query row r sees: positions [lo, hi]. Key j is visible to the query at position p iff
// j <= p and (window == 0 or p - j < window), or j lies in the query's bidirectional block, which
// contains p (graph/ir.h AttentionAttrs): the union of two ranges holding p is one range. With
// window_limits_blocks the window bounds the block too: [window start, max(p, block end - 1)].
struct VisibleKeys {
  int64_t p0;
  int window;
  const int32_t* blocks;  // [T, 2] or null
  bool window_limits_blocks;
  std::pair<int64_t, int64_t> operator()(int64_t r) const {
    const int64_t p = p0 + r;
    int64_t lo = window > 0 ? std::max<int64_t>(0, p - window + 1) : 0, hi = p;
    if (blocks && blocks[2 * r] < blocks[2 * r + 1]) {
      if (!window_limits_blocks) lo = std::min<int64_t>(lo, blocks[2 * r]);
      hi = std::max<int64_t>(hi, blocks[2 * r + 1] - 1);
    }
    return {lo, hi};
  }
};

// HF eager attention (spec §1.4, §1.5), one (query, head) at a time:
//   s_j = (q . k_j) * scale; s_j = cap * tanh(s_j / cap) if soft-capped; softmax over the
//   visible keys in float32 (sum in double); out = sum_j p_j v_j.
template <typename S>
void attend_precise(const float* q, const KvRows<S>& kv, int64_t t, const AttentionAttrs& a, const VisibleKeys& vis,
                    float* out, ThreadPool& pool) {
  const int64_t d = a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
  pool.parallel_for(t * a.n_heads, [&](int64_t b, int64_t e) {
    // Per-thread scratch, grown once and reused by every later call (no allocation per step).
    thread_local std::vector<float> scores, acc;
    if (acc.size() < static_cast<size_t>(d)) acc.resize(static_cast<size_t>(d));
    for (int64_t idx = b; idx < e; ++idx) {
      const int64_t r = idx / a.n_heads;
      const int h = static_cast<int>(idx % a.n_heads);
      const int kvh = h / group;
      const auto [lo, hi] = vis(r);
      const float* qh = q + r * a.n_heads * d + h * d;
      scores.resize(static_cast<size_t>(hi - lo + 1));
      float max_s = -INFINITY;
      for (int64_t j = lo; j <= hi; ++j) {
        const auto* kr = kv.row(j, kv.fresh_k, kv.ring_k) + kvh * d;
        float s = S::dot(qh, kr, d) * a.scale;
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
      std::fill(acc.begin(), acc.begin() + d, 0.0f);
      for (int64_t j = lo; j <= hi; ++j) {
        const auto* vr = kv.row(j, kv.fresh_v, kv.ring_v) + kvh * d;
        S::axpy(acc.data(), scores[static_cast<size_t>(j - lo)] * inv, vr, d);
      }
      std::memcpy(out + r * a.n_heads * d + h * d, acc.data(), static_cast<size_t>(d) * sizeof(float));
    }
  });
}

// Prompts (2 or more rows) with a 16-bit cache: tiles of consecutive query rows times the query
// heads of one KV head (about 16 query vectors), which attend_tile_fast runs with each K / V load
// shared by a register tile of vectors. The same results as attend_fast's one-row work items.
template <typename S>
void attend_fast_tiles(const float* q, const KvRows<S>& kv, int64_t t, const AttentionAttrs& a, const VisibleKeys& vis,
                       float* out, ThreadPool& pool) {
  const int64_t d = a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
  const int64_t tile_rows = std::max(1, 16 / group);
  const int64_t n_tiles = (t + tile_rows - 1) / tile_rows;
  pool.parallel_for(n_tiles * a.n_kv_heads, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scores, qbuf;
    thread_local std::vector<const void*> keys, values;
    thread_local std::vector<const float*> qs;
    thread_local std::vector<float*> outs;
    thread_local std::vector<int64_t> los, ns;
    for (int64_t idx = b; idx < e; ++idx) {
      const int64_t r0 = (idx / a.n_kv_heads) * tile_rows, r1 = std::min(t, r0 + tile_rows);
      const int kvh = static_cast<int>(idx % a.n_kv_heads);
      int64_t base = vis(r0).first, last = vis(r0).second;
      for (int64_t r = r0 + 1; r < r1; ++r) {
        base = std::min(base, vis(r).first);
        last = std::max(last, vis(r).second);
      }
      const int64_t span = last + 1 - base;
      const auto count = static_cast<size_t>((r1 - r0) * group);
      keys.resize(static_cast<size_t>(span));
      values.resize(static_cast<size_t>(span));
      for (int64_t j = 0; j < span; ++j) {
        keys[static_cast<size_t>(j)] = kv.row(base + j, kv.fresh_k, kv.ring_k) + kvh * d;
        values[static_cast<size_t>(j)] = kv.row(base + j, kv.fresh_v, kv.ring_v) + kvh * d;
      }
      if (qbuf.size() < count * static_cast<size_t>(d)) qbuf.resize(count * static_cast<size_t>(d));
      if (scores.size() < count * static_cast<size_t>(span)) scores.resize(count * static_cast<size_t>(span));
      qs.clear();
      outs.clear();
      los.clear();
      ns.clear();
      for (int64_t r = r0; r < r1; ++r) {
        const auto [lo, hi] = vis(r);
        for (int g = 0; g < group; ++g) {
          const int h = kvh * group + g;
          const float* qh = q + r * a.n_heads * d + h * d;
          float* qb = qbuf.data() + qs.size() * static_cast<size_t>(d);
          for (int64_t x = 0; x < d; ++x) qb[x] = S::get(S::put(qh[x] * a.scale));
          qs.push_back(qb);
          outs.push_back(out + r * a.n_heads * d + h * d);
          los.push_back(lo);
          ns.push_back(hi - lo + 1);
        }
      }
      attend_tile_fast(FastTile{keys.data(), values.data(), base, span, d, S::kType, a.softcap,
                                static_cast<int>(count), qs.data(), los.data(), ns.data(), outs.data(), scores.data()});
    }
  });
}

// Numerics::Fast: the query is scaled first and rounded to the cache's dtype (llama.cpp scales Q
// as its own op and converts it for the K product), then attention_fast.h does the rest in
// llama.cpp's order; its batched order applies when this run holds 2 or more query rows.
template <typename S>
void attend_fast(const float* q, const KvRows<S>& kv, int64_t t, const AttentionAttrs& a, const VisibleKeys& vis,
                 float* out, ThreadPool& pool) {
  const int64_t d = a.head_dim;
  if (fast_tile_applies(S::kType, d, t >= 2)) {
    attend_fast_tiles<S>(q, kv, t, a, vis, out, pool);
    return;
  }
  const int group = a.n_heads / a.n_kv_heads;
  // One work item = one query row and one KV head, with all the query heads that read it.
  pool.parallel_for(t * a.n_kv_heads, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scores, qbuf, acc;
    thread_local std::vector<const void*> keys, values;
    thread_local std::vector<FastHead> heads;
    for (int64_t idx = b; idx < e; ++idx) {
      const int64_t r = idx / a.n_kv_heads;
      const int kvh = static_cast<int>(idx % a.n_kv_heads);
      const auto [lo, hi] = vis(r);
      const int64_t n = hi - lo + 1;
      if (qbuf.size() < static_cast<size_t>(group * d)) {
        qbuf.resize(static_cast<size_t>(group * d));
        acc.resize(static_cast<size_t>(group * 32 * d));
      }
      if (scores.size() < static_cast<size_t>(group * (n + 16))) scores.resize(static_cast<size_t>(group * (n + 16)));
      keys.resize(static_cast<size_t>(n));
      values.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        keys[static_cast<size_t>(i)] = kv.row(lo + i, kv.fresh_k, kv.ring_k) + kvh * d;
        values[static_cast<size_t>(i)] = kv.row(lo + i, kv.fresh_v, kv.ring_v) + kvh * d;
      }
      heads.clear();
      for (int g = 0; g < group; ++g) {
        const int h = kvh * group + g;
        const float* qh = q + r * a.n_heads * d + h * d;
        float* qb = qbuf.data() + g * d;
        for (int64_t x = 0; x < d; ++x) qb[x] = S::get(S::put(qh[x] * a.scale));
        heads.push_back(FastHead{qb, keys.data(), values.data(), lo, n, d, S::kType, t >= 2, a.softcap,
                                 scores.data() + g * (n + 16), acc.data() + g * 32 * d, out + r * a.n_heads * d + h * d});
      }
      attend_heads_fast(heads.data(), group);
    }
  });
}

// Converts this run's keys and values to the storage type (rounding them as the cache will hold
// them), attends, then appends them to the ring; only the last `cap` rows can matter later.
template <typename S>
void attend_and_append(const float* q, const float* k, const float* v, const int32_t* blocks, int64_t p0, int64_t t,
                       const AttentionAttrs& a, CpuKvCache& kv, Numerics numerics, float* out, ThreadPool& pool) {
  using T = typename S::T;
  const KvSlotLayout& slot = kv.slot(a.kv_slot);
  const int64_t kv_w = slot.row_width();
  const int64_t cap = slot.capacity;
  thread_local std::vector<T> conv_k, conv_v;  // reused across calls
  const T* fk;
  const T* fv;
  if constexpr (std::is_same_v<T, float>) {
    fk = k;
    fv = v;
  } else {
    if (conv_k.size() < static_cast<size_t>(t * kv_w)) {
      conv_k.resize(static_cast<size_t>(t * kv_w));
      conv_v.resize(static_cast<size_t>(t * kv_w));
    }
    for (size_t i = 0; i < static_cast<size_t>(t * kv_w); ++i) {
      conv_k[i] = S::put(k[i]);
      conv_v[i] = S::put(v[i]);
    }
    fk = conv_k.data();
    fv = conv_v.data();
  }
  T* ring_k = reinterpret_cast<T*>(kv.keys(a.kv_slot));
  T* ring_v = reinterpret_cast<T*>(kv.values(a.kv_slot));
  const KvRows<S> rows{fk, fv, ring_k, ring_v, p0, cap, kv_w};
  const VisibleKeys vis{p0, a.window, blocks, a.window_limits_blocks};
  if (numerics == Numerics::Fast) attend_fast<S>(q, rows, t, a, vis, out, pool);
  else attend_precise<S>(q, rows, t, a, vis, out, pool);
  if (!a.append) return;  // another reader of the slot appends these rows (AttentionAttrs::append)
  for (int64_t r = std::max<int64_t>(0, t - cap); r < t; ++r) {
    const int64_t row = (p0 + r) % cap;
    std::memcpy(ring_k + row * kv_w, fk + r * kv_w, static_cast<size_t>(kv_w) * sizeof(T));
    std::memcpy(ring_v + row * kv_w, fv + r * kv_w, static_cast<size_t>(kv_w) * sizeof(T));
  }
}

}  // namespace

void attention(const float* q, const float* k, const float* v, const int32_t* positions, const int32_t* blocks,
               int64_t t, const AttentionAttrs& a, CpuKvCache& kv, Numerics numerics, float* out, ThreadPool& pool) {
  const KvSlotLayout& slot = kv.slot(a.kv_slot);  // first: names a missing slot
  const std::span<const int32_t> pos(positions, static_cast<size_t>(t));
  check_attention_run(a, slot, kv.next_position(a.kv_slot), pos);
  if (blocks) check_attention_blocks(pos, std::span<const int32_t>(blocks, static_cast<size_t>(2 * t)));
  const int64_t p0 = positions[0];

  switch (kv.dtype()) {
    case DType::F32: attend_and_append<F32Kv>(q, k, v, blocks, p0, t, a, kv, numerics, out, pool); break;
    case DType::F16: attend_and_append<F16Kv>(q, k, v, blocks, p0, t, a, kv, numerics, out, pool); break;
    case DType::BF16: attend_and_append<Bf16Kv>(q, k, v, blocks, p0, t, a, kv, numerics, out, pool); break;
    default: fail("attention: KV cache dtype ", dtype_name(kv.dtype()), " is not supported");
  }
  if (a.append) kv.set_next_position(a.kv_slot, p0 + t);
}

}  // namespace gemrt::cpu
