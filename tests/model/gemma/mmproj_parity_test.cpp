// Towers from llama.cpp's mmproj files (issue 8, item 4): a text GGUF (tools/hf_to_gguf.py) and an
// mmproj GGUF made by llama.cpp's own converter (convert_hf_to_gguf.py --mmproj --outtype f32 / f16,
// tests/data/make_mmproj_fixtures.py) of the shared fixtures gemma3-siglip-pub and
// gemma4-towers-pub, run on the fixtures' inputs (image, log-mel frames, prompt); and of gemma4u-pub
// (Gemma 4 unified, F32 only).
//
// Each file is measured twice:
//  1. Against transformers on the weights the file holds (tests/data/mmproj/NAME/reference.safetensors,
//     `<output>_F32` / `_F16`: the fixture's model with every weight the file stores in F16 rounded
//     to F16, and Gemma 4's audio tower at the settings an mmproj implies, llama.cpp's chunks of 12
//     and 12 frames of left context; model/gemma/mmproj_config.h): every row within 1e-4, the
//     issue's contract, and the same argmax in every logits row. This says the loader undid exactly
//     what the converter did. (llama.cpp's converter stores Gemma 3's mm_input_projection in F16 even
//     in an f32 file, so the F32 file is not the fixture's float32 model either.)
//  2. Against the fixture's float32 weights (the shared reference; where the audio settings differ
//     from the fixture's, the F32 file's reference, whose only difference is then the rounding).
//     A file with rounded weights cannot be closer to them than the rounding moved transformers
//     itself: per row, the triangle inequality bounds gemrt's distance by that move plus the
//     contract (check_against_float32 spells it out), the tolerance used. As a check on the
//     reference data (not on gemrt), a tower's rows may move at most n u, u = 2^-11 the F16
//     relative rounding bound and n the F16 matrices of the tower (each perturbs its product by at
//     most u relative; to first order the perturbations add). The logits get no such bound: the
//     random tiny text model amplifies what reaches it (x18 here). The argmax must agree in each
//     row whose float32 top-two margin exceeds twice that row's tolerance times its norm (no
//     perturbation within the tolerance can swap those); transformers' own rounded run swaps 4
//     near-tied image rows of gemma4-towers-pub (margins < 0.004 of logits ~1.2), so "the same
//     argmax everywhere" holds against the file's weights (1.) and cannot against float32 ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"
#include "test_util.h"

namespace gemrt {
namespace {

constexpr double kContract = 1e-4;        // issue 8
constexpr double kF16Unit = 1.0 / 2048.0;  // 2^-11: F16's relative rounding bound (round to nearest)

std::string dir(const std::string& name) { return test::test_data() + "/mmproj/" + name; }
HostTensor file_ref(const std::string& name, const std::string& key) {
  return test::load_tensor(dir(name) + "/reference.safetensors", key);
}
HostTensor shared_ref(const std::string& name, const std::string& key) {
  return test::load_tensor(test::shared_fixtures() + "/hf/" + name + "/reference.safetensors", key);
}

std::unique_ptr<GemmaModel> load(const std::string& name, const std::string& dtype) {
  return GemmaModel::load(dir(name) + "/text-F32.gguf", {.mmproj = dir(name) + "/mmproj-" + dtype + ".gguf"});
}

struct Outputs {
  std::vector<float> image, audio, logits;
};

// The fixture's whole prompt: image rows (and audio rows) from the mmproj's towers spliced in.
Outputs run_fixture(const std::string& name, const GemmaModel& model, Backend& backend) {
  MediaEmbedder embedder(model, backend);
  Outputs o;
  const HostTensor pixels = shared_ref(name, "pixel_values");
  if (model.media().siglip) {
    o.image = embedder.embed_image_siglip(pixels.values<float>());
  } else {
    o.image = embedder.embed_image(pixels.values<float>(), shared_ref(name, "image_position_ids").values<int32_t>());
  }
  if (model.media().gemma4_audio)
    o.audio = embedder.embed_audio_mel(shared_ref(name, "audio_mel").values<float>(),
                                       shared_ref(name, "audio_mel_mask").values<int32_t>());
  if (model.media().audio) o.audio = embedder.embed_audio(shared_ref(name, "audio_frames").values<float>());
  const HostTensor ids = shared_ref(name, "input_ids");
  const PromptMedia media = splice_media(ids.values<int32_t>(), model, o.image, o.audio);
  Session session(model, backend, {.max_tokens = static_cast<int>(ids.shape[0])});
  o.logits = session.prefill(ids.values<int32_t>(), LogitsRows::All, &media);
  return o;
}

// Per row r of [R, D] tensors of the same shape: ||a_r - b_r|| / ||b_r||.
std::vector<double> row_distances(const HostTensor& a, const HostTensor& b) {
  if (a.shape != b.shape) {
    ADD_FAILURE() << a.name << " " << a.shape.to_string() << " vs " << b.name << " " << b.shape.to_string();
    return {};
  }
  const auto width = static_cast<size_t>(b.shape.back());
  std::vector<double> d;
  for (size_t r = 0; r < b.values<float>().size() / width; ++r)
    d.push_back(test::relative_error(a.values<float>().subspan(r * width, width), b.values<float>().subspan(r * width, width)));
  return d;
}

// F16 matrices of the mmproj whose names start with one of `prefixes` (one tower's).
int f16_matrices(const GemmaModel& model, std::initializer_list<const char*> prefixes) {
  int n = 0;
  for (const std::string& name : model.mmproj()->names())
    for (const char* p : prefixes)
      if (name.rfind(p, 0) == 0 && model.mmproj()->find(name)->dtype == DType::F16) {
        ++n;
        break;
      }
  return n;
}

// Measurement 2 for one output [R, D]: gemrt's row r against the float32 weights' reference f_r,
// given transformers' row t_r on the rounded weights. With delta_r = ||t_r - f_r|| / ||f_r|| and
// ||g_r - t_r|| < contract ||t_r|| <= contract (1 + delta_r) ||f_r||, the triangle inequality bounds
// ||g_r - f_r|| / ||f_r|| by tol_r = contract (1 + delta_r) + delta_r. Logits (argmax) rows whose
// reference top-two margin exceeds 2 tol_r ||f_r|| must keep its argmax. n_f16 > 0: delta_r <= n_f16 u.
struct VsFloat32 {
  double worst = 0.0, worst_delta = 0.0;
  int argmax_rows = 0;
};
VsFloat32 check_against_float32(std::span<const float> got, const HostTensor& rounded_ref, const HostTensor& float32_ref,
                                int n_f16, bool argmax, const std::string& what) {
  VsFloat32 v;
  const std::vector<double> delta = row_distances(rounded_ref, float32_ref);
  const auto width = static_cast<size_t>(float32_ref.shape.back());
  const std::span<const float> f = float32_ref.values<float>();
  if (got.size() != f.size()) {
    ADD_FAILURE() << what << ": " << got.size() << " values, expected " << f.size();
    return v;
  }
  for (size_t r = 0; r < delta.size(); ++r) {
    const auto row = f.subspan(r * width, width), g = got.subspan(r * width, width);
    const double tol = kContract * (1.0 + delta[r]) + delta[r], err = test::relative_error(g, row);
    v.worst = std::max(v.worst, err);
    v.worst_delta = std::max(v.worst_delta, delta[r]);
    EXPECT_LT(err, tol) << what << " row " << r << " (transformers' own rounding effect " << delta[r] << ")";
    if (n_f16 > 0) {
      EXPECT_LE(delta[r], n_f16 * kF16Unit) << what << " row " << r << ": the reference's rounding effect";
    }
    if (!argmax) continue;
    std::vector<float> sorted(row.begin(), row.end());
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    double norm = 0.0;
    for (float x : row) norm += static_cast<double>(x) * static_cast<double>(x);
    if (static_cast<double>(sorted[0] - sorted[1]) <= 2.0 * tol * std::sqrt(norm)) continue;
    ++v.argmax_rows;
    EXPECT_EQ(std::max_element(g.begin(), g.end()) - g.begin(), std::max_element(row.begin(), row.end()) - row.begin())
        << what << " row " << r;
  }
  return v;
}

// How many rows of `got` [R, V] have the argmax of `want`'s.
int same_argmax_rows(std::span<const float> got, const HostTensor& want) {
  const auto width = static_cast<size_t>(want.shape.back());
  const std::span<const float> w = want.values<float>();
  int n = 0;
  for (size_t r = 0; r < w.size() / width && (r + 1) * width <= got.size(); ++r) {
    const auto a = got.subspan(r * width, width), b = w.subspan(r * width, width);
    n += std::max_element(a.begin(), a.end()) - a.begin() == std::max_element(b.begin(), b.end()) - b.begin();
  }
  return n;
}

// Measurement 1: every output within the contract of transformers on the file's weights.
void check_against_file_weights(const std::string& name, const std::string& dtype) {
  cpu::CpuBackend backend(2);
  auto model = load(name, dtype);
  const Outputs o = run_fixture(name, *model, backend);
  const double image = test::expect_rows_close(o.image, file_ref(name, "image_features_" + dtype), kContract, "image_features");
  const double audio = o.audio.empty() ? 0.0
                                       : test::expect_rows_close(o.audio, file_ref(name, "audio_features_" + dtype),
                                                                 kContract, "audio_features");
  const HostTensor want = file_ref(name, "logits_" + dtype);
  const double logits = test::expect_rows_close(o.logits, want, kContract, "logits");
  EXPECT_EQ(same_argmax_rows(o.logits, want), want.shape[0]);
  std::printf("[ mmproj ] %s %s vs transformers on the file's weights: worst row image %.2e audio %.2e logits %.2e\n",
              name.c_str(), dtype.c_str(), image, audio, logits);
}

TEST(MmprojGemma3, FilesMatchTransformersOnTheirWeights) {
  check_against_file_weights("gemma3-siglip-pub", "F32");
  check_against_file_weights("gemma3-siglip-pub", "F16");
}

TEST(MmprojGemma4, FilesMatchTransformersOnTheirWeights) {
  check_against_file_weights("gemma4-towers-pub", "F32");
  check_against_file_weights("gemma4-towers-pub", "F16");
}

// Both Gemma 3 files against the fixture's float32 model: the F32 file holds the projection in F16
// (1 F16 matrix), the F16 file every SigLIP matrix too (the patch conv and position table stay F32).
TEST(MmprojGemma3, FilesAgainstTheFixturesFloat32Weights) {
  const std::string name = "gemma3-siglip-pub";
  cpu::CpuBackend backend(2);
  for (const std::string dtype : {"F32", "F16"}) {
    auto model = load(name, dtype);
    const Outputs o = run_fixture(name, *model, backend);
    const int n = f16_matrices(*model, {"v.", "mm."});
    const VsFloat32 image = check_against_float32(o.image, file_ref(name, "image_features_" + dtype),
                                                  shared_ref(name, "image_features"), n, false, "image_features");
    const HostTensor f32 = shared_ref(name, "logits");
    const VsFloat32 logits = check_against_float32(o.logits, file_ref(name, "logits_" + dtype), f32, 0, true, "logits");
    EXPECT_GT(logits.argmax_rows, 0);
    std::printf("[ mmproj ] %s %s vs the float32 fixture: worst row image %.2e (rounding moves transformers %.2e, F16 "
                "matrices %d) logits %.2e (%.2e); argmax as float32's on %d of 26 rows, checked (margin) on %d\n",
                name.c_str(), dtype.c_str(), image.worst, image.worst_delta, n, logits.worst, logits.worst_delta,
                same_argmax_rows(o.logits, f32), logits.argmax_rows);
  }
}

// The F32 Gemma 4 file holds the fixture's float32 weights: the image features are the fixture's
// within the contract, and so are the logits of the rows before the audio block (attention is
// causal: the E2B-style text model has per-layer embeddings, mmproj_image_blocks). The audio tower
// runs at llama.cpp's settings, not the fixture's (chunks of 4, 4 frames back): its features
// differ from the fixture's by far more than 1e-4, and match the reference made at those settings
// (FilesMatchTransformersOnTheirWeights).
TEST(MmprojGemma4, F32FileMatchesTheFixtureWhereTheSettingsAgree) {
  const std::string name = "gemma4-towers-pub";
  cpu::CpuBackend backend(2);
  auto model = load(name, "F32");
  ASSERT_FALSE(model->spec().bidirectional_vision);
  const Outputs o = run_fixture(name, *model, backend);
  const double image = test::expect_rows_close(o.image, shared_ref(name, "image_features"), kContract, "image_features");
  const HostTensor ids = shared_ref(name, "input_ids");
  const std::span<const int32_t> all = ids.values<int32_t>();
  const auto rows = std::find(all.begin(), all.end(), model->media().boa_token) - all.begin() + 1;
  ASSERT_EQ(rows, 72);
  const auto width = static_cast<size_t>(model->spec().vocab_size);
  const double logits = test::expect_rows_close(std::span<const float>(o.logits).first(static_cast<size_t>(rows) * width),
                                                test::leading_rows(shared_ref(name, "logits"), rows), kContract,
                                                "logits before the audio block");
  const double audio = test::relative_error(o.audio, shared_ref(name, "audio_features").values<float>());
  EXPECT_GT(audio, 1e-2) << "the fixture's audio settings (chunks of 4) should differ from llama.cpp's (12)";
  std::printf("[ mmproj ] %s F32 vs the fixture: image %.2e, logits of the %td rows before the audio %.2e; audio at "
              "llama.cpp's settings differs by %.2e\n",
              name.c_str(), image, rows, logits, audio);
}

// The F16 Gemma 4 file against the float32 weights: the image features against the fixture, the
// audio features and every logits row against the F32 file's reference (same settings, float32
// weights). F16 matrices: the vision tower's (16) and the audio tower's (24).
TEST(MmprojGemma4, F16FileAgainstFloat32Weights) {
  const std::string name = "gemma4-towers-pub";
  cpu::CpuBackend backend(2);
  auto model = load(name, "F16");
  const Outputs o = run_fixture(name, *model, backend);
  const int n_vision = f16_matrices(*model, {"v.", "mm.input_projection"});
  const int n_audio = f16_matrices(*model, {"a.", "mm.a."});
  EXPECT_EQ(n_vision, 16);
  EXPECT_EQ(n_audio, 24);
  const VsFloat32 image = check_against_float32(o.image, file_ref(name, "image_features_F16"),
                                                shared_ref(name, "image_features"), n_vision, false, "image_features");
  const VsFloat32 audio = check_against_float32(o.audio, file_ref(name, "audio_features_F16"),
                                                file_ref(name, "audio_features_F32"), n_audio, false, "audio_features");
  const HostTensor f32 = file_ref(name, "logits_F32");
  const VsFloat32 logits = check_against_float32(o.logits, file_ref(name, "logits_F16"), f32, 0, true, "logits");
  EXPECT_GT(logits.argmax_rows, 0);
  std::printf("[ mmproj ] %s F16 vs float32 weights: worst row image %.2e (rounding moves transformers %.2e) audio %.2e "
              "(%.2e) logits %.2e (%.2e); argmax as float32's on %d of 85 rows (transformers' rounded run: %d), checked "
              "(margin) on %d\n",
              name.c_str(), image.worst, image.worst_delta, audio.worst, audio.worst_delta, logits.worst,
              logits.worst_delta, same_argmax_rows(o.logits, f32), same_argmax_rows(file_ref(name, "logits_F16").values<float>(), f32),
              logits.argmax_rows);
}

// The binding undoes the converter exactly: the F32 file's vision tower (float32 weights, the patch
// kernel permuted back) gives the safetensors checkpoint's image features bit for bit.
TEST(MmprojGemma4, VisionTowerIsTheCheckpointsBitForBit) {
  cpu::CpuBackend backend(2);
  const std::string name = "gemma4-towers-pub";
  auto mm = load(name, "F32");
  auto hf = GemmaModel::load(test::shared_fixtures() + "/hf/" + name);
  MediaEmbedder a(*mm, backend), b(*hf, backend);
  const HostTensor pixels = shared_ref(name, "pixel_values"), pos = shared_ref(name, "image_position_ids");
  EXPECT_EQ(a.embed_image(pixels.values<float>(), pos.values<int32_t>()),
            b.embed_image(pixels.values<float>(), pos.values<int32_t>()));
}

// Gemma 4 unified (projectors gemma4uv / gemma4ua): the F32 file holds the fixture's float32
// weights (nothing forced to F16), so the shared reference is its reference: image and audio
// features and the logits with the 12-token image block attending to itself, within 1e-4.
TEST(MmprojGemma4Unified, F32FileMatchesTheFixture) {
  const std::string name = "gemma4u-pub";
  cpu::CpuBackend backend(2);
  auto model = load(name, "F32");
  ASSERT_TRUE(model->media().vision && model->media().audio);
  EXPECT_EQ(f16_matrices(*model, {"v.", "a.", "mm."}), 0);
  const Outputs o = run_fixture(name, *model, backend);
  const double image = test::expect_rows_close(o.image, shared_ref(name, "image_features"), kContract, "image_features");
  const double audio = test::expect_rows_close(o.audio, shared_ref(name, "audio_features"), kContract, "audio_features");
  const HostTensor want = shared_ref(name, "logits");
  const double logits = test::expect_rows_close(o.logits, want, kContract, "logits");
  EXPECT_EQ(same_argmax_rows(o.logits, want), want.shape[0]);
  std::printf("[ mmproj ] %s F32 vs the fixture: worst row image %.2e audio %.2e logits %.2e\n", name.c_str(), image,
              audio, logits);
}

TEST(MmprojGemma4, CudaPreciseMatchesTransformersOnTheFilesWeights) {
  GEMRT_CUDA_OR_SKIP(backend);
  for (const std::string dtype : {"F32", "F16"}) {
    const std::string name = "gemma4-towers-pub";
    auto model = load(name, dtype);
    const Outputs o = run_fixture(name, *model, *backend);
    test::expect_rows_close(o.image, file_ref(name, "image_features_" + dtype), kContract, "image_features");
    test::expect_rows_close(o.audio, file_ref(name, "audio_features_" + dtype), kContract, "audio_features");
    test::expect_rows_close(o.logits, file_ref(name, "logits_" + dtype), kContract, "logits");
  }
}

TEST(MmprojGemma3, CudaPreciseMatchesTransformersOnTheFilesWeights) {
  GEMRT_CUDA_OR_SKIP(backend);
  for (const std::string dtype : {"F32", "F16"}) {
    const std::string name = "gemma3-siglip-pub";
    auto model = load(name, dtype);
    const Outputs o = run_fixture(name, *model, *backend);
    test::expect_rows_close(o.image, file_ref(name, "image_features_" + dtype), kContract, "image_features");
    test::expect_rows_close(o.logits, file_ref(name, "logits_" + dtype), kContract, "logits");
  }
}

}  // namespace
}  // namespace gemrt
