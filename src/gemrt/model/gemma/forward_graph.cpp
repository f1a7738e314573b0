#include "gemrt/model/gemma/forward_graph.h"

#include <algorithm>
#include <cmath>

#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/model/gemma/decoder_block.h"

namespace gemrt {
namespace {

// The per-layer embeddings of every layer, [T, n_layers * P] (spec §6.3 step 2, HF's
// get_per_layer_inputs + project_per_layer_inputs):
//   ple = (rms_norm_P(embed @ W_proj^T * hidden^-1/2) + E_pl[ids] * sqrt(P)) * 2^-1/2
// (each scale a float32 constant, as HF's float32 module applies them).
ValueId per_layer_inputs(GraphBuilder& b, const ModelSpec& spec, const GemmaWeights& w, ValueId ids, ValueId embedded) {
  if (!w.ple) fail("forward graph: the model has per-layer inputs but no per-layer embedding weights");
  const int p = spec.per_layer_input;
  // Ids beyond the table (multimodal tokens) read row 0, as HF's multimodal models do (spec §5.3 step 1).
  const ValueId tok = b.embed_with_fallback(b.weight(w.ple->embed), ids,
                                            static_cast<float>(std::sqrt(static_cast<double>(p))), 0, "ple_embed");
  ValueId proj = b.matmul(embedded, b.weight(w.ple->model_proj), "ple_model_proj");
  proj = b.scale(proj, static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec.hidden_size))), "ple_proj_scale");
  proj = b.rms_norm(proj, b.weight(w.ple->proj_norm), p, spec.rms_norm_eps, spec.norm_offset, "ple_proj_norm");
  return b.scale(b.add(proj, tok, "ple_sum"), static_cast<float>(1.0 / std::sqrt(2.0)), "ple_scale");
}

// The floor of the AltUp magnitudes' mean square (transformers 5.17: sqrt(max(mean(x^2), 1e-5)),
// spec P14).
constexpr float kAltupMagnitudeEps = 1e-5f;

}  // namespace

Graph build_forward_graph(const ModelSpec& spec, const GemmaWeights& w, int64_t tokens, LogitsRows rows,
                          int top_k, MediaSlots media) {
  if (tokens <= 0) fail("forward graph: token count must be positive, got ", tokens);
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("token_ids", Shape{tokens});
  const ValueId positions = b.input("positions", Shape{tokens});
  ValueId x = b.embed(b.weight(w.embed), ids, spec.embed_scale, "embed");
  if (media.rows > 0) {
    // Media rows go in unscaled (spec §7.3 step 7, §7.4).
    const ValueId rows_in = b.input("media_rows", Shape{media.rows, spec.hidden_size}, DType::F32);
    x = b.replace_rows(x, rows_in, b.input("media_index", Shape{tokens}), "media_splice");
  }
  const ValueId blocks = media.blocks ? b.input("attention_blocks", Shape{tokens, 2}) : -1;
  const ValueId ple = spec.per_layer_input > 0 ? per_layer_inputs(b, spec, w, ids, x) : -1;
  // AltUp (spec §5.3 step 4): streams 1 .. n-1 are projections of the embedding at its magnitude.
  Streams streams{x};
  for (int k = 0; k + 1 < spec.altup_inputs; ++k)
    streams.push_back(b.rms_rescale(b.matmul(x, b.weight(w.altup_proj[static_cast<size_t>(k)]), str("altup_proj", k)), x,
                                    kAltupMagnitudeEps, str("altup_rescale", k)));
  std::vector<std::pair<ValueId, ValueId>> layer_kv(static_cast<size_t>(spec.n_layers()), {-1, -1});
  for (int i = 0; i < spec.n_layers(); ++i) {
    BlockContext ctx;
    ctx.positions = positions;
    ctx.attention_blocks = blocks;
    ctx.layer_kv = &layer_kv;
    if (ple >= 0)
      ctx.per_layer_input = b.slice_cols(ple, int64_t{i} * spec.per_layer_input, spec.per_layer_input, str("L", i, ".ple"));
    streams = build_decoder_block(b, i, spec.layers[static_cast<size_t>(i)], w.layers[static_cast<size_t>(i)], streams, ctx);
  }
  if (rows == LogitsRows::None) return g;
  // (A one-token run's only row is its last: no copy, and the last block's post-norm and residual
  // add can run inside the LM head's product, graph/fusion.h.)
  if (rows == LogitsRows::Last && tokens > 1)
    for (size_t k = 0; k < streams.size(); ++k) streams[k] = b.last_row(streams[k], str("last_token", k));
  x = streams[0];
  if (streams.size() > 1) {
    // AltUp (spec §5.3 step 15): streams 1 .. n-1 projected back at stream 0's magnitude, then
    // the mean of all n.
    for (size_t k = 1; k < streams.size(); ++k) {
      const ValueId u = b.matmul(streams[k], b.weight(w.altup_unembed[k - 1]), str("altup_unembed", k - 1));
      x = b.add(x, b.rms_rescale(u, streams[0], kAltupMagnitudeEps, str("altup_unembed_rescale", k - 1)),
                str("altup_sum", k));
    }
    x = b.scale(x, static_cast<float>(1.0 / static_cast<double>(streams.size())), "altup_mean");
  }
  x = b.rms_norm(x, b.weight(w.final_norm), spec.hidden_size, spec.rms_norm_eps, spec.norm_offset, "final_norm");
  ValueId logits = b.matmul(x, b.weight(w.lm_head), "lm_head");
  if (spec.final_softcap > 0.0f) logits = b.soft_cap(logits, spec.final_softcap, "final_softcap");
  if (top_k > 0) b.output("top_k", b.top_k(logits, top_k, "top_k"));
  else b.output("logits", logits);
  return g;
}

KvLayout kv_layout_for(const ModelSpec& spec, int max_tokens) {
  if (max_tokens <= 0) fail("KV cache budget must be positive, got ", max_tokens);
  KvLayout layout;
  for (const LayerSpec& l : spec.layers) {
    if (l.kv_source >= 0) continue;  // reads its source layer's slot (KV sharing)
    KvSlotLayout s;
    s.capacity = l.window > 0 ? std::min(l.window, max_tokens) : max_tokens;
    s.kv_heads = l.n_kv_heads;
    s.head_dim = l.head_dim;
    s.window = l.window;
    if (l.kv_slot != static_cast<int>(layout.slots.size())) fail("kv layout: layers must own consecutive slots");
    layout.slots.push_back(s);
  }
  return layout;
}

}  // namespace gemrt
