// Token sampling: the processor chain HF's generate() and llama.cpp apply, in this order:
//   penalties (repetition, presence, frequency) -> temperature -> top-k -> top-p -> min-p -> draw.
// temperature <= 0 (or top_k == 1) means greedy: the argmax of the penalised logits.
// Same seed, same logits, same history => same token, on every platform (the generator is
// std::mt19937_64, whose output sequence the C++ standard fixes; no std distributions are used).
// Candidates are ranked by their logits after the penalties and before the temperature (ties:
// the lower id first), so that a sampler given only the k largest logits (sample_top) chooses
// exactly as one given them all.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace gemrt {

struct SamplingParams {
  float temperature = 1.0f;         // <= 0: greedy
  int top_k = 0;                    // 0: off
  float top_p = 1.0f;               // 1: off; keep the smallest set whose probability reaches top_p
  float min_p = 0.0f;               // 0: off; keep tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // HF: seen logits l -> l / r if l > 0 else l * r
  float presence_penalty = 0.0f;    // OpenAI: l -= presence * [count > 0] + frequency * count
  float frequency_penalty = 0.0f;
  int penalty_last_n = 0;           // penalties look at the last n tokens of the history; 0 = all
  uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.0f || top_k == 1; }
  // "temperature 0.7, top_k 64, ..." for logs and summaries.
  std::string to_string() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token. `history` is the sequence so far (prompt and generated tokens), used by
  // the penalties. Throws on empty logits.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // k > 0 when this sampler's choice depends only on the k largest logits (greedy, or top_k <=
  // kMaxCandidates, without penalties): a backend can select them (Session::decode_top) instead of
  // returning every logit. 0 when it needs them all.
  static constexpr int kMaxCandidates = 128;
  int candidates_needed() const;
  // The choice sample() makes, from `top` = the k >= candidates_needed() largest logits, then their
  // ids as floats (graph/ir.h TopK). Throws when this sampler needs every logit.
  int32_t sample_top(std::span<const float> top, std::span<const int32_t> history);

  const SamplingParams& params() const { return p_; }

 private:
  double uniform();  // [0, 1) from 53 random bits
  // Temperature, softmax, top-p, min-p and the draw over candidates sorted by logit (descending).
  int32_t draw(std::span<const float> logits, std::span<const int32_t> ids);
  bool penalised() const {
    return p_.repetition_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  }

  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<float> work_;
  std::vector<int32_t> order_;
  std::vector<float> cand_logits_;
  std::vector<int32_t> cand_ids_;
};

}  // namespace gemrt
