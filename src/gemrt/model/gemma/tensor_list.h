// Every tensor a checkpoint of a ModelSpec holds, by name, shape and role: one list for the
// synthetic weights (gemrt bench --synthetic) and the config-only `inspect` (parameter counts
// without weights). The weight map (weights.h) binds the same names and shapes.
#pragma once

#include <string>
#include <vector>

#include "gemrt/core/tensor.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/model/gemma/weight_names.h"

namespace gemrt {

enum class TensorRole {
  Embed,    // the token embedding (and an untied LM head)
  Matrix,   // a projection (per-layer embedding tables and stacked experts too)
  AttnV,    // a V projection
  FfnDown,  // an MLP down projection
  Gain,     // a norm gain: stored so that offset + w = 1 in a synthetic model
  One,      // a scale that is 1 in a synthetic model (layer_scalar, router and expert scales)
};

struct TensorEntry {
  std::string name;
  Shape shape;
  TensorRole role;
  float norm_offset = 0.0f;  // Gain: the offset its norm adds
};

std::vector<TensorEntry> gemma_tensor_list(const ModelSpec& spec, const WeightNames& names);

// Sum of the elements of every tensor of the list (the LM head once when tied).
int64_t gemma_checkpoint_elements(const ModelSpec& spec);

// K and V bytes one more token of context adds, per layer kind, at `bytes_per_value` (2 for an
// f16 / bf16 cache): every owning layer (KV-shared layers store nothing) while the context is
// inside its window; beyond it, sliding layers add nothing.
struct KvBytesPerToken {
  int64_t full = 0, sliding = 0;
};
KvBytesPerToken kv_bytes_per_token(const ModelSpec& spec, int bytes_per_value);

}  // namespace gemrt
