#include <vector>

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
  if (quant::has_row_group_dot(w.dtype) && n_out % quant::kRowGroup == 0) {
    // llama.cpp keeps these matrices interleaved 8 rows at a time and sums in that kernel's
    // order (quant/row_group_dot.h); so do we, with its split of the activation rows.
    const quant::RowGroupDot dot(w.dtype, k);
    const int64_t batched = t - t % 4;
    pool.parallel_for(n_out / quant::kRowGroup, [&](int64_t b, int64_t e) {
      for (int64_t g = b; g < e; ++g) {
        const int64_t n = g * quant::kRowGroup;
        const std::byte* wg = w.data + n * w_row;
        if (batched > 0) dot(wg, w_row, a, a_row, batched, quant::fold_grain(0, t), out + n, n_out);
        if (batched < t)
          dot(wg, w_row, a + batched * a_row, a_row, t - batched, quant::fold_grain(batched, t), out + batched * n_out + n,
              n_out);
      }
    }, 2);
    return;
  }
  // llama.cpp runs enough activation rows through batched kernels with their own float32 order
  // (quant/vec_dot.h, DotOrder::Batched); its 16-bit one needs 8 | k and 4 | n_out.
  const int64_t min_rows = quant::batched_order_min_rows(w.dtype);
  const bool batched = min_rows > 0 && t >= min_rows && (dtype_is_quantized(w.dtype) || (k % 8 == 0 && n_out % 4 == 0));
  const quant::RowDot dot(w.dtype, k, quant::dot_isa(), batched ? quant::DotOrder::Batched : quant::DotOrder::VecDot);
  pool.parallel_for(n_out, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) dot(w.data + n * w_row, a, a_row, t, out + n, n_out);
  }, 16);
}

}  // namespace gemrt::cpu
