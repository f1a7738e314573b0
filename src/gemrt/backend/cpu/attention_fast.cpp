// attend_heads_fast: the portable build of attention_fast_impl.h and the run-time choice of build.
#define GEMRT_FAST_ATTN_AVX2 0
#include "gemrt/backend/cpu/attention_fast_impl.h"

namespace gemrt::cpu {

namespace detail {
void attend_heads_fast_portable(const FastHead* heads, int count) { attend_any(heads, count); }
#if !(defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS))
void attend_heads_fast_avx2(const FastHead* heads, int count) { attend_any(heads, count); }
#endif
}  // namespace detail

float expf_approx(float x) { return lane(expf8(set8(x)), 0); }

void attend_heads_fast(const FastHead* heads, int count) {
#if defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS)
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  if (avx2) return detail::attend_heads_fast_avx2(heads, count);
#endif
  detail::attend_heads_fast_portable(heads, count);
}

void attend_head_fast(const FastHead& h) { attend_heads_fast(&h, 1); }

}  // namespace gemrt::cpu
