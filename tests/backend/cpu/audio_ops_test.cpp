// The audio conformer's CPU ops (backend/cpu/audio_ops.cpp, graph/ir.h Conv2d, DepthwiseConv1d,
// LocalAttention) and the activations Gemma 4's audio tower adds (Silu, Relu, Sigmoid): against
// direct transcriptions of what transformers 5.17 computes (torch Conv2d / Conv1d, and
// Gemma4AudioAttention's blocked layout with its relative shift, under both masks).
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/core/tensor.h"
#include "gemrt/core/thread_pool.h"

namespace gemrt {
namespace {

TensorView view(const std::vector<float>& v, Shape shape) {
  return TensorView{"w", DType::F32, std::move(shape), reinterpret_cast<const std::byte*>(v.data())};
}

std::vector<float> random(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(AudioOps, ActivationsAreTorchs) {
  EXPECT_FLOAT_EQ(cpu::activate(1.5f, Activation::Silu), 1.5f / (1.0f + std::exp(-1.5f)));
  EXPECT_FLOAT_EQ(cpu::activate(-2.0f, Activation::Sigmoid), 1.0f / (1.0f + std::exp(2.0f)));
  EXPECT_EQ(cpu::activate(-2.0f, Activation::Relu), 0.0f);
  EXPECT_EQ(cpu::activate(3.0f, Activation::Relu), 3.0f);
  EXPECT_TRUE(std::isnan(cpu::activate(std::numeric_limits<float>::quiet_NaN(), Activation::Relu)));
}

// torch Conv2d(cin, cout, 3, stride 2, padding 1, no bias) on NCHW, after zeroing masked rows.
TEST(AudioOps, Conv2dIsTorchsStride2Pad1WithRowMask) {
  const int rows = 5, cols = 6, cin = 3, cout = 2;
  const std::vector<float> x = random(static_cast<size_t>(rows * cols * cin), 1), w = random(cout * cin * 9, 2);
  const std::vector<float> mask = {1, 1, 0, 1, 0};
  Conv2dAttrs a{rows, cols, 3, 2, 1};
  ASSERT_EQ(a.out_rows(), 3);
  ASSERT_EQ(a.out_cols(), 3);
  std::vector<float> out(static_cast<size_t>(a.out_rows() * a.out_cols() * cout));
  ThreadPool pool(2);
  cpu::conv2d(x.data(), view(w, Shape{cout, cin, 3, 3}), mask.data(), cin, a, out.data(), pool);
  for (int i = 0; i < a.out_rows(); ++i)
    for (int j = 0; j < a.out_cols(); ++j)
      for (int o = 0; o < cout; ++o) {
        double want = 0.0;
        for (int c = 0; c < cin; ++c)
          for (int dy = 0; dy < 3; ++dy)
            for (int dx = 0; dx < 3; ++dx) {
              const int y = 2 * i + dy - 1, xc = 2 * j + dx - 1;
              if (y < 0 || y >= rows || xc < 0 || xc >= cols) continue;
              want += static_cast<double>(w[static_cast<size_t>(((o * cin + c) * 3 + dy) * 3 + dx)]) * static_cast<double>(mask[static_cast<size_t>(y)]) *
                      static_cast<double>(x[static_cast<size_t>((y * cols + xc) * cin + c)]);
            }
        EXPECT_NEAR(out[static_cast<size_t>((i * a.out_cols() + j) * cout + o)], want, 1e-5) << i << " " << j << " " << o;
      }
}

// Gemma4AudioCausalConv1d: left padding K - 1, one filter per channel.
TEST(AudioOps, DepthwiseConv1dIsCausal) {
  const int t = 6, d = 3, k = 4;
  const std::vector<float> x = random(static_cast<size_t>(t * d), 3), w = random(static_cast<size_t>(d * k), 4);
  std::vector<float> out(static_cast<size_t>(t * d));
  cpu::depthwise_conv1d(x.data(), t, view(w, Shape{d, 1, k}), out.data());
  for (int r = 0; r < t; ++r)
    for (int c = 0; c < d; ++c) {
      double want = 0.0;
      for (int i = 0; i < k; ++i)
        if (r - (k - 1) + i >= 0) want += static_cast<double>(w[static_cast<size_t>(c * k + i)]) * static_cast<double>(x[static_cast<size_t>((r - (k - 1) + i) * d + c)]);
      EXPECT_NEAR(out[static_cast<size_t>(r * d + c)], want, 1e-5);
    }
}

// Gemma4AudioAttention transcribed: blocks of `chunk` queries, each over a context of
// chunk + max_past + right keys (zero padded), the relative term through the flattened shift, the
// soft cap, HF's 4-D mask made blocked (bool for sdpa; eager's float mask read inverted), softmax.
std::vector<float> hf_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                const std::vector<float>& rel, const std::vector<float>& valid, int t, int heads, int hd,
                                const LocalAttentionAttrs& a, bool eager) {
  const int chunk = a.chunk, past = a.max_past, ctx = chunk + past + a.right, p_len = static_cast<int>(rel.size()) / (heads * hd);
  const int blocks = (t + chunk - 1) / chunk, width = heads * hd;
  std::vector<float> out(static_cast<size_t>(t * width), 0.0f);
  const auto allowed = [&](int i, int j) {  // the 4-D mask: padding AND sliding window (i, j < t)
    const int dist = i - j;
    return valid[static_cast<size_t>(j)] != 0.0f && ((dist >= 0 && dist < a.left) || (dist < 0 && -dist < a.right));
  };
  for (int h = 0; h < heads; ++h)
    for (int b = 0; b < blocks; ++b) {
      // bd before the shift: [chunk, P] for the block's queries (padded queries are zero).
      std::vector<double> bd_raw(static_cast<size_t>(chunk * (ctx + 1)), 0.0);
      for (int r = 0; r < chunk; ++r) {
        const int i = b * chunk + r;
        for (int p = 0; p < p_len && i < t; ++p) {
          double s = 0.0;
          for (int e = 0; e < hd; ++e)
            s += static_cast<double>(q[static_cast<size_t>(i * width + h * hd + e)]) * static_cast<double>(rel[static_cast<size_t>(p * width + h * hd + e)]);
          bd_raw[static_cast<size_t>(r * (ctx + 1) + p)] = s;
        }
      }
      for (int r = 0; r < chunk; ++r) {
        const int i = b * chunk + r;
        if (i >= t) continue;
        std::vector<double> logit(static_cast<size_t>(ctx));
        double best = -1e300;
        for (int c = 0; c < ctx; ++c) {
          const int j = b * chunk - past + c;
          double ac = 0.0;
          if (j >= 0 && j < t)
            for (int e = 0; e < hd; ++e)
              ac += static_cast<double>(q[static_cast<size_t>(i * width + h * hd + e)]) * static_cast<double>(k[static_cast<size_t>(j * width + h * hd + e)]);
          const double bd = bd_raw[static_cast<size_t>(r * ctx + c)];  // the shift: flat index r * ctx + c
          double s = std::tanh((ac + bd) / static_cast<double>(a.softcap)) * static_cast<double>(a.softcap);
          const bool in_seq = j >= 0 && j < t;
          const bool mask_value = in_seq && allowed(i, j);  // bool mask; padding False
          const bool keep = eager ? (in_seq && !mask_value) : mask_value;  // eager: 0 (allowed or padding) masked
          if (!keep) s = a.invalid;
          logit[static_cast<size_t>(c)] = s;
          best = std::max(best, s);
        }
        double sum = 0.0;
        for (double& l : logit) sum += (l = std::exp(l - best));
        for (int c = 0; c < ctx; ++c) {
          const int j = b * chunk - past + c;
          if (j < 0 || j >= t) continue;
          for (int e = 0; e < hd; ++e)
            out[static_cast<size_t>(i * width + h * hd + e)] +=
                static_cast<float>(logit[static_cast<size_t>(c)] / sum * static_cast<double>(v[static_cast<size_t>(j * width + h * hd + e)]));
        }
      }
    }
  return out;
}

TEST(AudioOps, LocalAttentionIsHfsBlockedAttention) {
  for (const int right : {0, 2})
    for (const bool eager : {false, true}) {
      const int t = 11, heads = 2, hd = 4, width = heads * hd;
      LocalAttentionAttrs a;
      a.n_heads = heads;
      a.head_dim = hd;
      a.chunk = 4;
      a.max_past = 4;
      a.left = 4;
      a.right = right;
      a.softcap = 5.0f;
      a.eager_mask = eager;
      const int p_len = (a.chunk + a.max_past + right) / 2 + 1;
      const std::vector<float> q = random(static_cast<size_t>(t * width), 5), k = random(static_cast<size_t>(t * width), 6),
                               v = random(static_cast<size_t>(t * width), 7),
                               rel = random(static_cast<size_t>(p_len * width), 8);
      std::vector<float> valid(static_cast<size_t>(t), 1.0f);
      valid[9] = valid[10] = 0.0f;
      valid[3] = 0.0f;
      std::vector<float> out(static_cast<size_t>(t * width));
      cpu::local_attention(q.data(), k.data(), v.data(), view(rel, Shape{p_len, width}), valid.data(), t, a, out.data());
      const std::vector<float> want = hf_attention(q, k, v, rel, valid, t, heads, hd, a, eager);
      for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], want[i], 1e-5) << "right " << right << " eager " << eager << " at " << i;
    }
}

}  // namespace
}  // namespace gemrt
