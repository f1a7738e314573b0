#include "gemrt/model/gemma/tensor_list.h"

namespace gemrt {

std::vector<TensorEntry> gemma_tensor_list(const ModelSpec& spec, const WeightNames& names) {
  const int64_t hidden = spec.hidden_size;
  std::vector<TensorEntry> list;
  const auto add = [&](std::string name, Shape shape, TensorRole role, float offset = 0.0f) {
    list.push_back(TensorEntry{std::move(name), std::move(shape), role, offset});
  };
  add(names.embed(), Shape{spec.vocab_size, hidden}, TensorRole::Embed);
  add(names.final_norm(), Shape{hidden}, TensorRole::Gain, spec.norm_offset);
  if (!spec.tie_word_embeddings) add(names.lm_head(), Shape{spec.vocab_size, hidden}, TensorRole::Embed);
  if (spec.per_layer_input > 0) {
    const int64_t p = spec.per_layer_input, all = p * spec.n_layers();
    add(names.ple(PleTensor::Embed), Shape{spec.ple_vocab, all}, TensorRole::Matrix);
    add(names.ple(PleTensor::ModelProj), Shape{all, hidden}, TensorRole::Matrix);
    add(names.ple(PleTensor::ProjNorm), Shape{p}, TensorRole::Gain, spec.norm_offset);
  }
  if (spec.altup_inputs > 1) {
    const int64_t n = spec.altup_inputs - 1;
    for (AltupTensor t : {AltupTensor::Proj, AltupTensor::Unembed}) {
      if (names.altup_stacked()) add(names.altup(t, 0), Shape{n, hidden, hidden}, TensorRole::Matrix);
      else
        for (int k = 0; k < n; ++k) add(names.altup(t, k), Shape{hidden, hidden}, TensorRole::Matrix);
    }
  }
  for (int i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& l = spec.layers[static_cast<size_t>(i)];
    const auto name = [&](LayerTensor t) { return names.layer(i, t, l); };
    const auto gain = [&](LayerTensor t, int64_t dim) { add(name(t), Shape{dim}, TensorRole::Gain, l.norm_offset); };
    const int64_t q_width = int64_t{l.n_heads} * l.head_dim, kv_width = int64_t{l.n_kv_heads} * l.head_dim;
    gain(LayerTensor::AttnNorm, hidden);
    add(name(LayerTensor::Q), Shape{q_width, hidden}, TensorRole::Matrix);
    if (l.kv_source < 0) {
      add(name(LayerTensor::K), Shape{kv_width, hidden}, TensorRole::Matrix);
      if (!l.k_eq_v) add(name(LayerTensor::V), Shape{kv_width, hidden}, TensorRole::AttnV);
    }
    add(name(LayerTensor::O), Shape{hidden, q_width}, TensorRole::Matrix);
    if (l.qk_norm) {
      gain(LayerTensor::QNorm, l.head_dim);
      if (l.kv_source < 0) gain(LayerTensor::KNorm, l.head_dim);
    }
    if (l.sandwich_norms) {
      gain(LayerTensor::AttnOutNorm, hidden);
      gain(LayerTensor::FfnOutNorm, hidden);
    }
    gain(LayerTensor::FfnNorm, hidden);
    add(name(LayerTensor::Gate), Shape{l.intermediate_size, hidden}, TensorRole::Matrix);
    add(name(LayerTensor::Up), Shape{l.intermediate_size, hidden}, TensorRole::Matrix);
    add(name(LayerTensor::Down), Shape{hidden, l.intermediate_size}, TensorRole::FfnDown);
    if (l.layer_scalar) add(name(LayerTensor::LayerScalar), Shape{1}, TensorRole::One);
    if (l.per_layer_input > 0) {
      add(name(LayerTensor::PleGate), Shape{l.per_layer_input, hidden}, TensorRole::Matrix);
      add(name(LayerTensor::PleProj), Shape{hidden, l.per_layer_input}, TensorRole::Matrix);
      gain(LayerTensor::PleNorm, hidden);
    }
    if (l.n_experts > 0) {
      const int64_t e = l.n_experts, x = l.expert_intermediate;
      add(name(LayerTensor::RouterProj), Shape{e, hidden}, TensorRole::Matrix);
      add(name(LayerTensor::RouterScale), Shape{hidden}, TensorRole::One);
      add(name(LayerTensor::ExpertScale), Shape{e}, TensorRole::One);
      add(name(LayerTensor::ExpertsGateUp), Shape{e, 2 * x, hidden}, TensorRole::Matrix);
      add(name(LayerTensor::ExpertsDown), Shape{e, hidden, x}, TensorRole::FfnDown);
      gain(LayerTensor::FfnNorm2, hidden);
      gain(LayerTensor::FfnOutNorm1, hidden);
      gain(LayerTensor::FfnOutNorm2, hidden);
    }
    if (l.altup_inputs > 0) {
      const int64_t n = l.altup_inputs;
      add(name(LayerTensor::AltupCorrectScale), Shape{hidden}, TensorRole::One);
      add(name(LayerTensor::AltupCorrectCoefs), Shape{n, n}, TensorRole::Matrix);
      add(name(LayerTensor::AltupPredictCoefs), Shape{n * n, n}, TensorRole::Matrix);
      add(name(LayerTensor::AltupRouter), Shape{n, hidden}, TensorRole::Matrix);
      gain(LayerTensor::AltupRouterNorm, hidden);
    }
    if (l.laurel_rank > 0) {
      add(name(LayerTensor::LaurelLeft), Shape{l.laurel_rank, hidden}, TensorRole::Matrix);
      add(name(LayerTensor::LaurelRight), Shape{hidden, l.laurel_rank}, TensorRole::Matrix);
      gain(LayerTensor::LaurelNorm, hidden);
    }
  }
  return list;
}

int64_t gemma_checkpoint_elements(const ModelSpec& spec) {
  int64_t n = 0;
  for (const TensorEntry& t : gemma_tensor_list(spec, HfWeightNames::text_only())) n += t.shape.numel();
  return n;
}

KvBytesPerToken kv_bytes_per_token(const ModelSpec& spec, int bytes_per_value) {
  KvBytesPerToken b;
  for (const LayerSpec& l : spec.layers) {
    if (l.kv_source >= 0) continue;
    const int64_t bytes = 2 * int64_t{l.n_kv_heads} * l.head_dim * bytes_per_value;
    (l.kind == LayerKind::Sliding ? b.sliding : b.full) += bytes;
  }
  return b;
}

}  // namespace gemrt
