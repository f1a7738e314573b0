// config.json -> ModelSpec: per-layer accessors for every supported model_type, defaults, errors.
#include "gemrt/model/gemma/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"
#include "gemrt/model/gemma/media_config.h"
#include "gemrt/model/gemma/tensor_list.h"
#include "test_util.h"

namespace gemrt {
namespace {

using nlohmann::json;

std::string error_of(const json& j) {
  return test::error_message([&] { parse_gemma_config(j, "cfg.json"); });
}

TEST(GemmaConfig, Gemma1FixtureIsMqaWithHeadDimScale) {
  const ModelSpec s = load_gemma_config(test::shared_fixtures() + "/hf/gemma1-pub");
  EXPECT_EQ(s.family, GemmaFamily::Gemma1);
  ASSERT_EQ(s.n_layers(), 3);
  EXPECT_EQ(s.vocab_size, 512);
  EXPECT_FLOAT_EQ(s.embed_scale, 8.0f);
  EXPECT_EQ(s.final_softcap, 0.0f);
  for (const LayerSpec& l : s.layers) {
    EXPECT_EQ(l.kind, LayerKind::Full);
    EXPECT_EQ(l.n_heads, 4);
    EXPECT_EQ(l.n_kv_heads, 1);
    EXPECT_EQ(l.head_dim, 16);
    EXPECT_EQ(l.window, 0);
    EXPECT_FLOAT_EQ(l.attn_scale, 0.25f);  // head_dim^-1/2
    EXPECT_FALSE(l.sandwich_norms);
    EXPECT_FALSE(l.qk_norm);
    EXPECT_FLOAT_EQ(l.norm_offset, 1.0f);
    EXPECT_FLOAT_EQ(l.rope.theta, 10000.0f);
  }
}

TEST(GemmaConfig, Gemma2FixtureAlternatesAndCaps) {
  const ModelSpec s = load_gemma_config(test::shared_fixtures() + "/hf/gemma2-pub/config.json");
  EXPECT_EQ(s.family, GemmaFamily::Gemma2);
  ASSERT_EQ(s.n_layers(), 4);
  EXPECT_FLOAT_EQ(s.final_softcap, 3.0f);
  for (int i = 0; i < 4; ++i) {
    const LayerSpec& l = s.layers[static_cast<size_t>(i)];
    EXPECT_EQ(l.kind, i % 2 == 0 ? LayerKind::Sliding : LayerKind::Full) << i;
    EXPECT_EQ(l.window, i % 2 == 0 ? 8 : 0) << i;
    EXPECT_FLOAT_EQ(l.attn_scale, static_cast<float>(1.0 / std::sqrt(24.0)));  // query_pre_attn_scalar, not head_dim
    EXPECT_FLOAT_EQ(l.attn_softcap, 2.0f);
    EXPECT_TRUE(l.sandwich_norms);
  }
}

TEST(GemmaConfig, Gemma3FixturePatternAndDualRope) {
  const ModelSpec s = load_gemma_config(test::shared_fixtures() + "/hf/gemma3-linrope-pub");
  EXPECT_EQ(s.family, GemmaFamily::Gemma3);
  ASSERT_EQ(s.n_layers(), 7);
  for (int i = 0; i < 7; ++i) {
    const LayerSpec& l = s.layers[static_cast<size_t>(i)];
    const bool full = i == 5;
    EXPECT_EQ(l.kind, full ? LayerKind::Full : LayerKind::Sliding) << i;
    EXPECT_TRUE(l.qk_norm);
    EXPECT_EQ(l.n_kv_heads, 1);
    EXPECT_FLOAT_EQ(l.rope.theta, full ? 1e6f : 1e4f) << i;
    EXPECT_EQ(l.rope.scaling.kind, full ? RopeScaling::Kind::Linear : RopeScaling::Kind::None) << i;
    if (full) {
      EXPECT_FLOAT_EQ(l.rope.scaling.factor, 8.0f);
    }
  }
}

json minimal(const std::string& model_type) {
  return json{{"model_type", model_type}, {"hidden_size", 32}, {"num_hidden_layers", 12},
              {"num_attention_heads", 2},  {"num_key_value_heads", 1}, {"head_dim", 16},
              {"intermediate_size", 40},   {"vocab_size", 100}};
}

TEST(GemmaConfig, DefaultsFollowTheHfClasses) {
  // Gemma 2: even layers slide with window 4096, caps 50 / 30, qpas 256 (spec §3.1).
  const ModelSpec g2 = parse_gemma_config(minimal("gemma2"), "g2");
  EXPECT_EQ(g2.layers[0].window, 4096);
  EXPECT_EQ(g2.layers[1].window, 0);
  EXPECT_FLOAT_EQ(g2.layers[0].attn_softcap, 50.0f);
  EXPECT_FLOAT_EQ(g2.final_softcap, 30.0f);
  EXPECT_FLOAT_EQ(g2.layers[0].attn_scale, 1.0f / 16.0f);
  // Gemma 3 without layer_types: full iff (i+1) % 6 == 0; local theta 1e4, global 1e6 (spec §4.3).
  const ModelSpec g3 = parse_gemma_config(minimal("gemma3_text"), "g3");
  for (int i = 0; i < 12; ++i) {
    const bool full = (i + 1) % 6 == 0;
    EXPECT_EQ(g3.layers[static_cast<size_t>(i)].kind, full ? LayerKind::Full : LayerKind::Sliding) << i;
    EXPECT_FLOAT_EQ(g3.layers[static_cast<size_t>(i)].rope.theta, full ? 1e6f : 1e4f) << i;
  }
  EXPECT_EQ(g3.final_softcap, 0.0f);
  EXPECT_EQ(g3.max_position_embeddings, 131072);
  // Gemma 1: everything global, attention scale from head_dim.
  const ModelSpec g1 = parse_gemma_config(minimal("gemma"), "g1");
  EXPECT_EQ(g1.layers[3].window, 0);
  EXPECT_FLOAT_EQ(g1.layers[3].attn_scale, 0.25f);
  EXPECT_EQ(g1.max_position_embeddings, 8192);
}

TEST(GemmaConfig, NullSoftcapsMeanNone) {
  json j = minimal("gemma2");
  j["attn_logit_softcapping"] = nullptr;
  j["final_logit_softcapping"] = nullptr;
  const ModelSpec s = parse_gemma_config(j, "g2");
  EXPECT_EQ(s.layers[0].attn_softcap, 0.0f);
  EXPECT_EQ(s.final_softcap, 0.0f);
}

TEST(GemmaConfig, Gemma3IgnoresAttentionSoftcapLikeTransformers) {
  json j = minimal("gemma3_text");
  j["attn_logit_softcapping"] = 3.0;
  j["final_logit_softcapping"] = 4.0;
  const ModelSpec s = parse_gemma_config(j, "g3");
  EXPECT_EQ(s.layers[0].attn_softcap, 0.0f);
  EXPECT_FLOAT_EQ(s.final_softcap, 4.0f);
}

TEST(GemmaConfig, Gemma3MultimodalReadsTextConfig) {
  json text = minimal("gemma3_text");
  text.erase("model_type");
  text["sliding_window"] = 16;
  text["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  text["rope_local_base_freq"] = 5000.0;
  const json j{{"model_type", "gemma3"}, {"text_config", text}, {"eos_token_id", json::array({1, 106})}};
  const ModelSpec s = parse_gemma_config(j, "mm");
  EXPECT_EQ(s.family, GemmaFamily::Gemma3);
  EXPECT_EQ(s.hidden_size, 32);
  EXPECT_EQ(s.layers[0].window, 16);
  EXPECT_FLOAT_EQ(s.layers[0].rope.theta, 5000.0f);
  EXPECT_EQ(s.layers[0].rope.scaling.kind, RopeScaling::Kind::None);  // local layers are never scaled
  EXPECT_FLOAT_EQ(s.layers[5].rope.theta, 1e6f);
  EXPECT_EQ(s.layers[5].rope.scaling.kind, RopeScaling::Kind::Linear);
  EXPECT_FLOAT_EQ(s.layers[5].rope.scaling.factor, 8.0f);
  EXPECT_EQ(s.eos_token_ids, (std::vector<int>{1, 106}));
  // Images attend to themselves, a sliding window bounding that (spec §4.5); text-only gemma3_text not.
  EXPECT_TRUE(s.bidirectional_vision);
  EXPECT_TRUE(s.layers[0].window_limits_blocks);
  EXPECT_FALSE(parse_gemma_config(minimal("gemma3_text"), "t").bidirectional_vision);
}

// The SigLIP tower's config (spec §4.5): the fixture's shapes, Gemma 3's token-id defaults, and
// shapes that cannot pool to the token count refused.
TEST(GemmaConfig, Gemma3SiglipVisionConfig) {
  const std::string path = test::shared_fixtures() + "/hf/gemma3-siglip-pub/config.json";
  const json config = read_json_file(path);
  const MediaSpec m = parse_media_config(config, path);
  ASSERT_TRUE(m.siglip);
  EXPECT_FALSE(m.vision || m.audio);
  EXPECT_EQ(m.siglip->image_size, 64);
  EXPECT_EQ(m.siglip->patch_size, 8);
  EXPECT_EQ(m.siglip->patches_per_side(), 8);
  EXPECT_EQ(m.siglip->hidden, 32);
  EXPECT_EQ(m.siglip->layers, 2);
  EXPECT_EQ(m.siglip->tokens_per_image, 16);
  EXPECT_EQ(m.image_token, 500);
  EXPECT_EQ(m.boi_token, 502);
  EXPECT_EQ(m.eoi_token, 503);
  EXPECT_EQ(m.image_text_before, "\n\n");
  json bad = config;
  bad["mm_tokens_per_image"] = 15;  // not a square
  EXPECT_THROW(parse_media_config(bad, "cfg.json"), Error);
  bad["mm_tokens_per_image"] = 9;   // 3 x 3 does not divide the 8 x 8 patch grid
  EXPECT_THROW(parse_media_config(bad, "cfg.json"), Error);
  json defaults{{"model_type", "gemma3"}, {"vision_config", json::object()}};
  const MediaSpec d = parse_media_config(defaults, "cfg.json");
  ASSERT_TRUE(d.siglip);
  EXPECT_EQ(d.siglip->image_size, 896);
  EXPECT_EQ(d.siglip->tokens_per_image, 256);
  EXPECT_EQ(d.image_token, 262144);
}

// Gemma 4's vision tower config (spec §6.6): Gemma4VisionConfig's defaults (the E2B / E4B tower),
// the keys read, and settings gemrt cannot run refused naming the key.
// Gemma 4's audio tower (spec §6.7): Gemma4AudioConfig's defaults for an empty audio_config, the
// keys read, and bad values refused naming the key.
TEST(GemmaConfig, Gemma4AudioTowerConfig) {
  json config{{"model_type", "gemma4"}, {"text_config", {{"num_hidden_layers", 2}}}, {"audio_config", json::object()}};
  MediaSpec m = parse_media_config(config, "cfg.json");
  ASSERT_TRUE(m.gemma4_audio);
  EXPECT_FALSE(m.gemma4_vision || m.audio);
  const Gemma4AudioSpec& d = *m.gemma4_audio;
  EXPECT_EQ(d.hidden, 1024);
  EXPECT_EQ(d.output_dims, 1536);
  EXPECT_EQ(d.heads, 8);
  EXPECT_EQ(d.head_dim(), 128);
  EXPECT_EQ(d.layers, 12);
  EXPECT_EQ(d.conv_channels0, 128);
  EXPECT_EQ(d.conv_channels1, 32);
  EXPECT_EQ(d.sub_freq(), 32);
  EXPECT_EQ(d.conv_kernel, 5);
  EXPECT_EQ(d.chunk, 12);
  EXPECT_EQ(d.context_left, 13);
  EXPECT_EQ(d.context_right, 0);
  EXPECT_FLOAT_EQ(d.logit_cap, 50.0f);
  EXPECT_FLOAT_EQ(d.invalid_logit, -1e9f);
  EXPECT_FLOAT_EQ(d.residual_weight, 0.5f);
  EXPECT_TRUE(d.clipped_linears);
  config["audio_config"] = {{"hidden_size", 48}, {"num_attention_heads", 3}, {"subsampling_conv_channels", {16, 8}},
                            {"attention_context_right", 2}, {"use_clipped_linears", false}};
  m = parse_media_config(config, "cfg.json");
  EXPECT_EQ(m.gemma4_audio->head_dim(), 16);
  EXPECT_EQ(m.gemma4_audio->conv_channels1, 8);
  EXPECT_EQ(m.gemma4_audio->context_right, 2);
  EXPECT_FALSE(m.gemma4_audio->clipped_linears);
  const auto refused = [&](const json& audio, const std::string& needle) {
    json bad = config;
    bad["audio_config"] = audio;
    const std::string msg = test::error_message([&] { parse_media_config(bad, "cfg.json"); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
  };
  refused({{"hidden_size", 50}, {"num_attention_heads", 3}}, "hidden_size 50 is not a multiple of 3 heads");
  refused({{"subsampling_conv_channels", {16}}}, "'subsampling_conv_channels' must be two positive integers");
  refused({{"hidden_act", "gelu"}}, "hidden_act 'gelu' is not supported");
  refused({{"attention_context_right", -1}}, "'attention_context_right' must be a non-negative integer");
  refused({{"attention_logit_cap", 0}}, "attention_logit_cap must be positive");
  refused({{"use_clipped_linears", "yes"}}, "'use_clipped_linears' must be true or false");
}

TEST(GemmaConfig, Gemma4VisionTowerConfig) {
  json config{{"model_type", "gemma4"},
              {"text_config", {{"num_hidden_layers", 2}}},
              {"vision_config", json::object()},
              {"image_token_id", 7},
              {"audio_config", json::object()}};
  MediaSpec m = parse_media_config(config, "cfg.json");
  ASSERT_TRUE(m.gemma4_vision);
  EXPECT_FALSE(m.vision || m.siglip || m.audio);  // audio_config is the audio tower (gemma4_audio), not the embedder
  const Gemma4VisionSpec& d = *m.gemma4_vision;
  EXPECT_EQ(d.hidden, 768);
  EXPECT_EQ(d.intermediate, 3072);
  EXPECT_EQ(d.layers, 16);
  EXPECT_EQ(d.heads, 12);
  EXPECT_EQ(d.kv_heads, 12);
  EXPECT_EQ(d.head_dim, 64);
  EXPECT_EQ(d.patch_size, 16);
  EXPECT_EQ(d.patch_values(), 768);
  EXPECT_EQ(d.pooling, 3);
  EXPECT_EQ(d.posemb_size, 10240);
  EXPECT_FLOAT_EQ(d.rope_theta, 100.0f);
  EXPECT_FALSE(d.clipped_linears || d.standardize);
  EXPECT_EQ(m.image_token, 7);
  EXPECT_EQ(m.boi_token, 255999);
  EXPECT_EQ(m.eoa_token, 258883);
  config["vision_config"] = {{"hidden_size", 48}, {"num_attention_heads", 3}, {"num_key_value_heads", 1},
                             {"head_dim", 8}, {"use_clipped_linears", true}, {"standardize", true},
                             {"rope_parameters", {{"rope_type", "axial"}, {"rope_theta", 1000.0}}},
                             {"position_embedding_size", 64}, {"pooling_kernel_size", 2}, {"patch_size", 8}};
  m = parse_media_config(config, "cfg.json");
  EXPECT_EQ(m.gemma4_vision->kv_heads, 1);
  EXPECT_EQ(m.gemma4_vision->head_dim, 8);
  EXPECT_TRUE(m.gemma4_vision->clipped_linears && m.gemma4_vision->standardize);
  EXPECT_FLOAT_EQ(m.gemma4_vision->rope_theta, 1000.0f);
  EXPECT_EQ(m.gemma4_vision->patch_values(), 192);
  const auto refused = [&](const char* key, const json& value, const std::string& needle) {
    json bad = config;
    bad["vision_config"][key] = value;
    const std::string msg = test::error_message([&] { parse_media_config(bad, "cfg.json"); });
    EXPECT_NE(msg.find(needle), std::string::npos) << key << ": " << msg;
  };
  refused("rope_parameters", {{"rope_type", "default"}, {"rope_theta", 100.0}}, "cfg.json (vision_config): rope_parameters.rope_type 'default'");
  refused("head_dim", 6, "head_dim 6 is not a multiple of 4");
  refused("num_key_value_heads", 2, "not a multiple of num_key_value_heads 2");
  refused("hidden_activation", "silu", "hidden_activation 'silu'");
  refused("standardize", "yes", "'standardize' must be true or false");
  refused("pooling_kernel_size", 0, "'pooling_kernel_size' must be a positive integer");
  // A gemma4 config without a vision_config has no tower; a text-only one neither.
  config.erase("vision_config");
  EXPECT_FALSE(parse_media_config(config, "cfg.json").gemma4_vision);
}

// Gemma4Model's masks with use_bidirectional_attention = "vision" (spec §6.5, transformers'
// create_masks_for_vision_model): an image block on the sliding layers only, bounded by their
// window; full layers causal. The unified model's block is on every layer, after the window.
TEST(GemmaConfig, Gemma4ImageBlocksOnSlidingLayersOnly) {
  json text{{"num_hidden_layers", 6}, {"use_bidirectional_attention", "vision"}, {"sliding_window", 8}};
  const ModelSpec s = parse_gemma_config(json{{"model_type", "gemma4"}, {"text_config", text}}, "cfg.json");
  ASSERT_TRUE(s.bidirectional_vision);
  for (const LayerSpec& l : s.layers) {
    EXPECT_EQ(l.image_blocks, l.kind == LayerKind::Sliding);
    EXPECT_TRUE(l.window_limits_blocks);
  }
  EXPECT_EQ(s.layers[5].kind, LayerKind::Full);
  const ModelSpec u = parse_gemma_config(read_json_file(test::shared_fixtures() + "/hf/gemma4u-pub/config.json"), "u");
  for (const LayerSpec& l : u.layers) {
    EXPECT_TRUE(l.image_blocks);
    EXPECT_FALSE(l.window_limits_blocks);
  }
  text.erase("use_bidirectional_attention");
  for (const LayerSpec& l : parse_gemma_config(json{{"model_type", "gemma4"}, {"text_config", text}}, "c").layers)
    EXPECT_FALSE(l.image_blocks);
}

TEST(GemmaConfig, SlidingWindowPatternKey) {
  json j = minimal("gemma3_text");
  j["sliding_window_pattern"] = 4;
  const ModelSpec s = parse_gemma_config(j, "g3");
  EXPECT_EQ(s.layers[3].kind, LayerKind::Full);
  EXPECT_EQ(s.layers[5].kind, LayerKind::Sliding);
  EXPECT_EQ(s.layers[7].kind, LayerKind::Full);
}

// Gemma 4 per-layer specs (spec §6.2): E2B's KV sharing and double-wide MLP, 31B's k=v full
// layers, and the fixture's per_layer_config override.
TEST(GemmaConfig, Gemma4PublishedShapesPerLayer) {
  const std::string configs = test::test_data() + "/../../bench/configs/";
  const ModelSpec e2b = load_gemma_config(configs + "gemma4-e2b.json");
  EXPECT_EQ(e2b.family, GemmaFamily::Gemma4);
  ASSERT_EQ(e2b.n_layers(), 35);
  EXPECT_EQ(e2b.per_layer_input, 256);
  const LayerSpec& s14 = e2b.layers[14];
  EXPECT_EQ(s14.kind, LayerKind::Full);
  EXPECT_EQ(s14.head_dim, 512);
  EXPECT_FLOAT_EQ(s14.rope.rotary_fraction, 0.25f);
  EXPECT_EQ(s14.intermediate_size, 6144);
  EXPECT_EQ(e2b.layers[15].kv_source, 13);  // sliding: the last sliding layer before 15
  EXPECT_EQ(e2b.layers[19].kv_source, 14);  // full
  EXPECT_EQ(e2b.layers[15].intermediate_size, 12288);  // double-wide on the shared layers
  EXPECT_EQ(e2b.layers[15].kv_slot, e2b.layers[13].kv_slot);
  EXPECT_FALSE(e2b.layers[13].appends_kv);  // read by later layers: the last reader appends
  EXPECT_TRUE(e2b.layers[34].appends_kv);   // layer 34 is full: the last reader of layer 14's slot
  EXPECT_TRUE(e2b.layers[33].appends_kv);   // the last reader of layer 13's slot
  EXPECT_FALSE(e2b.layers[15].appends_kv);
  EXPECT_FLOAT_EQ(e2b.layers[0].attn_scale, 1.0f);
  EXPECT_FLOAT_EQ(e2b.layers[0].norm_offset, 0.0f);

  const ModelSpec big = load_gemma_config(configs + "gemma4-31b.json");
  const LayerSpec& full = big.layers[5];
  EXPECT_EQ(full.kind, LayerKind::Full);
  EXPECT_TRUE(full.k_eq_v);
  EXPECT_EQ(full.n_kv_heads, 4);
  EXPECT_EQ(full.head_dim, 512);
  EXPECT_EQ(big.layers[0].n_kv_heads, 16);
  EXPECT_EQ(big.layers[0].window, 1024);
  EXPECT_FALSE(big.layers[0].k_eq_v);

  const ModelSpec moe = load_gemma_config(configs + "gemma4-26b-a4b.json");
  EXPECT_EQ(moe.layers[0].n_experts, 128);
  EXPECT_EQ(moe.layers[0].top_k_experts, 8);
  EXPECT_EQ(moe.layers[0].expert_intermediate, 704);

  const ModelSpec dense = load_gemma_config(test::shared_fixtures() + "/hf/gemma4-dense-pub");
  EXPECT_EQ(dense.layers[5].head_dim, 32);
  EXPECT_EQ(dense.layers[5].n_kv_heads, 1);
  EXPECT_EQ(dense.layers[4].head_dim, 16);
}

// Config-only counts: gemrt's tensor list of each published Gemma 3n and Gemma 4 shape holds exactly the
// elements transformers builds for it (tests/data/config_counts.json, counted on the meta
// device by bench/configs/make_configs.py), and the KV bytes per token follow the shapes.
TEST(GemmaConfig, ConfigOnlyCountsMatchTransformers) {
  const json counts = read_json_file(test::test_data() + "/config_counts.json");
  int checked = 0;
  for (const char* name :
       {"gemma3n-e2b", "gemma3n-e4b", "gemma4-e2b", "gemma4-e4b", "gemma4-26b-a4b", "gemma4-31b", "gemma4-12b-text"}) {
    SCOPED_TRACE(name);
    const ModelSpec s = load_gemma_config(test::test_data() + "/../../bench/configs/" + name + ".json");
    EXPECT_EQ(gemma_checkpoint_elements(s), counts.at(name).at("checkpoint_elements").get<int64_t>());
    ++checked;
  }
  EXPECT_EQ(checked, 7);
  // E4B: 24 layers own KV; 4 of them full (5, 11, 17, 23): 2 kv heads x 512, the other 20 x 256.
  const KvBytesPerToken kv = kv_bytes_per_token(load_gemma_config(test::test_data() + "/../../bench/configs/gemma4-e4b.json"), 2);
  EXPECT_EQ(kv.full, 4 * 2 * 2 * 512 * 2);
  EXPECT_EQ(kv.sliding, 20 * 2 * 2 * 256 * 2);
}

// Gemma 3n E2B / E4B (spec §5.1-5.3): 4 sliding : 1 full, KV shared by the last 10 / 15 layers
// from layers 18 (sliding) and 19 (full), sparsity on layers 0-9, AltUp and LAuReL everywhere,
// scale-1 norms and attention scale 1.
TEST(GemmaConfig, Gemma3nPublishedShapesPerLayer) {
  const std::string configs = test::test_data() + "/../../bench/configs/";
  for (const char* name : {"gemma3n-e2b", "gemma3n-e4b"}) {
    SCOPED_TRACE(name);
    const ModelSpec s = load_gemma_config(configs + name + ".json");
    const bool e2b = std::string(name) == "gemma3n-e2b";
    EXPECT_EQ(s.family, GemmaFamily::Gemma3n);
    ASSERT_EQ(s.n_layers(), e2b ? 30 : 35);
    EXPECT_EQ(s.vocab_size, 262400);
    EXPECT_EQ(s.ple_vocab, 262144);
    EXPECT_EQ(s.per_layer_input, 256);
    EXPECT_EQ(s.altup_inputs, 4);
    EXPECT_EQ(s.altup_active, 0);
    EXPECT_FLOAT_EQ(s.final_softcap, 30.0f);
    for (int i = 0; i < s.n_layers(); ++i) {
      const LayerSpec& l = s.layers[static_cast<size_t>(i)];
      SCOPED_TRACE(i);
      EXPECT_EQ(l.kind, (i + 1) % 5 == 0 ? LayerKind::Full : LayerKind::Sliding);
      EXPECT_EQ(l.window, l.kind == LayerKind::Sliding ? 512 : 0);
      EXPECT_FLOAT_EQ(l.rope.theta, l.kind == LayerKind::Sliding ? 1e4f : 1e6f);
      EXPECT_EQ(l.intermediate_size, e2b ? 8192 : 16384);
      EXPECT_EQ(l.gaussian_topk, i < 10);
      if (i < 10) {
        EXPECT_EQ(l.gaussian_topk_z, 1.6448535919189453f);
      }
      EXPECT_EQ(l.kv_source, i < 20 ? -1 : l.kind == LayerKind::Sliding ? 18 : 19);
      EXPECT_EQ(l.laurel_rank, 64);
      EXPECT_EQ(l.altup_inputs, 4);
      EXPECT_TRUE(l.altup_correct_scale && l.qk_norm && l.v_norm && l.sandwich_norms);
      EXPECT_FALSE(l.layer_scalar || l.k_eq_v);
      EXPECT_FLOAT_EQ(l.attn_scale, 1.0f);
      EXPECT_FLOAT_EQ(l.norm_offset, 0.0f);
      EXPECT_EQ(l.n_heads, 8);
      EXPECT_EQ(l.n_kv_heads, 2);
      EXPECT_EQ(l.head_dim, 256);
    }
  }
}

// Gemma 3n keys: intermediate_size as a list, activation_sparsity_pattern, AltUp, the nested
// multimodal config; and errors that name the key.
// Gemma 4 unified (spec §7.1): the text side is a Gemma 4 text model with its own defaults (window
// 1024, no per-layer embeddings), the media side the embedders' shapes and token ids.
TEST(GemmaConfig, Gemma4UnifiedFixtureTextAndMedia) {
  const std::string path = test::shared_fixtures() + "/hf/gemma4u-pub/config.json";
  const json config = read_json_file(path);
  const ModelSpec s = parse_gemma_config(config, path);
  EXPECT_EQ(s.family, GemmaFamily::Gemma4);
  ASSERT_EQ(s.n_layers(), 6);
  EXPECT_EQ(s.per_layer_input, 0);
  EXPECT_EQ(s.layers[0].window, 8);
  EXPECT_EQ(s.layers[5].kind, LayerKind::Full);
  EXPECT_EQ(s.layers[5].head_dim, 32);
  EXPECT_FLOAT_EQ(s.final_softcap, 5.0f);
  const MediaSpec m = parse_media_config(config, path);
  ASSERT_TRUE(m.vision && m.audio);
  EXPECT_EQ(m.vision->patch_size, 4);
  EXPECT_EQ(m.vision->pooling, 2);
  EXPECT_EQ(m.vision->patch_values(), 192);  // pixel_values [12, 192] in reference.safetensors
  EXPECT_EQ(m.vision->embed_dim, 48);
  EXPECT_EQ(m.vision->posemb_size, 32);
  EXPECT_EQ(m.audio->embed_dim, 40);
  EXPECT_EQ(m.image_token, 500);
  EXPECT_EQ(m.audio_token, 501);
  EXPECT_EQ(m.boi_token, 502);
  EXPECT_EQ(m.eoi_token, 503);
  EXPECT_EQ(m.boa_token, 504);
  EXPECT_EQ(m.eoa_token, 505);  // eoa_token_index
  EXPECT_EQ(m.video_token, 506);

  // Defaults: Gemma4UnifiedTextConfig's window and no PLE; the released 12B's media shapes.
  json minimal_unified = {{"model_type", "gemma4_unified"},
                          {"text_config", {{"model_type", "gemma4_unified_text"}, {"num_hidden_layers", 6}}},
                          {"vision_config", json::object()},
                          {"audio_config", json::object()}};
  const ModelSpec d = parse_gemma_config(minimal_unified, "cfg.json");
  EXPECT_EQ(d.layers[0].window, 1024);
  EXPECT_EQ(d.per_layer_input, 0);
  // use_bidirectional_attention: "vision" by default for the unified model, none when null (as
  // HF reads None), never on Gemma 4's own default; anything else is refused.
  EXPECT_TRUE(s.bidirectional_vision);
  EXPECT_TRUE(d.bidirectional_vision);
  EXPECT_FALSE(s.layers[0].window_limits_blocks);
  json no_bidi = minimal_unified;
  no_bidi["text_config"]["use_bidirectional_attention"] = nullptr;
  EXPECT_FALSE(parse_gemma_config(no_bidi, "cfg.json").bidirectional_vision);
  no_bidi["text_config"]["use_bidirectional_attention"] = "images";
  EXPECT_THROW(parse_gemma_config(no_bidi, "cfg.json"), Error);
  const MediaSpec dm = parse_media_config(minimal_unified, "cfg.json");
  EXPECT_EQ(dm.vision->patch_values(), 6912);
  EXPECT_EQ(dm.vision->embed_dim, 3840);
  EXPECT_EQ(dm.audio->embed_dim, 640);
  EXPECT_EQ(dm.image_token, 258880);
  EXPECT_FALSE(parse_media_config(read_json_file(test::shared_fixtures() + "/hf/gemma4-e2b-pub/config.json"), "x").vision);

  minimal_unified["vision_config"]["output_proj_dims"] = 100;
  try {
    parse_media_config(minimal_unified, "cfg.json");
    ADD_FAILURE() << "output_proj_dims != mm_embed_dim accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json (vision_config): output_proj_dims"), std::string::npos) << e.what();
  }
}

TEST(GemmaConfig, Gemma3nKeys) {
  json j = minimal("gemma3n_text");
  j["num_hidden_layers"] = 3;
  j["num_attention_heads"] = 2;
  j["num_key_value_heads"] = 1;
  j["head_dim"] = 8;
  j["hidden_size"] = 16;
  j["intermediate_size"] = {32, 48, 64};
  j["activation_sparsity_pattern"] = {0.0, 0.5, 0.95};
  j["num_kv_shared_layers"] = 1;
  j["altup_num_inputs"] = 3;
  j["altup_active_idx"] = 2;
  j["altup_correct_scale"] = false;
  j["laurel_rank"] = 4;
  j["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention"};
  const ModelSpec s = parse_gemma_config(j, "cfg.json");
  EXPECT_EQ(s.layers[0].intermediate_size, 32);
  EXPECT_EQ(s.layers[2].intermediate_size, 64);
  EXPECT_FALSE(s.layers[0].gaussian_topk);
  EXPECT_TRUE(s.layers[1].gaussian_topk);  // p = 0.5: z = 0, a cutoff at the mean
  EXPECT_EQ(s.layers[1].gaussian_topk_z, 0.0f);
  EXPECT_EQ(s.layers[2].kv_source, 0);
  EXPECT_EQ(s.altup_inputs, 3);
  EXPECT_EQ(s.layers[1].altup_active, 2);
  EXPECT_FALSE(s.layers[1].altup_correct_scale);
  EXPECT_EQ(s.layers[1].laurel_rank, 4);
  // More shared layers than layers: HF shares nothing (its first shared index is not > 0).
  j["num_kv_shared_layers"] = 15;
  EXPECT_EQ(parse_gemma_config(j, "cfg.json").layers[2].kv_source, -1);
  const json nested = {{"model_type", "gemma3n"}, {"text_config", j}};
  EXPECT_EQ(parse_gemma_config(nested, "cfg.json").layers[2].intermediate_size, 64);

  json bad = j;
  bad["intermediate_size"] = {32, 48};
  EXPECT_NE(error_of(bad).find("'intermediate_size' has 2 entries"), std::string::npos) << error_of(bad);
  bad = j;
  bad["activation_sparsity_pattern"] = {0.0, 1.0, 0.0};
  EXPECT_NE(error_of(bad).find("activation_sparsity_pattern[1]"), std::string::npos) << error_of(bad);
  bad = j;
  bad["altup_active_idx"] = 3;
  EXPECT_NE(error_of(bad).find("altup_active_idx"), std::string::npos) << error_of(bad);
}

TEST(GemmaConfigErrors, UnsupportedModelType) {
  const std::string e = error_of(minimal("llama"));
  EXPECT_NE(e.find("unsupported model_type 'llama'"), std::string::npos) << e;
  EXPECT_NE(e.find("cfg.json"), std::string::npos) << e;
}

TEST(GemmaConfigErrors, MissingModelType) {
  json j = minimal("gemma");
  j.erase("model_type");
  EXPECT_NE(error_of(j).find("model_type"), std::string::npos);
}

TEST(GemmaConfigErrors, BadValuesNameTheKey) {
  json j = minimal("gemma");
  j["num_key_value_heads"] = 3;
  EXPECT_NE(error_of(j).find("num_key_value_heads"), std::string::npos);
  j = minimal("gemma");
  j["hidden_size"] = "big";
  EXPECT_NE(error_of(j).find("'hidden_size' must be an integer"), std::string::npos);
  j = minimal("gemma2");
  j["layer_types"] = json::array({"sliding_attention"});
  EXPECT_NE(error_of(j).find("layer_types"), std::string::npos);
  j = minimal("gemma3_text");
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 1e4}};
  EXPECT_NE(error_of(j).find("unsupported RoPE type 'yarn'"), std::string::npos);
  j = minimal("gemma");
  j["attention_bias"] = true;
  EXPECT_NE(error_of(j).find("attention_bias"), std::string::npos);
  j = minimal("gemma");
  j["hidden_act"] = "relu";
  EXPECT_NE(error_of(j).find("unsupported activation 'relu'"), std::string::npos);
}

TEST(GemmaConfigErrors, MissingFileNamesIt) {
  try {
    load_gemma_config("/nonexistent/model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model/config.json"), std::string::npos) << e.what();
  }
}

TEST(GemmaConfigErrors, InvalidJsonNamesTheFile) {
  test::TempDir dir;
  test::write_text(dir.file("config.json"), "{\"model_type\": \"gemma\",");
  try {
    load_gemma_config(dir.path().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gemrt
