#include "gemrt/backend/cpu/weight_rows.h"

#include <algorithm>
#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/dequantize.h"

namespace gemrt::cpu {
namespace {

// Packed block formats: dequantize the blocks covering [begin, begin + n) of the row. Whole
// blocks go straight into `out`; a partly requested first or last block goes through a
// one-block buffer on the stack.
void read_quantized_row(const TensorView& w, int64_t row, int64_t begin, int64_t n, float* out) {
  const DTypeInfo& info = dtype_info(w.dtype);
  const int64_t width = row_width(w);
  const int64_t qk = info.block_elems;
  if (width % qk != 0)
    fail("cpu backend: weight '", w.name, "' of dtype ", info.name, " has rows of ", width,
         " values, not a whole number of blocks of ", qk);
  const std::byte* row_data = w.data + row * (width / qk) * info.block_bytes;
  int64_t i = begin;
  const int64_t end = begin + n;
  while (i < end) {
    const int64_t block = i / qk;
    const int64_t offset = i - block * qk;
    const std::byte* src = row_data + block * info.block_bytes;
    if (offset == 0 && end - i >= qk) {
      // A run of whole blocks.
      const int64_t whole = (end - i) / qk * qk;
      quant::dequantize_row(w.dtype, src, out + (i - begin), whole);
      i += whole;
    } else {
      float buf[quant::kMaxBlockElems];
      quant::dequantize_row(w.dtype, src, buf, qk);
      const int64_t take = std::min(qk - offset, end - i);
      std::memcpy(out + (i - begin), buf + offset, static_cast<size_t>(take) * sizeof(float));
      i += take;
    }
  }
}

}  // namespace

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
      if (dtype_is_quantized(w.dtype) && dtype_info(w.dtype).is_float) {
        read_quantized_row(w, row, begin, n, out);
        return;
      }
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
