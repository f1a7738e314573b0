#include "gemrt/runtime/session.h"

#include <algorithm>

#include "gemrt/core/error.h"

namespace gemrt {

Session::Session(const GemmaModel& model, Backend& backend, SessionOptions options)
    : model_(model),
      backend_(backend),
      max_tokens_(options.max_tokens > 0 ? options.max_tokens : model.spec().max_position_embeddings),
      prefill_chunk_(options.prefill_chunk > 0 ? options.prefill_chunk : backend.preferred_prefill_chunk()) {
  KvLayout layout = model_.kv_layout(max_tokens_);
  layout.dtype = options.kv_dtype;
  kv_ = backend_.allocate_kv(layout);
}

void Session::reset() {
  kv_->reset();
  position_ = 0;
}

Executable& Session::executable(int64_t tokens, LogitsRows rows, int top_k) {
  auto& slot = compiled_[{tokens, rows, rows == LogitsRows::None ? 0 : top_k}];
  if (!slot) slot = backend_.compile(model_.forward_graph(tokens, rows, top_k));
  return *slot;
}

std::vector<float> Session::prefill(std::span<const int32_t> ids, LogitsRows rows) { return run(ids, rows, 0); }

std::vector<float> Session::run(std::span<const int32_t> ids, LogitsRows rows, int top_k) {
  const int64_t vocab = vocab_size();
  if (ids.empty()) fail("prefill: no tokens given");
  if (top_k < 0 || top_k > vocab) fail("prefill: top_k must be in [0, ", vocab, "], got ", top_k);
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      fail("token id ", ids[i], " (input position ", i, ") is outside the vocabulary [0, ", vocab, ")");
  if (position_ + static_cast<int64_t>(ids.size()) > max_tokens_)
    fail("sequence of ", position_ + static_cast<int64_t>(ids.size()), " tokens exceeds the session budget of ",
         max_tokens_, " tokens");

  std::vector<float> logits;
  if (rows == LogitsRows::All) logits.reserve(ids.size() * static_cast<size_t>(vocab));
  std::vector<int32_t> positions;
  for (size_t begin = 0; begin < ids.size(); begin += static_cast<size_t>(prefill_chunk_)) {
    const size_t n = std::min(ids.size() - begin, static_cast<size_t>(prefill_chunk_));
    const bool last_chunk = begin + n == ids.size();
    positions.resize(n);
    for (size_t i = 0; i < n; ++i) positions[i] = static_cast<int32_t>(position_ + static_cast<int64_t>(i));
    // Chunks before the last only fill the cache unless every row's logits are wanted.
    const LogitsRows chunk_rows = rows == LogitsRows::All ? LogitsRows::All
                                  : last_chunk            ? rows
                                                          : LogitsRows::None;
    RunOutputs out;
    const RunInputs in{{"token_ids", ids.subspan(begin, n)}, {"positions", positions}};
    executable(static_cast<int64_t>(n), chunk_rows, top_k).run(in, kv_.get(), &out);
    position_ += static_cast<int64_t>(n);
    if (chunk_rows == LogitsRows::None) continue;
    std::vector<float>& chunk_logits = out.at(top_k > 0 ? "top_k" : "logits");
    if (rows == LogitsRows::All) logits.insert(logits.end(), chunk_logits.begin(), chunk_logits.end());
    else logits = std::move(chunk_logits);
  }
  return logits;
}

}  // namespace gemrt
