// SentencePiece-BPE tokenizers: Tokenizer::from_vocab (GGUF) and Tokenizer::from_spm_model
// (tokenizer.model, read from the protobuf wire format without a protobuf library).
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"
#include "gemrt/text/tokenizer.h"
#include "gemrt/text/tokenizer_impl.h"

namespace gemrt {
namespace detail {

std::shared_ptr<TokenizerImpl> make_spm_impl(const Vocab& vocab, const std::string& source, bool byte_fallback,
                                             bool remove_extra_whitespaces, bool escape_whitespaces) {
  const size_t n = vocab.pieces.size();
  if (n == 0) fail(source, ": the vocabulary is empty");
  if (!vocab.scores.empty() && vocab.scores.size() != n)
    fail(source, ": the vocabulary has ", n, " pieces but ", vocab.scores.size(), " scores");
  if (!vocab.types.empty() && vocab.types.size() != n)
    fail(source, ": the vocabulary has ", n, " pieces but ", vocab.types.size(), " token types");
  if (n > static_cast<size_t>(INT32_MAX)) fail(source, ": the vocabulary is too large");

  auto t = std::make_shared<TokenizerImpl>();
  t->source = source;
  t->kind = ModelKind::kSpmBpe;
  t->resize(n);
  t->scores.assign(n, 0.0f);
  t->unused.assign(n, 0);
  t->byte_ids.fill(-1);
  t->model_vocab.reserve(n);
  int32_t first_unknown = -1;
  bool have_bytes = false;
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    const std::string& piece = vocab.pieces[i];
    const TokenType type = vocab.types.empty() ? TokenType::kNormal : vocab.types[i];
    t->pieces[i] = piece;
    if (!vocab.scores.empty()) t->scores[i] = vocab.scores[i];
    switch (type) {
      case TokenType::kNormal:
      case TokenType::kUserDefined:
      case TokenType::kUnused:
        // SentencePiece's mergeable pieces; the first of duplicates wins.
        t->model_vocab.insert(piece, id);
        t->unused[i] = type == TokenType::kUnused ? 1 : 0;
        if (type == TokenType::kUserDefined) t->added.push_back({piece, id, false, false, false, false, false});
        break;
      case TokenType::kUnknown:
      case TokenType::kControl:
        t->other_ids.insert(piece, id);
        t->special[i] = 1;
        t->added.push_back({piece, id, true, false, false, false, false});
        if (type == TokenType::kUnknown && first_unknown < 0) first_unknown = id;
        break;
      case TokenType::kByte: {
        const bool ok = piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' &&
                        std::isxdigit(static_cast<unsigned char>(piece[3])) && std::isxdigit(static_cast<unsigned char>(piece[4]));
        if (!ok) fail(source, ": piece ", i, " \"", piece, "\" has the byte type but is not spelled <0xAB>");
        const int b = std::stoi(piece.substr(3, 2), nullptr, 16);
        if (t->byte_ids[static_cast<size_t>(b)] < 0) t->byte_ids[static_cast<size_t>(b)] = id;
        t->byte_of[i] = static_cast<int16_t>(b);
        t->other_ids.insert(piece, id);
        have_bytes = true;
        break;
      }
      default:
        fail(source, ": piece ", i, " \"", piece, "\" has token type ", static_cast<int>(type), " (expected 1..6)");
    }
  }
  const auto check = [&](int32_t id, const char* what) {
    if (id < -1 || id >= static_cast<int32_t>(n)) fail(source, ": ", what, " ", id, " is outside the vocabulary [0, ", n, ")");
    return id;
  };
  t->bos = check(vocab.bos_id, "bos_id");
  t->eos = check(vocab.eos_id, "eos_id");
  t->pad = check(vocab.pad_id, "pad_id");
  t->unk = vocab.unk_id >= 0 ? check(vocab.unk_id, "unk_id") : first_unknown;
  t->eot = check(vocab.eot_id, "eot_id");
  for (const char* name : {"<end_of_turn>", "<turn|>"}) {
    if (t->eot >= 0) break;
    t->eot = t->other_ids.find(name);
    if (t->eot < 0) t->eot = t->model_vocab.find(name);
  }
  if (vocab.add_bos) {
    if (t->bos < 0) fail(source, ": add_bos is set but the vocabulary has no BOS id");
    t->prefix_ids = {t->bos};
  }
  if (vocab.add_eos) {
    if (t->eos < 0) fail(source, ": add_eos is set but the vocabulary has no EOS id");
    t->suffix_ids = {t->eos};
  }

  t->byte_fallback = byte_fallback && have_bytes;
  t->spm_add_dummy_prefix = vocab.add_space_prefix;
  t->spm_remove_extra_whitespaces = remove_extra_whitespaces;
  t->spm_escape_whitespaces = escape_whitespaces;
  // SentencePiece decoding: '▁' -> ' ', byte pieces -> bytes, and the dummy prefix's space dropped.
  TokenDecodeStep replace;
  replace.kind = TokenDecodeStep::Kind::kReplace;
  replace.pattern = std::string(kSpaceMarker);
  replace.content = " ";
  t->token_decode_steps.push_back(replace);
  t->decode_byte_fallback = true;
  if (vocab.add_space_prefix) {
    t->final_strip_content = " ";
    t->final_strip_start = 1;
  }
  t->finalize();
  return t;
}

}  // namespace detail

namespace {

// Reader of the protobuf wire format (just what ModelProto needs).
class Wire {
 public:
  Wire(std::string_view data, const std::string& path, std::string what)
      : data_(data), path_(path), what_(std::move(what)) {}
  bool more() const { return pos_ < data_.size(); }

  void tag(uint32_t* field, uint32_t* wire_type) {
    const uint64_t v = varint();
    *field = static_cast<uint32_t>(v >> 3);
    *wire_type = static_cast<uint32_t>(v & 7);
    if (*field == 0) bad("field number 0");
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) bad("truncated varint");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    bad("varint longer than 10 bytes");
  }
  std::string_view bytes() {
    const uint64_t len = varint();
    if (len > data_.size() - pos_) bad("length-delimited field runs past the end");
    const std::string_view s = data_.substr(pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  uint32_t fixed32() {
    if (data_.size() - pos_ < 4) bad("truncated fixed32");
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v |= static_cast<uint32_t>(static_cast<unsigned char>(data_[pos_ + k])) << (8 * k);
    pos_ += 4;
    return v;
  }
  float float32() {
    const uint32_t u = fixed32();
    float f;
    static_assert(sizeof(f) == sizeof(u));
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1:
        if (data_.size() - pos_ < 8) bad("truncated fixed64");
        pos_ += 8;
        break;
      case 2: bytes(); break;
      case 5: fixed32(); break;
      default: bad("unsupported wire type " + std::to_string(wire_type));
    }
  }
  void expect(uint32_t wire_type, uint32_t want, const char* field) {
    if (wire_type != want)
      bad(std::string(field) + " has wire type " + std::to_string(wire_type) + ", expected " + std::to_string(want));
  }
  [[noreturn]] void bad(const std::string& msg) const {
    fail(path_, ": not a valid SentencePiece model (", what_, ": ", msg, " at byte ", pos_, ")");
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  const std::string& path_;
  std::string what_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (does the file exist?)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Tokenizer Tokenizer::from_vocab(const Vocab& vocab, const std::string& source) {
  return Tokenizer(detail::make_spm_impl(vocab, source, /*byte_fallback=*/true,
                                         /*remove_extra_whitespaces=*/false, /*escape_whitespaces=*/true));
}

Tokenizer Tokenizer::from_spm_model(const std::string& path) {
  const std::string data = read_file(path);
  Vocab vocab;
  // TrainerSpec / NormalizerSpec defaults from sentencepiece_model.proto.
  int64_t model_type = 1;  // UNIGRAM
  bool byte_fallback = false;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
  std::string normalizer_name;
  size_t charsmap_size = 0;

  Wire model(data, path, "ModelProto");
  while (model.more()) {
    uint32_t field = 0, wt = 0;
    model.tag(&field, &wt);
    if (field == 1) {  // repeated SentencePiece pieces
      model.expect(wt, 2, "pieces");
      Wire sp(model.bytes(), path, "pieces[" + std::to_string(vocab.pieces.size()) + "]");
      std::string piece;
      float score = 0.0f;
      int64_t type = 1;
      while (sp.more()) {
        uint32_t f = 0, w = 0;
        sp.tag(&f, &w);
        if (f == 1) {
          sp.expect(w, 2, "piece");
          piece = std::string(sp.bytes());
        } else if (f == 2) {
          sp.expect(w, 5, "score");
          score = sp.float32();
        } else if (f == 3) {
          sp.expect(w, 0, "type");
          type = static_cast<int64_t>(sp.varint());
        } else {
          sp.skip(w);
        }
      }
      if (type < 1 || type > 6)
        fail(path, ": pieces[", vocab.pieces.size(), "] \"", piece, "\" has type ", type, " (expected 1..6)");
      vocab.pieces.push_back(std::move(piece));
      vocab.scores.push_back(score);
      vocab.types.push_back(static_cast<TokenType>(type));
    } else if (field == 2) {  // TrainerSpec
      model.expect(wt, 2, "trainer_spec");
      Wire ts(model.bytes(), path, "trainer_spec");
      while (ts.more()) {
        uint32_t f = 0, w = 0;
        ts.tag(&f, &w);
        if (w == 0 && (f == 3 || f == 35 || (f >= 40 && f <= 43))) {
          const auto v = static_cast<int64_t>(ts.varint());  // int32 fields: negatives are 10-byte varints
          if (f == 3) model_type = v;
          if (f == 35) byte_fallback = v != 0;
          if (f == 40) unk_id = static_cast<int32_t>(v);
          if (f == 41) bos_id = static_cast<int32_t>(v);
          if (f == 42) eos_id = static_cast<int32_t>(v);
          if (f == 43) pad_id = static_cast<int32_t>(v);
        } else {
          ts.skip(w);
        }
      }
    } else if (field == 3) {  // NormalizerSpec
      model.expect(wt, 2, "normalizer_spec");
      Wire ns(model.bytes(), path, "normalizer_spec");
      while (ns.more()) {
        uint32_t f = 0, w = 0;
        ns.tag(&f, &w);
        if (f == 1 && w == 2) {
          normalizer_name = std::string(ns.bytes());
        } else if (f == 2 && w == 2) {
          charsmap_size = ns.bytes().size();
        } else if (f >= 3 && f <= 5 && w == 0) {
          const bool v = ns.varint() != 0;
          if (f == 3) add_dummy_prefix = v;
          if (f == 4) remove_extra_whitespaces = v;
          if (f == 5) escape_whitespaces = v;
        } else {
          ns.skip(w);
        }
      }
    } else {
      model.skip(wt);
    }
  }
  if (vocab.pieces.empty()) fail(path, ": not a SentencePiece model (no pieces)");
  if (model_type != 2) {
    const char* names[] = {"?", "unigram", "bpe", "word", "char"};
    fail(path, ": trainer_spec.model_type is ", (model_type >= 1 && model_type <= 4) ? names[model_type] : "unknown",
         " (", model_type, "); only BPE SentencePiece models are supported");
  }
  if (charsmap_size > 0)
    fail(path, ": normalizer_spec \"", normalizer_name, "\" has a precompiled_charsmap (", charsmap_size,
         " bytes); only the identity normalizer is supported");

  const auto n = static_cast<int64_t>(vocab.pieces.size());
  const auto in_range = [n](int64_t id) { return id >= 0 && id < n ? static_cast<int32_t>(id) : -1; };
  vocab.unk_id = in_range(unk_id);
  vocab.bos_id = in_range(bos_id);
  vocab.eos_id = in_range(eos_id);
  vocab.pad_id = in_range(pad_id);
  vocab.add_space_prefix = add_dummy_prefix;
  vocab.add_bos = true;  // HF's SentencePiece-based Gemma/Llama tokenizers add BOS by default
  vocab.add_eos = false;

  // tokenizer_config.json beside the model (HF): add_bos_token / add_eos_token, token names.
  namespace fs = std::filesystem;
  const std::string cfg_path = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  if (fs::is_regular_file(cfg_path)) {
    const nlohmann::json cfg = read_json_file(cfg_path);
    if (!cfg.is_object()) fail(cfg_path, ": the top level is not an object");
    const auto flag = [&](const char* key, bool* out) {
      const auto it = cfg.find(key);
      if (it == cfg.end() || it->is_null()) return;
      if (!it->is_boolean()) fail(cfg_path, ": field ", key, " must be true or false");
      *out = it->get<bool>();
    };
    flag("add_bos_token", &vocab.add_bos);
    flag("add_eos_token", &vocab.add_eos);
    const auto name_to_id = [&](const char* key, int32_t* out) {
      const auto it = cfg.find(key);
      if (it == cfg.end()) return;
      if (it->is_null()) {
        *out = -1;
        return;
      }
      std::string name;
      if (it->is_string()) {
        name = it->get<std::string>();
      } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        name = (*it)["content"].get<std::string>();
      } else {
        fail(cfg_path, ": field ", key, " must be a string or {\"content\": ...}");
      }
      for (size_t i = 0; i < vocab.pieces.size(); ++i) {
        if (vocab.pieces[i] == name) {
          *out = static_cast<int32_t>(i);
          return;
        }
      }
      fail(cfg_path, ": field ", key, " \"", name, "\" is not in the vocabulary of ", path);
    };
    name_to_id("bos_token", &vocab.bos_id);
    name_to_id("eos_token", &vocab.eos_id);
    name_to_id("pad_token", &vocab.pad_id);
    name_to_id("unk_token", &vocab.unk_id);
  }
  return Tokenizer(detail::make_spm_impl(vocab, path, byte_fallback, remove_extra_whitespaces, escape_whitespaces));
}

}  // namespace gemrt
