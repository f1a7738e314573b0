// Row-wise ops: Gemma 3n's AltUp and activation sparsity (graph/ir.h Combine, RmsRescale, MulVec,
// GaussianTopK) and the media embedders' LayerNorm, AddVec and ReplaceRows. Plain loops over rows.
#include <algorithm>
#include <cmath>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"

namespace gemrt::cpu {
namespace {

double mean_square(const float* x, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  return s / static_cast<double>(d);
}

// out[r, j] = op(x[r, j], w[j]): x [t, d], w [d] in any float dtype.
template <typename Op>
void broadcast_vec(const float* x, int64_t t, const TensorView& w, float* out, Op op) {
  const int64_t d = w.shape[0];
  std::vector<float> wf(static_cast<size_t>(d));
  read_weight_row(w, 0, 0, d, wf.data());
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < d; ++j) out[r * d + j] = op(x[r * d + j], wf[static_cast<size_t>(j)]);
}

// The mean and population variance of a row of d values, two passes in double.
struct Moments {
  double mean, var;
};
Moments moments(const float* x, int64_t d) {
  double sum = 0.0;
  for (int64_t j = 0; j < d; ++j) sum += static_cast<double>(x[j]);
  const double mean = sum / static_cast<double>(d);
  double var = 0.0;
  for (int64_t j = 0; j < d; ++j) var += (static_cast<double>(x[j]) - mean) * (static_cast<double>(x[j]) - mean);
  return {mean, var / static_cast<double>(d)};
}

}  // namespace

void combine(std::span<const float* const> xs, const float* coefs, int64_t t, int64_t d, int64_t c,
             const CombineAttrs& a, float* out) {
  std::vector<float> w(xs.size());
  for (int64_t r = 0; r < t; ++r) {
    for (size_t i = 0; i < xs.size(); ++i)
      w[i] = a.cols[i] >= 0 ? a.bias[i] + coefs[r * c + a.cols[i]] : a.bias[i];
    float* o = out + r * d;
    for (int64_t j = 0; j < d; ++j) {
      float acc = w[0] * xs[0][r * d + j];
      for (size_t i = 1; i < xs.size(); ++i) acc += w[i] * xs[i][r * d + j];
      o[j] = acc;
    }
  }
}

void rms_rescale(const float* x, const float* ref, int64_t t, int64_t d, float eps, float* out) {
  for (int64_t r = 0; r < t; ++r) {
    const float target = static_cast<float>(std::sqrt(mean_square(ref + r * d, d)));
    const float ms = static_cast<float>(mean_square(x + r * d, d));
    const float magnitude = std::sqrt(ms > eps ? ms : eps);
    for (int64_t j = 0; j < d; ++j) out[r * d + j] = x[r * d + j] * target / magnitude;
  }
}

void mul_vec(const float* x, int64_t t, const TensorView& w, float* out) {
  broadcast_vec(x, t, w, out, [](float a, float b) { return a * b; });
}

void add_vec(const float* x, int64_t t, const TensorView& w, float* out) {
  broadcast_vec(x, t, w, out, [](float a, float b) { return a + b; });
}

void layer_norm(const float* x, int64_t t, const TensorView& w, const TensorView& b, float eps, float* out,
                ThreadPool& pool) {
  const int64_t d = w.shape[0];
  std::vector<float> wf(static_cast<size_t>(d)), bf(static_cast<size_t>(d));
  read_weight_row(w, 0, 0, d, wf.data());
  read_weight_row(b, 0, 0, d, bf.data());
  pool.parallel_for(t, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = x + r * d;
      const Moments s = moments(row, d);
      const auto inv = static_cast<float>(1.0 / std::sqrt(s.var + static_cast<double>(eps)));
      const auto m = static_cast<float>(s.mean);
      for (int64_t j = 0; j < d; ++j)
        out[r * d + j] = (row[j] - m) * inv * wf[static_cast<size_t>(j)] + bf[static_cast<size_t>(j)];
    }
  });
}

void replace_rows(const float* x, const float* rows, const int32_t* index, int64_t t, int64_t d, float* out) {
  for (int64_t r = 0; r < t; ++r) {
    const int32_t i = index[r];
    const float* src = i >= 0 ? rows + int64_t{i} * d : x + r * d;
    std::copy(src, src + d, out + r * d);
  }
}

void gaussian_top_k(const float* x, int64_t t, int64_t d, float z, float* out, ThreadPool& pool) {
  pool.parallel_for(t, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* row = x + r * d;
      const Moments s = moments(row, d);
      const float std_dev = static_cast<float>(std::sqrt(s.var));
      const float cutoff = static_cast<float>(s.mean) + std_dev * z;
      for (int64_t j = 0; j < d; ++j) {
        const float v = row[j] - cutoff;
        out[r * d + j] = v > 0.0f ? v : 0.0f;
      }
    }
  });
}

}  // namespace gemrt::cpu
