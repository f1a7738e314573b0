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
  // A per-layer key: an array of n values, or one scalar for every layer.
  std::vector<int64_t> per_layer(const std::string& suffix, int n, int64_t def) const {
    const GgufValue* v = find(suffix);
    if (!v) return std::vector<int64_t>(static_cast<size_t>(n), def);
    if (v->type() != GgufType::Array) return std::vector<int64_t>(static_cast<size_t>(n), v->as_int(key(suffix)));
    std::vector<int64_t> a = v->as_int_array(key(suffix));
    if (static_cast<int>(a.size()) != n)
      fail(g_.source(), ": metadata key '", key(suffix), "' has ", a.size(), " entries for ", n, " layers");
    return a;
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

// What Gemma 3n and 4 share (spec §8.2, §8.4): norms stored as they are, attention scale 1, the
// final soft-cap, the window, and the sliding pattern as per-layer bools (true = sliding; without
// the key, every `period`-th layer is full); `last_full`: the last layer is full whatever the key
// says (Gemma 4, spec §6.1).
void read_scale1_common(const GgufKeys& k, int n_layers, double default_cap, int period, bool last_full,
                        GemmaHyperparams* h) {
  h->norm_offset = 0.0f;
  h->attn_scale = 1.0;
  h->final_softcap = static_cast<float>(k.number("final_logit_softcapping", default_cap));
  h->sliding_window = static_cast<int>(k.integer("attention.sliding_window", 512));
  h->layer_kinds.assign(static_cast<size_t>(n_layers), LayerKind::Full);
  const std::vector<int64_t> pattern = k.per_layer("attention.sliding_window_pattern", n_layers, -1);
  for (int i = 0; i < n_layers - (last_full ? 1 : 0); ++i) {
    const int64_t p = pattern[static_cast<size_t>(i)];
    if (p < 0 ? (i + 1) % period != 0 : p != 0) h->layer_kinds[static_cast<size_t>(i)] = LayerKind::Sliding;
  }
}

// Gemma 4 (spec §8.2-8.4): per-layer head dims (key_length on full layers, key_length_swa on
// sliding ones), kv heads and MLP widths, K = V where a full layer has no attn_v, the rotated
// fraction of the full layers from rope_freqs (1 per rotated pair, 1e30 otherwise), shared KV
// layers, per-layer embeddings, MoE counts; norms stored as they are.
void read_gemma4(const GgufFile& g, const GgufKeys& k, int n_layers, GemmaHyperparams* h) {
  read_scale1_common(k, n_layers, 0.0, 6, true, h);
  const auto full_dim = static_cast<int>(k.positive("attention.key_length"));
  const auto swa_dim = static_cast<int>(k.integer("attention.key_length_swa", full_dim));
  if (k.integer("attention.value_length", full_dim) != full_dim || k.integer("attention.value_length_swa", swa_dim) != swa_dim)
    fail(g.source(), ": gemma4 value lengths must equal the key lengths");
  const std::vector<int64_t> kv = k.per_layer("attention.head_count_kv", n_layers, h->n_heads);
  const std::vector<int64_t> ffn = k.per_layer("feed_forward_length", n_layers, 0);
  h->head_dim = swa_dim;
  h->layer_head_dim.resize(static_cast<size_t>(n_layers));
  h->layer_kv_heads.resize(static_cast<size_t>(n_layers));
  for (int i = 0; i < n_layers; ++i) {
    h->layer_head_dim[static_cast<size_t>(i)] = h->layer_kinds[static_cast<size_t>(i)] == LayerKind::Full ? full_dim : swa_dim;
    h->layer_kv_heads[static_cast<size_t>(i)] = static_cast<int>(kv[static_cast<size_t>(i)]);
  }
  h->kv_shared_layers = static_cast<int>(k.integer("attention.shared_kv_layers", 0));
  const int first_shared = n_layers - h->kv_shared_layers;
  // MLP widths: one value, or twice it on every KV-shared layer (E2B's double-wide MLP).
  h->intermediate_size = ffn[0];
  if (h->intermediate_size <= 0) fail(g.source(), ": missing or bad metadata key '", k.key("feed_forward_length"), "'");
  for (int i = 0; i < n_layers; ++i) {
    const int64_t f = ffn[static_cast<size_t>(i)];
    if (f == h->intermediate_size) continue;
    if (i < first_shared || f != 2 * h->intermediate_size)
      fail(g.source(), ": ", k.key("feed_forward_length"), " of layer ", i, " is ", f,
           " (gemrt reads one width, or twice it on the KV-shared layers)");
    h->double_wide_mlp = true;
  }
  if (h->double_wide_mlp)
    for (int i = first_shared; i < n_layers; ++i)
      if (ffn[static_cast<size_t>(i)] != 2 * h->intermediate_size)
        fail(g.source(), ": ", k.key("feed_forward_length"), " doubles on some KV-shared layers but not on layer ", i);
  for (int i = 0; i < first_shared; ++i)  // K = V: a full layer that owns its KV and has no attn_v
    if (h->layer_kinds[static_cast<size_t>(i)] == LayerKind::Full) {
      h->k_eq_v = g.find(str("blk.", i, ".attn_v.weight")) == nullptr;
      break;
    }
  h->rope_full = RopeSpec{};
  h->rope_full.theta = static_cast<float>(k.number("rope.freq_base", 1e6));
  h->rope_sliding = RopeSpec{};
  h->rope_sliding.theta = static_cast<float>(k.number("rope.freq_base_swa", 1e4));
  if (const TensorView* rf = g.find("rope_freqs.weight")) {
    if (rf->dtype != DType::F32 || rf->shape.numel() != full_dim / 2)
      fail(g.source(), ": rope_freqs.weight must be F32 [", full_dim / 2, "], got ", dtype_name(rf->dtype), " ",
           rf->shape.to_string());
    int64_t rotated = 0;
    for (int64_t i = 0; i < rf->shape.numel(); ++i) rotated += rf->as<float>()[i] == 1.0f ? 1 : 0;
    h->rope_full.rotary_fraction = static_cast<float>(2.0 * static_cast<double>(rotated) / full_dim);
  }
  h->per_layer_input = static_cast<int>(k.integer("embedding_length_per_layer_input", 0));
  if (h->per_layer_input > 0) h->ple_vocab = g.get("per_layer_token_embd.weight").shape[0];
  h->n_experts = static_cast<int>(k.integer("expert_count", 0));
  if (h->n_experts > 0) {
    h->top_k_experts = static_cast<int>(k.positive("expert_used_count"));
    h->expert_intermediate = static_cast<int>(k.positive("expert_feed_forward_length"));
  }
}

// Gemma 3n (spec §8.2-8.4, llama.cpp's Gemma3NModel converter): AltUp streams and active index,
// per-layer embeddings, shared KV layers, per-layer MLP widths, the sliding pattern as bools,
// activation_sparsity_scale = Phi^-1(p) per layer (-inf where p = 0: a dense layer); norms stored
// as they are; attention scale 1; LAuReL's rank from its tensors.
void read_gemma3n(const GgufFile& g, const GgufKeys& k, int n_layers, GemmaHyperparams* h) {
  read_scale1_common(k, n_layers, 30.0, 5, false, h);
  h->n_kv_heads = static_cast<int>(k.integer("attention.head_count_kv", h->n_heads));
  h->head_dim = static_cast<int>(k.positive("attention.key_length"));
  if (k.integer("attention.value_length", h->head_dim) != h->head_dim)
    fail(g.source(), ": gemma3n value length must equal the key length");
  h->layer_intermediate = k.per_layer("feed_forward_length", n_layers, 0);
  for (int64_t f : h->layer_intermediate)
    if (f <= 0) fail(g.source(), ": missing or bad metadata key '", k.key("feed_forward_length"), "'");
  h->intermediate_size = h->layer_intermediate[0];
  h->rope_full = RopeSpec{};
  h->rope_full.theta = static_cast<float>(k.number("rope.freq_base", 1e6));
  h->rope_sliding = RopeSpec{};
  h->rope_sliding.theta = static_cast<float>(k.number("rope.freq_base_swa", 1e4));
  h->kv_shared_layers = static_cast<int>(k.integer("attention.shared_kv_layers", 0));
  h->per_layer_input = static_cast<int>(k.positive("embedding_length_per_layer_input"));
  h->ple_vocab = g.get("per_layer_token_embd.weight").shape[0];
  h->altup_inputs = static_cast<int>(k.positive("altup.num_inputs"));
  h->altup_active = static_cast<int>(k.integer("altup.active_idx", 0));
  if (h->altup_active < 0 || h->altup_active >= h->altup_inputs)
    fail(g.source(), ": ", k.key("altup.active_idx"), " (", h->altup_active, ") is not below ", k.key("altup.num_inputs"));
  // llama.cpp always multiplies by correct_output_scale (no key says otherwise; a model without
  // it is written with that tensor set to ones, tools/hf_to_gguf.py).
  h->altup_correct_scale = true;
  h->laurel_rank = static_cast<int>(g.get("blk.0.laurel_l.weight").shape[0]);
  h->sparsity_z.assign(static_cast<size_t>(n_layers), std::nullopt);
  if (const GgufValue* v = k.find("activation_sparsity_scale")) {
    const std::vector<double> z = v->as_number_array(k.key("activation_sparsity_scale"));
    if (static_cast<int>(z.size()) != n_layers)
      fail(g.source(), ": ", k.key("activation_sparsity_scale"), " has ", z.size(), " entries for ", n_layers, " layers");
    for (int i = 0; i < n_layers; ++i)
      if (std::isfinite(z[static_cast<size_t>(i)])) h->sparsity_z[static_cast<size_t>(i)] = static_cast<float>(z[static_cast<size_t>(i)]);
  }
}

int token_id(const GgufFile& g, const char* key, int def) {
  const GgufValue* v = g.find_meta(key);
  return v ? static_cast<int>(v->as_int(key)) : def;
}

}  // namespace

ModelSpec gemma_spec_from_gguf(const GgufFile& g, ImageBlocks image_blocks) {
  const std::string& arch = g.architecture();
  GemmaHyperparams h;
  h.model_type = arch;
  set_image_blocks(h, image_blocks);
  if (arch == "gemma") h.family = GemmaFamily::Gemma1;
  else if (arch == "gemma2") h.family = GemmaFamily::Gemma2;
  else if (arch == "gemma3") h.family = GemmaFamily::Gemma3;
  else if (arch == "gemma3n") h.family = GemmaFamily::Gemma3n;
  else if (arch == "gemma4") h.family = GemmaFamily::Gemma4;
  else fail(g.source(), ": unsupported general.architecture '", arch, "' (supported: gemma, gemma2, gemma3, gemma3n, gemma4)");
  const GgufKeys k(g, arch);

  const TensorView& embd = g.get("token_embd.weight");
  if (embd.shape.rank() != 2) fail(g.source(), ": token_embd.weight must be a matrix, got ", embd.shape.to_string());
  h.vocab_size = embd.shape[0];
  h.hidden_size = k.positive("embedding_length");
  const auto n_layers = static_cast<int>(k.positive("block_count"));
  h.n_heads = static_cast<int>(k.positive("attention.head_count"));
  if (h.family == GemmaFamily::Gemma4 || h.family == GemmaFamily::Gemma3n) {
    if (h.family == GemmaFamily::Gemma4) {
      read_gemma4(g, k, n_layers, &h);
      h.n_kv_heads = h.layer_kv_heads[0];
    } else {
      read_gemma3n(g, k, n_layers, &h);
    }
    h.max_position_embeddings = static_cast<int>(k.integer("context_length", 131072));
    h.rms_norm_eps = static_cast<float>(k.number("attention.layer_norm_rms_epsilon", 1e-6));
    h.tie_word_embeddings = g.find("output.weight") == nullptr;
    h.bos_token_id = token_id(g, "tokenizer.ggml.bos_token_id", 2);
    h.pad_token_id = token_id(g, "tokenizer.ggml.padding_token_id", 0);
    h.eos_token_ids = {token_id(g, "tokenizer.ggml.eos_token_id", 1)};
    return make_model_spec(h, g.source());
  }
  h.intermediate_size = k.positive("feed_forward_length");
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
