// Gemma 4's vision tower (issue 8, step 1) on ../shared/fixtures/hf/gemma4-towers-pub: the tower
// and embed_vision reproduce transformers' image_features from the real processor's 16-px patches
// (630 given, 63 of them padding, a 27 x 21 grid pooled 3 x 3 to 63 soft tokens), and the model
// its logits with those rows spliced in, rel err < 1e-4 per row (the contract).
//
// The logits: the fixture's prompt also holds 9 audio tokens, whose rows come from the audio tower.
// Attention is causal (use_bidirectional_attention is null), so the rows up to and including boa do
// not depend on them: the tests here run the prompt up to boa and compare those 72 rows of the
// reference; Gemma4Audio.FullPromptLogitsMatchTransformers checks all 85 with both towers.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::string fixture() { return test::shared_fixtures() + "/hf/gemma4-towers-pub"; }
HostTensor ref(const std::string& name) { return test::load_tensor(fixture() + "/reference.safetensors", name); }

double worst_row(std::span<const float> got, const HostTensor& want, const std::string& what) {
  return test::expect_rows_close(got, want, 1e-4, what);  // issue 8's contract
}

// The prompt up to and including boa, and the reference logits of those rows.
std::vector<int32_t> ids_before_audio(const GemmaModel& model) {
  const HostTensor ids = ref("input_ids");
  const std::span<const int32_t> all = ids.values<int32_t>();
  const auto boa = std::find(all.begin(), all.end(), model.media().boa_token);
  EXPECT_NE(boa, all.end());
  return {all.begin(), boa + 1};
}

HostTensor logits_rows(int64_t rows) { return test::leading_rows(ref("logits"), rows); }

void check_fixture(Backend& backend, int chunk) {
  auto model = GemmaModel::load(fixture());
  ASSERT_TRUE(model->media().gemma4_vision && model->media_weights().gemma4_vision);
  MediaEmbedder embedder(*model, backend);
  const std::vector<float> image =
      embedder.embed_image(ref("pixel_values").values<float>(), ref("image_position_ids").values<int32_t>());
  const double image_err = worst_row(image, ref("image_features"), "image_features");
  const std::vector<int32_t> ids = ids_before_audio(*model);
  const PromptMedia media = splice_media(ids, *model, image, {});
  EXPECT_TRUE(media.blocks.empty());  // use_bidirectional_attention is null: causal
  Session session(*model, backend, {.max_tokens = static_cast<int>(ids.size()), .prefill_chunk = chunk});
  const std::vector<float> logits = session.prefill(ids, LogitsRows::All, &media);
  const double logits_err = worst_row(logits, logits_rows(static_cast<int64_t>(ids.size())), "logits");
  std::printf("[ gemma4 vision ] %s chunk %d: worst row rel err image %.2e logits (%zu rows before the audio) %.2e\n",
              backend.name().c_str(), chunk, image_err, ids.size(), logits_err);
}

TEST(Gemma4Vision, ConfigAndTowerWeights) {
  auto model = GemmaModel::load(fixture());
  ASSERT_TRUE(model->media().gemma4_vision);
  const Gemma4VisionSpec& s = *model->media().gemma4_vision;
  EXPECT_EQ(s.hidden, 32);
  EXPECT_EQ(s.intermediate, 64);
  EXPECT_EQ(s.heads, 2);
  EXPECT_EQ(s.kv_heads, 2);
  EXPECT_EQ(s.head_dim, 16);
  EXPECT_EQ(s.layers, 2);
  EXPECT_EQ(s.patch_size, 16);
  EXPECT_EQ(s.pooling, 3);
  EXPECT_EQ(s.posemb_size, 128);
  EXPECT_EQ(s.rope_theta, 100.0f);
  EXPECT_FALSE(s.clipped_linears);
  EXPECT_FALSE(s.standardize);
  EXPECT_FALSE(model->media().vision || model->media().siglip || model->media().audio);
  const Gemma4VisionWeights& w = *model->media_weights().gemma4_vision;
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.layers[1].q.weight.name, "model.vision_tower.encoder.layers.1.self_attn.q_proj.linear.weight");
  EXPECT_EQ(w.positions.shape, (Shape{256, 32}));
  EXPECT_EQ(w.projection.name, "model.embed_vision.embedding_projection.weight");
  EXPECT_EQ(model->media().image_token, 500);
  EXPECT_EQ(model->media().boi_token, 502);
  EXPECT_EQ(model->media().eoi_token, 503);
  EXPECT_EQ(model->media().boa_token, 504);
}

TEST(Gemma4Vision, FeaturesAndLogitsMatchTransformers) {
  cpu::CpuBackend backend(2);
  check_fixture(backend, 0);
}

// Chunks of 16 tokens: the 63 image rows spread over several chunks (causal attention: any split works).
TEST(Gemma4Vision, ChunkedPrefillMatchesTransformers) {
  cpu::CpuBackend backend(2);
  check_fixture(backend, 16);
}

TEST(Gemma4Vision, CudaPreciseMatchesTransformers) {
  GEMRT_CUDA_OR_SKIP(backend);
  check_fixture(*backend, 0);
}

// tests/data/hf-media/gemma4-vision-std-clip (tests/data/make_gemma4_vision_variant.py): what the
// shared fixture leaves out. Clipped linears (bounds at 60% of the extremes seen: every
// projection clamps), standardization, a tower with grouped KV heads, 8-px patches pooled 2 x 2,
// theta 1000, 60 shuffled patches with 20 padding ones among them; and a text model with
// use_bidirectional_attention = "vision": the 15-token image block attends to itself on the
// sliding layers only, bounded by their window of 4. Without the block the logits move by 1.4.
std::string variant() { return test::test_data() + "/hf-media/gemma4-vision-std-clip"; }
HostTensor variant_ref(const std::string& name) { return test::load_tensor(variant() + "/reference.safetensors", name); }

void check_variant(Backend& backend, int chunk) {
  auto model = GemmaModel::load(variant());
  ASSERT_TRUE(model->media().gemma4_vision);
  EXPECT_TRUE(model->media().gemma4_vision->clipped_linears && model->media().gemma4_vision->standardize);
  ASSERT_TRUE(model->spec().bidirectional_vision);
  MediaEmbedder embedder(*model, backend);
  const std::vector<float> image =
      embedder.embed_image(variant_ref("pixel_values").values<float>(), variant_ref("image_position_ids").values<int32_t>());
  const double image_err = worst_row(image, variant_ref("image_features"), "image_features");
  const HostTensor ids = variant_ref("input_ids");
  double logits_err[2] = {0.0, 0.0};
  for (const bool blocks : {true, false}) {
    PromptMedia media = splice_media(ids.values<int32_t>(), *model, image, {});
    ASSERT_EQ(media.blocks.size(), 1u);
    if (!blocks) media.blocks.clear();
    Session session(*model, backend, {.max_tokens = static_cast<int>(ids.shape[0]), .prefill_chunk = chunk});
    const std::vector<float> logits = session.prefill(ids.values<int32_t>(), LogitsRows::All, &media);
    logits_err[blocks ? 0 : 1] = worst_row(logits, variant_ref(blocks ? "logits" : "logits_without_mm_token_type_ids"),
                                           blocks ? "logits" : "causal logits");
  }
  std::printf("[ gemma4 vision std-clip ] %s chunk %d: worst row rel err image %.2e logits %.2e (causal %.2e)\n",
              backend.name().c_str(), chunk, image_err, logits_err[0], logits_err[1]);
}

TEST(Gemma4Vision, ClippedStandardizedTowerAndImageBlocksMatchTransformers) {
  cpu::CpuBackend backend(2);
  check_variant(backend, 0);
  check_variant(backend, 5);  // the 15-token block stretched over one chunk, the text in chunks of 5
}

TEST(Gemma4Vision, CudaPreciseClippedStandardizedTowerMatchesTransformers) {
  GEMRT_CUDA_OR_SKIP(backend);
  check_variant(*backend, 0);
}

// The tower pools by position, not by input order: the patches shuffled (padding among them)
// give the same rows, bit for bit.
TEST(Gemma4Vision, PatchOrderDoesNotMatter) {
  cpu::CpuBackend backend(2);
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  const HostTensor pixels = ref("pixel_values"), pos = ref("image_position_ids");
  const size_t n = static_cast<size_t>(pos.shape[0]), d = static_cast<size_t>(pixels.shape[1]);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  std::vector<float> px(n * d);
  std::vector<int32_t> ps(2 * n);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(pixels.values<float>().begin() + static_cast<std::ptrdiff_t>(order[i] * d), d, px.begin() + static_cast<std::ptrdiff_t>(i * d));
    ps[2 * i] = pos.values<int32_t>()[2 * order[i]];
    ps[2 * i + 1] = pos.values<int32_t>()[2 * order[i] + 1];
  }
  EXPECT_EQ(embedder.embed_image(px, ps), embedder.embed_image(pixels.values<float>(), pos.values<int32_t>()));
}

TEST(Gemma4Vision, BadPatchesAreRefused) {
  cpu::CpuBackend backend(2);
  auto model = GemmaModel::load(fixture());
  MediaEmbedder embedder(*model, backend);
  const HostTensor pixels = ref("pixel_values"), pos = ref("image_position_ids");
  const std::span<const float> px = pixels.values<float>();
  const std::vector<int32_t> good(pos.values<int32_t>().begin(), pos.values<int32_t>().end());
  const auto refused = [&](std::vector<int32_t> p, const std::string& needle) {
    const std::string msg = test::error_message([&] { embedder.embed_image(px, p); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
  };
  std::vector<int32_t> p = good;
  p[2 * 5] = 128;  // position_embedding_size is 128
  refused(p, "patch 5 has position (128, 0)");
  p = good;
  p[2 * 5] = -1;  // one coordinate of padding only
  refused(p, "patch 5 has position (-1, 0)");
  p = good;
  p[2 * 5] = 6;  // (6, 0) twice, (5, 0) missing
  refused(p, "(6, 0) twice");
  p = good;
  p[2 * 566] = p[2 * 566 + 1] = -1;  // the last patch (26, 20) dropped: no longer a grid
  refused(p, "do not cover a 27 x 21 grid");
  EXPECT_THROW(embedder.embed_image(px.subspan(1), good), Error);
  // 3 patches fewer (padding) leave 627: not a multiple of 9.
  EXPECT_THROW(embedder.embed_image(px.subspan(0, px.size() - 3 * 768), std::span(good).subspan(0, good.size() - 6)),
               Error);
  // The image rows and the prompt's image tokens must agree in number.
  const std::vector<float> image = embedder.embed_image(px, good);
  const std::vector<int32_t> ids = ids_before_audio(*model);
  EXPECT_THROW(splice_media(ids, *model, std::span(image).subspan(64), {}), Error);
}

}  // namespace
}  // namespace gemrt
