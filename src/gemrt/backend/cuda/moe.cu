// graph/ir.h MoE on the device (Gemma 4 26B-A4B, spec §6.4), in the CPU backend's operation
// order (backend/cpu/moe.cpp): one block routes each token, then warps compute the chosen
// experts' gated rows and the weighted sum of their down products, experts in ascending order.
// Correctness first: weights are read value by value in any stored dtype.
#include <cstdint>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/kernels.cuh"

namespace gemrt::cuda {
namespace {

constexpr int kMaxTopK = 32;

// One thread per token: softmax over the experts (float32, summed in order), the top_k largest
// (ties: the lower expert first), renormalised over the chosen and times their scales; stored in
// ascending expert order.
template <DType kScale>
__global__ void moe_route_kernel(const float* logits, int64_t t, int n_experts, int top_k, const uint8_t* scale,
                                 int* idx, float* weight) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= t) return;
  const float* l = logits + r * n_experts;
  float m = l[0];
  for (int e = 1; e < n_experts; ++e) m = fmaxf(m, l[e]);
  float sum = 0.0f;
  for (int e = 0; e < n_experts; ++e) sum += expf(l[e] - m);
  int chosen[kMaxTopK];
  float p[kMaxTopK];
  float kept = 0.0f;
  for (int j = 0; j < top_k; ++j) {
    int best = -1;
    float best_p = 0.0f;
    for (int e = 0; e < n_experts; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || chosen[i] == e;
      const float pe = expf(l[e] - m) / sum;
      if (!taken && (best < 0 || pe > best_p)) {
        best = e;
        best_p = pe;
      }
    }
    chosen[j] = best;
    p[j] = best_p;
    kept += best_p;
  }
  for (int a = 1; a < top_k; ++a)  // ascending expert order (insertion sort; top_k is small)
    for (int b = a; b > 0 && chosen[b - 1] > chosen[b]; --b) {
      const int ci = chosen[b];
      chosen[b] = chosen[b - 1];
      chosen[b - 1] = ci;
      const float pi = p[b];
      p[b] = p[b - 1];
      p[b - 1] = pi;
    }
  for (int j = 0; j < top_k; ++j) {
    idx[r * top_k + j] = chosen[j];
    weight[r * top_k + j] = p[j] / kept * weight_value<kScale>(scale, chosen[j]);
  }
}

// Byte offset of value n of a weight row (whole blocks: n is a multiple of the block size).
template <DType kType>
__device__ inline int64_t value_bytes(int64_t n) {
  return n / BlockShape<kType>::kElems * BlockShape<kType>::kBytes;
}

// act[(r * top_k + s) * inter + j] = act(gate_j . x_r) * (up_j . x_r) for the chosen expert s of
// token r; a warp per row j.
template <DType kType>
__global__ void moe_gate_up_kernel(const float* x, const uint8_t* w, int64_t expert_bytes, int64_t inter,
                                   int64_t hidden, int top_k, const int* idx, Activation act_kind, float* act) {
  const int64_t rs = blockIdx.x;  // token * top_k + slot
  const int64_t j = static_cast<int64_t>(blockIdx.y) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  if (j >= inter) return;
  const int64_t r = rs / top_k;
  const uint8_t* ex = w + idx[rs] * expert_bytes;
  const uint8_t* gate_row = ex + value_bytes<kType>(j * hidden);
  const uint8_t* up_row = ex + value_bytes<kType>((inter + j) * hidden);
  float g = 0.0f, u = 0.0f;
  for (int64_t c = lane; c < hidden; c += kWarp) {
    const float xv = x[r * hidden + c];
    g = fmaf(xv, weight_value<kType>(gate_row, c), g);
    u = fmaf(xv, weight_value<kType>(up_row, c), u);
  }
  g = warp_sum(g);
  u = warp_sum(u);
  if (lane == 0) act[rs * inter + j] = gated_value(g, u, act_kind);
}

// out[r, h] = sum over the chosen experts s (ascending) of weight_s * (down_h . act_s); a warp per h.
template <DType kType>
__global__ void moe_down_kernel(const float* act, const uint8_t* w, int64_t expert_bytes, int64_t inter, int64_t hidden,
                                int top_k, const int* idx, const float* weight, float* out) {
  const int64_t r = blockIdx.x;
  const int64_t h = static_cast<int64_t>(blockIdx.y) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  if (h >= hidden) return;
  float acc = 0.0f;
  for (int s = 0; s < top_k; ++s) {
    const int64_t rs = r * top_k + s;
    const uint8_t* row = w + idx[rs] * expert_bytes + value_bytes<kType>(h * inter);
    float d = 0.0f;
    for (int64_t c = lane; c < inter; c += kWarp) d = fmaf(act[rs * inter + c], weight_value<kType>(row, c), d);
    d = warp_sum(d);
    acc += d * weight[rs];
  }
  if (lane == 0) out[r * hidden + h] = acc;
}

}  // namespace

int64_t moe_scratch_floats(int64_t t, int top_k, int64_t inter) { return t * top_k * (2 + inter); }

void moe(const float* x, const float* logits, int64_t t, const DeviceWeight& gate_up, const DeviceWeight& down,
         const DeviceWeight& expert_scale, int64_t n_experts, int64_t inter, int64_t hidden, int top_k, Activation act,
         float* scratch, float* out, cudaStream_t stream) {
  if (t == 0) return;
  if (top_k > kMaxTopK) fail("cuda backend: MoE top-k of ", top_k, " (at most ", kMaxTopK, ")");
  auto* idx = reinterpret_cast<int*>(scratch);
  float* weight = scratch + t * top_k;
  float* acts = weight + t * top_k;
  weight_kernel(expert_scale.dtype, "moe expert scale", [&]<DType kType>() {
    moe_route_kernel<kType><<<blocks_for(t, 64), 64, 0, stream>>>(logits, t, static_cast<int>(n_experts), top_k,
                                                                  static_cast<const uint8_t*>(expert_scale.data), idx, weight);
  });
  constexpr int kRowsPerBlock = 8;
  weight_kernel(gate_up.dtype, "moe gate/up", [&]<DType kType>() {
    const dim3 grid(static_cast<unsigned>(t * top_k), blocks_for(inter, kRowsPerBlock));
    moe_gate_up_kernel<kType><<<grid, kRowsPerBlock * kWarp, 0, stream>>>(
        x, static_cast<const uint8_t*>(gate_up.data), gate_up.row_bytes, inter, hidden, top_k, idx, act, acts);
  });
  weight_kernel(down.dtype, "moe down", [&]<DType kType>() {
    const dim3 grid(static_cast<unsigned>(t), blocks_for(hidden, kRowsPerBlock));
    moe_down_kernel<kType><<<grid, kRowsPerBlock * kWarp, 0, stream>>>(
        acts, static_cast<const uint8_t*>(down.data), down.row_bytes, inter, hidden, top_k, idx, weight, out);
  });
  check_launch("moe");
}

}  // namespace gemrt::cuda
