// gemrt::StreamDecoder — incremental detokenization for generation.
//
// push(id) returns the text that id completes, never half a UTF-8 character: the bytes of a
// character spelled by byte-fallback pieces (<0xF0><0x9F><0x80><0x84>) are held back until the
// character is complete. flush() ends the stream (held bytes that never completed become U+FFFD,
// one per byte, as in Tokenizer::decode) and readies the decoder for a new stream.
//
// For any ids whose runs of byte pieces are valid UTF-8 (e.g. every output of encode()), the
// concatenation of push() results and flush() equals Tokenizer::decode(ids, skip_special).
// For a run of byte pieces that is not valid UTF-8, decode() (like HF) turns the whole run into
// U+FFFD, one per byte; the stream has already emitted the complete characters before the fault,
// so it replaces only the bytes that do not form a character.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace gemrt {

namespace detail {
struct TokenizerImpl;
}

class Tokenizer;

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);

  // The complete text `id` adds (possibly empty). Throws on an id outside the vocabulary.
  std::string push(int32_t id);
  // The rest of the text; the decoder starts a new stream afterwards.
  std::string flush();
  // Drops everything held and starts a new stream.
  void reset();

 private:
  std::string emit(std::string text, bool final);

  std::shared_ptr<const detail::TokenizerImpl> impl_;
  bool skip_special_;
  std::string pending_bytes_;  // bytes of byte-fallback pieces not yet forming a character
  int strip_left_;             // leading strip budget left (decoder Strip after Fuse)
  std::string held_tail_;      // trailing strip candidates held back (decoder Strip after Fuse)
};

}  // namespace gemrt
