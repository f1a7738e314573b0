// RowGroupDot: 8 weight rows at a time in llama.cpp's interleaved-kernel order. Checked three
// ways: against the float64 dot product of the dequantized rows (the math), against an
// independent spelling of the fold order from the header (the float32 order), and AVX2 against
// the scalar kernels (bit-identical by contract). Row lengths of 1, 3 and 7 blocks; 1, 3, 4, 5
// and 17 activation rows (17 crosses the kernels' row tile).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/dequantize.h"
#include "gemrt/quant/row_group_dot.h"
#include "test_util.h"

namespace gemrt::quant {
namespace {

struct Case {
  DType type;
  int64_t n;
  int64_t rows;
  std::vector<std::byte> w;  // 8 weight rows, contiguous
  std::vector<std::byte> a;  // `rows` activation rows in the partner type
  std::vector<float> x;      // the activations before rounding
  int64_t w_row, a_row;
};

Case make_case(DType t, int64_t blocks, int64_t rows, uint32_t seed) {
  Case c;
  c.type = t;
  c.n = blocks * dtype_info(t).block_elems;
  c.rows = rows;
  c.w_row = dtype_bytes(t, c.n);
  const DType p = dot_partner(t);
  c.a_row = dtype_bytes(p, c.n);
  for (int j = 0; j < kRowGroup; ++j) {
    const std::vector<std::byte> row = test::random_weight_row(t, c.n, seed + static_cast<uint32_t>(j));
    c.w.insert(c.w.end(), row.begin(), row.end());
  }
  std::mt19937 rng(seed * 7 + 1);
  std::normal_distribution<float> g(0.0f, 1.0f);
  c.x.resize(static_cast<size_t>(rows * c.n));
  for (size_t i = 0; i < c.x.size(); ++i) c.x[i] = g(rng) * (i % 97 == 0 ? 40.0f : 1.0f);
  c.a.resize(static_cast<size_t>(rows * c.a_row));
  for (int64_t r = 0; r < rows; ++r)
    quantize_activations(p, c.x.data() + r * c.n, c.n, c.a.data() + r * c.a_row);
  return c;
}

std::vector<float> run(const Case& c, FoldGrain grain, DotIsa isa) {
  std::vector<float> out(static_cast<size_t>(c.rows * kRowGroup), -1.0f);
  RowGroupDot(c.type, c.n, isa)(c.w.data(), c.w_row, c.a.data(), c.a_row, c.rows, grain, out.data(), kRowGroup);
  return out;
}

// The header's fold order, written out independently of the kernels (from dequantize-level
// facts: block fields read with memcpy, codes via the dequantizer's layout).
float fold_reference(DType t, int64_t n, const std::byte* w, const std::byte* a, FoldGrain grain) {
  float acc = 0.0f, acc_min = 0.0f;
  if (t == DType::Q4_0) {
    for (int64_t b = 0; b < n / 32; ++b) {
      BlockQ4_0 wb;
      BlockQ8_0 ab;
      std::memcpy(&wb, w + 18 * b, 18);
      std::memcpy(&ab, a + 34 * b, 34);
      int isum = 0;
      for (int i = 0; i < 32; ++i) isum += ((i < 16 ? wb.qs[i] & 15 : wb.qs[i - 16] >> 4) - 8) * ab.qs[i];
      const float s = f16_to_f32(wb.d) * f16_to_f32(ab.d);
      acc = std::fma(static_cast<float>(isum), s, acc);
    }
    return acc;
  }
  const int chunk = grain == FoldGrain::Batched ? 64 : 256;
  for (int64_t b = 0; b < n / 256; ++b) {
    BlockQ4_K wb;
    BlockQ8_K ab;
    std::memcpy(&wb, w + 144 * b, 144);
    std::memcpy(&ab, a + 292 * b, 292);
    const float s = f16_to_f32(wb.d) * ab.d, sm = f16_to_f32(wb.dmin) * ab.d;
    for (int c0 = 0; c0 < 256; c0 += chunk) {
      int isum = 0, msum = 0;
      for (int v = c0; v < c0 + chunk; ++v) {
        const int sub = v / 32;
        int sc, mn;
        k_scale_min(wb.scales, sub, &sc, &mn);
        const int q = (wb.qs[32 * (sub / 2) + v % 32] >> (4 * (sub % 2))) & 15;
        isum += sc * q * ab.qs[v];
        msum += mn * ab.qs[v];
      }
      acc = std::fma(static_cast<float>(isum), s, acc);
      acc_min = std::fma(static_cast<float>(msum), sm, acc_min);
    }
  }
  return acc - acc_min;
}

constexpr DType kTypes[] = {DType::Q4_0, DType::Q4_K};
constexpr FoldGrain kGrains[] = {FoldGrain::Batched, FoldGrain::Single};

TEST(QuantRowGroupDot, MatchesDequantizedDotAndTheFoldOrder) {
  uint32_t seed = 100;
  for (DType t : kTypes) {
    for (int64_t blocks : {1, 3, 7}) {
      for (int64_t rows : {1, 3, 4, 5, 17}) {
        const Case c = make_case(t, blocks, rows, seed += 13);
        const DType p = dot_partner(t);
        std::vector<float> wf(static_cast<size_t>(c.n)), af(static_cast<size_t>(c.n));
        for (FoldGrain grain : kGrains) {
          SCOPED_TRACE(testing::Message() << dtype_name(t) << " blocks=" << blocks << " rows=" << rows
                                          << " grain=" << (grain == FoldGrain::Batched ? "batched" : "single"));
          const std::vector<float> got = run(c, grain, DotIsa::Scalar);
          for (int64_t r = 0; r < rows; ++r) {
            const std::byte* ar = c.a.data() + r * c.a_row;
            dequantize_row(p, ar, af.data(), c.n);
            for (int j = 0; j < kRowGroup; ++j) {
              const std::byte* wr = c.w.data() + j * c.w_row;
              dequantize_row(t, wr, wf.data(), c.n);
              double ref = 0.0, mag = 0.0;
              for (int64_t i = 0; i < c.n; ++i) {
                const double prod = static_cast<double>(wf[static_cast<size_t>(i)]) * static_cast<double>(af[static_cast<size_t>(i)]);
                ref += prod;
                mag += std::fabs(prod);
              }
              const float v = got[static_cast<size_t>(r * kRowGroup + j)];
              EXPECT_NEAR(v, ref, 1e-5 * mag + 1e-30) << "row " << r << " weight row " << j;
              EXPECT_EQ(v, fold_reference(t, c.n, wr, ar, grain)) << "row " << r << " weight row " << j;
            }
          }
        }
      }
    }
  }
}

TEST(QuantRowGroupDot, GrainsDifferOnlyByFloatRounding) {
  // The two grains fold the same exact integers at different points, so they agree to float32
  // rounding but (on random data) not bit for bit: Q4_K's grain is really used.
  const Case c = make_case(DType::Q4_K, 7, 5, 9);
  const std::vector<float> batched = run(c, FoldGrain::Batched, DotIsa::Scalar);
  const std::vector<float> single = run(c, FoldGrain::Single, DotIsa::Scalar);
  int differ = 0;
  for (size_t i = 0; i < batched.size(); ++i) {
    EXPECT_NEAR(batched[i], single[i], 1e-4f * (std::fabs(single[i]) + 1.0f));
    differ += batched[i] != single[i];
  }
  EXPECT_GT(differ, 0);
}

TEST(QuantRowGroupDot, FoldGrainSplitsRowsAsLlamaCpp) {
  // 7 rows: 0-3 through the GEMM (batched), 4-6 through the GEMV (single).
  for (int64_t r = 0; r < 4; ++r) EXPECT_EQ(fold_grain(r, 7), FoldGrain::Batched);
  for (int64_t r = 4; r < 7; ++r) EXPECT_EQ(fold_grain(r, 7), FoldGrain::Single);
  EXPECT_EQ(fold_grain(0, 1), FoldGrain::Single);
  EXPECT_EQ(fold_grain(3, 3), FoldGrain::Single);
  EXPECT_EQ(fold_grain(7, 8), FoldGrain::Batched);
}

TEST(QuantRowGroupDot, RejectsOtherFormatsAndPartialBlocks) {
  EXPECT_FALSE(has_row_group_dot(DType::Q8_0));
  EXPECT_FALSE(has_row_group_dot(DType::Q6_K));
  EXPECT_THROW(RowGroupDot(DType::Q8_0, 256), Error);
  EXPECT_THROW(RowGroupDot(DType::Q4_K, 128), Error);
  EXPECT_THROW(RowGroupDot(DType::Q4_0, 48), Error);
}

TEST(QuantRowGroupDotIsa, Avx2IsBitIdenticalToScalar) {
  if (!dot_isa_available(DotIsa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C; AVX2 kernels not tested";
  uint32_t seed = 700;
  for (DType t : kTypes) {
    for (int64_t blocks : {1, 3, 7}) {
      for (int64_t rows : {1, 3, 4, 5, 17, 70}) {  // 70: past the kernels' 64-row tiles
        const Case c = make_case(t, blocks, rows, seed += 17);
        for (FoldGrain grain : kGrains) {
          SCOPED_TRACE(testing::Message() << dtype_name(t) << " blocks=" << blocks << " rows=" << rows);
          const std::vector<float> s = run(c, grain, DotIsa::Scalar), v = run(c, grain, DotIsa::Avx2);
          for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s[i], v[i]) << "output " << i;
        }
      }
    }
  }
}

// The AVX2 Q4_K kernel sums 16 code x activation products per int16 lane before widening; the
// largest such sums (every code 15, every activation code +-127) must come out exact.
TEST(QuantRowGroupDotIsa, Avx2Q4KExtremeCodesAreExact) {
  if (!dot_isa_available(DotIsa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C; AVX2 kernels not tested";
  for (float sign : {1.0f, -1.0f}) {
    Case c = make_case(DType::Q4_K, 2, 9, 31);
    for (int j = 0; j < kRowGroup; ++j)
      for (int64_t b = 0; b < 2; ++b) {
        std::byte* blk = c.w.data() + j * c.w_row + b * static_cast<int64_t>(sizeof(BlockQ4_K));
        std::memset(blk + offsetof(BlockQ4_K, qs), 0xff, sizeof(BlockQ4_K::qs));  // every code 15
        std::memset(blk + offsetof(BlockQ4_K, scales), 0xff, sizeof(BlockQ4_K::scales));  // scales, mins 63
      }
    for (int64_t r = 0; r < c.rows; ++r) {
      std::vector<float> x(static_cast<size_t>(c.n), sign * (1.0f + static_cast<float>(r)));
      quantize_activations(DType::Q8_K, x.data(), c.n, c.a.data() + r * c.a_row);
    }
    const std::vector<float> s = run(c, FoldGrain::Batched, DotIsa::Scalar), v = run(c, FoldGrain::Batched, DotIsa::Avx2);
    for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s[i], v[i]) << "sign " << sign << " output " << i;
  }
}

// RowGroupDot::groups on AVX-512 (two groups at once, 16 rows in the lanes) gives operator()'s
// AVX2 bits group by group: 1, 2, 3 and 5 groups (pairs and a group left over), both grains,
// activation rows around the 4-row steps and the 64-row tiles; and at the extremes of the int16
// sums (every code 15, every scale and min 63, activations +-127).
TEST(QuantRowGroupDotIsa, Avx512GroupsAreBitIdenticalToAvx2) {
  if (!dot_isa_available(DotIsa::Avx512))
    GTEST_SKIP() << "this CPU (or build) has no AVX-512 F/BW/VL/DQ + VNNI; AVX-512 kernels not tested";
  uint32_t seed = 900;
  for (DType t : kTypes) {
    for (int64_t blocks : {1, 3, 7}) {
      for (int64_t groups : {1, 2, 3, 5}) {
        for (int64_t rows : {1, 3, 4, 5, 17, 70}) {
          for (bool extreme : {false, true}) {
            if (extreme && (t != DType::Q4_K || blocks != 3)) continue;
            // groups * 8 weight rows: the case's 8 rows and further random groups.
            Case c = make_case(t, blocks, rows, seed += 17);
            for (int64_t g = 1; g < groups; ++g) {
              const Case more = make_case(t, blocks, 1, seed += 17);
              c.w.insert(c.w.end(), more.w.begin(), more.w.end());
            }
            if (extreme) {
              for (int64_t j = 0; j < groups * kRowGroup; ++j)
                for (int64_t b = 0; b < blocks; ++b) {
                  std::byte* blk = c.w.data() + j * c.w_row + b * static_cast<int64_t>(sizeof(BlockQ4_K));
                  std::memset(blk + offsetof(BlockQ4_K, qs), 0xff, sizeof(BlockQ4_K::qs));
                  std::memset(blk + offsetof(BlockQ4_K, scales), 0xff, sizeof(BlockQ4_K::scales));
                }
              for (int64_t r = 0; r < rows; ++r) {
                std::vector<float> x(static_cast<size_t>(c.n), (r % 2 == 0 ? 1.0f : -1.0f) * (1.0f + static_cast<float>(r)));
                quantize_activations(DType::Q8_K, x.data(), c.n, c.a.data() + r * c.a_row);
              }
            }
            const int64_t cols = groups * kRowGroup;
            for (FoldGrain grain : kGrains) {
              SCOPED_TRACE(testing::Message() << dtype_name(t) << " blocks=" << blocks << " groups=" << groups
                                              << " rows=" << rows << (extreme ? " extreme" : ""));
              std::vector<float> want(static_cast<size_t>(rows * cols), -1.0f), got(want.size(), -2.0f);
              const RowGroupDot avx2(t, c.n, DotIsa::Avx2), avx512(t, c.n, DotIsa::Avx512);
              for (int64_t g = 0; g < groups; ++g)
                avx2(c.w.data() + g * kRowGroup * c.w_row, c.w_row, c.a.data(), c.a_row, rows, grain,
                     want.data() + g * kRowGroup, cols);
              avx512.groups(c.w.data(), c.w_row, groups, c.a.data(), c.a_row, rows, grain, got.data(), cols);
              ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)));
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace gemrt::quant
