// attend_head_fast for AVX2 + FMA + F16C (compiled with those flags; called after a CPU check).
#define GEMRT_FAST_ATTN_AVX2 1
#include "gemrt/backend/cpu/attention_fast_impl.h"

namespace gemrt::cpu::detail {

void attend_head_fast_avx2(const FastHead& h) { attend_any(h); }

}  // namespace gemrt::cpu::detail
