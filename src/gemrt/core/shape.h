// Tensor shapes: row-major, outermost dimension first (as safetensors and PyTorch write them).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace gemrt {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t back() const { return dims_.back(); }
  const std::vector<int64_t>& dims() const { return dims_; }

  // Product of all dimensions (1 for a scalar).
  int64_t numel() const;
  // Product of all dimensions but the last: the number of rows of a [.., D] tensor.
  // (Not numel() / back(): that divides by zero when the last dimension is 0.)
  int64_t rows() const {
    int64_t n = 1;
    for (size_t i = 0; i + 1 < dims_.size(); ++i) n *= dims_[i];
    return n;
  }

  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return dims_ != o.dims_; }

  // "[2, 3, 4]"
  std::string to_string() const;

 private:
  std::vector<int64_t> dims_;
};

}  // namespace gemrt
