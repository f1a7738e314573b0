// Load-time rewrites of media weights, done once and owned by the MediaWeights that use them
// (design brief: "load-time rewrites happen once and visibly, in the weight map"): copies of
// F32 / F16 / BF16 matrices in another layout, small weights read as float32, and the Gemma 4 audio
// tower's derived constants. Shared by the safetensors binding (media_weights.cpp) and the
// llama.cpp mmproj one (mmproj_weights.cpp), so both feed the towers the same values.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "gemrt/core/tensor.h"
#include "gemrt/model/gemma/media_weights.h"

namespace gemrt {

// A [rows, cols] F32 / F16 / BF16 matrix as [cols, rows], copied into `storage` (in its dtype).
// Throws naming the tensor for a packed dtype.
TensorView transposed_copy(const TensorView& w, std::shared_ptr<std::vector<std::byte>>& storage);

// Patch columns in llama.cpp's channel-major order back in transformers' row, column, channel
// order (spec §6.6, §7.3): `w` is [n, 3 p p] or [3 p p] (a LayerNorm vector) with column
// (c p + y) p + x holding what transformers keeps at column (y p + x) 3 + c; also the [n, 3, p, p]
// convolution kernel of llama.cpp's Gemma 4 vision tower, read as [n, 3 p p]. Returns the
// [n, 3 p p] (or [3 p p]) copy in its dtype, owned by `storage`; throws naming the tensor for a
// packed dtype or a shape that is not that.
TensorView chw_patch_columns_as_hwc(const TensorView& w, int64_t p, std::shared_ptr<std::vector<std::byte>>& storage);

// A [A, B, D] F32 / F16 / BF16 tensor as [B, A, D], copied into `storage` (llama.cpp's Gemma 4
// unified position table [2, positions, D] as transformers' [positions, 2, D]).
TensorView leading_axes_swapped(const TensorView& w, std::shared_ptr<std::vector<std::byte>>& storage);

// The values of a small weight as float32 (F32, F16, BF16 or a packed block format, as
// quant/dequantize.h reads them); throws naming it otherwise.
std::vector<float> small_weight_values(const TensorView& w);

// -w as float32, owned by `storage` (an AddVec weight: x + (-b) is x - b exactly).
TensorView negated_copy(const TensorView& w, std::shared_ptr<std::vector<float>>& storage);

// torch.nn.functional.softplus in float32 (beta 1, threshold 20: x itself above 20).
float torch_softplus(float x);

// Gemma 4's audio tower (Gemma4AudioWeights' comment): fills `w.constants` with the subsampling
// LayerNorms' zero biases (w.zero0, w.zero1) and, per layer l, the query scale q_scale [hidden] =
// head_dim^-0.5 / ln 2 * per_dim_softplus[l] (its [head_dim] values repeated over the heads) and
// the relative keys rel_k [P, hidden] = the sinusoidal table (Gemma4AudioRelPositionalEncoding)
// times relative_k[l]^T ([hidden, hidden]), all in float32. `names[l]` prefixes the derived views'
// names. w.layers must hold spec.layers entries.
void derive_gemma4_audio_constants(const Gemma4AudioSpec& spec, std::span<const std::vector<float>> per_dim_softplus,
                                   std::span<const TensorView> relative_k, std::span<const std::string> names,
                                   Gemma4AudioWeights& w);

}  // namespace gemrt
