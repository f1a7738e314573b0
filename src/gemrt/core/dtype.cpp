#include "gemrt/core/dtype.h"

#include "gemrt/core/error.h"

namespace gemrt {
namespace {
constexpr DTypeInfo kInfo[] = {
    {"F32", 1, 4, true}, {"F16", 1, 2, true}, {"BF16", 1, 2, true},
    {"I32", 1, 4, false}, {"I64", 1, 8, false}, {"U8", 1, 1, false},
};
}  // namespace

const DTypeInfo& dtype_info(DType t) { return kInfo[static_cast<int>(t)]; }

int64_t dtype_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n % info.block_elems != 0) fail(n, " elements are not a whole number of ", info.name, " blocks");
  return n / info.block_elems * info.block_bytes;
}

bool dtype_from_safetensors(std::string_view s, DType* out) {
  for (int i = 0; i < static_cast<int>(std::size(kInfo)); ++i) {
    if (kInfo[i].name == s) {
      *out = static_cast<DType>(i);
      return true;
    }
  }
  return false;
}

}  // namespace gemrt
