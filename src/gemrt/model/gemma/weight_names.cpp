#include "gemrt/model/gemma/weight_names.h"

#include "gemrt/core/error.h"

namespace gemrt {

HfWeightNames HfWeightNames::detect(const TensorStore& store) {
  for (const char* prefix : {"model.", "model.language_model.", "language_model.model."}) {
    if (!store.find(std::string(prefix) + "embed_tokens.weight")) continue;
    std::string head = "lm_head.weight";
    if (!store.find(head) && store.find("language_model.lm_head.weight")) head = "language_model.lm_head.weight";
    return HfWeightNames(prefix, head);
  }
  fail(store.source(), ": missing tensor 'model.embed_tokens.weight' (also looked for the multimodal prefixes ",
       "'model.language_model.' and 'language_model.model.')");
}

std::string HfWeightNames::layer(int i, LayerTensor t, const LayerSpec& spec) const {
  const char* suffix = "";
  switch (t) {
    case LayerTensor::AttnNorm: suffix = "input_layernorm"; break;
    case LayerTensor::Q: suffix = "self_attn.q_proj"; break;
    case LayerTensor::K: suffix = "self_attn.k_proj"; break;
    case LayerTensor::V: suffix = "self_attn.v_proj"; break;
    case LayerTensor::O: suffix = "self_attn.o_proj"; break;
    case LayerTensor::QNorm: suffix = "self_attn.q_norm"; break;
    case LayerTensor::KNorm: suffix = "self_attn.k_norm"; break;
    case LayerTensor::AttnOutNorm: suffix = "post_attention_layernorm"; break;
    // Gemma 1 has two norms and calls its pre-MLP norm post_attention_layernorm; the sandwich
    // layout (Gemma 2/3) uses that name for the attention-output norm (spec §2.3, §3.4).
    case LayerTensor::FfnNorm: suffix = spec.sandwich_norms ? "pre_feedforward_layernorm" : "post_attention_layernorm"; break;
    case LayerTensor::FfnOutNorm: suffix = "post_feedforward_layernorm"; break;
    case LayerTensor::Gate: suffix = "mlp.gate_proj"; break;
    case LayerTensor::Up: suffix = "mlp.up_proj"; break;
    case LayerTensor::Down: suffix = "mlp.down_proj"; break;
    case LayerTensor::LayerScalar: return str(prefix_, "layers.", i, ".layer_scalar");  // a buffer: no ".weight"
    // parameters named without ".weight" (spec §6.8)
    case LayerTensor::RouterScale: return str(prefix_, "layers.", i, ".router.scale");
    case LayerTensor::ExpertScale: return str(prefix_, "layers.", i, ".router.per_expert_scale");
    case LayerTensor::ExpertsGateUp: return str(prefix_, "layers.", i, ".experts.gate_up_proj");
    case LayerTensor::ExpertsDown: return str(prefix_, "layers.", i, ".experts.down_proj");
    case LayerTensor::RouterProj: suffix = "router.proj"; break;
    case LayerTensor::FfnNorm2: suffix = "pre_feedforward_layernorm_2"; break;
    case LayerTensor::FfnOutNorm1: suffix = "post_feedforward_layernorm_1"; break;
    case LayerTensor::FfnOutNorm2: suffix = "post_feedforward_layernorm_2"; break;
    case LayerTensor::PleGate: suffix = "per_layer_input_gate"; break;
    case LayerTensor::PleProj: suffix = "per_layer_projection"; break;
    case LayerTensor::PleNorm: suffix = "post_per_layer_input_norm"; break;
    case LayerTensor::AltupCorrectScale: return str(prefix_, "layers.", i, ".altup.correct_output_scale");
    case LayerTensor::AltupCorrectCoefs: suffix = "altup.correction_coefs"; break;
    case LayerTensor::AltupPredictCoefs: suffix = "altup.prediction_coefs"; break;
    case LayerTensor::AltupRouter: suffix = "altup.modality_router"; break;
    case LayerTensor::AltupRouterNorm: suffix = "altup.router_norm"; break;
    case LayerTensor::LaurelLeft: suffix = "laurel.linear_left"; break;
    case LayerTensor::LaurelRight: suffix = "laurel.linear_right"; break;
    case LayerTensor::LaurelNorm: suffix = "laurel.post_laurel_norm"; break;
  }
  return str(prefix_, "layers.", i, ".", suffix, ".weight");
}

std::string HfWeightNames::ple(PleTensor t) const {
  switch (t) {
    case PleTensor::Embed: return prefix_ + "embed_tokens_per_layer.weight";
    case PleTensor::ModelProj: return prefix_ + "per_layer_model_projection.weight";
    case PleTensor::ProjNorm: return prefix_ + "per_layer_projection_norm.weight";
  }
  return "";
}

std::string HfWeightNames::altup(AltupTensor t, int k) const {
  return str(prefix_, t == AltupTensor::Proj ? "altup_projections." : "altup_unembed_projections.", k, ".weight");
}

std::string GgufWeightNames::altup(AltupTensor t, int) const {
  return t == AltupTensor::Proj ? "altup_proj.weight" : "altup_unembd_proj.weight";
}

std::string GgufWeightNames::layer(int i, LayerTensor t, const LayerSpec&) const {
  const char* suffix = "";
  switch (t) {
    case LayerTensor::AttnNorm: suffix = "attn_norm"; break;
    case LayerTensor::Q: suffix = "attn_q"; break;
    case LayerTensor::K: suffix = "attn_k"; break;
    case LayerTensor::V: suffix = "attn_v"; break;
    case LayerTensor::O: suffix = "attn_output"; break;
    case LayerTensor::QNorm: suffix = "attn_q_norm"; break;
    case LayerTensor::KNorm: suffix = "attn_k_norm"; break;
    case LayerTensor::AttnOutNorm: suffix = "post_attention_norm"; break;
    case LayerTensor::FfnNorm: suffix = "ffn_norm"; break;  // the pre-MLP norm in every family (spec §8.3)
    case LayerTensor::FfnOutNorm: suffix = "post_ffw_norm"; break;
    case LayerTensor::Gate: suffix = "ffn_gate"; break;
    case LayerTensor::Up: suffix = "ffn_up"; break;
    case LayerTensor::Down: suffix = "ffn_down"; break;
    case LayerTensor::LayerScalar: suffix = "layer_output_scale"; break;
    case LayerTensor::PleGate: suffix = "inp_gate"; break;
    case LayerTensor::PleProj: suffix = "proj"; break;
    case LayerTensor::PleNorm: suffix = "post_norm"; break;
    // spec §8.3; llama.cpp re-homes the per-expert scale onto the down experts
    case LayerTensor::RouterProj: suffix = "ffn_gate_inp"; break;
    case LayerTensor::RouterScale: return str("blk.", i, ".ffn_gate_inp.scale");
    case LayerTensor::ExpertScale: return str("blk.", i, ".ffn_down_exps.scale");
    case LayerTensor::ExpertsGateUp: suffix = "ffn_gate_up_exps"; break;
    case LayerTensor::ExpertsDown: suffix = "ffn_down_exps"; break;
    case LayerTensor::FfnNorm2: suffix = "pre_ffw_norm_2"; break;
    case LayerTensor::FfnOutNorm1: suffix = "post_ffw_norm_1"; break;
    case LayerTensor::FfnOutNorm2: suffix = "post_ffw_norm_2"; break;
    case LayerTensor::AltupCorrectScale: suffix = "altup_correct_scale"; break;
    case LayerTensor::AltupCorrectCoefs: suffix = "altup_correct_coef"; break;
    case LayerTensor::AltupPredictCoefs: suffix = "altup_predict_coef"; break;
    case LayerTensor::AltupRouter: suffix = "altup_router"; break;
    case LayerTensor::AltupRouterNorm: suffix = "altup_router_norm"; break;
    case LayerTensor::LaurelLeft: suffix = "laurel_l"; break;
    case LayerTensor::LaurelRight: suffix = "laurel_r"; break;
    case LayerTensor::LaurelNorm: suffix = "laurel_post_norm"; break;
  }
  return str("blk.", i, ".", suffix, ".weight");
}

std::string GgufWeightNames::ple(PleTensor t) const {
  switch (t) {
    case PleTensor::Embed: return "per_layer_token_embd.weight";
    case PleTensor::ModelProj: return "per_layer_model_proj.weight";
    case PleTensor::ProjNorm: return "per_layer_proj_norm.weight";
  }
  return "";
}

}  // namespace gemrt
