// The CUDA backend's ops against the CPU backend's (precise numerics both), on random data at odd
// sizes: small graphs fed by embedding gathers (so activations are any float32 matrices), run on
// both backends. Matrix products: each output within 2 K u sum_k |w_k x_k| of the CPU's
// (u = 2^-24: two float32 sums of K products in different orders, each within K u of the exact
// sum); norms, activations, RoPE and attention: ||gpu - cpu|| / ||cpu|| < 1e-5 (float32 noise
// of a few units of 2^-24 per value). Skipped, saying why, where no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/graph/ir.h"
#include "gemrt/graph/rope.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/dequantize.h"
#include "gemrt/quant/random_weights.h"
#include "test_util.h"

namespace gemrt {
namespace {

constexpr double kTol = 1e-5;

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = g(rng);
  return v;
}

TensorView view(const std::string& name, DType t, Shape s, const std::vector<std::byte>& bytes) {
  return TensorView{name, t, std::move(s), bytes.data()};
}

std::vector<std::byte> as_bytes(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<float> run(Backend& b, const Graph& g, const RunInputs& inputs, KvCache* kv = nullptr) {
  auto exe = b.compile(g);
  RunOutputs out;
  exe->run(inputs, kv, &out);
  return out.at("y");
}

// Block formats whose one-to-four-row products fast numerics runs with int8 activations
// (backend/cuda/quant_matvec.cuh).
bool int8_activation_format(DType t) {
  return t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q5_0 || t == DType::Q5_1 || t == DType::Q8_0 ||
         t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K;
}

// The largest additive offset |w - scale * code| a weight row of dtype t can carry, from its f16
// fields: m (Q4_1 / Q5_1), dmin times a 6-bit min code (Q4_K / Q5_K); 0 for the formats whose
// codes are centred (Q4_0, Q5_0, Q8_0, Q6_K).
double max_offset(DType t, const std::vector<std::byte>& w) {
  if (t != DType::Q4_1 && t != DType::Q5_1 && t != DType::Q4_K && t != DType::Q5_K) return 0.0;
  const int64_t bb = dtype_info(t).block_bytes, blocks = static_cast<int64_t>(w.size()) / bb;
  double most = 0.0;
  for (int64_t b = 0; b < blocks; ++b)
    for (int off : quant::block_f16_fields(t)) {
      uint16_t h;
      std::memcpy(&h, w.data() + b * bb + off, 2);
      most = std::max(most, std::fabs(static_cast<double>(f16_to_f32(h))));
    }
  return t == DType::Q4_K || t == DType::Q5_K ? 63.0 * most : most;
}

// quant_matvec.cuh's rounding of an activation row: per 32 values, dx = amax / 127 (float32) and
// q = rint(x / dx); returns dx * q for every value (the host's float32 division and rint are the
// device's).
std::vector<double> int8_rounded(std::span<const float> x) {
  std::vector<double> r(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0.0f;
    for (size_t c = b; c < b + 32; ++c) amax = std::max(amax, std::fabs(x[c]));
    const float dx = amax / 127.0f;
    for (size_t c = b; c < b + 32; ++c)
      r[c] = amax > 0.0f ? static_cast<double>(dx) * static_cast<double>(std::clamp(std::rint(x[c] / dx), -127.0f, 127.0f)) : 0.0;
  }
  return r;
}

// Every weight format at odd shapes against the CPU's float32 product. Each output may differ by
// 2 K u sum_k |w_k x_k| (two float32 summation orders) plus `rounding` sum_k |w_k x_k| (what
// rounding the inputs costs: 0 in precise numerics). With `int8_activations` (fast numerics), the
// one-to-four-row products of the int8_activation_format()s are instead held to their exact
// contract: sum_k w_k * xr_k with xr = int8_rounded(bf16(x)), within float32 rounding of
// (2 K + 16) u sum_k (|w_k| + 2 o) |xr_k| (o = max_offset: the scale-times-code and offset
// products are summed separately). That bound is ~1e-3 of what the int8 rounding itself moves
// the product, so a product that skipped the rounding (the float32 path) fails it as surely as a
// wrong code or scale.
// got and want, [t, n] products of x [t, k] (xd) with w [n, k] (wd, dequantized): each output
// within (2 K u + rounding) sum_k |w_k x_k| of the other (u = 2^-24).
void expect_products_near(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& wd,
                          const std::vector<float>& xd, int64_t t, int64_t n, int64_t k, double rounding) {
  const double u = std::ldexp(1.0, -24);
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double mag = 0.0;
      for (int64_t c = 0; c < k; ++c)
        mag += std::fabs(static_cast<double>(wd[static_cast<size_t>(j * k + c)]) *
                        static_cast<double>(xd[static_cast<size_t>(i * k + c)]));
      const size_t o = static_cast<size_t>(i * n + j);
      ASSERT_NEAR(got[o], want[o], (2.0 * static_cast<double>(k) * u + rounding) * mag) << "output " << i << ", " << j;
    }
}

// Row j of dequantized weights wd [n, k] times the rounded activation xr [k]: the exact sum and
// the magnitude sum_c (|w_c| + 2 o) |xr_c| the int8 products' bound scales (o = max_offset).
struct ProductSum {
  double exact = 0.0, mag = 0.0;
};
ProductSum int8_product(const std::vector<float>& wd, const std::vector<double>& xr, int64_t j, int64_t k, double off) {
  ProductSum s;
  for (int64_t c = 0; c < k; ++c) {
    const double wv = wd[static_cast<size_t>(j * k + c)], xv = xr[static_cast<size_t>(c)];
    s.exact += wv * xv;
    s.mag += (std::fabs(wv) + 2.0 * off) * std::fabs(xv);
  }
  return s;
}

// The int8 products' contract (above) for got [t, n], the products of x [t, k] as the device holds
// it (xb) with w [n, k] of dtype dt (wd: dequantized).
void expect_int8_products(const std::vector<float>& got, DType dt, const std::vector<std::byte>& w,
                          const std::vector<float>& wd, const std::vector<float>& xb, int64_t t, int64_t n, int64_t k) {
  const double u = std::ldexp(1.0, -24), off = max_offset(dt, w);
  for (int64_t i = 0; i < t; ++i) {
    const std::vector<double> xr =
        int8_rounded(std::span<const float>(xb).subspan(static_cast<size_t>(i * k), static_cast<size_t>(k)));
    for (int64_t j = 0; j < n; ++j) {
      const ProductSum s = int8_product(wd, xr, j, k, off);
      ASSERT_NEAR(got[static_cast<size_t>(i * n + j)], s.exact, (2.0 * static_cast<double>(k) + 16.0) * u * s.mag)
          << "int8-activation output " << i << ", " << j;
    }
  }
}

// x as fast numerics holds a float32 table it gathers from: rounded to bfloat16.
std::vector<float> bf16_rounded(const std::vector<float>& x) {
  std::vector<float> xb(x.size());
  for (size_t c = 0; c < x.size(); ++c) xb[c] = bf16_to_f32(f32_to_bf16(x[c]));
  return xb;
}

void matmul_matches_cpu(Backend& gpu, double rounding, bool int8_activations = false) {
  cpu::CpuBackend cpu_backend(2);
  uint32_t seed = 1;
  for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                   DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const int64_t block = std::max<int64_t>(32, dtype_info(dt).block_elems);
    for (int64_t k : {block, 3 * block}) {
      for (int64_t n : {1, 37, 130}) {
        for (int64_t t : {1, 3, 5, 70}) {
          SCOPED_TRACE(testing::Message() << dtype_name(dt) << " T=" << t << " N=" << n << " K=" << k);
          const std::vector<std::byte> table = as_bytes(random_floats(t * k, ++seed));
          std::vector<std::byte> w;
          if (dt == DType::F32) w = as_bytes(random_floats(n * k, ++seed));
          else w = test::random_weight_row(dt, n * k, ++seed);
          Graph g;
          GraphBuilder gb(g);
          const ValueId x = gb.embed(gb.weight(view("table", DType::F32, Shape{t, k}, table)), gb.input("ids", Shape{t}), 1.0f);
          gb.output("y", gb.matmul(x, gb.weight(view("w", dt, Shape{n, k}, w))));
          std::vector<int32_t> ids(static_cast<size_t>(t));
          for (int64_t i = 0; i < t; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
          const std::vector<float> want = run(cpu_backend, g, {{"ids", ids}});
          const std::vector<float> got = run(gpu, g, {{"ids", ids}});
          std::vector<float> wd(static_cast<size_t>(n * k)), xd(static_cast<size_t>(t * k));
          quant::dequantize_row(dt, w.data(), wd.data(), n * k);
          std::memcpy(xd.data(), table.data(), table.size());
          if (int8_activations && int8_activation_format(dt) && t <= 4) {
            // The activation table is a float32 matrix, which fast numerics stores as bfloat16:
            // the product's x is bf16(x), then rounded to int8.
            expect_int8_products(got, dt, w, wd, bf16_rounded(xd), t, n, k);
            if (testing::Test::HasFatalFailure()) return;
            continue;
          }
          expect_products_near(got, want, wd, xd, t, n, k, rounding);
          if (testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(CudaOps, MatMulMatchesTheCpuForEveryWeightFormat) {
  GEMRT_CUDA_OR_SKIP(gpu);
  matmul_matches_cpu(*gpu, 0.0);
}

// The bf16 mode: x and w each rounded to bfloat16 (relative 2^-9 each) before float32 sums, on
// tensor cores for T > kMatVecMaxRows (T = 5, 70 here) and in the matrix-vector kernels below,
// except the block formats' matrix-vector products, which round x to int8 per 32 values.
TEST(CudaOps, Bf16ModeMatMulIsTheProductOfRoundedInputs) {
  GEMRT_CUDA_OR_SKIP(gpu, Numerics::Fast);
  const double u_bf16 = std::ldexp(1.0, -9);
  matmul_matches_cpu(*gpu, 2.0 * u_bf16 + u_bf16 * u_bf16, /*int8_activations=*/true);
}

// Products of one activation with weights of several block formats, which fast numerics groups
// into one step (graph/fusion.h's mixable: Q4_K, Q5_K, Q6_K): a pair of them runs in one launch
// (quant_matvec.cuh), three formats as a launch per format, Q8_0 beside them in a step of its
// own. Each product held to the int8 products' contract, as in the test above.
TEST(CudaOps, Bf16ModeMixedFormatProductsAreTheRoundedProducts) {
  GEMRT_CUDA_OR_SKIP(gpu, Numerics::Fast);
  const int64_t k = 768;
  const std::vector<int64_t> rows = {256, 130, 64};  // q, k, v shaped
  const std::vector<std::vector<DType>> mixes = {{DType::Q4_K, DType::Q4_K, DType::Q6_K},
                                                 {DType::Q6_K, DType::Q5_K},
                                                 {DType::Q5_K, DType::Q4_K, DType::Q6_K},
                                                 {DType::Q6_K, DType::Q8_0, DType::Q6_K}};
  uint32_t seed = 90;
  for (const std::vector<DType>& mix : mixes) {
    for (int64_t t : {1, 3}) {
      SCOPED_TRACE(testing::Message() << "T=" << t << ", first format " << dtype_name(mix[0]));
      const std::vector<float> x = random_floats(t * k, ++seed);
      const std::vector<std::byte> table = as_bytes(x);
      std::vector<std::vector<std::byte>> w;
      for (size_t m = 0; m < mix.size(); ++m) w.push_back(test::random_weight_row(mix[m], rows[m] * k, ++seed));
      Graph g;
      GraphBuilder gb(g);
      const ValueId xv =
          gb.embed(gb.weight(view("table", DType::F32, Shape{t, k}, table)), gb.input("ids", Shape{t}), 1.0f);
      for (size_t m = 0; m < mix.size(); ++m) {
        const std::string name = std::to_string(m);
        gb.output("y" + name, gb.matmul(xv, gb.weight(view("w" + name, mix[m], Shape{rows[m], k}, w[m]))));
      }
      std::vector<int32_t> ids(static_cast<size_t>(t));
      for (int64_t i = 0; i < t; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
      auto exe = gpu->compile(g);
      RunOutputs out;
      exe->run({{"ids", ids}}, nullptr, &out);
      for (size_t m = 0; m < mix.size(); ++m) {
        SCOPED_TRACE(testing::Message() << "product " << m << " (" << dtype_name(mix[m]) << ")");
        std::vector<float> wd(static_cast<size_t>(rows[m] * k));
        quant::dequantize_row(mix[m], w[m].data(), wd.data(), rows[m] * k);
        expect_int8_products(out.at("y" + std::to_string(m)), mix[m], w[m], wd, bf16_rounded(x), t, rows[m], k);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// A many-row product (tensor cores) of a packed weight too large to convert to bfloat16 at once:
// 600 rows of 65536 values are converted in chunks of 512 rows (executable.cu's
// dequant_chunk_rows: 64 MiB of bfloat16, whole multiples of 256 rows), and the second chunk's
// outputs land at column 512 of each output row. Each output within the bf16 mode's bound
// (matmul_matches_cpu's, at T = 8 rows).
TEST(CudaOps, Bf16ModeChunkConvertedWeightMatchesTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu, Numerics::Fast);
  cpu::CpuBackend cpu_backend(2);
  const int64_t t = 8, n = 600, k = 65536;
  const std::vector<std::byte> table = as_bytes(random_floats(t * k, 61));
  const std::vector<std::byte> w = test::random_weight_row(DType::Q8_0, n * k, 62);
  Graph g;
  GraphBuilder gb(g);
  const ValueId x = gb.embed(gb.weight(view("table", DType::F32, Shape{t, k}, table)), gb.input("ids", Shape{t}), 1.0f);
  gb.output("y", gb.matmul(x, gb.weight(view("w", DType::Q8_0, Shape{n, k}, w))));
  std::vector<int32_t> ids(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  const std::vector<float> want = run(cpu_backend, g, {{"ids", ids}});
  const std::vector<float> got = run(*gpu, g, {{"ids", ids}});
  std::vector<float> wd(static_cast<size_t>(n * k)), xd(static_cast<size_t>(t * k));
  quant::dequantize_row(DType::Q8_0, w.data(), wd.data(), n * k);
  std::memcpy(xd.data(), table.data(), table.size());
  const double u_bf16 = std::ldexp(1.0, -9);
  expect_products_near(got, want, wd, xd, t, n, k, 2.0 * u_bf16 + u_bf16 * u_bf16);
}

TEST(CudaOps, EmbedNormActivationAndSoftCapMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  cpu::CpuBackend cpu_backend(2);
  const int64_t v = 50, d = 96, t = 7;
  uint32_t seed = 100;
  for (DType dt : {DType::F32, DType::BF16, DType::Q8_0, DType::Q4_K}) {
    SCOPED_TRACE(std::string(dtype_name(dt)));
    const int64_t dd = dt == DType::Q4_K ? 256 : d;
    std::vector<std::byte> table = dt == DType::F32 ? as_bytes(random_floats(v * dd, ++seed))
                                                    : test::random_weight_row(dt, v * dd, ++seed);
    const std::vector<std::byte> gain = as_bytes(random_floats(dd, ++seed));
    Graph g;
    GraphBuilder gb(g);
    const ValueId x = gb.embed(gb.weight(view("table", dt, Shape{v, dd}, table)), gb.input("ids", Shape{t}), 1.5f);
    const ValueId nv = gb.rms_norm(x, gb.weight(view("gain", DType::F32, Shape{dd}, gain)), dd, 1e-6f, 1.0f);
    const ValueId bare = gb.rms_norm(nv, -1, 32, 1e-6f, 0.0f, "bare_norm");
    const ValueId a1 = gb.gated_act(bare, x, Activation::GeluTanh);
    const ValueId a2 = gb.gated_act(a1, nv, Activation::GeluErf);
    gb.output("y", gb.soft_cap(gb.add(a2, x), 1.5f));
    const std::vector<int32_t> ids = {3, 0, 49, 7, 7, 21, 12};
    EXPECT_LT(test::relative_error(run(*gpu, g, {{"ids", ids}}), run(cpu_backend, g, {{"ids", ids}})), kTol);
  }
  // An id outside the table is an error that names it, before any kernel runs.
  const std::vector<std::byte> table = as_bytes(random_floats(4 * 8, 1));
  Graph g;
  GraphBuilder gb(g);
  gb.output("y", gb.embed(gb.weight(view("table", DType::F32, Shape{4, 8}, table)), gb.input("ids", Shape{1}), 1.0f));
  const std::vector<int32_t> bad = {4};
  EXPECT_THROW(run(*gpu, g, {{"ids", bad}}), Error);
}

// Gemma 3n's row ops (AltUp's Combine and RmsRescale, MulVec, the activation sparsity) and the
// per-layer embedding gather whose out-of-table ids read row 0, against the CPU.
TEST(CudaOps, Gemma3nRowOpsMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  cpu::CpuBackend cpu_backend(2);
  const int64_t v = 40, d = 300, t = 5;
  const std::vector<std::byte> table = as_bytes(random_floats(v * d, 201));
  const std::vector<std::byte> coef_table = as_bytes(random_floats(v * 6, 202));
  const std::vector<std::byte> scale = test::random_weight_row(DType::BF16, d, 203);
  Graph g;
  GraphBuilder gb(g);
  const ValueId ids = gb.input("ids", Shape{t});
  const ValueId tw = gb.weight(view("table", DType::F32, Shape{v, d}, table));
  const ValueId a = gb.embed(tw, ids, 1.0f);
  const ValueId b = gb.embed_with_fallback(tw, ids, 0.5f, 0, "fallback_embed");
  const ValueId coefs = gb.embed(gb.weight(view("coefs", DType::F32, Shape{v, 6}, coef_table)), ids, 1.0f);
  const ValueId mixed = gb.combine({a, b, a}, coefs, {5, 0, -1}, {0.0f, 1.0f, 1.0f});
  const ValueId diff = gb.combine({mixed, b}, -1, {-1, -1}, {1.0f, -1.0f}, "diff");
  const ValueId rescaled = gb.rms_rescale(diff, a, 1e-5f);
  const ValueId scaled = gb.mul_vec(rescaled, gb.weight(view("scale", DType::BF16, Shape{d}, scale)));
  gb.output("y", gb.add(gb.gaussian_top_k(scaled, 1.6448536f), scaled));
  const std::vector<int32_t> in = {3, 45, 0, 39, 1000};  // 45 and 1000 lie outside the table
  // Only the fallback gather accepts them: the plain one (a) must refuse them first.
  EXPECT_THROW(run(*gpu, g, {{"ids", in}}), Error);
  const std::vector<int32_t> ok = {3, 17, 0, 39, 5};
  EXPECT_LT(test::relative_error(run(*gpu, g, {{"ids", ok}}), run(cpu_backend, g, {{"ids", ok}})), kTol);
  Graph g2;
  GraphBuilder gb2(g2);
  gb2.output("y", gb2.embed_with_fallback(gb2.weight(view("table", DType::F32, Shape{v, d}, table)),
                                          gb2.input("ids", Shape{t}), 2.0f, 0, "fallback_embed"));
  EXPECT_EQ(run(*gpu, g2, {{"ids", in}}), run(cpu_backend, g2, {{"ids", in}}));
}

// The Gemma 4 unified embedders' row ops (LayerNorm with a bf16 weight and bias, AddVec) over a
// float graph input, and ReplaceRows splicing another float input's rows: as the CPU.
TEST(CudaOps, MediaRowOpsMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  cpu::CpuBackend cpu_backend(2);
  const int64_t t = 7, d = 6912, m = 3;
  const std::vector<float> x = random_floats(t * d, 401), rows = random_floats(m * d, 402);
  const std::vector<std::byte> w = test::random_weight_row(DType::BF16, d, 403),
                               b = test::random_weight_row(DType::BF16, d, 404),
                               bias = test::random_weight_row(DType::F16, d, 405);
  Graph g;
  GraphBuilder gb(g);
  const ValueId in = gb.input("x", Shape{t, d}, DType::F32);
  ValueId y = gb.layer_norm(in, gb.weight(view("w", DType::BF16, Shape{d}, w)), gb.weight(view("b", DType::BF16, Shape{d}, b)),
                            1e-5f);
  y = gb.add_vec(y, gb.weight(view("bias", DType::F16, Shape{d}, bias)));
  gb.output("y", gb.replace_rows(y, gb.input("rows", Shape{m, d}, DType::F32), gb.input("index", Shape{t})));
  const std::vector<int32_t> index{-1, 2, 0, -1, -1, 1, -1};
  const RunInputs inputs{{"x", x}, {"rows", rows}, {"index", index}};
  const std::vector<float> want = run(cpu_backend, g, inputs);
  EXPECT_LT(test::relative_error(run(*gpu, g, inputs), want), kTol);
  for (size_t i = 0; i < static_cast<size_t>(d); ++i) ASSERT_EQ(want[static_cast<size_t>(d) + i], rows[2 * static_cast<size_t>(d) + i]);
  const std::vector<int32_t> bad{-1, 3, 0, -1, -1, 1, -1};  // row 3 of 3
  EXPECT_THROW(run(*gpu, g, {{"x", x}, {"rows", rows}, {"index", bad}}), Error);
  EXPECT_THROW(run(*gpu, g, {{"x", index}, {"rows", rows}, {"index", index}}), Error);  // int32 for a float input
}

// Gemma 4's vision tower ops (spec §6.6): axial RoPE (positions [T, 2], each half of a head at its
// own position, after a per-head norm that must not fuse with it), AvgPool over a rectangular
// grid, and Clamp with one open side (NaN kept), over float graph inputs: as the CPU.
TEST(CudaOps, VisionTowerOpsMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  cpu::CpuBackend cpu_backend(2);
  const int rows = 6, cols = 9, heads = 3, head_dim = 64;
  const int64_t t = int64_t{rows} * cols, w = int64_t{heads} * head_dim;
  std::vector<float> x = random_floats(t * w, 601);
  x[5] = std::numeric_limits<float>::quiet_NaN();  // x[0, 5]: pooled row 0, column 5
  const std::vector<std::byte> norm = test::random_weight_row(DType::BF16, head_dim, 602);
  const std::vector<float> half = rope_inv_freq(head_dim / 2, 100.0f, {});
  std::vector<float> inv_freq = half;
  inv_freq.insert(inv_freq.end(), half.begin(), half.end());
  std::vector<int32_t> pos(2 * static_cast<size_t>(t));
  for (int y = 0; y < rows; ++y)
    for (int c = 0; c < cols; ++c) {
      pos[2 * static_cast<size_t>(y * cols + c)] = c;
      pos[2 * static_cast<size_t>(y * cols + c) + 1] = y;
    }
  Graph g;
  GraphBuilder gb(g);
  const ValueId in = gb.input("x", Shape{t, w}, DType::F32);
  ValueId y = gb.rms_norm(gb.input("x2", Shape{t, w}, DType::F32), gb.weight(view("norm", DType::BF16, Shape{head_dim}, norm)),
                          head_dim, 1e-6f, 0.0f);
  y = gb.rope_axial(y, gb.input("pos", Shape{t, 2}), heads, head_dim, 2, inv_freq);
  y = gb.add(y, gb.clamp(in, -std::numeric_limits<float>::infinity(), 0.5f));
  gb.output("y", gb.avg_pool(y, rows, cols, 3));
  std::vector<float> x2 = random_floats(t * w, 603);
  const RunInputs inputs{{"x", x}, {"x2", x2}, {"pos", pos}};
  const std::vector<float> want = run(cpu_backend, g, inputs);
  const std::vector<float> got = run(*gpu, g, inputs);
  ASSERT_EQ(got.size(), want.size());
  // The NaN stays in pooled row 0 (column 5): that row compared by NaN-ness, the rest by norm.
  for (int64_t c = 0; c < w; ++c) EXPECT_EQ(std::isnan(got[static_cast<size_t>(c)]), std::isnan(want[static_cast<size_t>(c)]));
  const std::vector<float> got_rest(got.begin() + w, got.end()), want_rest(want.begin() + w, want.end());
  EXPECT_LT(test::relative_error(got_rest, want_rest), kTol);
}

// Gemma 4's audio tower ops (spec §6.7): Conv2d with a row mask (F32 and BF16 filters), then
// LayerNorm + ReLU, Reshape, DepthwiseConv1d, the GLU's Sigmoid and a SiLU, and LocalAttention
// (relative term, soft cap, both of transformers' masks), over float graph inputs: as the CPU.
TEST(CudaOps, AudioTowerOpsMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  cpu::CpuBackend cpu_backend(2);
  const int frames = 13, bins = 16, c0 = 8;
  const Conv2dAttrs a0{frames, bins, 3, 2, 1};
  const int64_t t = a0.out_rows(), width = int64_t{a0.out_cols()} * c0;  // 7 rows of 8 x 8
  const auto f32_bytes = [](const std::vector<float>& v) {
    std::vector<std::byte> b(v.size() * sizeof(float));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  };
  const std::vector<std::byte> w0 = f32_bytes(random_floats(c0 * 9, 701)), ln = f32_bytes(random_floats(c0, 702)),
                               zero(c0 * sizeof(float)), dw = test::random_weight_row(DType::BF16, width * 5, 703),
                               rel = f32_bytes(random_floats(5 * width, 704));
  std::vector<float> mask(frames, 1.0f), key_mask(static_cast<size_t>(t), 1.0f);
  mask[12] = 0.0f;
  key_mask[6] = 0.0f;
  for (const bool eager : {false, true}) {
    Graph g;
    GraphBuilder gb(g);
    const ValueId mel = gb.input("mel", Shape{frames * bins, 1}, DType::F32);
    ValueId x = gb.conv2d(mel, gb.weight(view("w0", DType::F32, Shape{c0, 1, 3, 3}, w0)),
                          gb.input("mask", Shape{frames}, DType::F32), a0);
    x = gb.act(gb.layer_norm(x, gb.weight(view("ln", DType::F32, Shape{c0}, ln)),
                             gb.weight(view("zero", DType::F32, Shape{c0}, zero)), 1e-6f),
               Activation::Relu);
    x = gb.reshape(x, t);
    const ValueId d = gb.depthwise_conv1d(x, gb.weight(view("dw", DType::BF16, Shape{width, 1, 5}, dw)));
    const ValueId glu = gb.gated_act(gb.act(d, Activation::Silu), x, Activation::Sigmoid);
    LocalAttentionAttrs la;
    la.n_heads = 2;
    la.head_dim = static_cast<int>(width / 2);
    la.chunk = 4;
    la.max_past = 4;
    la.left = 4;
    la.softcap = 5.0f;
    la.eager_mask = eager;
    const ValueId att = gb.local_attention(glu, d, x, gb.weight(view("rel", DType::F32, Shape{5, width}, rel)),
                                           gb.input("key_mask", Shape{t}, DType::F32), la);
    gb.output("y", gb.add(att, glu));
    const std::vector<float> m = random_floats(frames * bins, 705);
    const RunInputs inputs{{"mel", m}, {"mask", mask}, {"key_mask", key_mask}};
    const std::vector<float> want = run(cpu_backend, g, inputs), got = run(*gpu, g, inputs);
    EXPECT_LT(test::relative_error(got, want), kTol) << (eager ? "eager" : "sdpa");
  }
}

// Bidirectional attention blocks (graph/ir.h AttentionAttrs): a prompt with two image-like blocks,
// one longer than the sliding window, on the precise kernels (F32 cache, 1e-5 of the CPU) and the
// bf16 mode's tensor-core flash attention (BF16 cache, head_dim 128 / 256: within bf16 rounding
// of the CPU's precise result).
TEST(CudaOps, AttentionBlocksMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(precise);
  GEMRT_CUDA_OR_SKIP(fast, Numerics::Fast);
  cpu::CpuBackend cpu_backend(2);
  constexpr int64_t kT = 150;
  uint32_t seed = 500;
  for (const int head_dim : {128, 256})
    for (const int window : {0, 16})
      for (const DType kv : {DType::F32, DType::BF16})
      for (const bool limits : {false, true}) {
        SCOPED_TRACE(testing::Message() << "d " << head_dim << " window " << window << " kv " << dtype_name(kv)
                                        << " window limits blocks " << limits);
        const int heads = 4, kv_heads = 2;
        const int64_t qw = int64_t{heads} * head_dim, kw = int64_t{kv_heads} * head_dim;
        const std::vector<std::byte> tq = as_bytes(random_floats(kT * qw, ++seed)),
                                     tk = as_bytes(random_floats(kT * kw, ++seed)),
                                     tv = as_bytes(random_floats(kT * kw, ++seed));
        Graph g;
        GraphBuilder gb(g);
        const ValueId ids = gb.input("ids", Shape{kT}), pos = gb.input("positions", Shape{kT});
        AttentionAttrs a;
        a.n_heads = heads;
        a.n_kv_heads = kv_heads;
        a.head_dim = head_dim;
        a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        a.window = window;
        a.window_limits_blocks = limits;
        gb.output("y", gb.attention(gb.embed(gb.weight(view("tq", DType::F32, Shape{kT, qw}, tq)), ids, 1.0f),
                                    gb.embed(gb.weight(view("tk", DType::F32, Shape{kT, kw}, tk)), ids, 1.0f),
                                    gb.embed(gb.weight(view("tv", DType::F32, Shape{kT, kw}, tv)), ids, 1.0f), pos, a,
                                    "attention", gb.input("blocks", Shape{kT, 2})));
        std::vector<int32_t> id(kT), p(kT), blocks(2 * kT, 0);
        for (int32_t i = 0; i < kT; ++i) id[static_cast<size_t>(i)] = p[static_cast<size_t>(i)] = i;
        for (const auto& [b, e] : {std::pair{10, 80}, std::pair{100, 103}})
          for (int i = b; i < e; ++i) {
            blocks[static_cast<size_t>(2 * i)] = b;
            blocks[static_cast<size_t>(2 * i + 1)] = e;
          }
        KvLayout layout;
        layout.dtype = kv;
        layout.slots.push_back({window > 0 ? window : static_cast<int>(kT), kv_heads, head_dim, window});
        const RunInputs in{{"ids", id}, {"positions", p}, {"blocks", blocks}};
        const std::vector<float> want = run(cpu_backend, g, in, cpu_backend.allocate_kv(layout).get());
        Backend& gpu = kv == DType::F32 ? *precise : *fast;
        const double tol = kv == DType::F32 ? kTol : 1e-2;
        EXPECT_LT(test::relative_error(run(gpu, g, in, gpu.allocate_kv(layout).get()), want), tol);
      }
}

// TopK on the device equals the CPU's exactly (values, order, ties, indices): rows from one
// block's slice to a vocabulary of 262144 (several passes), k from 1 to several hundred, rows with
// many ties and a NaN.
TEST(CudaOps, TopKMatchesTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  cpu::CpuBackend cpu_backend(2);
  uint32_t seed = 900;
  for (int64_t d : {int64_t{300}, int64_t{2048}, int64_t{5000}, int64_t{262144}}) {
    for (int k : {1, 7, 64, 257}) {
      if (k > d) continue;
      for (int64_t t : {int64_t{1}, int64_t{3}}) {
        SCOPED_TRACE(testing::Message() << "d " << d << " k " << k << " t " << t);
        std::vector<float> table = random_floats(t * d, ++seed);
        for (float& v : table) v = std::round(v * 8.0f) / 8.0f;  // ties
        table[static_cast<size_t>(d / 2)] = std::numeric_limits<float>::quiet_NaN();
        const std::vector<std::byte> tb = as_bytes(table);
        Graph g;
        GraphBuilder gb(g);
        const ValueId x = gb.embed(gb.weight(view("table", DType::F32, Shape{t, d}, tb)), gb.input("ids", Shape{t}), 1.0f);
        gb.output("y", gb.top_k(x, k));
        std::vector<int32_t> ids(static_cast<size_t>(t));
        for (int64_t i = 0; i < t; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
        const std::vector<float> want = run(cpu_backend, g, {{"ids", ids}});
        const std::vector<float> got = run(*gpu, g, {{"ids", ids}});
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) {
          if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(got[i])) << i;
          else ASSERT_EQ(got[i], want[i]) << "output " << i;
        }
      }
    }
  }
}

// RoPE and attention with a KV cache: a prompt chunk, then single steps, through sliding and global
// layers, grouped-query heads, soft-capping and every KV dtype; the ring of the sliding layer
// wraps. The long cases give decode steps over hundreds of keys, which the GPU splits over
// several blocks per head (attention_splits). q, k, v are gathered from random tables; outputs
// compared with the CPU's per step.
struct AttentionCase {
  int heads, kv_heads, head_dim, window;
  float softcap;
  DType kv;
  int prompt, steps;
  int chunk = 0;  // > 0: the prompt runs in two parts, the first `chunk` tokens long
  bool norms = false;  // per-head RMSNorm of q and k (with a gain) before RoPE, and of v (without)
};

// RoPE'd q and k from embedding gathers, attention over a KV cache: a prompt (in one run or two),
// then single steps, each within `tol` (||gpu - cpu|| / ||cpu||) of the CPU's precise result.
void attention_matches_cpu(Backend& gpu, const std::vector<AttentionCase>& cases, double tol) {
  cpu::CpuBackend cpu_backend(2);
  constexpr int kVocab = 64;
  uint32_t seed = 300;
  for (const AttentionCase& c : cases) {
    SCOPED_TRACE(testing::Message() << c.heads << "/" << c.kv_heads << " heads, d " << c.head_dim << ", window "
                                    << c.window << ", cap " << c.softcap << ", kv " << dtype_name(c.kv) << ", prompt "
                                    << c.prompt << " (chunk " << c.chunk << ")");
    const int n_prompt = c.prompt, n_steps = c.steps, budget = n_prompt + n_steps;
    const int64_t qw = int64_t{c.heads} * c.head_dim, kw = int64_t{c.kv_heads} * c.head_dim;
    const std::vector<std::byte> tq = as_bytes(random_floats(kVocab * qw, ++seed));
    const std::vector<std::byte> tk = as_bytes(random_floats(kVocab * kw, ++seed));
    const std::vector<std::byte> tv = as_bytes(random_floats(kVocab * kw, ++seed));
    std::vector<float> inv_freq(static_cast<size_t>(c.head_dim / 2));
    for (size_t i = 0; i < inv_freq.size(); ++i)
      inv_freq[i] = std::pow(10000.0f, -2.0f * static_cast<float>(i) / static_cast<float>(c.head_dim));
    const std::vector<std::byte> gain = as_bytes(random_floats(c.head_dim, ++seed));
    auto build = [&](int64_t t) {
      Graph g;
      GraphBuilder gb(g);
      const ValueId ids = gb.input("ids", Shape{t}), pos = gb.input("positions", Shape{t});
      const auto head_norm = [&](ValueId x, bool with_gain) {
        if (!c.norms) return x;
        if (!with_gain) return gb.rms_norm(x, -1, c.head_dim, 1e-6f, 0.0f);
        return gb.rms_norm(x, gb.weight(view("gain", DType::F32, Shape{c.head_dim}, gain)), c.head_dim, 1e-6f, 1.0f);
      };
      const ValueId q = gb.rope(head_norm(gb.embed(gb.weight(view("tq", DType::F32, Shape{kVocab, qw}, tq)), ids, 1.0f), true),
                                pos, c.heads, c.head_dim, inv_freq, "rope_q");
      const ValueId k = gb.rope(head_norm(gb.embed(gb.weight(view("tk", DType::F32, Shape{kVocab, kw}, tk)), ids, 1.0f), true),
                                pos, c.kv_heads, c.head_dim, inv_freq, "rope_k");
      const ValueId v = head_norm(gb.embed(gb.weight(view("tv", DType::F32, Shape{kVocab, kw}, tv)), ids, 1.0f), false);
      AttentionAttrs a;
      a.n_heads = c.heads;
      a.n_kv_heads = c.kv_heads;
      a.head_dim = c.head_dim;
      a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
      a.softcap = c.softcap;
      a.window = c.window;
      gb.output("y", gb.attention(q, k, v, pos, a));
      return g;
    };
    KvLayout layout;
    layout.dtype = c.kv;
    layout.slots.push_back({c.window > 0 ? c.window : budget, c.kv_heads, c.head_dim, c.window});
    auto kv_cpu = cpu_backend.allocate_kv(layout);
    auto kv_gpu = gpu.allocate_kv(layout);
    std::mt19937 rng(seed);
    std::vector<int32_t> ids(n_prompt), pos(n_prompt);
    for (int i = 0; i < n_prompt; ++i) {
      ids[static_cast<size_t>(i)] = static_cast<int32_t>(rng() % kVocab);
      pos[static_cast<size_t>(i)] = i;
    }
    const int first = c.chunk > 0 ? c.chunk : n_prompt;
    for (int begin = 0; begin < n_prompt; begin = begin == 0 ? first : n_prompt) {
      const int len = (begin == 0 ? first : n_prompt) - begin;
      const Graph prompt = build(len);
      const RunInputs in{{"ids", std::span<const int32_t>(ids).subspan(static_cast<size_t>(begin), static_cast<size_t>(len))},
                         {"positions", std::span<const int32_t>(pos).subspan(static_cast<size_t>(begin), static_cast<size_t>(len))}};
      EXPECT_LT(test::relative_error(run(gpu, prompt, in, kv_gpu.get()), run(cpu_backend, prompt, in, kv_cpu.get())), tol)
          << "prompt part at " << begin;
    }
    const Graph step = build(1);
    for (int s = 0; s < n_steps; ++s) {
      const std::vector<int32_t> id = {static_cast<int32_t>(rng() % kVocab)}, p = {n_prompt + s};
      const RunInputs si{{"ids", id}, {"positions", p}};
      EXPECT_LT(test::relative_error(run(gpu, step, si, kv_gpu.get()), run(cpu_backend, step, si, kv_cpu.get())), tol)
          << "step " << s;
    }
    // A run that does not continue the cache's sequence is refused.
    const std::vector<int32_t> id = {1}, p = {3};
    EXPECT_THROW(run(gpu, step, {{"ids", id}, {"positions", p}}, kv_gpu.get()), Error);
  }
}

TEST(CudaOps, RopeAndAttentionOverTheKvCacheMatchTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu);
  attention_matches_cpu(*gpu,
                        {{4, 1, 256, 0, 0.0f, DType::F32, 9, 7},
                         {4, 2, 64, 5, 50.0f, DType::F32, 9, 7},
                         {2, 2, 32, 3, 0.0f, DType::F16, 9, 7},
                         {8, 4, 128, 6, 0.0f, DType::BF16, 9, 7},
                         {4, 1, 256, 0, 30.0f, DType::F16, 700, 5},
                         {2, 1, 512, 300, 0.0f, DType::F32, 420, 5},
                         {4, 2, 128, 0, 0.0f, DType::F32, 150, 3, 90},
                         // Gemma 3's q / k norms and 3n's weightless v norm, run by the one-token
                         // steps inside the attention's launch (graph/fusion.h, Attend).
                         {4, 1, 256, 0, 0.0f, DType::F16, 700, 5, 0, true},
                         {8, 4, 128, 6, 0.0f, DType::BF16, 9, 7, 0, true},
                         {2, 1, 512, 300, 0.0f, DType::F32, 420, 5, 0, true},
                         {8, 1, 512, 0, 20.0f, DType::F16, 100, 4, 0, true}},
                        kTol);
}

// The bf16 mode runs prompts on tensor cores (flash_attention.cuh) for F16 / BF16 caches and
// head_dim 128 / 256: q, k, v are bf16 (the embedding tables are stored as bf16), the cache and
// the probabilities are rounded to its 16-bit type, so each output may move by a few bf16 units
// (2^-9) of its size: 4 * 2^-9 relative. Prompts from one block of 64 rows to several, windows
// cut inside a key tile, soft-cap, GQA / MQA, and a second prompt part reading the ring.
TEST(CudaOps, Bf16ModeAttentionIsNearTheCpu) {
  GEMRT_CUDA_OR_SKIP(gpu, Numerics::Fast);
  attention_matches_cpu(*gpu,
                        {{4, 1, 256, 0, 0.0f, DType::F16, 9, 3},
                         {8, 4, 128, 37, 0.0f, DType::BF16, 200, 3},
                         {4, 1, 256, 0, 30.0f, DType::F16, 700, 3},
                         {4, 2, 256, 100, 0.0f, DType::BF16, 333, 3, 130},
                         {2, 2, 128, 0, 0.0f, DType::F16, 150, 3, 90}},
                        4.0 * std::ldexp(1.0, -9));
}

// Steps that hand their output to the next product already rounded to int8 (executable.cu's
// plan_handoffs, bf16 mode): a gated product into the down projection, a one-token attention into
// the o projection. The next product must be exactly the int8 products' contract on the float32
// output the step wrote (read back as a graph output): codes made from other values, or scales of
// other blocks, fail it.
TEST(CudaOps, Bf16ModeProductsOfHandedOnCodesAreTheRoundedProducts) {
  GEMRT_CUDA_OR_SKIP(gpu, Numerics::Fast);
  uint32_t seed = 700;
  const auto dequantized = [](DType dt, const std::vector<std::byte>& w, int64_t n) {
    std::vector<float> wd(static_cast<size_t>(n));
    quant::dequantize_row(dt, w.data(), wd.data(), n);
    return wd;
  };
  // gate / up [inter, k] -> act [t, inter] -> down [n, inter]
  const int64_t k = 768, inter = 1536, n = 130;
  for (const auto& [gate_type, down_type] : {std::pair{DType::Q4_K, DType::Q6_K}, std::pair{DType::Q8_0, DType::Q4_K}}) {
    for (int64_t t : {1, 3}) {
      SCOPED_TRACE(testing::Message() << "gated " << dtype_name(gate_type) << " into " << dtype_name(down_type) << ", T=" << t);
      const std::vector<std::byte> table = as_bytes(random_floats(t * k, ++seed));
      const std::vector<std::byte> wg = test::random_weight_row(gate_type, inter * k, ++seed);
      const std::vector<std::byte> wu = test::random_weight_row(gate_type, inter * k, ++seed);
      const std::vector<std::byte> wdown = test::random_weight_row(down_type, n * inter, ++seed);
      Graph g;
      GraphBuilder gb(g);
      const ValueId x = gb.embed(gb.weight(view("table", DType::F32, Shape{t, k}, table)), gb.input("ids", Shape{t}), 1.0f);
      const ValueId act = gb.gated_act(gb.matmul(x, gb.weight(view("wg", gate_type, Shape{inter, k}, wg))),
                                       gb.matmul(x, gb.weight(view("wu", gate_type, Shape{inter, k}, wu))),
                                       Activation::GeluTanh);
      gb.output("act", act);
      gb.output("y", gb.matmul(act, gb.weight(view("wd", down_type, Shape{n, inter}, wdown))));
      std::vector<int32_t> ids(static_cast<size_t>(t));
      for (int64_t i = 0; i < t; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
      auto exe = gpu->compile(g);
      RunOutputs out;
      exe->run({{"ids", ids}}, nullptr, &out);
      expect_int8_products(out.at("y"), down_type, wdown, dequantized(down_type, wdown, n * inter), out.at("act"), t, n,
                           inter);
      if (testing::Test::HasFatalFailure()) return;
    }
  }
  // one-token attention [heads * head_dim] -> o [n, heads * head_dim], after a prompt
  constexpr int kVocab = 32;
  for (const auto& [heads, kv_heads, head_dim] : {std::tuple{8, 4, 128}, std::tuple{8, 4, 256}, std::tuple{4, 1, 64}}) {
    SCOPED_TRACE(testing::Message() << heads << "/" << kv_heads << " heads of " << head_dim);
    const int64_t qw = int64_t{heads} * head_dim, kw = int64_t{kv_heads} * head_dim;
    const std::vector<std::byte> tq = as_bytes(random_floats(kVocab * qw, ++seed));
    const std::vector<std::byte> tk = as_bytes(random_floats(kVocab * kw, ++seed));
    const std::vector<std::byte> tv = as_bytes(random_floats(kVocab * kw, ++seed));
    const std::vector<std::byte> wo = test::random_weight_row(DType::Q4_K, n * qw, ++seed);
    const std::vector<float> wod = dequantized(DType::Q4_K, wo, n * qw);
    std::vector<float> inv_freq(static_cast<size_t>(head_dim / 2));
    for (size_t i = 0; i < inv_freq.size(); ++i)
      inv_freq[i] = std::pow(10000.0f, -2.0f * static_cast<float>(i) / static_cast<float>(head_dim));
    const auto build = [&](int64_t t) {
      Graph g;
      GraphBuilder gb(g);
      const ValueId ids = gb.input("ids", Shape{t}), pos = gb.input("positions", Shape{t});
      const auto rows = [&](const char* name, int64_t w, const std::vector<std::byte>& table) {
        return gb.embed(gb.weight(view(name, DType::F32, Shape{kVocab, w}, table)), ids, 1.0f);
      };
      const ValueId q = gb.rope(rows("tq", qw, tq), pos, heads, head_dim, inv_freq, "rope_q");
      const ValueId kr = gb.rope(rows("tk", kw, tk), pos, kv_heads, head_dim, inv_freq, "rope_k");
      AttentionAttrs a;
      a.n_heads = heads;
      a.n_kv_heads = kv_heads;
      a.head_dim = head_dim;
      a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
      const ValueId attn = gb.attention(q, kr, rows("tv", kw, tv), pos, a);
      gb.output("attn", attn);
      gb.output("y", gb.matmul(attn, gb.weight(view("wo", DType::Q4_K, Shape{n, qw}, wo))));
      return g;
    };
    const int prompt = 40, steps = 3;
    KvLayout layout;
    layout.dtype = DType::BF16;
    layout.slots.push_back({prompt + steps, kv_heads, head_dim, 0});
    auto kv = gpu->allocate_kv(layout);
    std::vector<int32_t> ids(prompt), pos(prompt);
    for (int i = 0; i < prompt; ++i) {
      ids[static_cast<size_t>(i)] = (7 * i) % kVocab;
      pos[static_cast<size_t>(i)] = i;
    }
    RunOutputs out;
    gpu->compile(build(prompt))->run({{"ids", ids}, {"positions", pos}}, kv.get(), &out);
    auto step = gpu->compile(build(1));
    for (int s = 0; s < steps; ++s) {
      SCOPED_TRACE(testing::Message() << "step " << s);
      const std::vector<int32_t> id = {(5 * s + 3) % kVocab}, p = {prompt + s};
      step->run({{"ids", id}, {"positions", p}}, kv.get(), &out);
      expect_int8_products(out.at("y"), DType::Q4_K, wo, wod, out.at("attn"), 1, n, qw);
      if (testing::Test::HasFatalFailure()) return;
    }
  }
}

// A product whose output the next product takes through a NormAdd and a norm (Gemma's o_proj into
// the post-attention norm, the residual add and the pre-MLP norm, then gate / up): the next
// product rounds norm(sum) with its own rounding launch, or, with GEMRT_CUDA_ROUND_NEXT=1, the
// first product's last block does (executable.cu plan_handoffs; the GPU test calls run both).
// The sum must be the NormAdd of the first product's output, and the next product the int8
// contract on sum * gain, times 1 / rms(sum).
TEST(CudaOps, Bf16ModeProductThroughANormAddIsTheRoundedProduct) {
  GEMRT_CUDA_OR_SKIP(gpu, Numerics::Fast);
  const double u = std::ldexp(1.0, -24);
  const float eps = 1e-6f;
  const int64_t k0 = 512, k = 1536, n = 130;
  uint32_t seed = 900;
  // Values a bfloat16 holds exactly, so the device's copies of the tables and gains are these.
  const auto bf16_exact = [&](int64_t count) { return bf16_rounded(random_floats(count, ++seed)); };
  for (const auto& [first_type, next_type] : {std::pair{DType::Q4_K, DType::Q6_K}, std::pair{DType::Q6_K, DType::Q4_K}}) {
    for (int64_t t : {1, 3}) {
      SCOPED_TRACE(testing::Message() << dtype_name(first_type) << " into " << dtype_name(next_type) << ", T=" << t);
      const std::vector<float> xt = bf16_exact(t * k0), rt = bf16_exact(t * k);
      const std::vector<float> g_post = bf16_exact(k), g_pre = bf16_exact(k);
      const std::vector<std::byte> w1 = test::random_weight_row(first_type, k * k0, ++seed);
      const std::vector<std::byte> w2 = test::random_weight_row(next_type, n * k, ++seed);
      const std::vector<std::byte> xb = as_bytes(xt), rb = as_bytes(rt), gpb = as_bytes(g_post), grb = as_bytes(g_pre);
      Graph g;
      GraphBuilder gb(g);
      const ValueId ids = gb.input("ids", Shape{t});
      const ValueId x = gb.embed(gb.weight(view("x", DType::F32, Shape{t, k0}, xb)), ids, 1.0f);
      const ValueId res = gb.embed(gb.weight(view("res", DType::F32, Shape{t, k}, rb)), ids, 1.0f);
      const ValueId y = gb.matmul(x, gb.weight(view("w1", first_type, Shape{k, k0}, w1)));
      const ValueId s = gb.add(res, gb.rms_norm(y, gb.weight(view("g_post", DType::F32, Shape{k}, gpb)), k, eps, 1.0f));
      const ValueId z = gb.matmul(gb.rms_norm(s, gb.weight(view("g_pre", DType::F32, Shape{k}, grb)), k, eps, 1.0f),
                                  gb.weight(view("w2", next_type, Shape{n, k}, w2)));
      gb.output("y", y);
      gb.output("s", s);
      gb.output("z", z);
      std::vector<int32_t> id(static_cast<size_t>(t));
      for (int64_t i = 0; i < t; ++i) id[static_cast<size_t>(i)] = static_cast<int32_t>(i);
      auto exe = gpu->compile(g);
      RunOutputs out;
      for (int run = 0; run < 3; ++run) {  // launched, captured, replayed
        exe->run({{"ids", id}}, nullptr, &out);
        const std::vector<float>&ys = out.at("y"), &ss = out.at("s"), &zs = out.at("z");
        std::vector<float> w2d(static_cast<size_t>(n * k));
        quant::dequantize_row(next_type, w2.data(), w2d.data(), n * k);
        const double off = max_offset(next_type, w2);
        const double kd = static_cast<double>(k), eps_d = static_cast<double>(eps);
        for (int64_t i = 0; i < t; ++i) {
          // element c of row i of a [t, k] output, as a double
          const auto at = [&](const std::vector<float>& v, int64_t c) { return static_cast<double>(v[static_cast<size_t>(i * k + c)]); };
          double yy = 0.0, sq = 0.0;
          for (int64_t c = 0; c < k; ++c) yy += at(ys, c) * at(ys, c);
          const double inv_post = 1.0 / std::sqrt(yy / kd + eps_d);
          std::vector<float> normed(static_cast<size_t>(k));
          for (int64_t c = 0; c < k; ++c) {
            const auto cs = static_cast<size_t>(c);
            const double term = at(ys, c) * inv_post * (1.0 + static_cast<double>(g_post[cs]));
            const double residual = at(rt, c), got = at(ss, c);
            // 1 / rms in float32: its sum of k squares within k u (relative); the rest a few u
            ASSERT_NEAR(got, residual + term, kd * u * std::fabs(term) + 4.0 * u * (std::fabs(residual) + std::fabs(term)))
                << "sum " << i << ", " << c << " (run " << run << ")";
            sq += got * got;
            normed[cs] = ss[static_cast<size_t>(i * k + c)] * (1.0f + g_pre[cs]);  // as the device forms it
          }
          const double inv_pre = 1.0 / std::sqrt(sq / kd + eps_d);
          const std::vector<double> xr = int8_rounded(normed);
          for (int64_t j = 0; j < n; ++j) {
            const ProductSum p = int8_product(w2d, xr, j, k, off);
            ASSERT_NEAR(zs[static_cast<size_t>(i * n + j)], p.exact * inv_pre,
                        ((2.0 * kd + 16.0) * u * p.mag + 2.0 * kd * u * std::fabs(p.exact)) * inv_pre)
                << "next product " << i << ", " << j << " (run " << run << ")";
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace gemrt
