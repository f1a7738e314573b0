// attend_heads_fast: the portable build of attention_fast_impl.h and the run-time choice of build.
#define GEMRT_FAST_ATTN_AVX2 0
#include "gemrt/backend/cpu/attention_fast_impl.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::cpu {

namespace detail {
void attend_heads_fast_portable(const FastHead* heads, int count) { attend_any(heads, count); }
void attend_tile_fast_portable(const FastTile& tile) { attend_tile_any(tile); }
#if !(defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS))
void attend_heads_fast_avx2(const FastHead* heads, int count) { attend_any(heads, count); }
void attend_tile_fast_avx2(const FastTile& tile) { attend_tile_any(tile); }
#endif
}  // namespace detail

float expf_approx(float x) { return lane(expf8(set8(x)), 0); }

void attend_heads_fast(const FastHead* heads, int count) {
  if (quant::dot_isa_available(quant::DotIsa::Avx2)) detail::attend_heads_fast_avx2(heads, count);
  else detail::attend_heads_fast_portable(heads, count);
}

void attend_head_fast(const FastHead& h) { attend_heads_fast(&h, 1); }

bool fast_tile_applies(DType kv, int64_t d, bool batched) {
  return batched && (kv == DType::F16 || kv == DType::BF16) && d % 8 == 0;
}

void attend_tile_fast(const FastTile& tile) {
  if (quant::dot_isa_available(quant::DotIsa::Avx2)) detail::attend_tile_fast_avx2(tile);
  else detail::attend_tile_fast_portable(tile);
}

}  // namespace gemrt::cpu
