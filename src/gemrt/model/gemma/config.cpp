#include "gemrt/model/gemma/config.h"

#include <algorithm>
#include <cmath>
#include <numbers>
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
    case GemmaFamily::Gemma3n:  // attention scale 1.0, final soft-cap 30 (spec §5.1)
      return {262400, 2048, 16384, 35, 8, 2, 256, 32768, 1000000.0, std::nullopt, 512.0, std::nullopt, 30.0,
              "hidden_activation"};
    case GemmaFamily::Gemma4:  // attention scale 1.0: no query_pre_attn_scalar (spec §6.3)
      return {262144, 2304, 9216, 30, 8, 4, 256, 131072, 1000000.0, std::nullopt, 512.0, std::nullopt, std::nullopt,
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
  // Absent -> def; null -> "" (none, as HF reads None); a string -> that string.
  std::string optional_string(const char* key, const std::string& def) const {
    if (!j_.contains(key)) return def;
    return j_[key].is_null() ? std::string() : string(key, def);
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

// One RoPE parameter set: {"rope_type": "default" | "linear" | "proportional", "rope_theta": x,
// "factor": f, "partial_rotary_factor": p (proportional)}.
RopeSpec parse_rope_params(const json& p, double default_theta, const std::string& source, const std::string& where) {
  if (!p.is_object()) fail(source, ": '", where, "' must be an object");
  ConfigReader r(p, source);
  RopeSpec spec;
  spec.theta = static_cast<float>(r.number("rope_theta", default_theta));
  std::string type = r.string("rope_type", r.string("type", "default"));
  if (type == "linear" || type == "proportional") {
    // Proportional (Gemma 4): the factor divides every frequency, as linear scaling does.
    const double factor = r.number("factor", 1.0);
    if (!(factor > 0.0)) fail(source, ": '", where, ".factor' must be positive");
    if (type == "linear" || factor != 1.0) {
      spec.scaling.kind = RopeScaling::Kind::Linear;
      spec.scaling.factor = static_cast<float>(factor);
    }
    if (type == "proportional") {
      spec.rotary_fraction = static_cast<float>(r.number("partial_rotary_factor", 1.0));
      if (!(spec.rotary_fraction > 0.0f && spec.rotary_fraction <= 1.0f))
        fail(source, ": '", where, ".partial_rotary_factor' must be in (0, 1]");
    }
  } else if (type != "default") {
    fail(source, ": unsupported RoPE type '", type, "' in '", where,
         "' (gemrt supports default, linear and proportional)");
  }
  return spec;
}

// The encoder-free multimodal Gemma 4 (spec §7): a Gemma 4 text model with its own defaults.
bool is_gemma4_unified(const std::string& model_type) {
  return model_type == "gemma4_unified" || model_type == "gemma4_unified_text";
}

GemmaFamily family_of(const std::string& model_type, const std::string& source) {
  if (model_type == "gemma") return GemmaFamily::Gemma1;
  if (model_type == "gemma2") return GemmaFamily::Gemma2;
  if (model_type == "gemma3_text" || model_type == "gemma3") return GemmaFamily::Gemma3;
  if (model_type == "gemma3n_text" || model_type == "gemma3n") return GemmaFamily::Gemma3n;
  if (model_type == "gemma4_text" || model_type == "gemma4" || is_gemma4_unified(model_type)) return GemmaFamily::Gemma4;
  fail(source, ": unsupported model_type '", model_type,
       "' (supported: gemma, gemma2, gemma3_text, gemma3, gemma3n_text, gemma3n, gemma4_text, gemma4, "
       "gemma4_unified_text, gemma4_unified)");
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
    // HF's Gemma 4 config forces its last layer to full attention (spec §6.1).
    if (family == GemmaFamily::Gemma4) kinds.back() = LayerKind::Full;
    return kinds;
  }
  if (family == GemmaFamily::Gemma2) {  // even layers slide (spec §3.3)
    for (int i = 0; i < n_layers; i += 2) kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  } else if (family == GemmaFamily::Gemma3) {  // full iff (i+1) % pattern == 0 (spec §4.3)
    const int64_t pattern = r.positive("sliding_window_pattern", r.positive("_sliding_window_pattern", 6));
    for (int i = 0; i < n_layers; ++i)
      if ((i + 1) % pattern != 0) kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  } else if (family == GemmaFamily::Gemma3n) {  // 4 sliding : 1 full (spec §5.1)
    for (int i = 0; i < n_layers; ++i)
      if ((i + 1) % 5 != 0) kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  } else if (family == GemmaFamily::Gemma4) {  // 5 sliding : 1 full, the last layer full (spec §6.1)
    for (int i = 0; i < n_layers; ++i)
      if ((i + 1) % 6 != 0) kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
    kinds.back() = LayerKind::Full;
  }
  return kinds;
}

// Gemma 4's per-layer attention shapes, KV sharing, MLP width and per-layer embeddings (spec §6.1,
// transformers 5.17's Gemma4TextConfig): `per_layer_config` {"i": {"head_dim", "num_key_value_heads"}}
// overrides layer i; without it, full layers take global_head_dim (default 512) and, with
// attention_k_eq_v, num_global_key_value_heads.
void parse_gemma4_layers(const ConfigReader& r, int n_layers, bool unified, GemmaHyperparams* h) {
  if (r.boolean("enable_moe_block", false)) {
    h->n_experts = static_cast<int>(r.positive("num_experts", 0));
    h->top_k_experts = static_cast<int>(r.positive("top_k_experts", 0));
    h->expert_intermediate = static_cast<int>(r.positive("moe_intermediate_size", 0));
    if (h->top_k_experts > h->n_experts)
      fail(r.source(), ": top_k_experts (", h->top_k_experts, ") exceeds num_experts (", h->n_experts, ")");
  }
  // Gemma4UnifiedTextConfig defaults to "vision" (spec §7.1), Gemma4TextConfig to none.
  const std::string bidi = r.optional_string("use_bidirectional_attention", unified ? "vision" : "");
  if (bidi == "all") fail(r.source(), ": use_bidirectional_attention = \"all\" is not supported (text models are causal)");
  if (!bidi.empty() && bidi != "vision")
    fail(r.source(), ": use_bidirectional_attention must be \"vision\", \"all\" or null, got \"", bidi, "\"");
  set_image_blocks(*h, bidi != "vision" ? ImageBlocks::None : unified ? ImageBlocks::Unified : ImageBlocks::Gemma4Vision);
  h->k_eq_v = r.boolean("attention_k_eq_v", false);
  h->kv_shared_layers = static_cast<int>(r.integer("num_kv_shared_layers", 0));
  h->double_wide_mlp = r.boolean("use_double_wide_mlp", false);
  // The unified text config has no per-layer embeddings (spec §7.1): none unless the key says so.
  h->per_layer_input = static_cast<int>(r.integer("hidden_size_per_layer_input", unified ? 0 : 256));
  if (h->per_layer_input < 0) fail(r.source(), ": hidden_size_per_layer_input must not be negative");
  h->ple_vocab = r.positive("vocab_size_per_layer_input", 262144);
  h->layer_head_dim.assign(static_cast<size_t>(n_layers), h->head_dim);
  h->layer_kv_heads.assign(static_cast<size_t>(n_layers), h->n_kv_heads);
  if (r.has("per_layer_config") && !r.is_null("per_layer_config")) {
    const json& plc = r.raw("per_layer_config");
    if (!plc.is_object()) fail(r.source(), ": 'per_layer_config' must be an object keyed by layer index");
    for (const auto& [key, value] : plc.items()) {
      int i = -1;
      try {
        size_t used = 0;
        i = std::stoi(key, &used);
        if (used != key.size()) i = -1;
      } catch (const std::exception&) {
        i = -1;
      }
      if (i < 0 || i >= n_layers)
        fail(r.source(), ": per_layer_config key '", key, "' is not a layer index in [0, ", n_layers, ")");
      const ConfigReader lr(value, r.source() + " (per_layer_config." + key + ")");
      h->layer_head_dim[static_cast<size_t>(i)] = static_cast<int>(lr.positive("head_dim", h->head_dim));
      h->layer_kv_heads[static_cast<size_t>(i)] = static_cast<int>(lr.positive("num_key_value_heads", h->n_kv_heads));
    }
  } else {
    const auto global_dim = static_cast<int>(r.positive("global_head_dim", 512));
    const int64_t global_kv = r.integer("num_global_key_value_heads", -1);
    for (int i = 0; i < n_layers; ++i) {
      if (h->layer_kinds[static_cast<size_t>(i)] != LayerKind::Full) continue;
      h->layer_head_dim[static_cast<size_t>(i)] = global_dim;
      if (h->k_eq_v && global_kv > 0) h->layer_kv_heads[static_cast<size_t>(i)] = static_cast<int>(global_kv);
    }
  }
}

// Gemma 3n's AltUp, LAuReL, KV sharing, per-layer embeddings and activation sparsity (spec §5.1,
// transformers 5.17's Gemma3nTextConfig defaults).
void parse_gemma3n_layers(const ConfigReader& r, int n_layers, GemmaHyperparams* h) {
  h->kv_shared_layers = static_cast<int>(r.integer("num_kv_shared_layers", 15));
  h->per_layer_input = static_cast<int>(r.positive("hidden_size_per_layer_input", 256));
  h->ple_vocab = r.positive("vocab_size_per_layer_input", 262144);
  h->altup_inputs = static_cast<int>(r.positive("altup_num_inputs", 4));
  h->altup_active = static_cast<int>(r.integer("altup_active_idx", 0));
  if (h->altup_active < 0 || h->altup_active >= h->altup_inputs)
    fail(r.source(), ": altup_active_idx (", h->altup_active, ") must be in [0, altup_num_inputs = ", h->altup_inputs, ")");
  h->altup_correct_scale = r.boolean("altup_correct_scale", true);
  h->laurel_rank = static_cast<int>(r.positive("laurel_rank", 64));
  std::vector<double> pattern;
  if (r.has("activation_sparsity_pattern") && !r.is_null("activation_sparsity_pattern")) {
    const json& a = r.raw("activation_sparsity_pattern");
    if (!a.is_array() || static_cast<int>(a.size()) != n_layers)
      fail(r.source(), ": 'activation_sparsity_pattern' must be an array of ", n_layers, " numbers (num_hidden_layers)");
    for (const json& e : a) {
      if (!e.is_number()) fail(r.source(), ": 'activation_sparsity_pattern' entries must be numbers, got ", e.dump());
      pattern.push_back(e.get<double>());
    }
  } else {  // HF's default: the first 10 layers at 0.95 when there are more than 10
    pattern.assign(static_cast<size_t>(n_layers), 0.0);
    if (n_layers > 10) std::fill(pattern.begin(), pattern.begin() + 10, 0.95);
  }
  h->sparsity_z.assign(static_cast<size_t>(n_layers), std::nullopt);
  for (int i = 0; i < n_layers; ++i) {
    const double p = pattern[static_cast<size_t>(i)];
    if (!(p >= 0.0 && p < 1.0)) fail(r.source(), ": activation_sparsity_pattern[", i, "] = ", p, " is not in [0, 1)");
    if (p > 0.0) h->sparsity_z[static_cast<size_t>(i)] = normal_quantile_f32(static_cast<float>(p));
  }
}

// intermediate_size: one number, or (Gemma 3n) one per layer.
void parse_intermediate_size(const ConfigReader& r, int64_t def, int n_layers, GemmaHyperparams* h) {
  if (r.has("intermediate_size") && r.raw("intermediate_size").is_array()) {
    const json& a = r.raw("intermediate_size");
    if (static_cast<int>(a.size()) != n_layers)
      fail(r.source(), ": 'intermediate_size' has ", a.size(), " entries, expected one or ", n_layers, " (num_hidden_layers)");
    for (const json& e : a) {
      if (!e.is_number_integer() || e.get<int64_t>() <= 0)
        fail(r.source(), ": 'intermediate_size' entries must be positive integers, got ", e.dump());
      h->layer_intermediate.push_back(e.get<int64_t>());
    }
    h->intermediate_size = h->layer_intermediate.front();
    return;
  }
  h->intermediate_size = r.positive("intermediate_size", def);
}

// erf^-1(y) for y in (-1, 1), in double: Newton steps on erf from 0. erf is concave on x > 0, so
// the steps approach the root of |y| from below without overshooting.
double inverse_erf(double y) {
  const double a = std::fabs(y);
  double x = 0.0;
  for (int i = 0; i < 1000; ++i) {
    const double step = (std::erf(x) - a) / (2.0 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
    x -= step;
    if (std::fabs(step) <= 1e-16 * x) break;
  }
  return y < 0.0 ? -x : x;
}

}  // namespace

float normal_quantile_f32(float p) {
  if (!(p > 0.0f && p < 1.0f)) fail("normal quantile: p = ", p, " is not in (0, 1)");
  const float y = 2.0f * p - 1.0f;  // exact in float32 for p in [0.25, 1)
  const auto e = static_cast<float>(inverse_erf(static_cast<double>(y)));
  return e * static_cast<float>(std::sqrt(2.0));
}

const char* family_name(GemmaFamily f) {
  switch (f) {
    case GemmaFamily::Gemma1: return "gemma";
    case GemmaFamily::Gemma2: return "gemma2";
    case GemmaFamily::Gemma3: return "gemma3";
    case GemmaFamily::Gemma3n: return "gemma3n";
    case GemmaFamily::Gemma4: return "gemma4";
  }
  return "?";
}

const char* layer_kind_name(LayerKind k) { return k == LayerKind::Sliding ? "sliding" : "full"; }

void set_image_blocks(GemmaHyperparams& h, ImageBlocks blocks) {
  h.bidirectional_vision = blocks != ImageBlocks::None;
  // Gemma3Model / Gemma4Model (transformers' create_masks_for_vision_model, spec §4.5, §6.5): a
  // sliding layer's mask is AND(window, OR(causal, block)); Gemma 4's full layers stay causal. The
  // unified model ORs the block onto every layer's mask after the window (create_masks_for_generate
  // with block_sequence_ids).
  h.window_limits_blocks = blocks == ImageBlocks::Gemma3 || blocks == ImageBlocks::Gemma4Vision;
  h.blocks_on_sliding_only = blocks == ImageBlocks::Gemma4Vision;
}

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
  spec.per_layer_input = h.per_layer_input;
  spec.ple_vocab = h.ple_vocab;
  spec.altup_inputs = h.altup_inputs;
  spec.altup_active = h.altup_active;
  spec.bidirectional_vision = h.bidirectional_vision;
  spec.tie_word_embeddings = h.tie_word_embeddings;
  spec.bos_token_id = h.bos_token_id;
  spec.eos_token_ids = h.eos_token_ids;
  spec.pad_token_id = h.pad_token_id;
  const int n_layers = static_cast<int>(h.layer_kinds.size());
  if (h.kv_shared_layers < 0) fail(source, ": num_kv_shared_layers (", h.kv_shared_layers, ") must not be negative");
  if (!h.layer_intermediate.empty() && h.layer_intermediate.size() != h.layer_kinds.size())
    fail(source, ": ", h.layer_intermediate.size(), " MLP widths for ", n_layers, " layers");
  if (!h.sparsity_z.empty() && h.sparsity_z.size() != h.layer_kinds.size())
    fail(source, ": ", h.sparsity_z.size(), " activation-sparsity entries for ", n_layers, " layers");
  // HF shares KV only when some layer is left to own it (first shared index > 0, spec §5.3 step 9).
  const int first_shared = h.kv_shared_layers < n_layers ? n_layers - h.kv_shared_layers : n_layers;
  const bool gemma4 = h.family == GemmaFamily::Gemma4;
  const bool gemma3n = h.family == GemmaFamily::Gemma3n;
  int next_slot = 0;  // slots go to the layers that own their KV, in order
  for (size_t i = 0; i < h.layer_kinds.size(); ++i) {
    LayerSpec l;
    l.kind = h.layer_kinds[i];
    l.n_heads = h.n_heads;
    l.n_kv_heads = h.layer_kv_heads.empty() ? h.n_kv_heads : h.layer_kv_heads[i];
    l.head_dim = h.layer_head_dim.empty() ? h.head_dim : h.layer_head_dim[i];
    if (l.head_dim <= 0 || l.head_dim % 2 != 0)
      fail(source, ": layer ", i, ": head_dim (", l.head_dim, ") must be positive and even");
    if (l.n_kv_heads <= 0 || l.n_heads % l.n_kv_heads != 0)
      fail(source, ": layer ", i, ": ", l.n_heads, " attention heads are not a multiple of ", l.n_kv_heads, " kv heads");
    l.rope = l.kind == LayerKind::Sliding ? h.rope_sliding : h.rope_full;
    if (l.kind == LayerKind::Sliding) {
      if (h.sliding_window < 1)
        fail(source, ": layer ", i, " is a sliding-attention layer but the sliding window is not a positive number");
      l.window = h.sliding_window;
    }
    l.window_limits_blocks = h.window_limits_blocks;
    l.image_blocks = h.bidirectional_vision && (!h.blocks_on_sliding_only || l.kind == LayerKind::Sliding);
    l.attn_scale = static_cast<float>(h.attn_scale);
    l.attn_softcap = h.attn_softcap;
    l.norm_eps = h.rms_norm_eps;
    l.norm_offset = h.norm_offset;
    l.sandwich_norms = h.family != GemmaFamily::Gemma1;                 // spec §3.4, §4.4
    l.qk_norm = h.family == GemmaFamily::Gemma3 || gemma3n || gemma4;   // spec §4.4, §5.3, §6.3
    l.v_norm = gemma3n || gemma4;
    l.layer_scalar = gemma4;
    l.k_eq_v = h.k_eq_v && l.kind == LayerKind::Full;
    l.per_layer_input = h.per_layer_input;
    l.n_experts = h.n_experts;
    l.top_k_experts = h.top_k_experts;
    l.expert_intermediate = h.expert_intermediate;
    const bool shared = static_cast<int>(i) >= first_shared;
    // HF widens the MLP of the KV-shared layers only when some layer is not shared (spec §6.2).
    const int64_t width = h.layer_intermediate.empty() ? h.intermediate_size : h.layer_intermediate[i];
    l.intermediate_size = static_cast<int>(width * (h.double_wide_mlp && shared && first_shared > 0 ? 2 : 1));
    l.altup_inputs = h.altup_inputs;
    l.altup_active = h.altup_active;
    l.altup_correct_scale = h.altup_correct_scale;
    l.laurel_rank = h.laurel_rank;
    if (!h.sparsity_z.empty() && h.sparsity_z[i]) {
      l.gaussian_topk = true;
      l.gaussian_topk_z = *h.sparsity_z[i];
    }
    l.activation = h.activation;
    if (shared) {
      // The last layer before the shared ones with the same kind owns the K/V (spec §6.3).
      for (int j = first_shared - 1; j >= 0 && l.kv_source < 0; --j)
        if (spec.layers[static_cast<size_t>(j)].kind == l.kind) l.kv_source = j;
      if (l.kv_source < 0)
        fail(source, ": layer ", i, " shares the KV of an earlier ", layer_kind_name(l.kind),
             " layer, but no layer before ", first_shared, " is one");
      const LayerSpec& src = spec.layers[static_cast<size_t>(l.kv_source)];
      if (src.head_dim != l.head_dim || src.n_kv_heads != l.n_kv_heads || src.window != l.window)
        fail(source, ": layer ", i, " reads layer ", l.kv_source, "'s KV but differs in head_dim, kv heads or window");
      l.kv_slot = src.kv_slot;
    } else {
      l.kv_slot = next_slot++;
    }
    spec.layers.push_back(l);
  }
  // Each slot's last reader appends the run's rows; earlier readers leave the slot as it was.
  for (size_t i = 0; i < spec.layers.size(); ++i)
    for (size_t j = i + 1; j < spec.layers.size(); ++j)
      if (spec.layers[j].kv_slot == spec.layers[i].kv_slot) spec.layers[i].appends_kv = false;
  return spec;
}

ModelSpec parse_gemma_config(const json& config, const std::string& source) {
  if (!config.is_object()) fail(source, ": top level must be a JSON object");
  if (!config.contains("model_type") || !config["model_type"].is_string())
    fail(source, ": missing string key 'model_type'");
  GemmaHyperparams h;
  h.model_type = config["model_type"].get<std::string>();
  h.family = family_of(h.model_type, source);

  // The multimodal gemma3 / gemma4 configs nest the language model under text_config.
  const json* text = &config;
  const bool nested = h.model_type == "gemma3" || h.model_type == "gemma3n" || h.model_type == "gemma4" ||
                      h.model_type == "gemma4_unified";
  const bool unified = is_gemma4_unified(h.model_type);
  if (nested) {
    if (!config.contains("text_config") || !config["text_config"].is_object())
      fail(source, ": model_type '", h.model_type, "' needs an object 'text_config'");
    text = &config["text_config"];
  }
  const ConfigReader r(*text, nested ? source + " (text_config)" : source);
  const ConfigReader top(config, source);
  FamilyDefaults d = defaults_for(h.family);
  if (unified) {  // Gemma4UnifiedTextConfig's own defaults (spec §7.1)
    d.sliding_window = 1024.0;
    d.max_position_embeddings = 262144;
  }

  if (r.boolean("attention_bias", false)) fail(source, ": attention_bias = true is not supported for Gemma");
  // Gemma3ForConditionalGeneration: the tokens of an image attend to each other in every layer, a
  // sliding layer's window bounding that too (transformers' create_masks_for_vision_model).
  if (h.model_type == "gemma3") set_image_blocks(h, ImageBlocks::Gemma3);
  h.vocab_size = r.positive("vocab_size", d.vocab_size);
  h.hidden_size = r.positive("hidden_size", d.hidden_size);
  const auto n_layers = static_cast<int>(r.positive("num_hidden_layers", d.num_hidden_layers));
  parse_intermediate_size(r, d.intermediate_size, n_layers, &h);
  h.n_heads = static_cast<int>(r.positive("num_attention_heads", d.num_attention_heads));
  h.n_kv_heads = static_cast<int>(r.positive("num_key_value_heads", d.num_key_value_heads));
  h.head_dim = static_cast<int>(r.positive("head_dim", d.head_dim));
  if (h.n_heads % h.n_kv_heads != 0)
    fail(source, ": num_attention_heads (", h.n_heads, ") must be a multiple of num_key_value_heads (", h.n_kv_heads, ")");
  if (h.head_dim % 2 != 0) fail(source, ": head_dim (", h.head_dim, ") must be even for RoPE");
  h.max_position_embeddings = static_cast<int>(r.positive("max_position_embeddings", d.max_position_embeddings));
  h.rms_norm_eps = static_cast<float>(r.number("rms_norm_eps", 1e-6));
  // HF stores Gemma 1-3 norm weights zero-centred; Gemma 3n's and 4's norms multiply by w itself
  // (spec §1.1).
  const bool scale_1 = h.family == GemmaFamily::Gemma3n || h.family == GemmaFamily::Gemma4;
  h.norm_offset = scale_1 ? 0.0f : 1.0f;
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

  // Attention scale (spec P9): Gemma 1 head_dim^-1/2; Gemma 2/3 query_pre_attn_scalar^-1/2;
  // Gemma 3n / 4 1.0 (the q / k norms take its place, spec §5.3, §6.3).
  h.attn_scale = scale_1 ? 1.0 : 1.0 / std::sqrt(static_cast<double>(h.head_dim));
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
  } else if (h.family == GemmaFamily::Gemma4) {  // HF's defaults (spec §6.1)
    h.rope_sliding.theta = 10000.0f;
    h.rope_full.theta = 1000000.0f;
    h.rope_full.rotary_fraction = 0.25f;
  } else {
    h.rope_full.theta = static_cast<float>(r.number("rope_theta", d.rope_theta));
    if (r.has("rope_scaling") && !r.is_null("rope_scaling")) {
      RopeSpec scaled = parse_rope_params(r.raw("rope_scaling"), h.rope_full.theta, source, "rope_scaling");
      h.rope_full.scaling = scaled.scaling;
    }
    h.rope_sliding = h.rope_full;
    if (h.family == GemmaFamily::Gemma3 || h.family == GemmaFamily::Gemma3n) {  // local layers: own base, never scaled (spec P12)
      h.rope_sliding = RopeSpec{};
      h.rope_sliding.theta = static_cast<float>(r.number("rope_local_base_freq", 10000.0));
    }
  }
  h.layer_kinds = parse_layer_kinds(r, h.family, n_layers);
  if (h.family == GemmaFamily::Gemma4) parse_gemma4_layers(r, n_layers, unified, &h);
  if (h.family == GemmaFamily::Gemma3n) parse_gemma3n_layers(r, n_layers, &h);

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
             rotated_pairs(l) < l.head_dim / 2 ? str(" rotating ", rotated_pairs(l), "/", l.head_dim / 2, " pairs") : "",
             " scale ", l.attn_scale, " softcap ", l.attn_softcap, " ffn ", l.intermediate_size,
             l.qk_norm ? " qk_norm" : "", l.v_norm ? " v_norm" : "", l.k_eq_v ? " k=v" : "",
             l.sandwich_norms ? " sandwich" : "",
             l.image_blocks ? (l.window_limits_blocks ? " image blocks (windowed)" : " image blocks") : "",
             " kv slot ", l.kv_slot,
             l.kv_source >= 0 ? str(" (layer ", l.kv_source, "'s)") : "",
             l.per_layer_input > 0 ? str(" ple ", l.per_layer_input) : "",
             l.n_experts > 0 ? str(" moe ", l.top_k_experts, "/", l.n_experts, " x ", l.expert_intermediate) : "",
             l.layer_scalar ? " layer_scalar" : "",
             l.altup_inputs > 0 ? str(" altup ", l.altup_active, "/", l.altup_inputs) : "",
             l.laurel_rank > 0 ? str(" laurel ", l.laurel_rank) : "",
             l.gaussian_topk ? str(" sparsity z ", l.gaussian_topk_z) : "", "\n");
  }
  return s;
}

}  // namespace gemrt
