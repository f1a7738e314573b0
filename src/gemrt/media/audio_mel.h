// A clip into Gemma 4's audio tower input (issue 8 step 2; transformers 5.17's
// Gemma4AudioFeatureExtractor at its defaults, spec §6.7): 16 kHz mono samples padded with zeros
// to a multiple of 128 samples, 160 zeros put before them; frames of 320 samples every 160 (the
// first frame_length of each 321-sample window), times a periodic Hann window (float32); the
// magnitude of a 512-point FFT; an HTK mel filter bank of 128 triangles over 0-8000 Hz (no norm);
// log(mel + 0.001). A frame is valid when the sample just after it (its window's last) is a real
// one; invalid frames are all zeros, as HF multiplies them by the mask.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gemrt/media/wav_decode.h"

namespace gemrt {

inline constexpr int kMelBins = 128;
// The extractor's max_length (30 s at 16 kHz): longer clips are refused, never cut.
inline constexpr int64_t kMaxMelSamples = 480000;

struct AudioMel {
  int64_t frames = 0;
  std::vector<float> values;  // [frames, kMelBins] float32 log-mel
  std::vector<int32_t> mask;  // [frames], 1 = valid
};

// samples: mono float32 at 16 kHz. Throws gemrt::Error for an empty clip or one past kMaxMelSamples.
AudioMel log_mel_frames(std::span<const float> samples);
// A decoded clip: folded to mono and resampled to 16 kHz (media/audio_frames.h to_mono_16k) first.
AudioMel audio_to_mel(const AudioClip& clip);

}  // namespace gemrt
