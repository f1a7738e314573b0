// Session: budget, vocabulary checks, reset, and graph reuse across decode steps.
#include "gemrt/runtime/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/runtime/generator.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::string error_of(const std::function<void()>& f) { return test::error_message(f); }

class SessionTest : public testing::Test {
 protected:
  std::unique_ptr<GemmaModel> model = GemmaModel::load(test::shared_fixtures() + "/hf/gemma2-pub");
  cpu::CpuBackend backend{2};
};

TEST_F(SessionTest, IdsOutsideTheVocabularyAreRejected) {
  Session s(*model, backend, {.max_tokens = 16});
  const std::vector<int32_t> ids{2, 512};
  const std::string e = error_of([&] { s.prefill(ids, LogitsRows::Last); });
  EXPECT_NE(e.find("token id 512"), std::string::npos) << e;
  EXPECT_NE(e.find("[0, 512)"), std::string::npos) << e;
  const std::vector<int32_t> neg{-1};
  EXPECT_NE(error_of([&] { s.prefill(neg, LogitsRows::Last); }).find("token id -1"), std::string::npos);
  EXPECT_EQ(s.position(), 0);  // nothing was run
}

TEST_F(SessionTest, BudgetIsEnforced) {
  Session s(*model, backend, {.max_tokens = 4});
  const std::vector<int32_t> ids{2, 5, 6, 7};
  s.prefill(ids, LogitsRows::Last);
  const std::string e = error_of([&] { s.decode(9); });
  EXPECT_NE(e.find("exceeds the session budget of 4 tokens"), std::string::npos) << e;
}

TEST_F(SessionTest, ResetStartsAFreshSequence) {
  Session s(*model, backend, {.max_tokens = 8});
  const std::vector<int32_t> ids{2, 40, 41, 42};
  const std::vector<float> first = s.prefill(ids, LogitsRows::Last);
  s.decode(7);
  s.reset();
  EXPECT_EQ(s.position(), 0);
  const std::vector<float> again = s.prefill(ids, LogitsRows::Last);
  EXPECT_EQ(first, again);
}

TEST_F(SessionTest, LastRowEqualsLastOfAllRows) {
  Session a(*model, backend, {.max_tokens = 8});
  Session b(*model, backend, {.max_tokens = 8});
  const std::vector<int32_t> ids{2, 300, 301, 302, 303};
  const std::vector<float> all = a.prefill(ids, LogitsRows::All);
  const std::vector<float> last = b.prefill(ids, LogitsRows::Last);
  ASSERT_EQ(all.size(), 5 * last.size());
  EXPECT_EQ(std::vector<float>(all.end() - static_cast<long>(last.size()), all.end()), last);
}

TEST_F(SessionTest, ChunkedLastRowPrefillMatchesOneShot) {
  // Chunks before the last run without a head (LogitsRows::None) and only extend the cache.
  Session one(*model, backend, {.max_tokens = 32});
  Session chunked(*model, backend, {.max_tokens = 32, .prefill_chunk = 4});
  std::vector<int32_t> ids{2};
  for (int32_t i = 0; i < 18; ++i) ids.push_back(100 + 13 * i);
  const std::vector<float> a = one.prefill(ids, LogitsRows::Last);
  const std::vector<float> b = chunked.prefill(ids, LogitsRows::Last);
  EXPECT_LT(test::relative_error(b, a), 1e-6);
  EXPECT_EQ(chunked.position(), 19);
  EXPECT_TRUE(chunked.prefill(std::vector<int32_t>{7}, LogitsRows::None).empty());
  EXPECT_EQ(chunked.position(), 20);
}

TEST_F(SessionTest, SlidingLayersKeepOnlyTheirWindow) {
  // gemma2-pub: window 8 on even layers, global odd layers; budget 64.
  const KvLayout layout = model->kv_layout(64);
  ASSERT_EQ(layout.slots.size(), 4u);
  EXPECT_EQ(layout.slots[0].capacity, 8);
  EXPECT_EQ(layout.slots[1].capacity, 64);
  EXPECT_EQ(model->kv_layout(5).slots[0].capacity, 5);  // never more than the budget
}

// The backend's top-k of the last row equals the k largest of the full row, ids included, for a
// prompt and decode steps; and generation over the largest logits picks what it would over all.
TEST_F(SessionTest, TopOfTheLastRowIsTheLargestOfItsLogits) {
  Session full(*model, backend, {.max_tokens = 12}), top(*model, backend, {.max_tokens = 12});
  const std::vector<int32_t> ids{2, 40, 41, 42};
  const int k = 16;
  std::vector<float> logits = full.prefill(ids, LogitsRows::Last);
  std::vector<float> best = top.prefill_top(ids, k);
  for (int32_t next : {7, 300, 11}) {
    ASSERT_EQ(best.size(), static_cast<size_t>(2 * k));
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
    });
    for (int i = 0; i < k; ++i) {
      EXPECT_EQ(best[static_cast<size_t>(i)], logits[static_cast<size_t>(order[static_cast<size_t>(i)])]);
      EXPECT_EQ(best[static_cast<size_t>(k + i)], static_cast<float>(order[static_cast<size_t>(i)]));
    }
    logits = full.decode(next);
    best = top.decode_top(next, k);
  }
  EXPECT_EQ(full.position(), top.position());
}

TEST_F(SessionTest, SampledGenerationOverTheLargestLogitsMatchesGenerationOverAll) {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 20;
  p.top_p = 0.95f;
  p.seed = 42;
  const std::vector<int32_t> prompt{2, 40, 41, 42};
  Session s1(*model, backend, {.max_tokens = 24});
  Sampler sampler(p);
  std::vector<int32_t> got;
  GenerateOptions o;
  o.max_new_tokens = 12;
  generate(s1, prompt, sampler, o, [&](int32_t id) {
    got.push_back(id);
    return true;
  });
  // The same loop by hand, over every logit.
  Session s2(*model, backend, {.max_tokens = 24});
  Sampler by_hand(p);
  std::vector<int32_t> want, history(prompt);
  std::vector<float> logits = s2.prefill(prompt, LogitsRows::Last);
  for (int i = 0; i < 12; ++i) {
    const int32_t id = by_hand.sample(logits, history);
    want.push_back(id);
    history.push_back(id);
    if (i + 1 < 12) logits = s2.decode(id);
  }
  EXPECT_EQ(got, want);
}

// Suppressed ids (Gemma 4 unified's EOA / EOI, spec §7.5) are never chosen: greedy picks the best
// of the rest, over the backend's largest logits (greedy) and over every logit (with a penalty).
TEST_F(SessionTest, SuppressedIdsAreNeverChosen) {
  const std::vector<int32_t> prompt{2, 40, 41, 42};
  Session probe(*model, backend, {.max_tokens = 8});
  std::vector<float> logits = probe.prefill(prompt, LogitsRows::Last);
  const int32_t best = argmax(logits);
  logits[static_cast<size_t>(best)] = -INFINITY;
  const int32_t second = argmax(logits);
  for (const float penalty : {1.0f, 1.1f}) {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repetition_penalty = penalty;  // 1.1: the sampler needs every logit
    Sampler sampler(p);
    Session s(*model, backend, {.max_tokens = 8});
    GenerateOptions o;
    o.max_new_tokens = 1;
    o.suppress_ids = {best};
    std::vector<int32_t> got;
    generate(s, prompt, sampler, o, [&](int32_t id) {
      got.push_back(id);
      return true;
    });
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0], best);
    if (penalty == 1.0f) {
      EXPECT_EQ(got[0], second);
    }
  }
}

TEST(Argmax, FirstMaximumWins) {
  const std::vector<float> v{1.0f, 3.0f, -2.0f, 3.0f};
  EXPECT_EQ(argmax(v), 1);
}

}  // namespace
}  // namespace gemrt
