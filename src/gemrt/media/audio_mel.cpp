#include "gemrt/media/audio_mel.h"

#include <cmath>
#include <complex>
#include <numbers>

#include "gemrt/core/error.h"
#include "gemrt/media/audio_frames.h"

namespace gemrt {
namespace {

constexpr int kFrame = 320, kHop = 160, kFft = 512, kPadMultiple = 128;
constexpr double kMelFloor = 1e-3, kMaxHz = 8000.0;

// In-place iterative radix-2 FFT of n = 2^k complex values (double).
void fft(std::vector<std::complex<double>>& a) {
  const size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double angle = -2.0 * std::numbers::pi / static_cast<double>(len);
    for (size_t i = 0; i < n; i += len)
      for (size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> w(std::cos(angle * static_cast<double>(k)), std::sin(angle * static_cast<double>(k)));
        const std::complex<double> u = a[i + k], v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
      }
  }
}

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

// transformers' mel_filter_bank(257 bins, 128 filters, 0-8000 Hz, 16 kHz, norm None, "htk"):
// [257, 128] triangles in Hz between mel-spaced corners (numpy's linspace).
std::vector<double> mel_filters() {
  constexpr int bins = kFft / 2 + 1;
  const double mel_max = hz_to_mel(kMaxHz), mel_min = hz_to_mel(0.0);
  std::vector<double> corners(kMelBins + 2);
  const double step = (mel_max - mel_min) / static_cast<double>(kMelBins + 1);
  for (int i = 0; i < kMelBins + 2; ++i) corners[static_cast<size_t>(i)] = mel_to_hz(mel_min + static_cast<double>(i) * step);
  corners.back() = mel_to_hz(mel_max);  // linspace's exact endpoint
  std::vector<double> f(static_cast<size_t>(bins) * kMelBins);
  const double fstep = static_cast<double>(kAudioSampleRate / 2) / static_cast<double>(bins - 1);
  for (int b = 0; b < bins; ++b) {
    const double hz = static_cast<double>(b) * fstep;
    for (int m = 0; m < kMelBins; ++m) {
      const auto c = static_cast<size_t>(m);
      const double down = -(corners[c] - hz) / (corners[c + 1] - corners[c]);
      const double up = (corners[c + 2] - hz) / (corners[c + 2] - corners[c + 1]);
      f[static_cast<size_t>(b) * kMelBins + c] = std::max(0.0, std::min(down, up));
    }
  }
  return f;
}

}  // namespace

AudioMel log_mel_frames(std::span<const float> samples) {
  if (samples.empty()) fail("audio: the clip has no samples");
  const auto n = static_cast<int64_t>(samples.size());
  if (n > kMaxMelSamples)
    fail("audio: the clip has ", n, " samples (", static_cast<double>(n) / kAudioSampleRate, " s at 16 kHz); Gemma 4's ",
         "feature extractor takes at most ", kMaxMelSamples, " (30 s)");
  const int64_t padded = (n + kPadMultiple - 1) / kPadMultiple * kPadMultiple;
  const int64_t total = kHop + padded;  // 160 zeros before the clip
  std::vector<float> wave(static_cast<size_t>(total), 0.0f);
  std::copy(samples.begin(), samples.end(), wave.begin() + kHop);
  AudioMel out;
  out.frames = (total - (kFrame + 1)) / kHop + 1;
  if (out.frames <= 0) fail("audio: the clip is too short for one frame");
  // np.hanning(321)[:-1] as float32: the periodic Hann window.
  std::vector<float> window(kFrame);
  for (int i = 0; i < kFrame; ++i)
    window[static_cast<size_t>(i)] =
        static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / kFrame));
  static const std::vector<double> filters = mel_filters();
  out.values.assign(static_cast<size_t>(out.frames) * kMelBins, 0.0f);
  out.mask.assign(static_cast<size_t>(out.frames), 0);
  std::vector<std::complex<double>> spec(kFft);
  std::vector<double> mag(kFft / 2 + 1);
  for (int64_t f = 0; f < out.frames; ++f) {
    const int64_t start = f * kHop, end = start + kFrame;  // the window's last sample: index `end`
    const int64_t real = end - kHop;                      // that sample in the clip
    if (real >= n) continue;  // padding: zeros (HF multiplies by the mask)
    out.mask[static_cast<size_t>(f)] = 1;
    for (int i = 0; i < kFft; ++i)
      spec[static_cast<size_t>(i)] =
          i < kFrame ? static_cast<double>(wave[static_cast<size_t>(start + i)] * window[static_cast<size_t>(i)]) : 0.0;
    fft(spec);
    for (size_t b = 0; b < mag.size(); ++b) mag[b] = std::abs(spec[b]);
    for (int m = 0; m < kMelBins; ++m) {
      double s = 0.0;
      for (size_t b = 0; b < mag.size(); ++b) s += mag[b] * filters[b * kMelBins + static_cast<size_t>(m)];
      out.values[static_cast<size_t>(f * kMelBins + m)] = static_cast<float>(std::log(s + kMelFloor));
    }
  }
  return out;
}

AudioMel audio_to_mel(const AudioClip& clip) { return log_mel_frames(to_mono_16k(clip)); }

}  // namespace gemrt
