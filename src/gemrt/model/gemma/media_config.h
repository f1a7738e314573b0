// The media side of the encoder-free Gemma 4 unified config (spec §7.1, transformers 5.17's
// Gemma4UnifiedConfig): what the vision and audio embedders read and the media token ids.
// Text-only model types have none.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gemrt {

// Raw pixel patches into the language model (spec §7.3): patch_size-pixel patches merged
// pooling x pooling into one of patch_values() = 3 (patch_size pooling)^2 values, LayerNorm ->
// Dense -> LayerNorm -> + x / y position embeddings (posemb_size positions per axis) -> LayerNorm,
// then a weightless RMSNorm and a projection from output_proj_dims (= embed_dim) to the hidden size.
struct VisionEmbedderSpec {
  int patch_size = 16;
  int pooling = 3;
  int64_t embed_dim = 3840;       // mm_embed_dim
  int64_t posemb_size = 1120;     // mm_posemb_size
  int64_t output_proj_dims = 3840;
  float rms_norm_eps = 1e-6f;
  float layer_norm_eps = 1e-5f;   // torch LayerNorm's default: the config does not set it
  int64_t patch_values() const {
    const int64_t side = int64_t{patch_size} * pooling;
    return 3 * side * side;
  }
};

// Raw 16 kHz audio into the language model (spec §7.4): frames of embed_dim samples (one soft
// token each), a weightless RMSNorm, a projection to the hidden size.
struct AudioEmbedderSpec {
  int64_t embed_dim = 640;  // audio_embed_dim = samples per token
  float rms_norm_eps = 1e-6f;
};

// Gemma 3's SigLIP vision tower and multimodal projector (spec §4.5, transformers 5.17's
// SiglipVisionTransformer + Gemma3MultiModalProjector): an image_size-pixel square image cut into
// patch_size patches (a conv = a product over each patch's channel-major pixels, plus bias), plus
// learned position embeddings; `layers` pre-norm encoder layers (LayerNorm with bias, attention
// over every patch with q/k/v/out biases, a tanh-GELU MLP with biases); a post LayerNorm; average
// pooling to tokens_per_image; a Gemma RMSNorm (1 + w); a projection to the text hidden size.
struct SiglipSpec {
  int image_size = 896, patch_size = 14, channels = 3;
  int64_t hidden = 1152, intermediate = 4304;
  int heads = 16, layers = 27;
  float eps = 1e-6f;  // every LayerNorm and the projector's RMSNorm (layer_norm_eps)
  int tokens_per_image = 256;
  int patches_per_side() const { return image_size / patch_size; }
  int64_t patch_values() const { return int64_t{channels} * patch_size * patch_size; }
};

// Gemma 4's vision tower and embed_vision (spec §6.6, transformers 5.17's Gemma4VisionModel +
// Gemma4MultimodalEmbedder): patch_size-pixel patches (3 patch_size^2 values, mapped 2 (x - 0.5))
// through a bias-free projection to `hidden`, plus x and y rows of a [2, posemb_size, hidden]
// position table; `layers` encoder layers (RMSNorm sandwiches with plain weights, q/k RMSNorms over
// head_dim with weights and a weightless v norm, axial RoPE of rope_theta: the head's first half
// at the patch's x, the second at its y; attention scale 1 over every patch of the image; gated
// tanh-GELU MLP), every projection optionally clamped on input and output (clipped_linears);
// average pooling of pooling x pooling patches by position, times sqrt(hidden) (float32),
// optionally (x - std_bias) * std_scale (standardize); a weightless RMSNorm and a projection to
// the text hidden size. `eps` serves every RMSNorm, embed_vision's too.
struct Gemma4VisionSpec {
  int patch_size = 16, pooling = 3;
  int64_t hidden = 768, intermediate = 3072;
  int heads = 12, kv_heads = 12, head_dim = 64, layers = 16;
  int64_t posemb_size = 10240;  // position_embedding_size: positions per axis
  float rope_theta = 100.0f;
  float eps = 1e-6f;
  bool clipped_linears = false, standardize = false;
  int64_t patch_values() const { return int64_t{3} * patch_size * patch_size; }
};

// Gemma 4's audio tower and embed_audio (spec §6.7, transformers 5.17's Gemma4AudioModel +
// Gemma4MultimodalEmbedder), from audio_config: log-mel frames [F, mel_bins] through two 3x3
// stride-2 convolutions (channels conv_channels[0], then [1]; each a LayerNorm over channels
// without bias and a ReLU), a projection to `hidden`; `layers` conformer blocks (half-step SiLU
// feed-forwards of 4 hidden, chunked local attention with relative positions and a logit cap,
// a depthwise causal convolution of conv_kernel with GLU); output_proj (with bias) to
// output_dims; a weightless RMSNorm and a projection to the text hidden size.
struct Gemma4AudioSpec {
  int64_t hidden = 1024, output_dims = 1536;
  int heads = 8, layers = 12;
  int64_t conv_channels0 = 128, conv_channels1 = 32;
  int mel_bins = 128;  // the feature extractor's (Gemma4AudioFeatureExtractor), not in audio_config
  int conv_kernel = 5;
  float residual_weight = 0.5f;
  int chunk = 12, context_left = 13, context_right = 0;
  float logit_cap = 50.0f, invalid_logit = -1e9f;
  float gradient_clipping = 1e10f;
  float eps = 1e-6f;
  bool clipped_linears = true;
  int head_dim() const { return static_cast<int>(hidden / heads); }
  // Frequency bins after the two stride-2 convolutions (pad 1, kernel 3).
  int64_t sub_freq() const { return ((mel_bins + 1) / 2 + 1) / 2; }
};

struct MediaSpec {
  std::optional<VisionEmbedderSpec> vision;
  std::optional<AudioEmbedderSpec> audio;
  std::optional<SiglipSpec> siglip;
  std::optional<Gemma4VisionSpec> gemma4_vision;
  std::optional<Gemma4AudioSpec> gemma4_audio;
  // Token ids (spec §7.1 defaults: the released 12B's).
  int image_token = 258880, boi_token = 255999, eoi_token = 258882, video_token = 258884;
  // Text the processor writes around an image's tokens (Gemma 3: "\n\n" on both sides).
  std::string image_text_before, image_text_after;
  // Tokens generation never samples (Gemma 4 unified: EOA and EOI, whose embedding rows the
  // converter wrote for the prompt side only, spec §7.5).
  std::vector<int> suppressed_tokens;
  int audio_token = 258881, boa_token = 256000, eoa_token = 258883;
};

// The media spec of a parsed config.json: empty (no embedders) unless model_type is
// gemma4_unified, gemma3 with a vision_config (the SigLIP tower), or gemma4 with a vision_config
// (its vision tower) and / or an audio_config (its audio tower); `source` names the file in errors.
MediaSpec parse_media_config(const nlohmann::json& config, const std::string& source);

}  // namespace gemrt
