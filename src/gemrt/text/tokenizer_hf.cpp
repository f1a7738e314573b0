// Tokenizer::from_hf_json: a Hugging Face tokenizer.json (+ tokenizer_config.json beside it).
//
// Supported configuration (anything else is refused with an error naming the file and field):
//   model          BPE (vocab, merges as ["a","b"] pairs or "a b" strings, unk_token, byte_fallback,
//                  fuse_unk, ignore_merges; no dropout, no continuing_subword_prefix /
//                  end_of_word_suffix)
//   normalizer     null, Replace (String pattern), Prepend, Sequence of these
//   pre_tokenizer  null, Split (String pattern, invert false, any behavior), Sequence of these
//   decoder        Sequence of: Replace / Strip steps, then ByteFallback, then Fuse, then a Strip
//   post_processor null or TemplateProcessing (its "single" template)
#include <algorithm>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"
#include "gemrt/text/tokenizer.h"
#include "gemrt/text/tokenizer_impl.h"

namespace gemrt {

using nlohmann::json;
using detail::TokenizerImpl;

namespace {

std::string type_name(const json& j) { return j.is_string() ? "\"" + j.get<std::string>() + "\"" : j.dump(); }

const json* find(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool get_bool(const std::string& path, const json& obj, const char* key, bool def, const std::string& where) {
  const json* v = find(obj, key);
  if (v == nullptr || v->is_null()) return def;
  if (!v->is_boolean()) fail(path, ": field ", where, key, " must be true or false, got ", v->dump());
  return v->get<bool>();
}

std::string get_string(const std::string& path, const json& obj, const char* key, const std::string& where) {
  const json* v = find(obj, key);
  if (v == nullptr || !v->is_string()) fail(path, ": field ", where, key, " must be a string");
  return v->get<std::string>();
}

int get_int(const std::string& path, const json& obj, const char* key, const std::string& where) {
  const json* v = find(obj, key);
  if (v == nullptr || !v->is_number_integer()) fail(path, ": field ", where, key, " must be an integer");
  return v->get<int>();
}

// A component's "type" tag.
std::string component_type(const std::string& path, const json& j, const std::string& where) {
  const json* t = find(j, "type");
  if (t == nullptr || !t->is_string()) fail(path, ": field ", where, ".type is missing");
  return t->get<std::string>();
}

// {"String": s} patterns only (HF also allows {"Regex": r}).
std::string string_pattern(const std::string& path, const json& j, const std::string& where) {
  const json* p = find(j, "pattern");
  if (p != nullptr) {
    if (const json* s = find(*p, "String"); s != nullptr && s->is_string()) return s->get<std::string>();
    if (find(*p, "Regex") != nullptr)
      fail(path, ": field ", where, ".pattern is a Regex; only String patterns are supported");
  }
  fail(path, ": field ", where, ".pattern must be {\"String\": ...}");
}

void parse_normalizer(const std::string& path, const json& j, const std::string& where, TokenizerImpl& t) {
  if (j.is_null()) return;
  const std::string type = component_type(path, j, where);
  if (type == "Sequence") {
    const json* list = find(j, "normalizers");
    if (list == nullptr || !list->is_array()) fail(path, ": field ", where, ".normalizers must be an array");
    for (size_t i = 0; i < list->size(); ++i) parse_normalizer(path, (*list)[i], where + ".normalizers[" + std::to_string(i) + "]", t);
  } else if (type == "Replace") {
    detail::NormalizerStep step;
    step.kind = detail::NormalizerStep::Kind::kReplace;
    step.pattern = string_pattern(path, j, where);
    if (step.pattern.empty()) fail(path, ": field ", where, ".pattern is empty");
    step.content = get_string(path, j, "content", where + ".");
    t.normalizer.push_back(std::move(step));
  } else if (type == "Prepend") {
    detail::NormalizerStep step;
    step.kind = detail::NormalizerStep::Kind::kPrepend;
    step.content = get_string(path, j, "prepend", where + ".");
    t.normalizer.push_back(std::move(step));
  } else {
    fail(path, ": field ", where, ".type is \"", type,
         "\", which is not supported (supported normalizers: Replace with a String pattern, Prepend, Sequence)");
  }
}

void parse_pre_tokenizer(const std::string& path, const json& j, const std::string& where, TokenizerImpl& t) {
  if (j.is_null()) return;
  const std::string type = component_type(path, j, where);
  if (type == "Sequence") {
    const json* list = find(j, "pretokenizers");
    if (list == nullptr || !list->is_array()) fail(path, ": field ", where, ".pretokenizers must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      parse_pre_tokenizer(path, (*list)[i], where + ".pretokenizers[" + std::to_string(i) + "]", t);
  } else if (type == "Split") {
    detail::PreTokenizerStep step;
    step.pattern = string_pattern(path, j, where);
    if (get_bool(path, j, "invert", false, where + "."))
      fail(path, ": field ", where, ".invert is true, which is not supported");
    const std::string b = get_string(path, j, "behavior", where + ".");
    using B = detail::SplitBehavior;
    if (b == "Removed") {
      step.behavior = B::kRemoved;
    } else if (b == "Isolated") {
      step.behavior = B::kIsolated;
    } else if (b == "MergedWithPrevious") {
      step.behavior = B::kMergedWithPrevious;
    } else if (b == "MergedWithNext") {
      step.behavior = B::kMergedWithNext;
    } else if (b == "Contiguous") {
      step.behavior = B::kContiguous;
    } else {
      fail(path, ": field ", where, ".behavior is \"", b, "\", which is not a Split behavior");
    }
    t.pre_tokenizer.push_back(std::move(step));
  } else {
    fail(path, ": field ", where, ".type is \"", type,
         "\", which is not supported (supported pre-tokenizers: Split with a String pattern, Sequence)");
  }
}

// Flattens the decoder into steps and checks the supported shape:
// [Replace|Strip]* [ByteFallback] [Fuse [Strip]].
void parse_decoder(const std::string& path, const json& j, TokenizerImpl& t) {
  if (j.is_null()) fail(path, ": field decoder is null; a decoder (e.g. Replace, ByteFallback, Fuse) is required");
  std::vector<std::pair<const json*, std::string>> steps;
  if (component_type(path, j, "decoder") == "Sequence") {
    const json* list = find(j, "decoders");
    if (list == nullptr || !list->is_array()) fail(path, ": field decoder.decoders must be an array");
    for (size_t i = 0; i < list->size(); ++i) steps.emplace_back(&(*list)[i], "decoder.decoders[" + std::to_string(i) + "]");
  } else {
    steps.emplace_back(&j, "decoder");
  }
  enum Stage { kTokens, kAfterByteFallback, kAfterFuse, kDone } stage = kTokens;
  for (const auto& [step, where] : steps) {
    const std::string type = component_type(path, *step, where);
    const auto unsupported_order = [&] {
      fail(path, ": field ", where, ".type is \"", type,
           "\" at a position that is not supported (supported decoder: Replace/Strip steps, then ByteFallback, then "
           "Fuse, then Strip)");
    };
    if (type == "Replace") {
      if (stage != kTokens) unsupported_order();
      detail::TokenDecodeStep s;
      s.kind = detail::TokenDecodeStep::Kind::kReplace;
      s.pattern = string_pattern(path, *step, where);
      s.content = get_string(path, *step, "content", where + ".");
      t.token_decode_steps.push_back(std::move(s));
    } else if (type == "Strip") {
      const std::string content = get_string(path, *step, "content", where + ".");
      if (content.empty() || detail::utf8_char_len(content, 0) != content.size())
        fail(path, ": field ", where, ".content must be one character");
      const int start = get_int(path, *step, "start", where + ".");
      const int stop = get_int(path, *step, "stop", where + ".");
      if (start < 0 || stop < 0) fail(path, ": field ", where, ".start/.stop must not be negative");
      if (stage == kTokens) {
        detail::TokenDecodeStep s;
        s.kind = detail::TokenDecodeStep::Kind::kStrip;
        s.content = content;
        s.start = start;
        s.stop = stop;
        t.token_decode_steps.push_back(std::move(s));
      } else if (stage == kAfterFuse) {
        t.final_strip_content = content;
        t.final_strip_start = start;
        t.final_strip_stop = stop;
        stage = kDone;
      } else {
        unsupported_order();
      }
    } else if (type == "ByteFallback") {
      if (stage != kTokens) unsupported_order();
      t.decode_byte_fallback = true;
      stage = kAfterByteFallback;
    } else if (type == "Fuse") {
      if (stage != kTokens && stage != kAfterByteFallback) unsupported_order();
      stage = kAfterFuse;
    } else {
      fail(path, ": field ", where, ".type is \"", type,
           "\", which is not supported (supported decoders: Replace with a String pattern, ByteFallback, Fuse, Strip)");
    }
  }
}

int32_t lookup(const TokenizerImpl& t, std::string_view piece) {
  const int32_t id = t.other_ids.find(piece);
  return id >= 0 ? id : t.model_vocab.find(piece);
}

// tokenizer_config.json token entries are a string, {"content": ...} or null.
std::optional<std::string> token_name(const std::string& path, const json& cfg, const char* key, bool* present) {
  const json* v = find(cfg, key);
  *present = v != nullptr;
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (const json* c = find(*v, "content"); c != nullptr && c->is_string()) return c->get<std::string>();
  fail(path, ": field ", key, " must be a string or {\"content\": ...}");
}

void add_added_token(const std::string& path, const json& e, const std::string& where, int32_t id, TokenizerImpl& t) {
  detail::AddedToken a;
  a.id = id;
  a.content = get_string(path, e, "content", where + ".");
  a.special = get_bool(path, e, "special", false, where + ".");
  a.normalized = get_bool(path, e, "normalized", !a.special, where + ".");
  a.lstrip = get_bool(path, e, "lstrip", false, where + ".");
  a.rstrip = get_bool(path, e, "rstrip", false, where + ".");
  a.single_word = get_bool(path, e, "single_word", false, where + ".");
  if (static_cast<size_t>(id) >= t.pieces.size()) t.resize(static_cast<size_t>(id) + 1);
  t.pieces[static_cast<size_t>(id)] = a.content;
  t.special[static_cast<size_t>(id)] = a.special ? 1 : 0;
  t.other_ids.insert(a.content, id);
  t.added.push_back(std::move(a));
}

// tokenizer.json read with a SAX handler: model.vocab and model.merges (the bulk of a 262k-piece
// file) stream straight into vectors; everything else becomes an ordinary json DOM. About 4x faster
// than building the whole DOM.
struct TokenizerJson {
  json dom;
  bool has_vocab = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  bool has_merges = false;
  std::vector<std::pair<std::string, std::string>> merges;
  std::string error;  // first problem found while parsing
};

class TokenizerJsonSax : public nlohmann::json_sax<json> {
 public:
  explicit TokenizerJsonSax(TokenizerJson& out) : out_(out) {}

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) return vocab_id(v);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) return vocab_id(v > static_cast<number_unsigned_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {  // the "a b" form
      const size_t sp = v.find(' ');
      if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos)
        return bad("model.merges[" + std::to_string(out_.merges.size()) + "] \"" + v + "\" is not two pieces separated by one space");
      out_.merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::kMergePair) {  // the ["a", "b"] form
      if (pair_size_ == 0) out_.merges.emplace_back(std::move(v), std::string());
      if (pair_size_ == 1) out_.merges.back().second = std::move(v);
      ++pair_size_;
      return true;
    }
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return value(json()); }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      vocab_key_ = std::move(k);
    } else {
      keys_.back() = std::move(k);
    }
    return true;
  }
  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return bad_entry();
    if (at_model_field("vocab")) {
      mode_ = Mode::kVocab;
      out_.has_vocab = true;
      return true;
    }
    return open(json::object());
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    return close();
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_size_ = 0;
      return true;
    }
    if (mode_ != Mode::kDom) return bad_entry();
    if (at_model_field("merges")) {
      mode_ = Mode::kMerges;
      out_.has_merges = true;
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      if (pair_size_ != 2) {
        const size_t index = out_.merges.size() - (pair_size_ > 0 ? 1 : 0);
        return bad("model.merges[" + std::to_string(index) + "] must be [\"a\", \"b\"] or \"a b\"");
      }
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kDom;
      return true;
    }
    return close();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    if (out_.error.empty()) out_.error = std::string("invalid JSON: ") + e.what();
    return false;
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };

  // Whether the container being opened is the member `field` of the top-level "model" object.
  bool at_model_field(const char* field) const {
    return stack_.size() == 2 && keys_[0] == "model" && keys_[1] == field && stack_[1]->is_object();
  }
  json* place(json v) {
    if (stack_.empty()) {
      out_.dom = std::move(v);
      return &out_.dom;
    }
    json* top = stack_.back();
    if (top->is_array()) {
      top->push_back(std::move(v));
      return &top->back();
    }
    json& slot = (*top)[keys_.back()];
    slot = std::move(v);
    return &slot;
  }
  bool value(json v) {
    if (mode_ != Mode::kDom) return bad_entry();
    place(std::move(v));
    return true;
  }
  bool open(json container) {
    stack_.push_back(place(std::move(container)));
    keys_.emplace_back();
    return true;
  }
  bool close() {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool vocab_id(int64_t id) {
    if (id < 0 || id > INT32_MAX) return bad("model.vocab[\"" + vocab_key_ + "\"] must be a non-negative integer id");
    out_.vocab.emplace_back(std::move(vocab_key_), id);
    return true;
  }
  bool bad_entry() {
    if (mode_ == Mode::kVocab) return bad("model.vocab values must be integer ids");
    return bad("model.merges[" + std::to_string(out_.merges.size()) + "] must be [\"a\", \"b\"] or \"a b\"");
  }
  bool bad(const std::string& msg) {
    if (out_.error.empty()) out_.error = "field " + msg;
    return false;
  }

  TokenizerJson& out_;
  Mode mode_ = Mode::kDom;
  std::vector<json*> stack_;       // open containers of the DOM
  std::vector<std::string> keys_;  // current key of each open container (unused for arrays)
  std::string vocab_key_;
  int pair_size_ = 0;
};

TokenizerJson read_tokenizer_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (does the file exist?)");
  std::ostringstream text;
  text << in.rdbuf();
  TokenizerJson out;
  TokenizerJsonSax sax(out);
  bool ok = false;
  try {
    ok = json::sax_parse(text.str(), &sax);
  } catch (const json::exception& e) {
    if (out.error.empty()) out.error = std::string("invalid JSON: ") + e.what();
  }
  if (!ok || !out.error.empty()) fail(path, ": ", out.error.empty() ? std::string("invalid JSON") : out.error);
  return out;
}

}  // namespace

Tokenizer Tokenizer::from_hf_json(const std::string& path) {
  TokenizerJson tj = read_tokenizer_json(path);
  const json& j = tj.dom;
  if (!j.is_object()) fail(path, ": not a tokenizer.json (the top level is not an object)");
  auto t = std::make_shared<TokenizerImpl>();
  t->source = path;
  t->kind = detail::ModelKind::kHfBpe;

  // ---- model ----
  const json* model = find(j, "model");
  if (model == nullptr || !model->is_object()) fail(path, ": field model is missing");
  if (const json* type = find(*model, "type"); type != nullptr) {
    if (!type->is_string() || type->get<std::string>() != "BPE")
      fail(path, ": field model.type is ", type_name(*type), "; only \"BPE\" models are supported");
  } else if (!tj.has_merges) {
    fail(path, ": field model.type is missing");
  }
  if (const json* d = find(*model, "dropout"); d != nullptr && !d->is_null() && !(d->is_number() && d->get<double>() == 0.0))
    fail(path, ": field model.dropout is ", d->dump(), "; BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const json* v = find(*model, key); v != nullptr && !v->is_null() && !(v->is_string() && v->get<std::string>().empty()))
      fail(path, ": field model.", key, " is ", v->dump(), ", which is not supported");
  }
  t->byte_fallback = get_bool(path, *model, "byte_fallback", false, "model.");
  t->fuse_unk = get_bool(path, *model, "fuse_unk", false, "model.");
  t->ignore_merges = get_bool(path, *model, "ignore_merges", false, "model.");

  if (!tj.has_vocab) fail(path, ": field model.vocab must be an object");
  int64_t max_id = -1;
  for (const auto& entry : tj.vocab) max_id = std::max(max_id, entry.second);
  t->resize(static_cast<size_t>(max_id + 1));
  t->model_vocab.reserve(tj.vocab.size());
  std::vector<uint8_t> seen(static_cast<size_t>(max_id + 1), 0);
  for (auto& [piece, id64] : tj.vocab) {
    const auto id = static_cast<size_t>(id64);
    if (seen[id]) fail(path, ": field model.vocab maps two pieces to id ", id);
    seen[id] = 1;
    if (!t->model_vocab.insert(piece, static_cast<int32_t>(id))) fail(path, ": field model.vocab lists \"", piece, "\" twice");
    t->pieces[id] = std::move(piece);
  }
  tj.vocab = {};

  if (const json* unk = find(*model, "unk_token"); unk != nullptr && !unk->is_null()) {
    if (!unk->is_string()) fail(path, ": field model.unk_token must be a string");
    t->model_unk = t->model_vocab.find(unk->get<std::string>());
    if (t->model_unk < 0) fail(path, ": field model.unk_token \"", unk->get<std::string>(), "\" is not in model.vocab");
  }
  t->byte_ids.fill(-1);
  for (int b = 0; b < 256; ++b) {
    static const char* hex = "0123456789ABCDEF";
    const std::string name = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
    t->byte_ids[static_cast<size_t>(b)] = t->model_vocab.find(name);
  }

  if (!tj.has_merges) fail(path, ": field model.merges must be an array");
  if (tj.merges.size() > UINT32_MAX) fail(path, ": field model.merges has too many entries");
  t->merges.reserve(tj.merges.size());
  std::string merged;
  for (size_t rank = 0; rank < tj.merges.size(); ++rank) {
    const std::string& a = tj.merges[rank].first;
    const std::string& b = tj.merges[rank].second;
    const int32_t ia = t->model_vocab.find(a);
    const int32_t ib = t->model_vocab.find(b);
    merged.assign(a);
    merged.append(b);
    const int32_t inew = t->model_vocab.find(merged);
    if (ia < 0 || ib < 0 || inew < 0)
      fail(path, ": field model.merges[", rank, "] (\"", a, "\", \"", b, "\") uses a piece that is not in model.vocab");
    // A repeated pair keeps its last rank, as HF's HashMap collect does.
    t->merges.insert_or_assign(detail::PairTable::key(ia, ib), (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(inew));
  }
  tj.merges = {};

  // ---- added tokens ----
  if (const json* added = find(j, "added_tokens"); added != nullptr && !added->is_null()) {
    if (!added->is_array()) fail(path, ": field added_tokens must be an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      const int id = get_int(path, (*added)[i], "id", where + ".");
      if (id < 0) fail(path, ": field ", where, ".id is negative");
      add_added_token(path, (*added)[i], where, id, *t);
    }
  }

  // ---- pipeline ----
  if (const json* n = find(j, "normalizer"); n != nullptr) parse_normalizer(path, *n, "normalizer", *t);
  if (const json* p = find(j, "pre_tokenizer"); p != nullptr) parse_pre_tokenizer(path, *p, "pre_tokenizer", *t);
  const json* dec = find(j, "decoder");
  parse_decoder(path, dec == nullptr ? json() : *dec, *t);

  std::vector<int32_t> template_prefix, template_suffix;
  if (const json* pp = find(j, "post_processor"); pp != nullptr && !pp->is_null()) {
    const std::string type = component_type(path, *pp, "post_processor");
    if (type != "TemplateProcessing")
      fail(path, ": field post_processor.type is \"", type, "\", which is not supported (supported: TemplateProcessing)");
    const json* single = find(*pp, "single");
    const json* specials = find(*pp, "special_tokens");
    if (single == nullptr || !single->is_array()) fail(path, ": field post_processor.single must be an array");
    bool after_sequence = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const json& item = (*single)[i];
      if (find(item, "Sequence") != nullptr) {
        after_sequence = true;
      } else if (const json* st = find(item, "SpecialToken"); st != nullptr) {
        const std::string name = get_string(path, *st, "id", "post_processor.single[" + std::to_string(i) + "].SpecialToken.");
        const json* entry = specials == nullptr ? nullptr : find(*specials, name.c_str());
        const json* ids = entry == nullptr ? nullptr : find(*entry, "ids");
        if (ids == nullptr || !ids->is_array()) fail(path, ": field post_processor.special_tokens[\"", name, "\"].ids is missing");
        for (const json& id : *ids) {
          if (!id.is_number_integer()) fail(path, ": field post_processor.special_tokens[\"", name, "\"].ids must hold integers");
          (after_sequence ? template_suffix : template_prefix).push_back(id.get<int32_t>());
        }
      } else {
        fail(path, ": field post_processor.single[", i, "] must be a Sequence or a SpecialToken");
      }
    }
  }

  // ---- tokenizer_config.json ----
  namespace fs = std::filesystem;
  const std::string cfg_path = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  json cfg = json::object();
  if (fs::is_regular_file(cfg_path)) {
    cfg = read_json_file(cfg_path);
    if (!cfg.is_object()) fail(cfg_path, ": the top level is not an object");
    if (const json* atd = find(cfg, "added_tokens_decoder"); atd != nullptr && atd->is_object()) {
      std::unordered_set<int32_t> known_ids;
      for (const detail::AddedToken& a : t->added) known_ids.insert(a.id);
      for (const auto& [key, e] : atd->items()) {
        int id = -1;
        try {
          id = std::stoi(key);
        } catch (const std::exception&) {
          fail(cfg_path, ": field added_tokens_decoder key \"", key, "\" is not a token id");
        }
        if (id < 0) fail(cfg_path, ": field added_tokens_decoder key \"", key, "\" is negative");
        if (known_ids.insert(id).second) add_added_token(cfg_path, e, "added_tokens_decoder[\"" + key + "\"]", id, *t);
      }
    }
  }
  t->finalize();

  // Special ids: tokenizer_config.json names, else the usual pieces.
  const auto resolve = [&](const char* key, std::initializer_list<const char*> fallbacks) -> int32_t {
    bool present = false;
    const std::optional<std::string> name = token_name(cfg_path, cfg, key, &present);
    if (present) {
      if (!name) return -1;
      const int32_t id = lookup(*t, *name);
      if (id < 0) fail(cfg_path, ": field ", key, " \"", *name, "\" is not in the vocabulary of ", path);
      return id;
    }
    for (const char* f : fallbacks)
      if (const int32_t id = lookup(*t, f); id >= 0) return id;
    return -1;
  };
  t->bos = resolve("bos_token", {"<bos>", "<s>"});
  t->eos = resolve("eos_token", {"<eos>", "</s>"});
  t->pad = resolve("pad_token", {"<pad>"});
  t->unk = t->model_unk >= 0 ? t->model_unk : resolve("unk_token", {"<unk>"});
  t->eot = -1;
  if (const json* extra = find(cfg, "extra_special_tokens"); extra != nullptr && extra->is_object()) {
    bool present = false;
    if (const auto name = token_name(cfg_path, *extra, "eot_token", &present)) t->eot = lookup(*t, *name);
  }
  if (t->eot < 0) {
    bool present = false;
    if (const auto name = token_name(cfg_path, cfg, "eot_token", &present)) t->eot = lookup(*t, *name);
  }
  for (const char* f : {"<end_of_turn>", "<turn|>"})
    if (t->eot < 0) t->eot = lookup(*t, f);

  // add_special: tokenizer_config.json add_bos_token / add_eos_token rebuild the template (as
  // transformers' Llama/Gemma tokenizers do); otherwise the post_processor's template applies.
  const json* cfg_bos = find(cfg, "add_bos_token");
  const json* cfg_eos = find(cfg, "add_eos_token");
  const bool has_bos = cfg_bos != nullptr && cfg_bos->is_boolean();
  const bool has_eos = cfg_eos != nullptr && cfg_eos->is_boolean();
  if (has_bos || has_eos) {
    const auto contains = [](const std::vector<int32_t>& v, int32_t id) {
      return id >= 0 && std::find(v.begin(), v.end(), id) != v.end();
    };
    const bool add_bos = has_bos ? cfg_bos->get<bool>() : contains(template_prefix, t->bos);
    const bool add_eos = has_eos ? cfg_eos->get<bool>() : contains(template_suffix, t->eos);
    if (add_bos && t->bos < 0) fail(cfg_path, ": add_bos_token is true but the tokenizer has no BOS token");
    if (add_eos && t->eos < 0) fail(cfg_path, ": add_eos_token is true but the tokenizer has no EOS token");
    if (add_bos) t->prefix_ids = {t->bos};
    if (add_eos) t->suffix_ids = {t->eos};
  } else {
    t->prefix_ids = template_prefix;
    t->suffix_ids = template_suffix;
  }
  for (const int32_t id : t->prefix_ids) t->check_id(id);
  for (const int32_t id : t->suffix_ids) t->check_id(id);
  return Tokenizer(std::move(t));
}

}  // namespace gemrt
