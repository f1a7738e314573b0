// llama.cpp mmproj files (model/gemma/mmproj_config.h, mmproj_weights.h): the towers' spec from the
// clip.* keys and llama.cpp's constants, the media token ids and image attention of the text model
// they join, and one test per refusal (each naming the file and the key or tensor). The files are
// tests/data/mmproj's (llama.cpp's converter, tests/data/make_mmproj_fixtures.py), some copied with
// one edit (test::GgufEdit).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"
#include "gguf_edit.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::string dir(const std::string& name) { return test::test_data() + "/mmproj/" + name; }
std::string text(const std::string& name) { return dir(name) + "/text-F32.gguf"; }
std::string mmproj(const std::string& name, const std::string& dtype = "F32") {
  return dir(name) + "/mmproj-" + dtype + ".gguf";
}
const std::string kGemma3 = "gemma3-siglip-pub", kGemma4 = "gemma4-towers-pub";

std::unique_ptr<GemmaModel> load(const std::string& text_path, const std::string& mmproj_path) {
  return GemmaModel::load(text_path, {.mmproj = mmproj_path});
}

// The message of loading `text_path` with `mmproj_path`; every needle must be in it.
void expect_refused(const std::string& text_path, const std::string& mmproj_path, const std::vector<std::string>& needles) {
  const std::string msg = test::error_message([&] { load(text_path, mmproj_path); });
  ASSERT_FALSE(msg.empty()) << "loading " << mmproj_path << " should fail";
  for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "expected '" << n << "' in: " << msg;
}

TEST(MmprojConfig, Gemma3TowerFromTheClipKeys) {
  auto model = load(text(kGemma3), mmproj(kGemma3));
  ASSERT_TRUE(model->media().siglip && model->media_weights().siglip);
  EXPECT_FALSE(model->media().gemma4_vision || model->media().gemma4_audio || model->media().vision);
  // The safetensors checkpoint's config.json says the same.
  auto hf = GemmaModel::load(test::shared_fixtures() + "/hf/" + kGemma3);
  const SiglipSpec &s = *model->media().siglip, &h = *hf->media().siglip;
  EXPECT_EQ(s.image_size, h.image_size);
  EXPECT_EQ(s.patch_size, h.patch_size);
  EXPECT_EQ(s.channels, h.channels);
  EXPECT_EQ(s.hidden, h.hidden);
  EXPECT_EQ(s.intermediate, h.intermediate);
  EXPECT_EQ(s.heads, h.heads);
  EXPECT_EQ(s.layers, h.layers);
  EXPECT_EQ(s.eps, h.eps);
  EXPECT_EQ(s.tokens_per_image, 16);  // clip.vision.projector.scale_factor 2: 8 x 8 patches pooled to 4 x 4
  // Media token ids from the text GGUF's vocabulary pieces, and Gemma 3's image block.
  EXPECT_EQ(model->media().image_token, 500);
  EXPECT_EQ(model->media().boi_token, 502);
  EXPECT_EQ(model->media().eoi_token, 503);
  EXPECT_EQ(model->media().image_text_before, "\n\n");
  EXPECT_TRUE(model->spec().bidirectional_vision);
  for (const LayerSpec& l : model->spec().layers) EXPECT_TRUE(l.image_blocks && l.window_limits_blocks);
  // What the converter changed: soft_emb_norm holds 1 + w, the projection is F16 and [text, vision] once transposed.
  const SiglipWeights& w = *model->media_weights().siglip;
  EXPECT_EQ(w.proj_norm_offset, 0.0f);
  EXPECT_EQ(w.projection.dtype, DType::F16);
  EXPECT_EQ(w.projection.shape, (Shape{64, 32}));
  EXPECT_EQ(w.patch.shape, (Shape{32, 3 * 8 * 8}));
  EXPECT_EQ(w.layers[1].fc1.name, "v.blk.1.ffn_up.weight");
  EXPECT_NE(model->mmproj(), nullptr);
}

TEST(MmprojConfig, Gemma4TowersFromTheClipKeysAndLlamaCppsConstants) {
  auto model = load(text(kGemma4), mmproj(kGemma4, "F16"));
  ASSERT_TRUE(model->media().gemma4_vision && model->media().gemma4_audio);
  auto hf = GemmaModel::load(test::shared_fixtures() + "/hf/" + kGemma4);
  const Gemma4VisionSpec &v = *model->media().gemma4_vision, &hv = *hf->media().gemma4_vision;
  EXPECT_EQ(v.patch_size, hv.patch_size);
  EXPECT_EQ(v.pooling, hv.pooling);  // llama.cpp's default 3 (no scale_factor key)
  EXPECT_EQ(v.hidden, hv.hidden);
  EXPECT_EQ(v.intermediate, hv.intermediate);
  EXPECT_EQ(v.heads, hv.heads);
  EXPECT_EQ(v.kv_heads, hv.kv_heads);
  EXPECT_EQ(v.head_dim, hv.head_dim);
  EXPECT_EQ(v.layers, hv.layers);
  EXPECT_EQ(v.posemb_size, hv.posemb_size);
  EXPECT_EQ(v.rope_theta, hv.rope_theta);
  EXPECT_EQ(v.eps, hv.eps);
  EXPECT_EQ(v.clipped_linears, hv.clipped_linears);
  EXPECT_EQ(v.standardize, hv.standardize);
  const Gemma4AudioSpec &a = *model->media().gemma4_audio, &ha = *hf->media().gemma4_audio;
  EXPECT_EQ(a.hidden, ha.hidden);
  EXPECT_EQ(a.output_dims, ha.output_dims);
  EXPECT_EQ(a.heads, ha.heads);
  EXPECT_EQ(a.layers, ha.layers);
  EXPECT_EQ(a.conv_channels0, ha.conv_channels0);
  EXPECT_EQ(a.conv_channels1, ha.conv_channels1);
  EXPECT_EQ(a.conv_kernel, ha.conv_kernel);
  EXPECT_EQ(a.mel_bins, ha.mel_bins);
  EXPECT_EQ(a.clipped_linears, ha.clipped_linears);
  // llama.cpp's gemma4a constants, not this fixture's audio_config (chunk 4, context_left 5).
  EXPECT_EQ(a.chunk, 12);
  EXPECT_EQ(a.context_left, 13);
  EXPECT_EQ(a.context_right, 0);
  EXPECT_EQ(a.logit_cap, 50.0f);
  EXPECT_EQ(a.residual_weight, 0.5f);
  EXPECT_EQ(a.eps, 1e-6f);
  // The converted weights: the patch kernel back in transformers' layout, the clip bounds read,
  // per_dim_scale used as stored (after softplus), the depthwise kernel as [hidden, 1, k].
  const Gemma4VisionWeights& vw = *model->media_weights().gemma4_vision;
  EXPECT_EQ(vw.patch_proj.shape, (Shape{32, 768}));
  EXPECT_EQ(vw.patch_proj.dtype, DType::F16);
  EXPECT_EQ(vw.positions.shape, (Shape{256, 32}));
  const Gemma4AudioWeights& aw = *model->media_weights().gemma4_audio;
  const Gemma4AudioWeights& hw = *hf->media_weights().gemma4_audio;
  EXPECT_EQ(aw.layers[1].q.in_hi, hw.layers[1].q.in_hi);
  EXPECT_EQ(aw.layers[1].linear_end.out_lo, hw.layers[1].linear_end.out_lo);
  EXPECT_EQ(aw.layers[0].depthwise.shape, (Shape{32, 1, 5}));
  EXPECT_EQ(aw.layers[0].rel_k.shape, (Shape{13, 32}));  // (12 + 13 - 1) / 2 + 1 relative positions
  EXPECT_EQ(aw.layers[0].conv_pre_norm.name, "a.blk.0.conv_norm.weight");
  // q_scale from the stored softplus equals the one derived from the checkpoint's raw parameter.
  for (int j = 0; j < 32; ++j)
    EXPECT_NEAR(aw.layers[1].q_scale.as<float>()[j], hw.layers[1].q_scale.as<float>()[j],
                1e-6f * std::abs(hw.layers[1].q_scale.as<float>()[j]));
  // Token ids from the vocabulary; the E2B-style text model (per-layer embeddings) stays causal.
  EXPECT_EQ(model->media().image_token, 500);
  EXPECT_EQ(model->media().audio_token, 501);
  EXPECT_EQ(model->media().boi_token, 502);
  EXPECT_EQ(model->media().eoi_token, 503);
  EXPECT_EQ(model->media().boa_token, 504);
  EXPECT_EQ(model->media().eoa_token, 505);
  EXPECT_EQ(model->media().video_token, 506);
  EXPECT_FALSE(model->spec().bidirectional_vision);
}

// Gemma 4 unified's embedders (gemma4uv / gemma4ua): the spec of its config.json, the patch columns
// and the position table back in transformers' layout (bit for bit the checkpoint's: the file is
// float32), EOA / EOI suppressed, the image block on every layer and not bounded by the window.
TEST(MmprojConfig, Gemma4UnifiedEmbeddersFromTheClipKeys) {
  const std::string name = "gemma4u-pub";
  auto model = load(text(name), mmproj(name));
  auto hf = GemmaModel::load(test::shared_fixtures() + "/hf/" + name);
  ASSERT_TRUE(model->media().vision && model->media().audio);
  const VisionEmbedderSpec &v = *model->media().vision, &hv = *hf->media().vision;
  EXPECT_EQ(v.patch_size, hv.patch_size);
  EXPECT_EQ(v.pooling, hv.pooling);  // 2: from the merged patch width (the file has no scale_factor)
  EXPECT_EQ(v.embed_dim, hv.embed_dim);
  EXPECT_EQ(v.posemb_size, hv.posemb_size);
  EXPECT_EQ(v.output_proj_dims, hv.output_proj_dims);
  EXPECT_EQ(v.rms_norm_eps, hv.rms_norm_eps);
  EXPECT_EQ(v.layer_norm_eps, hv.layer_norm_eps);
  EXPECT_EQ(model->media().audio->embed_dim, hf->media().audio->embed_dim);
  const auto same_bytes = [](const TensorView& a, const TensorView& b) {
    EXPECT_EQ(a.shape, b.shape) << a.name;
    EXPECT_EQ(a.dtype, b.dtype) << a.name;
    return a.shape == b.shape && a.dtype == b.dtype && std::memcmp(a.data, b.data, static_cast<size_t>(a.nbytes())) == 0;
  };
  const VisionEmbedderWeights &w = *model->media_weights().vision, &hw = *hf->media_weights().vision;
  EXPECT_TRUE(same_bytes(w.ln1_weight, hw.ln1_weight));
  EXPECT_TRUE(same_bytes(w.ln1_bias, hw.ln1_bias));
  EXPECT_TRUE(same_bytes(w.dense_weight, hw.dense_weight));
  EXPECT_TRUE(same_bytes(w.pos_embedding, hw.pos_embedding));
  EXPECT_TRUE(same_bytes(w.pos_norm_weight, hw.pos_norm_weight));
  EXPECT_TRUE(same_bytes(w.projection, hw.projection));
  EXPECT_TRUE(same_bytes(model->media_weights().audio->projection, hf->media_weights().audio->projection));
  EXPECT_EQ(model->media().suppressed_tokens, hf->media().suppressed_tokens);
  EXPECT_EQ(model->media().suppressed_tokens, (std::vector<int>{505, 503}));
  for (const LayerSpec& l : model->spec().layers) EXPECT_TRUE(l.image_blocks && !l.window_limits_blocks);
  EXPECT_EQ(describe_layers(model->spec()), describe_layers(hf->spec()));
}

// A Gemma 4 text model without per-layer embeddings (the 26B / 31B kind) attends within an image on
// its sliding layers, inside their window (spec §6.5); without a vocabulary, the released ids.
TEST(MmprojConfig, Gemma4ImageBlocksWithoutPerLayerEmbeddings) {
  auto model = load(test::test_data() + "/gguf/gemma4-dense-pub-F32.gguf", mmproj(kGemma4));
  ASSERT_EQ(model->spec().per_layer_input, 0);
  EXPECT_TRUE(model->spec().bidirectional_vision);
  for (const LayerSpec& l : model->spec().layers)
    EXPECT_EQ(l.image_blocks, l.kind == LayerKind::Sliding) << describe_layers(model->spec());
  EXPECT_EQ(model->media().image_token, 258880);
  EXPECT_EQ(model->media().boi_token, 255999);
  EXPECT_EQ(model->media().eoa_token, 258883);
}

// Gemma 3 without a vocabulary: the released ids, <image_soft_token> 262144 past a 512-row
// token_embd; a spliced token runs as the pad id, so the prompt still runs.
TEST(MmprojConfig, Gemma3ReleasedIdsPastTheEmbeddingTable) {
  auto model = load(test::test_data() + "/gguf/gemma3-linrope-pub-F32.gguf", mmproj(kGemma3));
  EXPECT_EQ(model->media().image_token, 262144);
  EXPECT_EQ(model->media().boi_token, 255999);
  EXPECT_EQ(model->media().eoi_token, 256000);
  cpu::CpuBackend backend(2);
  MediaEmbedder embedder(*model, backend);
  const HostTensor pixels = test::load_tensor(test::shared_fixtures() + "/hf/" + kGemma3 + "/reference.safetensors",
                                              "pixel_values");
  const std::vector<float> image = embedder.embed_image_siglip(pixels.values<float>());
  std::vector<int32_t> ids{2, 17};
  ids.insert(ids.end(), 16, 262144);
  ids.push_back(17);
  const PromptMedia media = splice_media(ids, *model, image, {});
  Session session(*model, backend, {.max_tokens = 32});
  EXPECT_EQ(session.prefill(ids, LogitsRows::Last, &media).size(), static_cast<size_t>(model->spec().vocab_size));
  Session plain(*model, backend, {.max_tokens = 32});
  EXPECT_THROW(plain.prefill(ids, LogitsRows::Last), Error);  // not spliced: outside the vocabulary
}

// Files that name fc1 ffn_down and fc2 ffn_up (older conversions; clip.cpp swaps them back by shape).
TEST(MmprojConfig, SwappedFfnNamesAreReadBack) {
  test::TempDir tmp;
  test::GgufEdit edit(mmproj(kGemma3));
  for (int l = 0; l < 2; ++l)
    for (const char* leaf : {".weight", ".bias"}) {
      const std::string up = str("v.blk.", l, ".ffn_up", leaf), down = str("v.blk.", l, ".ffn_down", leaf);
      edit.rename_tensor(up, "tmp").rename_tensor(down, up).rename_tensor("tmp", down);
    }
  edit.save(tmp.file("swapped.gguf"));
  cpu::CpuBackend backend(2);
  auto a = load(text(kGemma3), mmproj(kGemma3)), b = load(text(kGemma3), tmp.file("swapped.gguf"));
  EXPECT_EQ(b->media_weights().siglip->layers[0].fc1.name, "v.blk.0.ffn_down.weight");
  const HostTensor pixels = test::load_tensor(test::shared_fixtures() + "/hf/" + kGemma3 + "/reference.safetensors",
                                              "pixel_values");
  MediaEmbedder ea(*a, backend), eb(*b, backend);
  EXPECT_EQ(ea.embed_image_siglip(pixels.values<float>()), eb.embed_image_siglip(pixels.values<float>()));
}

TEST(MmprojErrors, ProjectorOfAnotherFamily) {
  expect_refused(text(kGemma4), mmproj(kGemma3),
                 {mmproj(kGemma3), "clip.projector_type is 'gemma3'", text(kGemma4), "is gemma4",
                  "expected an mmproj with projectors gemma4v / gemma4a or gemma4uv / gemma4ua"});
  expect_refused(text(kGemma3), mmproj(kGemma4),
                 {mmproj(kGemma4), "clip.vision.projector_type is 'gemma4v'", "is gemma3",
                  "expected an mmproj with projector gemma3"});
  expect_refused(test::test_data() + "/gguf/gemma2-pub-F32.gguf", mmproj(kGemma3),
                 {"is gemma2", "gemrt runs mmproj files beside gemma3 and gemma4 text models"});
}

TEST(MmprojErrors, ProjectionWidthOfAnotherTextModel) {
  // llama.cpp's own 256-wide Gemma 3 GGUF (../shared/fixtures/gguf) with a 64-wide model's towers.
  const std::string wide = test::shared_fixtures() + "/gguf/gemma3-tiny-pub-F16.gguf";
  expect_refused(wide, mmproj(kGemma3),
                 {mmproj(kGemma3), "clip.vision.projection_dim is 64, expected 256", "embedding_length", wide});
  test::TempDir tmp;
  test::GgufEdit(mmproj(kGemma4)).set_u32("clip.audio.projection_dim", 32).save(tmp.file("a.gguf"));
  expect_refused(text(kGemma4), tmp.file("a.gguf"), {tmp.file("a.gguf"), "clip.audio.projection_dim is 32, expected 64"});
}

TEST(MmprojErrors, MissingKeys) {
  test::TempDir tmp;
  test::GgufEdit(mmproj(kGemma3)).remove_key("clip.vision.block_count").save(tmp.file("a.gguf"));
  expect_refused(text(kGemma3), tmp.file("a.gguf"), {tmp.file("a.gguf"), "missing metadata key 'clip.vision.block_count'"});
  test::GgufEdit(mmproj(kGemma4)).remove_key("clip.audio.num_mel_bins").save(tmp.file("b.gguf"));
  expect_refused(text(kGemma4), tmp.file("b.gguf"), {"missing metadata key 'clip.audio.num_mel_bins'"});
  test::GgufEdit(mmproj(kGemma4)).remove_key("clip.vision.projector_type").save(tmp.file("c.gguf"));
  expect_refused(text(kGemma4), tmp.file("c.gguf"),
                 {"clip.has_vision_encoder is true but neither 'clip.vision.projector_type' nor 'clip.projector_type'"});
  test::GgufEdit(mmproj(kGemma3)).remove_key("clip.has_vision_encoder").save(tmp.file("d.gguf"));
  expect_refused(text(kGemma3), tmp.file("d.gguf"), {"neither clip.has_vision_encoder nor clip.has_audio_encoder"});
}

TEST(MmprojErrors, MissingTensors) {
  test::TempDir tmp;
  test::GgufEdit(mmproj(kGemma4)).remove_tensor("a.blk.1.attn_k_rel.weight").save(tmp.file("a.gguf"));
  expect_refused(text(kGemma4), tmp.file("a.gguf"), {tmp.file("a.gguf"), "missing tensor 'a.blk.1.attn_k_rel.weight'"});
  test::GgufEdit(mmproj(kGemma4)).remove_tensor("v.blk.0.attn_q_norm.weight").save(tmp.file("b.gguf"));
  expect_refused(text(kGemma4), tmp.file("b.gguf"), {"missing tensor 'v.blk.0.attn_q_norm.weight'"});
  test::GgufEdit(mmproj(kGemma3)).remove_tensor("mm.soft_emb_norm.weight").save(tmp.file("c.gguf"));
  expect_refused(text(kGemma3), tmp.file("c.gguf"), {"missing tensor 'mm.soft_emb_norm.weight'"});
  // A tensor the spec is read from.
  test::GgufEdit(mmproj(kGemma4)).remove_tensor("a.conv1d.1.weight").save(tmp.file("d.gguf"));
  expect_refused(text(kGemma4), tmp.file("d.gguf"), {"missing tensor 'a.conv1d.1.weight'"});
  // Standardization wants both of its vectors.
  test::GgufEdit(mmproj(kGemma4)).alias_tensor("v.blk.0.ln1.weight", "v.std_bias").save(tmp.file("e.gguf"));
  expect_refused(text(kGemma4), tmp.file("e.gguf"), {"missing tensor 'v.std_scale'"});
}

TEST(MmprojErrors, ShapesOtherThanTheKeysImply) {
  test::TempDir tmp;
  test::GgufEdit(mmproj(kGemma3)).set_u32("clip.vision.feed_forward_length", 48).save(tmp.file("a.gguf"));
  expect_refused(text(kGemma3), tmp.file("a.gguf"),
                 {"tensor 'v.blk.0.ffn_up.weight' has shape [64, 32] but the clip.* metadata implies [48, 32]"});
  test::GgufEdit(mmproj(kGemma4)).set_u32("clip.audio.feed_forward_length", 64).save(tmp.file("b.gguf"));
  expect_refused(text(kGemma4), tmp.file("b.gguf"), {"clip.audio.feed_forward_length is 64, expected 128"});
}

// A tensor no binding reads would be a part of a tower gemrt does not compute.
TEST(MmprojErrors, TensorsNoTowerUses) {
  test::TempDir tmp;
  test::GgufEdit(mmproj(kGemma4)).alias_tensor("v.blk.0.ln1.weight", "v.blk.0.layer_scalar.weight").save(tmp.file("a.gguf"));
  expect_refused(text(kGemma4), tmp.file("a.gguf"), {"1 tensor not part of the towers", "'v.blk.0.layer_scalar.weight'"});
}

TEST(MmprojErrors, ProjectorsGemrtDoesNotRun) {
  test::TempDir tmp;
  test::GgufEdit(mmproj(kGemma3)).set_string("clip.projector_type", "gemma3nv").save(tmp.file("a.gguf"));
  expect_refused(text(kGemma3), tmp.file("a.gguf"),
                 {"clip.projector_type is 'gemma3nv'; gemrt runs the vision projectors gemma3, gemma4v and gemma4uv"});
  test::GgufEdit(mmproj(kGemma4)).set_string("clip.audio.projector_type", "gemma3na").save(tmp.file("b.gguf"));
  expect_refused(text(kGemma4), tmp.file("b.gguf"),
                 {"clip.audio.projector_type is 'gemma3na'; gemrt runs the audio projectors gemma4a and gemma4ua"});
}

TEST(MmprojErrors, NotAnMmprojOrNotAGgufTextModel) {
  expect_refused(text(kGemma3), text(kGemma3), {"general.architecture is 'gemma3', expected 'clip'"});
  const std::string hf = test::shared_fixtures() + "/hf/" + kGemma3;
  expect_refused(hf, mmproj(kGemma3), {mmproj(kGemma3), "goes with a GGUF text model", hf});
  test::TempDir tmp;
  expect_refused(text(kGemma3), tmp.file("none.gguf"), {tmp.file("none.gguf"), "no such mmproj file"});
}

}  // namespace
}  // namespace gemrt
