// Media tensors of a `gemrt logits --inputs` file (issues 7, 8): what a processor made of an
// image and an audio clip, ready for the embedders and towers (runtime/media.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gemrt/core/shape.h"

namespace gemrt::cli {

struct MediaInputs {
  bool has_image = false, has_audio = false;
  std::vector<float> pixels;        // pixel_values [P, D] (Gemma 4 patches) or [3, H, W] (Gemma 3)
  Shape pixel_shape;                // as given, a leading 1 dropped
  std::vector<int32_t> positions;   // image_position_ids [P, 2]; empty for Gemma 3's image
  std::vector<float> audio_frames;  // audio_frames [A, S]
  bool has_audio_mel = false;
  std::vector<float> audio_mel;        // audio_mel [F, mel bins] (Gemma 4's audio tower)
  int64_t audio_mel_bins = 0;
  std::vector<int32_t> audio_mel_mask;  // audio_mel_mask [F], nonzero = valid
};

// Reads the optional float32 `pixel_values` [P, D] with int32 / int64 `image_position_ids` [P, 2]
// (Gemma 4's patches: the unified model's merged ones or the vision tower's 16-px ones), or `pixel_values` [3, H, W] alone (Gemma 3's image), and float32
// `audio_frames` [A, S], or Gemma 4's float32 `audio_mel` [F, bins] with `audio_mel_mask` [F]
// (int32, int64 or uint8; nonzero = valid); a leading batch dimension of 1 (the HF
// processors' layout) is accepted.
// Throws naming the file and tensor on any other shape or dtype.
MediaInputs read_media_inputs(const std::string& path);

}  // namespace gemrt::cli
