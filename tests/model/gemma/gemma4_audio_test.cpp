// Gemma 4's audio tower (issue 8, step 2) on ../shared/fixtures/hf/gemma4-towers-pub: the tower and
// embed_audio reproduce transformers' audio_features from the fixture's log-mel frames (37 frames,
// the last one padding: 10 subsampled frames, 9 valid soft tokens), and the model its logits over
// the whole prompt with the image and audio rows spliced in, rel err < 1e-4 per row (the issue's
// contract).
//
// Two references, one per transformers attention mask (model/gemma/gemma4_audio_graph.h): the
// shared fixture was made with attn_implementation="eager" (the conformer's mask read inverted,
// Gemma4AudioMask::Eager); tests/data/hf-media/gemma4-audio-sdpa holds the same model's outputs
// under the default sdpa (the intended sliding window, gemrt's default; made by
// tests/data/make_gemma4_audio_sdpa_reference.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/model/gemma/gemma4_audio_graph.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::string fixture() { return test::shared_fixtures() + "/hf/gemma4-towers-pub"; }
HostTensor ref(const std::string& name) { return test::load_tensor(fixture() + "/reference.safetensors", name); }
HostTensor sdpa_ref(const std::string& name) {
  return test::load_tensor(test::test_data() + "/hf-media/gemma4-audio-sdpa/reference.safetensors", name);
}
HostTensor want(Gemma4AudioMask mode, const std::string& name) {
  return mode == Gemma4AudioMask::Eager ? ref(name) : sdpa_ref(name);
}
const char* mode_name(Gemma4AudioMask mode) { return mode == Gemma4AudioMask::Eager ? "eager" : "sdpa"; }

double worst_row(std::span<const float> got, const HostTensor& want, const std::string& what) {
  return test::expect_rows_close(got, want, 1e-4, what);  // issue 8's contract
}

std::vector<float> audio_features(MediaEmbedder& embedder, Gemma4AudioMask mode) {
  return embedder.embed_audio_mel(ref("audio_mel").values<float>(), ref("audio_mel_mask").values<int32_t>(), mode);
}

void check_features(Backend& backend, Gemma4AudioMask mode) {
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  const double err = worst_row(audio_features(embedder, mode), want(mode, "audio_features"), "audio_features");
  std::printf("[ gemma4 audio ] %s %s: worst row rel err audio_features %.2e\n", backend.name().c_str(),
              mode_name(mode), err);
}

// The whole prompt: 63 image rows from the vision tower, 9 audio rows from the audio tower.
void check_logits(Backend& backend, Gemma4AudioMask mode, int chunk) {
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  const std::vector<float> image =
      embedder.embed_image(ref("pixel_values").values<float>(), ref("image_position_ids").values<int32_t>());
  const std::vector<float> audio = audio_features(embedder, mode);
  const HostTensor ids = ref("input_ids");
  const PromptMedia media = splice_media(ids.values<int32_t>(), *model, image, audio);
  Session session(*model, backend, {.max_tokens = static_cast<int>(ids.shape[0]), .prefill_chunk = chunk});
  const std::vector<float> logits = session.prefill(ids.values<int32_t>(), LogitsRows::All, &media);
  const double err = worst_row(logits, want(mode, "logits"), "logits");
  std::printf("[ gemma4 audio ] %s %s chunk %d: worst row rel err logits (all %lld rows) %.2e\n",
              backend.name().c_str(), mode_name(mode), chunk, static_cast<long long>(ids.shape[0]), err);
}

TEST(Gemma4Audio, ConfigAndTowerWeights) {
  auto model = GemmaModel::load(fixture());
  ASSERT_TRUE(model->media().gemma4_audio && model->media_weights().gemma4_audio);
  const Gemma4AudioSpec& s = *model->media().gemma4_audio;
  EXPECT_EQ(s.hidden, 32);
  EXPECT_EQ(s.output_dims, 32);
  EXPECT_EQ(s.heads, 2);
  EXPECT_EQ(s.layers, 2);
  EXPECT_EQ(s.conv_channels0, 128);
  EXPECT_EQ(s.conv_channels1, 4);
  EXPECT_EQ(s.conv_kernel, 5);
  EXPECT_EQ(s.chunk, 4);
  EXPECT_EQ(s.context_left, 5);
  EXPECT_EQ(s.context_right, 0);
  EXPECT_EQ(s.logit_cap, 50.0f);
  EXPECT_TRUE(s.clipped_linears);
  const Gemma4AudioWeights& w = *model->media_weights().gemma4_audio;
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.layers[1].q.weight.name, "model.audio_tower.layers.1.self_attn.q_proj.linear.weight");
  EXPECT_EQ(w.layers[0].rel_k.shape, (Shape{5, 32}));  // (4 + 5 - 1 + 0) / 2 + 1 relative positions
  EXPECT_EQ(w.input_proj.shape, (Shape{32, 32 * 4}));
  EXPECT_EQ(w.projection.name, "model.embed_audio.embedding_projection.weight");
  EXPECT_EQ(model->media().audio_token, 501);
  EXPECT_EQ(model->media().eoa_token, 505);
  EXPECT_EQ(gemma4_audio_tokens(37), 10);
}

TEST(Gemma4Audio, FeaturesMatchTransformersEager) {
  cpu::CpuBackend backend(2);
  check_features(backend, Gemma4AudioMask::Eager);
}

TEST(Gemma4Audio, FeaturesMatchTransformersSdpa) {
  cpu::CpuBackend backend(2);
  check_features(backend, Gemma4AudioMask::Sdpa);
}

// The two masks give different tokens on this clip (the references differ by far more than 1e-4).
TEST(Gemma4Audio, TheTwoMasksDiffer) {
  cpu::CpuBackend backend(2);
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  EXPECT_NE(audio_features(embedder, Gemma4AudioMask::Eager), audio_features(embedder, Gemma4AudioMask::Sdpa));
  const HostTensor a = ref("audio_features"), b = sdpa_ref("audio_features");
  double diff = 0.0;
  for (size_t i = 0; i < a.values<float>().size(); ++i)
    diff = std::max(diff, static_cast<double>(std::abs(a.values<float>()[i] - b.values<float>()[i])));
  EXPECT_GT(diff, 1e-2);
}

TEST(Gemma4Audio, FullPromptLogitsMatchTransformers) {
  cpu::CpuBackend backend(2);
  for (const Gemma4AudioMask mode : {Gemma4AudioMask::Eager, Gemma4AudioMask::Sdpa}) {
    check_logits(backend, mode, 0);
    check_logits(backend, mode, 16);  // the audio block split over chunks (causal attention)
  }
}

TEST(Gemma4Audio, CudaPreciseMatchesTransformers) {
  GEMRT_CUDA_OR_SKIP(backend);
  for (const Gemma4AudioMask mode : {Gemma4AudioMask::Eager, Gemma4AudioMask::Sdpa}) {
    check_features(*backend, mode);
    check_logits(*backend, mode, 0);
  }
}

// Padding frames do not reach the valid tokens (sdpa; the eager mask lets them in): more padding
// after the clip (mask 0, any values) leaves the 9 soft tokens as they were.
TEST(Gemma4Audio, TrailingPaddingDoesNotChangeTheTokens) {
  cpu::CpuBackend backend(2);
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  const HostTensor mel = ref("audio_mel"), mask = ref("audio_mel_mask");
  std::vector<float> m(mel.values<float>().begin(), mel.values<float>().end());
  std::vector<int32_t> k(mask.values<int32_t>().begin(), mask.values<int32_t>().end());
  for (int f = 0; f < 8; ++f) {
    for (int j = 0; j < 128; ++j) m.push_back(3.0f + 0.01f * static_cast<float>(j));
    k.push_back(0);
  }
  const std::vector<float> padded = embedder.embed_audio_mel(m, k);
  worst_row(padded, sdpa_ref("audio_features"), "padded audio_features");
}

TEST(Gemma4Audio, BadInputIsRefused) {
  cpu::CpuBackend backend(2);
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  const HostTensor mel = ref("audio_mel"), mask = ref("audio_mel_mask");
  const std::string msg = test::error_message(
      [&] { embedder.embed_audio_mel(mel.values<float>().subspan(1), mask.values<int32_t>()); });
  EXPECT_NE(msg.find("do not make [F, 128] frames"), std::string::npos) << msg;
  // The audio rows and the prompt's audio tokens must agree in number.
  const std::vector<float> audio = audio_features(embedder, Gemma4AudioMask::Sdpa);
  const std::vector<float> image =
      embedder.embed_image(ref("pixel_values").values<float>(), ref("image_position_ids").values<int32_t>());
  EXPECT_THROW(splice_media(ref("input_ids").values<int32_t>(), *model, image, std::span(audio).subspan(64)), Error);
}

}  // namespace
}  // namespace gemrt
