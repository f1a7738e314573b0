// Row-wise ops on the device: Gemma 3n's AltUp and activation sparsity (graph/ir.h Combine,
// RmsRescale, MulVec, GaussianTopK) and the media embedders' LayerNorm, AddVec and ReplaceRows,
// mirroring backend/cpu/row_ops.cpp: the same float32 operation order per element; row sums in
// float32 over the block (the CPU sums in double).
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/kernels.cuh"

namespace gemrt::cuda {
namespace {

constexpr int kRowThreads = 256;

// The mean and population variance of row xr of d values over the block, two passes in float32.
__device__ inline float2 row_moments(const float* xr, int64_t d) {
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += xr[j];
  const float mean = block_sum(s) / static_cast<float>(d);
  float v = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) v += (xr[j] - mean) * (xr[j] - mean);
  return make_float2(mean, block_sum(v) / static_cast<float>(d));
}

// Combine's operands, by value: up to kCombineMax inputs.
struct CombineArgs {
  const float* x[kCombineMax];
  int col[kCombineMax];
  float bias[kCombineMax];
  int n = 0;
  const float* coefs = nullptr;
  int64_t c = 0;
};

__global__ void combine_kernel(CombineArgs a, int64_t t, int64_t d, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= t * d) return;
  const int64_t r = i / d;
  float acc = 0.0f;
  for (int k = 0; k < a.n; ++k) {
    const float w = a.col[k] >= 0 ? __fadd_rn(a.bias[k], a.coefs[r * a.c + a.col[k]]) : a.bias[k];
    const float p = __fmul_rn(w, a.x[k][i]);
    acc = k == 0 ? p : __fadd_rn(acc, p);
  }
  out[i] = acc;
}

__global__ void rms_rescale_kernel(const float* x, const float* ref, int64_t d, float eps, float* out) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * d;
  const float* rr = ref + r * d;
  float sx = 0.0f, sr = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    sx += xr[j] * xr[j];
    sr += rr[j] * rr[j];
  }
  sx = block_sum(sx);
  sr = block_sum(sr);
  const float target = sqrtf(sr / static_cast<float>(d));
  const float ms = sx / static_cast<float>(d);
  const float magnitude = sqrtf(ms > eps ? ms : eps);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) out[r * d + j] = __fdiv_rn(__fmul_rn(xr[j], target), magnitude);
}

// x [t, d] combined with a weight vector w [d] broadcast over rows: x * w (kAdd false) or x + w.
template <DType kType, bool kAdd>
__global__ void vec_kernel(const float* x, int64_t t, int64_t d, const uint8_t* w, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= t * d) return;
  const float v = weight_value<kType>(w, i % d);
  out[i] = kAdd ? __fadd_rn(x[i], v) : __fmul_rn(x[i], v);
}

template <bool kAdd>
void vec_op(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream, const char* name) {
  if (t == 0) return;
  weight_kernel(w.dtype, name, [&]<DType kType>() {
    vec_kernel<kType, kAdd><<<blocks_for(t * w.cols, kRowThreads), kRowThreads, 0, stream>>>(
        x, t, w.cols, static_cast<const uint8_t*>(w.data), out);
  });
  check_launch(name);
}

template <DType kType>
__global__ void layer_norm_kernel(const float* x, int64_t d, const uint8_t* w, const uint8_t* b, float eps,
                                  float* out) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * d;
  const float2 m = row_moments(xr, d);
  const float mean = m.x, inv = 1.0f / sqrtf(m.y + eps);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
    out[r * d + j] = __fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(xr[j], mean), inv), weight_value<kType>(w, j)),
                               weight_value<kType>(b, j));
}

__global__ void replace_rows_kernel(const float* x, const float* rows, const int32_t* index, int64_t t, int64_t d,
                                    float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= t * d) return;
  const int64_t r = i / d;
  const int32_t k = index[r];
  out[i] = k >= 0 ? rows[static_cast<int64_t>(k) * d + i % d] : x[i];
}

__global__ void act_kernel(const float* x, int64_t n, Activation act, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = gated_value(x[i], 1.0f, act);  // act(x) * 1: exact
}

__global__ void avg_pool_kernel(const float* x, int rows, int cols, int kernel, int64_t d, float* out) {
  const int n_rows = rows / kernel, n_cols = cols / kernel;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t{n_rows} * n_cols * d) return;
  const int64_t c = i % d, cell = i / d;
  const int gy = static_cast<int>(cell / n_cols), gx = static_cast<int>(cell % n_cols);
  float s = 0.0f;
  for (int dy = 0; dy < kernel; ++dy)
    for (int dx = 0; dx < kernel; ++dx)
      s = __fadd_rn(s, x[(static_cast<int64_t>(gy * kernel + dy) * cols + gx * kernel + dx) * d + c]);
  out[i] = __fdiv_rn(s, static_cast<float>(kernel * kernel));
}

// torch.clamp: NaN stays NaN (both comparisons false), as the CPU's.
__global__ void clamp_kernel(const float* x, int64_t n, float lo, float hi, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  out[i] = v < lo ? lo : (v > hi ? hi : v);
}

__global__ void gaussian_top_k_kernel(const float* x, int64_t d, float z, float* out) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * d;
  const float2 m = row_moments(xr, d);
  const float std_dev = sqrtf(m.y);
  const float cutoff = __fadd_rn(m.x, __fmul_rn(std_dev, z));
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float y = __fsub_rn(xr[j], cutoff);
    out[r * d + j] = y > 0.0f ? y : 0.0f;
  }
}

}  // namespace

void combine(const float* const* xs, const float* coefs, int64_t t, int64_t d, int64_t c, const CombineAttrs& a,
             float* out, cudaStream_t stream) {
  const auto n = static_cast<int>(a.cols.size());
  if (n > kCombineMax) fail("cuda backend: combine of ", n, " inputs (at most ", kCombineMax, ")");
  if (t * d == 0) return;
  CombineArgs args;
  args.n = n;
  args.coefs = coefs;
  args.c = c;
  for (int k = 0; k < n; ++k) {
    args.x[k] = xs[k];
    args.col[k] = a.cols[static_cast<size_t>(k)];
    args.bias[k] = a.bias[static_cast<size_t>(k)];
  }
  combine_kernel<<<blocks_for(t * d, kRowThreads), kRowThreads, 0, stream>>>(args, t, d, out);
  check_launch("combine");
}

void rms_rescale(const float* x, const float* ref, int64_t t, int64_t d, float eps, float* out, cudaStream_t stream) {
  if (t == 0) return;
  rms_rescale_kernel<<<static_cast<unsigned>(t), kRowThreads, 0, stream>>>(x, ref, d, eps, out);
  check_launch("rms_rescale");
}

void mul_vec(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream) {
  vec_op<false>(x, t, w, out, stream, "mul_vec");
}

void add_vec(const float* x, int64_t t, const DeviceWeight& w, float* out, cudaStream_t stream) {
  vec_op<true>(x, t, w, out, stream, "add_vec");
}

void layer_norm(const float* x, int64_t t, const DeviceWeight& w, const DeviceWeight& b, float eps, float* out,
                cudaStream_t stream) {
  if (t == 0) return;
  if (b.dtype != w.dtype)
    fail("cuda backend: layer norm weight and bias differ in dtype (", dtype_name(w.dtype), ", ", dtype_name(b.dtype), ")");
  weight_kernel(w.dtype, "layer_norm", [&]<DType kType>() {
    layer_norm_kernel<kType><<<static_cast<unsigned>(t), kRowThreads, 0, stream>>>(
        x, w.cols, static_cast<const uint8_t*>(w.data), static_cast<const uint8_t*>(b.data), eps, out);
  });
  check_launch("layer_norm");
}

void replace_rows(const float* x, const float* rows, const int32_t* index, int64_t t, int64_t d, float* out,
                  cudaStream_t stream) {
  if (t * d == 0) return;
  replace_rows_kernel<<<blocks_for(t * d, kRowThreads), kRowThreads, 0, stream>>>(x, rows, index, t, d, out);
  check_launch("replace_rows");
}

void act(const float* x, int64_t n, Activation act, float* out, cudaStream_t stream) {
  if (n == 0) return;
  act_kernel<<<blocks_for(n, kRowThreads), kRowThreads, 0, stream>>>(x, n, act, out);
  check_launch("act");
}

void avg_pool(const float* x, int rows, int cols, int kernel, int64_t d, float* out, cudaStream_t stream) {
  const int64_t total = int64_t{rows / kernel} * (cols / kernel) * d;
  if (total == 0) return;
  avg_pool_kernel<<<blocks_for(total, kRowThreads), kRowThreads, 0, stream>>>(x, rows, cols, kernel, d, out);
  check_launch("avg_pool");
}

void clamp(const float* x, int64_t n, float lo, float hi, float* out, cudaStream_t stream) {
  if (n == 0) return;
  clamp_kernel<<<blocks_for(n, kRowThreads), kRowThreads, 0, stream>>>(x, n, lo, hi, out);
  check_launch("clamp");
}

void gaussian_top_k(const float* x, int64_t t, int64_t d, float z, float* out, cudaStream_t stream) {
  if (t == 0) return;
  gaussian_top_k_kernel<<<static_cast<unsigned>(t), kRowThreads, 0, stream>>>(x, d, z, out);
  check_launch("gaussian_top_k");
}

}  // namespace gemrt::cuda
