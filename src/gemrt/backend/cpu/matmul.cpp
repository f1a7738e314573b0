#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/vec_ops.h"
#include "gemrt/backend/cpu/weight_rows.h"
#include "gemrt/quant/activation_quant.h"
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
  const quant::RowDot dot(w.dtype, k);
  pool.parallel_for(n_out, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) dot(w.data + n * w_row, a, a_row, t, out + n, n_out);
  }, 16);
}

}  // namespace gemrt::cpu
