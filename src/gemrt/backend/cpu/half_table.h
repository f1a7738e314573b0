// f16 -> float32 conversion by table lookup (65536 entries, built once): the CPU backend's
// branch-free way to read f16 KV rows and f16 table values in scalar loops.
#pragma once

#include <cstdint>

namespace gemrt::cpu {

// table()[h] == f16_to_f32(h) for every bit pattern h.
const float* f16_table();

inline float f16_lookup(uint16_t h) { return f16_table()[h]; }

}  // namespace gemrt::cpu
