// The CUDA backend's weights on the device (see the class comment).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "gemrt/backend/backend.h"
#include "gemrt/backend/cuda/device_memory.h"
#include "gemrt/backend/cuda/kernels.cuh"
#include "gemrt/core/tensor.h"

namespace gemrt::cuda {

// Weights on the device, shared by every graph of a backend that reads them (all graphs of a
// model reference the same mapped bytes): uploaded by the first executable that needs a tensor,
// freed when the last one holding it is destroyed. Keyed by host address and size, which are
// stable while any executable holds them (the model's mapping outlives its graphs); a later
// model mapped at the same address after all its graphs died gets a fresh upload.
//
// Stored dtype on the device: the file's, except under fast numerics, where float32 and float16
// matrices (rank >= 2) become bfloat16 (the bf16 mode of issue 5: what `model.to(torch.bfloat16)`
// runs, and what its tensor-core products round every weight to anyway: an F16 GGUF's prefill
// then multiplies the stored matrices directly instead of converting them chunk by chunk on every
// pass, which left a 12B F16 file's pp512 at 0.41x the same model in bfloat16 on an H100;
// bench/RESULTS.md, session 14). Vectors (norm gains) keep their dtype.
class WeightStore {
 public:
  using Key = std::pair<const std::byte*, int64_t>;
  static Key key(const TensorView& w) { return {w.data, w.nbytes()}; }

  explicit WeightStore(Numerics numerics) : numerics_(numerics) {}

  // The weight on the device (uploaded, and converted for fast numerics, on first use); every
  // acquire is matched by a release.
  DeviceWeight acquire(const TensorView& w, cudaStream_t stream);
  void release(const TensorView& w);
  // The dtype `w` is stored in on the device (see the class comment).
  DType stored_dtype(const TensorView& w) const;

 private:
  struct Entry {
    DeviceBuffer buffer;
    int holders = 0;
  };
  Numerics numerics_;
  std::mutex mu_;
  std::map<Key, Entry> weights_;
};

}  // namespace gemrt::cuda
