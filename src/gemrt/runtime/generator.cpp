#include "gemrt/runtime/generator.h"

#include "gemrt/core/error.h"

namespace gemrt {

int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) fail("argmax of empty logits");
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

GreedyResult generate_greedy(Session& session, std::span<const int32_t> prompt, int n, bool keep_logits,
                             const std::function<void(int32_t)>& on_token) {
  if (n <= 0) return {};
  return continue_greedy(session, session.prefill(prompt, LogitsRows::Last), n, keep_logits, on_token);
}

GreedyResult continue_greedy(Session& session, std::vector<float> logits, int n, bool keep_logits,
                             const std::function<void(int32_t)>& on_token) {
  GreedyResult r;
  if (static_cast<int64_t>(logits.size()) != session.vocab_size())
    fail("continue_greedy: expected logits of one token (", session.vocab_size(), " values), got ", logits.size());
  for (int i = 0; i < n; ++i) {
    const int32_t id = argmax(logits);
    r.ids.push_back(id);
    if (on_token) on_token(id);
    if (keep_logits) r.step_logits.push_back(logits);
    if (i + 1 < n) logits = session.decode(id);
  }
  return r;
}

}  // namespace gemrt
