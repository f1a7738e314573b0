#include "gemrt/model/gemma/weights.h"

#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/core/half.h"

namespace gemrt {

TensorView bind_weight(const TensorStore& store, const std::string& name, const Shape& expected) {
  const TensorView& t = store.get(name);
  if (t.shape != expected)
    fail(store.source(), ": tensor '", name, "' has shape ", t.shape.to_string(), " but config.json implies ",
         expected.to_string());
  if (!dtype_info(t.dtype).is_float)
    fail(store.source(), ": tensor '", name, "' has dtype ", dtype_name(t.dtype), ", expected F32, F16 or BF16");
  return t;
}

float scalar_weight_value(const TensorView& t) {
  if (t.shape.numel() != 1) fail("tensor '", t.name, "' has shape ", t.shape.to_string(), " (a scalar has one element)");
  switch (t.dtype) {
    case DType::F32: {
      float v;
      std::memcpy(&v, t.data, sizeof v);
      return v;
    }
    case DType::F16:
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, t.data, sizeof h);
      return t.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    default: fail("tensor '", t.name, "' has dtype ", dtype_name(t.dtype), " (a scalar must be F32, F16 or BF16)");
  }
}

namespace {

class Binder {
 public:
  explicit Binder(const TensorStore& store) : store_(store) {}

  TensorView bind(const std::string& name, const Shape& expected) const { return bind_weight(store_, name, expected); }

  // Matrix k of the n = `count` square [dim, dim] matrices an AltUp name holds: its own tensor
  // (HF) or slice k of a stacked [count, dim, dim] one (GGUF).
  TensorView bind_stacked(const std::string& name, int k, int count, int64_t dim, bool stacked) const {
    if (!stacked) return bind(name, Shape{dim, dim});
    TensorView t = bind(name, Shape{count, dim, dim});
    const int64_t bytes = dtype_bytes(t.dtype, dim * dim);
    t.data += bytes * k;
    t.shape = Shape{dim, dim};
    t.name = str(name, "[", k, "]");
    return t;
  }

 private:
  const TensorStore& store_;
};

}  // namespace

GemmaWeights bind_gemma_weights(const ModelSpec& spec, const TensorStore& store, const WeightNames& names) {
  const Binder b(store);
  const int64_t hidden = spec.hidden_size;
  GemmaWeights w;
  w.embed = b.bind(names.embed(), Shape{spec.vocab_size, hidden});
  w.final_norm = b.bind(names.final_norm(), Shape{hidden});
  w.lm_head = spec.tie_word_embeddings ? w.embed : b.bind(names.lm_head(), Shape{spec.vocab_size, hidden});
  const int64_t ple = spec.per_layer_input, all_ple = ple * spec.n_layers();
  if (ple > 0) {
    w.ple = PleWeights{b.bind(names.ple(PleTensor::Embed), Shape{spec.ple_vocab, all_ple}),
                       b.bind(names.ple(PleTensor::ModelProj), Shape{all_ple, hidden}),
                       b.bind(names.ple(PleTensor::ProjNorm), Shape{ple})};
  }

  for (int k = 0; k + 1 < spec.altup_inputs; ++k) {
    for (AltupTensor t : {AltupTensor::Proj, AltupTensor::Unembed})
      (t == AltupTensor::Proj ? w.altup_proj : w.altup_unembed)
          .push_back(b.bind_stacked(names.altup(t, k), k, spec.altup_inputs - 1, hidden, names.altup_stacked()));
  }

  for (int i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& l = spec.layers[static_cast<size_t>(i)];
    const int64_t q_w = int64_t{l.n_heads} * l.head_dim;
    const int64_t kv_w = int64_t{l.n_kv_heads} * l.head_dim;
    const auto bind = [&](LayerTensor t, const Shape& shape) { return b.bind(names.layer(i, t, l), shape); };
    LayerWeights lw;
    lw.attn_norm = bind(LayerTensor::AttnNorm, Shape{hidden});
    lw.q = bind(LayerTensor::Q, Shape{q_w, hidden});
    if (l.kv_source < 0) {
      lw.k = bind(LayerTensor::K, Shape{kv_w, hidden});
      if (!l.k_eq_v) lw.v = bind(LayerTensor::V, Shape{kv_w, hidden});
    }
    lw.o = bind(LayerTensor::O, Shape{hidden, q_w});
    if (l.qk_norm) {
      lw.q_norm = bind(LayerTensor::QNorm, Shape{l.head_dim});
      if (l.kv_source < 0) lw.k_norm = bind(LayerTensor::KNorm, Shape{l.head_dim});
    }
    lw.ffn_norm = bind(LayerTensor::FfnNorm, Shape{hidden});
    if (l.sandwich_norms) {
      lw.attn_out_norm = bind(LayerTensor::AttnOutNorm, Shape{hidden});
      lw.ffn_out_norm = bind(LayerTensor::FfnOutNorm, Shape{hidden});
    }
    lw.gate = bind(LayerTensor::Gate, Shape{l.intermediate_size, hidden});
    lw.up = bind(LayerTensor::Up, Shape{l.intermediate_size, hidden});
    lw.down = bind(LayerTensor::Down, Shape{hidden, l.intermediate_size});
    if (l.layer_scalar) lw.layer_scalar = bind(LayerTensor::LayerScalar, Shape{1});
    if (l.n_experts > 0) {
      const int64_t e = l.n_experts, x = l.expert_intermediate;
      lw.moe = LayerWeights::Moe{bind(LayerTensor::RouterProj, Shape{e, hidden}),
                                 bind(LayerTensor::RouterScale, Shape{hidden}),
                                 bind(LayerTensor::ExpertScale, Shape{e}),
                                 bind(LayerTensor::ExpertsGateUp, Shape{e, 2 * x, hidden}),
                                 bind(LayerTensor::ExpertsDown, Shape{e, hidden, x}),
                                 bind(LayerTensor::FfnNorm2, Shape{hidden}),
                                 bind(LayerTensor::FfnOutNorm1, Shape{hidden}),
                                 bind(LayerTensor::FfnOutNorm2, Shape{hidden})};
    }
    if (l.per_layer_input > 0) {
      lw.ple_gate = bind(LayerTensor::PleGate, Shape{l.per_layer_input, hidden});
      lw.ple_proj = bind(LayerTensor::PleProj, Shape{hidden, l.per_layer_input});
      lw.ple_norm = bind(LayerTensor::PleNorm, Shape{hidden});
    }
    if (l.altup_inputs > 0) {
      const int64_t n = l.altup_inputs;
      lw.altup = LayerWeights::AltUp{bind(LayerTensor::AltupCorrectScale, Shape{hidden}),
                                     bind(LayerTensor::AltupCorrectCoefs, Shape{n, n}),
                                     bind(LayerTensor::AltupPredictCoefs, Shape{n * n, n}),
                                     bind(LayerTensor::AltupRouter, Shape{n, hidden}),
                                     bind(LayerTensor::AltupRouterNorm, Shape{hidden})};
    }
    if (l.laurel_rank > 0) {
      lw.laurel = LayerWeights::Laurel{bind(LayerTensor::LaurelLeft, Shape{l.laurel_rank, hidden}),
                                       bind(LayerTensor::LaurelRight, Shape{hidden, l.laurel_rank}),
                                       bind(LayerTensor::LaurelNorm, Shape{hidden})};
    }
    w.layers.push_back(std::move(lw));
  }
  return w;
}

GemmaWeights bind_gemma_weights(const ModelSpec& spec, const TensorStore& store) {
  return bind_gemma_weights(spec, store, HfWeightNames::detect(store));
}

}  // namespace gemrt
