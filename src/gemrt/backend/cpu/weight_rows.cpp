#include "gemrt/backend/cpu/weight_rows.h"

#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"

namespace gemrt::cpu {

void read_weight_row(const TensorView& w, int64_t row, int64_t begin, int64_t n, float* out) {
  const int64_t idx = row * row_width(w) + begin;
  switch (w.dtype) {
    case DType::F32:
      std::memcpy(out, w.data + idx * 4, static_cast<size_t>(n) * 4);
      return;
    case DType::F16:
    case DType::BF16: {
      const std::byte* p = w.data + idx * 2;
      const bool bf = w.dtype == DType::BF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
      return;
    }
    default:
      fail("cpu backend: weight '", w.name, "' has dtype ", dtype_name(w.dtype), ", which no CPU kernel reads");
  }
}

const float* weight_row_f32(const TensorView& w, int64_t row, float* scratch) {
  const int64_t width = row_width(w);
  if (w.dtype == DType::F32 && reinterpret_cast<uintptr_t>(w.data) % alignof(float) == 0)
    return w.as<float>() + row * width;
  read_weight_row(w, row, 0, width, scratch);
  return scratch;
}

}  // namespace gemrt::cpu
