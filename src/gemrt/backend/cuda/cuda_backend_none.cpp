// The CUDA backend of a build without the CUDA toolkit (see cuda_backend.h).
#include "gemrt/backend/cuda/cuda_backend.h"

#include "gemrt/core/error.h"

namespace gemrt::cuda {

bool device_available(std::string* why) {
  if (why) *why = "gemrt was built without CUDA (no CUDA compiler was found when it was configured)";
  return false;
}

std::unique_ptr<Backend> make_backend(int, Numerics) {
  fail("the CUDA backend is not available: gemrt was built without CUDA (no CUDA compiler was found when it was configured)");
}

}  // namespace gemrt::cuda
