#include "gemrt/quant/dequantize.h"

#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/block_formats.h"

namespace gemrt::quant {
namespace {

inline float f16(uint16_t h) { return f16_to_f32(h); }

// 4-bit code j (0..31) of a Q4_x / Q5_x block: low nibbles hold values 0..15, high ones 16..31.
inline int nibble32(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4); }

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t u;
  std::memcpy(&u, p, 4);
  return u;
}

void block_q4_0(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ4_0>(p);
  const float d = f16(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(nibble32(b.qs, j) - 8);
}

void block_q4_1(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ4_1>(p);
  const float d = f16(b.d), m = f16(b.m);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(nibble32(b.qs, j)) + m;
}

void block_q5_0(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ5_0>(p);
  const float d = f16(b.d);
  const uint32_t qh = load_u32(b.qh);
  for (int j = 0; j < kQK; ++j) {
    const int q = nibble32(b.qs, j) | static_cast<int>(((qh >> j) & 1u) << 4);
    y[j] = d * static_cast<float>(q - 16);
  }
}

void block_q5_1(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ5_1>(p);
  const float d = f16(b.d), m = f16(b.m);
  const uint32_t qh = load_u32(b.qh);
  for (int j = 0; j < kQK; ++j) {
    const int q = nibble32(b.qs, j) | static_cast<int>(((qh >> j) & 1u) << 4);
    y[j] = d * static_cast<float>(q) + m;
  }
}

void block_q8_0(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ8_0>(p);
  const float d = f16(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

// 2-bit field of value v (0..255) in the qs[64] layout shared by Q2_K and Q3_K.
inline int crumb256(const uint8_t* qs, int v) {
  const int h = v / 128, r = v % 128;
  return (qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
}

void block_q2_k(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ2_K>(p);
  const float d = f16(b.d), dmin = f16(b.dmin);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * static_cast<float>(b.scales[s] & 15);
    const float ml = dmin * static_cast<float>(b.scales[s] >> 4);
    for (int i = 0; i < 16; ++i) {
      const int v = 16 * s + i;
      y[v] = dl * static_cast<float>(crumb256(b.qs, v)) - ml;
    }
  }
}

void block_q3_k(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ3_K>(p);
  const float d = f16(b.d);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * static_cast<float>(q3k_scale(b.scales, s));
    for (int i = 0; i < 16; ++i) {
      const int v = 16 * s + i;
      const int hbit = (b.hmask[v % 32] >> (v / 32)) & 1;
      const int q = crumb256(b.qs, v) - (hbit ? 0 : 4);
      y[v] = dl * static_cast<float>(q);
    }
  }
}

void block_q4_k(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ4_K>(p);
  const float d = f16(b.d), dmin = f16(b.dmin);
  for (int s = 0; s < 8; ++s) {
    int sc, mn;
    k_scale_min(b.scales, s, &sc, &mn);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(mn);
    const uint8_t* q = b.qs + 32 * (s / 2);
    const int shift = 4 * (s % 2);
    for (int l = 0; l < 32; ++l) y[32 * s + l] = dl * static_cast<float>((q[l] >> shift) & 15) - ml;
  }
}

void block_q5_k(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ5_K>(p);
  const float d = f16(b.d), dmin = f16(b.dmin);
  for (int s = 0; s < 8; ++s) {
    int sc, mn;
    k_scale_min(b.scales, s, &sc, &mn);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(mn);
    const uint8_t* q = b.qs + 32 * (s / 2);
    const int shift = 4 * (s % 2);
    for (int l = 0; l < 32; ++l) {
      const int code = ((q[l] >> shift) & 15) | (((b.qh[l] >> s) & 1) << 4);
      y[32 * s + l] = dl * static_cast<float>(code) - ml;
    }
  }
}

void block_q6_k(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ6_K>(p);
  const float d = f16(b.d);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * static_cast<float>(b.scales[s]);
    for (int i = 0; i < 16; ++i) {
      const int v = 16 * s + i;
      const int h = v / 128, r = v % 128;
      const int low = (b.ql[64 * h + r % 64] >> (4 * (r / 64))) & 15;
      const int high = (b.qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
      y[v] = dl * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

void block_q8_1(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ8_1>(p);
  const float d = f16(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = d * static_cast<float>(b.qs[j]);
}

void block_q8_k(const std::byte* p, float* y) {
  const auto b = load_unaligned<BlockQ8_K>(p);
  for (int j = 0; j < kQK_K; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
}

using BlockFn = void (*)(const std::byte*, float*);

BlockFn block_fn(DType t) {
  switch (t) {
    case DType::Q4_0: return block_q4_0;
    case DType::Q4_1: return block_q4_1;
    case DType::Q5_0: return block_q5_0;
    case DType::Q5_1: return block_q5_1;
    case DType::Q8_0: return block_q8_0;
    case DType::Q8_1: return block_q8_1;
    case DType::Q2_K: return block_q2_k;
    case DType::Q3_K: return block_q3_k;
    case DType::Q4_K: return block_q4_k;
    case DType::Q5_K: return block_q5_k;
    case DType::Q6_K: return block_q6_k;
    case DType::Q8_K: return block_q8_k;
    default: return nullptr;
  }
}

}  // namespace

void dequantize_row(DType t, const std::byte* src, float* dst, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n % info.block_elems != 0)
    fail("dequantize_row: ", n, " values are not a whole number of ", info.name, " blocks of ", info.block_elems);
  switch (t) {
    case DType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case DType::F16:
    case DType::BF16: {
      const bool bf = t == DType::BF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
      return;
    }
    default:
      break;
  }
  const BlockFn fn = block_fn(t);
  if (!fn) fail("dequantize_row: dtype ", info.name, " holds no real numbers");
  for (int64_t b = 0; b < n / info.block_elems; ++b) fn(src + b * info.block_bytes, dst + b * info.block_elems);
}

}  // namespace gemrt::quant
