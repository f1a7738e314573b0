// Tokenizer: encoding (added-token split, normalization, pre-tokenization, BPE) and decoding.
// The loaders live in tokenizer_hf.cpp (tokenizer.json) and tokenizer_spm.cpp (SentencePiece,
// Vocab). The algorithms mirror Hugging Face tokenizers (BPE model, AddedVocabulary, Split,
// ByteFallback decoder) and SentencePiece's bpe_model.cc.
#include "gemrt/text/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <functional>
#include <queue>
#include <string>

#include "gemrt/core/error.h"
#include "gemrt/text/stream_decoder.h"
#include "gemrt/text/tokenizer_impl.h"

namespace gemrt {
namespace detail {

// ---- UTF-8 -------------------------------------------------------------------------------------

int utf8_char_status(const unsigned char* p, size_t n) {
  if (n == 0) return -1;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return 1;
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int k = 1; k < len; ++k) {
    if (static_cast<size_t>(k) >= n) return -1;  // well-formed so far, truncated
    const unsigned char lo_k = k == 1 ? lo : 0x80;
    const unsigned char hi_k = k == 1 ? hi : 0xBF;
    if (p[k] < lo_k || p[k] > hi_k) return 0;
  }
  return len;
}

size_t utf8_char_len(std::string_view s, size_t i) {
  const int st = utf8_char_status(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i);
  return st > 0 ? static_cast<size_t>(st) : 1;
}

bool utf8_valid(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const int st = utf8_char_status(p + i, s.size() - i);
    if (st <= 0) return false;
    i += static_cast<size_t>(st);
  }
  return true;
}

char32_t utf8_decode_at(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const int st = utf8_char_status(p, s.size() - i);
  if (st <= 0) return 0xFFFD;
  if (st == 1) return p[0];
  char32_t c = p[0] & (0x7F >> st);
  for (int k = 1; k < st; ++k) c = (c << 6) | (p[k] & 0x3F);
  return c;
}

size_t utf8_prev_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  // Step back over at most 3 continuation bytes to a lead byte whose character ends at `end`.
  for (size_t back = 0; back < 3 && i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; ++back) --i;
  if (i + utf8_char_len(s, i) == end) return i;
  return end - 1;
}

bool is_unicode_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

namespace {

// HF's single_word test uses Rust's char::is_alphanumeric() || '_'. Exact for ASCII; beyond ASCII
// an approximation without Unicode tables: everything is a word character except whitespace and
// the common punctuation / symbol / emoji blocks.
bool is_word_char(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  if (is_unicode_whitespace(c)) return false;
  if (c <= 0xBF || c == 0xD7 || c == 0xF7) return false;       // Latin-1 punctuation, × ÷
  if (c >= 0x2000 && c <= 0x2BFF) return false;                // punctuation, symbols, arrows, math
  if (c >= 0x3000 && c <= 0x303F) return false;                // CJK punctuation
  if (c >= 0xFE30 && c <= 0xFE4F) return false;                // CJK compatibility forms
  if ((c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
      (c >= 0xFF5B && c <= 0xFF65))
    return false;                                              // fullwidth punctuation
  if (c == 0xFFFD) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;              // emoji and pictographs
  return true;
}

}  // namespace

// ---- PieceIndex / PairTable -------------------------------------------------------------------

namespace {

uint32_t hash_piece(std::string_view s) {
  const uint64_t h = std::hash<std::string_view>{}(s);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

}  // namespace

void PieceIndex::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n + n / 2 + 1) cap *= 2;
  if (cap > slots_.size()) rehash(cap);
}

void PieceIndex::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

bool PieceIndex::insert(std::string_view key, int32_t id) {
  if ((size_ + 1) * 3 > slots_.size() * 2) rehash(std::max<size_t>(16, slots_.size() * 2));
  const uint32_t h = hash_piece(key);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (; slots_[i].id >= 0; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == h && std::string_view(arena_).substr(s.offset, s.length) == key) return false;
  }
  if (arena_.size() + key.size() > UINT32_MAX) fail("tokenizer: vocabulary pieces exceed 4 GiB");
  slots_[i] = Slot{h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), id};
  arena_.append(key);
  ++size_;
  return true;
}

int32_t PieceIndex::find(std::string_view key) const {
  if (size_ == 0) return -1;
  const uint32_t h = hash_piece(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask; slots_[i].id >= 0; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == h && s.length == key.size() && std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0)
      return s.id;
  }
  return -1;
}

size_t PairTable::slot_of(uint64_t key) const {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

void PairTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n + n / 2 + 1) cap *= 2;
  if (cap > slots_.size()) rehash(cap);
}

void PairTable::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  shift_ = 64;
  for (size_t c = capacity; c > 1; c >>= 1) --shift_;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = slot_of(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = s;
  }
}

void PairTable::insert_or_assign(uint64_t key, uint64_t value) {
  if ((size_ + 1) * 3 > slots_.size() * 2) rehash(std::max<size_t>(16, slots_.size() * 2));
  size_t i = slot_of(key);
  for (; slots_[i].key != kEmpty; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i].key == key) {
      slots_[i].value = value;
      return;
    }
  }
  slots_[i] = Slot{key, value};
  ++size_;
}

bool PairTable::find(uint64_t key, uint64_t* value) const {
  if (size_ == 0) return false;
  for (size_t i = slot_of(key); slots_[i].key != kEmpty; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i].key == key) {
      *value = slots_[i].value;
      return true;
    }
  }
  return false;
}

// ---- TokenTrie ---------------------------------------------------------------------------------

void TokenTrie::insert(std::string_view key, int32_t value) {
  if (key.empty()) return;
  int32_t node = 0;
  for (const char ch : key) {
    const auto b = static_cast<unsigned char>(ch);
    const uint64_t edge = (static_cast<uint64_t>(node) << 8) | b;
    auto it = edges_.find(edge);
    if (it == edges_.end()) {
      const auto child = static_cast<int32_t>(values_.size());
      values_.push_back(-1);
      it = edges_.emplace(edge, child).first;
    }
    node = it->second;
  }
  first_[static_cast<unsigned char>(key[0])] = true;
  if (values_[static_cast<size_t>(node)] < 0) values_[static_cast<size_t>(node)] = value;
}

size_t TokenTrie::longest_match(std::string_view text, size_t pos, int32_t* value) const {
  if (pos >= text.size() || !first_[static_cast<unsigned char>(text[pos])]) return 0;
  int32_t node = 0;
  size_t best = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const uint64_t edge = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]);
    const auto it = edges_.find(edge);
    if (it == edges_.end()) break;
    node = it->second;
    if (values_[static_cast<size_t>(node)] >= 0) {
      best = i + 1 - pos;
      *value = values_[static_cast<size_t>(node)];
    }
  }
  return best;
}

// ---- building ----------------------------------------------------------------------------------

void TokenizerImpl::resize(size_t n) {
  pieces.resize(n);
  decoded.resize(n);
  byte_of.resize(n, -1);
  special.resize(n, 0);
}

std::string TokenizerImpl::apply_token_decode_steps(std::string_view piece) const {
  std::string s(piece);
  for (const TokenDecodeStep& step : token_decode_steps) {
    if (step.kind == TokenDecodeStep::Kind::kReplace) {
      if (step.pattern.empty()) continue;
      std::string r;
      size_t i = 0;
      for (size_t hit; (hit = s.find(step.pattern, i)) != std::string::npos; i = hit + step.pattern.size()) {
        r.append(s, i, hit - i);
        r += step.content;
      }
      r.append(s, i, std::string::npos);
      s = std::move(r);
    } else {  // kStrip: HF Strip decoder on one token, counted in characters
      size_t begin = 0, end = s.size();
      for (int k = 0; k < step.start && begin < end; ++k) {
        if (s.compare(begin, step.content.size(), step.content) != 0) break;
        begin += step.content.size();
      }
      for (int k = 0; k < step.stop && end > begin; ++k) {
        if (end - begin < step.content.size() ||
            s.compare(end - step.content.size(), step.content.size(), step.content) != 0)
          break;
        end -= step.content.size();
      }
      s = s.substr(begin, end - begin);
    }
  }
  return s;
}

void TokenizerImpl::finalize() {
  raw_trie = TokenTrie();
  normalized_trie = TokenTrie();
  for (size_t i = 0; i < added.size(); ++i) {
    const AddedToken& t = added[i];
    if (t.normalized) {
      normalized_trie.insert(normalize(t.content), static_cast<int32_t>(i));
    } else {
      raw_trie.insert(t.content, static_cast<int32_t>(i));
    }
  }
  for (size_t id = 0; id < pieces.size(); ++id) {
    decoded[id] = apply_token_decode_steps(pieces[id]);
    if (kind == ModelKind::kHfBpe && decode_byte_fallback) {
      // HF ByteFallback: a token spelled exactly "<0xAB>" (after the earlier steps).
      const std::string& d = decoded[id];
      if (d.size() == 6 && d.compare(0, 3, "<0x") == 0 && d[5] == '>' && std::isxdigit(static_cast<unsigned char>(d[3])) &&
          std::isxdigit(static_cast<unsigned char>(d[4]))) {
        byte_of[id] = static_cast<int16_t>(std::stoi(d.substr(3, 2), nullptr, 16));
      }
    }
  }
}

// ---- encoding ----------------------------------------------------------------------------------

namespace {

struct Span {
  size_t begin, end;
  int32_t added;  // index into TokenizerImpl::added, -1 for text
};

// HF AddedVocabulary::find_matches: leftmost-longest matches with single_word / lstrip / rstrip.
void split_on_added(std::string_view text, const TokenTrie& trie, const std::vector<AddedToken>& added,
                    std::vector<Span>& out) {
  out.clear();
  size_t start_offset = 0;
  if (!trie.empty()) {
    size_t pos = 0;
    while (pos < text.size()) {
      int32_t idx = -1;
      const size_t len = trie.longest_match(text, pos, &idx);
      if (len == 0) {
        ++pos;
        continue;
      }
      size_t start = pos, stop = pos + len;
      pos = stop;
      const AddedToken& t = added[static_cast<size_t>(idx)];
      if (t.single_word) {
        const bool start_ok = start == 0 || !is_word_char(utf8_decode_at(text, utf8_prev_start(text, start)));
        const bool stop_ok = stop == text.size() || !is_word_char(utf8_decode_at(text, stop));
        if (!start_ok || !stop_ok) continue;
      }
      if (t.lstrip) {
        size_t s = start;
        while (s > 0) {
          const size_t p = utf8_prev_start(text, s);
          if (!is_unicode_whitespace(utf8_decode_at(text, p))) break;
          s = p;
        }
        start = std::max(s, start_offset);
      }
      if (t.rstrip) {
        while (stop < text.size() && is_unicode_whitespace(utf8_decode_at(text, stop))) stop += utf8_char_len(text, stop);
      }
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, idx});
      start_offset = stop;
    }
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

std::string replace_all(std::string_view s, std::string_view pattern, std::string_view content) {
  std::string r;
  r.reserve(s.size() + s.size() / 2);
  size_t i = 0;
  for (size_t hit; (hit = s.find(pattern, i)) != std::string_view::npos; i = hit + pattern.size()) {
    r.append(s.substr(i, hit - i));
    r.append(content);
  }
  r.append(s.substr(i));
  return r;
}

// HF Split pre-tokenizer (String pattern, invert = false) on one piece; appends non-empty words.
void split_words(std::string_view s, const PreTokenizerStep& step, std::vector<std::string_view>& words) {
  struct Part {
    size_t b, e;
    bool match;
  };
  std::vector<Part> parts;
  if (step.pattern.empty()) {
    parts.push_back({0, s.size(), false});
  } else {
    size_t prev = 0;
    for (size_t hit; (hit = s.find(step.pattern, prev)) != std::string_view::npos; prev = hit + step.pattern.size()) {
      if (hit != prev) parts.push_back({prev, hit, false});
      parts.push_back({hit, hit + step.pattern.size(), true});
    }
    if (prev != s.size()) parts.push_back({prev, s.size(), false});
  }
  std::vector<Part> out;  // match = "remove"
  switch (step.behavior) {
    case SplitBehavior::kRemoved:
      out = parts;
      break;
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) out.push_back({p.b, p.e, false});
      break;
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      for (const Part& p : parts) {
        if (p.match && prev_match && !out.empty()) {
          out.back().e = p.e;
        } else {
          out.push_back({p.b, p.e, false});
        }
        prev_match = p.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Part& p : parts) {
        if (p.match && !prev_match && !out.empty()) {
          out.back().e = p.e;
        } else {
          out.push_back({p.b, p.e, false});
        }
        prev_match = p.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (size_t k = parts.size(); k-- > 0;) {
        const Part& p = parts[k];
        if (p.match && !prev_match && !out.empty()) {
          out.back().b = p.b;
        } else {
          out.push_back({p.b, p.e, false});
        }
        prev_match = p.match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  for (const Part& p : out)
    if (!p.match && p.e > p.b) words.push_back(s.substr(p.b, p.e - p.b));
}

}  // namespace

std::string TokenizerImpl::normalize(std::string_view text) const {
  if (kind == ModelKind::kSpmBpe) {
    std::string s;
    if (spm_remove_extra_whitespaces) {
      // SentencePiece: drop leading and trailing spaces, collapse runs to one.
      bool pending_space = false;
      for (const char c : text) {
        if (c == ' ') {
          pending_space = !s.empty();
          continue;
        }
        if (pending_space) s += ' ';
        pending_space = false;
        s += c;
      }
    } else {
      s.assign(text);
    }
    if (s.empty()) return s;
    if (spm_add_dummy_prefix) s.insert(s.begin(), ' ');
    if (spm_escape_whitespaces) s = replace_all(s, " ", kSpaceMarker);
    return s;
  }
  std::string s(text);
  for (const NormalizerStep& step : normalizer) {
    if (step.kind == NormalizerStep::Kind::kReplace) {
      s = replace_all(s, step.pattern, step.content);
    } else if (!s.empty()) {  // kPrepend (HF: only a non-empty string)
      s.insert(0, step.content);
    }
  }
  return s;
}

void TokenizerImpl::encode(std::string_view text, bool add_special, std::vector<int32_t>& out) const {
  if (add_special) out.insert(out.end(), prefix_ids.begin(), prefix_ids.end());
  std::vector<Span> spans, inner;
  split_on_added(text, raw_trie, added, spans);
  for (const Span& sp : spans) {
    if (sp.added >= 0) {
      out.push_back(added[static_cast<size_t>(sp.added)].id);
      continue;
    }
    const std::string normalized = normalize(text.substr(sp.begin, sp.end - sp.begin));
    split_on_added(normalized, normalized_trie, added, inner);
    for (const Span& in : inner) {
      if (in.added >= 0) {
        out.push_back(added[static_cast<size_t>(in.added)].id);
      } else {
        encode_normalized(std::string_view(normalized).substr(in.begin, in.end - in.begin), out);
      }
    }
  }
  if (add_special) out.insert(out.end(), suffix_ids.begin(), suffix_ids.end());
}

void TokenizerImpl::encode_normalized(std::string_view normalized, std::vector<int32_t>& out) const {
  if (pre_tokenizer.empty()) {
    encode_word(normalized, out);
    return;
  }
  std::vector<std::string_view> words{normalized}, next;
  for (const PreTokenizerStep& step : pre_tokenizer) {
    next.clear();
    for (const std::string_view w : words) split_words(w, step, next);
    words.swap(next);
  }
  for (const std::string_view w : words) encode_word(w, out);
}

void TokenizerImpl::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (kind == ModelKind::kHfBpe) {
    hf_bpe(word, out);
  } else {
    spm_bpe(word, out);
  }
}

// HF tokenizers BPE::tokenize (merge_word + Word::merge_all, no dropout).
void TokenizerImpl::hf_bpe(std::string_view w, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    const int32_t id = model_vocab.find(w);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  struct Sym {
    int32_t id, prev, next;
    bool alive;
  };
  std::vector<Sym> syms;
  syms.reserve(w.size());
  const auto add = [&syms](int32_t id) {
    const auto i = static_cast<int32_t>(syms.size());
    syms.push_back({id, i - 1, i + 1, true});
  };
  bool unk_pending = false;
  for (size_t i = 0; i < w.size();) {
    const size_t n = utf8_char_len(w, i);
    const std::string_view ch = w.substr(i, n);
    i += n;
    if (const int32_t id = model_vocab.find(ch); id >= 0) {
      if (unk_pending) add(model_unk);
      unk_pending = false;
      add(id);
      continue;
    }
    if (byte_fallback) {
      bool all = true;
      for (const char c : ch) all = all && byte_ids[static_cast<unsigned char>(c)] >= 0;
      if (all) {  // like HF, a pending unk is not flushed first
        for (const char c : ch) add(byte_ids[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (model_unk >= 0) {
      if (unk_pending && !fuse_unk) add(model_unk);
      unk_pending = true;
    }
  }
  if (unk_pending) add(model_unk);
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Cand {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  const auto worse = [](const Cand& a, const Cand& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> queue(worse);
  const auto lookup = [this](int32_t a, int32_t b, uint64_t* v) {
    return merges.find(PairTable::key(a, b), v);
  };
  const auto push = [&](int32_t pos, uint64_t v) {
    queue.push({static_cast<uint32_t>(v >> 32), pos, static_cast<int32_t>(v & 0xFFFFFFFFu)});
  };
  uint64_t v = 0;
  for (size_t i = 0; i + 1 < syms.size(); ++i)
    if (lookup(syms[i].id, syms[i + 1].id, &v)) push(static_cast<int32_t>(i), v);
  while (!queue.empty()) {
    const Cand top = queue.top();
    queue.pop();
    Sym& s = syms[static_cast<size_t>(top.pos)];
    if (!s.alive || s.next < 0) continue;
    Sym& r = syms[static_cast<size_t>(s.next)];
    if (!lookup(s.id, r.id, &v) || static_cast<int32_t>(v & 0xFFFFFFFFu) != top.new_id) continue;
    s.id = top.new_id;
    r.alive = false;
    s.next = r.next;
    if (s.next >= 0) syms[static_cast<size_t>(s.next)].prev = top.pos;
    if (s.prev >= 0 && lookup(syms[static_cast<size_t>(s.prev)].id, s.id, &v)) push(s.prev, v);
    if (s.next >= 0 && lookup(s.id, syms[static_cast<size_t>(s.next)].id, &v)) push(top.pos, v);
  }
  for (const Sym& s : syms)
    if (s.alive) out.push_back(s.id);
}

// SentencePiece bpe_model.cc Model::Encode (merge the adjacent pair whose concatenation is a
// piece with the highest score, leftmost first), then byte fallback for unknown pieces.
void TokenizerImpl::spm_bpe(std::string_view text, std::vector<int32_t>& out) const {
  struct Sym {
    uint32_t begin, len;
    int32_t prev, next;
  };
  std::vector<Sym> syms;
  syms.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_char_len(text, i);
    const auto idx = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n), idx - 1, idx + 1});
    i += n;
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Pair {
    float score;
    int32_t left, right;
    uint32_t size;
  };
  const auto worse = [](const Pair& a, const Pair& b) { return a.score != b.score ? a.score < b.score : a.left > b.left; };
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;
  const auto piece_of = [&](const Sym& s) { return text.substr(s.begin, s.len); };
  const auto maybe_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const Sym& a = syms[static_cast<size_t>(l)];
    const Sym& b = syms[static_cast<size_t>(r)];
    const std::string_view piece = text.substr(a.begin, a.len + b.len);
    const int32_t id = model_vocab.find(piece);
    if (id < 0) return;
    agenda.push({scores[static_cast<size_t>(id)], l, r, a.len + b.len});
    if (unused[static_cast<size_t>(id)]) rev_merge[piece] = {piece_of(a), piece_of(b)};
  };
  for (size_t i = 1; i < syms.size(); ++i) maybe_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Sym& l = syms[static_cast<size_t>(top.left)];
    Sym& r = syms[static_cast<size_t>(top.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != top.size) continue;
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = top.left;
    r.len = 0;
    maybe_add(l.prev, top.left);
    maybe_add(top.left, l.next);
  }
  const std::function<void(std::string_view)> resegment = [&](std::string_view w) {
    const int32_t id = model_vocab.find(w);
    if (id < 0) {
      if (byte_fallback) {
        for (const char c : w) {
          const int32_t b = byte_ids[static_cast<unsigned char>(c)];
          if (b >= 0) {
            out.push_back(b);
          } else if (unk >= 0) {
            out.push_back(unk);
          }
        }
      } else if (unk >= 0) {
        out.push_back(unk);
      }
      return;
    }
    if (unused[static_cast<size_t>(id)]) {
      const auto rm = rev_merge.find(w);
      if (rm != rev_merge.end()) {
        resegment(rm->second.first);
        resegment(rm->second.second);
        return;
      }
    }
    out.push_back(id);
  };
  for (int32_t i = 0; i != -1; i = syms[static_cast<size_t>(i)].next) resegment(piece_of(syms[static_cast<size_t>(i)]));
}

// ---- decoding ----------------------------------------------------------------------------------

void TokenizerImpl::check_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces.size())
    fail(source, ": token id ", id, " is outside the vocabulary [0, ", pieces.size(), ")");
}

std::string TokenizerImpl::decode(const int32_t* ids, size_t n, bool skip_special) const {
  std::string text, bytes;
  const auto flush_bytes = [&] {
    if (bytes.empty()) return;
    if (utf8_valid(bytes)) {
      text += bytes;
    } else {
      for (size_t k = 0; k < bytes.size(); ++k) text += kReplacementChar;
    }
    bytes.clear();
  };
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    check_id(id);
    const auto u = static_cast<size_t>(id);
    if (skip_special && special[u]) continue;
    if (byte_of[u] >= 0) {
      bytes += static_cast<char>(byte_of[u]);
      continue;
    }
    flush_bytes();
    text += decoded[u];
  }
  flush_bytes();
  if (!final_strip_content.empty()) {
    const std::string& c = final_strip_content;
    size_t begin = 0, end = text.size();
    for (int k = 0; k < final_strip_start && text.compare(begin, c.size(), c) == 0; ++k) begin += c.size();
    for (int k = 0; k < final_strip_stop && end - begin >= c.size() && text.compare(end - c.size(), c.size(), c) == 0; ++k)
      end -= c.size();
    text = text.substr(begin, end - begin);
  }
  return text;
}

}  // namespace detail

// ---- public API --------------------------------------------------------------------------------

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path json = fs::path(dir) / "tokenizer.json";
  const fs::path model = fs::path(dir) / "tokenizer.model";
  if (fs::is_regular_file(json)) return from_hf_json(json.string());
  if (fs::is_regular_file(model)) return from_spm_model(model.string());
  fail(dir, ": no tokenizer.json or tokenizer.model in this folder");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> out;
  impl_->encode(text, add_special, out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  return impl_->decode(ids.data(), ids.size(), skip_special);
}

std::string_view Tokenizer::piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->pieces.size()) return {};
  return impl_->pieces[static_cast<size_t>(id)];
}

int32_t Tokenizer::token_id(std::string_view p) const {
  const int32_t id = impl_->other_ids.find(p);
  return id >= 0 ? id : impl_->model_vocab.find(p);
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->pieces.size()); }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[static_cast<size_t>(id)] != 0;
}

int Tokenizer::byte_value(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->byte_of.size()) return -1;
  return impl_->byte_of[static_cast<size_t>(id)];
}

int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::unk_id() const { return impl_->unk; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
int32_t Tokenizer::eot_id() const { return impl_->eot; }

bool Tokenizer::add_bos() const {
  return impl_->bos >= 0 && std::find(impl_->prefix_ids.begin(), impl_->prefix_ids.end(), impl_->bos) != impl_->prefix_ids.end();
}

bool Tokenizer::add_eos() const {
  return impl_->eos >= 0 && std::find(impl_->suffix_ids.begin(), impl_->suffix_ids.end(), impl_->eos) != impl_->suffix_ids.end();
}

const std::string& Tokenizer::source() const { return impl_->source; }

StreamDecoder Tokenizer::stream_decoder(bool skip_special) const { return StreamDecoder(*this, skip_special); }

}  // namespace gemrt
