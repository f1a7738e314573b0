#include "gemrt/model/gemma/synthetic.h"

#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/tensor_list.h"
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
  uint64_t tensor_seed = seed;
  for (const TensorEntry& t : gemma_tensor_list(spec, HfWeightNames::text_only())) {
    switch (t.role) {
      case TensorRole::Embed: store.add_random(t.name, type.embed, t.shape, ++tensor_seed, kMatrixStddev); break;
      case TensorRole::Matrix: store.add_random(t.name, type.matrices, t.shape, ++tensor_seed, kMatrixStddev); break;
      case TensorRole::AttnV: store.add_random(t.name, type.attn_v, t.shape, ++tensor_seed, kMatrixStddev); break;
      case TensorRole::FfnDown: store.add_random(t.name, type.ffn_down, t.shape, ++tensor_seed, kMatrixStddev); break;
      case TensorRole::Gain: store.add_constant(t.name, t.shape, 1.0f - t.norm_offset); break;  // offset + w = 1
      case TensorRole::One: store.add_constant(t.name, t.shape, 1.0f); break;
    }
  }
}

}  // namespace gemrt
