#include "gemrt/runtime/generator.h"

#include <algorithm>
#include <chrono>

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

GenerationStats generate(Session& session, std::span<const int32_t> prompt, Sampler& sampler,
                         const GenerateOptions& options, const std::function<bool(int32_t)>& on_token) {
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  GenerationStats st;
  st.prompt_tokens = static_cast<int>(prompt.size());
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  // When the sampler needs only the largest few logits, the backend selects them (a decode step
  // then returns 2k floats, not the vocabulary's V).
  const int k = sampler.candidates_needed();
  const auto t0 = clock::now();
  std::vector<float> logits = k > 0 ? session.prefill_top(prompt, k) : session.prefill(prompt, LogitsRows::Last);
  st.prefill_seconds = seconds(t0, clock::now());
  const auto t1 = clock::now();
  for (int i = 0; i < options.max_new_tokens; ++i) {
    const int32_t id = k > 0 ? sampler.sample_top(logits, history) : sampler.sample(logits, history);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) {
      st.stopped = true;
      st.stop_id = id;
      break;
    }
    ++st.generated_tokens;
    history.push_back(id);
    st.pending_token = id;
    if (on_token && !on_token(id)) {
      st.stopped = true;
      break;
    }
    if (i + 1 == options.max_new_tokens || session.position() >= session.max_tokens()) break;
    logits = k > 0 ? session.decode_top(id, k) : session.decode(id);
    st.pending_token = -1;
  }
  st.decode_seconds = seconds(t1, clock::now());
  return st;
}

}  // namespace gemrt
