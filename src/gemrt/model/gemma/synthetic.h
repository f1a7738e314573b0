// A Gemma model of any shape with random weights made in memory (issue 5: `gemrt bench
// --synthetic CONFIG.json`, so a 27B-shaped model needs no 54 GB file). The shape comes from an
// HF config.json; the tensors are the ones an HF checkpoint of that config holds, under its names,
// bound by the same weight map (so every shape check of a real checkpoint applies).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gemrt/core/dtype.h"
#include "gemrt/io/tensor_store.h"
#include "gemrt/model/gemma/config.h"

namespace gemrt {

// What the matrices are stored as: one dtype for all, or a llama.cpp-style mix.
struct SyntheticWeightType {
  std::string name;                   // as given: "BF16", "Q4_K", "Q4_K_M", ...
  DType matrices = DType::BF16;       // projections and the embedding
  DType attn_v = DType::BF16;         // V projections
  DType ffn_down = DType::BF16;       // MLP down projections
  DType embed = DType::BF16;          // embedding (and untied LM head)
};

// "F32", "F16", "BF16", any GGML block format name ("Q8_0", "Q4_K", ...), or "Q4_K_M" (Q4_K
// matrices; V, MLP-down and the embedding in Q6_K, as llama.cpp's mix keeps them wider). Throws
// gemrt::Error listing the accepted names.
SyntheticWeightType parse_synthetic_weight_type(const std::string& name);

// Owns the random tensors. A matrix whose rows are not whole blocks of the requested K-quant is
// stored in the 32-value format llama.cpp's quantizer falls back to (Q4_K -> Q5_0, Q5_K -> Q5_1,
// Q6_K -> Q8_0, Q2_K / Q3_K -> Q4_0), or BF16 if even that does not fit; fallbacks() counts them.
class SyntheticStore final : public TensorStore {
 public:
  explicit SyntheticStore(std::string source) : source_(std::move(source)) {}
  const TensorView* find(std::string_view name) const override;
  std::vector<std::string> names() const override;
  const std::string& source() const override { return source_; }

  // Random values of standard deviation `stddev` (quant/random_weights.h).
  void add_random(const std::string& name, DType dtype, Shape shape, uint64_t seed, float stddev);
  // Float32 values all equal to `value` (norm gains).
  void add_constant(const std::string& name, Shape shape, float value);
  // "N tensor(s): rows of C are not whole Q4_K blocks, stored as Q5_0", one line per kind.
  std::vector<std::string> fallbacks() const;
  int64_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::unique_ptr<std::byte[]> data;
    TensorView view;
  };
  std::string source_;
  std::map<std::string, Entry, std::less<>> tensors_;
  std::map<std::string, int> fallbacks_;
  int64_t bytes_ = 0;
};

// Fills `store` with every tensor of an HF checkpoint of `spec` (tensor_list.h): matrices random
// (sd 0.02, a trained model's scale), norm gains such that (offset + w) = 1, scalars 1.
void fill_synthetic_gemma(const ModelSpec& spec, const SyntheticWeightType& type, uint64_t seed, SyntheticStore& store);

}  // namespace gemrt
