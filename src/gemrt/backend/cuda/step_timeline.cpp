#include "gemrt/backend/cuda/step_timeline.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/env_switch.h"

namespace gemrt::cuda {
namespace {

constexpr size_t kSlotsPerStep = 6;

}  // namespace

bool StepTimeline::enabled() { return env_is("GEMRT_CUDA_TIMELINE", "1"); }

StepTimeline::StepTimeline(size_t steps)
    : steps_(steps),
      slots_(static_cast<int64_t>(steps * kSlotsPerStep * sizeof(uint64_t)), "cudaMalloc for the step timeline"),
      host_(steps * kSlotsPerStep) {}

unsigned long long* StepTimeline::slots(size_t step) const {
  return static_cast<unsigned long long*>(slots_.get()) + step * kSlotsPerStep;
}

void StepTimeline::reset(cudaStream_t stream) {
  check(cudaMemsetAsync(slots_.get(), 0xff, host_.size() * sizeof(uint64_t), stream), "resetting the step timeline");
}

void StepTimeline::fetch(cudaStream_t stream) {
  check(cudaMemcpyAsync(host_.data(), slots_.get(), host_.size() * sizeof(uint64_t), cudaMemcpyDeviceToHost, stream),
        "copying the step timeline");
  check(cudaStreamSynchronize(stream), "copying the step timeline");
  fetched_ = true;
}

void StepTimeline::report(const std::vector<std::string>& labels, const std::string& title) const {
  if (!fetched_) return;
  struct Span {
    uint64_t start, released, end;
  };
  struct Total {
    int kernels = 0, boundaries = 0;
    double boundary_us = 0.0, own_us = 0.0;
  };
  std::map<std::string, Total> totals;
  uint64_t first = UINT64_MAX, last = 0, prev_end = 0;
  bool prev = false;  // the launch before was stamped (a boundary is measured against it)
  double boundary_sum = 0.0, own_sum = 0.0;
  for (size_t i = 0; i < steps_ && i < labels.size(); ++i) {
    if (labels[i].empty()) continue;  // launches nothing
    bool any = false;
    for (size_t k = 0; k < 2; ++k) {
      const uint64_t* s = host_.data() + i * kSlotsPerStep + 3 * k;
      if (s[0] == UINT64_MAX || s[1] == UINT64_MAX || s[2] == UINT64_MAX) continue;
      any = true;
      const Span span{s[0], s[1], ~s[2]};
      Total& t = totals[k == 0 ? labels[i] + " [rounding]" : labels[i]];
      ++t.kernels;
      const double own = static_cast<double>(span.end - span.released) / 1000.0;
      t.own_us += own;
      own_sum += own;
      if (prev) {
        const double b = (static_cast<double>(span.released) - static_cast<double>(prev_end)) / 1000.0;
        ++t.boundaries;
        t.boundary_us += b;
        boundary_sum += b;
      }
      first = std::min(first, span.start);
      last = std::max(last, span.end);
      prev_end = span.end;
      prev = true;
    }
    if (!any) prev = false;  // an unstamped launch (or none) in between
  }
  if (totals.empty()) return;
  std::vector<std::pair<std::string, Total>> rows(totals.begin(), totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.own_us + a.second.boundary_us > b.second.own_us + b.second.boundary_us;
  });
  std::fprintf(stderr,
               "\n[gemrt cuda timeline] %s, last run inside the graph: %.1f us from the first stamped kernel's start "
               "to the last one's end; boundaries %.1f us, own time %.1f us\n",
               title.c_str(), static_cast<double>(last - first) / 1000.0, boundary_sum, own_sum);
  std::fprintf(stderr, "  %-56s %8s %14s %12s\n", "kernel of step", "kernels", "boundary, us", "own, us");
  for (const auto& [label, t] : rows)
    std::fprintf(stderr, "  %-56s %8d %14.2f %12.2f\n", label.c_str(), t.kernels,
                 t.boundaries ? t.boundary_us / t.boundaries : 0.0, t.own_us / t.kernels);
}

}  // namespace gemrt::cuda
