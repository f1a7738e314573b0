// Pieces shared by the decode product kernels (fused_kernels.cu's float32 matvec and
// quant_matvec.cu's int8-activation one): the block shape, the occupancy target, and the
// reductions that finish a row's dot product.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/device_util.cuh"
#include "gemrt/backend/cuda/env_switch.h"

namespace gemrt::cuda {

constexpr int kMatVecWarps = 8;  // 256 threads per block

// Resident blocks per SM the register budget is cut for (__launch_bounds__): memory-level
// parallelism comes from many resident warps, each with a few loads in flight (measured on the
// H200 against 1 block per SM with twice the loads per thread: 10-40 % more bandwidth on 4B-27B
// shapes; bench/RESULTS.md, session 3).
template <int kRows, bool kGated>
constexpr int matvec_min_blocks() {
  return kRows > 1 ? 2 : kGated ? 3 : 4;
}

// 1 / sqrt(mean(x^2) + eps) of a row of `dim` values, to every thread of the block. A thread
// issues its loads 8 at a time (one memory round trip for a 2048-value row on 256 threads), each
// thread summing its values in index order. kFresh: the row was written by other blocks of this
// launch, so it is read from L2 (past this SM's L1).
template <bool kFresh = false>
__device__ inline float row_inv_rms(const float* xr, int64_t dim, float eps) {
  constexpr int kBatch = 8;
  float ss = 0.0f;
  for (int64_t i0 = threadIdx.x; i0 < dim; i0 += int64_t{kBatch} * blockDim.x) {
    float v[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int64_t i = i0 + int64_t{j} * blockDim.x;
      v[j] = i < dim ? (kFresh ? __ldcg(xr + i) : xr[i]) : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) ss += v[j] * v[j];
  }
  ss = block_sum(ss);
  return 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
}

// Sum over the `width` lanes (a power of two, <= 32) of an aligned lane group.
__device__ inline float group_sum(float v, int width) {
  for (int o = width / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The row that slot `slot` of row group `group` takes (groups of rows_per_group rows over the
// jobs' weights laid end to end, or over the gate's rows when gated): which weight m, the row
// within it, and whether the slot has a row at all.
struct GroupRow {
  int64_t row;
  int m;
  bool active;
};
template <bool kGated>
__device__ inline GroupRow group_row(int64_t group, int rows_per_group, int slot, int64_t total_rows,
                                     const int64_t* rows) {
  GroupRow r{group * rows_per_group + slot, 0, false};
  r.active = r.row < total_rows;
  if (r.active && !kGated)
    while (r.row >= rows[r.m]) r.row -= rows[r.m++];
  return r;
}

// How many of its weight pieces (16-byte chunks, or a block format's units) each thread of a
// decode product asks L2 for before pdl_wait(), so that they load while the kernel before it
// finishes. GEMRT_CUDA_PREFETCH=N overrides the kernel's own `fallback` (an experiment switch:
// bench/RESULTS.md, session 14).
inline int prefetch_pieces(int fallback) {
  static const int64_t n = env_int("GEMRT_CUDA_PREFETCH", -1);
  return n >= 0 ? static_cast<int>(std::min<int64_t>(n, 1 << 20)) : fallback;
}

// Issues addr(row, m, piece) for the first `budget` pieces this thread will read, in the order it
// reads them: pieces sub, sub + tpr, ... of its row in each of its row groups in turn.
template <bool kGated, typename Addr>
__device__ inline void prefetch_first_pieces(int budget, int64_t pieces_per_row, int sub, int tpr, int slot,
                                             int rows_per_group, int64_t row_groups, int64_t total_rows,
                                             const int64_t* rows, Addr addr) {
  for (int64_t group = blockIdx.x; group < row_groups && budget > 0; group += gridDim.x) {
    const GroupRow g = group_row<kGated>(group, rows_per_group, slot, total_rows, rows);
    if (!g.active) return;
    for (int64_t c = sub; c < pieces_per_row && budget > 0; c += tpr, --budget) addr(g.row, g.m, c);
  }
}

// Shared memory of row_sums (one per kernel instance).
template <int kRows>
struct RowSumScratch {
  float part[2][kMatVecWarps][kRows];
};

// Blocks of a decode product's `kernel` (kMatVecWarps warps, `smem` bytes of dynamic shared memory,
// set here as its limit: the 48 KB default counts static shared memory too) resident on the device
// at once. Its grid is one wave of them: a second, partial wave would idle most SMs.
// GEMRT_CUDA_GRID_SHARE=P (an experiment switch) takes P % of them (at least one per SM): a
// product whose blocks fill every SM's registers leaves the next kernel (launched early, PDL) no
// room to start its weight prefetch until its own blocks leave.
template <typename Kernel>
int64_t resident_blocks(Kernel kernel, size_t smem, const char* what) {
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
        str("raising the shared memory of the ", what).c_str());
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kMatVecWarps * kWarp, smem),
        str("sizing the grid of the ", what).c_str());
  static const int64_t share = std::clamp<int64_t>(env_int("GEMRT_CUDA_GRID_SHARE", 100), 1, 100);
  return std::max<int64_t>(1, int64_t{std::max(per_sm, 1)} * share / 100) * sm_count();
}

// Completes the dot products of one row group: each of the `tpr` threads of a row (tpr a power
// of two, 1 .. 256, rows packed in lane groups) holds partial sums acc_a / acc_b for every
// activation row; afterwards the row's first thread (sub == 0) holds the totals. Every thread of
// the block calls it (it synchronises the block when a row spans several warps).
template <int kRows, bool kGated>
__device__ inline void row_sums(float* acc_a, float* acc_b, int tpr, int sub, RowSumScratch<kRows>& s) {
  const int width = tpr < kWarp ? tpr : kWarp;
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    acc_a[i] = group_sum(acc_a[i], width);
    if (kGated) acc_b[i] = group_sum(acc_b[i], width);
  }
  if (tpr <= kWarp) return;
  // The row's warps meet in shared memory; its first warp finishes the row.
  const int warp = static_cast<int>(threadIdx.x) / kWarp, wpr = tpr / kWarp;
  if (static_cast<int>(threadIdx.x) % kWarp == 0) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      s.part[0][warp][i] = acc_a[i];
      s.part[1][warp][i] = acc_b[i];
    }
  }
  __syncthreads();
  if (sub == 0) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      float a = 0.0f, b = 0.0f;
      for (int w = 0; w < wpr; ++w) {
        a += s.part[0][warp + w][i];
        b += s.part[1][warp + w][i];
      }
      acc_a[i] = a;
      acc_b[i] = b;
    }
  }
  __syncthreads();
}

// A finished row's outputs val[i] for every activation row i (from the totals row_sums leaves in
// the row's first thread): act(gate) * up when gated, else the product, each sum times inv[i]
// (the norm's 1 / rms, or 1).
template <int kRows, bool kGated>
__device__ inline void row_outputs(const float* acc_a, const float* acc_b, const float* inv, Activation act,
                                   float* val) {
#pragma unroll
  for (int i = 0; i < kRows; ++i)
    val[i] = kGated ? gated_value(acc_a[i] * inv[i], acc_b[i] * inv[i], act) : acc_a[i] * inv[i];
}

// Writes a row's outputs (row_outputs) to out[m] [kRows][rows[m]] (gated products: m = 0).
template <int kRows>
__device__ inline void store_row(float* const* out, const int64_t* rows, int64_t row, int m, const float* val) {
#pragma unroll
  for (int i = 0; i < kRows; ++i) out[m][i * rows[m] + row] = val[i];
}

// The grid of a decode product: one wave of resident blocks (`resident`), each walking row groups
// `groups` in rounds. GEMRT_CUDA_EVEN_GRID=1 (an experiment switch, bench/RESULTS.md session 14)
// instead takes the fewest blocks that keep the rounds as few, so every block walks the same
// number of groups (1280 groups on 396 resident blocks: 320 blocks of 4 rounds, where 396 blocks
// had 92 of them walk a 4th round while the rest idled).
inline int64_t matvec_grid(int64_t groups, int64_t resident) {
  static const bool even = env_is("GEMRT_CUDA_EVEN_GRID", "1");
  if (groups <= resident) return groups;
  if (!even) return resident;
  const int64_t rounds = (groups + resident - 1) / resident;
  return (groups + rounds - 1) / rounds;
}

// Rows are dealt to the resident blocks in groups of 256 / tpr, so a product whose group count
// is just above a multiple of the resident blocks leaves most of them idle for its last round
// (the 4B down projection at 128 threads per row: 1280 groups on 528 blocks, a third round with
// 224 busy). Among the threads-per-row choices from `min_tpr` up to those that still give each
// thread at least `min_units` of a row's `units`, this returns the one whose rounds are fullest,
// groups / (rounds * resident), when it is fuller by more than 2 % than `tpr` (which ties keep).
inline int balanced_threads_per_row(int tpr, int min_tpr, int64_t units, int64_t min_units, int64_t total_rows,
                                    int64_t resident) {
  const auto fill = [&](int t) {
    const int64_t per_group = kMatVecWarps * kWarp / t;
    const int64_t groups = (total_rows + per_group - 1) / per_group;
    if (groups <= resident) return static_cast<double>(groups) / static_cast<double>(resident);
    const int64_t rounds = (groups + resident - 1) / resident;
    return static_cast<double>(groups) / static_cast<double>(rounds * resident);
  };
  int best = tpr;
  double best_fill = fill(best);
  for (int t = min_tpr; t <= kMatVecWarps * kWarp; t *= 2) {
    if (t != min_tpr && units < min_units * t) break;
    const double f = fill(t);
    if (f > best_fill + 0.02) {
      best = t;
      best_fill = f;
    }
  }
  return best;
}

// The threads per row (min_tpr .. max_tpr <= 256) with which a product should finish first. The row groups
// (256 / tpr rows) are dealt to the resident blocks in rounds, and in each round a thread walks
// its share of a row's units in batches of `unroll` loads, each batch about one memory latency:
// so the time is about rounds x batches latencies. Ties go to fewer rounds (each ends in a block-wide
// reduction). E.g. the 4B down projection in Q4_K (2560 rows of 160 units, unroll 2, 528 resident
// blocks): 32 threads, one round of 3 batches, where filling the blocks' rounds took 128 threads
// and three rounds, each with a quarter of the threads idle in the row's second batch. Against
// balanced_threads_per_row, on an H100: Q4_K_M decode 1B 458 -> 486 tok/s, 4B 237 -> 248
// (quant_matvec; bench/RESULTS.md).
inline int quickest_threads_per_row(int min_tpr, int64_t units, int unroll, int64_t total_rows, int64_t resident,
                                    int max_tpr = kMatVecWarps * kWarp) {
  int best = min_tpr;
  int64_t best_cost = -1, best_rounds = 0;
  for (int t = min_tpr; t <= max_tpr; t *= 2) {
    const int64_t per_group = kMatVecWarps * kWarp / t;
    const int64_t groups = (total_rows + per_group - 1) / per_group;
    const int64_t rounds = (groups + resident - 1) / resident;
    const int64_t batches = (units + int64_t{t} * unroll - 1) / (int64_t{t} * unroll);
    const int64_t cost = rounds * batches;
    if (best_cost < 0 || cost < best_cost || (cost == best_cost && rounds < best_rounds)) {
      best = t;
      best_cost = cost;
      best_rounds = rounds;
    }
  }
  return best;
}

}  // namespace gemrt::cuda
