// gemrt::Vocab — a SentencePiece-style vocabulary, independent of any file format.
//
// The GGUF loader fills it from the `tokenizer.ggml.*` keys:
//   pieces            <- tokenizer.ggml.tokens          (UTF-8, '▁' U+2581 stands for a space)
//   scores            <- tokenizer.ggml.scores          (higher = merged earlier)
//   types             <- tokenizer.ggml.token_type      (llama.cpp's values equal SentencePiece's)
//   bos/eos/unk/pad   <- tokenizer.ggml.{bos,eos,unknown,padding}_token_id
//   eot_id            <- tokenizer.ggml.eot_token_id    (Gemma: <end_of_turn>)
//   add_bos/add_eos   <- tokenizer.ggml.add_{bos,eos}_token
//   add_space_prefix  <- tokenizer.ggml.add_space_prefix (false for every Gemma; llama.cpp assumes
//                        true for SentencePiece models when the key is absent — the loader decides)
// Tokenizer::from_vocab turns it into a SentencePiece-BPE tokenizer (merge by score).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemrt {

// SentencePiece's ModelProto.SentencePiece.Type (and llama.cpp's token types): same numbers.
enum class TokenType : int32_t {
  kNormal = 1,       // ordinary piece, takes part in merges
  kUnknown = 2,      // the <unk> piece
  kControl = 3,      // <bos>, <eos>, <start_of_turn> ...: special, matched in text, skippable on decode
  kUserDefined = 4,  // always one token when it appears in text (e.g. "\n\n", "<table>")
  kUnused = 5,       // reserved; may be an intermediate merge result, never an output token
  kByte = 6,         // <0xAB> byte-fallback pieces
};

struct Vocab {
  std::vector<std::string> pieces;  // id -> piece
  std::vector<float> scores;        // id -> score; empty = all 0
  std::vector<TokenType> types;     // id -> type; empty = all kNormal

  int32_t bos_id = -1;  // -1 = none
  int32_t eos_id = -1;
  int32_t unk_id = -1;  // -1: the first kUnknown piece, if any
  int32_t pad_id = -1;
  int32_t eot_id = -1;  // end of turn (Gemma <end_of_turn> / <turn|>), when known

  bool add_bos = true;            // encode(..., add_special=true) prepends bos_id
  bool add_eos = false;           // ... and appends eos_id
  bool add_space_prefix = false;  // SentencePiece add_dummy_prefix: '▁' before each text segment
};

}  // namespace gemrt
