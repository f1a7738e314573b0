// The sampler chain: greedy, temperature, top-k / top-p / min-p filtering, penalties, seeding.
#include "gemrt/sample/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <map>
#include <random>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

std::map<int32_t, int> histogram(const SamplingParams& p, const std::vector<float>& logits, int draws,
                                 const std::vector<int32_t>& history = {}) {
  Sampler s(p);
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) ++h[s.sample(logits, history)];
  return h;
}

TEST(Sampler, GreedyPicksTheArgmax) {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f}, {}), 1);
  p.temperature = 1.0f;
  p.top_k = 1;
  EXPECT_EQ(Sampler(p).sample(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f}, {}), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.seed = 1234;
  const std::vector<float> logits{0.0f, 0.5f, 1.0f, 0.2f, -0.3f, 0.9f};
  Sampler a(p), b(p);
  std::vector<int32_t> ra, rb;
  for (int i = 0; i < 200; ++i) {
    ra.push_back(a.sample(logits, {}));
    rb.push_back(b.sample(logits, {}));
  }
  EXPECT_EQ(ra, rb);
  p.seed = 99;
  Sampler c(p);
  std::vector<int32_t> rc;
  for (int i = 0; i < 200; ++i) rc.push_back(c.sample(logits, {}));
  EXPECT_NE(ra, rc);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  SamplingParams p;
  p.seed = 7;
  const std::vector<float> logits{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  const int draws = 20000;
  const auto h = histogram(p, logits, draws);
  // 4 standard deviations of a binomial proportion at n = 20000 is below 0.015.
  EXPECT_NEAR(h.at(0) / double(draws), 0.5, 0.015);
  EXPECT_NEAR(h.at(1) / double(draws), 0.3, 0.015);
  EXPECT_NEAR(h.at(2) / double(draws), 0.2, 0.015);
}

TEST(Sampler, TemperatureSharpens) {
  SamplingParams p;
  p.temperature = 0.25f;  // probabilities ~ 0.5^4 : 0.3^4 : 0.2^4
  const std::vector<float> logits{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  const auto h = histogram(p, logits, 20000);
  const double z = std::pow(0.5, 4) + std::pow(0.3, 4) + std::pow(0.2, 4);
  EXPECT_NEAR(h.at(0) / 20000.0, std::pow(0.5, 4) / z, 0.015);
}

TEST(Sampler, TopKTopPMinPRestrictTheCandidates) {
  const std::vector<float> logits{std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  SamplingParams k;
  k.top_k = 2;
  for (const auto& [id, c] : histogram(k, logits, 3000)) EXPECT_LT(id, 2) << c;
  SamplingParams p;
  p.top_p = 0.65f;  // 0.4 + 0.3 reaches 0.65: tokens 0 and 1
  for (const auto& [id, c] : histogram(p, logits, 3000)) EXPECT_LT(id, 2) << c;
  p.top_p = 0.75f;  // needs the third token
  EXPECT_EQ(histogram(p, logits, 5000).size(), 3u);
  SamplingParams m;
  m.min_p = 0.6f;  // keep p >= 0.24: tokens 0 and 1
  for (const auto& [id, c] : histogram(m, logits, 3000)) EXPECT_LT(id, 2) << c;
}

TEST(Sampler, PenaltiesFollowTheirFormulas) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  // token 0: 3.0 -> 1.5 (divided); token 2: 1.6 stays; so token 2 wins.
  EXPECT_EQ(Sampler(p).sample(std::vector<float>{3.0f, -1.0f, 1.6f}, std::vector<int32_t>{0}), 2);
  // negative logits are multiplied: token 1: -0.5 -> -1.0 < token 2's -0.8.
  EXPECT_EQ(Sampler(p).sample(std::vector<float>{-5.0f, -0.5f, -0.8f}, std::vector<int32_t>{1}), 2);
  SamplingParams f;
  f.temperature = 0.0f;
  f.frequency_penalty = 0.5f;
  f.presence_penalty = 0.25f;
  // token 0 seen 3 times: 2.0 - 0.25 - 1.5 = 0.25 < 0.3.
  EXPECT_EQ(Sampler(f).sample(std::vector<float>{2.0f, 0.3f}, std::vector<int32_t>{0, 0, 0}), 1);
  f.penalty_last_n = 1;  // only the last token counts: 2.0 - 0.25 - 0.5 = 1.25 > 0.3
  EXPECT_EQ(Sampler(f).sample(std::vector<float>{2.0f, 0.3f}, std::vector<int32_t>{0, 0, 0}), 0);
}

TEST(Sampler, BadParametersAreRejected) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.top_k = -1;
  EXPECT_THROW(Sampler{p}, Error);
  Sampler ok{SamplingParams{}};
  EXPECT_THROW(ok.sample(std::vector<float>{}, {}), Error);
}

// What a backend's TopK returns for a row: the k largest, ties by the lower id, then the ids.
std::vector<float> top_of(const std::vector<float>& logits, int k) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
  });
  std::vector<float> top(static_cast<size_t>(2 * k));
  for (int i = 0; i < k; ++i) {
    top[static_cast<size_t>(i)] = logits[static_cast<size_t>(order[static_cast<size_t>(i)])];
    top[static_cast<size_t>(k + i)] = static_cast<float>(order[static_cast<size_t>(i)]);
  }
  return top;
}

// A sampler given only the largest logits chooses exactly as one given them all: same seed, same
// draws, for greedy and top-k with temperature, top-p and min-p, on rows with ties; more candidates
// than it needs change nothing.
TEST(Sampler, TheLargestLogitsAloneGiveTheSameChoices) {
  std::mt19937 rng(5);
  std::vector<SamplingParams> cases(5);
  cases[0].temperature = 0.0f;
  cases[1].top_k = 1;
  cases[2].top_k = 40;
  cases[2].temperature = 0.7f;
  cases[3].top_k = 64;
  cases[3].top_p = 0.9f;
  cases[3].seed = 3;
  cases[4].top_k = 8;
  cases[4].min_p = 0.05f;
  cases[4].temperature = 1.5f;
  for (const SamplingParams& p : cases) {
    SCOPED_TRACE(p.to_string());
    Sampler full(p), top(p);
    const int k = full.candidates_needed();
    ASSERT_GT(k, 0);
    for (int step = 0; step < 300; ++step) {
      std::vector<float> logits(1000);
      for (float& v : logits) v = static_cast<float>(static_cast<int>(rng() % 200)) * 0.05f;  // ties
      const int extra = step % 3;  // a backend may return more than needed
      ASSERT_EQ(top.sample_top(top_of(logits, k + extra), {}), full.sample(logits, {})) << "step " << step;
    }
  }
}

TEST(Sampler, PenaltiesAndUnboundedCandidatesNeedEveryLogit) {
  SamplingParams p;
  p.top_k = 0;
  EXPECT_EQ(Sampler(p).candidates_needed(), 0);
  p.top_k = Sampler::kMaxCandidates + 1;
  EXPECT_EQ(Sampler(p).candidates_needed(), 0);
  p.top_k = 20;
  p.repetition_penalty = 1.1f;
  Sampler s(p);
  EXPECT_EQ(s.candidates_needed(), 0);
  EXPECT_THROW(s.sample_top(std::vector<float>{1.0f, 0.0f}, {}), Error);
  p.repetition_penalty = 1.0f;
  EXPECT_THROW(Sampler(p).sample_top(std::vector<float>{1.0f, 0.0f}, {}), Error);  // 1 candidate of 20
}

}  // namespace
}  // namespace gemrt
