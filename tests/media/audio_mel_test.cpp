// Gemma 4's log-mel front end (issue 8 step 2, media/audio_mel.h): ../shared/fixtures/hf/gemma4u-pub/
// audio.wav through it reproduces the gemma4-towers-pub fixture's audio_mel (rel err < 1e-4 per
// frame, the contract) and audio_mel_mask (exactly); frame counts and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/media/audio_mel.h"
#include "gemrt/media/wav_decode.h"
#include "test_util.h"

namespace gemrt {
namespace {

HostTensor ref(const std::string& name) {
  return test::load_tensor(test::shared_fixtures() + "/hf/gemma4-towers-pub/reference.safetensors", name);
}

TEST(AudioMel, FixtureClipMatchesTransformers) {
  const AudioMel mel = audio_to_mel(decode_wav_file(test::shared_fixtures() + "/hf/gemma4u-pub/audio.wav"));
  const HostTensor want = ref("audio_mel"), want_mask = ref("audio_mel_mask");
  ASSERT_EQ(mel.frames, want.shape[0]);
  const std::span<const int32_t> m = want_mask.values<int32_t>();
  EXPECT_EQ(mel.mask, std::vector<int32_t>(m.begin(), m.end()));
  // Valid frames within 1e-4; padding frames all zeros, as HF's.
  double worst = 0.0;
  for (int64_t f = 0; f < mel.frames; ++f) {
    const auto at = static_cast<size_t>(f * kMelBins);
    const std::span<const float> got(mel.values.data() + at, kMelBins), exp = want.values<float>().subspan(at, kMelBins);
    if (mel.mask[static_cast<size_t>(f)] == 0) {
      for (size_t j = 0; j < exp.size(); ++j) EXPECT_EQ(got[j], exp[j]) << "padding frame " << f;
      continue;
    }
    const double e = test::relative_error(got, exp);
    EXPECT_LT(e, 1e-4) << "frame " << f;
    worst = std::max(worst, e);
  }
  std::printf("[ audio mel ] worst frame rel err %.2e over %lld frames\n", worst, static_cast<long long>(mel.frames));
}

// 0.37 s: 5920 samples, padded to 6016 (a multiple of 128), 160 zeros before: 37 frames, the
// last one past the clip. Silence gives log(mel_floor) in every bin.
TEST(AudioMel, FrameCountsAndMask) {
  const AudioMel a = log_mel_frames(std::vector<float>(5920, 0.25f));
  EXPECT_EQ(a.frames, 37);
  EXPECT_EQ(a.mask.back(), 0);
  EXPECT_EQ(a.mask[35], 1);
  const AudioMel b = log_mel_frames(std::vector<float>(16000, 0.0f));  // 1 s of silence: log(0.001)
  EXPECT_EQ(b.frames, (160 + 16000 - 321) / 160 + 1);
  EXPECT_FLOAT_EQ(b.values[5], static_cast<float>(std::log(1e-3)));
}

TEST(AudioMel, BadClipsAreRefused) {
  EXPECT_THROW(log_mel_frames(std::vector<float>{}), Error);
  const std::string msg = test::error_message([] { log_mel_frames(std::vector<float>(480001, 0.0f)); });
  EXPECT_NE(msg.find("at most 480000"), std::string::npos) << msg;
}

}  // namespace
}  // namespace gemrt
