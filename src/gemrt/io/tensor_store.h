// The interface the model's weight map reads from: named tensors in their stored format.
// Implemented by safetensors checkpoints now and by GGUF files later.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gemrt/core/tensor.h"

namespace gemrt {

class TensorStore {
 public:
  virtual ~TensorStore() = default;
  // The tensor called `name`, or nullptr if the store has none.
  virtual const TensorView* find(std::string_view name) const = 0;
  // Every tensor name, sorted.
  virtual std::vector<std::string> names() const = 0;
  // Where the tensors come from, for error messages (a path).
  virtual const std::string& source() const = 0;

  // Like find(), but throws gemrt::Error naming the tensor and the source when it is missing.
  const TensorView& get(std::string_view name) const;
};

}  // namespace gemrt
