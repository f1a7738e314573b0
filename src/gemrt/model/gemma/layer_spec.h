// The per-layer spec: every difference between Gemma generations, as data (design brief).
// The decoder-block builder reads only this; "which Gemma is it?" is answered once, by the
// config parser (config.cpp), which fills these fields.
#pragma once

#include <string>
#include <vector>

#include "gemrt/graph/ir.h"
#include "gemrt/graph/rope.h"

namespace gemrt {

enum class LayerKind { Full, Sliding };
const char* layer_kind_name(LayerKind k);

struct RopeSpec {
  float theta = 10000.0f;
  RopeScaling scaling;  // None or Linear(factor)
  RopeFreqPrecision precision = RopeFreqPrecision::F32;
};

struct LayerSpec {
  LayerKind kind = LayerKind::Full;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  RopeSpec rope;
  int window = 0;              // sliding window w (0 = none): key visible iff q - k < w (spec §1.5)
  float attn_scale = 1.0f;     // head_dim^-1/2 (Gemma 1) or query_pre_attn_scalar^-1/2 (Gemma 2/3)
  float attn_softcap = 0.0f;   // 0 = none (Gemma 2: attn_logit_softcapping)
  float norm_eps = 1e-6f;
  float norm_offset = 1.0f;    // RMSNorm gain is (offset + w): 1 for Gemma 1-3 (spec §1.1)
  bool sandwich_norms = false; // Gemma 2/3: norms after attention and after the MLP too
  bool qk_norm = false;        // Gemma 3: RMSNorm of each q and k head before RoPE
  int intermediate_size = 0;
  Activation activation = Activation::GeluTanh;
  int kv_slot = 0;             // the KV cache slot this layer writes and reads
};

}  // namespace gemrt
