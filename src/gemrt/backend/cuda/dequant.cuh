// Device-side reads of stored weights: value k of a row in any weight dtype (F32, F16, BF16 and
// the GGML block formats), as a float32. The block layouts are gemrt/quant/block_formats.h's and
// every value is the one gemrt/quant/dequantize.cpp produces on the CPU (d * code, d * code + m,
// K-quant sub-block scales and mins), so the CUDA and CPU backends read identical weights.
//
// Blocks are read byte by byte (GGUF blocks are packed, 2-byte aligned at best), so these
// functions work on any row address the file gives.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "gemrt/core/dtype.h"
#include "gemrt/quant/block_formats.h"

namespace gemrt::cuda {

__device__ inline float f16_at(const uint8_t* p) {
  const auto h = static_cast<unsigned short>(p[0] | (p[1] << 8));
  return __half2float(__ushort_as_half(h));
}

__device__ inline float bf16_at(const uint8_t* p) {
  const uint32_t h = static_cast<uint32_t>(p[0] | (p[1] << 8));
  return __uint_as_float(h << 16);
}

// 4-bit code j (0..31) of a Q4_x / Q5_x block: low nibbles hold values 0..15, high ones 16..31.
__device__ inline int nibble32(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4); }

__device__ inline int fifth_bit(const uint8_t* qh, int j) { return (qh[j / 8] >> (j % 8)) & 1; }

// 2-bit field of value v (0..255) in the qs[64] layout shared by Q2_K and Q3_K.
__device__ inline int crumb256(const uint8_t* qs, int v) {
  const int h = v / 128, r = v % 128;
  return (qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
}

// Value j (0 .. block_elems-1) of the block at `b`.
template <DType kType>
__device__ inline float block_value(const uint8_t* b, int j) {
  using namespace gemrt::quant;
  if constexpr (kType == DType::Q4_0) {
    return f16_at(b + offsetof(BlockQ4_0, d)) * static_cast<float>(nibble32(b + offsetof(BlockQ4_0, qs), j) - 8);
  } else if constexpr (kType == DType::Q4_1) {
    return f16_at(b + offsetof(BlockQ4_1, d)) * static_cast<float>(nibble32(b + offsetof(BlockQ4_1, qs), j)) +
           f16_at(b + offsetof(BlockQ4_1, m));
  } else if constexpr (kType == DType::Q5_0) {
    const int q = nibble32(b + offsetof(BlockQ5_0, qs), j) | (fifth_bit(b + offsetof(BlockQ5_0, qh), j) << 4);
    return f16_at(b + offsetof(BlockQ5_0, d)) * static_cast<float>(q - 16);
  } else if constexpr (kType == DType::Q5_1) {
    const int q = nibble32(b + offsetof(BlockQ5_1, qs), j) | (fifth_bit(b + offsetof(BlockQ5_1, qh), j) << 4);
    return f16_at(b + offsetof(BlockQ5_1, d)) * static_cast<float>(q) + f16_at(b + offsetof(BlockQ5_1, m));
  } else if constexpr (kType == DType::Q8_0) {
    return static_cast<float>(static_cast<int8_t>(b[offsetof(BlockQ8_0, qs) + j])) * f16_at(b + offsetof(BlockQ8_0, d));
  } else if constexpr (kType == DType::Q2_K) {
    const int s = j / 16;
    const uint8_t sc = b[offsetof(BlockQ2_K, scales) + s];
    const float dl = f16_at(b + offsetof(BlockQ2_K, d)) * static_cast<float>(sc & 15);
    const float ml = f16_at(b + offsetof(BlockQ2_K, dmin)) * static_cast<float>(sc >> 4);
    return dl * static_cast<float>(crumb256(b + offsetof(BlockQ2_K, qs), j)) - ml;
  } else if constexpr (kType == DType::Q3_K) {
    const int s = j / 16;
    const float dl = f16_at(b + offsetof(BlockQ3_K, d)) * static_cast<float>(q3k_scale(b + offsetof(BlockQ3_K, scales), s));
    const int hbit = (b[offsetof(BlockQ3_K, hmask) + j % 32] >> (j / 32)) & 1;
    return dl * static_cast<float>(crumb256(b + offsetof(BlockQ3_K, qs), j) - (hbit ? 0 : 4));
  } else if constexpr (kType == DType::Q4_K || kType == DType::Q5_K) {
    using B = std::conditional_t<kType == DType::Q4_K, BlockQ4_K, BlockQ5_K>;
    const int s = j / 32, l = j % 32;
    int sc, mn;
    k_scale_min(b + offsetof(B, scales), s, &sc, &mn);
    const float dl = f16_at(b + offsetof(B, d)) * static_cast<float>(sc);
    const float ml = f16_at(b + offsetof(B, dmin)) * static_cast<float>(mn);
    int code = (b[offsetof(B, qs) + 32 * (s / 2) + l] >> (4 * (s % 2))) & 15;
    if constexpr (kType == DType::Q5_K) code |= ((b[offsetof(BlockQ5_K, qh) + l] >> s) & 1) << 4;
    return dl * static_cast<float>(code) - ml;
  } else if constexpr (kType == DType::Q6_K) {
    const int s = j / 16, h = j / 128, r = j % 128;
    const float dl = f16_at(b + offsetof(BlockQ6_K, d)) * static_cast<float>(static_cast<int8_t>(b[offsetof(BlockQ6_K, scales) + s]));
    const int low = (b[offsetof(BlockQ6_K, ql) + 64 * h + r % 64] >> (4 * (r / 64))) & 15;
    const int high = (b[offsetof(BlockQ6_K, qh) + 32 * h + r % 32] >> (2 * (r / 32))) & 3;
    return dl * static_cast<float>((low | (high << 4)) - 32);
  } else {
    static_assert(kType == DType::Q4_0, "not a weight block format");
    return 0.0f;
  }
}

// Elements and bytes of one storage block of kType (1 and the element size for F32 / F16 / BF16).
template <DType kType>
struct BlockShape;
template <> struct BlockShape<DType::F32> { static constexpr int kElems = 1, kBytes = 4; };
template <> struct BlockShape<DType::F16> { static constexpr int kElems = 1, kBytes = 2; };
template <> struct BlockShape<DType::BF16> { static constexpr int kElems = 1, kBytes = 2; };
template <> struct BlockShape<DType::Q4_0> { static constexpr int kElems = 32, kBytes = sizeof(quant::BlockQ4_0); };
template <> struct BlockShape<DType::Q4_1> { static constexpr int kElems = 32, kBytes = sizeof(quant::BlockQ4_1); };
template <> struct BlockShape<DType::Q5_0> { static constexpr int kElems = 32, kBytes = sizeof(quant::BlockQ5_0); };
template <> struct BlockShape<DType::Q5_1> { static constexpr int kElems = 32, kBytes = sizeof(quant::BlockQ5_1); };
template <> struct BlockShape<DType::Q8_0> { static constexpr int kElems = 32, kBytes = sizeof(quant::BlockQ8_0); };
template <> struct BlockShape<DType::Q2_K> { static constexpr int kElems = 256, kBytes = sizeof(quant::BlockQ2_K); };
template <> struct BlockShape<DType::Q3_K> { static constexpr int kElems = 256, kBytes = sizeof(quant::BlockQ3_K); };
template <> struct BlockShape<DType::Q4_K> { static constexpr int kElems = 256, kBytes = sizeof(quant::BlockQ4_K); };
template <> struct BlockShape<DType::Q5_K> { static constexpr int kElems = 256, kBytes = sizeof(quant::BlockQ5_K); };
template <> struct BlockShape<DType::Q6_K> { static constexpr int kElems = 256, kBytes = sizeof(quant::BlockQ6_K); };

// Value k of a row that starts at `row` (k counted from the row's first element).
template <DType kType>
__device__ inline float weight_value(const uint8_t* row, int64_t k) {
  if constexpr (kType == DType::F32) {
    return __uint_as_float(static_cast<uint32_t>(row[4 * k]) | (static_cast<uint32_t>(row[4 * k + 1]) << 8) |
                           (static_cast<uint32_t>(row[4 * k + 2]) << 16) | (static_cast<uint32_t>(row[4 * k + 3]) << 24));
  } else if constexpr (kType == DType::F16) {
    return f16_at(row + 2 * k);
  } else if constexpr (kType == DType::BF16) {
    return bf16_at(row + 2 * k);
  } else {
    using S = BlockShape<kType>;
    return block_value<kType>(row + (k / S::kElems) * S::kBytes, static_cast<int>(k % S::kElems));
  }
}

// Calls f.template operator()<kType>() for a weight dtype; returns false for others.
template <typename F>
bool dispatch_weight_dtype(DType t, F&& f) {
  switch (t) {
    case DType::F32: f.template operator()<DType::F32>(); return true;
    case DType::F16: f.template operator()<DType::F16>(); return true;
    case DType::BF16: f.template operator()<DType::BF16>(); return true;
    case DType::Q4_0: f.template operator()<DType::Q4_0>(); return true;
    case DType::Q4_1: f.template operator()<DType::Q4_1>(); return true;
    case DType::Q5_0: f.template operator()<DType::Q5_0>(); return true;
    case DType::Q5_1: f.template operator()<DType::Q5_1>(); return true;
    case DType::Q8_0: f.template operator()<DType::Q8_0>(); return true;
    case DType::Q2_K: f.template operator()<DType::Q2_K>(); return true;
    case DType::Q3_K: f.template operator()<DType::Q3_K>(); return true;
    case DType::Q4_K: f.template operator()<DType::Q4_K>(); return true;
    case DType::Q5_K: f.template operator()<DType::Q5_K>(); return true;
    case DType::Q6_K: f.template operator()<DType::Q6_K>(); return true;
    default: return false;
  }
}

}  // namespace gemrt::cuda
