// Gemma 3 images (issue 8, step 3): the SigLIP tower and multimodal projector on
// ../shared/fixtures/hf/gemma3-siglip-pub reproduce transformers' image_features, and the model
// its logits with the image rows spliced in and the image block attending to itself (a sliding
// layer's window bounding it: the fixture's 16-token block is longer than its window of 8), rel
// err < 1e-4 per row (the contract).
#include <gtest/gtest.h>

#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::string fixture() { return test::shared_fixtures() + "/hf/gemma3-siglip-pub"; }
HostTensor ref(const std::string& name) { return test::load_tensor(fixture() + "/reference.safetensors", name); }

double worst_row(std::span<const float> got, const HostTensor& want, const std::string& what) {
  return test::expect_rows_close(got, want, 1e-4, what);  // issue 8's contract
}

void check_fixture(Backend& backend, int chunk) {
  auto model = GemmaModel::load(fixture());
  ASSERT_TRUE(model->media().siglip && model->media_weights().siglip);
  ASSERT_TRUE(model->spec().bidirectional_vision);
  MediaEmbedder embedder(*model, backend);
  const std::vector<float> image = embedder.embed_image_siglip(ref("pixel_values").values<float>());
  const double image_err = worst_row(image, ref("image_features"), "image_features");
  const HostTensor ids = ref("input_ids");
  const PromptMedia media = splice_media(ids.values<int32_t>(), *model, image, {});
  ASSERT_EQ(media.blocks.size(), 1u);
  Session session(*model, backend, {.max_tokens = static_cast<int>(ids.shape[0]), .prefill_chunk = chunk});
  const std::vector<float> logits = session.prefill(ids.values<int32_t>(), LogitsRows::All, &media);
  const double logits_err = worst_row(logits, ref("logits"), "logits");
  std::printf("[ gemma3 vision ] %s chunk %d: worst row rel err image %.2e logits %.2e\n", backend.name().c_str(), chunk,
              image_err, logits_err);
}

TEST(Gemma3Vision, FeaturesAndLogitsMatchTransformers) {
  cpu::CpuBackend backend(2);
  check_fixture(backend, 0);
  check_fixture(backend, 4);  // the 16-token image block stretched over one chunk
}

TEST(Gemma3Vision, CudaPreciseMatchesTransformers) {
  GEMRT_CUDA_OR_SKIP(backend);
  check_fixture(*backend, 0);
}

}  // namespace
}  // namespace gemrt
