// The gemrt CLI end to end: output formats of `logits` and `generate`, and one test per bad-input
// error path (each must exit 1 with a message naming the problem, never crash).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gemrt/io/safetensors.h"
#include "gguf_edit.h"
#include "test_util.h"

namespace gemrt {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status;
  std::string output;
};

Result gemrt_cli(const std::string& args) {
  Result r;
  r.status = test::run_command(test::cli_path() + " " + args, &r.output);
  return r;
}

std::string fixture(const std::string& name) { return test::shared_fixtures() + "/hf/" + name; }

// A writable copy of a fixture checkpoint (config.json + model.safetensors).
fs::path copy_checkpoint(const test::TempDir& dir, const std::string& name) {
  const fs::path out = dir.path() / name;
  fs::create_directories(out);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(fs::path(fixture(name)) / f, out / f);
  fs::permissions(out / "config.json", fs::perms::owner_write, fs::perm_options::add);
  fs::permissions(out / "model.safetensors", fs::perms::owner_write, fs::perm_options::add);
  return out;
}

void replace_in_file(const fs::path& p, const std::string& from, const std::string& to) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = s.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  s.replace(at, from.size(), to);
  test::write_text(p.string(), s);
}

TEST(CliLogits, WritesLogitsGreedyIdsAndStepLogits) {
  test::TempDir dir;
  const std::string ref = fixture("gemma3-pub") + "/reference.safetensors";
  const Result r = gemrt_cli("logits --model " + fixture("gemma3-pub") + " --inputs " + ref + " --greedy 12 --out " +
                             dir.file("out.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const HostTensor logits = test::load_tensor(dir.file("out.safetensors"), "logits");
  const HostTensor ids = test::load_tensor(dir.file("out.safetensors"), "greedy_ids");
  const HostTensor steps = test::load_tensor(dir.file("out.safetensors"), "step_logits");
  EXPECT_EQ(logits.dtype, DType::F32);
  EXPECT_EQ(logits.shape, (Shape{20, 512}));
  EXPECT_EQ(ids.dtype, DType::I32);
  EXPECT_EQ(ids.shape, Shape{12});
  EXPECT_EQ(steps.shape, (Shape{12, 512}));
  const HostTensor want_ids = test::load_tensor(ref, "greedy_ids");
  EXPECT_EQ(std::vector<int32_t>(ids.values<int32_t>().begin(), ids.values<int32_t>().end()),
            std::vector<int32_t>(want_ids.values<int32_t>().begin(), want_ids.values<int32_t>().end()));
  const HostTensor want_logits = test::load_tensor(ref, "logits");
  EXPECT_LT(test::relative_error(logits.values<float>(), want_logits.values<float>()), 1e-4);
}

TEST(CliLogits, RopeFreqsInWeightDtypeReproducesACastModel) {
  // gemma3-bf16-pub's reference came from an HF module cast to bf16 (bf16-rounded RoPE
  // frequencies; see hf_parity_test.cpp). The flag reproduces it; without it rows drift.
  test::TempDir dir;
  const std::string ref = fixture("gemma3-bf16-pub") + "/reference.safetensors";
  const std::string base = "logits --model " + fixture("gemma3-bf16-pub") + " --inputs " + ref + " --out ";
  ASSERT_EQ(gemrt_cli(base + dir.file("cast.st") + " --rope-freqs-in-weight-dtype").status, 0);
  ASSERT_EQ(gemrt_cli(base + dir.file("plain.st")).status, 0);
  const HostTensor want = test::load_tensor(ref, "logits");
  EXPECT_LT(test::relative_error(test::load_tensor(dir.file("cast.st"), "logits").values<float>(), want.values<float>()),
            1e-4);
  EXPECT_GT(test::relative_error(test::load_tensor(dir.file("plain.st"), "logits").values<float>(), want.values<float>()),
            1e-4);
}

TEST(CliLogits, IdsFlagWithoutGreedyWritesOnlyLogits) {
  test::TempDir dir;
  const Result r = gemrt_cli("logits --model " + fixture("gemma1-pub") + " --ids 2,17,99 --out " + dir.file("o.st"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = read_safetensors(dir.file("o.st"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "logits");
  EXPECT_EQ(all[0].shape, (Shape{3, 512}));
}

// --prefill P: the first P ids in one batch, the rest one at a time through the KV cache. Along a
// greedy continuation this reproduces the decode steps' logits bit for bit (same schedule, same
// kernels), in fast numerics, whose batched and one-row kernels round differently.
TEST(CliLogits, PrefillRunsTheRestOneTokenAtATime) {
  test::TempDir dir;
  const std::string model = test::shared_fixtures() + "/gguf/gemma3-tiny-pub-Q6_K.gguf";
  const std::string prompt = "2,65,103,56,116,292,52,457,236,50,12";  // 11 ids (vocabulary of 512)
  ASSERT_EQ(gemrt_cli("logits --model " + model + " --ids " + prompt + " --greedy 4 --numerics fast --out " +
                      dir.file("g.st")).status, 0);
  const HostTensor g = test::load_tensor(dir.file("g.st"), "greedy_ids");
  std::string forced = prompt;
  for (int i = 0; i < 3; ++i) forced += "," + std::to_string(g.values<int32_t>()[static_cast<size_t>(i)]);
  const Result r = gemrt_cli("logits --model " + model + " --ids " + forced + " --prefill 11 --numerics fast --out " +
                             dir.file("p.st"));
  ASSERT_EQ(r.status, 0) << r.output;
  const HostTensor p = test::load_tensor(dir.file("p.st"), "logits");
  const HostTensor steps = test::load_tensor(dir.file("g.st"), "step_logits");
  ASSERT_EQ(p.shape, (Shape{14, 512}));
  const auto pv = p.values<float>(), sv = steps.values<float>();
  for (int64_t i = 0; i < 3; ++i)  // logits row 11 + i came from the same decode step as step row 1 + i
    for (int64_t v = 0; v < 512; ++v) ASSERT_EQ(pv[static_cast<size_t>((11 + i) * 512 + v)], sv[static_cast<size_t>((1 + i) * 512 + v)]) << i;
  // And the one-batch run of the same ids is a different (batched) schedule: close, not identical.
  ASSERT_EQ(gemrt_cli("logits --model " + model + " --ids " + forced + " --numerics fast --out " + dir.file("b.st")).status, 0);
  const HostTensor b = test::load_tensor(dir.file("b.st"), "logits");
  EXPECT_LT(test::relative_error(b.values<float>(), pv), 5e-2);
  EXPECT_NE(std::vector<float>(b.values<float>().begin(), b.values<float>().end()), std::vector<float>(pv.begin(), pv.end()));
}

// --numerics fast on a GGUF fixture gives llama.cpp's greedy ids and sits closer to llama.cpp's
// logits than the default precise numerics; --kv-type f16 keeps the greedy ids; bad values fail.
TEST(CliLogits, NumericsAndKvTypeFlags) {
  test::TempDir dir;
  const std::string base = test::shared_fixtures() + "/gguf/gemma3-tiny-pub-Q4_0";
  const std::string ref = base + ".reference.safetensors";
  const std::string cmd = "logits --model " + base + ".gguf --inputs " + ref + " --greedy 16 --out ";
  ASSERT_EQ(gemrt_cli(cmd + dir.file("fast.st") + " --numerics fast --kv-type f32").status, 0);
  ASSERT_EQ(gemrt_cli(cmd + dir.file("precise.st")).status, 0);
  const Result half = gemrt_cli(cmd + dir.file("half.st") + " --numerics fast --kv-type f16");
  ASSERT_EQ(half.status, 0) << half.output;
  const HostTensor want = test::load_tensor(ref, "logits");
  const double fast = test::relative_error(test::load_tensor(dir.file("fast.st"), "logits").values<float>(),
                                           want.values<float>());
  const double precise = test::relative_error(test::load_tensor(dir.file("precise.st"), "logits").values<float>(),
                                              want.values<float>());
  EXPECT_LT(fast, precise);
  const auto ids = [](const std::string& f, const char* name) {
    const HostTensor t = test::load_tensor(f, name);
    return std::vector<int32_t>(t.values<int32_t>().begin(), t.values<int32_t>().end());
  };
  EXPECT_EQ(ids(dir.file("fast.st"), "greedy_ids"), ids(ref, "greedy_ids"));
  EXPECT_EQ(ids(dir.file("half.st"), "greedy_ids"), ids(ref, "greedy_ids"));
  EXPECT_NE(gemrt_cli(cmd + dir.file("x.st") + " --numerics turbo").status, 0);
  EXPECT_NE(gemrt_cli(cmd + dir.file("x.st") + " --kv-type q4").status, 0);
}

// Issue 7: the Gemma 4 unified fixture's reference file is a valid --inputs file (input_ids,
// pixel_values, image_position_ids, audio_frames): the features and the logits come back within
// the issue's 1e-4 per row.
TEST(CliLogits, UnifiedModelWithImageAndAudio) {
  test::TempDir dir;
  const std::string ref = fixture("gemma4u-pub") + "/reference.safetensors";
  const Result r = gemrt_cli("logits --model " + fixture("gemma4u-pub") + " --inputs " + ref + " --greedy 3 --out " +
                             dir.file("out.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name : {"image_features", "audio_features", "logits"}) {
    const HostTensor got = test::load_tensor(dir.file("out.safetensors"), name);
    const HostTensor want = test::load_tensor(ref, name);
    ASSERT_EQ(got.shape, want.shape) << name;
    test::expect_rows_close(got.values<float>(), want, 1e-4, name);
  }
  EXPECT_EQ(test::load_tensor(dir.file("out.safetensors"), "greedy_ids").shape, Shape{3});
  // --prefill cannot split a prompt with media into single-token steps.
  const Result p = gemrt_cli("logits --model " + fixture("gemma4u-pub") + " --inputs " + ref + " --prefill 4 --out " +
                             dir.file("p.safetensors"));
  EXPECT_EQ(p.status, 1);
  EXPECT_NE(p.output.find("media"), std::string::npos) << p.output;
}

// Issue 8: Gemma 3's reference file (input_ids, pixel_values [3, 64, 64]) as --inputs: the SigLIP
// features and the logits within 1e-4 per row.
TEST(CliLogits, Gemma3WithAnImage) {
  test::TempDir dir;
  const std::string ref = fixture("gemma3-siglip-pub") + "/reference.safetensors";
  const Result r = gemrt_cli("logits --model " + fixture("gemma3-siglip-pub") + " --inputs " + ref + " --out " +
                             dir.file("out.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name : {"image_features", "logits"}) {
    const HostTensor got = test::load_tensor(dir.file("out.safetensors"), name);
    const HostTensor want = test::load_tensor(ref, name);
    ASSERT_EQ(got.shape, want.shape) << name;
    EXPECT_LT(test::relative_error(got.values<float>(), want.values<float>()), 1e-4) << name;
  }
}

// Issue 8: Gemma 4's vision tower through `logits --inputs`: the fixture's 630 patches and their
// positions with the prompt up to boa: image_features and those 72 logits rows within 1e-4 per
// row; that prompt with its audio tokens and no audio is refused naming them. The whole reference
// file (audio_mel + audio_mel_mask too, through the audio tower with transformers' eager mask, as
// the fixture was made): audio_features and all 85 logits rows within 1e-4.
TEST(CliLogits, Gemma4TowerWithAnImage) {
  test::TempDir dir;
  const std::string ref = fixture("gemma4-towers-pub") + "/reference.safetensors";
  const HostTensor ids = test::load_tensor(ref, "input_ids");
  const std::vector<int32_t> before_audio(ids.values<int32_t>().begin(), ids.values<int32_t>().begin() + 72);
  ASSERT_EQ(before_audio.back(), 504);  // boa
  write_safetensors(dir.file("in.safetensors"), {HostTensor::from<int32_t>("input_ids", Shape{72}, DType::I32, before_audio),
                                                 test::load_tensor(ref, "pixel_values"),
                                                 test::load_tensor(ref, "image_position_ids")});
  const Result r = gemrt_cli("logits --model " + fixture("gemma4-towers-pub") + " --inputs " + dir.file("in.safetensors") +
                             " --out " + dir.file("out.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  const HostTensor features = test::load_tensor(dir.file("out.safetensors"), "image_features");
  ASSERT_EQ(features.shape, (Shape{63, 64}));
  test::expect_rows_close(features.values<float>(), test::load_tensor(ref, "image_features"), 1e-4, "image_features");
  const HostTensor logits = test::load_tensor(dir.file("out.safetensors"), "logits");
  ASSERT_EQ(logits.shape, (Shape{72, 512}));
  test::expect_rows_close(logits.values<float>(), test::leading_rows(test::load_tensor(ref, "logits"), 72), 1e-4, "logits");
  write_safetensors(dir.file("no_audio.safetensors"), {ids, test::load_tensor(ref, "pixel_values"),
                                                       test::load_tensor(ref, "image_position_ids")});
  const Result no_audio = gemrt_cli("logits --model " + fixture("gemma4-towers-pub") + " --inputs " +
                                    dir.file("no_audio.safetensors") + " --out " + dir.file("x.safetensors"));
  EXPECT_EQ(no_audio.status, 1);
  EXPECT_NE(no_audio.output.find("9 audio tokens"), std::string::npos) << no_audio.output;
  const Result all = gemrt_cli("logits --model " + fixture("gemma4-towers-pub") + " --inputs " + ref +
                               " --audio-attention eager --out " + dir.file("all.safetensors"));
  ASSERT_EQ(all.status, 0) << all.output;
  const HostTensor audio = test::load_tensor(dir.file("all.safetensors"), "audio_features");
  ASSERT_EQ(audio.shape, (Shape{9, 64}));
  test::expect_rows_close(audio.values<float>(), test::load_tensor(ref, "audio_features"), 1e-4, "audio_features");
  test::expect_rows_close(test::load_tensor(dir.file("all.safetensors"), "logits").values<float>(),
                          test::load_tensor(ref, "logits"), 1e-4, "all logits");
  const Result bad = gemrt_cli("logits --model " + fixture("gemma4-towers-pub") + " --inputs " + ref +
                               " --audio-attention causal --out " + dir.file("y.safetensors"));
  EXPECT_NE(bad.status, 0);
}

TEST(CliErrors, MediaInputsOfTheWrongShape) {
  test::TempDir dir;
  const std::vector<int32_t> ids{2, 502, 500, 500, 503};
  const std::vector<float> pixels(2 * 192, 0.5f);
  const std::vector<int32_t> pos{0, 0, 1, 0, 2, 0};  // three positions for two patches
  write_safetensors(dir.file("in.safetensors"),
                    {HostTensor::from<int32_t>("input_ids", Shape{5}, DType::I32, ids),
                     HostTensor::from<float>("pixel_values", Shape{2, 192}, DType::F32, pixels),
                     HostTensor::from<int32_t>("image_position_ids", Shape{3, 2}, DType::I32, pos)});
  const Result r = gemrt_cli("logits --model " + fixture("gemma4u-pub") + " --inputs " + dir.file("in.safetensors") +
                             " --out " + dir.file("out.safetensors"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("'image_position_ids' must be [2, 2]"), std::string::npos) << r.output;
  // Patches without their positions (read as one image [3, H, W], which [2, 192] is not).
  write_safetensors(dir.file("one.safetensors"), {HostTensor::from<int32_t>("input_ids", Shape{5}, DType::I32, ids),
                                                  HostTensor::from<float>("pixel_values", Shape{2, 192}, DType::F32, pixels)});
  const Result one = gemrt_cli("logits --model " + fixture("gemma4u-pub") + " --inputs " + dir.file("one.safetensors") +
                               " --out " + dir.file("out.safetensors"));
  EXPECT_EQ(one.status, 1);
  EXPECT_NE(one.output.find("one image [3, H, W]"), std::string::npos) << one.output;
  // A text-only model given media.
  write_safetensors(dir.file("ok.safetensors"),
                    {HostTensor::from<int32_t>("input_ids", Shape{5}, DType::I32, ids),
                     HostTensor::from<float>("pixel_values", Shape{2, 192}, DType::F32, pixels),
                     HostTensor::from<int32_t>("image_position_ids", Shape{2, 2}, DType::I32,
                                               std::vector<int32_t>{0, 0, 1, 0})});
  const Result text = gemrt_cli("logits --model " + fixture("gemma3-pub") + " --inputs " + dir.file("ok.safetensors") +
                                " --out " + dir.file("out.safetensors"));
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.output.find("no media embedders"), std::string::npos) << text.output;
}

// A tokenizer.json of the gemma4u-pub fixture's 512 ids: <pad> <eos> <bos> <unk>, the 256 byte
// tokens (every text is its UTF-8 bytes), then "[tN]" pieces; BOS added by the template processor.
std::string byte_tokenizer_json() {
  std::string vocab = R"("<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3)";
  for (int b = 0; b < 256; ++b) {
    char piece[16];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    vocab += std::string(", \"") + piece + "\": " + std::to_string(4 + b);
  }
  for (int id = 260; id < 512; ++id) vocab += ", \"[t" + std::to_string(id) + "]\": " + std::to_string(id);
  std::string added;
  const char* specials[] = {"<pad>", "<eos>", "<bos>", "<unk>"};
  for (int i = 0; i < 4; ++i)
    added += std::string(i ? "," : "") + R"({"id": )" + std::to_string(i) + R"(, "content": ")" + specials[i] +
             R"(", "special": true, "normalized": false, "lstrip": false, "rstrip": false, "single_word": false})";
  return std::string(R"({"added_tokens": [)") + added + R"(], "normalizer": null, "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "pair": [], "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "vocab": {)" + vocab + R"(}, "merges": []}})";
}

// Issue 7: `gemrt run` with an image and an audio clip into the Gemma 4 unified fixture (given a
// byte tokenizer): the markers expand to boi + 266 image tokens + eoi (the 200 x 150 image at
// the fixture's 8-pixel merged patches and a 280-token budget) and boa + 148 audio tokens + eoa
// (5920 samples in 40-sample frames).
TEST(CliRun, UnifiedModelWithImageAndAudio) {
  test::TempDir dir;
  const fs::path model = dir.path() / "gemma4u";
  fs::create_directories(model);
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
    fs::copy_file(fs::path(fixture("gemma4u-pub")) / f, model / f);
  test::write_text((model / "tokenizer.json").string(), byte_tokenizer_json());
  const std::string media = " --image " + fixture("gemma4u-pub") + "/image.png --audio " + fixture("gemma4u-pub") + "/audio.wav";
  const Result r = gemrt_cli("run " + model.string() + " --raw -p 'Look: <image> then <audio>.'" + media +
                             " -n 6 --temp 0 -c 512 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t prompt = 1 + 6 + 6 + 1 + (2 + 266) + (2 + 148);
  EXPECT_NE(r.output.find("prompt " + std::to_string(prompt) + " tokens"), std::string::npos) << r.output;
  // Fewer markers than media, and media for a text-only model: clear errors.
  const Result fewer = gemrt_cli("run " + model.string() + " --raw -p 'Look: <image>'" + media + " -n 2 -c 512");
  EXPECT_EQ(fewer.status, 1);
  EXPECT_NE(fewer.output.find("audio clips given"), std::string::npos) << fewer.output;
  const fs::path text_dir = copy_checkpoint(dir, "gemma3-pub");
  test::write_text((text_dir / "tokenizer.json").string(), byte_tokenizer_json());
  const Result text_model = gemrt_cli("run " + text_dir.string() + " --raw -p hi" + media + " -n 2");
  EXPECT_EQ(text_model.status, 1);
  EXPECT_NE(text_model.output.find("embedder"), std::string::npos) << text_model.output;
  const Result corrupt = gemrt_cli("run " + model.string() + " --raw -p hi --image " + (model / "config.json").string() +
                                   " -n 2 -c 512");
  EXPECT_EQ(corrupt.status, 1);
  EXPECT_NE(corrupt.output.find("not a PNG or JPEG"), std::string::npos) << corrupt.output;
}

// Issue 8: `gemrt run` with an image into the Gemma 3 fixture: the marker becomes
// "\n\n" + boi + 16 image tokens + eoi + "\n\n" (Gemma3Processor's full_image_sequence; the
// newlines tokenized with the text next to them), the image resized to the tower's 64 pixels.
TEST(CliRun, Gemma3WithAnImage) {
  test::TempDir dir;
  const fs::path model = dir.path() / "gemma3v";
  fs::create_directories(model);
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
    fs::copy_file(fs::path(fixture("gemma3-siglip-pub")) / f, model / f);
  test::write_text((model / "tokenizer.json").string(), byte_tokenizer_json());
  const Result r = gemrt_cli("run " + model.string() + " --raw -p 'Look:<image> ok' --image " + fixture("gemma4u-pub") +
                             "/image.png -n 4 --temp 0 -c 128 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t prompt = 1 + 7 + (2 + 16) + 5;  // BOS, "Look:\n\n", the image, "\n\n ok"
  EXPECT_NE(r.output.find("prompt " + std::to_string(prompt) + " tokens"), std::string::npos) << r.output;
}

// Issue 8: `gemrt run` with an image into the Gemma 4 tower fixture: the image cut into 16-px
// patches at a budget of 70 (a 27 x 21 grid), pooled by the tower to 63 soft tokens, the marker
// becoming boi + 63 image tokens + eoi (Gemma4Processor writes no text around them). Audio: the
// clip's 37 log-mel frames subsampled by the audio tower to 9 soft tokens, boa + 9 + eoa.
TEST(CliRun, Gemma4TowerWithAnImage) {
  test::TempDir dir;
  const fs::path model = dir.path() / "gemma4v";
  fs::create_directories(model);
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
    fs::copy_file(fs::path(fixture("gemma4-towers-pub")) / f, model / f);
  test::write_text((model / "tokenizer.json").string(), byte_tokenizer_json());
  const Result r = gemrt_cli("run " + model.string() + " --raw -p 'Look:<image> ok' --image " + fixture("gemma4u-pub") +
                             "/image.png --image-tokens 70 -n 4 --temp 0 -c 128 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t prompt = 1 + 5 + (2 + 63) + 3;  // BOS, "Look:", the image, " ok"
  EXPECT_NE(r.output.find("prompt " + std::to_string(prompt) + " tokens"), std::string::npos) << r.output;
  const Result audio = gemrt_cli("run " + model.string() + " --raw -p hi --audio " + fixture("gemma4u-pub") +
                                 "/audio.wav -n 2 --temp 0 -c 128 --device cpu");
  ASSERT_EQ(audio.status, 0) << audio.output;
  const size_t audio_prompt = 1 + (2 + 9) + 2;  // BOS, the clip, "hi"
  EXPECT_NE(audio.output.find("prompt " + std::to_string(audio_prompt) + " tokens"), std::string::npos) << audio.output;
}

// Issue 8: a GGUF text model with llama.cpp's mmproj file (tests/data/mmproj, made by
// tests/data/make_mmproj_fixtures.py): `logits --mmproj` runs the fixture's own inputs file through
// the file's towers, within 1e-4 of transformers on the file's weights.
std::string mmproj_dir(const std::string& name) { return test::test_data() + "/mmproj/" + name; }

TEST(CliLogits, TextGgufWithMmproj) {
  test::TempDir dir;
  for (const std::string name : {"gemma3-siglip-pub", "gemma4-towers-pub"}) {
    const std::string ref = mmproj_dir(name) + "/reference.safetensors", out = dir.file(name + ".safetensors");
    const Result r = gemrt_cli("logits --model " + mmproj_dir(name) + "/text-F32.gguf --mmproj " + mmproj_dir(name) +
                               "/mmproj-F32.gguf --inputs " + fixture(name) + "/reference.safetensors --out " + out);
    ASSERT_EQ(r.status, 0) << r.output;
    test::expect_rows_close(test::load_tensor(out, "image_features").values<float>(),
                            test::load_tensor(ref, "image_features_F32"), 1e-4, name + " image_features");
    if (name == "gemma4-towers-pub")
      test::expect_rows_close(test::load_tensor(out, "audio_features").values<float>(),
                              test::load_tensor(ref, "audio_features_F32"), 1e-4, name + " audio_features");
    test::expect_rows_close(test::load_tensor(out, "logits").values<float>(), test::load_tensor(ref, "logits_F32"), 1e-4,
                            name + " logits");
  }
  // Gemma 4 unified: its F32 file holds the fixture's float32 weights, the fixture's reference is its.
  const std::string ref = fixture("gemma4u-pub") + "/reference.safetensors", out = dir.file("u.safetensors");
  const Result r = gemrt_cli("logits --model " + mmproj_dir("gemma4u-pub") + "/text-F32.gguf --mmproj " +
                             mmproj_dir("gemma4u-pub") + "/mmproj-F32.gguf --inputs " + ref + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* t : {"image_features", "audio_features", "logits"})
    test::expect_rows_close(test::load_tensor(out, t).values<float>(), test::load_tensor(ref, t), 1e-4, std::string("gemma4u ") + t);
}

// `run --mmproj`: the Gemma 3 text GGUF (its vocabulary made a SentencePiece one of placeholder
// pieces, so that text tokenizes: every character an unknown token) with the mmproj's SigLIP tower;
// the marker becomes "\n\n" + boi + 16 image tokens + eoi + "\n\n".
TEST(CliRun, TextGgufWithMmprojAndAnImage) {
  test::TempDir dir;
  const std::string name = "gemma3-siglip-pub", model = dir.file("text.gguf");
  test::GgufEdit(mmproj_dir(name) + "/text-F32.gguf")
      .set_string("tokenizer.ggml.model", "llama")
      .set_u32("tokenizer.ggml.unknown_token_id", 3)
      .save(model);
  const Result r = gemrt_cli("run " + model + " --mmproj " + mmproj_dir(name) + "/mmproj-F32.gguf --raw -p '<image>' --image " +
                             fixture("gemma4u-pub") + "/image.png -n 2 --temp 0 -c 64 --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("prompt 23 tokens"), std::string::npos) << r.output;  // BOS, "\n\n", the image, "\n\n"
  const Result wrong = gemrt_cli("run " + model + " --mmproj " + mmproj_dir("gemma4-towers-pub") +
                                 "/mmproj-F32.gguf --raw -p '<image>' --image " + fixture("gemma4u-pub") + "/image.png -n 2");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.output.find("clip.vision.projector_type is 'gemma4v'"), std::string::npos) << wrong.output;
}

TEST(CliErrors, MmprojOfAnotherModel) {
  const std::string mmproj = mmproj_dir("gemma3-siglip-pub") + "/mmproj-F32.gguf";
  const Result r = gemrt_cli("logits --model " + mmproj_dir("gemma4-towers-pub") + "/text-F32.gguf --mmproj " + mmproj +
                             " --ids 2 --out /dev/null");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(mmproj + ": clip.projector_type is 'gemma3'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("expected an mmproj with projectors gemma4v / gemma4a or gemma4uv / gemma4ua"), std::string::npos) << r.output;
  const Result hf = gemrt_cli("logits --model " + fixture("gemma3-siglip-pub") + " --mmproj " + mmproj +
                              " --ids 2 --out /dev/null");
  EXPECT_EQ(hf.status, 1);
  EXPECT_NE(hf.output.find("goes with a GGUF text model"), std::string::npos) << hf.output;
}

// `inspect --mmproj` names the file, its projectors and tensors, and the towers at llama.cpp's
// settings (the audio tower's chunks of 12, 12 frames back).
TEST(CliInspect, ShowsTheMmprojTowers) {
  const std::string mmproj = mmproj_dir("gemma4-towers-pub") + "/mmproj-F16.gguf";
  const Result r = gemrt_cli("inspect " + mmproj_dir("gemma4-towers-pub") + "/text-F32.gguf --mmproj " + mmproj);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("mmproj:       " + mmproj + " (GGUF v3, projectors gemma4v, gemma4a)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("vision:       Gemma 4 tower, 16-px patches, 2 layers of width 32"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(2 heads, chunks of 12, 12 keys back, 0 ahead, logit cap 50, conv kernel 5), output 32, "
                          "clipped linears; audio token 501 (boa 504, eoa 505)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("mmproj tensors:\n  F16: 40 tensors"), std::string::npos) << r.output;
}

// `inspect` names a checkpoint's media side: the unified model's embedders, Gemma 3's SigLIP tower,
// Gemma 4's vision tower.
TEST(CliInspect, ShowsTheMediaSide) {
  const Result u = gemrt_cli("inspect " + fixture("gemma4u-pub"));
  ASSERT_EQ(u.status, 0) << u.output;
  EXPECT_NE(u.output.find("vision:       encoder-free embedder, 4-px patches merged 2x2 (192 values)"), std::string::npos)
      << u.output;
  EXPECT_NE(u.output.find("audio:        encoder-free embedder, 40 samples per token; audio token 501 (boa 504, eoa 505)"),
            std::string::npos)
      << u.output;
  const Result g = gemrt_cli("inspect " + fixture("gemma3-siglip-pub"));
  ASSERT_EQ(g.status, 0) << g.output;
  EXPECT_NE(g.output.find("vision:       SigLIP tower, 64-px images in 8-px patches, 2 layers of width 32 (2 heads, "
                          "MLP 64), pooled to 16 tokens; image token 500 (boi 502, eoi 503)"),
            std::string::npos)
      << g.output;
  const Result v = gemrt_cli("inspect " + fixture("gemma4-towers-pub"));
  ASSERT_EQ(v.status, 0) << v.output;
  EXPECT_NE(v.output.find("vision:       Gemma 4 tower, 16-px patches, 2 layers of width 32 (2 heads x 16, 2 KV heads, "
                          "MLP 64), axial RoPE theta 100, 128 positions per axis, pooled 3x3; image token 500 (boi 502, "
                          "eoi 503)"),
            std::string::npos)
      << v.output;
  EXPECT_NE(v.output.find("audio:        Gemma 4 conformer tower, 128 mel bins subsampled 4x (conv channels 128, 4), "
                          "2 layers of width 32 (2 heads, chunks of 4, 4 keys back, 0 ahead, logit cap 50, conv kernel "
                          "5), output 32, clipped linears; audio token 501 (boa 504, eoa 505)"),
            std::string::npos)
      << v.output;
  const Result t = gemrt_cli("inspect " + fixture("gemma3-pub"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_EQ(t.output.find("vision:"), std::string::npos) << t.output;
}

TEST(CliGenerate, PrintsTheGreedyIds) {
  const std::string ref = fixture("gemma2-pub") + "/reference.safetensors";
  const HostTensor input = test::load_tensor(ref, "input_ids");
  const HostTensor greedy = test::load_tensor(ref, "greedy_ids");
  std::string ids, want;
  for (int32_t v : input.values<int32_t>()) ids += (ids.empty() ? "" : ",") + std::to_string(v);
  for (int32_t v : greedy.values<int32_t>()) want += (want.empty() ? "" : " ") + std::to_string(v);
  const Result r = gemrt_cli("generate --model " + fixture("gemma2-pub") + " --ids " + ids + " -n 12");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, want + "\n");
}

void expect_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("gemrt: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << r.output;
}

TEST(CliErrors, MissingModelFolder) {
  test::TempDir dir;
  expect_error(gemrt_cli("generate --model " + dir.file("nope") + " --ids 2 -n 1"), dir.file("nope") + ": no such model file or folder");
}

TEST(CliErrors, MissingSafetensorsFile) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma1-pub");
  fs::remove(m / "model.safetensors");
  expect_error(gemrt_cli("generate --model " + m.string() + " --ids 2 -n 1"), "no model.safetensors");
}

TEST(CliErrors, CorruptSafetensorsHeader) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma1-pub");
  {
    std::fstream f(m / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("#garbage", 8);
  }
  expect_error(gemrt_cli("generate --model " + m.string() + " --ids 2 -n 1"), "corrupt safetensors header");
}

TEST(CliErrors, TruncatedSafetensorsFile) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma1-pub");
  fs::resize_file(m / "model.safetensors", fs::file_size(m / "model.safetensors") / 2);
  expect_error(gemrt_cli("generate --model " + m.string() + " --ids 2 -n 1"), "run past the end of the file");
}

TEST(CliErrors, MissingTensor) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma3-pub");
  std::vector<HostTensor> tensors = read_safetensors((m / "model.safetensors").string());
  std::erase_if(tensors, [](const HostTensor& t) { return t.name == "model.layers.3.self_attn.k_norm.weight"; });
  write_safetensors((m / "model.safetensors").string(), tensors);
  expect_error(gemrt_cli("generate --model " + m.string() + " --ids 2 -n 1"),
               "missing tensor 'model.layers.3.self_attn.k_norm.weight'");
}

// Gemma 4's vision tower: a config asking for clipped linears or standardization from a checkpoint
// without the buffers, and clip bounds out of order, are refused naming the tensor.
TEST(CliErrors, Gemma4TowerBuffersMissingOrDisordered) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma4-towers-pub");
  replace_in_file(m / "config.json", "\"use_clipped_linears\": false", "\"use_clipped_linears\": true");  // the vision one
  expect_error(gemrt_cli("inspect " + m.string()),
               "missing tensor 'model.vision_tower.encoder.layers.0.self_attn.q_proj.input_min' (use_clipped_linears is true)");
  fs::copy_file(fs::path(fixture("gemma4-towers-pub")) / "config.json", m / "config.json",
                fs::copy_options::overwrite_existing);
  fs::permissions(m / "config.json", fs::perms::owner_write, fs::perm_options::add);
  replace_in_file(m / "config.json", "\"standardize\": false", "\"standardize\": true");
  expect_error(gemrt_cli("inspect " + m.string()), "'model.vision_tower.std_bias'");

  const fs::path v = dir.path() / "clip";
  fs::create_directories(v);
  const fs::path src = fs::path(test::test_data()) / "hf-media" / "gemma4-vision-std-clip";
  fs::copy_file(src / "config.json", v / "config.json");
  std::vector<HostTensor> tensors = read_safetensors((src / "model.safetensors").string());
  for (HostTensor& t : tensors)
    if (t.name == "model.vision_tower.encoder.layers.1.mlp.up_proj.output_min") {
      const float big = 1e3f;
      std::memcpy(t.bytes.data(), &big, sizeof big);
    }
  write_safetensors((v / "model.safetensors").string(), tensors);
  expect_error(gemrt_cli("inspect " + v.string()),
               "the clip bounds of 'model.vision_tower.encoder.layers.1.mlp.up_proj' are not ordered");
}

// Gemma 4's audio tower: a missing weight or clip bound (use_clipped_linears is true in the
// fixture's audio_config) is refused naming the tensor.
TEST(CliErrors, Gemma4AudioTowerTensorMissing) {
  test::TempDir dir;
  for (const std::string gone : {"model.audio_tower.layers.1.self_attn.per_dim_scale",
                                 "model.audio_tower.layers.0.lconv1d.linear_end.output_max"}) {
    const fs::path m = dir.path() / ("m" + std::to_string(gone.size()));
    fs::create_directories(m);
    fs::copy_file(fs::path(fixture("gemma4-towers-pub")) / "config.json", m / "config.json");
    std::vector<HostTensor> tensors = read_safetensors(fixture("gemma4-towers-pub") + "/model.safetensors");
    std::erase_if(tensors, [&](const HostTensor& t) { return t.name == gone; });
    write_safetensors((m / "model.safetensors").string(), tensors);
    expect_error(gemrt_cli("inspect " + m.string()), "missing tensor '" + gone + "'");
  }
}

TEST(CliErrors, ShapeDisagreesWithConfig) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma2-pub");
  replace_in_file(m / "config.json", "\"intermediate_size\": 160", "\"intermediate_size\": 128");
  expect_error(gemrt_cli("generate --model " + m.string() + " --ids 2 -n 1"),
               "'model.layers.0.mlp.gate_proj.weight' has shape [160, 64] but config.json implies [128, 64]");
}

TEST(CliErrors, UnsupportedModelType) {
  test::TempDir dir;
  const fs::path m = copy_checkpoint(dir, "gemma1-pub");
  replace_in_file(m / "config.json", "\"model_type\": \"gemma\"", "\"model_type\": \"mistral\"");
  expect_error(gemrt_cli("generate --model " + m.string() + " --ids 2 -n 1"), "unsupported model_type 'mistral'");
}

TEST(CliErrors, IdsOutsideTheVocabulary) {
  test::TempDir dir;
  expect_error(gemrt_cli("logits --model " + fixture("gemma1-pub") + " --ids 2,512 --out " + dir.file("o.st")),
               "token id 512 (input position 1) is outside the vocabulary [0, 512)");
  EXPECT_FALSE(fs::exists(dir.file("o.st")));
}

TEST(CliErrors, MalformedIdList) {
  expect_error(gemrt_cli("generate --model " + fixture("gemma1-pub") + " --ids 2,x -n 1"), "'x' is not an integer");
}

TEST(CliErrors, InputsFileWithoutInputIds) {
  test::TempDir dir;
  write_safetensors(dir.file("in.st"), {HostTensor::from<float>("x", Shape{1}, DType::F32, std::vector<float>{1.0f})});
  expect_error(gemrt_cli("logits --model " + fixture("gemma1-pub") + " --inputs " + dir.file("in.st") + " --out " +
                         dir.file("o.st")),
               "missing tensor 'input_ids'");
}

// bench --synthetic: random weights of a config's shape, no weight file; a bad type is refused.
TEST(CliBench, SyntheticWeightsOfAConfigsShape) {
  const Result r = gemrt_cli("bench " + fixture("gemma3-pub") + "/config.json --synthetic --weight-type Q8_0 -p 8 -n 4 -r 1 --threads 2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("synthetic Q8_0 (config.json)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pp8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tg4"), std::string::npos) << r.output;
  const Result bad = gemrt_cli("bench " + fixture("gemma3-pub") + "/config.json --synthetic --weight-type Q9 -p 8 -n 0");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("unknown weight type 'Q9'"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace gemrt
