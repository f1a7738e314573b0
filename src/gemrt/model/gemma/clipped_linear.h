// Gemma4ClippableLinear in a graph (spec §6.6), shared by the Gemma 4 vision and audio towers.
#pragma once

#include <string>

#include "gemrt/graph/builder.h"
#include "gemrt/model/gemma/media_weights.h"

namespace gemrt {

// clamp(clamp(x, in) @ W^T, out), x [T, in] -> [T, out]: a clamp only where a bound is finite (an
// open clamp is the identity, NaN included), so a checkpoint without clip buffers is a plain product.
ValueId clipped_linear(GraphBuilder& b, ValueId x, const ClippedLinearWeights& w, const std::string& label);

}  // namespace gemrt
