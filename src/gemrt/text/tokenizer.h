// gemrt::Tokenizer — Gemma's tokenizers, exact against Hugging Face.
//
// Three sources, one behaviour:
//   * from_hf_json:    a Hugging Face tokenizer.json (BPE model with merge ranks, byte fallback,
//                      added tokens), plus tokenizer_config.json beside it when present
//                      (add_bos_token / add_eos_token, bos/eos/pad token names).
//   * from_spm_model:  a SentencePiece tokenizer.model (BPE by score, read without protobuf).
//   * from_vocab:      a Vocab (the GGUF loader's tokenizer.ggml.* keys), SentencePiece BPE.
//
// Encoding follows HF: added/special tokens are found in the raw text first (leftmost-longest;
// for a Vocab or tokenizer.model: control, user-defined and unknown pieces), the text between
// them is normalized (' ' -> '▁'), pre-tokenized and run through BPE; characters outside the
// vocabulary fall back to <0xAB> byte pieces. Decoding follows the tokenizer.json decoder (Gemma:
// '▁' -> ' ', byte pieces -> bytes, fuse); a run of byte pieces that is not valid UTF-8 becomes one
// U+FFFD per byte, as HF does.
//
// A Tokenizer is immutable after loading and cheap to copy (shared state); all methods are
// thread-safe. Every error is a gemrt::Error naming the file (and field) at fault.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gemrt/text/vocab.h"

namespace gemrt {

namespace detail {
struct TokenizerImpl;
}

class StreamDecoder;

class Tokenizer {
 public:
  // Hugging Face tokenizer.json; reads tokenizer_config.json from the same folder if it exists.
  static Tokenizer from_hf_json(const std::string& tokenizer_json_path);
  // SentencePiece tokenizer.model (BPE type only); reads tokenizer_config.json beside it for
  // add_bos_token / add_eos_token when present (default: add BOS, as HF's Gemma tokenizers).
  static Tokenizer from_spm_model(const std::string& model_path);
  // A vocabulary read from elsewhere (GGUF). `source` names it in error messages.
  static Tokenizer from_vocab(const Vocab& vocab, const std::string& source = "vocab");
  // DIR/tokenizer.json if present, else DIR/tokenizer.model; fails naming DIR if neither exists.
  static Tokenizer from_dir(const std::string& dir);

  // Token ids of `text`. add_special: add BOS (and EOS if configured), like HF's
  // add_special_tokens=True. Special tokens written in the text are always recognized.
  std::vector<int32_t> encode(std::string_view text, bool add_special) const;
  // Text of `ids`; skip_special drops special tokens (HF skip_special_tokens). Throws on an id
  // outside [0, vocab_size()).
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The vocabulary entry of `id` as stored ('▁' for spaces, "<0x0A>" for byte pieces); empty
  // for an id outside the vocabulary.
  std::string_view piece(int32_t id) const;
  // Id of an exact piece (added tokens first, then the model's vocabulary), or -1.
  int32_t token_id(std::string_view piece) const;
  // One past the largest id (HF len(tokenizer)).
  int32_t vocab_size() const;
  // Special tokens: HF `special` added tokens, or control/unknown pieces. decode skips them
  // when skip_special is set.
  bool is_special(int32_t id) const;
  // Whether `id` is a <0xAB> byte-fallback piece (then byte_value holds the byte), else -1.
  int byte_value(int32_t id) const;

  // Special ids, -1 when the tokenizer has none. For a tokenizer.json these follow
  // tokenizer_config.json (bos_token, eos_token, pad_token; Gemma 3 instruct ships
  // eos_token = "<end_of_turn>") and the model's unk_token; eot_id is <end_of_turn> (or Gemma 4's
  // <turn|>) when the vocabulary has it.
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;
  int32_t eot_id() const;
  // Whether encode(..., add_special=true) prepends BOS / appends EOS.
  bool add_bos() const;
  bool add_eos() const;

  // The file (or Vocab source) this tokenizer was read from.
  const std::string& source() const;

  // A decoder that turns ids into text one at a time (see stream_decoder.h).
  StreamDecoder stream_decoder(bool skip_special = false) const;

 private:
  explicit Tokenizer(std::shared_ptr<const detail::TokenizerImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::TokenizerImpl> impl_;
  friend class StreamDecoder;
};

}  // namespace gemrt
