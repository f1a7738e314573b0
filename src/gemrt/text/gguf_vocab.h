// Tokenizer data from GGUF metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`).
#pragma once

#include <optional>
#include <string>

#include "gemrt/io/gguf.h"
#include "gemrt/text/vocab.h"

namespace gemrt {

// Reads the SentencePiece-style vocabulary (tokenizer.ggml.model "llama" or "gemma4"; arrays
// tokens / scores / token_type, special ids, add_bos / add_eos / add_space_prefix).
// Throws naming the file and key when the vocabulary is missing or inconsistent.
Vocab vocab_from_gguf(const GgufFile& gguf);

// tokenizer.chat_template, if the file has one.
std::optional<std::string> chat_template_from_gguf(const GgufFile& gguf);

}  // namespace gemrt
