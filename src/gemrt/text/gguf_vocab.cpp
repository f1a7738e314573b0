#include "gemrt/text/gguf_vocab.h"

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

int32_t optional_id(const GgufFile& g, const char* key, int32_t def) {
  const GgufValue* v = g.find_meta(key);
  return v ? static_cast<int32_t>(v->as_int(key)) : def;
}

bool optional_bool(const GgufFile& g, const char* key, bool def) {
  const GgufValue* v = g.find_meta(key);
  return v ? v->as_bool(key) : def;
}

}  // namespace

Vocab vocab_from_gguf(const GgufFile& g) {
  const std::string model = g.meta("tokenizer.ggml.model").as_string("tokenizer.ggml.model");
  if (model != "llama" && model != "gemma4")
    fail(g.source(), ": tokenizer.ggml.model '", model, "' is not supported (gemrt reads SentencePiece-style ",
         "vocabularies: llama, gemma4)");
  Vocab v;
  for (std::string_view p : g.meta("tokenizer.ggml.tokens").as_string_array("tokenizer.ggml.tokens"))
    v.pieces.emplace_back(p);
  const auto n = v.pieces.size();
  if (n == 0) fail(g.source(), ": tokenizer.ggml.tokens is empty");
  if (const GgufValue* s = g.find_meta("tokenizer.ggml.scores")) {
    v.scores = s->as_float_array("tokenizer.ggml.scores");
    if (v.scores.size() != n)
      fail(g.source(), ": tokenizer.ggml.scores has ", v.scores.size(), " entries for ", n, " tokens");
  }
  if (const GgufValue* t = g.find_meta("tokenizer.ggml.token_type")) {
    for (int64_t x : t->as_int_array("tokenizer.ggml.token_type")) {
      if (x < 1 || x > 6) fail(g.source(), ": tokenizer.ggml.token_type holds unknown type ", x);
      v.types.push_back(static_cast<TokenType>(x));
    }
    if (v.types.size() != n)
      fail(g.source(), ": tokenizer.ggml.token_type has ", v.types.size(), " entries for ", n, " tokens");
  }
  v.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", -1);
  v.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", -1);
  v.unk_id = optional_id(g, "tokenizer.ggml.unknown_token_id", -1);
  v.pad_id = optional_id(g, "tokenizer.ggml.padding_token_id", -1);
  v.eot_id = optional_id(g, "tokenizer.ggml.eot_token_id", -1);
  if (v.eot_id < 0) {  // Gemma files often omit it: find the end-of-turn piece by name
    for (const char* name : {"<end_of_turn>", "<turn|>"})
      for (size_t i = 0; i < n && v.eot_id < 0; ++i)
        if (v.pieces[i] == name) v.eot_id = static_cast<int32_t>(i);
  }
  for (int32_t* id : {&v.bos_id, &v.eos_id, &v.unk_id, &v.pad_id, &v.eot_id})
    if (*id >= static_cast<int32_t>(n)) fail(g.source(), ": special token id ", *id, " is outside the ", n, "-token vocabulary");
  v.add_bos = optional_bool(g, "tokenizer.ggml.add_bos_token", true);
  v.add_eos = optional_bool(g, "tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = optional_bool(g, "tokenizer.ggml.add_space_prefix", false);
  return v;
}

std::optional<std::string> chat_template_from_gguf(const GgufFile& g) {
  const GgufValue* v = g.find_meta("tokenizer.chat_template");
  if (!v) return std::nullopt;
  return v->as_string("tokenizer.chat_template");
}

}  // namespace gemrt
