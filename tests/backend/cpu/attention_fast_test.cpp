// attend_head_fast (attention_fast.h): llama.cpp's order of the attention sums. Checked against a
// reference written here from the header's description, step by step in plain scalar code (bit
// for bit), against exact math (closeness), and portable build against AVX2 build (bit for bit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gemrt/backend/cpu/attention_fast.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::cpu {
namespace {

struct Case {
  DType kv;
  int64_t lo, n, d;
  bool batched;
  float softcap;
  std::vector<float> q;                     // rounded to the cache type
  std::vector<uint16_t> k16, v16;           // n rows of d (F16 / BF16)
  std::vector<float> k32, v32;              // n rows of d (F32)
  std::vector<const void*> krows, vrows;
};

float round_to(DType t, float f) {
  if (t == DType::F16) return f16_to_f32(f32_to_f16(f));
  if (t == DType::BF16) return bf16_to_f32(f32_to_bf16(f));
  return f;
}
float value_of(DType t, uint16_t h) { return t == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h); }

Case make_case(DType kv, int64_t lo, int64_t n, int64_t d, bool batched, float softcap, uint32_t seed) {
  Case c{kv, lo, n, d, batched, softcap, {}, {}, {}, {}, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  for (int64_t i = 0; i < d; ++i) c.q.push_back(round_to(kv, u(rng)));
  for (int64_t i = 0; i < n * d; ++i) {
    const float kf = u(rng), vf = u(rng);
    if (kv == DType::F32) {
      c.k32.push_back(kf);
      c.v32.push_back(vf);
    } else {
      c.k16.push_back(kv == DType::F16 ? f32_to_f16(kf) : f32_to_bf16(kf));
      c.v16.push_back(kv == DType::F16 ? f32_to_f16(vf) : f32_to_bf16(vf));
    }
  }
  for (int64_t j = 0; j < n; ++j) {
    if (kv == DType::F32) {
      c.krows.push_back(c.k32.data() + j * d);
      c.vrows.push_back(c.v32.data() + j * d);
    } else {
      c.krows.push_back(c.k16.data() + j * d);
      c.vrows.push_back(c.v16.data() + j * d);
    }
  }
  return c;
}

float kval(const Case& c, int64_t j, int64_t x) {
  return c.kv == DType::F32 ? c.k32[static_cast<size_t>(j * c.d + x)] : value_of(c.kv, c.k16[static_cast<size_t>(j * c.d + x)]);
}
float vval(const Case& c, int64_t j, int64_t x) {
  return c.kv == DType::F32 ? c.v32[static_cast<size_t>(j * c.d + x)] : value_of(c.kv, c.v16[static_cast<size_t>(j * c.d + x)]);
}

// The two sums of the header, over 8-lane (or 4 x 8-lane) float accumulators indexed as described.
float batched_sum(const std::vector<float>& lane8) {
  const float t0 = lane8[0] + lane8[4], t1 = lane8[1] + lane8[5], t2 = lane8[2] + lane8[6], t3 = lane8[3] + lane8[7];
  return (t0 + t2) + (t1 + t3);
}
double single_sum(const std::vector<float>& acc32) {  // acc32[8 * k + L]: accumulator k, lane L
  float s[8];
  for (int l = 0; l < 8; ++l) s[l] = (acc32[static_cast<size_t>(l)] + acc32[static_cast<size_t>(16 + l)]) +
                                     (acc32[static_cast<size_t>(8 + l)] + acc32[static_cast<size_t>(24 + l)]);
  const float t0 = s[0] + s[4], t1 = s[1] + s[5], t2 = s[2] + s[6], t3 = s[3] + s[7];
  return static_cast<double>((t0 + t1) + (t2 + t3));
}

std::vector<float> reference(const Case& c) {
  const int64_t d = c.d, n = c.n;
  std::vector<float> s(static_cast<size_t>(n));
  const bool batched_scores = c.batched && c.kv != DType::F32 && d % 8 == 0;
  const bool batched_out = c.batched && d % 4 == 0;
  for (int64_t j = 0; j < n; ++j) {
    float v;
    if (batched_scores) {
      std::vector<float> lane(8, 0.0f);
      for (int64_t x = 0; x < d; ++x) lane[static_cast<size_t>(x % 8)] = std::fma(c.q[static_cast<size_t>(x)], kval(c, j, x), lane[static_cast<size_t>(x % 8)]);
      v = batched_sum(lane);
    } else {
      std::vector<float> acc(32, 0.0f);
      const int64_t whole = d - d % 32;
      for (int64_t x = 0; x < whole; ++x)
        acc[static_cast<size_t>(x % 32)] = std::fma(c.q[static_cast<size_t>(x)], kval(c, j, x), acc[static_cast<size_t>(x % 32)]);
      double sum = single_sum(acc);
      for (int64_t x = whole; x < d; ++x) sum += static_cast<double>(c.q[static_cast<size_t>(x)] * kval(c, j, x));
      v = static_cast<float>(sum);
    }
    if (c.softcap > 0.0f) v = std::tanh(v * (1.0f / c.softcap)) * c.softcap;
    s[static_cast<size_t>(j)] = v;
  }
  float mx = -INFINITY;
  for (float v : s) mx = std::max(mx, v);
  std::vector<float> e(static_cast<size_t>(n));
  double total = 0.0;
  for (int64_t chunk = c.lo / 8; chunk <= (c.lo + n - 1) / 8; ++chunk) {
    std::vector<float> lane(8, 0.0f);
    for (int l = 0; l < 8; ++l) {
      const int64_t j = 8 * chunk + l - c.lo;
      if (j >= 0 && j < n) lane[static_cast<size_t>(l)] = e[static_cast<size_t>(j)] = expf_approx(s[static_cast<size_t>(j)] - mx);
    }
    total += static_cast<double>(batched_sum(lane));
  }
  const auto inv = static_cast<float>(1.0 / total);
  for (float& p : e) p = round_to(c.kv, p * inv);
  std::vector<float> out(static_cast<size_t>(d));
  const int lanes = batched_out ? 8 : 32;
  for (int64_t x = 0; x < d; ++x) {
    std::vector<float> acc(32, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      float& a = acc[static_cast<size_t>((c.lo + j) % lanes)];
      a = std::fma(e[static_cast<size_t>(j)], vval(c, j, x), a);
    }
    out[static_cast<size_t>(x)] = batched_out ? batched_sum(acc) : static_cast<float>(single_sum(acc));
  }
  return out;
}

std::vector<float> run(const Case& c, void (*fn)(const FastHead*, int)) {
  std::vector<float> scores(static_cast<size_t>(c.n + 16)), acc(static_cast<size_t>(32 * c.d)), out(static_cast<size_t>(c.d));
  const FastHead h{c.q.data(), c.krows.data(), c.vrows.data(), c.lo, c.n, c.d, c.kv, c.batched, c.softcap, scores.data(),
                   acc.data(), out.data()};
  fn(&h, 1);
  return out;
}

// Exact softmax attention in double on the same (rounded) inputs.
std::vector<double> exact(const Case& c) {
  std::vector<double> s(static_cast<size_t>(c.n));
  double mx = -INFINITY;
  for (int64_t j = 0; j < c.n; ++j) {
    double v = 0.0;
    for (int64_t x = 0; x < c.d; ++x) v += static_cast<double>(c.q[static_cast<size_t>(x)]) * static_cast<double>(kval(c, j, x));
    if (c.softcap > 0.0f) v = std::tanh(v / static_cast<double>(c.softcap)) * static_cast<double>(c.softcap);
    s[static_cast<size_t>(j)] = v;
    mx = std::max(mx, v);
  }
  double total = 0.0;
  for (double& v : s) total += (v = std::exp(v - mx));
  std::vector<double> out(static_cast<size_t>(c.d), 0.0);
  for (int64_t j = 0; j < c.n; ++j)
    for (int64_t x = 0; x < c.d; ++x) out[static_cast<size_t>(x)] += s[static_cast<size_t>(j)] / total * static_cast<double>(vval(c, j, x));
  return out;
}

struct Shape3 {
  int64_t lo, n, d;
};
constexpr Shape3 kShapes[] = {{0, 1, 16}, {0, 4, 16}, {3, 5, 40}, {0, 37, 64}, {6, 33, 20}, {2, 9, 6}, {70, 19, 256}};

TEST(CpuAttentionFast, FollowsTheDocumentedOrderBitForBit) {
  uint32_t seed = 1;
  for (DType kv : {DType::F16, DType::BF16, DType::F32}) {
    for (bool batched : {false, true}) {
      for (const Shape3& sh : kShapes) {
        for (float cap : {0.0f, 2.0f}) {
          const Case c = make_case(kv, sh.lo, sh.n, sh.d, batched, cap, seed++);
          SCOPED_TRACE(testing::Message() << dtype_name(kv) << (batched ? " batched" : " single") << " lo=" << sh.lo
                                          << " n=" << sh.n << " d=" << sh.d << " cap=" << cap);
          const std::vector<float> got = run(c, attend_heads_fast), want = reference(c);
          for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "output " << i;
          // and it is attention: close to the exact result (16-bit probabilities: 2^-8 of |v| <= 1.5)
          const std::vector<double> ex = exact(c);
          const double tol = kv == DType::BF16 ? 1.5 * std::ldexp(1.0, -8) : kv == DType::F16 ? 1.5 * std::ldexp(1.0, -11) : 1e-5;
          for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(static_cast<double>(got[i]), ex[i], 4.0 * tol) << "output " << i;
        }
      }
    }
  }
}

TEST(CpuAttentionFast, PortableAndAvx2BuildsAgreeBitForBit) {
  if (!quant::dot_isa_available(quant::DotIsa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
  uint32_t seed = 500;
  for (DType kv : {DType::F16, DType::BF16, DType::F32})
    for (bool batched : {false, true})
      for (const Shape3& sh : kShapes) {
        const Case c = make_case(kv, sh.lo, sh.n, sh.d, batched, 0.0f, seed++);
        EXPECT_EQ(run(c, detail::attend_heads_fast_portable), run(c, detail::attend_heads_fast_avx2))
            << dtype_name(kv) << " n=" << sh.n;
      }
}

// Heads that share K/V (one KV head's query heads) get exactly what each gets alone.
TEST(CpuAttentionFast, HeadGroupsEqualSingleHeads) {
  for (bool batched : {false, true}) {
    for (int g : {2, 4, 9}) {
      const Case base = make_case(DType::F16, 5, 23, 64, batched, 0.0f, 77);
      std::vector<Case> qs;
      for (int i = 0; i < g; ++i) qs.push_back(make_case(DType::F16, 5, 23, 64, batched, 0.0f, 100 + static_cast<uint32_t>(i)));
      std::vector<std::vector<float>> scores(static_cast<size_t>(g), std::vector<float>(23 + 16)),
          acc(static_cast<size_t>(g), std::vector<float>(32 * 64)), out(static_cast<size_t>(g), std::vector<float>(64));
      std::vector<FastHead> heads;
      for (int i = 0; i < g; ++i)
        heads.push_back(FastHead{qs[static_cast<size_t>(i)].q.data(), base.krows.data(), base.vrows.data(), 5, 23, 64,
                                 DType::F16, batched, 0.0f, scores[static_cast<size_t>(i)].data(),
                                 acc[static_cast<size_t>(i)].data(), out[static_cast<size_t>(i)].data()});
      attend_heads_fast(heads.data(), g);
      for (int i = 0; i < g; ++i) {
        Case one = base;
        one.q = qs[static_cast<size_t>(i)].q;
        EXPECT_EQ(out[static_cast<size_t>(i)], run(one, attend_heads_fast)) << "group " << g << " head " << i;
      }
    }
  }
}

// attend_tile_fast: consecutive query rows (windowed or not) times a head group, every vector
// bit for bit what attend_heads_fast gives it alone over its own visible range, in both builds.
// The value row of the tile's last position holds an infinity: only the last row sees it, so it
// must not leak into the others (the tile skips keys a vector does not see, never multiplies
// them by 0).
TEST(CpuAttentionFast, TilesOfRowsEqualEachVectorAlone) {
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  const auto same_bits = [](const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
  };
  int cases = 0;
  for (DType kv : {DType::F16, DType::BF16})
    for (int64_t d : {8, 24, 64, 256})
      for (int rows : {1, 2, 3, 5})
        for (int group : {1, 2, 4, 9})
          for (int64_t window : {0, 3, 11})
            for (float cap : {0.0f, 2.0f}) {
              const int64_t p0 = 3 + (cases % 17);  // the first row's position
              const int64_t base = window > 0 ? std::max<int64_t>(0, p0 - window + 1) : 0;
              const int64_t span = p0 + rows - base;
              const auto put = [&](float f) { return kv == DType::F16 ? f32_to_f16(f) : f32_to_bf16(f); };
              std::vector<uint16_t> k(static_cast<size_t>(span * d)), v(static_cast<size_t>(span * d));
              for (auto& x : k) x = put(u(rng));
              for (auto& x : v) x = put(u(rng));
              v[static_cast<size_t>((span - 1) * d)] = put(INFINITY);
              std::vector<const void*> krows, vrows;
              for (int64_t j = 0; j < span; ++j) {
                krows.push_back(k.data() + j * d);
                vrows.push_back(v.data() + j * d);
              }
              const int count = rows * group;
              std::vector<std::vector<float>> q(static_cast<size_t>(count)), want(static_cast<size_t>(count));
              std::vector<int64_t> lo, n;
              for (int r = 0; r < rows; ++r)
                for (int g = 0; g < group; ++g) {
                  const int64_t p = p0 + r, l = window > 0 ? std::max<int64_t>(0, p - window + 1) : 0;
                  lo.push_back(l);
                  n.push_back(p - l + 1);
                  auto& qv = q[static_cast<size_t>(r * group + g)];
                  for (int64_t x = 0; x < d; ++x) qv.push_back(round_to(kv, u(rng)));
                  std::vector<float> scores(static_cast<size_t>(p - l + 1 + 16)), acc(static_cast<size_t>(32 * d));
                  auto& w = want[static_cast<size_t>(r * group + g)];
                  w.assign(static_cast<size_t>(d), 0.0f);
                  const FastHead h{qv.data(), krows.data() + (l - base), vrows.data() + (l - base), l, p - l + 1, d, kv,
                                   true, cap, scores.data(), acc.data(), w.data()};
                  attend_heads_fast(&h, 1);
                }
              std::vector<const float*> qs;
              for (const auto& qv : q) qs.push_back(qv.data());
              std::vector<float> scratch(static_cast<size_t>(count * span));
              using TileFn = void (*)(const FastTile&);
              for (TileFn fn : {attend_tile_fast, detail::attend_tile_fast_portable, detail::attend_tile_fast_avx2}) {
                if (fn == detail::attend_tile_fast_avx2 && !quant::dot_isa_available(quant::DotIsa::Avx2)) continue;
                std::vector<std::vector<float>> got(static_cast<size_t>(count), std::vector<float>(static_cast<size_t>(d)));
                std::vector<float*> outs;
                for (auto& o : got) outs.push_back(o.data());
                fn(FastTile{krows.data(), vrows.data(), base, span, d, kv, cap, count, qs.data(), lo.data(), n.data(),
                            outs.data(), scratch.data()});
                for (int i = 0; i < count; ++i)
                  ASSERT_TRUE(same_bits(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)]))
                      << dtype_name(kv) << " d=" << d << " rows=" << rows << " group=" << group << " window=" << window
                      << " cap=" << cap << " vector " << i;
                for (int i = 0; i + group < count; ++i)  // rows before the last never see the infinity
                  for (float x : got[static_cast<size_t>(i)]) ASSERT_TRUE(std::isfinite(x)) << "vector " << i;
              }
              ++cases;
            }
  EXPECT_EQ(cases, 2 * 4 * 4 * 4 * 3 * 2);
  EXPECT_TRUE(fast_tile_applies(DType::F16, 256, true));
  EXPECT_FALSE(fast_tile_applies(DType::F16, 256, false));
  EXPECT_FALSE(fast_tile_applies(DType::F32, 256, true));
  EXPECT_FALSE(fast_tile_applies(DType::BF16, 20, true));
}

TEST(CpuAttentionFast, ExpApproximation) {
  EXPECT_EQ(expf_approx(0.0f), 1.0f);
  EXPECT_EQ(expf_approx(-INFINITY), 0.0f);
  EXPECT_EQ(expf_approx(-200.0f), 0.0f);
  for (float x = -87.0f; x <= 88.0f; x += 0.173f) {
    const double want = std::exp(static_cast<double>(x));
    ASSERT_NEAR(static_cast<double>(expf_approx(x)) / want, 1.0, 4e-7) << x;
  }
  // Deep in the subnormal range it still tracks exp (the two-factor scaling path), to within the
  // subnormals' own spacing.
  for (float x : {-95.0f, -100.0f, -103.0f})
    EXPECT_NEAR(static_cast<double>(expf_approx(x)), std::exp(static_cast<double>(x)), 2.0 * std::ldexp(1.0, -149)) << x;
}

}  // namespace
}  // namespace gemrt::cpu
