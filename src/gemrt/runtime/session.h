// A Session runs one sequence through a model on a backend: prefill over a prompt, then
// decode one token at a time, with a KV cache allocated once for a token budget.
//
// Compiled graphs are cached per (token count, logits rows), so decode compiles once and every
// later step reuses it; long prompts are prefilled in chunks of at most `prefill_chunk` tokens,
// which bounds activation memory by the chunk rather than the prompt.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "gemrt/backend/backend.h"
#include "gemrt/model/gemma/model.h"

namespace gemrt {

struct PromptMedia;  // runtime/media.h

struct SessionOptions {
  int max_tokens = 0;        // KV budget (prompt + generated); 0 = max_position_embeddings
  int prefill_chunk = 0;     // tokens per prefill graph run; 0 = the backend's preferred_prefill_chunk()
  DType kv_dtype = DType::F32;  // KV cache storage: F32, F16 or BF16
};

class Session {
 public:
  Session(const GemmaModel& model, Backend& backend, SessionOptions options = {});

  // Appends `ids` to the sequence. Returns logits float32 [T, V] for rows == All, [V] of the last
  // token for Last, nothing for None. Throws on an id outside the vocabulary or a sequence
  // beyond the budget. `media` (runtime/media.h): embedding rows for some of the ids and
  // bidirectional blocks, as offsets into `ids`; a prefill chunk never splits a block. The ids
  // that take a media row run as the pad id (transformers' llm_input_ids: what Gemma 4's
  // per-layer embeddings read there).
  std::vector<float> prefill(std::span<const int32_t> ids, LogitsRows rows, const PromptMedia* media = nullptr);
  // Appends one token and returns its logits [V].
  std::vector<float> decode(int32_t id) { return prefill(std::span<const int32_t>(&id, 1), LogitsRows::Last); }
  // As prefill / decode with LogitsRows::Last, but the backend returns only the k largest logits
  // of the last token and their ids: [k values, descending; k ids as floats] (graph/ir.h TopK),
  // 2k floats instead of V (what a sampler needs: Sampler::candidates_needed).
  std::vector<float> prefill_top(std::span<const int32_t> ids, int k, const PromptMedia* media = nullptr) {
    return run(ids, LogitsRows::Last, k, media);
  }
  std::vector<float> decode_top(int32_t id, int k) { return prefill_top(std::span<const int32_t>(&id, 1), k); }

  int64_t position() const { return position_; }
  int max_tokens() const { return max_tokens_; }
  int64_t vocab_size() const { return model_.spec().vocab_size; }
  int64_t kv_bytes() const { return kv_->bytes(); }
  void reset();

 private:
  Executable& executable(int64_t tokens, LogitsRows rows, int top_k, MediaSlots media);
  std::vector<float> run(std::span<const int32_t> ids, LogitsRows rows, int top_k, const PromptMedia* media);
  // The end of the chunk that starts at `begin` (offsets into the run's ids): at most
  // prefill_chunk_ tokens, cut before a block it would split, or stretched to a block's end when
  // the block starts the chunk.
  size_t chunk_end(size_t begin, size_t size, const PromptMedia* media) const;

  const GemmaModel& model_;
  Backend& backend_;
  int max_tokens_;
  int prefill_chunk_;
  std::unique_ptr<KvCache> kv_;
  // (tokens, rows, top_k, media slots)
  std::map<std::tuple<int64_t, LogitsRows, int, MediaSlots>, std::unique_ptr<Executable>> compiled_;
  int64_t position_ = 0;
};

}  // namespace gemrt
