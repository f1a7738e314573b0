#include "gemrt/model/gemma/config.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"

namespace gemrt {
namespace {

using nlohmann::json;

// Defaults of the HF config classes that matter for inference (spec §2.1, §3.1, §4.1).
struct FamilyDefaults {
  int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
      num_key_value_heads, head_dim, max_position_embeddings;
  double rope_theta;
  std::optional<double> query_pre_attn_scalar, sliding_window, attn_softcap, final_softcap;
  const char* activation_key;  // the field HF's MLP reads
};

FamilyDefaults defaults_for(GemmaFamily f) {
  switch (f) {
    case GemmaFamily::Gemma1:
      return {256000, 3072, 24576, 28, 16, 16, 256, 8192, 10000.0, std::nullopt, std::nullopt, std::nullopt,
              std::nullopt, "hidden_act"};
    case GemmaFamily::Gemma2:
      return {256000, 2304, 9216, 26, 8, 4, 256, 8192, 10000.0, 256.0, 4096.0, 50.0, 30.0, "hidden_activation"};
    case GemmaFamily::Gemma3:
      return {262208, 2304, 9216, 26, 8, 4, 256, 131072, 1000000.0, 256.0, 4096.0, std::nullopt, std::nullopt,
              "hidden_activation"};
  }
  fail("unknown family");
}

// Typed access to config keys with errors that name the file and the key.
class ConfigReader {
 public:
  ConfigReader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  bool has(const char* key) const { return j_.contains(key); }
  bool is_null(const char* key) const { return j_.contains(key) && j_[key].is_null(); }
  const json& raw(const char* key) const { return j_[key]; }

  int64_t integer(const char* key, int64_t def) const {
    if (!j_.contains(key) || j_[key].is_null()) return def;
    const json& v = j_[key];
    if (!v.is_number_integer()) fail(source_, ": key '", key, "' must be an integer, got ", v.dump());
    return v.get<int64_t>();
  }
  int64_t positive(const char* key, int64_t def) const {
    const int64_t v = integer(key, def);
    if (v <= 0) fail(source_, ": key '", key, "' must be positive, got ", v);
    return v;
  }
  double number(const char* key, double def) const {
    if (!j_.contains(key) || j_[key].is_null()) return def;
    const json& v = j_[key];
    if (!v.is_number()) fail(source_, ": key '", key, "' must be a number, got ", v.dump());
    return v.get<double>();
  }
  // Absent -> the family default; null -> none; a number -> that number.
  std::optional<double> optional_number(const char* key, std::optional<double> def) const {
    if (!j_.contains(key)) return def;
    if (j_[key].is_null()) return std::nullopt;
    return number(key, 0.0);
  }
  std::string string(const char* key, const std::string& def) const {
    if (!j_.contains(key) || j_[key].is_null()) return def;
    if (!j_[key].is_string()) fail(source_, ": key '", key, "' must be a string, got ", j_[key].dump());
    return j_[key].get<std::string>();
  }
  bool boolean(const char* key, bool def) const {
    if (!j_.contains(key) || j_[key].is_null()) return def;
    if (!j_[key].is_boolean()) fail(source_, ": key '", key, "' must be true or false, got ", j_[key].dump());
    return j_[key].get<bool>();
  }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string source_;
};

Activation parse_activation(const std::string& name, const std::string& source, const char* key) {
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return Activation::GeluTanh;
  if (name == "gelu") return Activation::GeluErf;
  fail(source, ": unsupported activation '", name, "' in '", key, "' (expected gelu_pytorch_tanh, gelu_new or gelu)");
}

// One RoPE parameter set: {"rope_type": "default" | "linear", "rope_theta": x, "factor": f}.
RopeSpec parse_rope_params(const json& p, double default_theta, const std::string& source, const std::string& where) {
  if (!p.is_object()) fail(source, ": '", where, "' must be an object");
  ConfigReader r(p, source);
  RopeSpec spec;
  spec.theta = static_cast<float>(r.number("rope_theta", default_theta));
  std::string type = r.string("rope_type", r.string("type", "default"));
  if (type == "linear") {
    spec.scaling.kind = RopeScaling::Kind::Linear;
    spec.scaling.factor = static_cast<float>(r.number("factor", 1.0));
    if (!(spec.scaling.factor > 0.0f)) fail(source, ": '", where, ".factor' must be positive");
  } else if (type != "default") {
    fail(source, ": unsupported RoPE type '", type, "' in '", where, "' (gemrt supports default and linear)");
  }
  return spec;
}

GemmaFamily family_of(const std::string& model_type, const std::string& source) {
  if (model_type == "gemma") return GemmaFamily::Gemma1;
  if (model_type == "gemma2") return GemmaFamily::Gemma2;
  if (model_type == "gemma3_text" || model_type == "gemma3") return GemmaFamily::Gemma3;
  fail(source, ": unsupported model_type '", model_type, "' (supported: gemma, gemma2, gemma3_text, gemma3)");
}

std::vector<LayerKind> parse_layer_kinds(const ConfigReader& r, GemmaFamily family, int n_layers) {
  std::vector<LayerKind> kinds(static_cast<size_t>(n_layers), LayerKind::Full);
  if (r.has("layer_types") && !r.is_null("layer_types")) {
    const json& lt = r.raw("layer_types");
    if (!lt.is_array() || static_cast<int>(lt.size()) != n_layers)
      fail(r.source(), ": 'layer_types' must be an array of ", n_layers, " entries (num_hidden_layers)");
    for (int i = 0; i < n_layers; ++i) {
      const json& e = lt[static_cast<size_t>(i)];
      const std::string s = e.is_string() ? e.get<std::string>() : e.dump();
      if (s == "sliding_attention") kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
      else if (s != "full_attention")
        fail(r.source(), ": layer_types[", i, "] is '", s, "' (expected sliding_attention or full_attention)");
    }
    return kinds;
  }
  if (family == GemmaFamily::Gemma2) {  // even layers slide (spec §3.3)
    for (int i = 0; i < n_layers; i += 2) kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  } else if (family == GemmaFamily::Gemma3) {  // full iff (i+1) % pattern == 0 (spec §4.3)
    const int64_t pattern = r.positive("sliding_window_pattern", r.positive("_sliding_window_pattern", 6));
    for (int i = 0; i < n_layers; ++i)
      if ((i + 1) % pattern != 0) kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  }
  return kinds;
}

}  // namespace

const char* family_name(GemmaFamily f) {
  switch (f) {
    case GemmaFamily::Gemma1: return "gemma";
    case GemmaFamily::Gemma2: return "gemma2";
    case GemmaFamily::Gemma3: return "gemma3";
  }
  return "?";
}

const char* layer_kind_name(LayerKind k) { return k == LayerKind::Sliding ? "sliding" : "full"; }

ModelSpec make_model_spec(const GemmaHyperparams& h, const std::string& source) {
  if (h.n_heads <= 0 || h.n_kv_heads <= 0 || h.n_heads % h.n_kv_heads != 0)
    fail(source, ": the number of attention heads (", h.n_heads, ") must be a positive multiple of the kv heads (",
         h.n_kv_heads, ")");
  if (h.head_dim <= 0 || h.head_dim % 2 != 0) fail(source, ": head_dim (", h.head_dim, ") must be positive and even");
  if (h.layer_kinds.empty()) fail(source, ": the model has no layers");
  ModelSpec spec;
  spec.model_type = h.model_type;
  spec.family = h.family;
  spec.vocab_size = h.vocab_size;
  spec.hidden_size = h.hidden_size;
  spec.max_position_embeddings = h.max_position_embeddings;
  spec.rms_norm_eps = h.rms_norm_eps;
  spec.norm_offset = h.norm_offset;
  spec.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(h.hidden_size)));
  spec.final_softcap = h.final_softcap;
  spec.tie_word_embeddings = h.tie_word_embeddings;
  spec.bos_token_id = h.bos_token_id;
  spec.eos_token_ids = h.eos_token_ids;
  spec.pad_token_id = h.pad_token_id;
  for (size_t i = 0; i < h.layer_kinds.size(); ++i) {
    LayerSpec l;
    l.kind = h.layer_kinds[i];
    l.n_heads = h.n_heads;
    l.n_kv_heads = h.n_kv_heads;
    l.head_dim = h.head_dim;
    l.rope = l.kind == LayerKind::Sliding ? h.rope_sliding : h.rope_full;
    if (l.kind == LayerKind::Sliding) {
      if (h.sliding_window < 1)
        fail(source, ": layer ", i, " is a sliding-attention layer but the sliding window is not a positive number");
      l.window = h.sliding_window;
    }
    l.attn_scale = static_cast<float>(h.attn_scale);
    l.attn_softcap = h.attn_softcap;
    l.norm_eps = h.rms_norm_eps;
    l.norm_offset = h.norm_offset;
    l.sandwich_norms = h.family != GemmaFamily::Gemma1;  // spec §3.4, §4.4
    l.qk_norm = h.family == GemmaFamily::Gemma3;         // spec §4.4
    l.intermediate_size = static_cast<int>(h.intermediate_size);
    l.activation = h.activation;
    l.kv_slot = static_cast<int>(i);
    spec.layers.push_back(l);
  }
  return spec;
}

ModelSpec parse_gemma_config(const json& config, const std::string& source) {
  if (!config.is_object()) fail(source, ": top level must be a JSON object");
  if (!config.contains("model_type") || !config["model_type"].is_string())
    fail(source, ": missing string key 'model_type'");
  GemmaHyperparams h;
  h.model_type = config["model_type"].get<std::string>();
  h.family = family_of(h.model_type, source);

  // The multimodal gemma3 config nests the language model under text_config.
  const json* text = &config;
  if (h.model_type == "gemma3") {
    if (!config.contains("text_config") || !config["text_config"].is_object())
      fail(source, ": model_type 'gemma3' needs an object 'text_config'");
    text = &config["text_config"];
  }
  const ConfigReader r(*text, h.model_type == "gemma3" ? source + " (text_config)" : source);
  const ConfigReader top(config, source);
  const FamilyDefaults d = defaults_for(h.family);

  if (r.boolean("attention_bias", false)) fail(source, ": attention_bias = true is not supported for Gemma");
  h.vocab_size = r.positive("vocab_size", d.vocab_size);
  h.hidden_size = r.positive("hidden_size", d.hidden_size);
  h.intermediate_size = r.positive("intermediate_size", d.intermediate_size);
  const auto n_layers = static_cast<int>(r.positive("num_hidden_layers", d.num_hidden_layers));
  h.n_heads = static_cast<int>(r.positive("num_attention_heads", d.num_attention_heads));
  h.n_kv_heads = static_cast<int>(r.positive("num_key_value_heads", d.num_key_value_heads));
  h.head_dim = static_cast<int>(r.positive("head_dim", d.head_dim));
  if (h.n_heads % h.n_kv_heads != 0)
    fail(source, ": num_attention_heads (", h.n_heads, ") must be a multiple of num_key_value_heads (", h.n_kv_heads, ")");
  if (h.head_dim % 2 != 0) fail(source, ": head_dim (", h.head_dim, ") must be even for RoPE");
  h.max_position_embeddings = static_cast<int>(r.positive("max_position_embeddings", d.max_position_embeddings));
  h.rms_norm_eps = static_cast<float>(r.number("rms_norm_eps", 1e-6));
  h.norm_offset = 1.0f;  // HF stores Gemma 1-3 norm weights zero-centred (spec §1.1)
  h.tie_word_embeddings = top.boolean("tie_word_embeddings", r.boolean("tie_word_embeddings", true));

  const std::optional<double> final_cap = r.optional_number("final_logit_softcapping", d.final_softcap);
  h.final_softcap = final_cap ? static_cast<float>(*final_cap) : 0.0f;
  // Attention soft-cap: only Gemma 2 applies it. HF's Gemma 3 attention reads
  // attn_logit_softcapping into the config but never passes it to the attention function
  // (transformers 5.17; released Gemma 3 configs set it to null anyway), so it is ignored here.
  const std::optional<double> attn_cap = h.family == GemmaFamily::Gemma2
                                             ? r.optional_number("attn_logit_softcapping", d.attn_softcap)
                                             : std::nullopt;
  h.attn_softcap = attn_cap ? static_cast<float>(*attn_cap) : 0.0f;
  const std::optional<double> window = r.optional_number("sliding_window", d.sliding_window);
  h.sliding_window = window && *window >= 1.0 ? static_cast<int>(*window) : 0;

  h.activation = parse_activation(
      r.string(d.activation_key, r.string(h.family == GemmaFamily::Gemma1 ? "hidden_activation" : "hidden_act",
                                          "gelu_pytorch_tanh")),
      source, d.activation_key);

  // Attention scale (spec P9): Gemma 1 head_dim^-1/2; Gemma 2/3 query_pre_attn_scalar^-1/2.
  h.attn_scale = 1.0 / std::sqrt(static_cast<double>(h.head_dim));
  if (d.query_pre_attn_scalar) {
    const double qpas = r.number("query_pre_attn_scalar", *d.query_pre_attn_scalar);
    if (!(qpas > 0.0)) fail(source, ": query_pre_attn_scalar must be positive");
    h.attn_scale = 1.0 / std::sqrt(qpas);
  }

  // RoPE per layer kind. New HF configs: rope_parameters, either flat or keyed by layer type.
  // Older ones: rope_theta + rope_scaling (+ rope_local_base_freq for Gemma 3 sliding layers).
  if (r.has("rope_parameters") && !r.is_null("rope_parameters")) {
    const json& rp = r.raw("rope_parameters");
    if (rp.is_object() && (rp.contains("full_attention") || rp.contains("sliding_attention"))) {
      if (rp.contains("full_attention"))
        h.rope_full = parse_rope_params(rp["full_attention"], d.rope_theta, source, "rope_parameters.full_attention");
      else
        h.rope_full.theta = static_cast<float>(d.rope_theta);
      if (rp.contains("sliding_attention"))
        h.rope_sliding = parse_rope_params(rp["sliding_attention"], 10000.0, source, "rope_parameters.sliding_attention");
    } else {
      h.rope_full = h.rope_sliding = parse_rope_params(rp, d.rope_theta, source, "rope_parameters");
    }
  } else {
    h.rope_full.theta = static_cast<float>(r.number("rope_theta", d.rope_theta));
    if (r.has("rope_scaling") && !r.is_null("rope_scaling")) {
      RopeSpec scaled = parse_rope_params(r.raw("rope_scaling"), h.rope_full.theta, source, "rope_scaling");
      h.rope_full.scaling = scaled.scaling;
    }
    h.rope_sliding = h.rope_full;
    if (h.family == GemmaFamily::Gemma3) {  // local layers: own base, never scaled (spec P12)
      h.rope_sliding = RopeSpec{};
      h.rope_sliding.theta = static_cast<float>(r.number("rope_local_base_freq", 10000.0));
    }
  }
  h.layer_kinds = parse_layer_kinds(r, h.family, n_layers);

  h.bos_token_id = static_cast<int>(top.integer("bos_token_id", r.integer("bos_token_id", 2)));
  h.pad_token_id = static_cast<int>(top.integer("pad_token_id", r.integer("pad_token_id", 0)));
  const json* eos = config.contains("eos_token_id") ? &config["eos_token_id"]
                    : text->contains("eos_token_id") ? &(*text)["eos_token_id"] : nullptr;
  if (eos && eos->is_number_integer()) {
    h.eos_token_ids = {eos->get<int>()};
  } else if (eos && eos->is_array()) {
    h.eos_token_ids.clear();
    for (const json& e : *eos) {
      if (!e.is_number_integer()) fail(source, ": eos_token_id entries must be integers");
      h.eos_token_ids.push_back(e.get<int>());
    }
  }
  return make_model_spec(h, source);
}

ModelSpec load_gemma_config(const std::string& path) {
  std::filesystem::path p(path);
  if (p.extension() != ".json") p /= "config.json";  // a checkpoint folder
  return parse_gemma_config(read_json_file(p.string()), p.string());
}

std::string describe_layers(const ModelSpec& spec) {
  std::string s;
  for (int i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& l = spec.layers[static_cast<size_t>(i)];
    s += str("layer ", i, ": ", layer_kind_name(l.kind), " heads ", l.n_heads, "/", l.n_kv_heads, " head_dim ",
             l.head_dim, " window ", l.window, " rope theta ", l.rope.theta,
             l.rope.scaling.kind == RopeScaling::Kind::Linear ? str(" linear x", l.rope.scaling.factor) : "",
             " scale ", l.attn_scale, " softcap ", l.attn_softcap, " ffn ", l.intermediate_size,
             l.qk_norm ? " qk_norm" : "", l.sandwich_norms ? " sandwich" : "", "\n");
  }
  return s;
}

}  // namespace gemrt
