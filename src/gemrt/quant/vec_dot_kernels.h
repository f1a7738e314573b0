// Internal to vec_dot: the per-ISA tile kernels behind vec_dot_rows.
//
// A tile kernel dots one weight row (n values in its stored format) with `rows` <= kRowTile
// activation rows (in the format's partner type, `a_stride` bytes apart) and writes rows floats
// to out. Each weight block is decoded once per tile.
//
// Contract shared by all ISAs: the integer sums of each block's products are exact; how they are
// scaled and summed in float32 is the ISA's choice (the scalar reference goes block by block,
// the SIMD kernels per vector lane), so ISAs agree up to float32 rounding of those sums.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gemrt/core/dtype.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::quant::detail {

inline constexpr int kRowTile = 16;

using TileFn = void (*)(int64_t n, const std::byte* w, const std::byte* a, int64_t a_stride, int rows, float* out);

// A block kernel: weight rows w + j * w_stride (j < w_rows) against activation rows a + r * a_stride
// (r < rows), out[r * out_stride + j]; bit-identical to the ISA's tile kernel row by row.
using BlockFn = void (*)(int64_t n, const std::byte* w, int64_t w_stride, int64_t w_rows, const std::byte* a,
                         int64_t a_stride, int64_t rows, float* out, int64_t out_stride);

// AVX2 block kernels (nullptr where there is none; callers then loop over weight rows).
BlockFn block_fn_avx2(DType weight, DotOrder order);
// AVX2 kernels for one activation row (decode) against many weight rows, with the BlockFn
// signature (rows == 1): the activation's per-block terms are prepared once per call; the weight
// rows stream one after another. Bit-identical to the tile kernel row by row; nullptr where none.
BlockFn stream_fn_avx2(DType weight, DotOrder order);

// AVX-512 (F, BW, VL, DQ, VNNI) block kernels, each giving exactly the bits of the AVX2 block
// kernel for the same format (nullptr where there is none; the AVX2 one is used then). Every other
// kernel of DotIsa::Avx512 is the AVX2 one.
BlockFn block_fn_avx512(DType weight, DotOrder order);
// AVX-512 one-row (decode) kernels, each giving exactly the bits of the AVX2 stream kernel.
BlockFn stream_fn_avx512(DType weight, DotOrder order);

// Portable C++ kernels; every weight format with a partner has one (VecDot order), and every
// format with a batched order has a Batched one.
TileFn tile_fn_scalar(DType weight, DotOrder order);

// AVX2 + FMA + F16C kernels (x86-64 builds only; the caller checks the CPU). nullptr for formats
// without an AVX2 kernel or on builds without one.
TileFn tile_fn_avx2(DType weight, DotOrder order);

}  // namespace gemrt::quant::detail
