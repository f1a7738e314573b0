// Greedy generation over a Session (sampling comes with the real-model issue).
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "gemrt/runtime/session.h"

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

// Index of the largest value (the first one on ties, as torch.argmax).
int32_t argmax(std::span<const float> logits);

}  // namespace gemrt
