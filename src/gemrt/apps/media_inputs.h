// Media tensors of a `gemrt logits --inputs` file (issue 7): what a processor made of an image
// and an audio clip, ready for the Gemma 4 unified embedders (runtime/media.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gemrt/core/shape.h"

namespace gemrt::cli {

struct MediaInputs {
  bool has_image = false, has_audio = false;
  std::vector<float> pixels;        // pixel_values [P, D] (Gemma 4 unified) or [3, H, W] (Gemma 3)
  Shape pixel_shape;                // as given, a leading 1 dropped
  std::vector<int32_t> positions;   // image_position_ids [P, 2]; empty for Gemma 3's image
  std::vector<float> audio_frames;  // audio_frames [A, S]
};

// Reads the optional float32 `pixel_values` [P, D] with int32 / int64 `image_position_ids` [P, 2]
// (Gemma 4 unified's patches), or `pixel_values` [3, H, W] alone (Gemma 3's image), and float32
// `audio_frames` [A, S]; a leading batch dimension of 1 (the HF processors' layout) is accepted.
// Throws naming the file and tensor on any other shape or dtype.
MediaInputs read_media_inputs(const std::string& path);

}  // namespace gemrt::cli
