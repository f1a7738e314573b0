// The full forward graph of a Gemma language model for one run of T tokens.
//
// Inputs:  "token_ids" int32 [T], "positions" int32 [T] (consecutive, continuing the KV cache).
// Output:  "logits" float32 [T, V] (All), [1, V] (Last), or none (None: the run only extends the
//          KV cache, e.g. a prefill chunk before the last). With top_k > 0, "top_k" instead:
//          the k largest logits of each of those rows and their token ids, [rows, 2k] (graph/ir.h
//          TopK), selected by the backend so that a sampler gets 2k floats instead of V.
// The same graph serves prefill (T = prompt or chunk length) and decode (T = 1) and is reused
// for every step of that phase.
//
// Media (Gemma 4 unified, spec §7.2-7.4), when MediaSlots asks for them, adds inputs:
//   "media_rows" float32 [rows, hidden]: embeddings of image / audio soft tokens (the embedders'
//       outputs), which replace the run's token embeddings where
//   "media_index" int32 [T] names one of them (-1: the token's own, scaled embedding);
//   "attention_blocks" int32 [T, 2]: every layer's bidirectional blocks (graph/ir.h AttentionAttrs).
#pragma once

#include "gemrt/graph/ir.h"
#include "gemrt/graph/kv_layout.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {

enum class LogitsRows { All, Last, None };

struct MediaSlots {
  int64_t rows = 0;     // media rows spliced into the run (0: no media inputs)
  bool blocks = false;  // the run has bidirectional attention blocks
  auto operator<=>(const MediaSlots&) const = default;
};

Graph build_forward_graph(const ModelSpec& spec, const GemmaWeights& w, int64_t tokens, LogitsRows rows,
                          int top_k = 0, MediaSlots media = {});

// KV slots for a sequence budget of `max_tokens`: sliding layers keep min(window, budget) rows,
// global layers the whole budget.
KvLayout kv_layout_for(const ModelSpec& spec, int max_tokens);

}  // namespace gemrt
