// Generation over a Session: greedy helpers for parity work, and sampled generation with stop
// tokens and timing for `gemrt run` / `chat`.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"
#include "gemrt/sample/sampler.h"

namespace gemrt {

struct GreedyResult {
  std::vector<int32_t> ids;              // generated tokens
  std::vector<std::vector<float>> step_logits;  // logits that chose ids[i] (only if requested)
};

// Prefills `prompt`, then picks argmax tokens `n` times (no early stop), decoding each with the
// KV cache. `on_token` (if set) is called as each token is chosen.
GreedyResult generate_greedy(Session& session, std::span<const int32_t> prompt, int n, bool keep_logits,
                             const std::function<void(int32_t)>& on_token = {});

// Continues greedily from `logits` (the logits of the last token already in the session):
// picks the argmax, appends it with decode, and repeats until `n` tokens are chosen.
GreedyResult continue_greedy(Session& session, std::vector<float> logits, int n, bool keep_logits,
                             const std::function<void(int32_t)>& on_token = {});

struct GenerateOptions {
  int max_new_tokens = 256;
  std::vector<int32_t> stop_ids;  // generation ends after one of these (it is not passed to on_token)
  // Never sampled (their logits count as -inf): Gemma 4 unified's end-of-audio / end-of-image
  // tokens, whose embedding rows the converter wrote for the prompt side only (spec §7.5).
  std::vector<int32_t> suppress_ids;
  const PromptMedia* media = nullptr;  // media rows of the prompt (runtime/media.h), or none
};

struct GenerationStats {
  int prompt_tokens = 0;
  int generated_tokens = 0;     // tokens passed to on_token
  double prefill_seconds = 0.0; // prompt prefill, up to the first sampled token
  double decode_seconds = 0.0;  // every decode step after that
  bool stopped = false;         // ended on a stop id (or on_token returned false)
  int32_t stop_id = -1;
  // The last generated token, which is not in the session's KV cache yet (-1 if none): a caller
  // that continues the sequence (multi-turn chat) feeds it first.
  int32_t pending_token = -1;
};

// Prefills `prompt` (appended to whatever the session holds), then samples until a stop id, the
// token budget, or on_token returning false. The sampler's penalties see the prompt and the
// generated tokens. A sampler that needs only the k largest logits gets them from the backend
// (Session::decode_top), with the same choices as from every logit.
GenerationStats generate(Session& session, std::span<const int32_t> prompt, Sampler& sampler,
                         const GenerateOptions& options, const std::function<bool(int32_t)>& on_token);

// Index of the largest value (the first one on ties, as torch.argmax).
int32_t argmax(std::span<const float> logits);

}  // namespace gemrt
