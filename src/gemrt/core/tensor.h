// Tensor views and host tensors.
//
// TensorView: a read-only, contiguous, row-major view on bytes owned elsewhere (usually a
// memory-mapped checkpoint). Weights stay in their stored dtype; kernels convert on the fly.
// HostTensor: an owned, contiguous host buffer (CLI inputs and outputs, test data).
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "gemrt/core/dtype.h"
#include "gemrt/core/shape.h"

namespace gemrt {

struct TensorView {
  std::string name;  // where it came from, for error messages ("model.norm.weight")
  DType dtype = DType::F32;
  Shape shape;
  const std::byte* data = nullptr;

  int64_t nbytes() const { return dtype_bytes(dtype, shape.numel()); }
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(data); }
};

struct HostTensor {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::vector<std::byte> bytes;

  template <typename T>
  static HostTensor from(std::string name, Shape shape, DType dtype, std::span<const T> values) {
    HostTensor t{std::move(name), dtype, std::move(shape), {}};
    t.bytes.resize(values.size_bytes());
    if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), values.size_bytes());
    return t;
  }
  TensorView view() const { return TensorView{name, dtype, shape, bytes.data()}; }
  template <typename T>
  std::span<const T> values() const {
    return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
};

}  // namespace gemrt
