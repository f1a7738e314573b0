#include "gemrt/backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/executable.h"
#include "gemrt/backend/cuda/kv_cache.h"
#include "gemrt/backend/cuda/weight_store.h"
#include "gemrt/core/error.h"

namespace gemrt::cuda {
namespace {

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, Numerics numerics) : numerics_(numerics), weights_(std::make_shared<WeightStore>(numerics)) {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    name_ = std::string("cuda:") + std::to_string(device) + " (" + prop.name + ", " +
            (numerics == Numerics::Fast ? "bf16" : "float32") + ")";
  }
  ~CudaBackend() override {
    weights_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }
  std::string name() const override { return name_; }
  std::unique_ptr<Executable> compile(const Graph& g) override {
    return make_executable(g, weights_, numerics_, stream_);
  }
  std::unique_ptr<KvCache> allocate_kv(const KvLayout& layout) override { return std::make_unique<CudaKvCache>(layout); }
  // A 4096-row run fills the GPU (tensor-core products, 64-row attention blocks per head); its
  // activations take a few hundred MB for the largest Gemma shapes.
  int preferred_prefill_chunk() const override { return 4096; }

 private:
  Numerics numerics_;
  cudaStream_t stream_ = nullptr;
  std::string name_;
  std::shared_ptr<WeightStore> weights_;
};

}  // namespace

bool device_available(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaSuccess && count > 0) return true;
  if (why) {
    if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || (e == cudaSuccess && count == 0))
      *why = "no NVIDIA GPU with a CUDA driver on this machine";
    else
      *why = std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  }
  return false;
}

std::unique_ptr<Backend> make_backend(int device, Numerics numerics) {
  std::string why;
  if (!device_available(&why)) fail("the CUDA backend is not available: ", why);
  return std::make_unique<CudaBackend>(device, numerics);
}

}  // namespace gemrt::cuda
