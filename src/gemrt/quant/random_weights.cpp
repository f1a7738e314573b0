#include "gemrt/quant/random_weights.h"

#include <cmath>
#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/core/thread_pool.h"

namespace gemrt::quant {
namespace {

// splitmix64: seeds each chunk's generator from (seed, chunk index).
uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// xorshift64*: fast, and good enough for benchmark weights.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dULL;
  }
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }  // [0, 1)
};

constexpr int64_t kChunkBlocks = 4096;  // work unit; fixed, so the bytes do not depend on threads

}  // namespace

std::vector<int> block_f16_fields(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: return {0};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {};
  }
}

void fill_random_weights(DType t, std::byte* dst, int64_t n_values, uint64_t seed, float stddev, int threads) {
  const DTypeInfo& info = dtype_info(t);
  if (!info.is_float) fail("random weights: ", dtype_name(t), " is not a weight dtype");
  if (n_values % info.block_elems != 0)
    fail("random weights: ", n_values, " values are not whole ", dtype_name(t), " blocks of ", info.block_elems);
  const int64_t blocks = n_values / info.block_elems;
  const int64_t chunks = (blocks + kChunkBlocks - 1) / kChunkBlocks;
  const float half_width = stddev * std::sqrt(3.0f);  // uniform on [-a, a] has sd a / sqrt(3)
  const uint16_t scale = f32_to_f16(stddev / 16.0f);
  const std::vector<int> scale_fields = block_f16_fields(t);
  ThreadPool pool(threads);
  pool.parallel_for(chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      Rng rng{splitmix(seed ^ splitmix(static_cast<uint64_t>(c))) | 1};
      const int64_t b0 = c * kChunkBlocks, b1 = std::min(blocks, b0 + kChunkBlocks);
      std::byte* out = dst + b0 * info.block_bytes;
      if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
        for (int64_t i = 0; i < b1 - b0; ++i) {
          const float v = (2.0f * rng.uniform() - 1.0f) * half_width;
          if (t == DType::F32) {
            std::memcpy(out + 4 * i, &v, 4);
          } else {
            const uint16_t h = t == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
            std::memcpy(out + 2 * i, &h, 2);
          }
        }
        continue;
      }
      const int64_t bytes = (b1 - b0) * info.block_bytes;
      for (int64_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t r = rng.next();
        std::memcpy(out + i, &r, 8);
      }
      for (int64_t i = bytes / 8 * 8; i < bytes; ++i) out[i] = static_cast<std::byte>(rng.next() & 0xff);
      for (int64_t b = 0; b < b1 - b0; ++b)
        for (int off : scale_fields) std::memcpy(out + b * info.block_bytes + off, &scale, 2);
    }
  });
}

}  // namespace gemrt::quant
