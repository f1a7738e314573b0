// Micro-benchmark of the CUDA backend's decode products (Google Benchmark): cuda::matvec, the
// kernel every one-token product runs, on the weight shapes of the Gemma 3 1B-27B decoders, one
// activation row, weights streamed from device memory (each timed launch reads another copy of
// the matrix, enough copies to exceed the 50 MB L2 several times over, so no launch finds its
// weights in cache). Launches are replayed from a CUDA graph: the time is the kernels' own, no
// host launch cost. Reports weight bytes read per second (compare with the ~4.2 TB/s copy
// bandwidth of an H200; bench/RESULTS.md) and the time of one product. An iteration replays
// one product per copy, so keep --benchmark_min_time short (0.05 s is plenty).
//   build/bin/gemrt_bench_cuda_matvec --benchmark_min_time=0.05 [--benchmark_filter=BF16]
// Block formats run twice: FORMAT is the float32 product of precise numerics, FORMAT-i8 the
// int8-activation product of fast numerics. Without a GPU every case is skipped with a message.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/fused_kernels.cuh"
#include "gemrt/backend/cuda/quant_matvec.cuh"
#include "gemrt/core/dtype.h"

namespace {

using gemrt::DType;
namespace cuda = gemrt::cuda;

struct Case {
  const char* name;
  int64_t rows, k;
  bool gated;  // gate and up read together, act(gate) * up written
  bool normed;  // the RMSNorm applied as the activation is loaded (q/k/v, gate/up, LM head)
};

constexpr Case kCases[] = {
    {"1b_qkv", 1536, 1152, false, true},         {"1b_gate_up", 6912, 1152, true, true},
    {"1b_down", 1152, 6912, false, false},       {"1b_lm_head", 262144, 1152, false, true},
    {"4b_qkv", 4096, 2560, false, true},         {"4b_gate_up", 10240, 2560, true, true},
    {"4b_down", 2560, 10240, false, false},      {"4b_lm_head", 262144, 2560, false, true},
    {"4b_o", 2560, 2048, false, false},
    // The bytes of 4b_down over rows a quarter as long: against 4b_down, what the product's fixed
    // cost owes to k (each block stages the whole activation row) rather than to the bytes read.
    {"4b_down_short_k", 10240, 2560, false, false},
    {"12b_gate_up", 15360, 3840, true, true},    {"12b_down", 3840, 15360, false, false},
    {"27b_gate_up", 21504, 5376, true, true},    {"27b_down", 5376, 21504, false, false},
};

bool has_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

template <typename T>
struct DeviceArray {
  T* p = nullptr;
  explicit DeviceArray(size_t bytes) { cuda::check(cudaMalloc(reinterpret_cast<void**>(&p), bytes), "cudaMalloc"); }
  ~DeviceArray() { cudaFree(p); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
};

void BM_MatVec(benchmark::State& state, Case c, DType dt, bool int8) {
  if (!has_gpu()) {
    state.SkipWithError("no CUDA device present");
    return;
  }
  const int64_t row_bytes = gemrt::dtype_bytes(dt, c.k);
  const int64_t matrix = row_bytes * c.rows, per_launch = matrix * (c.gated ? 2 : 1);
  const int copies = static_cast<int>(std::clamp<int64_t>((int64_t{400} << 20) / per_launch, 2, 64));
  // Bytes 0x11: small codes and finite scales in every block format; the value does not change
  // the speed of a kernel whose work does not depend on it.
  const size_t bytes = static_cast<size_t>(matrix) * copies * (c.gated ? 2 : 1);
  DeviceArray<uint8_t> weights(bytes);
  cuda::check(cudaMemset(weights.p, 0x11, bytes), "cudaMemset");
  std::vector<float> ones(static_cast<size_t>(c.k), 1.0f);
  DeviceArray<float> x(ones.size() * sizeof(float)), gain(ones.size() * sizeof(float)),
      out(static_cast<size_t>(c.rows) * sizeof(float));
  cuda::check(cudaMemcpy(x.p, ones.data(), ones.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  cuda::check(cudaMemcpy(gain.p, ones.data(), ones.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  cuda::NormSpec norm;
  norm.gain = gain.p;

  // The rounded activation's scratch, as the executable gives it (GEMRT_CUDA_QGLOBAL=0: none, so
  // every block of the product rounds it again).
  const bool round_once = cuda::quant_round_once();
  DeviceArray<uint8_t> rounded(static_cast<size_t>(cuda::quant_rounded_bytes(1, c.k)));

  cudaStream_t stream = nullptr;
  cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  const auto product = [&](int i) {
    cuda::MatVecJob job;
    job.x = x.p;
    job.t = 1;
    job.k = c.k;
    job.norm = c.normed ? &norm : nullptr;
    job.n_weights = c.gated ? 2 : 1;
    for (int m = 0; m < job.n_weights; ++m) {
      job.w[m] = cuda::DeviceWeight{dt, weights.p + (static_cast<size_t>(i) * job.n_weights + m) * matrix, c.rows,
                                    c.k, row_bytes};
      job.out[m] = out.p;
    }
    job.gated = c.gated;
    job.int8_activation = int8;
    if (round_once) {
      job.rounded = rounded.p;
      job.rounded_bytes = cuda::quant_rounded_bytes(1, c.k);
    }
    cuda::matvec(job, stream);
  };
  cuda::check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  for (int i = 0; i < copies; ++i) product(i);
  cudaGraph_t graph = nullptr;
  cuda::check(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  cuda::check(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
  cudaEvent_t begin, end;
  cudaEventCreate(&begin);
  cudaEventCreate(&end);
  cuda::check(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");  // warm-up
  for (auto _ : state) {
    cudaEventRecord(begin, stream);
    cudaGraphLaunch(exec, stream);
    cudaEventRecord(end, stream);
    cuda::check(cudaEventSynchronize(end), "running the graph");
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, begin, end);
    state.SetIterationTime(ms / 1e3);  // an iteration: one product on each copy
  }
  using C = benchmark::Counter;
  state.counters["GB/s"] = C(static_cast<double>(per_launch) * copies * 1e-9, C::kIsIterationInvariantRate);
  state.counters["s/product"] = C(copies, C::kIsIterationInvariantRate | C::kInvert);
  state.counters["MB"] = static_cast<double>(per_launch) / 1e6;
  cudaEventDestroy(begin);
  cudaEventDestroy(end);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

[[maybe_unused]] const bool registered = [] {
  for (DType dt : {DType::BF16, DType::F16, DType::Q8_0, DType::Q6_K, DType::Q5_0, DType::Q4_K, DType::Q4_0}) {
    for (const Case& c : kCases) {
      if (c.k % gemrt::dtype_info(dt).block_elems != 0) continue;  // a K-quant needs whole 256-blocks per row
      // Block formats twice: the float32 product (precise numerics) and the int8-activation one
      // (fast numerics, quant_matvec.cuh), named FORMAT-i8.
      for (bool int8 : {false, true}) {
        if (int8 && gemrt::dtype_info(dt).block_elems == 1) continue;
        const std::string name =
            std::string("matvec/") + std::string(gemrt::dtype_name(dt)) + (int8 ? "-i8/" : "/") + c.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_MatVec, c, dt, int8)->UseManualTime()->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
