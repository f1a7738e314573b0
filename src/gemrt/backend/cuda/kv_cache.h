// The CUDA backend's KV cache: one ring of keys and one of values per slot, on the device, in the
// layout's dtype (F32, F16 or BF16), with the CPU backend's position bookkeeping.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gemrt/backend/backend.h"
#include "gemrt/backend/cuda/device_memory.h"
#include "gemrt/core/error.h"

namespace gemrt::cuda {

class CudaKvCache final : public KvCache {
 public:
  explicit CudaKvCache(const KvLayout& layout) : layout_(layout), next_(layout.slots.size(), 0) {
    if (layout.dtype != DType::F32 && layout.dtype != DType::F16 && layout.dtype != DType::BF16)
      fail("cuda backend: KV cache dtype ", dtype_name(layout.dtype), " is not supported (F32, F16 or BF16)");
    for (const KvSlotLayout& s : layout.slots) {
      const int64_t bytes = dtype_bytes(layout.dtype, int64_t{s.capacity} * s.row_width());
      k_.emplace_back(bytes, "cudaMalloc for the KV cache");
      v_.emplace_back(bytes, "cudaMalloc for the KV cache");
      bytes_ += 2 * bytes;
    }
  }
  const KvLayout& layout() const override { return layout_; }
  int64_t next_position(int slot) const override { return next_.at(static_cast<size_t>(slot)); }
  void reset() override { std::fill(next_.begin(), next_.end(), 0); }
  int64_t bytes() const override { return bytes_; }

  const KvSlotLayout& slot(int s) const {
    if (s < 0 || s >= static_cast<int>(layout_.slots.size()))
      fail("cuda backend: KV slot ", s, " does not exist (the cache has ", layout_.slots.size(), ")");
    return layout_.slots[static_cast<size_t>(s)];
  }
  void* keys(int s) { return k_[static_cast<size_t>(s)].get(); }
  void* values(int s) { return v_[static_cast<size_t>(s)].get(); }
  void set_next_position(int s, int64_t p) { next_[static_cast<size_t>(s)] = p; }

 private:
  KvLayout layout_;
  std::vector<DeviceBuffer> k_, v_;
  std::vector<int64_t> next_;
  int64_t bytes_ = 0;
};

}  // namespace gemrt::cuda
