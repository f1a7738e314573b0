#include "gemrt/runtime/model_assets.h"

#include <algorithm>
#include <filesystem>

#include "gemrt/core/error.h"
#include "gemrt/io/gguf.h"
#include "gemrt/io/json_file.h"
#include "gemrt/text/builtin_templates.h"
#include "gemrt/text/chat_template.h"
#include "gemrt/text/gguf_vocab.h"

namespace gemrt {
namespace {

namespace fs = std::filesystem;

void add_stop(std::vector<int32_t>& stops, int32_t id) {
  if (id >= 0 && std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(id);
}

// generation_config.json: do_sample, temperature, top_k, top_p, min_p, repetition_penalty, eos.
void read_generation_config(const fs::path& file, SamplingParams& p, std::vector<int32_t>& stops) {
  const nlohmann::json j = read_json_file(file.string());
  const auto num = [&](const char* key, float def) {
    return j.contains(key) && j[key].is_number() ? j[key].get<float>() : def;
  };
  p.temperature = num("temperature", p.temperature);
  p.top_k = j.contains("top_k") && j["top_k"].is_number_integer() ? j["top_k"].get<int>() : p.top_k;
  p.top_p = num("top_p", p.top_p);
  p.min_p = num("min_p", p.min_p);
  p.repetition_penalty = num("repetition_penalty", p.repetition_penalty);
  if (j.contains("do_sample") && j["do_sample"].is_boolean() && !j["do_sample"].get<bool>()) p.temperature = 0.0f;
  if (j.contains("eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer()) add_stop(stops, e.get<int32_t>());
    if (e.is_array())
      for (const auto& x : e)
        if (x.is_number_integer()) add_stop(stops, x.get<int32_t>());
  }
}

// GGUF sampling defaults (general.sampling.*), written by recent converters.
void read_gguf_sampling(const GgufFile& g, SamplingParams& p) {
  if (const GgufValue* v = g.find_meta("general.sampling.temp")) p.temperature = static_cast<float>(v->as_number("general.sampling.temp"));
  if (const GgufValue* v = g.find_meta("general.sampling.top_k")) p.top_k = static_cast<int>(v->as_int("general.sampling.top_k"));
  if (const GgufValue* v = g.find_meta("general.sampling.top_p")) p.top_p = static_cast<float>(v->as_number("general.sampling.top_p"));
  if (const GgufValue* v = g.find_meta("general.sampling.min_p")) p.min_p = static_cast<float>(v->as_number("general.sampling.min_p"));
}

}  // namespace

Tokenizer load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Tokenizer::from_dir(path);
  if (is_gguf_file(path)) {
    auto g = GgufFile::open(path);
    return Tokenizer::from_vocab(vocab_from_gguf(*g), path);
  }
  if (!fs::exists(path, ec)) fail(path, ": no such file or folder");
  fail(path, ": expected a GGUF file or a folder with tokenizer.json / tokenizer.model");
}

ModelAssets load_model_assets(const std::string& path, const GemmaModel& model) {
  std::optional<Tokenizer> tok;
  std::optional<std::string> tmpl;
  std::string bos, eos;
  // Gemma's published generation defaults (spec §10: temperature 1, top_k 64, top_p 0.95); the
  // model's own generation_config.json or GGUF sampling keys override them.
  SamplingParams sampling;
  sampling.temperature = 1.0f;
  sampling.top_k = 64;
  sampling.top_p = 0.95f;
  std::vector<int32_t> stops;
  for (int id : model.spec().eos_token_ids) add_stop(stops, id);

  if (const GgufFile* g = model.gguf()) {
    tok = Tokenizer::from_vocab(vocab_from_gguf(*g), path);
    tmpl = chat_template_from_gguf(*g);
    read_gguf_sampling(*g, sampling);
  } else {
    tok = Tokenizer::from_dir(path);
    const fs::path dir(path);
    if (fs::exists(dir / "tokenizer_config.json") || fs::exists(dir / "chat_template.jinja")) {
      try {
        ChatTemplateSource src = load_chat_template(path);
        tmpl = src.source;
        bos = src.bos_token;
        eos = src.eos_token;
      } catch (const Error&) {
        // A folder without a chat template can still run raw prompts; `run` reports the absence.
      }
    }
    if (fs::exists(dir / "generation_config.json")) read_generation_config(dir / "generation_config.json", sampling, stops);
  }
  if (!tmpl) {
    if (const char* builtin = builtin_chat_template(family_name(model.spec().family))) tmpl = std::string(builtin);
  }
  if (bos.empty() && tok->bos_id() >= 0) bos = std::string(tok->piece(tok->bos_id()));
  if (eos.empty() && tok->eos_id() >= 0) eos = std::string(tok->piece(tok->eos_id()));
  add_stop(stops, tok->eos_id());
  add_stop(stops, tok->eot_id());
  return ModelAssets{std::move(*tok), std::move(tmpl), bos, eos, sampling, stops};
}

}  // namespace gemrt
