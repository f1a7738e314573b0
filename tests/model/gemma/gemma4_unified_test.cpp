// Gemma 4 unified (issue 7, first step): the fixture's checkpoint loads with its media embedders'
// weights bound, and those weights with the config's norm reproduce transformers' audio features
// (spec §7.4: weightless RMSNorm per 40-sample frame, projection to the hidden size), computed
// here with the CPU kernels: rel err < 1e-4 per row, the contract.
#include <gtest/gtest.h>

#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/model/gemma/model.h"
#include "test_util.h"

namespace gemrt {
namespace {

TEST(Gemma4Unified, AudioEmbedderWeightsGiveTheReferenceFeatures) {
  const std::string dir = test::shared_fixtures() + "/hf/gemma4u-pub";
  auto model = GemmaModel::load(dir);
  ASSERT_TRUE(model->media().audio && model->media_weights().audio);
  ASSERT_TRUE(model->media().vision && model->media_weights().vision);
  EXPECT_EQ(model->media_weights().vision->pos_embedding.name, "model.vision_embedder.pos_embedding");
  EXPECT_EQ(model->media_weights().vision->projection.name, "model.embed_vision.embedding_projection.weight");

  const HostTensor frames = test::load_tensor(dir + "/reference.safetensors", "audio_frames");
  const HostTensor want = test::load_tensor(dir + "/reference.safetensors", "audio_features");
  const int64_t a = frames.shape[0], s = frames.shape[1], hidden = model->spec().hidden_size;
  ASSERT_EQ(s, model->media().audio->embed_dim);
  ASSERT_EQ(want.shape, (Shape{a, hidden}));
  ThreadPool pool(2);
  std::vector<float> normed(static_cast<size_t>(a * s)), got(static_cast<size_t>(a * hidden));
  const RmsNormAttrs norm{s, model->media().audio->rms_norm_eps, 0.0f, false};
  cpu::rms_norm(frames.values<float>().data(), a * s, nullptr, norm, normed.data(), pool);
  cpu::matmul(normed.data(), a, model->media_weights().audio->projection, got.data(), pool);
  for (int64_t r = 0; r < a; ++r) {
    const std::span<const float> g(got.data() + r * hidden, static_cast<size_t>(hidden));
    const std::span<const float> w(want.values<float>().data() + r * hidden, static_cast<size_t>(hidden));
    EXPECT_LT(test::relative_error(g, w), 1e-4) << "frame " << r;
  }
}

}  // namespace
}  // namespace gemrt
