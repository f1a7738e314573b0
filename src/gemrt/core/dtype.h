// Element types of tensors: plain scalars now, with room for packed quantized block formats
// (a block of `block_elems` elements stored in `block_bytes` bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gemrt {

enum class DType : uint8_t {
  F32,
  F16,
  BF16,
  I32,
  I64,
  U8,
};

struct DTypeInfo {
  std::string_view name;  // safetensors spelling ("F32", "BF16", ...)
  int64_t block_elems;    // elements per storage block (1 for scalars)
  int64_t block_bytes;    // bytes per storage block
  bool is_float;          // can be read as a real number by weight kernels
};

const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }

// Bytes taken by `n` elements of type `t`; `n` must be a whole number of blocks.
int64_t dtype_bytes(DType t, int64_t n);

// Parses a safetensors dtype string; returns false if the type is not one gemrt knows.
bool dtype_from_safetensors(std::string_view s, DType* out);

}  // namespace gemrt
