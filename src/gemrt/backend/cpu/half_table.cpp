#include "gemrt/backend/cpu/half_table.h"

#include <vector>

#include "gemrt/core/half.h"

namespace gemrt::cpu {

const float* f16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = f16_to_f32(static_cast<uint16_t>(h));
    return t;
  }();
  return table.data();
}

}  // namespace gemrt::cpu
