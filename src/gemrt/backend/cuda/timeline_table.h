// The table GEMRT_CUDA_TIMELINE prints (step_timeline.h), made from one run's stamps. Plain C++,
// built with or without CUDA, so that it is tested on any machine.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace gemrt::cuda {

// One kind of kernel: a step label, with " [rounding]" for a product's rounding launch.
struct TimelineRow {
  std::string kernel;
  int kernels = 0;
  double boundary_us = 0.0;  // mean time from the kernel before's end to this one getting past pdl_wait()
  double own_us = 0.0;       // mean time from there to its last block's end
};

struct TimelineTable {
  double span_us = 0.0;      // the first stamped kernel's start to the last one's end
  double boundary_us = 0.0;  // summed over the kernels
  double own_us = 0.0;
  std::vector<TimelineRow> rows;  // by total time (boundaries + own), largest first
};

// slots: 6 per step, timeline_device.cuh's three for the step's rounding, then three for its main
// kernel; a kernel that did not run has slots of all ones. labels[i] names step i, empty for a
// step that launches nothing (it does not part the kernels around it). A kernel's boundary is
// counted only where the launch before it was stamped too.
TimelineTable timeline_table(std::span<const uint64_t> slots, const std::vector<std::string>& labels);

}  // namespace gemrt::cuda
