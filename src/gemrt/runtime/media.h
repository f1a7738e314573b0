// Media into a multimodal prompt (Gemma 4 unified, spec §7; Gemma 4's vision tower, §6.6; Gemma
// 3's SigLIP, §4.5): the embedders / towers run on a backend, and their rows spliced into the
// prompt's image / audio soft tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <span>
#include <utility>
#include <vector>

#include "gemrt/backend/backend.h"
#include "gemrt/model/gemma/gemma4_audio_graph.h"
#include "gemrt/model/gemma/model.h"

namespace gemrt {

// Runs the model's media embedders (model/gemma/media_graph.h) on a backend.
class MediaEmbedder {
 public:
  // Throws if the model has no media embedders.
  MediaEmbedder(const GemmaModel& model, Backend& backend);

  // pixels float32 [P, patch_values] (values in [0, 1]), positions int32 [P, 2] (x, y; (-1, -1)
  // marks a padding patch, dropped). Gemma 4 unified (merged patches): returns [valid patches,
  // hidden] in input order. Gemma 4 with a vision tower (16-px patches): returns [soft tokens,
  // hidden], the patches pooled pooling x pooling by position in row-major order of the pooled
  // grid (runtime/patch_grid.h says what the positions must cover). Throws on a shape mismatch or
  // a position outside the position table.
  std::vector<float> embed_image(std::span<const float> pixels, std::span<const int32_t> positions);
  // frames float32 [A, samples per token]. Returns [A, hidden].
  std::vector<float> embed_audio(std::span<const float> frames);
  // Gemma 4's audio tower (spec §6.7): mel float32 [F, mel_bins] (Gemma4AudioFeatureExtractor's
  // log-mel frames), mask [F] (nonzero: a valid frame). Returns [N, hidden]: the soft tokens of the
  // subsampled frames whose mask (the frame mask taken every 4th frame) is valid, in order, as HF
  // keeps them. Throws on a shape mismatch or when the model has no audio tower.
  // `attention`: which of transformers' conformer masks (model/gemma/gemma4_audio_graph.h).
  std::vector<float> embed_audio_mel(std::span<const float> mel, std::span<const int32_t> mask,
                                     Gemma4AudioMask attention = Gemma4AudioMask::Sdpa);
  // Gemma 3 (SigLIP): pixel_values float32 [channels, image_size, image_size], already resized
  // and normalised by the processor. Returns [tokens_per_image, hidden].
  std::vector<float> embed_image_siglip(std::span<const float> pixel_values);

 private:
  std::vector<float> embed_image_tower(std::span<const float> pixels, std::span<const int32_t> positions);

  const GemmaModel& model_;
  Backend& backend_;
};

// Embedding rows for a prompt's media tokens (Session::prefill).
struct PromptMedia {
  std::vector<float> rows;       // [M, hidden]
  std::vector<int32_t> index;    // per prompt token: its row of `rows`, or -1
  // Bidirectional attention blocks as [begin, end) offsets into the prompt (the runs of the image
  // token; empty unless the model attends bidirectionally within images, spec §7.2).
  std::vector<std::pair<int64_t, int64_t>> blocks;
};

// The markers a prompt's text uses for media (issue 7: `gemrt run -p "What is in <image>?"`).
inline constexpr const char* kImageMarker = "<image>";
inline constexpr const char* kAudioMarker = "<audio>";

// The token ids of `text` with its i-th "<image>" marker replaced by boi, image_tokens[i] image
// tokens and eoi (with media.image_text_before / _after around them, tokenized with the text
// next to them), and its i-th "<audio>" marker by boa, audio_tokens[i] audio tokens and eoa:
// what the HF processors write for them; `encode` tokenizes the text between markers. Throws
// when the markers and the media differ in number.
std::vector<int32_t> expand_media_markers(const std::string& text, const MediaSpec& media,
                                          std::span<const int64_t> image_tokens, std::span<const int64_t> audio_tokens,
                                          const std::function<std::vector<int32_t>(const std::string&)>& encode);

// The image rows go to the prompt's image tokens in order, the audio rows to its audio tokens
// (spec §7.3 step 7, §7.4). Throws when the counts differ (naming both).
PromptMedia splice_media(std::span<const int32_t> ids, const GemmaModel& model, std::span<const float> image_rows,
                         std::span<const float> audio_rows);

}  // namespace gemrt
