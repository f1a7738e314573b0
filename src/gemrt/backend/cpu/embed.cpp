#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"
#include "gemrt/backend/run_checks.h"

namespace gemrt::cpu {

void embed(const TensorView& table, const int32_t* ids, int64_t t, float scale, int64_t fallback_row, float* out,
           ThreadPool& pool) {
  const int64_t d = table.shape[1], v = table.shape[0];
  if (fallback_row < 0) check_token_ids(table, std::span<const int32_t>(ids, static_cast<size_t>(t)));
  pool.parallel_for(t, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* row = out + i * d;
      read_weight_row(table, ids[i] >= 0 && ids[i] < v ? ids[i] : fallback_row, 0, d, row);
      for (int64_t j = 0; j < d; ++j) row[j] *= scale;
    }
  });
}

}  // namespace gemrt::cpu
