// RoPE: the inverse-frequency table (spec §1.3) and the CPU rotate-half kernel.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/graph/ir.h"
#include "gemrt/graph/rope.h"

namespace gemrt {
namespace {

// ---------------------------------------------------------------------------------------------
// rope_inv_freq

// HF: inv_freq = 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
float hf_inv_freq_f32(int head_dim, float theta, int i) {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
  const float denom = std::pow(theta, exponent);  // float overload: float32 pow
  return 1.0f / denom;
}

TEST(RopeInvFreq, MatchesFormulaInFloat32) {
  const int dims[] = {2, 8, 96, 128, 256};
  const float thetas[] = {10000.0f, 500000.0f, 1000000.0f};
  for (int d : dims) {
    for (float theta : thetas) {
      const std::vector<float> inv = rope_inv_freq(d, theta, RopeScaling{});
      ASSERT_EQ(inv.size(), static_cast<size_t>(d / 2));
      EXPECT_EQ(inv[0], 1.0f);
      for (int i = 0; i < d / 2; ++i) {
        const float got = inv[static_cast<size_t>(i)];
        // Same float32 computation as HF, to within one ulp (pow may round differently).
        const float want = hf_inv_freq_f32(d, theta, i);
        EXPECT_LE(std::fabs(got - want), std::numeric_limits<float>::epsilon() * want)
            << "d=" << d << " theta=" << theta << " i=" << i;
        // And the exact math to float32 accuracy (the exponent 2i/d is itself rounded).
        const double exact = 1.0 / std::pow(static_cast<double>(theta), 2.0 * i / d);
        EXPECT_NEAR(static_cast<double>(got), exact, 2e-6 * exact) << "d=" << d << " theta=" << theta << " i=" << i;
        if (i > 0) {
          EXPECT_LT(got, inv[static_cast<size_t>(i - 1)]);  // strictly decreasing
        }
      }
    }
  }
  // Spot values: 1/10000^(64/128) = 0.01; 1/10000^(1/2) for d = 2 has only i = 0.
  EXPECT_EQ(rope_inv_freq(256, 10000.0f, {})[64], 0.01f);
  EXPECT_EQ(rope_inv_freq(4, 10000.0f, {})[1], 0.01f);
  EXPECT_EQ(rope_inv_freq(4, 1000000.0f, {})[1], 0.001f);
}

TEST(RopeInvFreq, LinearScalingDividesByTheFactor) {
  const std::vector<float> base = rope_inv_freq(128, 1000000.0f, {});
  for (float factor : {8.0f, 3.0f, 0.5f}) {
    RopeScaling s;
    s.kind = RopeScaling::Kind::Linear;
    s.factor = factor;
    const std::vector<float> scaled = rope_inv_freq(128, 1000000.0f, s);
    ASSERT_EQ(scaled.size(), base.size());
    for (size_t i = 0; i < base.size(); ++i) EXPECT_EQ(scaled[i], base[i] / factor) << "factor " << factor << " i " << i;
  }
  // A factor without the Linear kind does nothing.
  RopeScaling none;
  none.factor = 8.0f;
  EXPECT_EQ(rope_inv_freq(128, 1000000.0f, none), base);
}

TEST(RopeInvFreq, BadArgumentsAreErrors) {
  for (int d : {7, 1, 0, -2}) {
    try {
      (void)rope_inv_freq(d, 10000.0f, {});
      ADD_FAILURE() << "head_dim " << d << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("head_dim"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(d)), std::string::npos) << e.what();
    }
  }
  for (float theta : {0.0f, -10000.0f, std::numeric_limits<float>::quiet_NaN()}) {
    try {
      (void)rope_inv_freq(8, theta, {});
      ADD_FAILURE() << "theta " << theta << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("theta"), std::string::npos) << e.what();
    }
  }
}

TEST(RopeInvFreq, ReducedPrecisionRounds) {
  const std::vector<float> f32 = rope_inv_freq(256, 10000.0f, {}, RopeFreqPrecision::F32);
  const std::vector<float> bf = rope_inv_freq(256, 10000.0f, {}, RopeFreqPrecision::BF16);
  const std::vector<float> hf = rope_inv_freq(256, 10000.0f, {}, RopeFreqPrecision::F16);
  ASSERT_EQ(bf.size(), f32.size());
  ASSERT_EQ(hf.size(), f32.size());
  int bf_changed = 0, hf_changed = 0;
  for (size_t i = 0; i < f32.size(); ++i) {
    EXPECT_EQ(bf[i], bf16_to_f32(f32_to_bf16(f32[i]))) << i;
    EXPECT_EQ(std::bit_cast<uint32_t>(bf[i]) & 0xffffu, 0u) << "not a bf16 value at " << i;
    EXPECT_NEAR(static_cast<double>(bf[i]), static_cast<double>(f32[i]), static_cast<double>(f32[i]) / 256.0) << i;  // bf16: 8 significant bits
    EXPECT_EQ(hf[i], f16_to_f32(f32_to_f16(f32[i]))) << i;
    bf_changed += bf[i] != f32[i];
    hf_changed += hf[i] != f32[i];
  }
  EXPECT_GT(bf_changed, 100);  // nearly every value loses bits
  EXPECT_GT(hf_changed, 50);
  EXPECT_EQ(bf[0], 1.0f);
  // Rounding happens after linear scaling (the cast buffer holds the scaled values).
  RopeScaling s;
  s.kind = RopeScaling::Kind::Linear;
  s.factor = 3.0f;
  const std::vector<float> f32s = rope_inv_freq(256, 10000.0f, s);
  const std::vector<float> bfs = rope_inv_freq(256, 10000.0f, s, RopeFreqPrecision::BF16);
  for (size_t i = 0; i < f32s.size(); ++i) EXPECT_EQ(bfs[i], bf16_to_f32(f32_to_bf16(f32s[i]))) << i;
}

// ---------------------------------------------------------------------------------------------
// The CPU rope kernel

std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

std::vector<float> run_rope(const std::vector<float>& x, const std::vector<int32_t>& pos, const RopeAttrs& a) {
  std::vector<float> out(x.size(), std::numeric_limits<float>::quiet_NaN());
  cpu::rope(x.data(), pos.data(), static_cast<int64_t>(pos.size()), a, Numerics::Precise, out.data());
  return out;
}

RopeAttrs attrs(int heads, int head_dim, float theta = 10000.0f) {
  return RopeAttrs{heads, head_dim, rope_inv_freq(head_dim, theta, {}), GeometricRope{theta, 1.0f}};
}

TEST(RopeKernel, PositionZeroIsIdentity) {
  const RopeAttrs a = attrs(3, 16);
  const std::vector<float> x = random_vec(4 * 3 * 16, 1);
  const std::vector<float> y = run_rope(x, {0, 0, 0, 0}, a);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i]) << i;
}

// Direct double-precision rotate-half: element i pairs with i + d/2. The angle is formed in
// float32 like HF (freqs = inv_freq * position in fp32), everything else in double.
std::vector<double> rope_reference(const std::vector<float>& x, const std::vector<int32_t>& pos, const RopeAttrs& a,
                                   bool adjacent_pairs = false) {
  const int d = a.head_dim, half = d / 2;
  std::vector<double> y(x.size());
  for (size_t r = 0; r < pos.size(); ++r) {
    for (int h = 0; h < a.n_heads; ++h) {
      const size_t base = (r * static_cast<size_t>(a.n_heads) + static_cast<size_t>(h)) * static_cast<size_t>(d);
      for (int i = 0; i < half; ++i) {
        const float angle_f = static_cast<float>(pos[r]) * a.inv_freq[static_cast<size_t>(i)];
        const double c = std::cos(static_cast<double>(angle_f)), s = std::sin(static_cast<double>(angle_f));
        // rotate-half: (i, i + d/2); the (wrong) GPT-J interleaved style would be (2i, 2i + 1).
        const size_t i1 = base + static_cast<size_t>(adjacent_pairs ? 2 * i : i);
        const size_t i2 = base + static_cast<size_t>(adjacent_pairs ? 2 * i + 1 : i + half);
        const double x1 = static_cast<double>(x[i1]), x2 = static_cast<double>(x[i2]);
        y[i1] = x1 * c - x2 * s;
        y[i2] = x2 * c + x1 * s;
      }
    }
  }
  return y;
}

TEST(RopeKernel, RotateHalfPairingMatchesDirectFormula) {
  for (int d : {2, 8, 16, 64}) {
    const int heads = 3;
    const RopeAttrs a = attrs(heads, d);
    const std::vector<int32_t> pos{0, 1, 2, 7, 100, 4095, 123456};
    const std::vector<float> x = random_vec(pos.size() * heads * static_cast<size_t>(d), 10u + static_cast<uint32_t>(d));
    const std::vector<float> y = run_rope(x, pos, a);
    const std::vector<double> ref = rope_reference(x, pos, a);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << "d=" << d << " element " << i << " not written";
      EXPECT_NEAR(static_cast<double>(y[i]), ref[i], 2e-6 * 4.0) << "d=" << d << " element " << i;
    }
    if (d >= 4) {
      // The data distinguishes the two pairings, so the check above really tests rotate-half.
      const std::vector<double> wrong = rope_reference(x, pos, a, /*adjacent_pairs=*/true);
      double max_diff = 0.0;
      for (size_t i = 0; i < x.size(); ++i) max_diff = std::max(max_diff, std::fabs(static_cast<double>(y[i]) - wrong[i]));
      EXPECT_GT(max_diff, 0.1) << "d=" << d;
    }
  }
}

// Fast numerics form a geometric table's angles as llama.cpp does (theta_0 = pos, each next
// pair's theta multiplied by base^(-2/d) in float32, times freq_scale; cosf / sinf) and rotate with
// one FMA per output; within float32 rounding of the precise (HF) result.
TEST(RopeKernel, FastNumericsFollowLlamaCpp) {
  for (float freq_scale : {1.0f, 0.125f}) {
    RopeAttrs a = attrs(2, 16, 10000.0f);
    a.geometric.freq_scale = freq_scale;
    for (float& f : a.inv_freq) f *= freq_scale;
    const std::vector<int32_t> pos{0, 1, 5, 300, 7777};
    const std::vector<float> x = random_vec(pos.size() * 2 * 16, 31);
    std::vector<float> fast(x.size());
    cpu::rope(x.data(), pos.data(), static_cast<int64_t>(pos.size()), a, Numerics::Fast, fast.data());
    const std::vector<float> precise = run_rope(x, pos, a);
    const float theta_scale = std::pow(10000.0f, -2.0f / 16.0f);
    for (size_t r = 0; r < pos.size(); ++r) {
      auto theta = static_cast<float>(pos[r]);
      for (int i = 0; i < 8; ++i, theta *= theta_scale) {
        const float c = std::cos(freq_scale * theta), s = std::sin(freq_scale * theta);
        for (int h = 0; h < 2; ++h) {
          const size_t b = (r * 2 + static_cast<size_t>(h)) * 16;
          const float x1 = x[b + static_cast<size_t>(i)], x2 = x[b + static_cast<size_t>(i) + 8];
          EXPECT_EQ(fast[b + static_cast<size_t>(i)], std::fma(x1, c, -(x2 * s)));
          EXPECT_EQ(fast[b + static_cast<size_t>(i) + 8], std::fma(x1, s, x2 * c));
        }
      }
    }
    // The two ways of forming an angle differ by a few float32 roundings of its magnitude (up to
    // one per pair index in llama.cpp's running product): |x| <= 2 times that.
    for (size_t i = 0; i < x.size(); ++i) {
      const double angle_ulps = 2.0 * (8 + 3) * static_cast<double>(pos[i / 32]) * std::ldexp(1.0, -24);
      EXPECT_NEAR(fast[i], precise[i], 2e-6 + angle_ulps) << i;
    }
  }
  // A table without parameters (e.g. rounded to bf16) keeps HF's angles in fast numerics too.
  RopeAttrs plain = attrs(1, 8);
  plain.geometric = {};
  const std::vector<int32_t> pos{3};
  const std::vector<float> x = random_vec(8, 32);
  std::vector<float> fast(8);
  cpu::rope(x.data(), pos.data(), 1, plain, Numerics::Fast, fast.data());
  const std::vector<double> ref = rope_reference(x, pos, plain);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(static_cast<double>(fast[i]), ref[i], 1e-6) << i;
}

TEST(RopeKernel, ZeroFrequencyPairsPassThrough) {
  // Proportional RoPE (spec §1.3): zero inverse frequencies leave their pairs untouched.
  RopeAttrs a = attrs(2, 8);
  a.inv_freq[2] = 0.0f;
  a.inv_freq[3] = 0.0f;
  const std::vector<int32_t> pos{5, 77};
  const std::vector<float> x = random_vec(2 * 2 * 8, 3);
  const std::vector<float> y = run_rope(x, pos, a);
  for (size_t r = 0; r < 2; ++r)
    for (size_t h = 0; h < 2; ++h) {
      const size_t base = (r * 2 + h) * 8;
      for (size_t i : {2u, 3u, 6u, 7u}) EXPECT_EQ(y[base + i], x[base + i]) << r << " " << h << " " << i;
      for (size_t i : {0u, 1u, 4u, 5u}) EXPECT_NE(y[base + i], x[base + i]) << r << " " << h << " " << i;
    }
}

TEST(RopeKernel, PreservesPerPairNorm) {
  constexpr size_t d = 32, heads = 4;
  const RopeAttrs a = attrs(static_cast<int>(heads), static_cast<int>(d), 1000000.0f);
  const std::vector<int32_t> pos{3, 9, 1000, 31337};
  const std::vector<float> x = random_vec(pos.size() * heads * d, 5, -3.0f, 3.0f);
  const std::vector<float> y = run_rope(x, pos, a);
  for (size_t row = 0; row < pos.size() * heads; ++row)
    for (size_t i = 0; i < d / 2; ++i) {
      const size_t i1 = row * d + i, i2 = i1 + d / 2;
      const double nx = std::hypot(static_cast<double>(x[i1]), static_cast<double>(x[i2]));
      const double ny = std::hypot(static_cast<double>(y[i1]), static_cast<double>(y[i2]));
      EXPECT_NEAR(ny, nx, 1e-6 * (nx + 1e-3)) << "row " << row << " pair " << i;
    }
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

TEST(RopeKernel, ScoresDependOnlyOnRelativePosition) {
  const int d = 64;
  const RopeAttrs a = attrs(1, d);
  const std::vector<float> q = random_vec(d, 21), k = random_vec(d, 22);
  const double scale = std::sqrt(dot(q, q) * dot(k, k));
  auto score = [&](int32_t pq, int32_t pk) { return dot(run_rope(q, {pq}, a), run_rope(k, {pk}, a)); };
  for (int32_t delta : {0, 1, 3, 17}) {
    const double s0 = score(delta, 0);
    for (int32_t base : {1, 10, 57, 300}) {
      EXPECT_NEAR(score(base + delta, base), s0, 1e-4 * scale) << "delta " << delta << " base " << base;
    }
  }
  // ...and it does depend on the distance (so the check above is not vacuous).
  EXPECT_GT(std::fabs(score(3, 0) - score(4, 0)), 1e-3 * scale);
  EXPECT_GT(std::fabs(score(0, 0) - score(17, 0)), 1e-3 * scale);
  EXPECT_GT(std::fabs(score(0, 3) - score(3, 0)), 1e-3 * scale);  // the sign of the distance matters too
}

// Axial RoPE (RopeAttrs axes, Gemma 4's vision tower, spec §6.6): each of the `axes` sections of
// a head rotates rotate-half style within itself at its own position column, with its own slice
// of the table; against a double-precision reference (angles formed in float32 as HF does), and
// equal, bit for bit, to plain RoPE run on the section alone at that position.
TEST(RopeKernel, AxialSectionsRotateAtTheirOwnPositions) {
  for (const int axes : {2, 3}) {
    const int d = 24, heads = 3, sec = d / axes, sec_half = sec / 2;
    RopeAttrs a{heads, d, {}, GeometricRope{}};
    a.axes = axes;
    for (int s = 0; s < axes; ++s) {
      const std::vector<float> f = rope_inv_freq(sec, 100.0f + 50.0f * static_cast<float>(s), {});
      a.inv_freq.insert(a.inv_freq.end(), f.begin(), f.end());
    }
    ASSERT_EQ(static_cast<int>(a.inv_freq.size()), d / 2);
    const std::vector<int32_t> pos = axes == 2 ? std::vector<int32_t>{0, 0, 3, 0, 0, 5, 26, 20}
                                               : std::vector<int32_t>{1, 2, 3, 40, 0, 7};
    const size_t rows = pos.size() / static_cast<size_t>(axes);
    const std::vector<float> x = random_vec(rows * heads * static_cast<size_t>(d), 40u + static_cast<uint32_t>(axes));
    std::vector<float> y(x.size(), std::numeric_limits<float>::quiet_NaN());
    for (Numerics numerics : {Numerics::Precise, Numerics::Fast}) {
      cpu::rope(x.data(), pos.data(), static_cast<int64_t>(rows), a, numerics, y.data());
      for (size_t r = 0; r < rows; ++r)
        for (int h = 0; h < heads; ++h)
          for (int s = 0; s < axes; ++s) {
            const size_t base = (r * heads + static_cast<size_t>(h)) * static_cast<size_t>(d) + static_cast<size_t>(s * sec);
            const int32_t p = pos[r * static_cast<size_t>(axes) + static_cast<size_t>(s)];
            // The section alone through plain RoPE (one head of width sec, its table slice).
            RopeAttrs plain{1, sec, std::vector<float>(a.inv_freq.begin() + s * sec_half, a.inv_freq.begin() + (s + 1) * sec_half),
                            GeometricRope{}};
            const std::vector<float> part(x.begin() + static_cast<std::ptrdiff_t>(base),
                                          x.begin() + static_cast<std::ptrdiff_t>(base) + sec);
            std::vector<float> want(static_cast<size_t>(sec));
            cpu::rope(part.data(), &p, 1, plain, numerics, want.data());
            for (int j = 0; j < sec; ++j)
              ASSERT_EQ(y[base + static_cast<size_t>(j)], want[static_cast<size_t>(j)])
                  << "axes " << axes << " row " << r << " head " << h << " section " << s << " element " << j;
            for (int j = 0; j < sec_half; ++j) {
              const float angle = static_cast<float>(p) * a.inv_freq[static_cast<size_t>(s * sec_half + j)];
              const double c = std::cos(static_cast<double>(angle)), sn = std::sin(static_cast<double>(angle));
              const double x1 = x[base + static_cast<size_t>(j)], x2 = x[base + static_cast<size_t>(j + sec_half)];
              EXPECT_NEAR(y[base + static_cast<size_t>(j)], x1 * c - x2 * sn, 1e-5);
              EXPECT_NEAR(y[base + static_cast<size_t>(j + sec_half)], x2 * c + x1 * sn, 1e-5);
            }
          }
    }
  }
}

}  // namespace
}  // namespace gemrt
