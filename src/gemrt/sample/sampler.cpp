#include "gemrt/sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "gemrt/core/error.h"

namespace gemrt {

std::string SamplingParams::to_string() const {
  if (greedy()) return "greedy";
  std::string s = str("temperature ", temperature);
  if (top_k > 0) s += str(", top_k ", top_k);
  if (top_p < 1.0f) s += str(", top_p ", top_p);
  if (min_p > 0.0f) s += str(", min_p ", min_p);
  if (repetition_penalty != 1.0f) s += str(", repetition_penalty ", repetition_penalty);
  if (presence_penalty != 0.0f) s += str(", presence_penalty ", presence_penalty);
  if (frequency_penalty != 0.0f) s += str(", frequency_penalty ", frequency_penalty);
  return s + str(", seed ", seed);
}

Sampler::Sampler(const SamplingParams& params) : p_(params), rng_(params.seed) {
  if (p_.top_k < 0) fail("sampling: top_k must be >= 0, got ", p_.top_k);
  if (!(p_.top_p > 0.0f && p_.top_p <= 1.0f)) fail("sampling: top_p must be in (0, 1], got ", p_.top_p);
  if (!(p_.min_p >= 0.0f && p_.min_p <= 1.0f)) fail("sampling: min_p must be in [0, 1], got ", p_.min_p);
  if (!(p_.repetition_penalty > 0.0f)) fail("sampling: repetition_penalty must be positive, got ", p_.repetition_penalty);
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int Sampler::candidates_needed() const {
  if (penalised()) return 0;
  if (p_.greedy()) return 1;
  return p_.top_k > 0 && p_.top_k <= kMaxCandidates ? p_.top_k : 0;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  if (logits.empty()) fail("sampling: empty logits");
  const auto n = static_cast<int32_t>(logits.size());
  work_.assign(logits.begin(), logits.end());

  // Penalties over the recent history.
  if (penalised()) {
    const size_t start = p_.penalty_last_n > 0 && history.size() > static_cast<size_t>(p_.penalty_last_n)
                             ? history.size() - static_cast<size_t>(p_.penalty_last_n)
                             : 0;
    std::unordered_map<int32_t, int> counts;
    for (size_t i = start; i < history.size(); ++i)
      if (history[i] >= 0 && history[i] < n) ++counts[history[i]];
    for (const auto& [id, count] : counts) {
      float& l = work_[static_cast<size_t>(id)];
      if (p_.repetition_penalty != 1.0f) l = l > 0.0f ? l / p_.repetition_penalty : l * p_.repetition_penalty;
      l -= p_.presence_penalty + p_.frequency_penalty * static_cast<float>(count);
    }
  }

  if (p_.greedy()) {
    return static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
  }

  // Candidates sorted by logit (ties: lower id first), the first top_k of them if set.
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float la = work_[static_cast<size_t>(a)], lb = work_[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  size_t keep = static_cast<size_t>(n);
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < keep) {
    keep = static_cast<size_t>(p_.top_k);
    std::partial_sort(order_.begin(), order_.begin() + static_cast<long>(keep), order_.end(), by_logit);
  } else {
    std::sort(order_.begin(), order_.end(), by_logit);
  }
  cand_logits_.resize(keep);
  for (size_t i = 0; i < keep; ++i) cand_logits_[i] = work_[static_cast<size_t>(order_[i])];
  return draw(cand_logits_, std::span<const int32_t>(order_.data(), keep));
}

int32_t Sampler::sample_top(std::span<const float> top, std::span<const int32_t> history) {
  (void)history;  // no penalties here (candidates_needed() is 0 with them)
  const int need = candidates_needed();
  const size_t k = top.size() / 2;
  if (need == 0) fail("sampling: ", p_.to_string(), " needs every logit, not the largest few");
  if (top.size() % 2 != 0 || k < static_cast<size_t>(need))
    fail("sampling: expected at least ", need, " candidates (values then ids), got ", top.size(), " floats");
  cand_ids_.resize(k);
  for (size_t i = 0; i < k; ++i) cand_ids_[i] = static_cast<int32_t>(top[k + i]);
  if (p_.greedy()) return cand_ids_[0];
  const size_t keep = static_cast<size_t>(need);
  return draw(top.first(keep), std::span<const int32_t>(cand_ids_.data(), keep));
}

int32_t Sampler::draw(std::span<const float> logits, std::span<const int32_t> ids) {
  const size_t n = logits.size();
  // Temperature, then the softmax over the candidates (double for the normalisation).
  const float max_l = logits[0] / p_.temperature;
  std::vector<double> prob(n);
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    prob[i] = std::exp(static_cast<double>(logits[i] / p_.temperature - max_l));
    total += prob[i];
  }
  for (double& q : prob) q /= total;
  size_t keep = n;

  if (p_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p (at least one token)
    double cum = 0.0;
    size_t k = 0;
    while (k < keep) {
      cum += prob[k++];
      if (cum >= static_cast<double>(p_.top_p)) break;
    }
    keep = k;
  }
  if (p_.min_p > 0.0f) {  // p >= min_p * p_max, where p_max = prob[0]
    const double cut = static_cast<double>(p_.min_p) * prob[0];
    size_t k = 1;
    while (k < keep && prob[k] >= cut) ++k;
    keep = k;
  }

  double mass = 0.0;
  for (size_t i = 0; i < keep; ++i) mass += prob[i];
  double u = uniform() * mass;
  for (size_t i = 0; i < keep; ++i) {
    u -= prob[i];
    if (u < 0.0) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace gemrt
