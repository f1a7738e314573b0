#include <algorithm>
#include <array>
#include <optional>
#include <utility>
#include <vector>

#include <unistd.h>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/vec_ops.h"
#include "gemrt/backend/cpu/weight_rows.h"
#include "gemrt/quant/activation_quant.h"
#include "gemrt/quant/row_group_dot.h"
#include "gemrt/quant/vec_dot.h"

namespace gemrt::cpu {

void matmul(const float* x, int64_t t, const TensorView& w, float* out, ThreadPool& pool) {
  const int64_t n_out = w.shape[0];
  const int64_t k = w.shape[1];
  // Parallel over output features: each weight row is converted once and used for every token.
  pool.parallel_for(n_out, [&](int64_t b, int64_t e) {
    std::vector<float> scratch(static_cast<size_t>(k));
    for (int64_t n = b; n < e; ++n) {
      const float* wr = weight_row_f32(w, n, scratch.data());
      for (int64_t i = 0; i < t; ++i) out[i * n_out + n] = dot(x + i * k, wr, k);
    }
  }, 16);
}

namespace {

// A core's L2 cache in bytes, as the C library reports it (512 KiB where it reports none).
int64_t l2_cache_bytes() {
  static const int64_t bytes = [] {
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return v > 0 ? static_cast<int64_t>(v) : int64_t{512} * 1024;
  }();
  return bytes;
}

// Rounded activation rows per block: about 192 KiB of them (a share of a 512 KiB L2 that leaves
// room for the weight rows passing through, and for the block kernels' own copies of the rows), a
// multiple of 4 rows (llama.cpp's GEMM row groups), and at least kMinBlockRows: a block reads every
// weight row from memory once, so for long rows (the FFN down projection, k = 6912 on Gemma 3 1B) a
// block of a dozen rows would re-read the whole matrix from memory every 12 tokens; with 64 rows
// the block spills to L3 instead (measured: F16 pp512 on the 1B shape +10-15 %).
// 16-bit activations (F16 / BF16 weights, the most weight bytes to re-read per block) take 3/8 of
// the core's L2 when it is larger (768 KiB of a 2 MiB L2: 1B F16 pp512 +6 %, 3 alternating rounds;
// the quantized formats' kernels expand their rows to several times that and were 5 % slower so).
int64_t act_block_rows(int64_t a_row_bytes, DType partner) {
  constexpr int64_t kMinBlockRows = 64;
  const bool wide = partner == DType::F16 || partner == DType::BF16;
  const int64_t budget = wide ? std::max<int64_t>(192 * 1024, l2_cache_bytes() * 3 / 8) : 192 * 1024;
  const int64_t rows = (budget / a_row_bytes) / 4 * 4;
  return std::clamp<int64_t>(rows, kMinBlockRows, 512);
}

}  // namespace

void matmul_fast(const float* x, int64_t t, const TensorView& w, float* out, ThreadPool& pool,
                 std::vector<std::byte>& scratch) {
  if (w.dtype == DType::F32) {
    matmul(x, t, w, out, pool);
    return;
  }
  const int64_t n_out = w.shape[0];
  const int64_t k = w.shape[1];
  const DType partner = quant::dot_partner(w.dtype);
  const int64_t a_row = dtype_bytes(partner, k);
  const int64_t w_row = dtype_bytes(w.dtype, k);
  if (scratch.size() < static_cast<size_t>(t * a_row)) scratch.resize(static_cast<size_t>(t * a_row));
  std::byte* a = scratch.data();
  pool.parallel_for(t, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) quant::quantize_activations(partner, x + i * k, k, a + i * a_row);
  });
  // Activation rows go in blocks that stay in L2 while every weight row streams past them once per
  // block (a weight row read from memory serves the whole block; without blocking each weight row
  // would pull all T rounded rows through the cache hierarchy again).
  const int64_t block = act_block_rows(a_row, partner);
  if (quant::has_row_group_dot(w.dtype) && n_out % quant::kRowGroup == 0) {
    // llama.cpp keeps these matrices interleaved 8 rows at a time and sums in that kernel's
    // order (quant/row_group_dot.h); so do we, with its split of the activation rows.
    const quant::RowGroupDot dot(w.dtype, k);
    const int64_t batched = t - t % 4;
    for (int64_t r0 = 0; r0 < t;) {
      const int64_t r1 = r0 < batched ? std::min(batched, r0 + block) : t;
      const quant::FoldGrain grain = quant::fold_grain(r0, t);
      pool.parallel_for(n_out / quant::kRowGroup, [&](int64_t b, int64_t e) {
        const int64_t n = b * quant::kRowGroup;
        dot.groups(w.data + n * w_row, w_row, e - b, a + r0 * a_row, a_row, r1 - r0, grain, out + r0 * n_out + n, n_out);
      }, 2);
      r0 = r1;
    }
    return;
  }
  // llama.cpp runs enough activation rows through batched kernels with their own float32 order
  // (quant/vec_dot.h, DotOrder::Batched); its 16-bit one needs 8 | k and 4 | n_out.
  const int64_t min_rows = quant::batched_order_min_rows(w.dtype);
  const bool batched = min_rows > 0 && t >= min_rows && (dtype_is_quantized(w.dtype) || (k % 8 == 0 && n_out % 4 == 0));
  const quant::RowDot dot(w.dtype, k, quant::dot_isa(), batched ? quant::DotOrder::Batched : quant::DotOrder::VecDot);
  for (int64_t r0 = 0; r0 < t; r0 += block) {
    const int64_t rows = std::min(block, t - r0);
    pool.parallel_for(n_out, [&](int64_t b, int64_t e) {
      dot.block(w.data + b * w_row, w_row, e - b, a + r0 * a_row, a_row, rows, out + r0 * n_out + b, n_out);
    }, 16);
  }
}

bool matmul_fast_row(const float* x, std::span<const TensorView* const> w, std::span<float* const> out,
                     ThreadPool& pool, std::vector<std::byte>& scratch) {
  constexpr int64_t kUnit = quant::kRowGroup;  // rows per work unit: whole 8-row groups
  constexpr size_t kMaxProducts = 8;           // fixed storage: no allocation per decode step
  if (w.empty() || w.size() != out.size() || w.size() > kMaxProducts) return false;
  const int64_t k = w[0]->shape[1];
  for (const TensorView* v : w)
    if (v->dtype == DType::F32 || v->shape[1] != k || v->shape[0] % kUnit != 0) return false;
  // Per weight: its kernel (as matmul_fast picks it for one row), its rounded activation and its
  // first unit in the concatenation of all weights' rows.
  struct Product {
    std::optional<quant::RowGroupDot> group;
    std::optional<quant::RowDot> rows;
    int64_t a_offset = 0, a_row = 0, w_row = 0, first_unit = 0;
  };
  std::array<Product, kMaxProducts> products;
  std::array<std::pair<DType, int64_t>, kMaxProducts> rounded;  // partner dtype -> offset in scratch
  size_t n_rounded = 0;
  int64_t units = 0, a_bytes = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const DType partner = quant::dot_partner(w[i]->dtype);
    size_t r = 0;
    while (r < n_rounded && rounded[r].first != partner) ++r;
    if (r == n_rounded) {
      rounded[n_rounded++] = {partner, a_bytes};
      a_bytes += (dtype_bytes(partner, k) + 63) / 64 * 64;
    }
    Product& p = products[i];
    p.a_offset = rounded[r].second;
    p.a_row = dtype_bytes(partner, k);
    p.w_row = dtype_bytes(w[i]->dtype, k);
    p.first_unit = units;
    units += w[i]->shape[0] / kUnit;
    if (quant::has_row_group_dot(w[i]->dtype)) p.group.emplace(w[i]->dtype, k);
    else p.rows.emplace(w[i]->dtype, k, quant::dot_isa(), quant::DotOrder::VecDot);
  }
  if (scratch.size() < static_cast<size_t>(a_bytes)) scratch.resize(static_cast<size_t>(a_bytes));
  for (size_t r = 0; r < n_rounded; ++r)
    quant::quantize_activations(rounded[r].first, x, k, scratch.data() + rounded[r].second);
  pool.parallel_for(units, [&](int64_t b, int64_t e) {
    for (size_t i = 0; i < w.size(); ++i) {
      const Product& p = products[i];
      const int64_t u0 = std::max(b, p.first_unit), u1 = std::min(e, p.first_unit + w[i]->shape[0] / kUnit);
      if (u0 >= u1) continue;
      const int64_t r0 = (u0 - p.first_unit) * kUnit, r1 = (u1 - p.first_unit) * kUnit;
      const std::byte* a = scratch.data() + p.a_offset;
      if (p.group) {
        p.group->groups(w[i]->data + r0 * p.w_row, p.w_row, (r1 - r0) / kUnit, a, p.a_row, 1, quant::fold_grain(0, 1),
                        out[i] + r0, w[i]->shape[0]);
      } else {
        p.rows->block(w[i]->data + r0 * p.w_row, p.w_row, r1 - r0, a, p.a_row, 1, out[i] + r0, w[i]->shape[0]);
      }
    }
  }, 2);
  return true;
}

}  // namespace gemrt::cpu
