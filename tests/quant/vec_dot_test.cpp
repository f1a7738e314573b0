// The fast numerics' building blocks: activation rounding to each weight format's partner type
// (activation_quant.h) and the integer block dot products (vec_dot.h), against float64 sums of
// the dequantized values. Random blocks of every packed format, row lengths of 1, 3 and 7
// blocks (odd counts, so no kernel can assume pairs or powers of two).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/dequantize.h"
#include "gemrt/quant/vec_dot.h"
#include "test_util.h"

namespace gemrt::quant {
namespace {

constexpr DType kWeightTypes[] = {DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                  DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<float> dequantized(DType t, const std::vector<std::byte>& row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, row.data(), out.data(), n);
  return out;
}

std::vector<float> activations(int64_t n, std::mt19937& rng) {
  // Gemma-like: mostly small values with a few large outliers.
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = g(rng);
  for (int64_t i = 0; i < n; i += 97) x[static_cast<size_t>(i)] *= 40.0f;
  return x;
}

TEST(QuantDotPartner, IsLlamaCppsChoicePerFormat) {
  EXPECT_EQ(dot_partner(DType::F32), DType::F32);
  EXPECT_EQ(dot_partner(DType::F16), DType::F16);
  EXPECT_EQ(dot_partner(DType::BF16), DType::BF16);
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q8_0}) EXPECT_EQ(dot_partner(t), DType::Q8_0);
  for (DType t : {DType::Q4_1, DType::Q5_1}) EXPECT_EQ(dot_partner(t), DType::Q8_1);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    EXPECT_EQ(dot_partner(t), DType::Q8_K);
  EXPECT_THROW(dot_partner(DType::I32), Error);
  EXPECT_THROW(dot_partner(DType::Q8_K), Error);
}

// Each value comes back within half a code step (plus the f16 rounding of the scale).
TEST(QuantActivations, RoundTripWithinHalfAStep) {
  std::mt19937 rng(11);
  for (DType p : {DType::Q8_0, DType::Q8_1, DType::Q8_K}) {
    SCOPED_TRACE(std::string(dtype_name(p)));
    const int64_t qk = dtype_info(p).block_elems;
    for (int64_t blocks : {1, 3, 7}) {
      const int64_t n = blocks * qk;
      const std::vector<float> x = activations(n, rng);
      std::vector<std::byte> q(static_cast<size_t>(dtype_bytes(p, n)));
      quantize_activations(p, x.data(), n, q.data());
      const std::vector<float> back = dequantized(p, q, n);
      for (int64_t b = 0; b < blocks; ++b) {
        float amax = 0.0f;
        for (int64_t j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * qk + j)]));
        const double step = static_cast<double>(amax) / 127.0;
        // Q8_0 / Q8_1 keep d in f16 (relative rounding 2^-11, times up to 127 codes).
        const double tol = p == DType::Q8_K ? 0.5 * step * (1 + 1e-5) : 0.5 * step + 127.0 * step * std::ldexp(1.0, -11);
        for (int64_t j = 0; j < qk; ++j) {
          const size_t i = static_cast<size_t>(b * qk + j);
          ASSERT_LE(std::fabs(static_cast<double>(back[i]) - static_cast<double>(x[i])), tol) << "value " << i;
        }
      }
      if (p == DType::Q8_1) {  // s = d * sum(codes), in f16
        for (int64_t b = 0; b < blocks; ++b) {
          BlockQ8_1 blk;
          std::memcpy(&blk, q.data() + b * 36, 36);
          int sum = 0;
          for (int8_t c : blk.qs) sum += c;
          const double want = static_cast<double>(f16_to_f32(blk.d)) * sum;
          EXPECT_NEAR(f16_to_f32(blk.s), want, std::fabs(want) * std::ldexp(1.0, -10) + 1e-6);
        }
      }
      if (p == DType::Q8_K) {  // bsums are the sums of each 16 codes
        for (int64_t b = 0; b < blocks; ++b) {
          BlockQ8_K blk;
          std::memcpy(&blk, q.data() + b * 292, 292);
          for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += blk.qs[16 * g + j];
            EXPECT_EQ(blk.bsums[g], sum);
          }
        }
      }
    }
  }
}

// The AVX2 rounding writes the portable code's bytes, on data with ties (equal magnitudes of both
// signs, values exactly halfway between codes), zero blocks and outliers.
TEST(QuantActivationsIsa, Avx2WritesThePortableBytes) {
  if (!detail::quantize_activations_avx2_available()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
  std::mt19937 rng(17);
  for (DType p : {DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16, DType::BF16}) {
    for (int trial = 0; trial < 20; ++trial) {
      const bool half = dtype_info(p).block_elems == 1;
      const int64_t n = half ? 3 * 32 + 5 : 3 * dtype_info(p).block_elems;  // 16-bit: a tail past the 8-value groups
      std::vector<float> x = activations(n, rng);
      if (trial % 4 == 1) std::fill(x.begin(), x.begin() + dtype_info(p).block_elems, 0.0f);
      if (trial % 4 == 2) {  // +-m ties, the negative one first
        x[5] = -50.0f;
        x[9] = 50.0f;
      }
      if (trial % 4 == 3)
        for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = 0.5f * static_cast<float>(static_cast<int>(i % 255) - 127);
      if (half && trial % 5 == 4) {  // 16-bit: overflow, subnormals, halfway ties, and a NaN in one group
        x[1] = 1e6f;
        x[2] = -70000.0f;
        x[3] = 1e-7f;
        x[4] = std::bit_cast<float>(0x3f808000u);  // BF16 halfway, even below
        x[6] = 1.0f + std::ldexp(1.0f, -11);       // F16 halfway
        x[40] = std::numeric_limits<float>::quiet_NaN();
      }
      std::vector<std::byte> a(static_cast<size_t>(dtype_bytes(p, n))), b(a.size());
      detail::quantize_activations_portable(p, x.data(), n, a.data());
      detail::quantize_activations_avx2(p, x.data(), n, b.data());
      ASSERT_EQ(a, b) << dtype_name(p) << " trial " << trial;
    }
  }
}

TEST(QuantActivations, RoundsHalfToEvenAndHandlesZeroBlocks) {
  // Block whose max is 127: codes equal the values, and x.5 rounds to even.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  std::vector<std::byte> q(34);
  quantize_activations(DType::Q8_0, x.data(), 32, q.data());
  BlockQ8_0 blk;
  std::memcpy(&blk, q.data(), 34);
  EXPECT_EQ(f16_to_f32(blk.d), 1.0f);
  EXPECT_EQ(blk.qs[0], 127);
  EXPECT_EQ(blk.qs[1], 2);
  EXPECT_EQ(blk.qs[2], 4);
  EXPECT_EQ(blk.qs[3], -2);
  // All-zero blocks give zero codes and a zero scale (no division by zero).
  for (DType p : {DType::Q8_0, DType::Q8_1, DType::Q8_K}) {
    const int64_t n = dtype_info(p).block_elems;
    std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    std::vector<std::byte> z(static_cast<size_t>(dtype_bytes(p, n)), std::byte{0x55});
    quantize_activations(p, zeros.data(), n, z.data());
    for (float v : dequantized(p, z, n)) EXPECT_EQ(v, 0.0f) << dtype_name(p);
  }
  // 16-bit partners round to nearest even; F32 is a copy.
  const float v = 1.0f + std::ldexp(1.0f, -11);  // halfway between two f16 values: rounds to 1
  uint16_t h;
  quantize_activations(DType::F16, &v, 1, reinterpret_cast<std::byte*>(&h));
  EXPECT_EQ(f16_to_f32(h), 1.0f);
  EXPECT_THROW(quantize_activations(DType::Q8_0, x.data(), 31, q.data()), Error);
  EXPECT_THROW(quantize_activations(DType::Q4_0, x.data(), 32, q.data()), Error);
}

// vec_dot equals the float64 dot product of the dequantized weight and activation rows (with
// Q8_1's stored block sums), up to float32 rounding of the per-block terms.
TEST(QuantVecDot, MatchesDequantizedDotForEveryFormat) {
  std::mt19937 rng(5);
  for (DType t : kWeightTypes) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const DType p = dot_partner(t);
    const int64_t qk = std::max(dtype_info(t).block_elems, dtype_info(p).block_elems);
    for (int64_t blocks : {1, 3, 7}) {
      const int64_t n = blocks * std::max<int64_t>(qk, 32);
      const std::vector<std::byte> w = test::random_weight_row(t, n, static_cast<uint32_t>(rng()));
      const std::vector<float> x = activations(n, rng);
      std::vector<std::byte> a(static_cast<size_t>(dtype_bytes(p, n)));
      quantize_activations(p, x.data(), n, a.data());
      const std::vector<float> wf = dequantized(t, w, n), af = dequantized(p, a, n);
      double ref = 0.0, mag = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double prod = static_cast<double>(wf[static_cast<size_t>(i)]) * static_cast<double>(af[static_cast<size_t>(i)]);
        ref += prod;
        mag += std::fabs(prod);
      }
      ref += test::q8_1_offset_correction(t, w.data(), a.data(), n);
      const float got = vec_dot(t, n, w.data(), a.data());
      EXPECT_NEAR(got, ref, 1e-5 * mag + 1e-30) << blocks << " blocks";
      // And the rounding of the activations is small against the exact float32 activations.
      double exact = 0.0;
      for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wf[static_cast<size_t>(i)]) * static_cast<double>(x[static_cast<size_t>(i)]);
      EXPECT_NEAR(got, exact, 0.02 * mag) << blocks << " blocks";
    }
  }
}

TEST(QuantVecDot, RejectsPartialBlocksAndFormatsWithoutPartner) {
  std::vector<std::byte> w(1024), a(1024);
  EXPECT_THROW(vec_dot(DType::Q4_0, 48, w.data(), a.data()), Error);
  EXPECT_THROW(vec_dot(DType::Q4_K, 128, w.data(), a.data()), Error);
  EXPECT_THROW(vec_dot(DType::I32, 8, w.data(), a.data()), Error);
}

}  // namespace
}  // namespace gemrt::quant

namespace gemrt::quant {
namespace {

// Every SIMD kernel against the scalar reference on random data, within float32 rounding of the
// sums: 1e-6 of sum |w a| (the integer block sums are exact; only their float32 order differs). Row lengths of 1, 3 and 7 blocks (and for the float
// formats lengths that are not multiples of the vector width), 1, 5 and 17 activation rows
// (17 crosses a row tile).
TEST(QuantVecDotIsa, SimdKernelsMatchTheScalarReference) {
  if (!dot_isa_available(DotIsa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C; AVX2 kernels not tested";
  std::mt19937 rng(23);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const DType p = dot_partner(t);
    const bool packed = dtype_is_quantized(t);  // packed rows: whole blocks only
    const int64_t qk = std::max(dtype_info(t).block_elems, dtype_info(p).block_elems);
    const std::vector<int64_t> lengths =
        packed ? std::vector<int64_t>{qk, 3 * qk, 7 * qk} : std::vector<int64_t>{1, 7, 33, 100, 257};
    for (int64_t n : lengths) {
      std::vector<std::byte> w;
      if (t == DType::F32) {
        const std::vector<float> v = activations(n, rng);
        w.resize(static_cast<size_t>(4 * n));
        std::memcpy(w.data(), v.data(), w.size());
      } else {
        w = test::random_weight_row(t, n, static_cast<uint32_t>(rng()));
      }
      for (int64_t rows : {1, 5, 17}) {
        const int64_t a_row = dtype_bytes(p, n);
        std::vector<std::byte> a(static_cast<size_t>(rows * a_row));
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<float> x = activations(n, rng);
          quantize_activations(p, x.data(), n, a.data() + r * a_row);
        }
        std::vector<float> want(static_cast<size_t>(rows)), got(static_cast<size_t>(rows));
        vec_dot_rows(t, n, w.data(), a.data(), a_row, rows, want.data(), 1, DotIsa::Scalar);
        vec_dot_rows(t, n, w.data(), a.data(), a_row, rows, got.data(), 1, DotIsa::Avx2);
        for (int64_t r = 0; r < rows; ++r) {
          {
            std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
            dequantize_row(t, w.data(), wf.data(), n);
            dequantize_row(p, a.data() + r * a_row, af.data(), n);
            double mag = 0.0;
            for (int64_t i = 0; i < n; ++i)
              mag += std::fabs(static_cast<double>(wf[static_cast<size_t>(i)]) * static_cast<double>(af[static_cast<size_t>(i)]));
            ASSERT_NEAR(got[static_cast<size_t>(r)], want[static_cast<size_t>(r)], 1e-6 * mag) << "n " << n << " row " << r;
          }
        }
      }
    }
  }
  std::printf("[ vec_dot ] kernels in use on this CPU: %s\n", std::string(dot_isa_name(dot_isa())).c_str());
}


// DotOrder::Batched (llama.cpp's order for matmuls over many activation rows): fully specified,
// so every ISA returns the same bits; and it is the same dot product (dequantized reference).
constexpr DType kBatchedTypes[] = {DType::F16, DType::BF16, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<std::byte> weight_row(DType t, int64_t n, std::mt19937& rng) {
  if (dtype_is_quantized(t)) return test::random_weight_row(t, n, static_cast<uint32_t>(rng()));
  const std::vector<float> v = activations(n, rng);
  std::vector<std::byte> w(static_cast<size_t>(dtype_bytes(t, n)));
  quantize_activations(t, v.data(), n, w.data());  // F16 / BF16: rounding to the type
  return w;
}

TEST(QuantVecDot, BatchedOrderMatchesDequantizedDot) {
  std::mt19937 rng(41);
  for (DType t : kBatchedTypes) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    EXPECT_GT(batched_order_min_rows(t), 0);
    const DType p = dot_partner(t);
    for (int64_t n : dtype_is_quantized(t) ? std::vector<int64_t>{256, 768, 1792} : std::vector<int64_t>{8, 40, 264}) {
      const std::vector<std::byte> w = weight_row(t, n, rng);
      const int64_t a_row = dtype_bytes(p, n);
      constexpr int64_t kRows = 9;
      std::vector<std::byte> a(static_cast<size_t>(kRows * a_row));
      for (int64_t r = 0; r < kRows; ++r) {
        const std::vector<float> x = activations(n, rng);
        quantize_activations(p, x.data(), n, a.data() + r * a_row);
      }
      std::vector<float> got(kRows);
      RowDot(t, n, DotIsa::Scalar, DotOrder::Batched)(w.data(), a.data(), a_row, kRows, got.data(), 1);
      const std::vector<float> wf = dequantized(t, w, n);
      for (int64_t r = 0; r < kRows; ++r) {
        std::vector<float> af(static_cast<size_t>(n));
        dequantize_row(p, a.data() + r * a_row, af.data(), n);
        double ref = 0.0, mag = 0.0;
        for (int64_t i = 0; i < n; ++i) {
          const double prod = static_cast<double>(wf[static_cast<size_t>(i)]) * static_cast<double>(af[static_cast<size_t>(i)]);
          ref += prod;
          mag += std::fabs(prod);
        }
        EXPECT_NEAR(got[static_cast<size_t>(r)], ref, 1e-5 * mag + 1e-30) << "n " << n << " row " << r;
      }
    }
  }
  // Formats without a batched order, and 16-bit rows that are not a multiple of 8 values.
  EXPECT_EQ(batched_order_min_rows(DType::Q8_0), 0);
  EXPECT_THROW(RowDot(DType::Q8_0, 64, DotIsa::Scalar, DotOrder::Batched), Error);
  EXPECT_THROW(RowDot(DType::F16, 12, DotIsa::Scalar, DotOrder::Batched), Error);
}

TEST(QuantVecDotIsa, BatchedOrderIsIdenticalOnEveryIsa) {
  if (!dot_isa_available(DotIsa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C; AVX2 kernels not tested";
  std::mt19937 rng(43);
  for (DType t : kBatchedTypes) {
    const DType p = dot_partner(t);
    for (int64_t n : dtype_is_quantized(t) ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{8, 40, 264}) {
      const std::vector<std::byte> w = weight_row(t, n, rng);
      const int64_t a_row = dtype_bytes(p, n);
      for (int64_t rows : {1, 5, 17}) {
        std::vector<std::byte> a(static_cast<size_t>(rows * a_row));
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<float> x = activations(n, rng);
          quantize_activations(p, x.data(), n, a.data() + r * a_row);
        }
        std::vector<float> s(static_cast<size_t>(rows)), v(static_cast<size_t>(rows));
        RowDot(t, n, DotIsa::Scalar, DotOrder::Batched)(w.data(), a.data(), a_row, rows, s.data(), 1);
        RowDot(t, n, DotIsa::Avx2, DotOrder::Batched)(w.data(), a.data(), a_row, rows, v.data(), 1);
        EXPECT_EQ(s, v) << dtype_name(t) << " n " << n << " rows " << rows;
      }
    }
  }
}

// RowDot::block (one activation row: the decode stream kernels; several: the prefill block kernels
// with several weight rows per register tile, 8
// rows in the lanes for Q5_K / Q6_K) gives exactly operator()'s bits for each weight row, for
// weight-row counts around the 3-row panels and 8-row groups and activation rows around the tiles.
// The second weight matrix holds the largest codes (every Q5_K / Q6_K code 31 / 63, activations all
// +-127), the sums the group kernels keep in int16 before widening.
TEST(QuantVecDotIsa, BlockKernelsEqualRowByRowProducts) {
  if (!dot_isa_available(DotIsa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C; AVX2 kernels not tested";
  std::mt19937 rng(47);
  struct Use {
    DType t;
    DotOrder order;
  };
  std::vector<Use> uses;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::F16,
                  DType::BF16})
    uses.push_back({t, DotOrder::VecDot});
  for (DType t : kBatchedTypes) uses.push_back({t, DotOrder::Batched});
  for (const Use& u : uses) {
    const DType p = dot_partner(u.t);
    const int64_t n = dtype_is_quantized(u.t) ? 2 * std::max<int64_t>(256, dtype_info(u.t).block_elems) : 264;
    const int64_t w_row = dtype_bytes(u.t, n), a_row = dtype_bytes(p, n);
    for (bool extreme : {false, true}) {
      if (extreme && u.t != DType::Q5_K && u.t != DType::Q6_K) continue;
      for (int64_t w_rows : {1, 7, 8, 17}) {
        std::vector<std::byte> w;
        for (int64_t j = 0; j < w_rows; ++j) {
          std::vector<std::byte> row = weight_row(u.t, n, rng);
          if (extreme)
            for (int64_t b = 0; b < n / 256; ++b) {  // every code at its largest: ql / qs and qh bytes all ones
              std::byte* blk = row.data() + b * static_cast<int64_t>(dtype_bytes(u.t, 256));
              if (u.t == DType::Q6_K) std::memset(blk, 0xff, offsetof(BlockQ6_K, scales));
              else std::memset(blk + offsetof(BlockQ5_K, qh), 0xff, sizeof(BlockQ5_K::qh) + sizeof(BlockQ5_K::qs));
            }
          w.insert(w.end(), row.begin(), row.end());
        }
        for (int64_t rows : {1, 2, 3, 16, 17, 33, 70}) {  // 1: the decode (stream) kernels
          std::vector<std::byte> a(static_cast<size_t>(rows * a_row));
          for (int64_t r = 0; r < rows; ++r) {
            std::vector<float> x = activations(n, rng);
            if (extreme) std::fill(x.begin(), x.end(), r % 2 == 0 ? 3.0f : -3.0f);
            quantize_activations(p, x.data(), n, a.data() + r * a_row);
          }
          for (DotIsa isa : {DotIsa::Avx2, DotIsa::Avx512}) {
            if (!dot_isa_available(isa)) continue;  // Avx512: its own test below says when it is skipped
            const RowDot dot(u.t, n, isa, u.order);
            std::vector<float> got(static_cast<size_t>(rows * w_rows)), want(got.size()), col(static_cast<size_t>(rows));
            dot.block(w.data(), w_row, w_rows, a.data(), a_row, rows, got.data(), w_rows);
            for (int64_t j = 0; j < w_rows; ++j) {
              dot(w.data() + j * w_row, a.data(), a_row, rows, col.data(), 1);
              for (int64_t r = 0; r < rows; ++r) want[static_cast<size_t>(r * w_rows + j)] = col[static_cast<size_t>(r)];
            }
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
                << dot_isa_name(isa) << " " << dtype_name(u.t) << (u.order == DotOrder::Batched ? " batched" : " vec_dot")
                << (extreme ? " extreme" : "") << " weight rows " << w_rows << " activation rows " << rows;
          }
        }
      }
    }
  }
}

// The AVX-512 block kernels give the AVX2 block kernels' bits (vec_dot_kernels.h), at row lengths
// of odd block counts (1, 3, 7, 9, 17, 36 blocks, or chunks of 8 for F16 / BF16: one 8-block scale
// group, a partial one, several),
// weight-row counts around the 4-row panels and odd activation-row counts (a row paired with zeros;
// one row: the decode stream kernels),
// on random codes and on the extremes: every code at its largest magnitude (Q8_0: -128 and 127,
// Q5_0: 0 and 31) against activations of +-127.
TEST(QuantVecDotIsa, Avx512BlockKernelsGiveTheAvx2Bits) {
  if (!dot_isa_available(DotIsa::Avx512))
    GTEST_SKIP() << "this CPU (or build) has no AVX-512 F/BW/VL/DQ + VNNI; AVX-512 kernels not tested";
  std::mt19937 rng(61);
  struct Use {
    DType t;
    DotOrder order;
  };
  for (const Use u : {Use{DType::Q4_0, DotOrder::VecDot}, Use{DType::Q5_0, DotOrder::VecDot},
                      Use{DType::Q8_0, DotOrder::VecDot}, Use{DType::Q4_1, DotOrder::VecDot},
                      Use{DType::F16, DotOrder::Batched}, Use{DType::BF16, DotOrder::Batched},
                      Use{DType::Q4_K, DotOrder::Batched}, Use{DType::Q5_K, DotOrder::Batched},
                      Use{DType::Q6_K, DotOrder::Batched}}) {
    const DType t = u.t, p = dot_partner(t);
    // Float rows: 8 values per "block" (the batched order's chunk).
    const int64_t qk = dtype_is_quantized(t) ? std::max(dtype_info(t).block_elems, dtype_info(p).block_elems) : 8;
    for (int64_t blocks : {1, 3, 7, 9, 17, 36}) {
      const int64_t n = blocks * qk;
      if (qk == kQK_K && blocks > 9) continue;
      const int64_t w_row = dtype_bytes(t, n), a_row = dtype_bytes(p, n);
      for (bool extreme : {false, true}) {
        if (extreme && t != DType::Q8_0 && t != DType::Q5_0) continue;
        for (int64_t w_rows : {1, 3, 4, 5, 9, 17}) {
          std::vector<std::byte> w;
          for (int64_t j = 0; j < w_rows; ++j) {
            std::vector<std::byte> row = weight_row(t, n, rng);
            if (extreme)
              for (int64_t b = 0; b < blocks; ++b) {
                std::byte* blk = row.data() + b * static_cast<int64_t>(dtype_bytes(t, kQK));
                const std::byte fill{static_cast<unsigned char>((j + b) % 2 == 0 ? 0x80 : 0x7f)};
                if (t == DType::Q8_0) std::memset(blk + offsetof(BlockQ8_0, qs), static_cast<int>(fill), sizeof(BlockQ8_0::qs));
                else std::memset(blk + offsetof(BlockQ5_0, qh), (j + b) % 2 == 0 ? 0x00 : 0xff, 4 + sizeof(BlockQ5_0::qs));
              }
            w.insert(w.end(), row.begin(), row.end());
          }
          for (int64_t rows : {1, 2, 3, 7, 8, 9, 17, 33}) {  // 1: the decode (stream) kernels
            std::vector<std::byte> a(static_cast<size_t>(rows * a_row));
            for (int64_t r = 0; r < rows; ++r) {
              std::vector<float> x = activations(n, rng);
              if (extreme)
                for (size_t i = 0; i < x.size(); ++i) x[i] = (i + static_cast<size_t>(r)) % 3 == 0 ? -3.0f : 3.0f;
              quantize_activations(p, x.data(), n, a.data() + r * a_row);
            }
            std::vector<float> want(static_cast<size_t>(rows * w_rows)), got(want.size());
            RowDot(t, n, DotIsa::Avx2, u.order).block(w.data(), w_row, w_rows, a.data(), a_row, rows, want.data(), w_rows);
            RowDot(t, n, DotIsa::Avx512, u.order).block(w.data(), w_row, w_rows, a.data(), a_row, rows, got.data(), w_rows);
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
                << dtype_name(t) << (extreme ? " extreme" : "") << " n " << n << " weight rows " << w_rows
                << " activation rows " << rows;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace gemrt::quant
