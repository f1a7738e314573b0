// The one decoder-block builder for every Gemma generation. It reads only the LayerSpec.
#pragma once

#include <utility>
#include <vector>

#include "gemrt/graph/builder.h"
#include "gemrt/model/gemma/layer_spec.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {

// The residual stream(s) between blocks: one value [T, hidden], or Gemma 3n's AltUp streams.
using Streams = std::vector<ValueId>;

// What a block reads besides its input and weights.
struct BlockContext {
  ValueId positions = -1;      // int32 [T]
  ValueId attention_blocks = -1;  // int32 [T, 2] bidirectional image blocks (graph/ir.h AttentionAttrs), or -1
  ValueId per_layer_input = -1;  // [T, P]: this layer's slice of the per-layer embeddings (spec.per_layer_input > 0)
  // The (k, v) each earlier layer attended with, by layer (-1 where none yet): KV-shared layers
  // attend with their source's. The builder records its own layer's pair here.
  std::vector<std::pair<ValueId, ValueId>>* layer_kv = nullptr;
};

// Streams in -> streams out, each [T, hidden] (one stream unless spec.altup_inputs > 0):
//   x = in[0], or with AltUp pred = predict(in), x = pred[active]  (spec §5.3 steps 5-7)
//   h = x + N_attn_out(Attn(N_attn(x)))          (N_attn_out only with sandwich norms)
//   h = (h + N_attn(x) + N_laurel(R(L(N_attn(x))))) / sqrt(2)   (LAuReL layers, spec §5.3)
//   y = h + N_ffn_out(MLP(N_ffn(h)))             (N_ffn_out only with sandwich norms; MLP gate
//                                                 sparsified on gaussian_topk layers)
//   AltUp: out = correct(pred, y), out[1..] += PLE(out[active] * correct_scale)   (spec §5.3)
//   else:  y = y + PLE(y)                        (per-layer input layers, spec §6.3)
//          y = y * layer_scalar                  (layer_scalar layers)
// PLE(v) = N_ple(P_proj(act(P_gate(v)) * ple)). Attn: q/k/v projections (none for k / v on
// KV-shared layers; v = raw k on k=v layers), optional per-head q/k RMSNorm and weightless v norm,
// RoPE, attention over the layer's KV slot (window, scale, soft-cap from the spec), o projection.
Streams build_decoder_block(GraphBuilder& b, int layer, const LayerSpec& spec, const LayerWeights& w, const Streams& in,
                            const BlockContext& ctx);

// The inverse frequencies of a layer's RoPE (rope_inv_freq, with the pairs beyond a proportional
// RoPE's rotated fraction set to zero: spec §6.1).
std::vector<float> layer_rope_inv_freq(const LayerSpec& spec);

}  // namespace gemrt
