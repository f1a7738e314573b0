// Internal state of gemrt::Tokenizer, shared by the loaders (tokenizer_hf.cpp, tokenizer_spm.cpp),
// the encoder/decoder (tokenizer.cpp) and StreamDecoder. Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gemrt/text/vocab.h"

namespace gemrt::detail {

// ---- UTF-8 -------------------------------------------------------------------------------------

// Length (1..4) of the well-formed UTF-8 character at the start of [p, p+n) (Unicode Table 3-7:
// no overlongs, no surrogates, nothing above U+10FFFF); 0 if the bytes there are ill-formed;
// -1 if they are a well-formed but truncated prefix of a character.
int utf8_char_status(const unsigned char* p, size_t n);
// Length of the character at s[i]: its UTF-8 length, or 1 for an ill-formed byte.
size_t utf8_char_len(std::string_view s, size_t i);
bool utf8_valid(std::string_view s);
// Code point of the well-formed character at s[i] (U+FFFD for an ill-formed byte).
char32_t utf8_decode_at(std::string_view s, size_t i);
// Start of the character that ends at s[end] (end > 0).
size_t utf8_prev_start(std::string_view s, size_t end);
// Rust's char::is_whitespace (Unicode White_Space).
bool is_unicode_whitespace(char32_t c);

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD
inline constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";      // '▁' U+2581

// ---- lookup tables -----------------------------------------------------------------------------

// Open-addressing map from strings to ids (keys copied into an arena); the first insert of a key
// wins. Faster to build and probe than std::unordered_map<std::string, int> for 262k pieces.
class PieceIndex {
 public:
  void reserve(size_t n);
  // Returns false (and keeps the old id) when the key is already present.
  bool insert(std::string_view key, int32_t id);
  // The id of `key`, or -1.
  int32_t find(std::string_view key) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    int32_t id = -1;  // -1: empty
  };
  void rehash(size_t capacity);
  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

// Open-addressing map from a (left id, right id) pair to a packed (rank, new id) value.
class PairTable {
 public:
  void reserve(size_t n);
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void insert_or_assign(uint64_t key, uint64_t value);
  bool find(uint64_t key, uint64_t* value) const;
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };
  size_t slot_of(uint64_t key) const;
  void rehash(size_t capacity);
  std::vector<Slot> slots_;
  size_t size_ = 0;
  int shift_ = 64;  // 64 - log2(capacity): the hash's top bits pick the slot
};

// Byte trie for leftmost-longest matching of added tokens (HF uses Aho-Corasick LeftmostLongest).
class TokenTrie {
 public:
  // Keeps the first value for a repeated key. Empty keys are ignored.
  void insert(std::string_view key, int32_t value);
  bool empty() const { return values_.size() <= 1; }
  // Length of the longest key starting at text[pos] (0 if none); *value receives its value.
  size_t longest_match(std::string_view text, size_t pos, int32_t* value) const;

 private:
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
  std::vector<int32_t> values_{-1};              // per node; node 0 is the root
  std::array<bool, 256> first_{};                // bytes that start some key
};

// ---- configuration -----------------------------------------------------------------------------

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool normalized = false;  // matched in the normalized text rather than the raw text
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

enum class ModelKind { kHfBpe, kSpmBpe };

struct NormalizerStep {
  enum class Kind { kReplace, kPrepend } kind = Kind::kReplace;
  std::string pattern;  // kReplace
  std::string content;  // replacement (kReplace) or prefix (kPrepend)
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {  // HF Split with a String pattern, invert = false
  std::string pattern;
  SplitBehavior behavior = SplitBehavior::kIsolated;
};

// Per-token decoder step (applied to each token before ByteFallback): HF Replace or Strip.
struct TokenDecodeStep {
  enum class Kind { kReplace, kStrip } kind = Kind::kReplace;
  std::string pattern;  // kReplace
  std::string content;  // kReplace: replacement; kStrip: the one character stripped
  int start = 0;        // kStrip
  int stop = 0;         // kStrip
};

// ---- the tokenizer -----------------------------------------------------------------------------

struct TokenizerImpl {
  std::string source;
  ModelKind kind = ModelKind::kHfBpe;

  // Per id (size = vocab size).
  std::vector<std::string> pieces;   // as stored
  std::vector<std::string> decoded;  // after the per-token decoder steps
  std::vector<int16_t> byte_of;      // byte of a ByteFallback piece, else -1
  std::vector<uint8_t> special;      // dropped by decode(skip_special)

  PieceIndex model_vocab;  // pieces the model works with (HF: model.vocab; SPM: mergeable pieces)
  PieceIndex other_ids;    // looked up first by token_id (HF: added tokens; SPM: other pieces)

  // HF BPE model.
  PairTable merges;  // (left id << 32 | right id) -> (rank << 32 | new id)
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;
  int32_t model_unk = -1;
  std::array<int32_t, 256> byte_ids{};  // id of <0xAB>, -1 if absent

  // SentencePiece BPE model.
  std::vector<float> scores;
  std::vector<uint8_t> unused;  // kUnused pieces: resegmented after merging
  bool spm_add_dummy_prefix = false;
  bool spm_remove_extra_whitespaces = false;
  bool spm_escape_whitespaces = true;

  // Added / special tokens, matched before the model runs.
  std::vector<AddedToken> added;
  TokenTrie raw_trie;         // values index `added`
  TokenTrie normalized_trie;  // tokens with normalized = true, keys normalized

  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;

  // Decoder: per-token steps, ByteFallback, Fuse, then an optional Strip of the fused text.
  std::vector<TokenDecodeStep> token_decode_steps;
  bool decode_byte_fallback = false;
  std::string final_strip_content;  // empty = none
  int final_strip_start = 0;
  int final_strip_stop = 0;

  // Post-processing (add_special).
  std::vector<int32_t> prefix_ids;
  std::vector<int32_t> suffix_ids;

  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1;

  // Loader helpers.
  // Sizes the per-id tables for `n` ids.
  void resize(size_t n);
  // Builds the tries from `added` and fills decoded/byte_of from the decoder configuration.
  void finalize();
  std::string normalize(std::string_view text) const;
  std::string apply_token_decode_steps(std::string_view piece) const;

  // Work.
  void encode(std::string_view text, bool add_special, std::vector<int32_t>& out) const;
  std::string decode(const int32_t* ids, size_t n, bool skip_special) const;
  void check_id(int32_t id) const;

 private:
  void encode_normalized(std::string_view normalized, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void hf_bpe(std::string_view word, std::vector<int32_t>& out) const;
  void spm_bpe(std::string_view text, std::vector<int32_t>& out) const;
};

// Builds a SentencePiece-BPE tokenizer from a vocabulary (shared by from_vocab and
// from_spm_model). byte_fallback: whether unknown characters become <0xAB> pieces.
std::shared_ptr<TokenizerImpl> make_spm_impl(const Vocab& vocab, const std::string& source,
                                             bool byte_fallback, bool remove_extra_whitespaces,
                                             bool escape_whitespaces);

}  // namespace gemrt::detail
