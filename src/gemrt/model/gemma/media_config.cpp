#include "gemrt/model/gemma/media_config.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

using nlohmann::json;

int64_t positive(const json& j, const char* key, int64_t def, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
    fail(where, ": key '", key, "' must be a positive integer, got ", j[key].dump());
  return j[key].get<int64_t>();
}

float eps(const json& j, const char* key, double def, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return static_cast<float>(def);
  if (!j[key].is_number() || !(j[key].get<double>() > 0.0))
    fail(where, ": key '", key, "' must be a positive number, got ", j[key].dump());
  return j[key].get<float>();
}

int token(const json& j, const char* key, int def, const std::string& source) {
  return static_cast<int>(positive(j, key, def, source));
}

// Gemma 3 (spec §4.5): the SigLIP tower's vision_config and the *_token_index ids.
MediaSpec parse_gemma3_media(const json& config, const std::string& source) {
  MediaSpec m;
  const json& v = config["vision_config"];
  const std::string where = source + " (vision_config)";
  SiglipSpec s;
  s.image_size = static_cast<int>(positive(v, "image_size", s.image_size, where));
  s.patch_size = static_cast<int>(positive(v, "patch_size", s.patch_size, where));
  s.channels = static_cast<int>(positive(v, "num_channels", s.channels, where));
  s.hidden = positive(v, "hidden_size", s.hidden, where);
  s.intermediate = positive(v, "intermediate_size", s.intermediate, where);
  s.heads = static_cast<int>(positive(v, "num_attention_heads", s.heads, where));
  s.layers = static_cast<int>(positive(v, "num_hidden_layers", s.layers, where));
  s.eps = eps(v, "layer_norm_eps", 1e-6, where);
  s.tokens_per_image = static_cast<int>(positive(config, "mm_tokens_per_image", s.tokens_per_image, source));
  const std::string act = v.value("hidden_act", "gelu_pytorch_tanh");
  if (act != "gelu_pytorch_tanh" && act != "gelu_tanh")
    fail(where, ": hidden_act '", act, "' is not supported (gelu_pytorch_tanh)");
  const int side = s.patches_per_side(), per_side = static_cast<int>(std::lround(std::sqrt(s.tokens_per_image)));
  if (s.image_size % s.patch_size != 0 || per_side * per_side != s.tokens_per_image || side % per_side != 0)
    fail(where, ": ", s.image_size, "-pixel images in ", s.patch_size, "-pixel patches do not pool to ",
         s.tokens_per_image, " tokens (a square number dividing the patch grid)");
  if (s.hidden % s.heads != 0) fail(where, ": hidden_size ", s.hidden, " is not a multiple of ", s.heads, " heads");
  m.siglip = s;
  m.image_token = token(config, "image_token_index", 262144, source);
  m.boi_token = token(config, "boi_token_index", 255999, source);
  m.eoi_token = token(config, "eoi_token_index", 256000, source);
  // Gemma3Processor's full_image_sequence: "\n\n<start_of_image>" + image tokens + "<end_of_image>\n\n".
  m.image_text_before = m.image_text_after = "\n\n";
  return m;
}

// The media token ids of a Gemma 4 config (gemma4 and gemma4_unified: the same keys).
void parse_gemma4_tokens(const json& config, const std::string& source, MediaSpec& m) {
  m.image_token = token(config, "image_token_id", m.image_token, source);
  m.boi_token = token(config, "boi_token_id", m.boi_token, source);
  m.eoi_token = token(config, "eoi_token_id", m.eoi_token, source);
  m.video_token = token(config, "video_token_id", m.video_token, source);
  m.audio_token = token(config, "audio_token_id", m.audio_token, source);
  m.boa_token = token(config, "boa_token_id", m.boa_token, source);
  // transformers names this one eoa_token_index (spec §7.1); accept the _id spelling too.
  m.eoa_token = token(config, "eoa_token_index", token(config, "eoa_token_id", m.eoa_token, source), source);
}

// Gemma 4 (spec §6.7): the audio tower's audio_config (Gemma4AudioConfig's defaults).
Gemma4AudioSpec parse_gemma4_audio(const json& a, const std::string& where) {
  Gemma4AudioSpec s;
  const auto number = [&](const char* key, double def) {
    if (!a.contains(key) || a[key].is_null()) return static_cast<float>(def);
    if (!a[key].is_number()) fail(where, ": key '", key, "' must be a number, got ", a[key].dump());
    return a[key].get<float>();
  };
  const auto count = [&](const char* key, int64_t def, bool zero_ok) {
    if (!a.contains(key) || a[key].is_null()) return def;
    if (!a[key].is_number_integer() || a[key].get<int64_t>() < (zero_ok ? 0 : 1))
      fail(where, ": key '", key, "' must be a ", zero_ok ? "non-negative" : "positive", " integer, got ", a[key].dump());
    return a[key].get<int64_t>();
  };
  s.hidden = count("hidden_size", s.hidden, false);
  s.output_dims = count("output_proj_dims", s.output_dims, false);
  s.heads = static_cast<int>(count("num_attention_heads", s.heads, false));
  s.layers = static_cast<int>(count("num_hidden_layers", s.layers, false));
  s.conv_kernel = static_cast<int>(count("conv_kernel_size", s.conv_kernel, false));
  s.chunk = static_cast<int>(count("attention_chunk_size", s.chunk, false));
  s.context_left = static_cast<int>(count("attention_context_left", s.context_left, false));
  s.context_right = static_cast<int>(count("attention_context_right", s.context_right, true));
  s.residual_weight = number("residual_weight", s.residual_weight);
  s.logit_cap = number("attention_logit_cap", s.logit_cap);
  s.invalid_logit = number("attention_invalid_logits_value", s.invalid_logit);
  s.gradient_clipping = number("gradient_clipping", s.gradient_clipping);
  s.eps = eps(a, "rms_norm_eps", 1e-6, where);
  if (a.contains("use_clipped_linears") && !a["use_clipped_linears"].is_null()) {
    if (!a["use_clipped_linears"].is_boolean())
      fail(where, ": key 'use_clipped_linears' must be true or false, got ", a["use_clipped_linears"].dump());
    s.clipped_linears = a["use_clipped_linears"].get<bool>();
  }
  if (a.contains("subsampling_conv_channels") && !a["subsampling_conv_channels"].is_null()) {
    const json& c = a["subsampling_conv_channels"];
    if (!c.is_array() || c.size() != 2 || !c[0].is_number_integer() || !c[1].is_number_integer() ||
        c[0].get<int64_t>() <= 0 || c[1].get<int64_t>() <= 0)
      fail(where, ": key 'subsampling_conv_channels' must be two positive integers, got ", c.dump());
    s.conv_channels0 = c[0].get<int64_t>();
    s.conv_channels1 = c[1].get<int64_t>();
  }
  const std::string act = a.value("hidden_act", "silu");
  if (act != "silu" && act != "swish") fail(where, ": hidden_act '", act, "' is not supported (silu)");
  if (s.hidden % s.heads != 0) fail(where, ": hidden_size ", s.hidden, " is not a multiple of ", s.heads, " heads");
  if (!(s.logit_cap > 0.0f)) fail(where, ": attention_logit_cap must be positive, got ", s.logit_cap);
  if (!(s.gradient_clipping > 0.0f)) fail(where, ": gradient_clipping must be positive, got ", s.gradient_clipping);
  return s;
}

// Gemma 4 (spec §6.6): the vision tower's vision_config (Gemma4VisionConfig's defaults).
MediaSpec parse_gemma4_media(const json& config, const std::string& source) {
  MediaSpec m;
  parse_gemma4_tokens(config, source, m);
  if (config.contains("audio_config") && config["audio_config"].is_object())
    m.gemma4_audio = parse_gemma4_audio(config["audio_config"], source + " (audio_config)");
  if (!config.contains("vision_config") || !config["vision_config"].is_object()) return m;
  const json& v = config["vision_config"];
  const std::string where = source + " (vision_config)";
  Gemma4VisionSpec s;
  s.patch_size = static_cast<int>(positive(v, "patch_size", s.patch_size, where));
  s.pooling = static_cast<int>(positive(v, "pooling_kernel_size", s.pooling, where));
  s.hidden = positive(v, "hidden_size", s.hidden, where);
  s.intermediate = positive(v, "intermediate_size", s.intermediate, where);
  s.heads = static_cast<int>(positive(v, "num_attention_heads", s.heads, where));
  s.kv_heads = static_cast<int>(positive(v, "num_key_value_heads", s.kv_heads, where));
  s.head_dim = static_cast<int>(positive(v, "head_dim", s.hidden / s.heads, where));
  s.layers = static_cast<int>(positive(v, "num_hidden_layers", s.layers, where));
  s.posemb_size = positive(v, "position_embedding_size", s.posemb_size, where);
  s.eps = eps(v, "rms_norm_eps", 1e-6, where);
  const auto flag = [&](const char* key, bool def) {
    if (!v.contains(key) || v[key].is_null()) return def;
    if (!v[key].is_boolean()) fail(where, ": key '", key, "' must be true or false, got ", v[key].dump());
    return v[key].get<bool>();
  };
  s.clipped_linears = flag("use_clipped_linears", false);
  s.standardize = flag("standardize", false);
  const std::string act = v.value("hidden_activation", "gelu_pytorch_tanh");
  if (act != "gelu_pytorch_tanh" && act != "gelu_tanh")
    fail(where, ": hidden_activation '", act, "' is not supported (gelu_pytorch_tanh)");
  if (v.contains("rope_parameters") && v["rope_parameters"].is_object()) {
    const json& r = v["rope_parameters"];
    const std::string type = r.value("rope_type", "axial");
    if (type != "axial") fail(where, ": rope_parameters.rope_type '", type, "' is not supported (the tower's RoPE is axial)");
    s.rope_theta = eps(r, "rope_theta", 100.0, where + " rope_parameters");
  }
  // Axial RoPE rotates two halves of a head, each in pairs: head_dim must be a multiple of 4.
  if (s.head_dim % 4 != 0) fail(where, ": head_dim ", s.head_dim, " is not a multiple of 4 (two halves of pairs)");
  if (s.heads % s.kv_heads != 0)
    fail(where, ": num_attention_heads ", s.heads, " is not a multiple of num_key_value_heads ", s.kv_heads);
  m.gemma4_vision = s;
  return m;
}

}  // namespace

MediaSpec parse_media_config(const json& config, const std::string& source) {
  MediaSpec m;
  if (!config.is_object()) return m;
  if (config.value("model_type", "") == "gemma3" && config.contains("vision_config") &&
      config["vision_config"].is_object())
    return parse_gemma3_media(config, source);
  if (config.value("model_type", "") == "gemma4") return parse_gemma4_media(config, source);
  if (config.value("model_type", "") != "gemma4_unified") return m;
  if (config.contains("vision_config") && config["vision_config"].is_object()) {
    const json& v = config["vision_config"];
    const std::string where = source + " (vision_config)";
    VisionEmbedderSpec s;
    s.patch_size = static_cast<int>(positive(v, "patch_size", s.patch_size, where));
    s.pooling = static_cast<int>(positive(v, "pooling_kernel_size", s.pooling, where));
    s.embed_dim = positive(v, "mm_embed_dim", s.embed_dim, where);
    s.posemb_size = positive(v, "mm_posemb_size", s.posemb_size, where);
    s.output_proj_dims = positive(v, "output_proj_dims", s.output_proj_dims, where);
    s.rms_norm_eps = eps(v, "rms_norm_eps", 1e-6, where);
    // The embedder's last LayerNorm gives embed_dim values; the projection reads output_proj_dims.
    if (s.output_proj_dims != s.embed_dim)
      fail(where, ": output_proj_dims (", s.output_proj_dims, ") must equal mm_embed_dim (", s.embed_dim,
           "): the projection reads the embedder's output");
    m.vision = s;
  }
  if (config.contains("audio_config") && config["audio_config"].is_object()) {
    const json& a = config["audio_config"];
    const std::string where = source + " (audio_config)";
    AudioEmbedderSpec s;
    s.embed_dim = positive(a, "audio_embed_dim", s.embed_dim, where);
    s.rms_norm_eps = eps(a, "rms_norm_eps", 1e-6, where);
    m.audio = s;
  }
  parse_gemma4_tokens(config, source, m);
  m.suppressed_tokens = {m.eoa_token, m.eoi_token};
  return m;
}

}  // namespace gemrt
