// Tokenizer and StreamDecoder tests: the Gemma 3 tokenizer.json against HF's outputs in
// ../shared/fixtures/tokenizer/gemma3/cases.json, the SentencePiece/Vocab path over the same cases,
// a hand-made tokenizer.model, streaming detokenization and error messages.
#include "gemrt/text/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <limits>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"
#include "gemrt/text/stream_decoder.h"
#include "gemrt/text/vocab.h"
#include "test_util.h"

namespace gemrt {
namespace {

using nlohmann::json;

std::string gemma3_dir() { return test::shared_fixtures() + "/tokenizer/gemma3"; }

const json& gemma3_json() {
  static const json j = read_json_file(gemma3_dir() + "/tokenizer.json");
  return j;
}

const json& cases() {
  static const json j = read_json_file(gemma3_dir() + "/cases.json");
  return j;
}

double load_seconds = 0.0;

const Tokenizer& gemma3() {
  static const Tokenizer t = [] {
    const auto t0 = std::chrono::steady_clock::now();
    Tokenizer tok = Tokenizer::from_hf_json(gemma3_dir() + "/tokenizer.json");
    load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return tok;
  }();
  return t;
}

// A GGUF-style Vocab built from the same tokenizer.json. Types: HF special added tokens ->
// control (<unk> -> unknown), other added tokens -> user defined, <0xAB> -> byte, else normal.
// Scores: Gemma's tokenizer.json BPE carries merge ranks, not SentencePiece scores, so each piece
// gets score = -(rank of the first merge that creates it); pieces no merge creates get 0 (single
// characters, which never compete as merge results). Merging by highest score then reproduces
// merging by lowest rank.
Vocab gemma3_vocab() {
  const json& j = gemma3_json();
  const json& model = j.at("model");
  Vocab v;
  size_t n = 0;
  for (const auto& [piece, id] : model.at("vocab").items()) n = std::max(n, id.get<size_t>() + 1);
  for (const json& a : j.at("added_tokens")) n = std::max(n, a.at("id").get<size_t>() + 1);
  v.pieces.resize(n);
  v.types.assign(n, TokenType::kNormal);
  v.scores.assign(n, 0.0f);
  for (const auto& [piece, id] : model.at("vocab").items()) {
    const auto i = id.get<size_t>();
    v.pieces[i] = piece;
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece[5] == '>') v.types[i] = TokenType::kByte;
  }
  std::unordered_map<std::string, int32_t> piece_id;
  for (const auto& [piece, id] : model.at("vocab").items()) piece_id[piece] = id.get<int32_t>();
  std::vector<bool> scored(n, false);
  const json& merges = model.at("merges");
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string merged = merges[rank][0].get<std::string>() + merges[rank][1].get<std::string>();
    const auto i = static_cast<size_t>(piece_id.at(merged));
    if (!scored[i]) v.scores[i] = -static_cast<float>(rank);
    scored[i] = true;
  }
  for (const json& a : j.at("added_tokens")) {
    const auto i = a.at("id").get<size_t>();
    v.pieces[i] = a.at("content").get<std::string>();
    v.types[i] = a.at("special").get<bool>() ? TokenType::kControl : TokenType::kUserDefined;
  }
  v.types[3] = TokenType::kUnknown;
  v.bos_id = 2;
  v.eos_id = 1;
  v.unk_id = 3;
  v.pad_id = 0;
  v.add_bos = true;
  v.add_space_prefix = false;
  return v;
}

const Tokenizer& gemma3_spm() {
  static const Tokenizer t = Tokenizer::from_vocab(gemma3_vocab(), "gemma3 vocab");
  return t;
}

std::vector<int32_t> ids_of(const json& a) { return a.get<std::vector<int32_t>>(); }

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- Gemma 3 tokenizer.json --------------------------------------------------------------------

TEST(TokenizerHf, LoadsGemma3) {
  const Tokenizer& t = gemma3();
  std::printf("tokenizer.json loaded in %.2f s\n", load_seconds);
  EXPECT_EQ(t.vocab_size(), 262145);  // 262144 pieces + <image_soft_token>
  EXPECT_EQ(t.bos_id(), 2);
  EXPECT_EQ(t.eos_id(), 106);  // tokenizer_config.json: eos_token = <end_of_turn>
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 3);
  EXPECT_EQ(t.eot_id(), 106);
  EXPECT_TRUE(t.add_bos());
  EXPECT_FALSE(t.add_eos());
  EXPECT_EQ(t.token_id("<start_of_turn>"), 105);
  EXPECT_EQ(t.token_id("<image_soft_token>"), 262144);
  EXPECT_EQ(t.token_id("<eos>"), 1);
  EXPECT_EQ(t.token_id("no such piece, surely"), -1);
  EXPECT_EQ(t.piece(105), "<start_of_turn>");
  EXPECT_EQ(t.piece(-1), "");
  EXPECT_EQ(t.piece(t.vocab_size()), "");
  EXPECT_EQ(t.byte_value(t.token_id("<0x0A>")), 0x0A);
  EXPECT_EQ(t.byte_value(105), -1);
  EXPECT_TRUE(t.is_special(2));
  EXPECT_TRUE(t.is_special(106));
  EXPECT_FALSE(t.is_special(107));  // "\n" is an added token but not special
  EXPECT_EQ(t.source(), gemma3_dir() + "/tokenizer.json");
}

TEST(TokenizerHf, MatchesHfCases) {
  const Tokenizer& t = gemma3();
  ASSERT_GE(cases().at("encodings").size(), 30u);
  for (const json& c : cases().at("encodings")) {
    const std::string text = c.at("text").get<std::string>();
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(t.encode(text, false), ids_of(c.at("ids")));
    EXPECT_EQ(t.encode(text, true), ids_of(c.at("ids_with_special")));
    const std::vector<int32_t> ids = ids_of(c.at("ids"));
    EXPECT_EQ(t.decode(ids), c.at("decoded").get<std::string>());
  }
}

TEST(TokenizerHf, SplitsSpecialTokens) {
  const Tokenizer& t = gemma3();
  const int32_t sot = t.token_id("<start_of_turn>"), eot = t.token_id("<end_of_turn>");
  const int32_t nl = t.token_id("\n"), user = t.token_id("user"), model = t.token_id("model");
  ASSERT_GE(user, 0);
  ASSERT_GE(model, 0);
  EXPECT_EQ(t.encode("<start_of_turn>user\n", false), (std::vector<int32_t>{sot, user, nl}));
  EXPECT_EQ(t.encode("<end_of_turn>\n<start_of_turn>model\n", true),
            (std::vector<int32_t>{t.bos_id(), eot, nl, sot, model, nl}));
  // Back to back, and a near miss that must not match.
  EXPECT_EQ(t.encode("<start_of_turn><end_of_turn>", false), (std::vector<int32_t>{sot, eot}));
  const std::vector<int32_t> near = t.encode("<start_of_turn", false);
  EXPECT_EQ(std::count(near.begin(), near.end(), sot), 0);
  EXPECT_EQ(t.decode(near), "<start_of_turn");
  // Added tokens are matched leftmost-longest: "\n\n\n" is one token.
  EXPECT_EQ(t.encode("\n\n\n", false), (std::vector<int32_t>{t.token_id("\n\n\n")}));
}

TEST(TokenizerHf, DecodeSkipsSpecialTokens) {
  const Tokenizer& t = gemma3();
  const std::vector<int32_t> ids = t.encode("<start_of_turn>user\nhi<end_of_turn>\n", true);
  EXPECT_EQ(t.decode(ids, false), "<bos><start_of_turn>user\nhi<end_of_turn>\n");
  EXPECT_EQ(t.decode(ids, true), "user\nhi\n");
}

TEST(TokenizerHf, DecodeInvalidByteRunAsHf) {
  const Tokenizer& t = gemma3();
  const auto b = [&](int v) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", v);
    return t.token_id(name);
  };
  // HF ByteFallback: a run that is not valid UTF-8 becomes one U+FFFD per byte (checked with
  // tokenizers 0.23: decode([<0xE3>, <0x80>, "\n", <0xF0>]) == "\uFFFD\uFFFD\n\uFFFD").
  const std::vector<int32_t> ids{b(0xE3), b(0x80), t.token_id("\n"), b(0xF0)};
  EXPECT_EQ(t.decode(ids), "\xEF\xBF\xBD\xEF\xBF\xBD\n\xEF\xBF\xBD");
  // A valid run decodes to its character.
  const std::vector<int32_t> ok{b(0xE3), b(0x80), b(0x80)};
  EXPECT_EQ(t.decode(ok), "\xE3\x80\x80");
}

TEST(TokenizerHf, DecodeRejectsOutOfRangeIds) {
  const Tokenizer& t = gemma3();
  const std::vector<int32_t> bad{5, t.vocab_size()};
  const std::string msg = error_of([&] { (void)t.decode(bad); });
  EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("262145"), std::string::npos) << msg;
  const std::vector<int32_t> neg{-1};
  EXPECT_THROW((void)t.decode(neg), Error);
}

TEST(TokenizerHf, InvalidUtf8InputFallsBackToBytes) {
  const Tokenizer& t = gemma3();
  const std::string text = "a\xFF" "b";
  const std::vector<int32_t> ids = t.encode(text, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(t.byte_value(ids[1]), 0xFF);
  EXPECT_EQ(t.encode(text, false), gemma3_spm().encode(text, false));
}

TEST(TokenizerHf, FromDirPicksTokenizerJson) {
  const Tokenizer t = Tokenizer::from_dir(gemma3_dir());
  EXPECT_EQ(t.source(), gemma3_dir() + "/tokenizer.json");
  EXPECT_EQ(t.encode("Hello, world!", true), gemma3().encode("Hello, world!", true));
}

// ---- the SentencePiece / Vocab path over the same cases ---------------------------------------

TEST(TokenizerVocab, MatchesHfCases) {
  const Tokenizer& t = gemma3_spm();
  EXPECT_EQ(t.vocab_size(), 262145);
  EXPECT_EQ(t.bos_id(), 2);
  EXPECT_EQ(t.eot_id(), 106);  // found by name
  for (const json& c : cases().at("encodings")) {
    const std::string text = c.at("text").get<std::string>();
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(t.encode(text, false), ids_of(c.at("ids")));
    EXPECT_EQ(t.encode(text, true), ids_of(c.at("ids_with_special")));
    const std::vector<int32_t> ids = ids_of(c.at("ids"));
    EXPECT_EQ(t.decode(ids), c.at("decoded").get<std::string>());
  }
}

TEST(TokenizerVocab, AgreesWithHfPathOnMoreText) {
  const std::vector<std::string> texts = {
      "Gemma is a family of lightweight, state-of-the-art open models built from the same research.",
      "   indented\n\tcode();\n\n\n\n  }\r\n",
      "naïve café résumé coöperate — “quotes” ‘single’ … ½ ¾ € £ ¥",
      "Émoji: 🧑‍🚀 👩🏾‍🔬 🏳️‍🌈 🇯🇵 ✨🎉",
      "混合テキスト with 한국어 and العربية and עברית and ไทย",
      "<start_of_turn>user\nWrite a haiku.<end_of_turn>\n<start_of_turn>model\n",
      "<table><tr><td>cell</td></tr></table> <h1>Title</h1>",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "\xE2\x96\x81\xE2\x96\x81literal markers\xE2\x96\x81",  // '▁▁' is an added token matched in raw text
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE("text: " + text);
    const std::vector<int32_t> ids = gemma3().encode(text, true);
    EXPECT_EQ(gemma3_spm().encode(text, true), ids);
    std::string spaced = text;  // decoding turns every '▁' into a space, literal ones too
    for (size_t p; (p = spaced.find("\xE2\x96\x81")) != std::string::npos;) spaced.replace(p, 3, " ");
    EXPECT_EQ(gemma3().decode(ids), "<bos>" + spaced);
    EXPECT_EQ(gemma3_spm().decode(ids), "<bos>" + spaced);
    EXPECT_EQ(gemma3_spm().decode(ids, true), gemma3().decode(ids, true));
  }
}

TEST(TokenizerVocab, RejectsInconsistentVocab) {
  Vocab v;
  v.pieces = {"a", "b"};
  v.scores = {0.0f};
  EXPECT_NE(error_of([&] { (void)Tokenizer::from_vocab(v, "model.gguf"); }).find("model.gguf"), std::string::npos);
  v.scores.clear();
  v.types = {TokenType::kNormal, TokenType::kByte};
  const std::string msg = error_of([&] { (void)Tokenizer::from_vocab(v, "model.gguf"); });
  EXPECT_NE(msg.find("model.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("<0xAB>"), std::string::npos) << msg;
  v.types.clear();
  v.bos_id = 7;
  EXPECT_NE(error_of([&] { (void)Tokenizer::from_vocab(v, "model.gguf"); }).find("bos_id"), std::string::npos);
}

// ---- a hand-made tokenizer.model ---------------------------------------------------------------

// Protobuf wire-format writer for the test.
struct Proto {
  std::string out;
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out += static_cast<char>(v);
  }
  void tag(uint32_t field, uint32_t wire) { varint((static_cast<uint64_t>(field) << 3) | wire); }
  void int_field(uint32_t field, int64_t v) {
    tag(field, 0);
    varint(static_cast<uint64_t>(v));
  }
  void bytes_field(uint32_t field, const std::string& s) {
    tag(field, 2);
    varint(s.size());
    out += s;
  }
  void float_field(uint32_t field, float f) {
    tag(field, 5);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int k = 0; k < 4; ++k) out += static_cast<char>((u >> (8 * k)) & 0xFF);
  }
};

struct SpmPiece {
  std::string piece;
  float score;
  int type;
};

std::string spm_model(const std::vector<SpmPiece>& pieces, int model_type, bool dummy_prefix, int64_t pad_id) {
  Proto m;
  for (const SpmPiece& p : pieces) {
    Proto sp;
    sp.bytes_field(1, p.piece);
    sp.float_field(2, p.score);
    if (p.type != 1) sp.int_field(3, p.type);
    m.bytes_field(1, sp.out);
  }
  Proto trainer;
  trainer.int_field(3, model_type);
  trainer.int_field(35, 1);  // byte_fallback
  trainer.int_field(40, 3);  // unk_id
  trainer.int_field(41, 2);  // bos_id
  trainer.int_field(42, 1);  // eos_id
  trainer.int_field(43, pad_id);
  trainer.bytes_field(1, "ignored input name");  // a field the reader skips
  m.bytes_field(2, trainer.out);
  Proto norm;
  norm.bytes_field(1, "identity");
  if (!dummy_prefix) norm.int_field(3, 0);  // absent: proto default true
  norm.int_field(4, 0);                     // remove_extra_whitespaces
  m.bytes_field(3, norm.out);
  return m.out;
}

std::vector<SpmPiece> tiny_pieces() {
  std::vector<SpmPiece> p = {
      {"<pad>", 0, 3},  {"<eos>", 0, 3},   {"<bos>", 0, 3},   {"<unk>", 0, 2},  {"a", 0, 1},
      {"b", 0, 1},      {"c", 0, 1},       {"\xE2\x96\x81", 0, 1},
      {"ab", -1, 1},    {"abc", -2, 1},    {"bc", -3, 1},     {"\xE2\x96\x81" "a", -4, 1},
      {"<tag>", 0, 4},  {"x", 0, 1},       {"y", 0, 1},       {"z", 0, 1},      {"xy", -0.5f, 5},
      {"xyz", -0.6f, 1},
  };
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    p.push_back({name, 0, 6});
  }
  return p;
}

TEST(TokenizerSpmModel, ReadsHandMadeModel) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer.model"), spm_model(tiny_pieces(), 2, false, 0));
  const Tokenizer t = Tokenizer::from_spm_model(dir.file("tokenizer.model"));
  EXPECT_EQ(t.vocab_size(), 18 + 256);
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_EQ(t.bos_id(), 2);
  EXPECT_EQ(t.unk_id(), 3);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.piece(8), "ab");
  EXPECT_EQ(t.token_id("abc"), 9);
  EXPECT_EQ(t.token_id("<0x41>"), 18 + 0x41);
  using V = std::vector<int32_t>;
  EXPECT_EQ(t.encode("abc", false), (V{9}));      // ab (-1) first, then abc (-2)
  EXPECT_EQ(t.encode("cab", false), (V{6, 8}));   // c ab
  EXPECT_EQ(t.encode("a bc", false), (V{4, 7, 10}));  // a ▁ bc: no dummy prefix
  EXPECT_EQ(t.encode("a\xC3\xA9", false), (V{4, 18 + 0xC3, 18 + 0xA9}));  // é -> bytes
  EXPECT_EQ(t.encode("<tag>a<bos>", true), (V{2, 12, 4, 2}));  // user-defined and control matched
  EXPECT_EQ(t.encode("xy", false), (V{13, 14}));   // unused "xy" is resegmented
  EXPECT_EQ(t.encode("xyz", false), (V{17}));      // ... but can be an intermediate merge
  EXPECT_EQ(t.decode(t.encode("a bc<tag>\xC3\xA9", true)), "<bos>a bc<tag>\xC3\xA9");
  EXPECT_EQ(t.decode(t.encode("a bc<tag>", true), true), "a bc<tag>");  // <tag> is not special
}

TEST(TokenizerSpmModel, DummyPrefixAndNegativeIds) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer.model"), spm_model(tiny_pieces(), 2, true, -1));
  const Tokenizer t = Tokenizer::from_spm_model(dir.file("tokenizer.model"));
  EXPECT_EQ(t.pad_id(), -1);  // a 10-byte varint
  using V = std::vector<int32_t>;
  EXPECT_EQ(t.encode("ab", false), (V{7, 8}));  // "▁ab": ab (-1) beats ▁a (-4)
  EXPECT_EQ(t.encode("a", false), (V{11}));     // "▁a"
  EXPECT_EQ(t.decode(t.encode("ab c", true), true), "ab c");  // the dummy prefix's space is dropped
  StreamDecoder s(t, true);
  std::string streamed;
  for (const int32_t id : t.encode("ab c", true)) streamed += s.push(id);
  streamed += s.flush();
  EXPECT_EQ(streamed, "ab c");
}

TEST(TokenizerSpmModel, ReadsTokenizerConfigBeside) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer.model"), spm_model(tiny_pieces(), 2, false, 0));
  test::write_text(dir.file("tokenizer_config.json"), R"({"add_bos_token": false, "add_eos_token": true, "eos_token": "<tag>"})");
  const Tokenizer t = Tokenizer::from_dir(dir.path().string());
  EXPECT_EQ(t.source(), dir.file("tokenizer.model"));
  EXPECT_EQ(t.eos_id(), 12);
  EXPECT_EQ(t.encode("a", true), (std::vector<int32_t>{4, 12}));
}

TEST(TokenizerSpmModel, Errors) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.model");
  test::write_text(path, spm_model(tiny_pieces(), 1, false, 0));
  std::string msg = error_of([&] { (void)Tokenizer::from_spm_model(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("unigram"), std::string::npos) << msg;

  std::string truncated = spm_model(tiny_pieces(), 2, false, 0);
  truncated.resize(truncated.size() - 3);  // cuts the last field short
  test::write_text(path, truncated);
  msg = error_of([&] { (void)Tokenizer::from_spm_model(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a valid SentencePiece model"), std::string::npos) << msg;

  msg = error_of([&] { (void)Tokenizer::from_spm_model(dir.file("missing.model")); });
  EXPECT_NE(msg.find("missing.model"), std::string::npos) << msg;
}

// ---- tokenizer.json errors and small configurations --------------------------------------------

TEST(TokenizerErrors, NameTheFile) {
  test::TempDir dir;
  std::string msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find(dir.file("tokenizer.json")), std::string::npos) << msg;

  test::write_text(dir.file("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", ");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find(dir.file("tokenizer.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;

  test::write_text(dir.file("tokenizer.json"), R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find(dir.file("tokenizer.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Unigram"), std::string::npos) << msg;

  const std::string base = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]},
      "decoder": {"type": "Fuse"})";
  test::write_text(dir.file("tokenizer.json"), "{" + base + R"(, "normalizer": {"type": "NFKC"}})");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find("normalizer.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NFKC"), std::string::npos) << msg;

  test::write_text(dir.file("tokenizer.json"),
                   "{" + base + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"},
                                   "behavior": "Isolated", "invert": false}})");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find("pre_tokenizer.pattern"), std::string::npos) << msg;

  test::write_text(dir.file("tokenizer.json"),
                   R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}, "decoder": {"type": "Fuse"}})");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find("model.merges[0]"), std::string::npos) << msg;

  test::write_text(dir.file("tokenizer.json"), "{" + base + R"(, "decoder": {"type": "WordPiece"}})");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find("decoder.type"), std::string::npos) << msg;

  test::write_text(dir.file("tokenizer.json"), "{" + base + "}");
  test::write_text(dir.file("tokenizer_config.json"), "{ nope");
  msg = error_of([&] { (void)Tokenizer::from_hf_json(dir.file("tokenizer.json")); });
  EXPECT_NE(msg.find(dir.file("tokenizer_config.json")), std::string::npos) << msg;

  test::TempDir empty;
  msg = error_of([&] { (void)Tokenizer::from_dir(empty.path().string()); });
  EXPECT_NE(msg.find(empty.path().string()), std::string::npos) << msg;
}

// A Llama-style configuration: Prepend + Replace normalizer, "a b" string merges, unk without
// byte fallback, a Strip decoder after Fuse, added tokens with lstrip/rstrip, template with EOS.
// Expected ids were checked against HF tokenizers 0.23 for this file.
TEST(TokenizerHf, SmallLlamaStyleConfiguration) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer.json"), R"({
    "added_tokens": [
      {"id": 0, "content": "<unk>", "special": true, "normalized": false, "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 1, "content": "<s>", "special": true, "normalized": false, "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 2, "content": "</s>", "special": true, "normalized": false, "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 9, "content": "[M]", "special": false, "normalized": false, "lstrip": true, "rstrip": true, "single_word": false}
    ],
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                                     "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": false,
      "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "h": 4, "i": 5, "▁h": 6, "▁hi": 7, "hi": 8, "[M]": 9},
      "merges": ["▁ h", "▁h i", "h i"]}
  })");
  const Tokenizer t = Tokenizer::from_hf_json(dir.file("tokenizer.json"));
  using V = std::vector<int32_t>;
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.encode("hi", true), (V{1, 7, 2}));
  EXPECT_EQ(t.encode("hi hi", false), (V{7, 7}));
  EXPECT_EQ(t.encode("hxyi", false), (V{6, 0, 5}));  // fuse_unk: "xy" is one <unk>
  EXPECT_EQ(t.encode("hi  [M]  hi", false), (V{7, 9, 7}));  // lstrip/rstrip eat the spaces
  EXPECT_EQ(t.decode(V{7, 7}), "hi hi");  // Strip drops the leading space
  StreamDecoder s = t.stream_decoder();
  std::string streamed;
  for (const int32_t id : V{7, 7}) streamed += s.push(id);
  EXPECT_EQ(streamed + s.flush(), "hi hi");
}

// ---- streaming ---------------------------------------------------------------------------------

struct Streamed {
  std::string text;
  size_t empty_pushes = 0;
  bool chunks_valid = true;
};

Streamed stream_all(const Tokenizer& t, const std::vector<int32_t>& ids, bool skip_special = false) {
  StreamDecoder s(t, skip_special);
  Streamed r;
  for (const int32_t id : ids) {
    const std::string chunk = s.push(id);
    r.chunks_valid = r.chunks_valid && valid_utf8(chunk);
    if (chunk.empty()) ++r.empty_pushes;
    r.text += chunk;
  }
  const std::string tail = s.flush();
  r.chunks_valid = r.chunks_valid && valid_utf8(tail);
  r.text += tail;
  return r;
}

TEST(StreamDecoder, ConcatenationEqualsDecode) {
  std::vector<std::string> texts = {
      "emoji 🤖🚀👍🏽 done", "🀄️ rare symbols ∑∫√∞ ≠ ≤", "ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ", "日本語のテキストです。",
      "Ünïcödé: café, naïve, Straße", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀𓁐 🫠🪿", "<start_of_turn>user\nhi 👋<end_of_turn>\n"};
  for (const json& c : cases().at("encodings")) texts.push_back(c.at("text").get<std::string>());
  size_t held = 0;
  for (const Tokenizer* t : {&gemma3(), &gemma3_spm()}) {
    for (const std::string& text : texts) {
      SCOPED_TRACE("text: " + text);
      const std::vector<int32_t> ids = t->encode(text, true);
      for (const bool skip : {false, true}) {
        const Streamed r = stream_all(*t, ids, skip);
        EXPECT_TRUE(r.chunks_valid);
        EXPECT_EQ(r.text, t->decode(ids, skip));
        held += r.empty_pushes;
      }
    }
  }
  EXPECT_GT(held, 0u);  // some characters really were spelled by several byte pieces
}

TEST(StreamDecoder, HoldsBytesUntilTheCharacterCompletes) {
  const Tokenizer& t = gemma3();
  const std::vector<int32_t> ids = t.encode("\xF0\x9F\x80\x84", false);  // 🀄 (U+1F004): byte fallback
  ASSERT_EQ(ids.size(), 4u);
  StreamDecoder s = t.stream_decoder();
  EXPECT_EQ(s.push(ids[0]), "");
  EXPECT_EQ(s.push(ids[1]), "");
  EXPECT_EQ(s.push(ids[2]), "");
  EXPECT_EQ(s.push(ids[3]), "\xF0\x9F\x80\x84");
  EXPECT_EQ(s.flush(), "");
}

TEST(StreamDecoder, FlushAndBrokenSequences) {
  const Tokenizer& t = gemma3();
  const int32_t f0 = t.token_id("<0xF0>"), x9f = t.token_id("<0x9F>"), a = t.token_id("a");
  const std::string fffd = "\xEF\xBF\xBD";
  StreamDecoder s = t.stream_decoder();
  EXPECT_EQ(s.push(f0), "");
  EXPECT_EQ(s.push(x9f), "");
  EXPECT_EQ(s.flush(), fffd + fffd);  // unfinished at the end: one U+FFFD per byte, as decode()
  EXPECT_EQ(s.push(a), "a");          // a fresh stream
  // An unfinished character interrupted by a normal piece.
  EXPECT_EQ(s.push(f0), "");
  EXPECT_EQ(s.push(a), fffd + "a");
  // A byte that cannot start a character is replaced at once.
  EXPECT_EQ(s.push(x9f), fffd);
  EXPECT_EQ(s.flush(), "");
  s.push(f0);
  s.reset();
  EXPECT_EQ(s.push(a), "a");
  EXPECT_THROW(s.push(t.vocab_size()), Error);
}

}  // namespace
}  // namespace gemrt
