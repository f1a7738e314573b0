#include "gemrt/core/dtype.h"

#include "gemrt/core/error.h"

namespace gemrt {
namespace {
struct Entry {
  DTypeInfo info;
  uint32_t ggml;  // GGML type id, kNoGgmlType if none
};

// Indexed by DType; sizes of the block formats as in ggml (see gemrt/quant/block_formats.h).
constexpr Entry kTypes[] = {
    {{"F32", 1, 4, true}, 0},       {{"F16", 1, 2, true}, 1},        {{"BF16", 1, 2, true}, 30},
    {{"I32", 1, 4, false}, 26},     {{"I64", 1, 8, false}, 27},      {{"U8", 1, 1, false}, kNoGgmlType},
    {{"Q4_0", 32, 18, true}, 2},    {{"Q4_1", 32, 20, true}, 3},     {{"Q5_0", 32, 22, true}, 6},
    {{"Q5_1", 32, 24, true}, 7},    {{"Q8_0", 32, 34, true}, 8},     {{"Q8_1", 32, 36, true}, 9},
    {{"Q2_K", 256, 84, true}, 10},
    {{"Q3_K", 256, 110, true}, 11}, {{"Q4_K", 256, 144, true}, 12},  {{"Q5_K", 256, 176, true}, 13},
    {{"Q6_K", 256, 210, true}, 14}, {{"Q8_K", 256, 292, true}, 15},
};
constexpr int kCount = static_cast<int>(std::size(kTypes));
static_assert(kCount == static_cast<int>(DType::Q8_K) + 1, "one entry per DType, in enum order");
}  // namespace

const DTypeInfo& dtype_info(DType t) { return kTypes[static_cast<int>(t)].info; }

int64_t dtype_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n % info.block_elems != 0) fail(n, " elements are not a whole number of ", info.name, " blocks");
  return n / info.block_elems * info.block_bytes;
}

bool dtype_from_safetensors(std::string_view s, DType* out) {
  // Only the scalar types: safetensors has no spelling for GGML block formats.
  for (int i = 0; i < kCount; ++i) {
    if (kTypes[i].info.block_elems == 1 && kTypes[i].info.name == s) {
      *out = static_cast<DType>(i);
      return true;
    }
  }
  return false;
}

bool dtype_from_ggml(uint32_t ggml_type, DType* out) {
  if (ggml_type == kNoGgmlType) return false;
  for (int i = 0; i < kCount; ++i) {
    if (kTypes[i].ggml == ggml_type) {
      *out = static_cast<DType>(i);
      return true;
    }
  }
  return false;
}

uint32_t ggml_type_of(DType t) { return kTypes[static_cast<int>(t)].ggml; }

}  // namespace gemrt
