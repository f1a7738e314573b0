// GEMRT_CUDA_TIMELINE=1: where a decode step's time goes inside the captured CUDA graph, without
// taking the graph apart (GEMRT_CUDA_PROFILE brackets each step with events and launches kernels
// one by one; GEMRT_CUDA_SKIP leaves step kinds out). The decode products, their roundings and the
// one-token attention stamp their spans (timeline_device.cuh) into slots here; after every run the
// slots come back to the host, and when the executable goes, the last run's spans go to stderr per
// step kind: for each kernel, how long after the kernel before it ended it got past pdl_wait() (the
// boundary between them) and how long from there until its last block ended (its own time). A
// measuring aid: stamping adds an atomic per block and a block-wide synchronisation at its end.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gemrt/backend/cuda/device_memory.h"

namespace gemrt::cuda {

class StepTimeline {
 public:
  static bool enabled();
  // Slots for `steps` fused steps, two kernels each: a product's rounding, then the step's main
  // kernel.
  explicit StepTimeline(size_t steps);
  // The 6 device slots of step i: the rounding's 3, then the main kernel's 3 (timeline_device.cuh).
  unsigned long long* slots(size_t step) const;
  void reset(cudaStream_t stream);  // enqueued at the start of every run (captured with it)
  void fetch(cudaStream_t stream);  // after a run: copies the slots back (synchronises the stream)
  // The table of the last fetched run; labels[i] names step i (empty: a step that launches nothing,
  // which does not part the kernels around it).
  void report(const std::vector<std::string>& labels, const std::string& title) const;

 private:
  DeviceBuffer slots_;
  std::vector<uint64_t> host_;
  bool fetched_ = false;
};

}  // namespace gemrt::cuda
