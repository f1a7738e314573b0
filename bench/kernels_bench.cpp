// Micro-benchmarks of the dot-product kernels (Google Benchmark): one thread, a weight matrix
// larger than the caches against one (decode), 16 or 128 (prefill blocks) activation rows, through
// the kernel the fast matmul picks for that shape (8-row groups for Q4_0 / Q4_K, llama.cpp's
// batched order for the K-quants and F16 / BF16 at 16 rows, block kernels for several rows).
// Reports bytes of weights read per second.
// MatmulFast/FORMAT/SHAPE: the whole fast matmul (activation rounding, row blocks, kernels) of a
// 512-token prompt through a Gemma 3 1B projection, on 1 or 2 threads (/threads:N); reports
// multiply-adds per second.
// DecodeL2/FORMAT: the one-row (decode) kernel over 128 weight rows of a 1B projection (k = 1152,
// or 6912 for the K-quants), small enough to stay in L2: the kernel's compute cost without the
// memory system's (which moves with the VM's neighbours); reports ns per 32 weight values. Compare
// builds with --benchmark_repetitions=10 and the minimum.
// PrefillL2/FORMAT: the several-row (prefill) kernel, 48 weight rows x 48 activation rows of a 1B
// projection (k as DecodeL2), all L2-resident; reports ns per 32-value block product (one weight
// block against one activation block). Compare builds as DecodeL2.
//   build/bin/gemrt_bench_kernels [--benchmark_filter=Q4_K]
#include <benchmark/benchmark.h>

#include <optional>
#include <random>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/core/dtype.h"
#include "gemrt/core/half.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/row_group_dot.h"
#include "gemrt/quant/vec_dot.h"

namespace {

using gemrt::DType;

// Random weight bytes of format t: small codes and finite f16 scales for the block formats;
// rounded normal values for F16 / BF16 (random bytes would make about 1 in 64 BF16 values
// subnormal, and subnormal FMAs cost Intel CPUs a microcode assist each: BF16 PrefillL2 ran 20
// times slower than F16 so).
void fill_weights(DType t, std::vector<std::byte>& w, std::mt19937& rng) {
  if (t == DType::F16 || t == DType::BF16) {
    std::normal_distribution<float> g;
    auto* h = reinterpret_cast<uint16_t*>(w.data());
    for (size_t i = 0; i < w.size() / 2; ++i) h[i] = t == DType::F16 ? gemrt::f32_to_f16(g(rng)) : gemrt::f32_to_bf16(g(rng));
  } else {
    for (auto& b : w) b = static_cast<std::byte>(rng() & 0x3f);
  }
}

// Random weights [rows_w, k] of format t (fill_weights) and rows_a activation rows rounded to its
// partner type.
struct Operands {
  Operands(DType t, int64_t k, int64_t rows_w, int64_t rows_a)
      : w_row(gemrt::dtype_bytes(t, k)), a_row(gemrt::dtype_bytes(gemrt::quant::dot_partner(t), k)) {
    w.resize(static_cast<size_t>(w_row * rows_w));
    std::mt19937 rng(1);
    fill_weights(t, w, rng);
    std::normal_distribution<float> g;
    std::vector<float> x(static_cast<size_t>(k * rows_a));
    for (auto& v : x) v = g(rng);
    a.resize(static_cast<size_t>(a_row * rows_a));
    for (int64_t r = 0; r < rows_a; ++r)
      gemrt::quant::quantize_activations(gemrt::quant::dot_partner(t), x.data() + r * k, k, a.data() + r * a_row);
  }
  int64_t w_row, a_row;
  std::vector<std::byte> w, a;
};

void BM_RowDot(benchmark::State& state, DType t, gemrt::quant::DotIsa isa) {
  if (!gemrt::quant::dot_isa_available(isa)) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  const int64_t k = 2048, rows_w = 16384;  // 16384 x 2048 weights: 18-67 MB depending on format
  const int64_t rows_a = state.range(0);
  const Operands ops(t, k, rows_w, rows_a);
  const int64_t w_row = ops.w_row, a_row = ops.a_row;
  const std::vector<std::byte>&w = ops.w, &a = ops.a;
  namespace q = gemrt::quant;
  std::vector<float> out(static_cast<size_t>(rows_a * rows_w));
  if (q::has_row_group_dot(t)) {
    const q::RowGroupDot dot(t, k, isa);
    for (auto _ : state) {
      for (int64_t n = 0; n < rows_w; n += q::kRowGroup)
        dot(w.data() + n * w_row, w_row, a.data(), a_row, rows_a, q::fold_grain(0, rows_a), out.data() + n, rows_w);
      benchmark::DoNotOptimize(out.data());
    }
  } else {
    const int64_t min_rows = q::batched_order_min_rows(t);
    const q::RowDot dot(t, k, isa, min_rows > 0 && rows_a >= min_rows ? q::DotOrder::Batched : q::DotOrder::VecDot);
    for (auto _ : state) {
      dot.block(w.data(), w_row, rows_w, a.data(), a_row, rows_a, out.data(), rows_w);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}

// out [t, n] = x [t, k] @ w^T through cpu::matmul_fast on state.range(0) threads.
void BM_MatmulFast(benchmark::State& state, DType t, int64_t n, int64_t k) {
  const int64_t rows = 512;
  const int64_t w_row = gemrt::dtype_bytes(t, k);
  std::vector<std::byte> w(static_cast<size_t>(w_row * n));
  std::mt19937 rng(1);
  fill_weights(t, w, rng);
  std::vector<float> x(static_cast<size_t>(k * rows)), out(static_cast<size_t>(n * rows));
  std::normal_distribution<float> g;
  for (auto& v : x) v = g(rng);
  gemrt::TensorView view;
  view.dtype = t;
  view.shape = {n, k};
  view.data = w.data();
  gemrt::ThreadPool pool(static_cast<int>(state.range(0)));
  std::vector<std::byte> scratch;
  for (auto _ : state) {
    gemrt::cpu::matmul_fast(x.data(), rows, view, out.data(), pool, scratch);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(state.iterations() * rows * n * k) * 1e-9,
                                                benchmark::Counter::kIsRate);
}

// One activation row against 128 L2-resident weight rows, through the kernel the fast matmul picks
// for one token (8-row groups where the format has them, else RowDot::block's stream kernels).
void BM_DecodeL2(benchmark::State& state, DType t) {
  namespace q = gemrt::quant;
  const int64_t k = gemrt::dtype_info(t).block_elems == 256 ? 6912 : 1152, rows_w = 128;
  const Operands ops(t, k, rows_w, 1);
  std::vector<float> out(static_cast<size_t>(rows_w));
  const q::RowDot dot(t, k, q::dot_isa(), q::DotOrder::VecDot);
  std::optional<q::RowGroupDot> rg;
  if (q::has_row_group_dot(t)) rg.emplace(t, k);
  for (auto _ : state) {
    if (rg) {
      for (int64_t n = 0; n < rows_w; n += q::kRowGroup)
        (*rg)(ops.w.data() + n * ops.w_row, ops.w_row, ops.a.data(), ops.a_row, 1, q::fold_grain(0, 1), out.data() + n,
           rows_w);
    } else {
      dot.block(ops.w.data(), ops.w_row, rows_w, ops.a.data(), ops.a_row, 1, out.data(), rows_w);
    }
    benchmark::DoNotOptimize(out.data());
  }
  // Rate of (blocks x 1e-9), inverted: seconds per 1e-9 blocks = ns per 32-value block.
  state.counters["ns/32"] = benchmark::Counter(static_cast<double>(state.iterations() * rows_w * k / 32) * 1e-9,
                                               benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// 48 weight rows against 48 activation rows through the kernel the fast matmul picks for a block of
// prompt rows (RowGroupDot where the format has 8-row groups, else RowDot::block in the batched
// order where the format has one), operands small enough to stay in L2.
void BM_PrefillL2(benchmark::State& state, DType t) {
  namespace q = gemrt::quant;
  const int64_t k = gemrt::dtype_info(t).block_elems == 256 ? 6912 : 1152, rows_w = 48, rows_a = 48;
  const Operands ops(t, k, rows_w, rows_a);
  std::vector<float> out(static_cast<size_t>(rows_w * rows_a));
  const int64_t min_rows = q::batched_order_min_rows(t);
  const q::RowDot dot(t, k, q::dot_isa(), min_rows > 0 && rows_a >= min_rows ? q::DotOrder::Batched : q::DotOrder::VecDot);
  std::optional<q::RowGroupDot> rg;
  if (q::has_row_group_dot(t)) rg.emplace(t, k);
  for (auto _ : state) {
    if (rg) {  // as the fast matmul calls it: all groups of the rows at once
      rg->groups(ops.w.data(), ops.w_row, rows_w / q::kRowGroup, ops.a.data(), ops.a_row, rows_a, q::fold_grain(0, rows_a),
                 out.data(), rows_w);
    } else {
      dot.block(ops.w.data(), ops.w_row, rows_w, ops.a.data(), ops.a_row, rows_a, out.data(), rows_w);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["ns/32"] = benchmark::Counter(
      static_cast<double>(state.iterations() * rows_w * rows_a * k / 32) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void register_all() {
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  for (DType t : {DType::Q8_0, DType::Q5_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16, DType::BF16})
    for (const Shape& s : {Shape{"1b-gate", 6912, 1152}, Shape{"1b-down", 1152, 6912}}) {
      if (s.k % gemrt::dtype_info(t).block_elems != 0) continue;  // K-quants: 1152 is not whole blocks
      const std::string name = "MatmulFast/" + std::string(gemrt::dtype_name(t)) + "/" + s.name;
      benchmark::RegisterBenchmark(name.c_str(), BM_MatmulFast, t, s.n, s.k)
          ->ArgName("threads")
          ->Arg(1)
          ->Arg(2)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16, DType::BF16})
    benchmark::RegisterBenchmark(("DecodeL2/" + std::string(gemrt::dtype_name(t))).c_str(), BM_DecodeL2, t);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16, DType::BF16})
    benchmark::RegisterBenchmark(("PrefillL2/" + std::string(gemrt::dtype_name(t))).c_str(), BM_PrefillL2, t);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_1, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                  DType::Q5_K, DType::Q6_K, DType::F16, DType::BF16}) {
    for (auto isa : {gemrt::quant::DotIsa::Scalar, gemrt::quant::DotIsa::Avx2, gemrt::quant::DotIsa::Avx512}) {
      const std::string name = "RowDot/" + std::string(gemrt::dtype_name(t)) + "/" +
                               std::string(gemrt::quant::dot_isa_name(isa));
      benchmark::RegisterBenchmark(name.c_str(), BM_RowDot, t, isa)->Arg(1)->Arg(16)->Arg(128)->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
