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
  // Gemma 4 "proportional" RoPE (spec §6.1): only the first int(fraction * head_dim / 2) pairs
  // rotate, with the frequencies of the full head (exponent 2i / head_dim); the rest pass
  // through (zero frequency). 1 = every pair.
  float rotary_fraction = 1.0f;
};

struct LayerSpec {
  LayerKind kind = LayerKind::Full;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  RopeSpec rope;
  int window = 0;              // sliding window w (0 = none): key visible iff q - k < w (spec §1.5)
  bool window_limits_blocks = false;  // the window bounds an image block's keys too (graph/ir.h AttentionAttrs; Gemma 3, 4)
  // Whether the layer's attention takes the prompt's bidirectional image blocks (spec §4.5, §6.5,
  // §7.2): every layer of Gemma 3 and Gemma 4 unified, only the sliding layers of Gemma 4.
  bool image_blocks = false;
  float attn_scale = 1.0f;     // head_dim^-1/2 (Gemma 1) or query_pre_attn_scalar^-1/2 (Gemma 2/3)
  float attn_softcap = 0.0f;   // 0 = none (Gemma 2: attn_logit_softcapping)
  float norm_eps = 1e-6f;
  float norm_offset = 1.0f;    // RMSNorm gain is (offset + w): 1 for Gemma 1-3 (spec §1.1)
  bool sandwich_norms = false; // Gemma 2/3: norms after attention and after the MLP too
  bool qk_norm = false;        // Gemma 3: RMSNorm of each q and k head before RoPE
  int intermediate_size = 0;
  Activation activation = Activation::GeluTanh;
  int kv_slot = 0;             // the KV cache slot this layer writes and reads
  // KV sharing (Gemma 3n / 4, spec §5.3, §6.3): the earlier layer whose keys and values this
  // layer attends over, reading that layer's slot (no k / v projections of its own); -1: its own.
  int kv_source = -1;
  // Whether this layer's attention appends the run's keys and values to its slot: false for a
  // shared slot's readers but the last (graph/ir.h AttentionAttrs::append).
  bool appends_kv = true;
  bool k_eq_v = false;         // Gemma 4 attention_k_eq_v full layers: V is the raw K projection
  bool v_norm = false;         // Gemma 3n / 4: weightless RMSNorm of each V head
  bool layer_scalar = false;   // Gemma 4: the residual stream is scaled by the layer's stored scalar
  int per_layer_input = 0;     // Gemma 3n / 4 per-layer embedding width (PLE); 0 = none
  // Gemma 4 MoE block beside the dense MLP (spec §6.3, §6.4): experts (0 = none), experts per
  // token, each expert's intermediate width.
  int n_experts = 0;
  int top_k_experts = 0;
  int expert_intermediate = 0;
  // Gemma 3n AltUp (spec §5.3 steps 5-14): the residual is `altup_inputs` streams (0: one plain
  // stream); the block runs on the predicted stream `altup_active`, then corrects every stream,
  // and its per-layer input, taken from the corrected active stream (times correct_output_scale
  // when altup_correct_scale), is added to streams 1 .. altup_inputs - 1.
  int altup_inputs = 0;
  int altup_active = 0;
  bool altup_correct_scale = false;
  int laurel_rank = 0;  // Gemma 3n LAuReL: a rank-r branch of the normed input beside the attention (0 = none)
  // Gemma 3n activation sparsity (spec §5.3 step 11): gate = max(0, gate - (mean + z std)) before
  // the activation, z = Phi^-1(target sparsity).
  bool gaussian_topk = false;
  float gaussian_topk_z = 0.0f;
};

// RoPE pairs a layer rotates: HF's int(fraction * head_dim // 2) (spec §6.1); all head_dim / 2
// unless the RoPE is proportional.
inline int rotated_pairs(const LayerSpec& s) {
  if (s.rope.rotary_fraction >= 1.0f) return s.head_dim / 2;
  return static_cast<int>(static_cast<double>(s.rope.rotary_fraction) * s.head_dim / 2.0);
}

}  // namespace gemrt
