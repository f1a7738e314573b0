// A clip into the Gemma 4 unified model's audio soft tokens (issue 7 step 3, transformers 5.17's
// Gemma4UnifiedAudioFeatureExtractor): folded to mono (the channel mean), resampled to 16 kHz
// with libsoxr's high-quality recipe (what librosa, HF's audio loader, uses by default), cut
// into frames of samples_per_token samples, the last one zero-padded.
#pragma once

#include <cstdint>
#include <vector>

#include "gemrt/media/wav_decode.h"

namespace gemrt {

inline constexpr int kAudioSampleRate = 16000;
// The processor's cap on one clip's soft tokens (audio_seq_length: 750 x 40 ms = 30 s).
inline constexpr int64_t kMaxAudioTokens = 750;

struct AudioFrames {
  int64_t count = 0;          // soft tokens
  std::vector<float> frames;  // [count, samples_per_token]
};

// Mono samples at kAudioSampleRate (a copy when the clip is mono at that rate already).
std::vector<float> to_mono_16k(const AudioClip& clip);

// Throws gemrt::Error for an empty clip or one longer than kMaxAudioTokens frames (saying how
// long it is and what the limit is: never a silent cut).
AudioFrames audio_to_frames(const AudioClip& clip, int samples_per_token);

}  // namespace gemrt
