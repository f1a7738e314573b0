#include "gemrt/model/gemma/mmproj_config.h"

#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

// clip.* keys of one mmproj file; errors name the file and the key.
class ClipKeys {
 public:
  explicit ClipKeys(const GgufFile& g) : g_(g) {}

  const std::string& source() const { return g_.source(); }
  bool has(const std::string& key) const { return g_.find_meta(key) != nullptr; }
  bool has_tensor(const std::string& name) const { return g_.find(name) != nullptr; }
  int64_t positive(const std::string& key) const {
    const GgufValue* v = g_.find_meta(key);
    if (!v) fail(source(), ": missing metadata key '", key, "'");
    return checked(key, v->as_int(key));
  }
  int64_t positive(const std::string& key, int64_t def) const {
    const GgufValue* v = g_.find_meta(key);
    return v ? checked(key, v->as_int(key)) : def;
  }
  float eps(const std::string& key) const {
    const GgufValue* v = g_.find_meta(key);
    if (!v) fail(source(), ": missing metadata key '", key, "'");
    const double e = v->as_number(key);
    if (!(e > 0.0)) fail(source(), ": metadata key '", key, "' must be positive, got ", e);
    return static_cast<float>(e);
  }
  bool flag(const std::string& key) const {
    const GgufValue* v = g_.find_meta(key);
    return v && v->as_bool(key);
  }
  // The tensor's row-major shape (GGUF's ne reversed); throws naming it when absent or of another rank.
  const Shape& shape(const std::string& tensor, int rank) const {
    const TensorView* t = g_.find(tensor);
    if (!t) fail(source(), ": missing tensor '", tensor, "'");
    if (t->shape.rank() != rank) fail(source(), ": tensor '", tensor, "' has shape ", t->shape.to_string(), ", expected rank ", rank);
    return t->shape;
  }

 private:
  int64_t checked(const std::string& key, int64_t v) const {
    if (v <= 0) fail(source(), ": metadata key '", key, "' must be positive, got ", v);
    return v;
  }
  const GgufFile& g_;
};

// The projector of one modality and the key it came from ("" when the file has no such tower).
struct Projector {
  std::string type, key;
};

Projector projector(const GgufFile& g, const char* modality) {
  const std::string has = str("clip.has_", modality, "_encoder"), own = str("clip.", modality, ".projector_type");
  if (const GgufValue* v = g.find_meta(has); !v || !v->as_bool(has)) return {};
  for (const std::string& key : {own, std::string("clip.projector_type")})
    if (const GgufValue* v = g.find_meta(key)) return {v->as_string(key), key};
  fail(g.source(), ": ", has, " is true but neither '", own, "' nor 'clip.projector_type' names its projector");
}

// The projectors gemrt runs beside a text model of `family`.
const char* projectors_for(GemmaFamily family) {
  switch (family) {
    case GemmaFamily::Gemma3: return "an mmproj with projector gemma3";
    case GemmaFamily::Gemma4: return "an mmproj with projectors gemma4v / gemma4a or gemma4uv / gemma4ua";
    default: return "none: gemrt runs mmproj files beside gemma3 and gemma4 text models";
  }
}

// The text model must be `want`, and the tower's projection_dim its width.
void check_joins(const ClipKeys& k, const Projector& p, const char* modality, GemmaFamily want, GemmaFamily text_family,
                 int64_t text_hidden, const std::string& text_source) {
  if (text_family != want)
    fail(k.source(), ": ", p.key, " is '", p.type, "', the towers of a ", family_name(want), " model, but the text model ",
         text_source, " is ", family_name(text_family), " (expected ", projectors_for(text_family), ")");
  const std::string key = str("clip.", modality, ".projection_dim");
  const int64_t dim = k.positive(key);
  if (dim != text_hidden)
    fail(k.source(), ": ", key, " is ", dim, ", expected ", text_hidden, " (the embedding_length of the text model ",
         text_source, ")");
}

// A tower's width `hidden` (`prefix`.embedding_length) splits into `heads` whole heads.
void require_whole_heads(const ClipKeys& k, const char* prefix, int64_t hidden, int heads) {
  if (hidden % heads != 0)
    fail(k.source(), ": ", prefix, ".embedding_length ", hidden, " is not a multiple of ", heads, " heads");
}

// Gemma 3 (clip.cpp PROJECTOR_TYPE_GEMMA3, siglip.cpp): a square image_size image, SigLIP layers,
// avg pooling by scale_factor (4 unless given), the soft-embedding norm and the projection.
SiglipSpec siglip_from(const ClipKeys& k) {
  SiglipSpec s;
  s.image_size = static_cast<int>(k.positive("clip.vision.image_size"));
  s.patch_size = static_cast<int>(k.positive("clip.vision.patch_size"));
  s.hidden = k.positive("clip.vision.embedding_length");
  s.intermediate = k.positive("clip.vision.feed_forward_length");
  s.heads = static_cast<int>(k.positive("clip.vision.attention.head_count"));
  s.layers = static_cast<int>(k.positive("clip.vision.block_count"));
  s.eps = k.eps("clip.vision.attention.layer_norm_epsilon");
  s.channels = static_cast<int>(k.shape("v.patch_embd.weight", 4)[1]);
  const int64_t merge = k.positive("clip.vision.projector.scale_factor", 4);
  const int side = s.patches_per_side();
  if (s.image_size % s.patch_size != 0 || side % merge != 0)
    fail(k.source(), ": ", s.image_size, "-pixel images in ", s.patch_size, "-pixel patches do not pool by ", merge,
         " (clip.vision.image_size, clip.vision.patch_size, clip.vision.projector.scale_factor)");
  s.tokens_per_image = static_cast<int>((side / merge) * (side / merge));
  require_whole_heads(k, "clip.vision", s.hidden, s.heads);
  return s;
}

Gemma4VisionSpec gemma4_vision_from(const ClipKeys& k) {
  Gemma4VisionSpec s;
  s.patch_size = static_cast<int>(k.positive("clip.vision.patch_size"));
  s.pooling = static_cast<int>(k.positive("clip.vision.projector.scale_factor", 3));
  s.hidden = k.positive("clip.vision.embedding_length");
  s.intermediate = k.positive("clip.vision.feed_forward_length");
  s.heads = static_cast<int>(k.positive("clip.vision.attention.head_count"));
  s.kv_heads = static_cast<int>(k.positive("clip.vision.attention.head_count_kv", s.heads));
  s.layers = static_cast<int>(k.positive("clip.vision.block_count"));
  if (!k.has("clip.vision.attention.head_dim") && s.hidden % s.heads != 0)
    fail(k.source(), ": clip.vision.embedding_length ", s.hidden, " is not a multiple of ", s.heads,
         " heads and clip.vision.attention.head_dim is absent");
  s.head_dim = static_cast<int>(k.positive("clip.vision.attention.head_dim", s.hidden / s.heads));
  s.eps = k.eps("clip.vision.attention.layer_norm_epsilon");
  s.rope_theta = 100.0f;
  s.posemb_size = k.shape("v.position_embd.weight", 3)[1];  // [2, positions per axis, hidden]
  s.standardize = k.has_tensor("v.std_bias") || k.has_tensor("v.std_scale");  // the binding wants both
  s.clipped_linears = k.has_tensor("v.blk.0.attn_q.input_min") || k.has_tensor("v.blk.0.attn_q.input_max");  // for `inspect`
  if (s.head_dim % 4 != 0)
    fail(k.source(), ": the vision head_dim ", s.head_dim, " is not a multiple of 4 (axial RoPE rotates two halves of pairs)");
  if (s.heads % s.kv_heads != 0)
    fail(k.source(), ": clip.vision.attention.head_count ", s.heads, " is not a multiple of head_count_kv ", s.kv_heads);
  return s;
}

Gemma4AudioSpec gemma4_audio_from(const ClipKeys& k) {
  Gemma4AudioSpec s;  // chunk, context, logit cap, residual weight, eps: llama.cpp's constants (header)
  s.hidden = k.positive("clip.audio.embedding_length");
  s.heads = static_cast<int>(k.positive("clip.audio.attention.head_count"));
  s.layers = static_cast<int>(k.positive("clip.audio.block_count"));
  s.mel_bins = static_cast<int>(k.positive("clip.audio.num_mel_bins"));
  if (const int64_t ff = k.positive("clip.audio.feed_forward_length"); ff != 4 * s.hidden)
    fail(k.source(), ": clip.audio.feed_forward_length is ", ff, ", expected ", 4 * s.hidden,
         " (4 x clip.audio.embedding_length, the conformer's feed-forward width)");
  s.chunk = 12;
  s.context_left = 13;
  s.context_right = 0;
  s.logit_cap = 50.0f;
  s.residual_weight = 0.5f;
  s.eps = 1e-6f;
  s.invalid_logit = -1e9f;
  s.gradient_clipping = 1e10f;
  s.conv_channels0 = k.shape("a.conv1d.0.weight", 4)[0];
  s.conv_channels1 = k.shape("a.conv1d.1.weight", 4)[0];
  s.conv_kernel = static_cast<int>(k.shape("a.blk.0.conv_dw.weight", 2)[1]);
  s.output_dims = k.shape("a.pre_encode.out.weight", 2)[0];
  s.clipped_linears = k.has_tensor("a.blk.0.attn_q.input_min") || k.has_tensor("a.blk.0.attn_q.input_max");  // for `inspect`
  require_whole_heads(k, "clip.audio", s.hidden, s.heads);
  return s;
}

// Gemma 4 unified's encoder-free embedder (clip.cpp PROJECTOR_TYPE_GEMMA4UV, models/gemma4uv.cpp).
VisionEmbedderSpec unified_vision_from(const ClipKeys& k) {
  VisionEmbedderSpec s;
  s.patch_size = static_cast<int>(k.positive("clip.vision.patch_size"));
  s.embed_dim = k.positive("clip.vision.embedding_length");
  s.output_proj_dims = s.embed_dim;
  s.posemb_size = k.shape("v.position_embd.weight", 3)[1];  // [2, positions per axis, embed_dim]
  s.rms_norm_eps = k.eps("clip.vision.attention.layer_norm_epsilon");
  s.layer_norm_eps = 1e-5f;  // the graph's LayerNorms: torch's default, as gemma4uv.cpp hard-codes
  // Patches merge pooling x pooling: clip.vision.projector.scale_factor, which the converter does not
  // write; llama.cpp then takes 3 (the released model's), gemrt the merged patch width of the
  // patch_embd tensor [embed_dim, 3 (patch_size pooling)^2], which says 3 for every file llama.cpp runs.
  const int64_t values = k.shape("v.patch_embd.weight", 2)[1];
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(values) / 3.0)));
  s.pooling = static_cast<int>(k.positive("clip.vision.projector.scale_factor", side / s.patch_size));
  if (s.patch_values() != values)
    fail(k.source(), ": tensor 'v.patch_embd.weight' takes ", values, " values per merged patch, but ", s.patch_size,
         "-pixel patches merged ", s.pooling, " x ", s.pooling, " make ", s.patch_values(),
         " (clip.vision.patch_size, clip.vision.projector.scale_factor)");
  return s;
}

}  // namespace

MediaSpec media_spec_from_mmproj(const GgufFile& g, GemmaFamily text_family, int64_t text_hidden,
                                 const std::string& text_source) {
  const std::string& arch = g.architecture();
  if (arch != "clip")
    fail(g.source(), ": general.architecture is '", arch,
         "', expected 'clip' (an mmproj file from llama.cpp's convert_hf_to_gguf.py --mmproj)");
  const ClipKeys k(g);
  const Projector vision = projector(g, "vision"), audio = projector(g, "audio");
  if (vision.type.empty() && audio.type.empty())
    fail(g.source(), ": neither clip.has_vision_encoder nor clip.has_audio_encoder is true: no tower to load");
  MediaSpec m;
  if (vision.type == "gemma3") {
    check_joins(k, vision, "vision", GemmaFamily::Gemma3, text_family, text_hidden, text_source);
    m.siglip = siglip_from(k);
    // Gemma3Processor's full_image_sequence: "\n\n<start_of_image>" + image tokens + "<end_of_image>\n\n".
    m.image_text_before = m.image_text_after = "\n\n";
  } else if (vision.type == "gemma4v") {
    check_joins(k, vision, "vision", GemmaFamily::Gemma4, text_family, text_hidden, text_source);
    m.gemma4_vision = gemma4_vision_from(k);
  } else if (vision.type == "gemma4uv") {
    check_joins(k, vision, "vision", GemmaFamily::Gemma4, text_family, text_hidden, text_source);
    m.vision = unified_vision_from(k);
  } else if (!vision.type.empty()) {
    fail(g.source(), ": ", vision.key, " is '", vision.type, "'; gemrt runs the vision projectors gemma3, gemma4v and gemma4uv");
  }
  if (audio.type == "gemma4a") {
    check_joins(k, audio, "audio", GemmaFamily::Gemma4, text_family, text_hidden, text_source);
    m.gemma4_audio = gemma4_audio_from(k);
  } else if (audio.type == "gemma4ua") {
    // Raw 16 kHz frames of clip.audio.embedding_length samples; RMSNorm eps 1e-6 (clip.cpp
    // PROJECTOR_TYPE_GEMMA4UA hard-codes it, as Gemma4UnifiedAudioConfig's default).
    check_joins(k, audio, "audio", GemmaFamily::Gemma4, text_family, text_hidden, text_source);
    m.audio = AudioEmbedderSpec{k.positive("clip.audio.embedding_length"), 1e-6f};
  } else if (!audio.type.empty()) {
    fail(g.source(), ": ", audio.key, " is '", audio.type, "'; gemrt runs the audio projectors gemma4a and gemma4ua");
  }
  return m;
}

ImageBlocks mmproj_image_blocks(const MediaSpec& media, const ModelSpec& text) {
  if (media.siglip) return ImageBlocks::Gemma3;
  if (media.vision) return ImageBlocks::Unified;
  if (media.gemma4_vision) return text.per_layer_input > 0 ? ImageBlocks::None : ImageBlocks::Gemma4Vision;
  return ImageBlocks::None;
}

}  // namespace gemrt
