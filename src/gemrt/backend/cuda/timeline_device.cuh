// Device side of StepTimeline (step_timeline.h): a kernel of a decode step stamps its span in the
// running graph into three 64-bit slots, each kept as a minimum (the slots start as all ones), so
// every block may stamp and the first / last one wins:
//   [0] %globaltimer (ns) when the first block started,
//   [1] when the first block got past pdl_wait() (the kernel before had finished),
//   [2] all ones minus the time the last block ended.
// A null slot pointer stamps nothing (the default: GEMRT_CUDA_TIMELINE unset).
#pragma once

#include <cuda_runtime.h>

namespace gemrt::cuda {

__device__ inline unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ inline void stamp_start(unsigned long long* s) {
  if (s && threadIdx.x == 0) atomicMin(s, global_ns());
}

__device__ inline void stamp_released(unsigned long long* s) {
  if (s && threadIdx.x == 0) atomicMin(s + 1, global_ns());
}

// Called by every thread of the block at its end (the block is synchronised first when stamping,
// so the stamp follows every thread's last store).
__device__ inline void stamp_end(unsigned long long* s) {
  if (!s) return;
  __syncthreads();
  if (threadIdx.x == 0) atomicMin(s + 2, ~global_ns());
}

}  // namespace gemrt::cuda
