// Decode products of block-format weights against an int8 activation (fast numerics), the kind
// of product llama.cpp's CUDA backend runs for one token (its mmvq kernels with q8_1
// activations). The float32 matvec of fused_kernels.cuh decodes every weight value to a float
// and spends several instructions on each; here a thread multiplies four 8-bit codes by four
// 8-bit activation codes in one dp4a, and applies the block scales once per 16 or 32 values, so
// these products stay bound by the weight bytes they read.
#pragma once

#include <cuda_runtime.h>

#include "gemrt/backend/cuda/fused_kernels.cuh"

namespace gemrt::cuda {

// Whether quant_matvec runs `job`: weights in Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K
// (rows of whole blocks; Q4_K / Q5_K rows 16-byte aligned), and the rounded activation rows fit
// in a block's shared memory. Other jobs run on the float32 matvec.
// Weights of two formats in one job where they are a pair of Q4_K, Q5_K and Q6_K, as in
// llama.cpp's Q4_K_M / Q5_K_M files (one launch: both formats read the same codes).
bool quant_matvec_supports(const MatVecJob& job);

// Whether callers should give these products MatVecJob::rounded (the default);
// GEMRT_CUDA_QGLOBAL=0: no, each block of a product rounds the activation again (session 14's
// way, kept to measure the difference).
bool quant_round_once();

// Bytes of MatVecJob::rounded that t activation rows of k values take.
int64_t quant_rounded_bytes(int64_t t, int64_t k);

// Whether quant_matvec runs the one-weight `job` on a rounded activation (MatVecJob::rounded) and
// its last block can round the next product's
// activation (MatVecJob::next_codes): that product's NormAdd of this output (next_pre, with
// next_pre->in the job's out[0]) and norm, as its own rounding launch would.
bool quant_matvec_rounds_next(const MatVecJob& job);

// Whether quant_matvec runs the gated `job` and can write its output as int8 codes too
// (MatVecJob::codes_out): the next product then reads them (rounded_ready) and launches no rounding
// of its own. Its row groups are then whole 32-row blocks (at most 8 threads per row).
bool quant_matvec_hands_on_codes(const MatVecJob& job);

// matvec()'s products (same job, same outputs, the norm / PreAdd / gating as there), with each
// activation row rounded per 32 values (after the norm's gain, which is folded in first):
//   x_c ~ dx * q_c,  dx = amax / 127,  q_c = rint(x_c / dx) in [-127, 127],
// amax the largest |x_c| of the 32 (once per product into job.rounded when given, else by every
// block of the product into its shared memory: the same codes either way). Each output is
// sum_c w_c * (dx q_c), every w_c the value quant/dequantize.cpp gives (the same float32 block
// scale and offset products): integer sums of code products inside each 16- or 32-value block,
// float32 between them; the norm's 1 / rms multiplies the finished sum. The error against the
// float32 product is therefore at most sum_c |w_c| dx / 2 plus float32 rounding
// (tests/backend/cuda/cuda_ops_test.cpp).
void quant_matvec(const MatVecJob& job, cudaStream_t stream);

}  // namespace gemrt::cuda
