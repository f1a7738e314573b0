// Device memory owned by one object (cudaMalloc in the constructor, cudaFree when it dies).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "gemrt/backend/cuda/cuda_check.h"

namespace gemrt::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t bytes, const char* what) {
    if (bytes > 0) check(cudaMalloc(&ptr_, static_cast<size_t>(bytes)), what);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

}  // namespace gemrt::cuda
