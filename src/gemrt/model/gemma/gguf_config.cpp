#include "gemrt/model/gemma/gguf_config.h"

#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

// Reads `{arch}.suffix` keys with defaults; scalar-or-array keys take the first element.
class GgufKeys {
 public:
  GgufKeys(const GgufFile& g, std::string arch) : g_(g), arch_(std::move(arch)) {}

  std::string key(const std::string& suffix) const { return arch_ + "." + suffix; }
  const GgufValue* find(const std::string& suffix) const { return g_.find_meta(key(suffix)); }

  int64_t integer(const std::string& suffix) const {
    const GgufValue* v = find(suffix);
    if (!v) fail(g_.source(), ": missing metadata key '", key(suffix), "'");
    return first_int(*v, key(suffix));
  }
  int64_t integer(const std::string& suffix, int64_t def) const {
    const GgufValue* v = find(suffix);
    return v ? first_int(*v, key(suffix)) : def;
  }
  double number(const std::string& suffix, double def) const {
    const GgufValue* v = find(suffix);
    return v ? v->as_number(key(suffix)) : def;
  }
  int64_t positive(const std::string& suffix) const {
    const int64_t v = integer(suffix);
    if (v <= 0) fail(g_.source(), ": metadata key '", key(suffix), "' must be positive, got ", v);
    return v;
  }

 private:
  int64_t first_int(const GgufValue& v, const std::string& k) const {
    if (v.type() != GgufType::Array) return v.as_int(k);
    const std::vector<int64_t> a = v.as_int_array(k);
    if (a.empty()) fail(g_.source(), ": metadata key '", k, "' is an empty array");
    for (int64_t x : a)
      if (x != a[0]) fail(g_.source(), ": metadata key '", k, "' varies per layer, which gemrt does not support for ", arch_);
    return a[0];
  }
  const GgufFile& g_;
  std::string arch_;
};

int token_id(const GgufFile& g, const char* key, int def) {
  const GgufValue* v = g.find_meta(key);
  return v ? static_cast<int>(v->as_int(key)) : def;
}

}  // namespace

ModelSpec gemma_spec_from_gguf(const GgufFile& g) {
  const std::string& arch = g.architecture();
  GemmaHyperparams h;
  h.model_type = arch;
  if (arch == "gemma") h.family = GemmaFamily::Gemma1;
  else if (arch == "gemma2") h.family = GemmaFamily::Gemma2;
  else if (arch == "gemma3") h.family = GemmaFamily::Gemma3;
  else fail(g.source(), ": unsupported general.architecture '", arch, "' (supported: gemma, gemma2, gemma3)");
  const GgufKeys k(g, arch);

  const TensorView& embd = g.get("token_embd.weight");
  if (embd.shape.rank() != 2) fail(g.source(), ": token_embd.weight must be a matrix, got ", embd.shape.to_string());
  h.vocab_size = embd.shape[0];
  h.hidden_size = k.positive("embedding_length");
  h.intermediate_size = k.positive("feed_forward_length");
  const auto n_layers = static_cast<int>(k.positive("block_count"));
  h.n_heads = static_cast<int>(k.positive("attention.head_count"));
  h.n_kv_heads = static_cast<int>(k.integer("attention.head_count_kv", h.n_heads));
  h.head_dim = static_cast<int>(k.integer("attention.key_length", h.hidden_size / h.n_heads));
  if (k.integer("attention.value_length", h.head_dim) != h.head_dim)
    fail(g.source(), ": ", k.key("attention.value_length"), " differs from key_length, which Gemma 1-3 never do");
  h.max_position_embeddings = static_cast<int>(k.integer("context_length", 8192));
  h.rms_norm_eps = static_cast<float>(k.number("attention.layer_norm_rms_epsilon", 1e-6));
  h.norm_offset = 0.0f;  // stored as 1 + w
  h.tie_word_embeddings = g.find("output.weight") == nullptr;

  const int big_layers = h.family == GemmaFamily::Gemma2 ? 46 : h.family == GemmaFamily::Gemma3 ? 62 : -1;
  const double qdim = n_layers == big_layers ? static_cast<double>(h.hidden_size) / h.n_heads : h.head_dim;
  h.attn_scale = k.number("attention.scale", 1.0 / std::sqrt(qdim));  // an explicit key wins

  h.rope_full.theta = static_cast<float>(k.number("rope.freq_base", h.family == GemmaFamily::Gemma3 ? 1e6 : 1e4));
  h.rope_sliding.theta = h.rope_full.theta;
  if (const GgufValue* type = k.find("rope.scaling.type")) {
    const std::string& t = type->as_string(k.key("rope.scaling.type"));
    if (t == "linear") {
      h.rope_full.scaling.kind = RopeScaling::Kind::Linear;
      h.rope_full.scaling.factor = static_cast<float>(k.number("rope.scaling.factor", 1.0));
    } else if (t != "none") {
      fail(g.source(), ": unsupported ", k.key("rope.scaling.type"), " '", t, "'");
    }
  }

  h.layer_kinds.assign(static_cast<size_t>(n_layers), LayerKind::Full);
  if (h.family == GemmaFamily::Gemma2) {
    h.attn_softcap = static_cast<float>(k.number("attn_logit_softcapping", 50.0));
    h.final_softcap = static_cast<float>(k.number("final_logit_softcapping", 30.0));
    h.sliding_window = static_cast<int>(k.integer("attention.sliding_window", 4096));
    for (int i = 0; i < n_layers; i += 2) h.layer_kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  } else if (h.family == GemmaFamily::Gemma3) {
    h.final_softcap = static_cast<float>(k.number("final_logit_softcapping", 0.0));
    h.sliding_window = static_cast<int>(k.integer("attention.sliding_window", 4096));
    h.rope_sliding = RopeSpec{};  // local layers: own base, never scaled (spec P12)
    h.rope_sliding.theta = static_cast<float>(k.number("rope.freq_base_swa", 1e4));
    const GgufValue* pattern = k.find("attention.sliding_window_pattern");
    if (pattern && pattern->type() == GgufType::Array) {  // per-layer bools, true = sliding
      const std::vector<int64_t> p = pattern->as_int_array(k.key("attention.sliding_window_pattern"));
      if (static_cast<int>(p.size()) != n_layers)
        fail(g.source(), ": ", k.key("attention.sliding_window_pattern"), " has ", p.size(), " entries for ", n_layers,
             " layers");
      for (int i = 0; i < n_layers; ++i)
        if (p[static_cast<size_t>(i)]) h.layer_kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
    } else {
      const int64_t period = pattern ? pattern->as_int(k.key("attention.sliding_window_pattern")) : 6;
      if (period <= 0) fail(g.source(), ": ", k.key("attention.sliding_window_pattern"), " must be positive");
      for (int i = 0; i < n_layers; ++i)
        if ((i + 1) % period != 0) h.layer_kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
    }
  }

  h.bos_token_id = token_id(g, "tokenizer.ggml.bos_token_id", 2);
  h.pad_token_id = token_id(g, "tokenizer.ggml.padding_token_id", 0);
  h.eos_token_ids = {token_id(g, "tokenizer.ggml.eos_token_id", 1)};
  return make_model_spec(h, g.source());
}

}  // namespace gemrt
