// The audio conformer's ops (graph/ir.h Conv2d, DepthwiseConv1d, LocalAttention; Gemma 4's audio
// tower, spec §6.7): plain float32 loops, the summation orders the IR states.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"

namespace gemrt::cpu {
namespace {

std::vector<float> weight_f32(const TensorView& w) {
  const int64_t n = w.shape.numel(), width = row_width(w);
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t r = 0; r < n / width; ++r) read_weight_row(w, r, 0, width, out.data() + r * width);
  return out;
}

}  // namespace

void conv2d(const float* x, const TensorView& w, const float* row_mask, int64_t cin, const Conv2dAttrs& a, float* out,
            ThreadPool& pool) {
  const std::vector<float> wf = weight_f32(w);
  const int64_t cout = w.shape[0], k = a.kernel;
  const int ocols = a.out_cols();
  pool.parallel_for(a.out_rows(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int j = 0; j < ocols; ++j)
        for (int64_t o = 0; o < cout; ++o) {
          float s = 0.0f;
          for (int64_t c = 0; c < cin; ++c)
            for (int64_t dy = 0; dy < k; ++dy) {
              const int64_t y = i * a.stride + dy - a.pad;
              if (y < 0 || y >= a.rows || row_mask[y] == 0.0f) continue;
              for (int64_t dx = 0; dx < k; ++dx) {
                const int64_t xc = int64_t{j} * a.stride + dx - a.pad;
                if (xc < 0 || xc >= a.cols) continue;
                s += wf[static_cast<size_t>(((o * cin + c) * k + dy) * k + dx)] * x[(y * a.cols + xc) * cin + c];
              }
            }
          out[(i * ocols + j) * cout + o] = s;
        }
  });
}

void depthwise_conv1d(const float* x, int64_t t, const TensorView& w, float* out) {
  const std::vector<float> wf = weight_f32(w);
  const int64_t d = w.shape[0], k = w.shape[2];
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 0; c < d; ++c) {
      float s = 0.0f;
      for (int64_t i = 0; i < k; ++i) {
        const int64_t src = r - (k - 1) + i;
        if (src >= 0) s += wf[static_cast<size_t>(c * k + i)] * x[src * d + c];
      }
      out[r * d + c] = s;
    }
}

void local_attention(const float* q, const float* k, const float* v, const TensorView& rel_k, const float* key_mask,
                     int64_t t, const LocalAttentionAttrs& a, float* out) {
  const std::vector<float> rk = weight_f32(rel_k);
  const int64_t hd = a.head_dim, width = int64_t{a.n_heads} * hd, n_rel = rel_k.shape[0];
  const int64_t context = int64_t{a.chunk} + a.max_past + a.right;
  std::vector<float> logits(static_cast<size_t>(context));
  for (int64_t i = 0; i < t; ++i) {
    const int64_t first = (i / a.chunk) * a.chunk - a.max_past;  // the chunk's first context key
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const float* qi = q + i * width + h * hd;
      float* o = out + i * width + h * hd;
      float best = -INFINITY;
      for (int64_t c = 0; c < context; ++c) {
        const int64_t j = first + c;
        float s = a.invalid;
        if (a.sees(i, j, t, key_mask)) {
          const float* kj = k + j * width + h * hd;
          float ac = 0.0f, bd = 0.0f;
          for (int64_t e = 0; e < hd; ++e) ac += qi[e] * kj[e];
          const int64_t p = a.max_past + j - i;
          if (p >= 0 && p < n_rel) {
            const float* rp = rk.data() + p * width + h * hd;
            for (int64_t e = 0; e < hd; ++e) bd += qi[e] * rp[e];
          }
          s = std::tanh((ac + bd) / a.softcap) * a.softcap;
        }
        logits[static_cast<size_t>(c)] = s;
        best = std::max(best, s);
      }
      double sum = 0.0;
      for (int64_t c = 0; c < context; ++c) {
        const float e = std::exp(logits[static_cast<size_t>(c)] - best);
        logits[static_cast<size_t>(c)] = e;
        sum += static_cast<double>(e);
      }
      for (int64_t e = 0; e < hd; ++e) o[e] = 0.0f;
      for (int64_t c = 0; c < context; ++c) {
        const int64_t j = first + c;
        if (j < 0 || j >= t) continue;  // HF's zero padding: no value
        const float p = static_cast<float>(static_cast<double>(logits[static_cast<size_t>(c)]) / sum);
        if (p == 0.0f) continue;
        const float* vj = v + j * width + h * hd;
        for (int64_t e = 0; e < hd; ++e) o[e] += p * vj[e];
      }
    }
  }
}

}  // namespace gemrt::cpu
