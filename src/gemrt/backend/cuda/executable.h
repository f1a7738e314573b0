// The CUDA backend's compiled graph (executable.cu): buffers planned once, weights acquired from
// the backend's store, fused steps (graph/fusion.h) launched one by one on the first run and then
// replayed as a CUDA graph.
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "gemrt/backend/backend.h"
#include "gemrt/backend/cuda/weight_store.h"
#include "gemrt/graph/ir.h"

namespace gemrt::cuda {

std::unique_ptr<Executable> make_executable(const Graph& g, std::shared_ptr<WeightStore> weights, Numerics numerics,
                                            cudaStream_t stream);

}  // namespace gemrt::cuda
