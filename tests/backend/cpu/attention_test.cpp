// CPU attention (spec §1.4, §1.5): sliding-window edges, GQA, soft-capping, KV-cache rings,
// and agreement between one-shot prefill, token-by-token decode and chunked runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/kv_cache.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/graph/builder.h"
#include "test_util.h"

namespace gemrt {
namespace {

// The whole sequence's q [T, H*D], k and v [T, Hkv*D].
struct Seq {
  int64_t t = 0;
  std::vector<float> q, k, v;
};

AttentionAttrs make_attrs(int heads, int kv_heads, int head_dim, float scale, float softcap, int window) {
  AttentionAttrs a;
  a.n_heads = heads;
  a.n_kv_heads = kv_heads;
  a.head_dim = head_dim;
  a.scale = scale;
  a.softcap = softcap;
  a.window = window;
  a.kv_slot = 0;
  return a;
}

KvLayout one_slot(const AttentionAttrs& a, int capacity, DType dtype = DType::F32) {
  KvSlotLayout s;
  s.capacity = capacity;
  s.kv_heads = a.n_kv_heads;
  s.head_dim = a.head_dim;
  s.window = a.window;
  return KvLayout{{s}, dtype};
}

// Bidirectional blocks [begin, end) in positions (graph/ir.h AttentionAttrs).
using Blocks = std::vector<std::pair<int64_t, int64_t>>;

// Runs the sequence through cpu::attention in chunks of the given sizes (summing to seq.t) with
// one KV cache slot of `capacity` rows; returns the outputs of all positions [T, H*D]. A chunk
// must not split a block.
std::vector<float> run_chunks(const Seq& seq, const AttentionAttrs& a, int capacity, const std::vector<int64_t>& chunks,
                              ThreadPool& pool,
                              DType kv_dtype = DType::F32, Numerics numerics = Numerics::Precise,
                              const Blocks& blocks = {}) {
  const int64_t qw = int64_t{a.n_heads} * a.head_dim, kw = int64_t{a.n_kv_heads} * a.head_dim;
  EXPECT_EQ(std::accumulate(chunks.begin(), chunks.end(), int64_t{0}), seq.t);
  cpu::CpuKvCache kv(one_slot(a, capacity, kv_dtype));
  std::vector<float> out(static_cast<size_t>(seq.t * qw), std::numeric_limits<float>::quiet_NaN());
  int64_t p0 = 0;
  for (int64_t c : chunks) {
    std::vector<int32_t> pos(static_cast<size_t>(c));
    std::iota(pos.begin(), pos.end(), static_cast<int32_t>(p0));
    std::vector<int32_t> spans(static_cast<size_t>(2 * c), 0);
    for (const auto& [b, e] : blocks)
      for (int64_t p = std::max(b, p0); p < std::min(e, p0 + c); ++p) {
        spans[static_cast<size_t>(2 * (p - p0))] = static_cast<int32_t>(b);
        spans[static_cast<size_t>(2 * (p - p0) + 1)] = static_cast<int32_t>(e);
      }
    cpu::attention(seq.q.data() + p0 * qw, seq.k.data() + p0 * kw, seq.v.data() + p0 * kw, pos.data(),
                   blocks.empty() ? nullptr : spans.data(), c, a, kv, numerics, out.data() + p0 * qw, pool);
    p0 += c;
    EXPECT_EQ(kv.next_position(0), p0);
  }
  return out;
}

std::vector<int64_t> chunks_of(int64_t t, int64_t size) {
  std::vector<int64_t> c;
  for (int64_t p = 0; p < t; p += size) c.push_back(std::min(size, t - p));
  return c;
}

// Naive double reference of spec §1.4/§1.5 over the whole sequence. `modulo_gqa` maps query
// head h to kv head h % Hkv instead of h / (H / Hkv) (wrong; used to show the test can tell).
// Keys in the query's block are visible too (transformers' blockwise overlay, spec §7.2).
// With a.window_limits_blocks the window bounds the block's keys too (Gemma 3).
std::vector<double> reference(const Seq& seq, const AttentionAttrs& a, bool modulo_gqa = false, const Blocks& blocks = {}) {
  const int64_t d = a.head_dim, qw = int64_t{a.n_heads} * d, kw = int64_t{a.n_kv_heads} * d;
  const int group = a.n_heads / a.n_kv_heads;
  std::vector<double> out(static_cast<size_t>(seq.t * qw), 0.0);
  for (int64_t p = 0; p < seq.t; ++p) {
    for (int h = 0; h < a.n_heads; ++h) {
      const int kvh = modulo_gqa ? h % a.n_kv_heads : h / group;
      std::vector<double> s(static_cast<size_t>(seq.t));
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < seq.t; ++j) {
        double dotp = 0.0;
        for (int64_t x = 0; x < d; ++x)
          dotp += static_cast<double>(seq.q[static_cast<size_t>(p * qw + h * d + x)]) *
                  static_cast<double>(seq.k[static_cast<size_t>(j * kw + kvh * d + x)]);
        double sc = dotp * static_cast<double>(a.scale);
        if (a.softcap > 0.0f) sc = static_cast<double>(a.softcap) * std::tanh(sc / static_cast<double>(a.softcap));
        const bool in_window = a.window == 0 || p - j < a.window;
        bool in_block = false;
        for (const auto& [b, e] : blocks) in_block = in_block || (b <= p && p < e && b <= j && j < e);
        const bool visible = a.window_limits_blocks ? (j <= p || in_block) && in_window : (j <= p && in_window) || in_block;
        s[static_cast<size_t>(j)] = visible ? sc : -std::numeric_limits<double>::infinity();
        mx = std::max(mx, s[static_cast<size_t>(j)]);
      }
      double denom = 0.0;
      for (double& e : s) denom += (e = std::exp(e - mx));
      for (int64_t j = 0; j < seq.t; ++j) {
        const double pj = s[static_cast<size_t>(j)] / denom;
        for (int64_t x = 0; x < d; ++x)
          out[static_cast<size_t>(p * qw + h * d + x)] += pj * static_cast<double>(seq.v[static_cast<size_t>(j * kw + kvh * d + x)]);
      }
    }
  }
  return out;
}

std::vector<float> to_float(const std::vector<double>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i]);
  return f;
}

void expect_matches(const std::vector<float>& got, const std::vector<double>& ref, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double max_ref = 0.0;
  for (double r : ref) max_ref = std::max(max_ref, std::fabs(r));
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << what << ": element " << i << " not written";
    ASSERT_NEAR(static_cast<double>(got[i]), ref[i], 1e-5 * max_ref) << what << ": element " << i;
  }
  EXPECT_LT(test::relative_error(got, to_float(ref)), 1e-5) << what;
}

std::vector<float> random_vec(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// ---------------------------------------------------------------------------------------------
// (1) The sliding-window edge, exactly: q = 0 gives uniform weights over the visible keys, and
// v rows one-hot by position show which keys those were.

TEST(CpuAttention, SlidingWindowSeesExactlyTheLastWPositions) {
  ThreadPool pool(3);
  constexpr int kD = 16;
  constexpr int64_t kT = 14;
  std::mt19937 rng(5);
  Seq seq;
  seq.t = kT;
  seq.q.assign(static_cast<size_t>(kT * kD), 0.0f);
  seq.k = random_vec(static_cast<size_t>(kT * kD), rng, -3.0f, 3.0f);  // irrelevant when q = 0
  seq.v.assign(static_cast<size_t>(kT * kD), 0.0f);
  for (int64_t p = 0; p < kT; ++p) seq.v[static_cast<size_t>(p * kD + p)] = 1.0f;

  for (int w : {1, 2, 5, 0}) {
    const AttentionAttrs a = make_attrs(1, 1, kD, 0.125f, 0.0f, w);
    const int ring = w == 0 ? static_cast<int>(kT) : w;
    struct Mode {
      std::string name;
      int capacity;
      std::vector<int64_t> chunks;
    };
    std::vector<int64_t> prefill_then_decode{7};
    for (int i = 0; i < 7; ++i) prefill_then_decode.push_back(1);
    const std::vector<Mode> modes{
        {"prefill", ring, {kT}},
        {"decode", ring, chunks_of(kT, 1)},
        {"chunks of 3", ring, chunks_of(kT, 3)},
        {"prefill 7 + decode", ring, prefill_then_decode},
        {"decode, larger ring", ring + 3, chunks_of(kT, 1)},
    };
    for (const Mode& m : modes) {
      const std::string what = "window " + std::to_string(w) + ", " + m.name;
      const std::vector<float> out = run_chunks(seq, a, m.capacity, m.chunks, pool);
      for (int64_t q = 0; q < kT; ++q) {
        // Key k is visible from query q iff k <= q and q - k < w.
        const int64_t count = w == 0 ? q + 1 : std::min<int64_t>(q + 1, w);
        for (int64_t k = 0; k < kD; ++k) {
          const bool visible = k <= q && (w == 0 || q - k < w);
          const double want = visible ? 1.0 / static_cast<double>(count) : 0.0;
          ASSERT_NEAR(static_cast<double>(out[static_cast<size_t>(q * kD + k)]), want, 1e-6)
              << what << ": query " << q << ", key " << k;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (2) Random q/k/v with GQA, scale and soft-cap against the naive reference, in every run shape.

TEST(CpuAttention, GqaSoftcapMatchesReferenceForPrefillDecodeAndChunks) {
  ThreadPool pool(4);
  constexpr int kH = 8, kHkv = 2, kD = 16;
  constexpr int64_t kT = 13;
  std::mt19937 rng(77);
  Seq seq;
  seq.t = kT;
  seq.q = random_vec(static_cast<size_t>(kT * kH * kD), rng, -2.0f, 2.0f);
  seq.k = random_vec(static_cast<size_t>(kT * kHkv * kD), rng, -2.0f, 2.0f);
  seq.v = random_vec(static_cast<size_t>(kT * kHkv * kD), rng, -1.0f, 1.0f);

  for (float softcap : {0.0f, 1.5f}) {
    for (int w : {0, 4}) {
      const AttentionAttrs a = make_attrs(kH, kHkv, kD, 0.25f, softcap, w);
      const int ring = w == 0 ? static_cast<int>(kT) : w;
      const std::string cfg = "softcap " + std::to_string(softcap) + ", window " + std::to_string(w);
      const std::vector<double> ref = reference(seq, a);

      // The data tell the GQA mappings apart (query head h reads kv head h / 4, not h % 2).
      const std::vector<double> wrong = reference(seq, a, /*modulo_gqa=*/true);
      double diff = 0.0;
      for (size_t i = 0; i < ref.size(); ++i) diff = std::max(diff, std::fabs(ref[i] - wrong[i]));
      EXPECT_GT(diff, 1e-2) << cfg;

      const std::vector<float> prefill = run_chunks(seq, a, ring, {kT}, pool);
      const std::vector<float> decode = run_chunks(seq, a, ring, chunks_of(kT, 1), pool);
      const std::vector<float> chunked = run_chunks(seq, a, ring, chunks_of(kT, 3), pool);
      const std::vector<float> uneven = run_chunks(seq, a, ring, {5, 1, 2, 4, 1}, pool);
      expect_matches(prefill, ref, cfg + ", prefill");
      expect_matches(decode, ref, cfg + ", token by token");
      expect_matches(chunked, ref, cfg + ", chunks of 3");
      expect_matches(uneven, ref, cfg + ", uneven chunks");
      // The run shapes agree with each other.
      EXPECT_LT(test::relative_error(decode, prefill), 1e-5) << cfg;
      EXPECT_LT(test::relative_error(chunked, prefill), 1e-5) << cfg;
    }
  }
  // Soft-capping changes the result (the capped configurations above are not trivially equal).
  const std::vector<double> plain = reference(seq, make_attrs(kH, kHkv, kD, 0.25f, 0.0f, 0));
  const std::vector<double> capped = reference(seq, make_attrs(kH, kHkv, kD, 0.25f, 1.5f, 0));
  double diff = 0.0;
  for (size_t i = 0; i < plain.size(); ++i) diff = std::max(diff, std::fabs(plain[i] - capped[i]));
  EXPECT_GT(diff, 1e-2);
}

// 16-bit KV caches: keys and values are stored rounded, the fresh rows of a run are rounded the
// same way before use, so (a) precise numerics equal the double reference on rounded K/V, (b) fast
// numerics (query and probabilities also rounded) stay within the 16-bit rounding of it, and
// (c) precise numerics give bit-identical outputs for every split of the sequence into runs; fast
// numerics do for every split into runs of 2 or more rows (llama.cpp's batched order depends on
// positions only), while one-row runs take its single-row order: equal up to float32 rounding.
TEST(CpuAttention, SixteenBitCacheRoundsLikeItsStorageForEverySplit) {
  ThreadPool pool(3);
  constexpr int kH = 4, kHkv = 2, kD = 16;
  constexpr int64_t kT = 11;
  std::mt19937 rng(91);
  Seq seq;
  seq.t = kT;
  seq.q = random_vec(static_cast<size_t>(kT * kH * kD), rng, -2.0f, 2.0f);
  seq.k = random_vec(static_cast<size_t>(kT * kHkv * kD), rng, -2.0f, 2.0f);
  seq.v = random_vec(static_cast<size_t>(kT * kHkv * kD), rng, -1.0f, 1.0f);
  for (DType dt : {DType::F16, DType::BF16}) {
    const bool bf = dt == DType::BF16;
    const auto round = [bf](float f) { return bf ? bf16_to_f32(f32_to_bf16(f)) : f16_to_f32(f32_to_f16(f)); };
    Seq rounded = seq;
    for (float& f : rounded.k) f = round(f);
    for (float& f : rounded.v) f = round(f);
    const double unit = bf ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);  // relative rounding of the type
    for (int w : {0, 4}) {
      const AttentionAttrs a = make_attrs(kH, kHkv, kD, 0.25f, 0.0f, w);
      const int ring = w == 0 ? static_cast<int>(kT) : w;
      const std::string cfg = std::string(dtype_name(dt)) + ", window " + std::to_string(w);
      const std::vector<double> ref = reference(rounded, a);
      // (a) Precise numerics: exact math on the stored K/V.
      expect_matches(run_chunks(seq, a, ring, {kT}, pool, dt), ref, cfg + ", precise");
      // The rounding is visible: against unrounded K/V the output moves by more than float noise.
      EXPECT_GT(test::relative_error(run_chunks(seq, a, ring, {kT}, pool, dt), to_float(reference(seq, a))), 1e-5)
          << cfg;
      // (b) Fast numerics: within a few units of the type's rounding.
      const std::vector<float> fast = run_chunks(seq, a, ring, {kT}, pool, dt, Numerics::Fast);
      double max_ref = 0.0;
      for (double r : ref) max_ref = std::max(max_ref, std::fabs(r));
      for (size_t i = 0; i < fast.size(); ++i)
        ASSERT_NEAR(static_cast<double>(fast[i]), ref[i], 8.0 * unit * max_ref) << cfg << ": element " << i;
      // (c) Splits of the sequence.
      for (const auto& chunks : {chunks_of(kT, 1), chunks_of(kT, 3), std::vector<int64_t>{5, 1, 2, 3}})
        EXPECT_EQ(run_chunks(seq, a, ring, chunks, pool, dt), run_chunks(seq, a, ring, {kT}, pool, dt)) << cfg;
      for (const auto& chunks : {chunks_of(kT, 3), std::vector<int64_t>{5, 2, 4}, std::vector<int64_t>{2, 9}})
        EXPECT_EQ(run_chunks(seq, a, ring, chunks, pool, dt, Numerics::Fast), fast) << cfg;
      const std::vector<float> single = run_chunks(seq, a, ring, chunks_of(kT, 1), pool, dt, Numerics::Fast);
      // The orders differ in float32 sums of the scores and outputs, which can move a probability's
      // 16-bit rounding by one step: at most `unit` of a probability, times |v| <= 1, in total.
      for (size_t i = 0; i < fast.size(); ++i) ASSERT_NEAR(single[i], fast[i], 2.0 * unit) << cfg << ": element " << i;
    }
  }
}

// Bidirectional blocks (spec §7.2): a query inside a block also sees the block's later keys and,
// past a sliding window shorter than the block, its earlier ones; queries outside stay causal.
TEST(CpuAttention, BidirectionalBlocksWidenTheVisibleKeys) {
  ThreadPool pool(2);
  constexpr int kH = 4, kHkv = 2, kD = 16;
  constexpr int64_t kT = 20;
  std::mt19937 rng(17);
  Seq seq;
  seq.t = kT;
  seq.q = random_vec(static_cast<size_t>(kT * kH * kD), rng, -2.0f, 2.0f);
  seq.k = random_vec(static_cast<size_t>(kT * kHkv * kD), rng, -2.0f, 2.0f);
  seq.v = random_vec(static_cast<size_t>(kT * kHkv * kD), rng, -1.0f, 1.0f);
  const Blocks blocks{{3, 10}, {14, 17}};
  for (const bool limits : {false, true})
  for (int w : {0, 4}) {
    AttentionAttrs a = make_attrs(kH, kHkv, kD, 0.25f, 0.0f, w);
    a.window_limits_blocks = limits;
    const int ring = w == 0 ? static_cast<int>(kT) : w;
    const std::string cfg = "window " + std::to_string(w) + (limits ? ", limiting blocks" : "");
    const std::vector<double> ref = reference(seq, a, false, blocks);
    EXPECT_GT(test::relative_error(to_float(ref), to_float(reference(seq, a))), 1e-2) << cfg << ": blocks change nothing";
    for (const auto& chunks : {std::vector<int64_t>{kT}, std::vector<int64_t>{3, 7, 4, 6}, std::vector<int64_t>{1, 1, 1, 7, 2, 2, 3, 3}})
      expect_matches(run_chunks(seq, a, ring, chunks, pool, DType::F32, Numerics::Precise, blocks), ref, cfg);
    // Fast numerics over a 16-bit cache (tiled and one-row paths): within a few units of f16.
    for (const auto& chunks : {std::vector<int64_t>{kT}, std::vector<int64_t>{3, 7, 4, 6}}) {
      const std::vector<float> fast = run_chunks(seq, a, ring, chunks, pool, DType::F16, Numerics::Fast, blocks);
      EXPECT_LT(test::relative_error(fast, to_float(ref)), 8.0 * std::ldexp(1.0, -11)) << cfg << ", fast";
    }
  }
}

TEST(CpuAttention, BlocksMustHoldTheirQueryAndStayInTheRun) {
  ThreadPool pool(1);
  const AttentionAttrs a = make_attrs(2, 1, 4, 1.0f, 0.0f, 0);
  std::vector<float> q(4 * 8, 0.1f), k(4 * 4, 0.2f), v(4 * 4, 0.3f), out(4 * 8);
  const std::vector<int32_t> pos{0, 1, 2, 3};
  for (const std::vector<int32_t>& spans : {std::vector<int32_t>{0, 0, 2, 4, 2, 4, 2, 4},    // row 1 outside its block
                                            std::vector<int32_t>{0, 0, 0, 0, 2, 5, 2, 5}}) {  // past the run
    cpu::CpuKvCache kv(one_slot(a, 4));
    EXPECT_THROW(cpu::attention(q.data(), k.data(), v.data(), pos.data(), spans.data(), 4, a, kv, Numerics::Precise,
                                out.data(), pool),
                 Error);
  }
}

TEST(CpuAttention, KvCacheSizeFollowsItsDtype) {
  const AttentionAttrs a = make_attrs(4, 2, 16, 1.0f, 0.0f, 0);
  EXPECT_EQ(cpu::CpuKvCache(one_slot(a, 10, DType::F32)).bytes(), 10 * 32 * 4 * 2);
  EXPECT_EQ(cpu::CpuKvCache(one_slot(a, 10, DType::F16)).bytes(), 10 * 32 * 2 * 2);
  EXPECT_EQ(cpu::CpuKvCache(one_slot(a, 10, DType::BF16)).bytes(), 10 * 32 * 2 * 2);
  EXPECT_THROW(cpu::CpuKvCache(one_slot(a, 10, DType::Q8_0)), Error);
}

// The same op through the public backend: GraphBuilder graph, compiled, with a backend KV cache,
// a 6-token prefill followed by single-token decode steps.
TEST(CpuAttention, ThroughCpuBackendGraph) {
  constexpr int kH = 4, kHkv = 2, kD = 8, kV = 10;
  std::mt19937 rng(99);
  const std::vector<float> qt = random_vec(kV * kH * kD, rng, -2.0f, 2.0f);
  const std::vector<float> kt = random_vec(kV * kHkv * kD, rng, -2.0f, 2.0f);
  const std::vector<float> vt = random_vec(kV * kHkv * kD, rng, -1.0f, 1.0f);
  const HostTensor q_table = HostTensor::from<float>("q_table", Shape{kV, kH * kD}, DType::F32, qt);
  const HostTensor k_table = HostTensor::from<float>("k_table", Shape{kV, kHkv * kD}, DType::F32, kt);
  const HostTensor v_table = HostTensor::from<float>("v_table", Shape{kV, kHkv * kD}, DType::F32, vt);
  const AttentionAttrs a = make_attrs(kH, kHkv, kD, 0.3f, 2.0f, 3);

  auto build = [&](int64_t t) {
    Graph g;
    GraphBuilder b(g);
    const ValueId ids = b.input("token_ids", Shape{t});
    const ValueId pos = b.input("positions", Shape{t});
    const ValueId q = b.embed(b.weight(q_table.view()), ids, 1.0f);
    const ValueId k = b.embed(b.weight(k_table.view()), ids, 1.0f);
    const ValueId v = b.embed(b.weight(v_table.view()), ids, 1.0f);
    b.output("attn", b.attention(q, k, v, pos, a));
    return g;
  };
  cpu::CpuBackend be(2);
  auto prefill = be.compile(build(6));
  auto step = be.compile(build(1));
  auto kv = be.allocate_kv(one_slot(a, 3));

  const std::vector<int32_t> tokens{3, 1, 4, 1, 5, 9, 2, 6, 5};
  Seq seq;
  seq.t = static_cast<int64_t>(tokens.size());
  for (int32_t id : tokens) {
    const auto u = static_cast<size_t>(id);
    seq.q.insert(seq.q.end(), qt.begin() + static_cast<long>(u * kH * kD), qt.begin() + static_cast<long>((u + 1) * kH * kD));
    seq.k.insert(seq.k.end(), kt.begin() + static_cast<long>(u * kHkv * kD), kt.begin() + static_cast<long>((u + 1) * kHkv * kD));
    seq.v.insert(seq.v.end(), vt.begin() + static_cast<long>(u * kHkv * kD), vt.begin() + static_cast<long>((u + 1) * kHkv * kD));
  }
  const std::vector<double> ref = reference(seq, a);

  std::vector<float> got;
  RunOutputs outs;
  const std::vector<int32_t> pos6{0, 1, 2, 3, 4, 5};
  prefill->run({{"token_ids", std::span<const int32_t>(tokens.data(), 6)}, {"positions", pos6}}, kv.get(), &outs);
  got = outs["attn"];
  for (size_t p = 6; p < tokens.size(); ++p) {
    const std::vector<int32_t> pos1{static_cast<int32_t>(p)};
    step->run({{"token_ids", std::span<const int32_t>(tokens.data() + p, 1)}, {"positions", pos1}}, kv.get(), &outs);
    got.insert(got.end(), outs["attn"].begin(), outs["attn"].end());
  }
  EXPECT_EQ(kv->next_position(0), seq.t);
  expect_matches(got, ref, "backend");

  // reset() starts a new sequence in the same storage.
  kv->reset();
  EXPECT_EQ(kv->next_position(0), 0);
  prefill->run({{"token_ids", std::span<const int32_t>(tokens.data(), 6)}, {"positions", pos6}}, kv.get(), &outs);
  expect_matches(outs["attn"], std::vector<double>(ref.begin(), ref.begin() + 6 * kH * kD), "after reset");
}

// ---------------------------------------------------------------------------------------------
// (3) Errors

// Runs positions [from, from + n) (or the explicit list) of a [16]-token random sequence.
struct ErrorFixture {
  static constexpr int kH = 2, kHkv = 1, kD = 4;
  ThreadPool pool{2};
  std::vector<float> q, k, v, out;
  ErrorFixture() {
    std::mt19937 rng(3);
    q = random_vec(16 * kH * kD, rng, -1.0f, 1.0f);
    k = random_vec(16 * kHkv * kD, rng, -1.0f, 1.0f);
    v = random_vec(16 * kHkv * kD, rng, -1.0f, 1.0f);
    out.resize(q.size());
  }
  void run(const std::vector<int32_t>& pos, const AttentionAttrs& a, cpu::CpuKvCache& kv) {
    cpu::attention(q.data(), k.data(), v.data(), pos.data(), nullptr, static_cast<int64_t>(pos.size()), a, kv,
                   Numerics::Precise, out.data(), pool);
  }
};

template <typename Fn>
void expect_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected gemrt::Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CpuAttention, PositionsMustContinueTheCache) {
  ErrorFixture f;
  const AttentionAttrs a = make_attrs(ErrorFixture::kH, ErrorFixture::kHkv, ErrorFixture::kD, 0.5f, 0.0f, 0);
  cpu::CpuKvCache kv(one_slot(a, 16));
  expect_error([&] { f.run({1, 2}, a, kv); }, "position");  // a fresh cache starts at 0
  EXPECT_EQ(kv.next_position(0), 0);
  f.run({0, 1, 2}, a, kv);
  EXPECT_EQ(kv.next_position(0), 3);
  expect_error([&] { f.run({2, 3}, a, kv); }, "continues at 3");  // repeats a position
  expect_error([&] { f.run({4}, a, kv); }, "continues at 3");     // skips a position
  EXPECT_EQ(kv.next_position(0), 3);  // failed runs leave the cache alone
  f.run({3}, a, kv);
  EXPECT_EQ(kv.next_position(0), 4);
}

TEST(CpuAttention, PositionsMustBeConsecutive) {
  ErrorFixture f;
  const AttentionAttrs a = make_attrs(ErrorFixture::kH, ErrorFixture::kHkv, ErrorFixture::kD, 0.5f, 0.0f, 0);
  cpu::CpuKvCache kv(one_slot(a, 16));
  expect_error([&] { f.run({0, 1, 3}, a, kv); }, "consecutive");
  expect_error([&] { f.run({0, 0}, a, kv); }, "consecutive");
  expect_error([&] { f.run({0, 2, 1}, a, kv); }, "consecutive");
  EXPECT_EQ(kv.next_position(0), 0);
}

TEST(CpuAttention, FullSlotBudgetIsEnforced) {
  ErrorFixture f;
  const AttentionAttrs a = make_attrs(ErrorFixture::kH, ErrorFixture::kHkv, ErrorFixture::kD, 0.5f, 0.0f, 0);
  {
    cpu::CpuKvCache kv(one_slot(a, 4));
    expect_error([&] { f.run({0, 1, 2, 3, 4}, a, kv); }, "budget");  // one run larger than the budget
    EXPECT_EQ(kv.next_position(0), 0);
  }
  cpu::CpuKvCache kv(one_slot(a, 4));
  f.run({0, 1, 2}, a, kv);
  expect_error([&] { f.run({3, 4}, a, kv); }, "budget");
  EXPECT_EQ(kv.next_position(0), 3);
  f.run({3}, a, kv);  // exactly fills it
  expect_error([&] { f.run({4}, a, kv); }, "budget");
  EXPECT_EQ(kv.next_position(0), 4);
}

TEST(CpuAttention, SlidingRingSmallerThanWindowIsAnError) {
  ErrorFixture f;
  // A window of 4 over a ring of 2 rows: once keys that the window needs have been overwritten,
  // a run must fail rather than read wrong keys.
  const AttentionAttrs a = make_attrs(ErrorFixture::kH, ErrorFixture::kHkv, ErrorFixture::kD, 0.5f, 0.0f, 4);
  cpu::CpuKvCache kv(one_slot(a, 2));
  f.run({0, 1, 2, 3, 4, 5}, a, kv);  // a single prefill reads only its own keys
  expect_error([&] { f.run({6}, a, kv); }, "budget");
  // A ring as large as the window never runs out.
  cpu::CpuKvCache ok(one_slot(a, 4));
  for (int32_t p = 0; p < 16; ++p) f.run({p}, a, ok);
  EXPECT_EQ(ok.next_position(0), 16);
}

TEST(CpuAttention, SlotShapeMustMatchTheOp) {
  ErrorFixture f;
  const AttentionAttrs a = make_attrs(ErrorFixture::kH, ErrorFixture::kHkv, ErrorFixture::kD, 0.5f, 0.0f, 0);
  AttentionAttrs other = a;
  other.head_dim = 8;
  other.n_kv_heads = 2;
  cpu::CpuKvCache kv(one_slot(other, 8));
  expect_error([&] { f.run({0}, a, kv); }, "slot 0");
  AttentionAttrs missing = a;
  missing.kv_slot = 3;
  cpu::CpuKvCache kv2(one_slot(a, 8));
  expect_error([&] { f.run({0}, missing, kv2); }, "slot 3");
}

}  // namespace
}  // namespace gemrt
