#include "gemrt/model/gemma/forward_graph.h"

#include <algorithm>

#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/model/gemma/decoder_block.h"

namespace gemrt {

Graph build_forward_graph(const ModelSpec& spec, const GemmaWeights& w, int64_t tokens, LogitsRows rows,
                          int top_k) {
  if (tokens <= 0) fail("forward graph: token count must be positive, got ", tokens);
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("token_ids", Shape{tokens});
  const ValueId positions = b.input("positions", Shape{tokens});
  ValueId x = b.embed(b.weight(w.embed), ids, spec.embed_scale, "embed");
  for (int i = 0; i < spec.n_layers(); ++i)
    x = build_decoder_block(b, i, spec.layers[static_cast<size_t>(i)], w.layers[static_cast<size_t>(i)], x, positions);
  if (rows == LogitsRows::None) return g;
  // (A one-token run's only row is its last: no copy, and the last block's post-norm and residual
  // add can run inside the LM head's product, graph/fusion.h.)
  if (rows == LogitsRows::Last && tokens > 1) x = b.last_row(x, "last_token");
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
