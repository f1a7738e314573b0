// Numerics::Fast attention for one (query row, head): llama.cpp's CPU arithmetic (flash attention
// off, AVX2 build), so that fast numerics reproduce llama.cpp's results on the same file.
//
// llama.cpp computes scores = K q and out = V^T p as matrix products. With 2 or more query rows in
// a batch they run through its "tinyBLAS" kernels, with one row through its vec_dot kernels; the
// two sum in different orders:
//   batched: one 8-lane FMA accumulator over chunks of 8 (lane = index mod 8), then
//            t_L = a_L + a_{L+4};  result = (t_0 + t_2) + (t_1 + t_3)
//   single:  four 8-lane accumulators over chunks of 32 (accumulator = (index mod 32) / 8), then
//            s_L = (a0_L + a2_L) + (a1_L + a3_L);  t_L = s_L + s_{L+4};
//            result = (t_0 + t_1) + (t_2 + t_3), in float64 with the elements past the last whole
//            chunk of 32 added one by one (float32 products)
// The batched order applies to the scores only with a 16-bit cache (with an F32 cache llama.cpp
// converts nothing, which keeps the batched kernel out) and 8 | d, to the output only for 4 | d. For V^T p the index is the key position: llama.cpp's cache cell,
// the position itself in a fresh single-sequence cache.
// Softmax (ggml_vec_soft_max_f32): e = expf_approx(s - max) in chunks of 8 aligned on position 0,
// each chunk's sum taken as in the batched order above and added to a float64 total;
// p = e * float(1 / total), then rounded to the cache's 16-bit type (the type of the V product).
// Soft-cap (Gemma 2): s = tanh(s * float(1 / cap)) * cap.
#pragma once

#include <cstdint>

#include "gemrt/core/dtype.h"

namespace gemrt::cpu {

struct FastHead {
  const float* q;         // [d], already scaled and rounded to the cache type
  const void* const* k;   // visible keys, positions lo .. lo + n - 1, [d] each in type `kv`
  const void* const* v;   // visible values, likewise
  int64_t lo, n, d;
  DType kv;               // F32, F16 or BF16
  bool batched;           // the call holds 2 or more query rows
  float softcap;          // 0 = none
  float* scores;          // scratch, n + 16 floats
  float* acc;             // scratch, 32 * d floats
  float* out;             // [d]
};

// llama.cpp's exp approximation used by its AVX2 softmax (ggml_v_expf), one value.
float expf_approx(float x);

void attend_head_fast(const FastHead& h);
// Several heads that share keys, values and shape (lo, n, d, kv, batched, softcap): the query heads
// of one KV head. Each gets exactly attend_head_fast's result; K and V rows are read once for all.
void attend_heads_fast(const FastHead* heads, int count);

// Prompt attention for a tile of query vectors: several consecutive query rows times the query
// heads of one KV head. Only llama.cpp's batched order (the call holds 2 or more query rows), a
// 16-bit cache and 8 | d (fast_tile_applies). Each vector gets exactly attend_heads_fast's result
// over its own visible range; K and V rows are loaded once per register tile of vectors (scores:
// 4 vectors x 2 keys, outputs: 4 vectors x 16 dims) instead of once per vector and 8 dims.
struct FastTile {
  const void* const* k;  // keys of positions base .. base + span - 1, [d] each in type kv
  const void* const* v;  // values, likewise
  int64_t base, span, d;
  DType kv;              // F16 or BF16
  float softcap;         // 0 = none
  int count;             // query vectors
  const float* const* q; // [count] of [d], already scaled and rounded to kv
  const int64_t* lo;     // [count] first visible position (>= base)
  const int64_t* n;      // [count] visible keys (>= 1; lo + n <= base + span)
  float* const* out;     // [count] of [d]
  float* scores;         // scratch, count * span floats
};

bool fast_tile_applies(DType kv, int64_t d, bool batched);
void attend_tile_fast(const FastTile& tile);

namespace detail {
void attend_heads_fast_portable(const FastHead* heads, int count);
void attend_heads_fast_avx2(const FastHead* heads, int count);
void attend_tile_fast_portable(const FastTile& tile);
void attend_tile_fast_avx2(const FastTile& tile);
}  // namespace detail

}  // namespace gemrt::cpu
