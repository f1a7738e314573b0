// The one decoder-block builder for every Gemma generation. It reads only the LayerSpec.
#pragma once

#include "gemrt/graph/builder.h"
#include "gemrt/model/gemma/layer_spec.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {

// x [T, hidden] -> [T, hidden]. positions int32 [T].
//   h = x + N_attn_out(Attn(N_attn(x)))          (N_attn_out only with sandwich norms)
//   y = h + N_ffn_out(MLP(N_ffn(h)))             (N_ffn_out only with sandwich norms)
// Attn: q/k/v projections, optional per-head q/k RMSNorm, RoPE, attention over the layer's KV
// slot (window, scale, soft-cap from the spec), o projection.
ValueId build_decoder_block(GraphBuilder& b, int layer, const LayerSpec& spec, const LayerWeights& w, ValueId x,
                            ValueId positions);

}  // namespace gemrt
