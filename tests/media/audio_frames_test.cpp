// Audio preprocessing (issue 7 step 3): the fixture's audio.wav -> audio_processed.safetensors
// exactly (1e-6: the contract); WAV encodings (PCM 8/16/24/32, float 32/64, stereo,
// WAVE_FORMAT_EXTENSIBLE) decoded to the same samples; other rates resampled to 16 kHz; clear
// errors for corrupt files and clips past the model's 30 s.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "gemrt/core/error.h"
#include "gemrt/media/audio_frames.h"
#include "gemrt/media/wav_decode.h"
#include "test_util.h"

namespace gemrt {
namespace {

void put(std::vector<std::byte>& b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}
void put_tag(std::vector<std::byte>& b, const char* tag) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::byte>(tag[i]));
}

// A WAV of `samples` (interleaved, in [-1, 1)) in the given encoding.
std::vector<std::byte> make_wav(const std::vector<float>& samples, int channels, int rate, uint16_t format, int bits,
                                bool extensible = false) {
  std::vector<std::byte> data;
  for (float s : samples) {
    if (format == 3 && bits == 32) {
      uint32_t u;
      std::memcpy(&u, &s, 4);
      put(data, u, 4);
    } else if (format == 3) {
      const double d = s;
      uint64_t u;
      std::memcpy(&u, &d, 8);
      put(data, u, 8);
    } else if (bits == 8) {
      put(data, static_cast<uint64_t>(std::lround(s * 128.0f) + 128), 1);
    } else {
      const int64_t v = std::llround(static_cast<double>(s) * std::ldexp(1.0, bits - 1));
      put(data, static_cast<uint64_t>(v), bits / 8);
    }
  }
  std::vector<std::byte> b;
  put_tag(b, "RIFF");
  put(b, 4 + 8 + (extensible ? 40 : 16) + 8 + data.size(), 4);
  put_tag(b, "WAVE");
  put_tag(b, "fmt ");
  put(b, extensible ? 40 : 16, 4);
  put(b, extensible ? 0xfffe : format, 2);
  put(b, static_cast<uint64_t>(channels), 2);
  put(b, static_cast<uint64_t>(rate), 4);
  put(b, static_cast<uint64_t>(rate * channels * bits / 8), 4);
  put(b, static_cast<uint64_t>(channels * bits / 8), 2);
  put(b, static_cast<uint64_t>(bits), 2);
  if (extensible) {
    put(b, 22, 2);
    put(b, static_cast<uint64_t>(bits), 2);
    put(b, 0, 4);
    put(b, format, 2);  // sub-format GUID: the tag, then the fixed tail
    const unsigned char tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71};
    for (unsigned char c : tail) b.push_back(static_cast<std::byte>(c));
  }
  put_tag(b, "data");
  put(b, data.size(), 4);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

TEST(AudioFrames, FixtureAudioMatchesTheFeatureExtractor) {
  const std::string dir = test::shared_fixtures() + "/hf/gemma4u-pub";
  const AudioFrames f = audio_to_frames(decode_wav_file(dir + "/audio.wav"), 640);
  const HostTensor want = test::load_tensor(dir + "/audio_processed.safetensors", "input_features");
  const HostTensor mask = test::load_tensor(dir + "/audio_processed.safetensors", "input_features_mask");
  ASSERT_EQ(want.shape, (Shape{1, 10, 640}));
  ASSERT_EQ(f.count, 10);
  ASSERT_EQ(mask.shape.numel(), 10);
  ASSERT_EQ(f.frames.size(), want.values<float>().size());
  double worst = 0.0;
  for (size_t i = 0; i < f.frames.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(f.frames[i]) - static_cast<double>(want.values<float>()[i])));
  EXPECT_LT(worst, 1e-6);
}

TEST(AudioFrames, WavEncodingsDecodeToTheSameSamples) {
  std::vector<float> stereo;
  for (int i = 0; i < 1000; ++i) {
    stereo.push_back(0.5f * std::sin(0.01f * static_cast<float>(i)));
    stereo.push_back(-0.25f * std::cos(0.03f * static_cast<float>(i)));
  }
  struct Enc {
    uint16_t format;
    int bits;
    bool ext;
    double tol;
  };
  for (const Enc& e : {Enc{1, 16, false, 1.0 / 32768}, Enc{1, 24, false, 1e-6}, Enc{1, 32, false, 1e-7},
                       Enc{3, 32, false, 0.0}, Enc{3, 64, false, 0.0}, Enc{1, 8, false, 1.0 / 128},
                       Enc{1, 16, true, 1.0 / 32768}, Enc{3, 32, true, 0.0}}) {
    SCOPED_TRACE(testing::Message() << "format " << e.format << " bits " << e.bits << " extensible " << e.ext);
    const std::vector<std::byte> wav = make_wav(stereo, 2, 16000, e.format, e.bits, e.ext);
    const AudioClip clip = decode_wav(wav, "test.wav");
    ASSERT_EQ(clip.channels, 2);
    ASSERT_EQ(clip.sample_rate, 16000);
    ASSERT_EQ(clip.samples.size(), stereo.size());
    for (size_t i = 0; i < stereo.size(); ++i) ASSERT_NEAR(clip.samples[i], stereo[i], e.tol + 1e-9) << i;
    // Folded to mono: the channel mean.
    const AudioFrames f = audio_to_frames(clip, 640);
    ASSERT_EQ(f.count, 2);  // 1000 samples -> 2 frames, the second zero-padded
    for (size_t i = 0; i < 1000; ++i)
      ASSERT_NEAR(f.frames[i], (clip.samples[2 * i] + clip.samples[2 * i + 1]) / 2.0f, 1e-7) << i;
    for (size_t i = 1000; i < 1280; ++i) ASSERT_EQ(f.frames[i], 0.0f);
  }
}

TEST(AudioFrames, OtherRatesAreResampledTo16k) {
  for (int rate : {8000, 22050, 44100, 48000}) {
    SCOPED_TRACE(rate);
    std::vector<float> tone(static_cast<size_t>(rate));  // one second of 440 Hz
    for (size_t i = 0; i < tone.size(); ++i)
      tone[i] = 0.5f * static_cast<float>(std::sin(2.0 * M_PI * 440.0 * static_cast<double>(i) / rate));
    const std::vector<float> out = to_mono_16k(decode_wav(make_wav(tone, 1, rate, 3, 32), "tone.wav"));
    ASSERT_NEAR(static_cast<double>(out.size()), 16000.0, 2.0);
    double worst = 0.0;  // away from the edges, the same tone sampled at 16 kHz
    for (size_t i = 800; i + 800 < out.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(out[i]) - 0.5 * std::sin(2.0 * M_PI * 440.0 * static_cast<double>(i) / 16000.0)));
    EXPECT_LT(worst, 2e-3);
  }
}

// The error message of decode_wav on `data` ("" if it decodes).
std::string error_of(std::span<const std::byte> data) {
  return test::error_message([&] { decode_wav(data, "test.wav"); });
}

TEST(AudioFrames, CorruptAndOverlongClipsGiveClearErrors) {
  const std::vector<float> s(100, 0.1f);
  const std::vector<std::byte> good = make_wav(s, 1, 16000, 1, 16);
  EXPECT_NE(error_of({}).find("not a WAV"), std::string::npos);
  EXPECT_NE(error_of(std::span<const std::byte>(good).first(30)).find("test.wav"), std::string::npos);
  EXPECT_NE(error_of(std::span<const std::byte>(good).first(good.size() - 10)).find("truncated"), std::string::npos);
  std::vector<std::byte> adpcm = good;
  adpcm[20] = std::byte{2};  // format tag 2: MS ADPCM
  EXPECT_NE(error_of(adpcm).find("unsupported WAV encoding"), std::string::npos) << error_of(adpcm);
  std::vector<std::byte> no_data(good.begin(), good.begin() + 36);
  EXPECT_NE(error_of(no_data).find("no 'data' chunk"), std::string::npos);
  // 31 s at 16 kHz: 775 tokens, past the 750 the model takes.
  const std::vector<float> long_clip(31 * 16000, 0.0f);
  try {
    audio_to_frames(decode_wav(make_wav(long_clip, 1, 16000, 3, 32), "long.wav"), 640);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 750"), std::string::npos) << e.what();
  }
  EXPECT_THROW(audio_to_frames(decode_wav(make_wav({}, 1, 16000, 1, 16), "empty.wav"), 640), Error);
  EXPECT_THROW(decode_wav_file("/nonexistent/a.wav"), Error);
}

}  // namespace
}  // namespace gemrt
