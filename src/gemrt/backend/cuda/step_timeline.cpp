#include "gemrt/backend/cuda/step_timeline.h"

#include <cstdio>
#include <cstdlib>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/env_switch.h"
#include "gemrt/backend/cuda/timeline_table.h"

namespace gemrt::cuda {
namespace {

constexpr size_t kSlotsPerStep = 6;

}  // namespace

bool StepTimeline::enabled() { return env_is("GEMRT_CUDA_TIMELINE", "1"); }

StepTimeline::StepTimeline(size_t steps)
    : slots_(static_cast<int64_t>(steps * kSlotsPerStep * sizeof(uint64_t)), "cudaMalloc for the step timeline"),
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
  const TimelineTable t = timeline_table(host_, labels);
  if (t.rows.empty()) return;
  std::fprintf(stderr,
               "\n[gemrt cuda timeline] %s, last run inside the graph: %.1f us from the first stamped kernel's start "
               "to the last one's end; boundaries %.1f us, own time %.1f us\n",
               title.c_str(), t.span_us, t.boundary_us, t.own_us);
  std::fprintf(stderr, "  %-56s %8s %14s %12s\n", "kernel of step", "kernels", "boundary, us", "own, us");
  for (const TimelineRow& r : t.rows)
    std::fprintf(stderr, "  %-56s %8d %14.2f %12.2f\n", r.kernel.c_str(), r.kernels, r.boundary_us, r.own_us);
}

}  // namespace gemrt::cuda
