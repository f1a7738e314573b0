// The weight map: binds the tensors a Gemma graph needs to views on the checkpoint, checking
// every shape against the config. Views point into the memory-mapped file (stored dtype).
#pragma once

#include <optional>
#include <vector>

#include "gemrt/core/tensor.h"
#include "gemrt/io/tensor_store.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/model/gemma/weight_names.h"

namespace gemrt {

struct LayerWeights {
  TensorView attn_norm;                   // [hidden] input_layernorm
  TensorView q, o;                        // [H*D, hidden], [hidden, H*D]
  std::optional<TensorView> k, v;         // [Hkv*D, hidden]: absent on KV-shared layers; v also on k=v layers
  std::optional<TensorView> q_norm, k_norm;  // [D] (qk_norm layers)
  std::optional<TensorView> attn_out_norm;   // [hidden] (sandwich layers: post_attention_layernorm)
  TensorView ffn_norm;                    // [hidden] pre-MLP norm
  std::optional<TensorView> ffn_out_norm; // [hidden] (sandwich layers: post_feedforward_layernorm)
  TensorView gate, up, down;              // [I, hidden] x2, [hidden, I]
  std::optional<TensorView> layer_scalar; // [1] (Gemma 4)
  std::optional<TensorView> ple_gate, ple_proj, ple_norm;  // [P, hidden], [hidden, P], [hidden] (PLE layers)
  struct Moe {
    TensorView router_proj;   // [E, hidden]
    TensorView router_scale;  // [hidden]
    TensorView expert_scale;  // [E]
    TensorView gate_up;       // [E, 2I, hidden]
    TensorView down;          // [E, hidden, I]
    TensorView ffn_norm_2, ffn_out_norm_1, ffn_out_norm_2;  // [hidden]
  };
  std::optional<Moe> moe;     // MoE layers
  struct AltUp {
    TensorView correct_scale;  // [hidden] correct_output_scale
    TensorView correct_coefs;  // [n, n]
    TensorView predict_coefs;  // [n*n, n]
    TensorView router;         // [n, hidden] modality_router
    TensorView router_norm;    // [hidden]
  };
  std::optional<AltUp> altup;  // Gemma 3n
  struct Laurel {
    TensorView left;   // [r, hidden]
    TensorView right;  // [hidden, r]
    TensorView norm;   // [hidden]
  };
  std::optional<Laurel> laurel;  // Gemma 3n
};

// Per-layer embeddings (spec §6.3 step 2).
struct PleWeights {
  TensorView embed;       // [ple_vocab, n_layers * P]
  TensorView model_proj;  // [n_layers * P, hidden]
  TensorView proj_norm;   // [P]
};

struct GemmaWeights {
  TensorView embed;       // [V, hidden]
  TensorView final_norm;  // [hidden]
  TensorView lm_head;     // [V, hidden] (the embedding when tied)
  std::optional<PleWeights> ple;  // when spec.per_layer_input > 0
  // Gemma 3n AltUp: projections of streams 1 .. n-1 from the embedding, and back before the head
  // (spec.altup_inputs - 1 each, [hidden, hidden]).
  std::vector<TensorView> altup_proj, altup_unembed;
  std::vector<LayerWeights> layers;
};

// The tensor `name` of `store`, checked to have `shape` and a float (or packed block) dtype;
// throws gemrt::Error naming the tensor otherwise.
TensorView bind_weight(const TensorStore& store, const std::string& name, const Shape& shape);

// The value of a one-element tensor (layer_scalar, a clip bound) of dtype F32, F16 or BF16, read
// from the mapped checkpoint; throws naming the tensor otherwise.
float scalar_weight_value(const TensorView& t);

// Throws gemrt::Error naming the tensor when one is missing, has the wrong shape, or a dtype
// that is not a float type. The LM head is the embedding when spec.tie_word_embeddings.
GemmaWeights bind_gemma_weights(const ModelSpec& spec, const TensorStore& store, const WeightNames& names);
// HF checkpoints: detects the naming prefix first.
GemmaWeights bind_gemma_weights(const ModelSpec& spec, const TensorStore& store);

}  // namespace gemrt
