#include "gemrt/model/gemma/synthetic.h"

#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/weight_names.h"
#include "gemrt/quant/random_weights.h"

namespace gemrt {
namespace {

constexpr float kMatrixStddev = 0.02f;  // HF's initializer_range for Gemma

// The dtypes a weight file can store.
constexpr DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                  DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                                  DType::Q4_K, DType::Q5_K, DType::Q6_K};

}  // namespace

SyntheticWeightType parse_synthetic_weight_type(const std::string& name) {
  SyntheticWeightType w;
  w.name = name;
  if (name == "Q4_K_M") {
    w.matrices = DType::Q4_K;
    w.attn_v = w.ffn_down = w.embed = DType::Q6_K;
    return w;
  }
  std::string known;
  for (DType t : kWeightTypes) {
    if (dtype_name(t) == name) {
      w.matrices = w.attn_v = w.ffn_down = w.embed = t;
      return w;
    }
    known += std::string(dtype_name(t)) + ", ";
  }
  fail("synthetic weights: unknown weight type '", name, "' (one of ", known, "Q4_K_M)");
}

const TensorView* SyntheticStore::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second.view;
}

std::vector<std::string> SyntheticStore::names() const {
  std::vector<std::string> n;
  for (const auto& [name, e] : tensors_) n.push_back(name);
  return n;
}

std::vector<std::string> SyntheticStore::fallbacks() const {
  std::vector<std::string> lines;
  for (const auto& [what, count] : fallbacks_) lines.push_back(str(count, " tensor(s): ", what));
  return lines;
}

void SyntheticStore::add_random(const std::string& name, DType dtype, Shape shape, uint64_t seed, float stddev) {
  const int64_t cols = shape[shape.rank() - 1];
  DType stored = dtype;
  if (cols % dtype_info(dtype).block_elems != 0) {
    // llama.cpp's quantizer: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K / Q3_K -> IQ4_NL (here
    // Q4_0, its size); BF16 when even 32-value blocks do not fit.
    switch (dtype) {
      case DType::Q4_K: stored = DType::Q5_0; break;
      case DType::Q5_K: stored = DType::Q5_1; break;
      case DType::Q6_K: stored = DType::Q8_0; break;
      default: stored = DType::Q4_0; break;
    }
    if (cols % dtype_info(stored).block_elems != 0) stored = DType::BF16;
    ++fallbacks_[str("rows of ", cols, " are not whole ", dtype_name(dtype), " blocks, stored as ", dtype_name(stored))];
  }
  const int64_t n = shape.numel(), bytes = dtype_bytes(stored, n);
  Entry e;
  e.data = std::make_unique_for_overwrite<std::byte[]>(static_cast<size_t>(bytes));
  quant::fill_random_weights(stored, e.data.get(), n, seed, stddev);
  e.view = TensorView{name, stored, std::move(shape), e.data.get()};
  bytes_ += bytes;
  tensors_.insert_or_assign(name, std::move(e));
}

void SyntheticStore::add_constant(const std::string& name, Shape shape, float value) {
  const int64_t n = shape.numel();
  Entry e;
  e.data = std::make_unique_for_overwrite<std::byte[]>(static_cast<size_t>(n * 4));
  for (int64_t i = 0; i < n; ++i) std::memcpy(e.data.get() + 4 * i, &value, 4);
  e.view = TensorView{name, DType::F32, std::move(shape), e.data.get()};
  bytes_ += n * 4;
  tensors_.insert_or_assign(name, std::move(e));
}

void fill_synthetic_gemma(const ModelSpec& spec, const SyntheticWeightType& type, uint64_t seed, SyntheticStore& store) {
  const int64_t hidden = spec.hidden_size;
  uint64_t tensor_seed = seed;
  const auto matrix = [&](const std::string& name, DType t, int64_t rows, int64_t cols) {
    store.add_random(name, t, Shape{rows, cols}, ++tensor_seed, kMatrixStddev);
  };
  matrix("model.embed_tokens.weight", type.embed, spec.vocab_size, hidden);
  const HfWeightNames names = HfWeightNames::detect(store);
  store.add_constant(names.final_norm(), Shape{hidden}, 1.0f - spec.norm_offset);
  if (!spec.tie_word_embeddings) matrix(names.lm_head(), type.embed, spec.vocab_size, hidden);
  for (int i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& l = spec.layers[static_cast<size_t>(i)];
    const auto name = [&](LayerTensor t) { return names.layer(i, t, l); };
    const float unit_gain = 1.0f - l.norm_offset;  // stored w with offset + w = 1
    const int64_t q_width = int64_t{l.n_heads} * l.head_dim, kv_width = int64_t{l.n_kv_heads} * l.head_dim;
    store.add_constant(name(LayerTensor::AttnNorm), Shape{hidden}, unit_gain);
    matrix(name(LayerTensor::Q), type.matrices, q_width, hidden);
    matrix(name(LayerTensor::K), type.matrices, kv_width, hidden);
    matrix(name(LayerTensor::V), type.attn_v, kv_width, hidden);
    matrix(name(LayerTensor::O), type.matrices, hidden, q_width);
    if (l.qk_norm) {
      store.add_constant(name(LayerTensor::QNorm), Shape{l.head_dim}, unit_gain);
      store.add_constant(name(LayerTensor::KNorm), Shape{l.head_dim}, unit_gain);
    }
    if (l.sandwich_norms) {
      store.add_constant(name(LayerTensor::AttnOutNorm), Shape{hidden}, unit_gain);
      store.add_constant(name(LayerTensor::FfnOutNorm), Shape{hidden}, unit_gain);
    }
    store.add_constant(name(LayerTensor::FfnNorm), Shape{hidden}, unit_gain);
    matrix(name(LayerTensor::Gate), type.matrices, l.intermediate_size, hidden);
    matrix(name(LayerTensor::Up), type.matrices, l.intermediate_size, hidden);
    matrix(name(LayerTensor::Down), type.ffn_down, hidden, l.intermediate_size);
  }
}

}  // namespace gemrt
