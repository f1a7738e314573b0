// The audio conformer's ops on the device (graph/ir.h Conv2d, DepthwiseConv1d, LocalAttention;
// Gemma 4's audio tower, spec §6.7), mirroring backend/cpu/audio_ops.cpp: one thread per output
// value (per query and head for the attention), the CPU's float32 summation orders. Weights are
// F32 / F16 / BF16, read by flat index (the store keeps them contiguous). Plain kernels: the
// tower is small next to the language model.
#include "gemrt/backend/cuda/dequant.cuh"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/kernels.cuh"

namespace gemrt::cuda {
namespace {

constexpr int kThreads = 128;

template <DType kType>
__global__ void conv2d_kernel(const float* x, const uint8_t* w, const float* row_mask, int64_t cin, int64_t cout,
                              Conv2dAttrs a, int orows, int ocols, float* out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t{orows} * ocols * cout) return;
  const int64_t o = idx % cout, cell = idx / cout;
  const int64_t i = cell / ocols, j = cell % ocols, k = a.kernel;
  float s = 0.0f;
  for (int64_t c = 0; c < cin; ++c)
    for (int64_t dy = 0; dy < k; ++dy) {
      const int64_t y = i * a.stride + dy - a.pad;
      if (y < 0 || y >= a.rows || row_mask[y] == 0.0f) continue;
      for (int64_t dx = 0; dx < k; ++dx) {
        const int64_t xc = j * a.stride + dx - a.pad;
        if (xc < 0 || xc >= a.cols) continue;
        s = __fadd_rn(s, __fmul_rn(weight_value<kType>(w, ((o * cin + c) * k + dy) * k + dx), x[(y * a.cols + xc) * cin + c]));
      }
    }
  out[idx] = s;
}

template <DType kType>
__global__ void depthwise_conv1d_kernel(const float* x, int64_t t, int64_t d, int64_t k, const uint8_t* w, float* out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= t * d) return;
  const int64_t r = idx / d, c = idx % d;
  float s = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t src = r - (k - 1) + i;
    if (src >= 0) s = __fadd_rn(s, __fmul_rn(weight_value<kType>(w, c * k + i), x[src * d + c]));
  }
  out[idx] = s;
}

// One thread per (query, head); the context's logits in local memory (context <= kMaxContext).
constexpr int kMaxContext = 64;

template <DType kType>
__global__ void local_attention_kernel(const float* q, const float* k, const float* v, const uint8_t* rel_k,
                                       int64_t n_rel, const float* key_mask, int64_t t, LocalAttentionAttrs a,
                                       float* out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= t * a.n_heads) return;
  const int64_t i = idx / a.n_heads, h = idx % a.n_heads, hd = a.head_dim, width = int64_t{a.n_heads} * hd;
  const int64_t context = int64_t{a.chunk} + a.max_past + a.right;
  const int64_t first = (i / a.chunk) * a.chunk - a.max_past;
  const float* qi = q + i * width + h * hd;
  float logits[kMaxContext];
  float best = -INFINITY;
  for (int64_t c = 0; c < context; ++c) {
    const int64_t j = first + c;
    float s = a.invalid;
    if (a.sees(i, j, t, key_mask)) {
      const float* kj = k + j * width + h * hd;
      float ac = 0.0f, bd = 0.0f;
      for (int64_t e = 0; e < hd; ++e) ac = __fadd_rn(ac, __fmul_rn(qi[e], kj[e]));
      const int64_t p = a.max_past + j - i;
      if (p >= 0 && p < n_rel)
        for (int64_t e = 0; e < hd; ++e) bd = __fadd_rn(bd, __fmul_rn(qi[e], weight_value<kType>(rel_k, p * width + h * hd + e)));
      s = __fmul_rn(tanhf(__fdiv_rn(__fadd_rn(ac, bd), a.softcap)), a.softcap);
    }
    logits[c] = s;
    best = fmaxf(best, s);
  }
  double sum = 0.0;
  for (int64_t c = 0; c < context; ++c) {
    logits[c] = expf(logits[c] - best);
    sum += logits[c];
  }
  float* o = out + i * width + h * hd;
  for (int64_t e = 0; e < hd; ++e) o[e] = 0.0f;
  for (int64_t c = 0; c < context; ++c) {
    const int64_t j = first + c;
    if (j < 0 || j >= t) continue;
    const float p = static_cast<float>(logits[c] / sum);
    if (p == 0.0f) continue;
    const float* vj = v + j * width + h * hd;
    for (int64_t e = 0; e < hd; ++e) o[e] = __fadd_rn(o[e], __fmul_rn(p, vj[e]));
  }
}

template <typename F>
void float_weight(DType t, const char* what, F&& launch) {
  switch (t) {
    case DType::F32: launch.template operator()<DType::F32>(); break;
    case DType::F16: launch.template operator()<DType::F16>(); break;
    case DType::BF16: launch.template operator()<DType::BF16>(); break;
    default: fail("cuda backend: ", what, " reads F32 / F16 / BF16 weights, not ", dtype_name(t));
  }
}

}  // namespace

void conv2d(const float* x, const DeviceWeight& w, const float* row_mask, int64_t cin, int64_t cout,
            const Conv2dAttrs& a, float* out, cudaStream_t stream) {
  const int64_t total = int64_t{a.out_rows()} * a.out_cols() * cout;
  if (total == 0) return;
  float_weight(w.dtype, "conv2d", [&]<DType kType>() {
    conv2d_kernel<kType><<<blocks_for(total, kThreads), kThreads, 0, stream>>>(
        x, static_cast<const uint8_t*>(w.data), row_mask, cin, cout, a, a.out_rows(), a.out_cols(), out);
  });
  check_launch("conv2d");
}

void depthwise_conv1d(const float* x, int64_t t, int64_t d, int64_t k, const DeviceWeight& w, float* out,
                      cudaStream_t stream) {
  if (t * d == 0) return;
  float_weight(w.dtype, "depthwise_conv1d", [&]<DType kType>() {
    depthwise_conv1d_kernel<kType><<<blocks_for(t * d, kThreads), kThreads, 0, stream>>>(
        x, t, d, k, static_cast<const uint8_t*>(w.data), out);
  });
  check_launch("depthwise_conv1d");
}

void local_attention(const float* q, const float* k, const float* v, const DeviceWeight& rel_k, const float* key_mask,
                     int64_t t, const LocalAttentionAttrs& a, float* out, cudaStream_t stream) {
  if (int64_t{a.chunk} + a.max_past + a.right > kMaxContext)
    fail("cuda backend: local attention context of ", a.chunk + a.max_past + a.right, " keys (at most ", kMaxContext, ")");
  if (t == 0) return;
  float_weight(rel_k.dtype, "local_attention", [&]<DType kType>() {
    local_attention_kernel<kType><<<blocks_for(t * a.n_heads, kThreads), kThreads, 0, stream>>>(
        q, k, v, static_cast<const uint8_t*>(rel_k.data), rel_k.rows, key_mask, t, a, out);
  });
  check_launch("local_attention");
}

}  // namespace gemrt::cuda
