#include "gemrt/quant/vec_dot.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/vec_dot_kernels.h"

namespace gemrt::quant {
namespace {

float f16(uint16_t h) { return f16_to_f32(h); }

// Codes of the 32-value formats, offset removed for the symmetric ones: value j = d * code[j] (+ m).
void codes_q4(const uint8_t* qs, int offset, int8_t* c) {
  for (int j = 0; j < kQK / 2; ++j) {
    c[j] = static_cast<int8_t>((qs[j] & 15) - offset);
    c[j + kQK / 2] = static_cast<int8_t>((qs[j] >> 4) - offset);
  }
}

void codes_q5(const uint8_t* qs, const uint8_t* qh_bytes, int offset, int8_t* c) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < kQK / 2; ++j) {
    c[j] = static_cast<int8_t>(((qs[j] & 15) | static_cast<int>(((qh >> j) & 1u) << 4)) - offset);
    c[j + kQK / 2] = static_cast<int8_t>(((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - offset);
  }
}

// int8 x int8 products summed in int32 (|sum| <= 32 * 128 * 127).
int dot_i8(const int8_t* c, const int8_t* q, int n) {
  int s = 0;
  for (int j = 0; j < n; ++j) s += static_cast<int16_t>(c[j]) * static_cast<int16_t>(q[j]);
  return s;
}

using detail::kRowTile;
using detail::TileFn;

// One weight row against `rows` (<= kRowTile) activation rows `a_stride` bytes apart.
template <typename WBlock>
void dot_small_blocks(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr bool kOffset = std::is_same_v<WBlock, BlockQ4_1> || std::is_same_v<WBlock, BlockQ5_1>;
  using ABlock = std::conditional_t<kOffset, BlockQ8_1, BlockQ8_0>;
  float sum[kRowTile] = {};
  float offsets[kRowTile] = {};  // sums of mw * sa, added at the end (llama.cpp's order)
  int8_t c[kQK];
  for (int64_t b = 0; b < n / kQK; ++b) {
    const auto wb = load_unaligned<WBlock>(w + b * static_cast<int64_t>(sizeof(WBlock)));
    if constexpr (std::is_same_v<WBlock, BlockQ4_0>) codes_q4(wb.qs, 8, c);
    else if constexpr (std::is_same_v<WBlock, BlockQ4_1>) codes_q4(wb.qs, 0, c);
    else if constexpr (std::is_same_v<WBlock, BlockQ5_0>) codes_q5(wb.qs, wb.qh, 16, c);
    else if constexpr (std::is_same_v<WBlock, BlockQ5_1>) codes_q5(wb.qs, wb.qh, 0, c);
    else
      std::memcpy(c, wb.qs, kQK);
    const float dw = f16(wb.d);
    for (int r = 0; r < rows; ++r) {
      const auto ab = load_unaligned<ABlock>(a + r * a_stride + b * static_cast<int64_t>(sizeof(ABlock)));
      sum[r] += dw * f16(ab.d) * static_cast<float>(dot_i8(c, ab.qs, kQK));
      if constexpr (kOffset) offsets[r] += f16(wb.m) * f16(ab.s);
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = sum[r] + offsets[r];
}

// A K-quant super-block decoded to integers: value v = d * scale[v / sub] * code[v] - dmin * min[v / sub].
struct KBlock {
  int8_t code[kQK_K];
  int scale[16];
  int min[16];
  int sub;  // values per sub-block: 16 or 32
  float d, dmin;
};

void decode(const BlockQ2_K& b, KBlock* k) {
  k->sub = 16;
  k->d = f16(b.d);
  k->dmin = f16(b.dmin);
  for (int s = 0; s < 16; ++s) {
    k->scale[s] = b.scales[s] & 15;
    k->min[s] = b.scales[s] >> 4;
  }
  for (int v = 0; v < kQK_K; ++v) {
    const int h = v / 128, r = v % 128;
    k->code[v] = static_cast<int8_t>((b.qs[32 * h + r % 32] >> (2 * (r / 32))) & 3);
  }
}

void decode(const BlockQ3_K& b, KBlock* k) {
  k->sub = 16;
  k->d = f16(b.d);
  k->dmin = 0.0f;
  for (int s = 0; s < 16; ++s) {
    k->scale[s] = q3k_scale(b.scales, s);
    k->min[s] = 0;
  }
  for (int v = 0; v < kQK_K; ++v) {
    const int h = v / 128, r = v % 128;
    const int low = (b.qs[32 * h + r % 32] >> (2 * (r / 32))) & 3;
    const bool high = (b.hmask[v % 32] >> (v / 32)) & 1;
    k->code[v] = static_cast<int8_t>(low - (high ? 0 : 4));
  }
}

void decode(const BlockQ4_K& b, KBlock* k) {
  k->sub = 32;
  k->d = f16(b.d);
  k->dmin = f16(b.dmin);
  for (int s = 0; s < 8; ++s) {
    k_scale_min(b.scales, s, &k->scale[s], &k->min[s]);
    for (int l = 0; l < 32; ++l) k->code[32 * s + l] = static_cast<int8_t>((b.qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15);
  }
}

void decode(const BlockQ5_K& b, KBlock* k) {
  k->sub = 32;
  k->d = f16(b.d);
  k->dmin = f16(b.dmin);
  for (int s = 0; s < 8; ++s) {
    k_scale_min(b.scales, s, &k->scale[s], &k->min[s]);
    for (int l = 0; l < 32; ++l)
      k->code[32 * s + l] = static_cast<int8_t>(((b.qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15) | (((b.qh[l] >> s) & 1) << 4));
  }
}

void decode(const BlockQ6_K& b, KBlock* k) {
  k->sub = 16;
  k->d = f16(b.d);
  k->dmin = 0.0f;
  for (int s = 0; s < 16; ++s) {
    k->scale[s] = b.scales[s];
    k->min[s] = 0;
  }
  for (int v = 0; v < kQK_K; ++v) {
    const int h = v / 128, r = v % 128;
    const int low = (b.ql[64 * h + r % 64] >> (4 * (r / 64))) & 15;
    const int high = (b.qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
    k->code[v] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

// A super-block's exact integer sums against one activation block: isum = sum_s sc_s * sum_j q_j a_j,
// msum = sum_s mn_s * sum_j a_j (the activation sums from its 16-value bsums).
void k_block_sums(const KBlock& k, const BlockQ8_K& ab, int* isum, int* msum) {
  *isum = 0;
  *msum = 0;
  for (int s = 0; s < kQK_K / k.sub; ++s) {
    *isum += k.scale[s] * dot_i8(k.code + s * k.sub, ab.qs + s * k.sub, k.sub);
    int asum = 0;
    for (int g = s * k.sub / 16; g < (s + 1) * k.sub / 16; ++g) asum += ab.bsums[g];
    *msum += k.min[s] * asum;
  }
}

template <typename WBlock>
void dot_k_blocks(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  float sum[kRowTile] = {};
  KBlock k;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    decode(load_unaligned<WBlock>(w + b * static_cast<int64_t>(sizeof(WBlock))), &k);
    for (int r = 0; r < rows; ++r) {
      const auto ab = load_unaligned<BlockQ8_K>(a + r * a_stride + b * static_cast<int64_t>(sizeof(BlockQ8_K)));
      int isum, msum;
      k_block_sums(k, ab, &isum, &msum);
      sum[r] += ab.d * (k.d * static_cast<float>(isum) - k.dmin * static_cast<float>(msum));
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = sum[r];
}

// DotOrder::Batched for the K-quants (vec_dot.h). This file is compiled without FP contraction,
// so `k.d * isum` is rounded before the explicit fma.
template <typename WBlock>
void dot_k_batched(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  constexpr bool kMins =
      std::is_same_v<WBlock, BlockQ2_K> || std::is_same_v<WBlock, BlockQ4_K> || std::is_same_v<WBlock, BlockQ5_K>;
  float acc[kRowTile] = {};
  KBlock k;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    decode(load_unaligned<WBlock>(w + b * static_cast<int64_t>(sizeof(WBlock))), &k);
    for (int r = 0; r < rows; ++r) {
      const auto ab = load_unaligned<BlockQ8_K>(a + r * a_stride + b * static_cast<int64_t>(sizeof(BlockQ8_K)));
      int isum, msum;
      k_block_sums(k, ab, &isum, &msum);
      float res = k.d * static_cast<float>(isum);
      if constexpr (kMins) res = std::fma(-k.dmin, static_cast<float>(msum), res);
      acc[r] = std::fma(res, ab.d, acc[r]);
    }
  }
  for (int r = 0; r < rows; ++r) out[r] = acc[r];
}

// DotOrder::Batched for F16 / BF16: 8 lanes, FMA, (t0 + t2) + (t1 + t3) with t_L = a_L + a_{L+4}.
template <bool kBf16>
void dot_half_batched(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  const auto get = [](const std::byte* p) {
    const auto h = load_unaligned<uint16_t>(p);
    return kBf16 ? bf16_to_f32(h) : f16_to_f32(h);
  };
  for (int r = 0; r < rows; ++r) {
    float lane[8] = {};
    for (int64_t i = 0; i < n; i += 8)
      for (int l = 0; l < 8; ++l) lane[l] = std::fma(get(w + 2 * (i + l)), get(a + r * a_stride + 2 * (i + l)), lane[l]);
    const float t0 = lane[0] + lane[4], t1 = lane[1] + lane[5], t2 = lane[2] + lane[6], t3 = lane[3] + lane[7];
    out[r] = (t0 + t2) + (t1 + t3);
  }
}

template <bool kBf16>
void dot_half(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  for (int r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const auto wh = load_unaligned<uint16_t>(w + 2 * i), ah = load_unaligned<uint16_t>(a + r * a_stride + 2 * i);
      sum += kBf16 ? bf16_to_f32(wh) * bf16_to_f32(ah) : f16_to_f32(wh) * f16_to_f32(ah);
    }
    out[r] = sum;
  }
}

void dot_f32(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out) {
  for (int r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += load_unaligned<float>(w + 4 * i) * load_unaligned<float>(a + r * a_stride + 4 * i);
    out[r] = sum;
  }
}

}  // namespace

namespace detail {

TileFn tile_fn_scalar(DType weight, DotOrder order) {
  if (order == DotOrder::Batched) {
    switch (weight) {
      case DType::F16: return dot_half_batched<false>;
      case DType::BF16: return dot_half_batched<true>;
      case DType::Q2_K: return dot_k_batched<BlockQ2_K>;
      case DType::Q3_K: return dot_k_batched<BlockQ3_K>;
      case DType::Q4_K: return dot_k_batched<BlockQ4_K>;
      case DType::Q5_K: return dot_k_batched<BlockQ5_K>;
      case DType::Q6_K: return dot_k_batched<BlockQ6_K>;
      default: fail("vec_dot: no batched order for weight dtype ", dtype_name(weight));
    }
  }
  switch (weight) {
    case DType::F32: return dot_f32;
    case DType::F16: return dot_half<false>;
    case DType::BF16: return dot_half<true>;
    case DType::Q4_0: return dot_small_blocks<BlockQ4_0>;
    case DType::Q4_1: return dot_small_blocks<BlockQ4_1>;
    case DType::Q5_0: return dot_small_blocks<BlockQ5_0>;
    case DType::Q5_1: return dot_small_blocks<BlockQ5_1>;
    case DType::Q8_0: return dot_small_blocks<BlockQ8_0>;
    case DType::Q2_K: return dot_k_blocks<BlockQ2_K>;
    case DType::Q3_K: return dot_k_blocks<BlockQ3_K>;
    case DType::Q4_K: return dot_k_blocks<BlockQ4_K>;
    case DType::Q5_K: return dot_k_blocks<BlockQ5_K>;
    case DType::Q6_K: return dot_k_blocks<BlockQ6_K>;
    default: fail("vec_dot: no kernel for weight dtype ", dtype_name(weight));
  }
}

#if !(defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS))
TileFn tile_fn_avx2(DType, DotOrder) { return nullptr; }
BlockFn block_fn_avx2(DType, DotOrder) { return nullptr; }
BlockFn stream_fn_avx2(DType, DotOrder) { return nullptr; }
#endif
#if !(defined(__x86_64__) && defined(GEMRT_HAVE_AVX512_KERNELS))
BlockFn block_fn_avx512(DType, DotOrder) { return nullptr; }
BlockFn stream_fn_avx512(DType, DotOrder) { return nullptr; }
#endif

}  // namespace detail

namespace {

// The one CPU check of the library's AVX2 code (every AVX2 kernel family asks dot_isa_available).
bool cpu_supports_avx2() {
#if defined(__x86_64__) && defined(GEMRT_HAVE_AVX2_KERNELS)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  return yes;
#else
  return false;
#endif
}

// The CPU check of the AVX-512 kernels: the AVX2 set plus AVX-512 F, BW, VL, DQ and VNNI (the
// compiler's check includes the operating system's support for the 512-bit register state).
bool cpu_supports_avx512() {
#if defined(__x86_64__) && defined(GEMRT_HAVE_AVX512_KERNELS)
  static const bool yes = [] {
    __builtin_cpu_init();
    return cpu_supports_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
  }();
  return yes;
#else
  return false;
#endif
}

DotIsa best_isa() {
  static const DotIsa isa = [] {
    DotIsa best = cpu_supports_avx512() ? DotIsa::Avx512 : cpu_supports_avx2() ? DotIsa::Avx2 : DotIsa::Scalar;
    if (const char* cap = std::getenv("GEMRT_DOT_ISA")) {
      const std::string_view c(cap);
      DotIsa want;
      if (c == "scalar") want = DotIsa::Scalar;
      else if (c == "avx2") want = DotIsa::Avx2;
      else if (c == "avx512") want = DotIsa::Avx512;
      else fail("GEMRT_DOT_ISA: expected scalar, avx2 or avx512, got '", c, "'");
      if (static_cast<int>(want) < static_cast<int>(best)) best = want;  // a cap, never a CPU upgrade
    }
    return best;
  }();
  return isa;
}

TileFn tile_fn_for(DotIsa isa, DType weight, DotOrder order) {
  if (isa != DotIsa::Scalar) {
    if (!dot_isa_available(isa))
      fail("vec_dot: ", dot_isa_name(isa), " kernels requested on a CPU (or build) without ", dot_isa_name(isa));
    if (TileFn fn = detail::tile_fn_avx2(weight, order)) return fn;  // Avx512's tile kernels are Avx2's
  }
  return detail::tile_fn_scalar(weight, order);
}

}  // namespace

DotIsa dot_isa() { return best_isa(); }
bool dot_isa_available(DotIsa isa) {
  switch (isa) {
    case DotIsa::Scalar: return true;
    case DotIsa::Avx2: return cpu_supports_avx2();
    case DotIsa::Avx512: return cpu_supports_avx512();
  }
  return false;
}
std::string_view dot_isa_name(DotIsa isa) {
  switch (isa) {
    case DotIsa::Scalar: return "scalar";
    case DotIsa::Avx2: return "avx2";
    case DotIsa::Avx512: return "avx512";
  }
  return "?";
}

int64_t batched_order_min_rows(DType weight) {
  switch (weight) {
    case DType::F16:
    case DType::BF16: return 2;
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return 8;
    default: return 0;
  }
}

RowDot::RowDot(DType weight, int64_t n, DotIsa isa, DotOrder order)
    : fn_(nullptr), block_fn_(nullptr), stream_fn_(nullptr), n_(n) {
  const DType partner = dot_partner(weight);
  const int64_t block = std::max(dtype_info(weight).block_elems, dtype_info(partner).block_elems);
  if (n % block != 0) fail("vec_dot: ", n, " values are not a whole number of ", dtype_name(weight), " blocks");
  if (order == DotOrder::Batched && !dtype_is_quantized(weight) && n % 8 != 0)
    fail("vec_dot: the batched order of ", dtype_name(weight), " needs a multiple of 8 values, got ", n);
  fn_ = tile_fn_for(isa, weight, order);
  if (isa == DotIsa::Avx512) {
    block_fn_ = detail::block_fn_avx512(weight, order);
    stream_fn_ = detail::stream_fn_avx512(weight, order);
  }
  if (isa != DotIsa::Scalar) {
    if (block_fn_ == nullptr) block_fn_ = detail::block_fn_avx2(weight, order);
    if (stream_fn_ == nullptr) stream_fn_ = detail::stream_fn_avx2(weight, order);
  }
}

void RowDot::block(const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a, int64_t a_stride,
                   int64_t rows, float* out, int64_t out_stride) const {
  // One activation row (decode) is memory-bound: the tile kernels read the weight rows as one
  // sequential stream, which the hardware prefetcher serves best; blocks interleave rows.
  if (block_fn_ != nullptr && rows > 1) {
    block_fn_(n_, w, w_stride, w_rows, a, a_stride, rows, out, out_stride);
    return;
  }
  if (stream_fn_ != nullptr && rows == 1) {
    stream_fn_(n_, w, w_stride, w_rows, a, a_stride, rows, out, out_stride);
    return;
  }
  for (int64_t j = 0; j < w_rows; ++j) (*this)(w + j * w_stride, a, a_stride, rows, out + j, out_stride);
}

void RowDot::operator()(const std::byte* w, const std::byte* a, int64_t a_stride, int64_t rows, float* out,
                        int64_t out_stride) const {
  if (rows == 1) {
    fn_(n_, w, a, a_stride, 1, out);
    return;
  }
  float tile[kRowTile];
  for (int64_t r0 = 0; r0 < rows; r0 += kRowTile) {
    const int m = static_cast<int>(std::min<int64_t>(kRowTile, rows - r0));
    fn_(n_, w, a + r0 * a_stride, a_stride, m, tile);
    for (int r = 0; r < m; ++r) out[(r0 + r) * out_stride] = tile[r];
  }
}

void vec_dot_rows(DType weight, int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int64_t rows,
                  float* out, int64_t out_stride, DotIsa isa) {
  RowDot(weight, n, isa)(w, a, a_stride, rows, out, out_stride);
}

float vec_dot(DType weight, int64_t n, const std::byte* w, const std::byte* a) {
  float out;
  vec_dot_rows(weight, n, w, a, 0, 1, &out, 1, dot_isa());
  return out;
}

}  // namespace gemrt::quant
