// The packed GGML block formats stored in GGUF files, byte by byte.
//
// A row of n values is n / QK consecutive blocks, with no padding between them. All multi-byte
// fields are little-endian; "f16" is an IEEE binary16 number. Values are numbered 0 .. QK-1
// inside a block. The structs below mirror the byte layout exactly (static_asserts check every
// offset); kernels copy a block into one of them with memcpy, since blocks in a mapped file sit
// at any address.
//
// Families:
//   * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: blocks of 32 values, one f16 scale `d` (and for the _1
//     types an f16 offset `m`): value = d * q (+ m), q an integer of 4, 5 or 8 bits.
//   * Q2_K ... Q6_K: super-blocks of 256 values split into sub-blocks of 16 or 32 values, each
//     with a small integer scale (and min) that the f16 super-block scale(s) multiply.
//   * Q8_1 (32 values) and Q8_K (256 int8 values, float32 scale): llama.cpp's activation partners
//     of Q4_1 / Q5_1 and of the K-quants (see gemrt/quant/activation_quant.h).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gemrt/core/host_device.h"

// Block helpers below are shared with the CUDA kernels (backend/cuda), which read the same
// layouts on the device.

namespace gemrt::quant {

static_assert(std::endian::native == std::endian::little, "GGUF blocks are little-endian");

inline constexpr int kQK = 32;    // values per block of Q4_0 ... Q8_0
inline constexpr int kQK_K = 256; // values per super-block of the K-quants
inline constexpr int kMaxBlockElems = 256;

// Q4_0, 18 bytes, 32 values.
//   bytes 0-1   d: f16 scale
//   bytes 2-17  qs[16]: 4-bit codes; value j (0..15) is the low nibble of qs[j], value j + 16
//               the high nibble of qs[j]
//   value = d * (q - 8), q in 0..15
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// Q4_1, 20 bytes, 32 values.
//   bytes 0-1   d: f16 scale
//   bytes 2-3   m: f16 offset (the block minimum)
//   bytes 4-19  qs[16]: 4-bit codes, nibbles as in Q4_0
//   value = d * q + m, q in 0..15
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// Q5_0, 22 bytes, 32 values.
//   bytes 0-1   d: f16 scale
//   bytes 2-5   qh: uint32 (little-endian); bit j is bit 4 (the fifth bit) of value j's code
//   bytes 6-21  qs[16]: low 4 bits of the codes, nibbles as in Q4_0
//   value = d * (q - 16), q = low | (bit << 4) in 0..31
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// Q5_1, 24 bytes, 32 values.
//   bytes 0-1   d: f16 scale
//   bytes 2-3   m: f16 offset
//   bytes 4-7   qh: uint32, fifth code bits as in Q5_0
//   bytes 8-23  qs[16]: low 4 bits, nibbles as in Q4_0
//   value = d * q + m, q in 0..31
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// Q8_0, 34 bytes, 32 values.
//   bytes 0-1   d: f16 scale
//   bytes 2-33  qs[32]: int8 codes, value j in qs[j]
//   value = d * q
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Q8_1, 36 bytes, 32 values: llama.cpp's activation partner of Q4_1 / Q5_1.
//   bytes 0-1   d: f16 scale
//   bytes 2-3   s: f16, d * (sum of the 32 codes), so a dot product with an offset format adds
//               m * s instead of summing the activations again
//   bytes 4-35  qs[32]: int8 codes
//   value = d * q
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// Q2_K, 84 bytes, 256 values in 16 sub-blocks of 16 (sub-block s holds values 16s .. 16s+15).
//   bytes 0-15   scales[16]: for sub-block s, low nibble = scale code sc, high nibble = min code mn
//   bytes 16-79  qs[64]: 2-bit codes. The 256 values form two halves of 128 (h = v / 128); in
//                half h, value 32 * k + l (k 0..3, l 0..31) is bits 2k, 2k+1 of qs[32 h + l]
//   bytes 80-81  d: f16 super-block scale for the scale codes
//   bytes 82-83  dmin: f16 super-block scale for the min codes
//   value = (d * sc) * q - (dmin * mn), q in 0..3
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// Q3_K, 110 bytes, 256 values in 16 sub-blocks of 16.
//   bytes 0-31    hmask[32]: high (third) code bits; value 32 * k + l (k 0..7, l 0..31) uses bit k
//                 of hmask[l]
//   bytes 32-95   qs[64]: low 2 code bits, arranged exactly like Q2_K's qs
//   bytes 96-107  scales[12]: sixteen 6-bit signed scale codes (stored + 32). Scale s (0..15):
//                 low 4 bits = low nibble of scales[s] for s < 8, high nibble of scales[s - 8] for
//                 s >= 8; high 2 bits = bits 2 (s / 4), 2 (s / 4) + 1 of scales[8 + s % 4]
//   bytes 108-109 d: f16 super-block scale
//   value = (d * (scale - 32)) * q, q = low2 - (hbit ? 0 : 4) in -4..3 (a SET hmask bit means
//   no offset)
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// The 12-byte scale/min block of Q4_K and Q5_K: eight 6-bit scales sc[0..7] and eight 6-bit
// mins mn[0..7] (one pair per 32-value sub-block), packed as
//   j < 4:  sc[j] = scales[j] & 63          mn[j] = scales[j + 4] & 63
//   j >= 4: sc[j] = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4)
//           mn[j] = (scales[j + 4] >> 4)  | ((scales[j] >> 6) << 4)
// i.e. bytes 0-3 hold sc[0..3] plus the top 2 bits of sc[4..7], bytes 4-7 mn[0..3] plus the top
// 2 bits of mn[4..7], bytes 8-11 the low nibbles of sc[4..7] (low) and mn[4..7] (high).
inline constexpr int kKScaleBytes = 12;

// Q4_K, 144 bytes, 256 values in 8 sub-blocks of 32.
//   bytes 0-1    d: f16 super-block scale for the scale codes
//   bytes 2-3    dmin: f16 super-block scale for the min codes
//   bytes 4-15   scales[12]: 6-bit sc / mn codes, packed as above
//   bytes 16-143 qs[128]: 4-bit codes; sub-block s (values 32 s .. 32 s + 31) reads, for value
//                32 s + l, the low nibble (s even) or high nibble (s odd) of qs[32 (s / 2) + l]
//   value = (d * sc[s]) * q - (dmin * mn[s]), q in 0..15
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};

// Q5_K, 176 bytes, 256 values in 8 sub-blocks of 32.
//   bytes 0-1    d, bytes 2-3 dmin, bytes 4-15 scales[12]: as in Q4_K
//   bytes 16-47  qh[32]: fifth code bits; value 32 s + l uses bit s of qh[l]
//   bytes 48-175 qs[128]: low 4 bits, arranged as in Q4_K
//   value = (d * sc[s]) * q - (dmin * mn[s]), q in 0..31
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// Q6_K, 210 bytes, 256 values in 16 sub-blocks of 16.
//   bytes 0-127   ql[128]: low 4 code bits. The 256 values form two halves of 128 (h = v / 128);
//                 in half h, value 64 * k + i (k 0..1, i 0..63) is nibble k (low, high) of
//                 ql[64 h + i]
//   bytes 128-191 qh[64]: high 2 code bits; in half h, value 32 * k + l (k 0..3, l 0..31) is bits
//                 2k, 2k+1 of qh[32 h + l]
//   bytes 192-207 scales[16]: int8 scale of sub-block s (values 16 s .. 16 s + 15)
//   bytes 208-209 d: f16 super-block scale
//   value = (d * scales[s]) * (q - 32), q = low4 | (high2 << 4) in 0..63
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Q8_K, 292 bytes, 256 values.
//   bytes 0-3     d: float32 scale
//   bytes 4-259   qs[256]: int8 codes
//   bytes 260-291 bsums[16]: int16 sums of each group of 16 codes (a dot-product helper; not
//                 needed to dequantize)
//   value = d * q
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18 && offsetof(BlockQ4_0, qs) == 2);
static_assert(sizeof(BlockQ4_1) == 20 && offsetof(BlockQ4_1, m) == 2 && offsetof(BlockQ4_1, qs) == 4);
static_assert(sizeof(BlockQ5_0) == 22 && offsetof(BlockQ5_0, qh) == 2 && offsetof(BlockQ5_0, qs) == 6);
static_assert(sizeof(BlockQ5_1) == 24 && offsetof(BlockQ5_1, qh) == 4 && offsetof(BlockQ5_1, qs) == 8);
static_assert(sizeof(BlockQ8_0) == 34 && offsetof(BlockQ8_0, qs) == 2);
static_assert(sizeof(BlockQ8_1) == 36 && offsetof(BlockQ8_1, s) == 2 && offsetof(BlockQ8_1, qs) == 4);
static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, qs) == 16 && offsetof(BlockQ2_K, d) == 80 &&
              offsetof(BlockQ2_K, dmin) == 82);
static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, qs) == 32 && offsetof(BlockQ3_K, scales) == 96 &&
              offsetof(BlockQ3_K, d) == 108);
static_assert(sizeof(BlockQ4_K) == 144 && offsetof(BlockQ4_K, dmin) == 2 && offsetof(BlockQ4_K, scales) == 4 &&
              offsetof(BlockQ4_K, qs) == 16);
static_assert(sizeof(BlockQ5_K) == 176 && offsetof(BlockQ5_K, scales) == 4 && offsetof(BlockQ5_K, qh) == 16 &&
              offsetof(BlockQ5_K, qs) == 48);
static_assert(sizeof(BlockQ6_K) == 210 && offsetof(BlockQ6_K, qh) == 128 && offsetof(BlockQ6_K, scales) == 192 &&
              offsetof(BlockQ6_K, d) == 208);
static_assert(sizeof(BlockQ8_K) == 292 && offsetof(BlockQ8_K, qs) == 4 && offsetof(BlockQ8_K, bsums) == 260);

// A value of type T (a block struct, a scale field) copied out of possibly unaligned bytes.
template <typename T>
inline T load_unaligned(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Unpacks sub-block j's 6-bit scale and min codes (j 0..7) from a Q4_K / Q5_K scales block.
GEMRT_HOST_DEVICE inline void k_scale_min(const uint8_t* scales, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *mn = scales[j + 4] & 63;
  } else {
    *sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
    *mn = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

// Q3_K's sub-block s scale code (s 0..15), already minus 32: -32..31.
GEMRT_HOST_DEVICE inline int q3k_scale(const uint8_t* scales, int s) {
  const int low = s < 8 ? (scales[s] & 15) : (scales[s - 8] >> 4);
  const int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace gemrt::quant
