// attend_heads_fast for AVX2 + FMA + F16C (compiled with those flags; called after a CPU check).
#define GEMRT_FAST_ATTN_AVX2 1
#include "gemrt/backend/cpu/attention_fast_impl.h"

namespace gemrt::cpu::detail {

void attend_heads_fast_avx2(const FastHead* heads, int count) { attend_any(heads, count); }
void attend_tile_fast_avx2(const FastTile& tile) { attend_tile_any(tile); }

}  // namespace gemrt::cpu::detail
