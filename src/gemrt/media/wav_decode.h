// WAV files to float samples (issue 7 step 3): RIFF/WAVE with PCM (8-bit unsigned, 16, 24 and
// 32-bit signed) or IEEE float (32 and 64-bit) samples, plain or WAVE_FORMAT_EXTENSIBLE, any number
// of channels. Integers scale as soundfile / librosa load them: PCM16 by 1 / 32768, PCM24 by
// 1 / 2^23, PCM32 by 1 / 2^31, 8-bit as (v - 128) / 128.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace gemrt {

struct AudioClip {
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;  // [frames, channels], interleaved
};

// Throws gemrt::Error naming the file and the problem (not RIFF/WAVE, a missing or malformed
// chunk, an unsupported encoding, truncated data).
AudioClip decode_wav_file(const std::string& path);
AudioClip decode_wav(std::span<const std::byte> data, const std::string& source);

}  // namespace gemrt
