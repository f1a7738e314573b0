#include "gemrt/runtime/session.h"

#include <algorithm>

#include "gemrt/core/error.h"
#include "gemrt/runtime/media.h"

namespace gemrt {
namespace {

// Rows, index and blocks that hold together for `tokens` prompt tokens of `hidden`-wide rows.
void check_prompt_media(const PromptMedia& m, size_t tokens, size_t hidden) {
  if (m.index.size() != tokens)
    fail("prefill: the media index has ", m.index.size(), " entries for ", tokens, " tokens");
  for (size_t i = 0; i < tokens; ++i)
    if (const int32_t r = m.index[i]; r < -1 || (r >= 0 && static_cast<size_t>(r + 1) * hidden > m.rows.size()))
      fail("prefill: token ", i, " takes media row ", r, " of ", m.rows.size() / hidden);
  for (const auto& [b, e] : m.blocks)
    if (b < 0 || b >= e || e > static_cast<int64_t>(tokens))
      fail("prefill: bidirectional block [", b, ", ", e, ") is not inside the ", tokens, " tokens");
}

// One prefill chunk's media inputs (model/gemma/forward_graph.h): the rows its tokens take,
// renumbered from 0, and its blocks at absolute positions (the chunk starts at `position`); and
// its token ids with every spliced token's id read as the pad id: transformers embeds media
// tokens as pad before splicing (its llm_input_ids), which matters where the ids feed more than
// the replaced embedding row (Gemma 4's per-layer embeddings take the pad row there, spec §6.3
// step 2).
struct ChunkMedia {
  std::vector<float> rows;
  std::vector<int32_t> index, blocks, ids;
  MediaSlots slots;

  void fill(const PromptMedia& m, std::span<const int32_t> chunk_ids, int32_t pad, size_t begin, size_t end,
            int64_t position, size_t hidden) {
    const size_t n = end - begin;
    rows.clear();
    index.assign(n, -1);
    ids.assign(chunk_ids.begin(), chunk_ids.end());
    for (size_t i = 0; i < n; ++i)
      if (const int32_t r = m.index[begin + i]; r >= 0) {
        ids[i] = pad;
        index[i] = static_cast<int32_t>(rows.size() / hidden);
        rows.insert(rows.end(), m.rows.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(r) * hidden),
                    m.rows.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(r + 1) * hidden));
      }
    blocks.assign(2 * n, 0);
    slots = {static_cast<int64_t>(rows.size() / hidden), false};
    const auto at = [&](int64_t offset) { return static_cast<int32_t>(position + offset - static_cast<int64_t>(begin)); };
    for (const auto& [b, e] : m.blocks) {
      if (b < static_cast<int64_t>(begin) || e > static_cast<int64_t>(end)) continue;
      for (auto i = static_cast<size_t>(b); i < static_cast<size_t>(e); ++i) {
        blocks[2 * (i - begin)] = at(b);
        blocks[2 * (i - begin) + 1] = at(e);
      }
      slots.blocks = true;
    }
  }
  void add_to(RunInputs& in) const {
    if (slots.rows > 0) {
      in.emplace("media_rows", rows);
      in.emplace("media_index", index);
    }
    if (slots.blocks) in.emplace("attention_blocks", blocks);
  }
};

}  // namespace

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

Executable& Session::executable(int64_t tokens, LogitsRows rows, int top_k, MediaSlots media) {
  auto& slot = compiled_[{tokens, rows, rows == LogitsRows::None ? 0 : top_k, media}];
  if (!slot) slot = backend_.compile(model_.forward_graph(tokens, rows, top_k, media));
  return *slot;
}

std::vector<float> Session::prefill(std::span<const int32_t> ids, LogitsRows rows, const PromptMedia* media) {
  return run(ids, rows, 0, media);
}

size_t Session::chunk_end(size_t begin, size_t size, const PromptMedia* media) const {
  const size_t end = std::min(size, begin + static_cast<size_t>(prefill_chunk_));
  if (!media) return end;
  for (const auto& [b, e] : media->blocks) {
    const auto bs = static_cast<size_t>(b), be = static_cast<size_t>(e);
    if (bs < end && end < be) return bs > begin ? bs : be;  // the block would be split
  }
  return end;
}

std::vector<float> Session::run(std::span<const int32_t> ids, LogitsRows rows, int top_k, const PromptMedia* media) {
  const int64_t vocab = vocab_size();
  if (ids.empty()) fail("prefill: no tokens given");
  if (top_k < 0 || top_k > vocab) fail("prefill: top_k must be in [0, ", vocab, "], got ", top_k);
  const auto hidden = static_cast<size_t>(model_.spec().hidden_size);
  if (media) check_prompt_media(*media, ids.size(), hidden);
  // A spliced token runs as the pad id (ChunkMedia): its own id may lie past the embedding table
  // (Gemma 3's <image_soft_token> 262144 in a GGUF whose token_embd has the 262144 text rows).
  for (size_t i = 0; i < ids.size(); ++i)
    if ((ids[i] < 0 || ids[i] >= vocab) && !(media && media->index[i] >= 0))
      fail("token id ", ids[i], " (input position ", i, ") is outside the vocabulary [0, ", vocab, ")");
  if (position_ + static_cast<int64_t>(ids.size()) > max_tokens_)
    fail("sequence of ", position_ + static_cast<int64_t>(ids.size()), " tokens exceeds the session budget of ",
         max_tokens_, " tokens");

  std::vector<float> logits;
  if (rows == LogitsRows::All) logits.reserve(ids.size() * static_cast<size_t>(vocab));
  std::vector<int32_t> positions;
  ChunkMedia chunk_media;
  for (size_t begin = 0, end = 0; begin < ids.size(); begin = end) {
    end = chunk_end(begin, ids.size(), media);
    const size_t n = end - begin;
    const bool last_chunk = end == ids.size();
    positions.resize(n);
    for (size_t i = 0; i < n; ++i) positions[i] = static_cast<int32_t>(position_ + static_cast<int64_t>(i));
    // Chunks before the last only fill the cache unless every row's logits are wanted.
    const LogitsRows chunk_rows = rows == LogitsRows::All ? LogitsRows::All
                                  : last_chunk            ? rows
                                                          : LogitsRows::None;
    RunOutputs out;
    MediaSlots slots;
    if (media) {
      chunk_media.fill(*media, ids.subspan(begin, n), model_.spec().pad_token_id, begin, end, position_, hidden);
      slots = chunk_media.slots;
    }
    RunInputs in{{"token_ids", media ? std::span<const int32_t>(chunk_media.ids) : ids.subspan(begin, n)},
                 {"positions", positions}};
    if (media) chunk_media.add_to(in);
    executable(static_cast<int64_t>(n), chunk_rows, top_k, slots).run(in, kv_.get(), &out);
    position_ += static_cast<int64_t>(n);
    if (chunk_rows == LogitsRows::None) continue;
    std::vector<float>& chunk_logits = out.at(top_k > 0 ? "top_k" : "logits");
    if (rows == LogitsRows::All) logits.insert(logits.end(), chunk_logits.begin(), chunk_logits.end());
    else logits = std::move(chunk_logits);
  }
  return logits;
}

}  // namespace gemrt
