// GEMRT_CUDA_PROFILE=1: where a CUDA executable's time goes. Every step of every run is
// bracketed by CUDA events (the executable then launches kernels one by one, no graph), and when
// the executable is destroyed a table of GPU time per step kind, and of wall time per run, goes
// to stderr. A measuring aid for developers, off by default; event gaps include launch latency,
// so tiny kernels read longer than they run inside a graph.
#pragma once

#include <cuda_runtime.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gemrt::cuda {

class StepProfiler {
 public:
  static bool enabled();
  StepProfiler() = default;
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;
  ~StepProfiler();

  void begin_run();
  void begin_step(cudaStream_t stream);
  void end_step(std::string label, cudaStream_t stream);
  void end_run(cudaStream_t stream);  // synchronizes
  // Prints the table (nothing when no run was profiled).
  void report(const std::string& title) const;

 private:
  struct Total {
    int calls = 0;
    double ms = 0.0;
  };
  std::vector<cudaEvent_t> events_;  // pairs (start, end) of this run's steps, reused across runs
  std::vector<std::string> labels_;
  size_t used_ = 0;
  std::map<std::string, Total> totals_;
  int runs_ = 0;
  double wall_ms_ = 0.0;
  std::chrono::steady_clock::time_point run_start_;
};

}  // namespace gemrt::cuda
