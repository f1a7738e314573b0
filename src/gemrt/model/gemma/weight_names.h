// Tensor names of Gemma 1/2/3/4 checkpoints: Hugging Face (spec §2.4, §3.5, §4.6, §6.8, P27) and
// GGUF (spec §8.3). The weight map asks for tensors by role; each naming scheme answers with a name.
#pragma once

#include <memory>
#include <string>

#include "gemrt/io/tensor_store.h"
#include "gemrt/model/gemma/layer_spec.h"

namespace gemrt {

enum class LayerTensor {
  AttnNorm,     // pre-attention norm
  Q, K, V, O,   // attention projections
  QNorm, KNorm, // per-head q/k norms (qk_norm layers)
  AttnOutNorm,  // norm on the attention output (sandwich layers)
  FfnNorm,      // pre-MLP norm
  FfnOutNorm,   // norm on the MLP output (sandwich layers)
  Gate, Up, Down,
  LayerScalar,  // Gemma 4: the scalar the residual stream is multiplied by
  PleGate, PleProj, PleNorm,  // per-layer input gate [P, hidden], projection [hidden, P], post-norm
  // Gemma 4 MoE block: router projection [E, hidden], router scale [hidden], per-expert scale [E],
  // stacked experts [E, 2I, hidden] / [E, hidden, I], and its three norms.
  RouterProj, RouterScale, ExpertScale, ExpertsGateUp, ExpertsDown, FfnNorm2, FfnOutNorm1, FfnOutNorm2,
  // Gemma 3n AltUp: correct_output_scale [hidden], correction_coefs [n, n], prediction_coefs
  // [n*n, n], modality_router [n, hidden], router_norm [hidden]; LAuReL left [r, hidden], right
  // [hidden, r], post norm [hidden].
  AltupCorrectScale, AltupCorrectCoefs, AltupPredictCoefs, AltupRouter, AltupRouterNorm,
  LaurelLeft, LaurelRight, LaurelNorm,
};

// Model-level AltUp projections (Gemma 3n): the n - 1 stream projections and their unembeddings,
// each [hidden, hidden].
enum class AltupTensor { Proj, Unembed };

// Model-level tensors of the per-layer embeddings (Gemma 3n / 4 PLE).
enum class PleTensor { Embed, ModelProj, ProjNorm };

class WeightNames {
 public:
  virtual ~WeightNames() = default;
  virtual std::string embed() const = 0;
  virtual std::string final_norm() const = 0;
  // The untied LM head's name (the store may not hold it when the head is tied).
  virtual std::string lm_head() const = 0;
  virtual std::string layer(int i, LayerTensor t, const LayerSpec& spec) const = 0;
  virtual std::string ple(PleTensor t) const = 0;
  // Projection k (0-based) of the AltUp streams 1 .. n-1; when altup_stacked(), every k names one
  // [n - 1, hidden, hidden] tensor holding them in order.
  virtual std::string altup(AltupTensor t, int k) const = 0;
  virtual bool altup_stacked() const { return false; }
};

class HfWeightNames final : public WeightNames {
 public:
  // Finds the language-model prefix the checkpoint uses: "model." (text-only exports),
  // "model.language_model." (current HF multimodal) or "language_model.model." (Gemma 3
  // multimodal as converted). Throws if no embedding table is found under any of them.
  static HfWeightNames detect(const TensorStore& store);
  // The names of a text-only export ("model." prefix, "lm_head.weight").
  static HfWeightNames text_only() { return HfWeightNames("model.", "lm_head.weight"); }

  std::string embed() const override { return prefix_ + "embed_tokens.weight"; }
  std::string final_norm() const override { return prefix_ + "norm.weight"; }
  std::string lm_head() const override { return lm_head_; }
  std::string layer(int i, LayerTensor t, const LayerSpec& spec) const override;
  std::string ple(PleTensor t) const override;
  std::string altup(AltupTensor t, int k) const override;
  const std::string& prefix() const { return prefix_; }

 private:
  HfWeightNames(std::string prefix, std::string lm_head) : prefix_(std::move(prefix)), lm_head_(std::move(lm_head)) {}
  std::string prefix_, lm_head_;
};

class GgufWeightNames final : public WeightNames {
 public:
  std::string embed() const override { return "token_embd.weight"; }
  std::string final_norm() const override { return "output_norm.weight"; }
  std::string lm_head() const override { return "output.weight"; }
  std::string layer(int i, LayerTensor t, const LayerSpec& spec) const override;
  std::string ple(PleTensor t) const override;
  std::string altup(AltupTensor t, int k) const override;
  bool altup_stacked() const override { return true; }  // llama.cpp stacks them (spec §8.3)
};

}  // namespace gemrt
