// CPU kernels against direct double-precision references (spec §1.1, §1.2, §1.6, §1.7).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/core/tensor.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/dequantize.h"
#include "gemrt/quant/row_group_dot.h"
#include "gemrt/quant/vec_dot.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// A weight tensor in `dtype` holding `vals` (rounded to nearest even); `decoded` gets the values
// the tensor really holds, as float32.
HostTensor make_weight(const std::string& name, Shape shape, DType dtype, const std::vector<float>& vals,
                       std::vector<float>* decoded) {
  decoded->resize(vals.size());
  if (dtype == DType::F32) {
    *decoded = vals;
    return HostTensor::from<float>(name, std::move(shape), dtype, vals);
  }
  std::vector<uint16_t> h(vals.size());
  for (size_t i = 0; i < vals.size(); ++i) {
    h[i] = dtype == DType::BF16 ? f32_to_bf16(vals[i]) : f32_to_f16(vals[i]);
    (*decoded)[i] = dtype == DType::BF16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
  }
  return HostTensor::from<uint16_t>(name, std::move(shape), dtype, h);
}

std::vector<float> nan_vec(size_t n) { return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()); }

// ---------------------------------------------------------------------------------------------
// matmul

// out [T, N] vs sum_k x[t, k] * w[n, k] in double; the tolerance scales with sum |x w|.
void check_matmul(const std::vector<float>& x, const std::vector<float>& w, int64_t t, int64_t n, int64_t k,
                  const std::vector<float>& out, const std::string& what) {
  ASSERT_EQ(out.size(), static_cast<size_t>(t * n)) << what;
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0.0, mag = 0.0;
      for (int64_t q = 0; q < k; ++q) {
        const double p = static_cast<double>(x[static_cast<size_t>(i * k + q)]) * static_cast<double>(w[static_cast<size_t>(j * k + q)]);
        ref += p;
        mag += std::fabs(p);
      }
      const double got = static_cast<double>(out[static_cast<size_t>(i * n + j)]);
      ASSERT_TRUE(std::isfinite(got)) << what << " out[" << i << ", " << j << "] not written";
      ASSERT_NEAR(got, ref, 1e-5 * mag + 1e-30) << what << " out[" << i << ", " << j << "]";
    }
}

TEST(CpuKernels, MatMulMatchesReferenceForEveryDtypeAndAwkwardSizes) {
  ThreadPool pool(3);
  uint32_t seed = 100;
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t k : {1, 7, 13, 64, 129}) {
      for (int64_t n : {1, 5, 33}) {
        for (int64_t t : {1, 3}) {
          const std::string what = std::string(dtype_name(dt)) + " T=" + std::to_string(t) + " N=" + std::to_string(n) +
                                   " K=" + std::to_string(k);
          const std::vector<float> x = random_vec(static_cast<size_t>(t * k), ++seed);
          std::vector<float> wd;
          const HostTensor w = make_weight("w", Shape{n, k}, dt, random_vec(static_cast<size_t>(n * k), ++seed), &wd);
          std::vector<float> out = nan_vec(static_cast<size_t>(t * n));
          cpu::matmul(x.data(), t, w.view(), out.data(), pool);
          check_matmul(x, wd, t, n, k, out, what);
        }
      }
    }
  }
}

double gelu_tanh_ref(double x);  // defined with the activation tests below

// The fast matmul: rows of x rounded to the weight format's partner type, then block dot
// products. Exact reference: float64 sums of the dequantized weights times the dequantized
// rounded activations. Sizes: 1 and 3 blocks per row, N not a multiple of the thread chunk.
TEST(CpuKernels, MatMulFastEqualsRoundedActivationsTimesWeights) {
  ThreadPool pool(3);
  std::vector<std::byte> scratch;
  uint32_t seed = 500;
  for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                   DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const DType partner = quant::dot_partner(dt);
    const int64_t block = std::max<int64_t>(32, dtype_info(dt).block_elems);
    for (int64_t blocks : {1, 3}) {
      const int64_t k = blocks * block;
      for (int64_t n : {1, 37}) {
        for (int64_t t : {1, 3}) {
          const std::string what = std::string(dtype_name(dt)) + " T=" + std::to_string(t) + " N=" + std::to_string(n) +
                                   " K=" + std::to_string(k);
          HostTensor w{"w", dt, Shape{n, k}, {}};
          if (dt == DType::F32) {
            const std::vector<float> v = random_vec(static_cast<size_t>(n * k), ++seed);
            w = HostTensor::from<float>("w", Shape{n, k}, dt, v);
          } else {
            w.bytes = test::random_weight_row(dt, n * k, ++seed);
          }
          std::vector<float> wd(static_cast<size_t>(n * k));
          quant::dequantize_row(dt, w.bytes.data(), wd.data(), n * k);
          const std::vector<float> x = random_vec(static_cast<size_t>(t * k), ++seed, -3.0f, 3.0f);
          std::vector<float> xr(x.size());  // x as the kernel rounds it
          std::vector<std::byte> q(static_cast<size_t>(dtype_bytes(partner, k)));
          for (int64_t i = 0; i < t; ++i) {
            quant::quantize_activations(partner, x.data() + i * k, k, q.data());
            quant::dequantize_row(partner, q.data(), xr.data() + i * k, k);
          }
          std::vector<float> out = nan_vec(static_cast<size_t>(t * n));
          cpu::matmul_fast(x.data(), t, w.view(), out.data(), pool, scratch);
          // Q4_1 / Q5_1 use Q8_1's stored block sums: take them out of the result before comparing.
          const int64_t w_row = dtype_bytes(dt, k);
          for (int64_t i = 0; i < t; ++i) {
            quant::quantize_activations(partner, x.data() + i * k, k, q.data());
            for (int64_t j = 0; j < n; ++j)
              out[static_cast<size_t>(i * n + j)] -= static_cast<float>(
                  test::q8_1_offset_correction(dt, w.bytes.data() + j * w_row, q.data(), k));
          }
          check_matmul(xr, wd, t, n, k, out, what);
        }
      }
    }
  }
}

// matmul_fast picks llama.cpp's kernel (and so its float32 order) for each weight format, row
// count and batch size: the 8-row interleaved kernels for Q4_0 / Q4_K with 8 | N (GEMM grain for the
// first T - T % 4 rows, GEMV grain for the rest), its batched orders from 8 rows (K-quants) or 2
// rows (F16 / BF16 with 8 | K and 4 | N), its one-row kernels otherwise.
TEST(CpuKernels, MatMulFastUsesLlamaCppsKernelForEachShape) {
  ThreadPool pool(2);
  std::vector<std::byte> scratch;
  struct Case {
    DType dt;
    int64_t n, k, t;
    const char* expect;  // "group", "batched", "vecdot"
  };
  const Case cases[] = {{DType::Q4_K, 16, 512, 7, "group"},   {DType::Q4_0, 8, 64, 5, "group"},
                        {DType::Q4_K, 12, 256, 9, "batched"}, {DType::Q4_K, 12, 256, 3, "vecdot"},
                        {DType::Q6_K, 5, 256, 8, "batched"},  {DType::Q6_K, 5, 256, 7, "vecdot"},
                        {DType::F16, 8, 64, 2, "batched"},    {DType::F16, 6, 64, 2, "vecdot"},
                        {DType::BF16, 4, 40, 3, "batched"},   {DType::Q8_0, 8, 64, 9, "vecdot"},
                        {DType::Q5_0, 7, 96, 6, "vecdot"},    {DType::Q4_1, 5, 64, 5, "vecdot"},
                        {DType::Q4_0, 12, 64, 9, "vecdot"},   {DType::Q5_1, 3, 32, 1, "vecdot"}};
  uint32_t seed = 900;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << dtype_name(c.dt) << " N=" << c.n << " K=" << c.k << " T=" << c.t);
    HostTensor w{"w", c.dt, Shape{c.n, c.k}, test::random_weight_row(c.dt, c.n * c.k, ++seed)};
    const std::vector<float> x = random_vec(static_cast<size_t>(c.t * c.k), ++seed, -3.0f, 3.0f);
    std::vector<float> out = nan_vec(static_cast<size_t>(c.t * c.n));
    cpu::matmul_fast(x.data(), c.t, w.view(), out.data(), pool, scratch);
    const DType p = quant::dot_partner(c.dt);
    const int64_t a_row = dtype_bytes(p, c.k), w_row = dtype_bytes(c.dt, c.k);
    std::vector<std::byte> a(static_cast<size_t>(c.t * a_row));
    for (int64_t i = 0; i < c.t; ++i) quant::quantize_activations(p, x.data() + i * c.k, c.k, a.data() + i * a_row);
    std::vector<float> want(static_cast<size_t>(c.t * c.n));
    const std::string kind = c.expect;
    if (kind == "group") {
      const quant::RowGroupDot dot(c.dt, c.k);
      for (int64_t g = 0; g < c.n / quant::kRowGroup; ++g)
        for (int64_t i = 0; i < c.t; ++i)
          dot(w.bytes.data() + g * quant::kRowGroup * w_row, w_row, a.data() + i * a_row, a_row, 1,
              quant::fold_grain(i, c.t), want.data() + i * c.n + g * quant::kRowGroup, c.n);
    } else {
      const quant::RowDot dot(c.dt, c.k, quant::dot_isa(), kind == "batched" ? quant::DotOrder::Batched : quant::DotOrder::VecDot);
      for (int64_t j = 0; j < c.n; ++j) dot(w.bytes.data() + j * w_row, a.data(), a_row, c.t, want.data() + j, c.n);
    }
    EXPECT_EQ(out, want);
  }
}

// One activation row against several weights in one loop (decode's q/k/v, gate/up): each product
// is bit-identical to matmul_fast's for that weight alone, whatever mixture of kernels (8-row
// groups, one-row stream kernels) and activation partner types the weights need.
TEST(CpuKernels, MatMulFastRowEqualsMatMulFastPerWeight) {
  ThreadPool pool(2);
  std::vector<std::byte> scratch, scratch_one;
  const int64_t k = 512;
  const std::vector<std::vector<std::pair<DType, int64_t>>> groups = {
      {{DType::Q5_0, 64}, {DType::Q5_0, 16}, {DType::Q8_0, 16}},                   // Q4_K_M's q, k, v
      {{DType::Q4_K, 40}, {DType::Q6_K, 24}, {DType::F16, 8}, {DType::Q4_0, 96}},  // groups + streams
      {{DType::BF16, 8}, {DType::Q5_1, 16}}};
  uint32_t seed = 1300;
  for (const auto& group : groups) {
    std::vector<HostTensor> ws;
    for (const auto& [dt, n] : group) ws.push_back({"w", dt, Shape{n, k}, test::random_weight_row(dt, n * k, ++seed)});
    const std::vector<float> x = random_vec(static_cast<size_t>(k), ++seed, -3.0f, 3.0f);
    std::vector<TensorView> views;
    for (const HostTensor& w : ws) views.push_back(w.view());
    std::vector<const TensorView*> w_ptrs;
    std::vector<std::vector<float>> outs;
    std::vector<float*> out_ptrs;
    for (size_t i = 0; i < ws.size(); ++i) {
      w_ptrs.push_back(&views[i]);
      outs.push_back(nan_vec(static_cast<size_t>(ws[i].shape[0])));
    }
    for (auto& o : outs) out_ptrs.push_back(o.data());
    ASSERT_TRUE(cpu::matmul_fast_row(x.data(), w_ptrs, out_ptrs, pool, scratch));
    for (size_t i = 0; i < ws.size(); ++i) {
      SCOPED_TRACE(testing::Message() << "weight " << i << " " << dtype_name(ws[i].dtype));
      std::vector<float> want = nan_vec(outs[i].size());
      cpu::matmul_fast(x.data(), 1, views[i], want.data(), pool, scratch_one);
      EXPECT_EQ(outs[i], want);
    }
  }
}

TEST(CpuKernels, MatMulFastRowDeclinesWeightsItCannotGroup) {
  ThreadPool pool(2);
  std::vector<std::byte> scratch;
  const std::vector<float> x = random_vec(64, 1, -1.0f, 1.0f);
  std::vector<float> o1(16), o2(16);
  std::vector<float*> outs = {o1.data(), o2.data()};
  auto check = [&](DType d1, int64_t n1, int64_t k1, DType d2, int64_t n2) {
    const HostTensor a{"a", d1, Shape{n1, k1}, test::random_weight_row(d1, n1 * k1, 7)};
    const HostTensor b{"b", d2, Shape{n2, 64}, test::random_weight_row(d2, n2 * 64, 8)};
    const TensorView va = a.view(), vb = b.view();
    const std::vector<const TensorView*> ws = {&va, &vb};
    return cpu::matmul_fast_row(x.data(), ws, outs, pool, scratch);
  };
  EXPECT_FALSE(check(DType::F32, 16, 64, DType::Q8_0, 16));  // float32 weights take matmul's path
  EXPECT_FALSE(check(DType::Q8_0, 12, 64, DType::Q8_0, 16));  // rows not a multiple of 8
  EXPECT_FALSE(check(DType::Q8_0, 16, 32, DType::Q8_0, 16));  // different K
  EXPECT_TRUE(check(DType::Q8_0, 16, 64, DType::F16, 8));
  const HostTensor q{"q", DType::Q8_0, Shape{8, 64}, test::random_weight_row(DType::Q8_0, 8 * 64, 9)};
  const TensorView vq = q.view();
  const std::vector<const TensorView*> nine(9, &vq);
  std::vector<float> o9(8 * 9);
  std::vector<float*> outs9;
  for (int i = 0; i < 9; ++i) outs9.push_back(o9.data() + 8 * i);
  EXPECT_FALSE(cpu::matmul_fast_row(x.data(), nine, outs9, pool, scratch));  // more than 8 products
  EXPECT_TRUE(cpu::matmul_fast_row(x.data(), std::span(nine).first(8), std::span(outs9).first(8), pool, scratch));
}

TEST(CpuKernels, GeluF16TableRoundsInputAndOutputToF16) {
  const std::vector<float> xs = random_vec(2000, 77, -12.0f, 12.0f);
  for (float x : xs) {
    float want;
    if (x <= -10.0f) want = 0.0f;
    else if (x >= 10.0f) want = x;
    else {
      // llama.cpp's table entry: its GELU formula in float32 as its build evaluates it (one FMA).
      const float h = f16_to_f32(f32_to_f16(x));
      const float g = 0.5f * h * (1.0f + std::tanh((0.7978845608f * h) * std::fma(0.044715f * h, h, 1.0f)));
      want = f16_to_f32(f32_to_f16(g));
    }
    ASSERT_EQ(cpu::gelu_tanh_f16_table(x), want) << x;
    // Within f16 rounding of the exact GELU (input and output rounding: a few units of 2^-11).
    if (std::fabs(x) < 10.0f) {
      const double tol = 4e-3 * (std::fabs(static_cast<double>(x)) + 0.05);
      ASSERT_NEAR(cpu::gelu_tanh_f16_table(x), gelu_tanh_ref(x), tol) << x;
    }
  }
  ThreadPool pool(2);
  const std::vector<float> gate = random_vec(1001, 78, -6.0f, 6.0f), up = random_vec(1001, 79);
  std::vector<float> out = nan_vec(gate.size());
  cpu::gated_act(gate.data(), up.data(), 1001, Activation::GeluTanh, Numerics::Fast, out.data(), pool);
  for (size_t i = 0; i < gate.size(); ++i) ASSERT_EQ(out[i], cpu::gelu_tanh_f16_table(gate[i]) * up[i]) << i;
}

TEST(CpuKernels, MatMulReadsMisalignedWeights) {
  ThreadPool pool(2);
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    for (int64_t k : {7, 64, 129}) {
      const int64_t n = 33, t = 3;
      const std::vector<float> x = random_vec(static_cast<size_t>(t * k), 7u + static_cast<uint32_t>(k));
      std::vector<float> wd;
      const HostTensor w = make_weight("w", Shape{n, k}, dt, random_vec(static_cast<size_t>(n * k), 9), &wd);
      // Copy the weight bytes 2 (F32) or 1 (16-bit) bytes into a buffer: not aligned for its element type.
      const size_t shift = dt == DType::F32 ? 2 : 1;
      std::vector<std::byte> buf(w.bytes.size() + 8);
      std::memcpy(buf.data() + shift, w.bytes.data(), w.bytes.size());
      TensorView view = w.view();
      view.name = "misaligned";
      view.data = buf.data() + shift;
      ASSERT_NE(reinterpret_cast<uintptr_t>(view.data) % (dt == DType::F32 ? 4 : 2), 0u);
      std::vector<float> out = nan_vec(static_cast<size_t>(t * n));
      cpu::matmul(x.data(), t, view, out.data(), pool);
      check_matmul(x, wd, t, n, k, out, std::string("misaligned ") + std::string(dtype_name(dt)) + " K=" + std::to_string(k));
    }
  }
}

TEST(CpuKernels, MatMulF16AndBF16ReadTheStoredBitsNotRoundedFloat32) {
  // 1 + 2^-9 is exact in F16 (10 mantissa bits) but rounds to 1 in BF16 (7 bits).
  ThreadPool pool(1);
  const float v = 1.0f + 1.0f / 512.0f;
  const std::vector<float> x{1.0f};
  std::vector<float> dec;
  float out = 0.0f;
  const HostTensor h = make_weight("h", Shape{1, 1}, DType::F16, {v}, &dec);
  cpu::matmul(x.data(), 1, h.view(), &out, pool);
  EXPECT_EQ(out, v);
  const HostTensor b = make_weight("b", Shape{1, 1}, DType::BF16, {v}, &dec);
  cpu::matmul(x.data(), 1, b.view(), &out, pool);
  EXPECT_EQ(out, 1.0f);
}

// ---------------------------------------------------------------------------------------------
// rms_norm

// y = x / sqrt(mean(x^2) + eps) * gain over groups of `dim`, gain = offset + w (or 1), in double.
std::vector<double> rms_ref(const std::vector<float>& x, int64_t dim, const std::vector<float>* w, float offset, float eps) {
  std::vector<double> y(x.size());
  for (size_t g = 0; g < x.size() / static_cast<size_t>(dim); ++g) {
    const size_t base = g * static_cast<size_t>(dim);
    double ss = 0.0;
    for (size_t i = 0; i < static_cast<size_t>(dim); ++i) ss += static_cast<double>(x[base + i]) * static_cast<double>(x[base + i]);
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(dim) + static_cast<double>(eps));
    for (size_t i = 0; i < static_cast<size_t>(dim); ++i) {
      const double gain = w ? static_cast<double>(offset) + static_cast<double>((*w)[i]) : 1.0;
      y[base + i] = static_cast<double>(x[base + i]) * inv * gain;
    }
  }
  return y;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& ref, double rel, double abs,
                  const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(static_cast<double>(got[i]), ref[i], rel * std::fabs(ref[i]) + abs) << what << " at " << i;
}

std::vector<float> run_norm(const std::vector<float>& x, const TensorView* w, const RmsNormAttrs& a, ThreadPool& pool) {
  std::vector<float> out = nan_vec(x.size());
  cpu::rms_norm(x.data(), static_cast<int64_t>(x.size()), w, a, out.data(), pool);
  return out;
}

TEST(CpuKernels, RmsNormGemmaOffsetOne) {
  ThreadPool pool(3);
  const int64_t t = 5, d = 40;
  for (DType dt : {DType::F32, DType::BF16}) {
    for (float eps : {1e-6f, 1e-2f}) {
      const std::vector<float> x = random_vec(static_cast<size_t>(t * d), 1, -3.0f, 3.0f);
      std::vector<float> wd;
      const HostTensor w = make_weight("norm.weight", Shape{d}, dt, random_vec(static_cast<size_t>(d), 2, -0.5f, 0.5f), &wd);
      const TensorView wv = w.view();
      const std::vector<float> y = run_norm(x, &wv, RmsNormAttrs{d, eps, 1.0f, true}, pool);
      expect_close(y, rms_ref(x, d, &wd, 1.0f, eps), 1e-6, 1e-7, std::string("offset 1 ") + std::string(dtype_name(dt)));
    }
  }
  // eps sits inside the square root: with tiny activations it dominates mean(x^2).
  const std::vector<float> tiny = random_vec(static_cast<size_t>(t * d), 3, -1e-3f, 1e-3f);
  std::vector<float> wd;
  const HostTensor w = make_weight("norm.weight", Shape{d}, DType::F32, random_vec(static_cast<size_t>(d), 4), &wd);
  const TensorView wv = w.view();
  expect_close(run_norm(tiny, &wv, RmsNormAttrs{d, 1e-6f, 1.0f, true}, pool), rms_ref(tiny, d, &wd, 1.0f, 1e-6f), 1e-6,
               1e-9, "tiny activations");
}

TEST(CpuKernels, RmsNormOffsetZeroAndWeightless) {
  ThreadPool pool(2);
  const int64_t t = 3, d = 24;
  const std::vector<float> x = random_vec(static_cast<size_t>(t * d), 11, -5.0f, 5.0f);
  std::vector<float> wd;
  const HostTensor w = make_weight("norm.weight", Shape{d}, DType::F32, random_vec(static_cast<size_t>(d), 12, 0.5f, 2.0f), &wd);
  const TensorView wv = w.view();
  expect_close(run_norm(x, &wv, RmsNormAttrs{d, 1e-6f, 0.0f, true}, pool), rms_ref(x, d, &wd, 0.0f, 1e-6f), 1e-6, 1e-7,
               "offset 0");
  expect_close(run_norm(x, nullptr, RmsNormAttrs{d, 1e-6f, 1.0f, false}, pool), rms_ref(x, d, nullptr, 0.0f, 1e-6f), 1e-6,
               1e-7, "weightless");
  // Weightless output has unit RMS per row.
  const std::vector<float> y = run_norm(x, nullptr, RmsNormAttrs{d, 0.0f, 0.0f, false}, pool);
  for (int64_t r = 0; r < t; ++r) {
    double ss = 0.0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(y[static_cast<size_t>(r * d + i)]) * static_cast<double>(y[static_cast<size_t>(r * d + i)]);
    EXPECT_NEAR(ss / static_cast<double>(d), 1.0, 1e-5) << "row " << r;
  }
}

TEST(CpuKernels, RmsNormGroupedPerHead) {
  // q/k norm: dim = head_dim over [T, H * head_dim]; every head is normalised on its own and
  // shares the [head_dim] weight.
  ThreadPool pool(3);
  const int64_t t = 3, heads = 4, hd = 16;
  std::vector<float> x = random_vec(static_cast<size_t>(t * heads * hd), 21);
  for (int64_t r = 0; r < t; ++r)  // very different scales per head
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < hd; ++i) x[static_cast<size_t>((r * heads + h) * hd + i)] *= std::pow(10.0f, static_cast<float>(h) - 1.0f);
  std::vector<float> wd;
  const HostTensor w = make_weight("q_norm.weight", Shape{hd}, DType::BF16, random_vec(static_cast<size_t>(hd), 22), &wd);
  const TensorView wv = w.view();
  const std::vector<float> y = run_norm(x, &wv, RmsNormAttrs{hd, 1e-6f, 1.0f, true}, pool);
  expect_close(y, rms_ref(x, hd, &wd, 1.0f, 1e-6f), 1e-6, 1e-7, "grouped");
  // Sanity: normalising whole rows gives something else.
  const std::vector<double> whole = rms_ref(x, heads * hd, nullptr, 0.0f, 1e-6f);
  double max_diff = 0.0;
  for (size_t i = 0; i < y.size(); ++i) max_diff = std::max(max_diff, std::fabs(static_cast<double>(y[i]) - whole[i]));
  EXPECT_GT(max_diff, 0.5);
}

// ---------------------------------------------------------------------------------------------
// Elementwise

TEST(CpuKernels, SoftCapMatchesTanhFormula) {
  std::vector<float> x;
  for (int i = -400; i <= 400; ++i) x.push_back(static_cast<float>(i) * 0.5f);
  x.push_back(1e-30f);
  x.push_back(-1e4f);
  for (float cap : {30.0f, 50.0f, 1.0f}) {
    std::vector<float> out = nan_vec(x.size());
    cpu::soft_cap(x.data(), static_cast<int64_t>(x.size()), cap, out.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const double ref = static_cast<double>(cap) * std::tanh(static_cast<double>(x[i]) / static_cast<double>(cap));
      ASSERT_NEAR(static_cast<double>(out[i]), ref, 1e-6 * static_cast<double>(cap) * (std::fabs(ref) / static_cast<double>(cap) + 1e-3))
          << "cap " << cap << " x " << x[i];
      EXPECT_LE(std::fabs(out[i]), cap);
    }
  }
}

double gelu_tanh_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}
double gelu_erf_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); }

TEST(CpuKernels, GeluTanhAndErfMatchTheirFormulas) {
  std::vector<float> xs;
  for (int i = -1000; i <= 1000; ++i) xs.push_back(static_cast<float>(i) * 0.01f);  // [-10, 10]
  for (float v : {1e-7f, -1e-7f, 0.0f, 20.0f, -20.0f}) xs.push_back(v);
  double max_tanh_vs_erf = 0.0;
  for (float x : xs) {
    const double xd = static_cast<double>(x);
    const double tol = 1e-6 * (1.0 + std::fabs(xd));
    EXPECT_NEAR(static_cast<double>(cpu::gelu_tanh(x)), gelu_tanh_ref(xd), tol) << "gelu_tanh(" << x << ")";
    EXPECT_NEAR(static_cast<double>(cpu::gelu_erf(x)), gelu_erf_ref(xd), tol) << "gelu_erf(" << x << ")";
    max_tanh_vs_erf = std::max(max_tanh_vs_erf, std::fabs(gelu_tanh_ref(xd) - gelu_erf_ref(xd)));
  }
  EXPECT_GT(max_tanh_vs_erf, 1e-4);  // the tolerance above tells the two apart
  EXPECT_EQ(cpu::gelu_tanh(0.0f), 0.0f);
  EXPECT_EQ(cpu::gelu_erf(0.0f), 0.0f);
  // Known values: GELU(1) = Phi(1) = 0.8413447460685429; tanh approximation 0.8411919906082768.
  EXPECT_NEAR(static_cast<double>(cpu::gelu_erf(1.0f)), 0.8413447460685429, 1e-6);
  EXPECT_NEAR(static_cast<double>(cpu::gelu_tanh(1.0f)), 0.8411919906082768, 1e-6);
}

TEST(CpuKernels, GatedActMultipliesActivatedGateByUp) {
  ThreadPool pool(3);
  const size_t n = 10007;  // several parallel chunks, ragged end
  const std::vector<float> gate = random_vec(n, 31, -6.0f, 6.0f);
  const std::vector<float> up = random_vec(n, 32, -2.0f, 2.0f);
  for (Activation act : {Activation::GeluTanh, Activation::GeluErf}) {
    std::vector<float> out = nan_vec(n);
    cpu::gated_act(gate.data(), up.data(), static_cast<int64_t>(n), act, Numerics::Precise, out.data(), pool);
    for (size_t i = 0; i < n; ++i) {
      const double g = static_cast<double>(gate[i]);
      const double ref = (act == Activation::GeluTanh ? gelu_tanh_ref(g) : gelu_erf_ref(g)) * static_cast<double>(up[i]);
      ASSERT_NEAR(static_cast<double>(out[i]), ref, 1e-6 * (1.0 + std::fabs(g)) * 2.0)
          << (act == Activation::GeluTanh ? "tanh" : "erf") << " at " << i;
    }
  }
}

TEST(CpuKernels, AddIsElementwise) {
  const std::vector<float> a = random_vec(37, 41), b = random_vec(37, 42);
  std::vector<float> out = nan_vec(a.size());
  cpu::add(a.data(), b.data(), static_cast<int64_t>(a.size()), out.data());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(out[i], a[i] + b[i]) << i;
}

// ---------------------------------------------------------------------------------------------
// embed

TEST(CpuKernels, EmbedGathersScaledRows) {
  ThreadPool pool(2);
  const int64_t v = 9, d = 12;
  const std::vector<int32_t> ids{3, 0, 8, 3, 5};
  // Gemma 1 7B: sqrt(3072) rounded to bf16 = 55.5 (spec §1.2).
  const float scale = bf16_to_f32(f32_to_bf16(std::sqrt(3072.0f)));
  EXPECT_EQ(scale, 55.5f);
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    std::vector<float> td;
    const HostTensor table = make_weight("embed_tokens", Shape{v, d}, dt, random_vec(static_cast<size_t>(v * d), 51), &td);
    std::vector<float> out = nan_vec(ids.size() * static_cast<size_t>(d));
    cpu::embed(table.view(), ids.data(), static_cast<int64_t>(ids.size()), scale, -1, out.data(), pool);
    for (size_t r = 0; r < ids.size(); ++r)
      for (size_t j = 0; j < static_cast<size_t>(d); ++j)
        ASSERT_EQ(out[r * static_cast<size_t>(d) + j], td[static_cast<size_t>(ids[r]) * static_cast<size_t>(d) + j] * scale)
            << dtype_name(dt) << " row " << r << " col " << j;
  }
}

TEST(CpuKernels, EmbedRejectsIdsOutsideTheVocabulary) {
  ThreadPool pool(1);
  const int64_t v = 9, d = 4;
  std::vector<float> td;
  const HostTensor table = make_weight("model.embed_tokens.weight", Shape{v, d}, DType::F32,
                                       random_vec(static_cast<size_t>(v * d), 61), &td);
  for (int32_t bad : {12345, -7, 9}) {
    const std::vector<int32_t> ids{1, bad, 2};
    std::vector<float> out(ids.size() * static_cast<size_t>(d));
    try {
      cpu::embed(table.view(), ids.data(), static_cast<int64_t>(ids.size()), 1.0f, -1, out.data(), pool);
      ADD_FAILURE() << "id " << bad << " accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("id " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("model.embed_tokens.weight"), std::string::npos) << msg;
    }
  }
}

// Gemma 3n's per-layer embeddings: ids beyond the table read the fallback row instead of failing.
TEST(CpuKernels, EmbedFallbackRowServesIdsOutsideTheTable) {
  ThreadPool pool(1);
  const int64_t v = 5, d = 3;
  std::vector<float> td;
  const HostTensor table = make_weight("ple", Shape{v, d}, DType::F32, random_vec(static_cast<size_t>(v * d), 62), &td);
  const std::vector<int32_t> ids{4, 5, 262145, 2, -1};
  std::vector<float> out = nan_vec(ids.size() * static_cast<size_t>(d));
  cpu::embed(table.view(), ids.data(), static_cast<int64_t>(ids.size()), 2.0f, 0, out.data(), pool);
  const int32_t read[] = {4, 0, 0, 2, 0};
  for (size_t r = 0; r < ids.size(); ++r)
    for (size_t j = 0; j < static_cast<size_t>(d); ++j)
      EXPECT_EQ(out[r * static_cast<size_t>(d) + j], td[static_cast<size_t>(read[r]) * static_cast<size_t>(d) + j] * 2.0f)
          << "row " << r;
}

// ---------------------------------------------------------------------------------------------
// Gemma 3n row ops (graph/ir.h Combine, RmsRescale, MulVec, GaussianTopK), against double
// references; the float32 results are within a few units of 2^-24 of them.

TEST(CpuKernels, CombineWeighsInputsByCoefficientColumnsPlusBias) {
  const int64_t t = 3, d = 17, c = 5;
  const std::vector<float> a = random_vec(t * d, 71), b = random_vec(t * d, 72), e = random_vec(t * d, 73);
  const std::vector<float> coefs = random_vec(t * c, 74);
  // AltUp predict / correct shapes: two coefficient columns and an identity term; then a plain
  // difference without coefficients.
  const CombineAttrs with{{4, 1, -1}, {0.0f, 1.0f, 1.0f}};
  std::vector<float> out = nan_vec(static_cast<size_t>(t * d));
  const float* xs[] = {a.data(), b.data(), e.data()};
  cpu::combine(xs, coefs.data(), t, d, c, with, out.data());
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < d; ++j) {
      const size_t i = static_cast<size_t>(r * d + j);
      const double ai = a[i], bi = b[i], ei = e[i];
      const double want = double{coefs[static_cast<size_t>(r * c + 4)]} * ai +
                          (1.0 + double{coefs[static_cast<size_t>(r * c + 1)]}) * bi + ei;
      EXPECT_NEAR(out[i], want, 1e-6 * (std::fabs(ai) + 2 * std::fabs(bi) + std::fabs(ei))) << r << "," << j;
    }
  const CombineAttrs diff{{-1, -1}, {1.0f, -1.0f}};
  const float* ab[] = {a.data(), b.data()};
  cpu::combine(std::span<const float* const>(ab, 2), nullptr, t, d, 0, diff, out.data());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(out[i], a[i] - b[i]) << i;
}

TEST(CpuKernels, RmsRescaleGivesEachRowTheReferenceMagnitude) {
  const int64_t t = 4, d = 33;
  std::vector<float> x = random_vec(t * d, 81, -3.0f, 3.0f);
  const std::vector<float> ref = random_vec(t * d, 82);
  for (int64_t j = 0; j < d; ++j) x[static_cast<size_t>(3 * d + j)] = 1e-4f;  // below the floor: divided by sqrt(eps)
  std::vector<float> out = nan_vec(x.size());
  cpu::rms_rescale(x.data(), ref.data(), t, d, 1e-5f, out.data());
  for (int64_t r = 0; r < t; ++r) {
    double sx = 0, sr = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double xv = x[static_cast<size_t>(r * d + j)], rv = ref[static_cast<size_t>(r * d + j)];
      sx += xv * xv;
      sr += rv * rv;
    }
    const double factor = std::sqrt(sr / d) / std::sqrt(std::max(sx / d, 1e-5));
    for (int64_t j = 0; j < d; ++j) {
      const size_t i = static_cast<size_t>(r * d + j);
      const double want = double{x[i]} * factor;
      EXPECT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-30) << r << "," << j;
    }
  }
}

TEST(CpuKernels, MulVecScalesEveryRowByTheWeight) {
  const int64_t t = 3, d = 10;
  const std::vector<float> x = random_vec(t * d, 91);
  for (DType dt : {DType::F32, DType::BF16}) {
    std::vector<float> wd;
    const HostTensor w = make_weight("correct_output_scale", Shape{d}, dt, random_vec(d, 92), &wd);
    std::vector<float> out = nan_vec(x.size());
    cpu::mul_vec(x.data(), t, w.view(), out.data());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(out[i], x[i] * wd[i % d]) << dtype_name(dt) << " " << i;
  }
}

// AvgPool over a rows x cols grid (graph/ir.h): output (i, j) is the mean of the k x k square at
// (i k, j k), row-major; summed in float32 in row-major order, then divided by k^2.
TEST(CpuKernels, AvgPoolAveragesSquaresOfARectangularGrid) {
  for (const auto& [rows, cols, k] : {std::tuple{6, 9, 3}, std::tuple{4, 2, 2}, std::tuple{5, 7, 1}, std::tuple{3, 3, 3}}) {
    const int64_t d = 5;
    const std::vector<float> x = random_vec(static_cast<size_t>(rows * cols * d), 77);
    const int out_rows = rows / k, out_cols = cols / k;
    std::vector<float> out = nan_vec(static_cast<size_t>(out_rows * out_cols * d));
    cpu::avg_pool(x.data(), rows, cols, k, d, out.data());
    for (int i = 0; i < out_rows; ++i)
      for (int j = 0; j < out_cols; ++j)
        for (int64_t c = 0; c < d; ++c) {
          float sum = 0.0f;
          for (int dy = 0; dy < k; ++dy)
            for (int dx = 0; dx < k; ++dx) sum += x[static_cast<size_t>(((i * k + dy) * cols + j * k + dx) * d + c)];
          EXPECT_EQ(out[static_cast<size_t>((i * out_cols + j) * d + c)], sum / static_cast<float>(k * k))
              << rows << "x" << cols << " k " << k << " cell " << i << "," << j << " col " << c;
        }
  }
}

// Clamp as torch.clamp: bounds inclusive, infinite bounds open, NaN kept.
TEST(CpuKernels, ClampKeepsValuesInsideTheBoundsAndNaN) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{-3.0f, -1.0f, 0.5f, 1.0f, 2.5f, -inf, inf, nan};
  std::vector<float> out = nan_vec(x.size());
  cpu::clamp(x.data(), static_cast<int64_t>(x.size()), -1.0f, 2.0f, out.data());
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 7), (std::vector<float>{-1.0f, -1.0f, 0.5f, 1.0f, 2.0f, -1.0f, 2.0f}));
  EXPECT_TRUE(std::isnan(out[7]));
  cpu::clamp(x.data(), static_cast<int64_t>(x.size()), -inf, 0.75f, out.data());
  EXPECT_EQ(out[0], -3.0f);
  EXPECT_EQ(out[5], -inf);
  EXPECT_EQ(out[4], 0.75f);
}

// Gemma 3n activation sparsity (spec §5.3 step 11, P15): max(0, x - (mean + z * std)) with the
// population std; at z = Phi^-1(0.95) about 5% of a normal row survives.
TEST(CpuKernels, GaussianTopKKeepsWhatExceedsMeanPlusZStd) {
  ThreadPool pool(2);
  const int64_t t = 3, d = 4096;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.3f, 2.0f);
  std::vector<float> x(static_cast<size_t>(t * d));
  for (float& v : x) v = g(rng);
  const float z = normal_quantile_f32(0.95f);
  std::vector<float> out = nan_vec(x.size());
  cpu::gaussian_top_k(x.data(), t, d, z, out.data(), pool);
  for (int64_t r = 0; r < t; ++r) {
    double s = 0, ss = 0;
    for (int64_t j = 0; j < d; ++j) s += double{x[static_cast<size_t>(r * d + j)]};
    const double mean = s / static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j) ss += std::pow(double{x[static_cast<size_t>(r * d + j)]} - mean, 2);
    const double cutoff = mean + std::sqrt(ss / static_cast<double>(d)) * double{z};  // population std
    int kept = 0;
    for (int64_t j = 0; j < d; ++j) {
      const size_t i = static_cast<size_t>(r * d + j);
      const double xi = x[i];
      EXPECT_NEAR(out[i], std::max(0.0, xi - cutoff), 2e-6 * (std::fabs(xi) + std::fabs(cutoff))) << r << "," << j;
      kept += out[i] > 0.0f;
    }
    EXPECT_NEAR(kept, 0.05 * d, 0.015 * d) << "row " << r;
  }
}

// Phi^-1 as torch's float32 Normal.icdf gives it: HF computes Gemma 3n's multiplier this way.
TEST(CpuKernels, NormalQuantileMatchesTorch) {
  EXPECT_EQ(normal_quantile_f32(0.95f), 1.6448535919189453f);  // torch.distributions.Normal(0, 1).icdf(0.95)
  EXPECT_EQ(normal_quantile_f32(0.5f), 0.0f);
  EXPECT_NEAR(normal_quantile_f32(0.8413447460685429f), 1.0f, 2e-7f);
  EXPECT_NEAR(normal_quantile_f32(0.025f), -1.959964f, 2e-6f);
  EXPECT_THROW(normal_quantile_f32(1.0f), Error);
  EXPECT_THROW(normal_quantile_f32(0.0f), Error);
}

// TopK against a brute-force ranking: values in descending order, ties by the lower index, NaN
// after every number; the indices come back as exact float32 integers.
TEST(CpuKernels, TopKRanksByValueThenIndex) {
  std::mt19937 rng(11);
  const int64_t t = 3, d = 1000;
  std::vector<float> x(static_cast<size_t>(t * d));
  for (float& v : x) v = static_cast<float>(static_cast<int>(rng() % 50)) * 0.5f;  // many ties
  x[17] = std::numeric_limits<float>::quiet_NaN();
  x[d + 3] = 1e30f;
  for (int k : {1, 5, 64, static_cast<int>(d)}) {
    std::vector<float> out(static_cast<size_t>(t * 2 * k));
    cpu::top_k(x.data(), t, d, k, out.data());
    for (int64_t r = 0; r < t; ++r) {
      std::vector<int> order(static_cast<size_t>(d));
      for (int i = 0; i < d; ++i) order[static_cast<size_t>(i)] = i;
      const float* row = x.data() + r * d;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        const bool na = std::isnan(row[a]), nb = std::isnan(row[b]);
        if (na || nb) return !na && nb;
        return row[a] > row[b];
      });
      for (int i = 0; i < k; ++i) {
        const float want = row[order[static_cast<size_t>(i)]];
        const float got = out[static_cast<size_t>(r * 2 * k + i)];
        if (std::isnan(want)) EXPECT_TRUE(std::isnan(got));
        else EXPECT_EQ(got, want) << "row " << r << " rank " << i << " k " << k;
        EXPECT_EQ(out[static_cast<size_t>(r * 2 * k + k + i)], static_cast<float>(order[static_cast<size_t>(i)]))
            << "row " << r << " rank " << i << " k " << k;
      }
    }
  }
  EXPECT_EQ(x[d + 3], 1e30f);  // the input is not modified
}

}  // namespace
}  // namespace gemrt
