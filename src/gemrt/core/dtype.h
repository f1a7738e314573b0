// Element types of tensors: plain scalars and packed quantized block formats (a block of
// `block_elems` elements stored in `block_bytes` bytes; the GGML / GGUF formats, whose byte
// layouts are documented in gemrt/quant/block_formats.h).
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
  // GGML block formats (32 elements per block).
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q8_1,  // activation partner of Q4_1 / Q5_1 (never stored in model files)
  // GGML K-quants (256-element super-blocks).
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  Q8_K,
};

struct DTypeInfo {
  std::string_view name;  // safetensors spelling ("F32", "BF16", ...); the GGML name for block formats
  int64_t block_elems;    // elements per storage block (1 for scalars)
  int64_t block_bytes;    // bytes per storage block
  bool is_float;          // can be read as a real number by weight kernels
};

const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
// True for the packed block formats (Q4_0 ... Q8_K).
inline bool dtype_is_quantized(DType t) { return dtype_info(t).block_elems > 1; }

// Bytes taken by `n` elements of type `t`; `n` must be a whole number of blocks.
int64_t dtype_bytes(DType t, int64_t n);

// Parses a safetensors dtype string (F32, F16, BF16, I32, I64, U8); returns false, leaving
// `out` untouched, if the type is not one gemrt reads from safetensors files.
bool dtype_from_safetensors(std::string_view s, DType* out);

// GGML type ids (the `ggml_type` enum stored per tensor in GGUF files): F32 0, F16 1, Q4_0 2,
// Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q8_1 9, Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14, Q8_K 15, I32 26,
// I64 27, BF16 30.
// dtype_from_ggml returns false, leaving `out` untouched, for ids gemrt has no DType for
// (the IQ formats, I8, I16, F64, ...).
bool dtype_from_ggml(uint32_t ggml_type, DType* out);
// The GGML id of `t`, or kNoGgmlType for types GGML lacks (U8).
inline constexpr uint32_t kNoGgmlType = 0xffffffffu;
uint32_t ggml_type_of(DType t);

}  // namespace gemrt
