#include "gemrt/backend/cuda/step_profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/env_switch.h"

namespace gemrt::cuda {

bool StepProfiler::enabled() { return env_is("GEMRT_CUDA_PROFILE", "1"); }

StepProfiler::~StepProfiler() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
}

void StepProfiler::begin_run() {
  used_ = 0;
  labels_.clear();
  run_start_ = std::chrono::steady_clock::now();
}

void StepProfiler::begin_step(cudaStream_t stream) {
  if (used_ + 2 > events_.size()) {
    for (int i = 0; i < 2; ++i) {
      cudaEvent_t e = nullptr;
      check(cudaEventCreate(&e), "cudaEventCreate");
      events_.push_back(e);
    }
  }
  check(cudaEventRecord(events_[used_], stream), "cudaEventRecord");
}

void StepProfiler::end_step(std::string label, cudaStream_t stream) {
  check(cudaEventRecord(events_[used_ + 1], stream), "cudaEventRecord");
  used_ += 2;
  labels_.push_back(std::move(label));
}

void StepProfiler::end_run(cudaStream_t stream) {
  check(cudaStreamSynchronize(stream), "profiling a run");
  for (size_t i = 0; i < labels_.size(); ++i) {
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, events_[2 * i], events_[2 * i + 1]), "cudaEventElapsedTime");
    Total& t = totals_[labels_[i]];
    ++t.calls;
    t.ms += static_cast<double>(ms);
  }
  ++runs_;
  wall_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - run_start_).count();
}

void StepProfiler::report(const std::string& title) const {
  if (runs_ == 0) return;
  std::vector<std::pair<std::string, Total>> rows(totals_.begin(), totals_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  double gpu = 0.0;
  for (const auto& r : rows) gpu += r.second.ms;
  std::fprintf(stderr, "\n[gemrt cuda profile] %s: %d runs, wall %.3f ms/run, steps %.3f ms/run\n", title.c_str(), runs_,
               wall_ms_ / runs_, gpu / runs_);
  std::fprintf(stderr, "  %-34s %9s %12s %10s %6s\n", "step", "per run", "ms/run", "us/call", "share");
  for (const auto& [label, t] : rows)
    std::fprintf(stderr, "  %-34s %9.1f %12.4f %10.2f %5.1f%%\n", label.c_str(), static_cast<double>(t.calls) / runs_,
                 t.ms / runs_, 1000.0 * t.ms / t.calls, 100.0 * t.ms / gpu);
}

}  // namespace gemrt::cuda
