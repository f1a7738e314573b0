#include "gemrt/media/audio_frames.h"

#include <soxr.h>

#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {

std::vector<float> to_mono_16k(const AudioClip& clip) {
  if (clip.channels <= 0 || clip.sample_rate <= 0) fail("audio: ", clip.channels, " channels at ", clip.sample_rate, " Hz");
  const size_t ch = static_cast<size_t>(clip.channels), n = clip.samples.size() / ch;
  std::vector<float> mono(n);
  for (size_t i = 0; i < n; ++i) {
    float s = 0.0f;
    for (size_t c = 0; c < ch; ++c) s += clip.samples[i * ch + c];
    mono[i] = ch == 1 ? s : s / static_cast<float>(ch);
  }
  if (clip.sample_rate == kAudioSampleRate || mono.empty()) return mono;
  const double ratio = static_cast<double>(kAudioSampleRate) / clip.sample_rate;
  std::vector<float> out(static_cast<size_t>(std::ceil(static_cast<double>(n) * ratio)) + 16);
  size_t done = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_error_t err = soxr_oneshot(clip.sample_rate, kAudioSampleRate, 1, mono.data(), n, nullptr, out.data(),
                                        out.size(), &done, &io, &q, nullptr);
  if (err) fail("audio: resampling ", clip.sample_rate, " Hz to ", kAudioSampleRate, " Hz failed: ", err);
  out.resize(done);
  return out;
}

AudioFrames audio_to_frames(const AudioClip& clip, int samples_per_token) {
  if (samples_per_token <= 0) fail("audio: samples per token must be positive, got ", samples_per_token);
  std::vector<float> mono = to_mono_16k(clip);
  if (mono.empty()) fail("audio: the clip has no samples");
  const auto spt = static_cast<size_t>(samples_per_token);
  AudioFrames f;
  f.count = static_cast<int64_t>((mono.size() + spt - 1) / spt);
  if (f.count > kMaxAudioTokens)
    fail("audio: the clip lasts ", static_cast<double>(mono.size()) / kAudioSampleRate, " s, ", f.count,
         " tokens; the model takes at most ", kMaxAudioTokens, " tokens (",
         static_cast<double>(kMaxAudioTokens * samples_per_token) / kAudioSampleRate, " s) per clip");
  mono.resize(static_cast<size_t>(f.count) * spt, 0.0f);
  f.frames = std::move(mono);
  return f;
}

}  // namespace gemrt
