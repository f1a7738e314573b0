#include "gemrt/runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>

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

namespace {

bool suppressed(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// Every logit: the suppressed ones set to -inf.
void suppress_logits(std::vector<float>& logits, const std::vector<int32_t>& ids) {
  for (int32_t id : ids)
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) logits[static_cast<size_t>(id)] = -INFINITY;
}

// The k largest logits from `top` = the k + ids.size() largest (graph/ir.h TopK layout: values,
// then ids as floats) with the suppressed ids left out.
std::vector<float> drop_suppressed(const std::vector<float>& top, int k, const std::vector<int32_t>& ids) {
  const size_t n = top.size() / 2;
  std::vector<float> values, out_ids;
  for (size_t i = 0; i < n && values.size() < static_cast<size_t>(k); ++i) {
    if (suppressed(ids, static_cast<int32_t>(top[n + i]))) continue;
    values.push_back(top[i]);
    out_ids.push_back(top[n + i]);
  }
  values.insert(values.end(), out_ids.begin(), out_ids.end());
  return values;
}

}  // namespace

GenerationStats generate(Session& session, std::span<const int32_t> prompt, Sampler& sampler,
                         const GenerateOptions& options, const std::function<bool(int32_t)>& on_token) {
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  GenerationStats st;
  st.prompt_tokens = static_cast<int>(prompt.size());
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  // When the sampler needs only the largest few logits, the backend selects them (a decode step
  // then returns 2k floats, not the vocabulary's V).
  // With suppressed ids, the backend selects that many more candidates, and they are dropped here.
  const int k = sampler.candidates_needed();
  const int k_run = k > 0 ? std::min<int64_t>(k + static_cast<int64_t>(options.suppress_ids.size()), session.vocab_size()) : 0;
  const auto filter = [&](std::vector<float> logits) {
    if (options.suppress_ids.empty()) return logits;
    if (k > 0) return drop_suppressed(logits, k, options.suppress_ids);
    suppress_logits(logits, options.suppress_ids);
    return logits;
  };
  const auto t0 = clock::now();
  std::vector<float> logits = filter(k > 0 ? session.prefill_top(prompt, k_run, options.media)
                                           : session.prefill(prompt, LogitsRows::Last, options.media));
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
    logits = filter(k > 0 ? session.decode_top(id, k_run) : session.decode(id));
    st.pending_token = -1;
  }
  st.decode_seconds = seconds(t1, clock::now());
  return st;
}

}  // namespace gemrt
