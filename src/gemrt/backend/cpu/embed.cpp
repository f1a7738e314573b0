#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"
#include "gemrt/core/error.h"

namespace gemrt::cpu {

void embed(const TensorView& table, const int32_t* ids, int64_t t, float scale, float* out, ThreadPool& pool) {
  const int64_t vocab = table.shape[0];
  const int64_t d = table.shape[1];
  for (int64_t i = 0; i < t; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      fail("token id ", ids[i], " at position ", i, " is outside the vocabulary [0, ", vocab, ") of ", table.name);
  pool.parallel_for(t, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* row = out + i * d;
      read_weight_row(table, ids[i], 0, d, row);
      for (int64_t j = 0; j < d; ++j) row[j] *= scale;
    }
  });
}

}  // namespace gemrt::cpu
