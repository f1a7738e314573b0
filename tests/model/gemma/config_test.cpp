// config.json -> ModelSpec: per-layer accessors for every supported model_type, defaults, errors.
#include "gemrt/model/gemma/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "gemrt/core/error.h"
#include "test_util.h"

namespace gemrt {
namespace {

using nlohmann::json;

std::string error_of(const json& j) {
  try {
    parse_gemma_config(j, "cfg.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
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
}

TEST(GemmaConfig, SlidingWindowPatternKey) {
  json j = minimal("gemma3_text");
  j["sliding_window_pattern"] = 4;
  const ModelSpec s = parse_gemma_config(j, "g3");
  EXPECT_EQ(s.layers[3].kind, LayerKind::Full);
  EXPECT_EQ(s.layers[5].kind, LayerKind::Sliding);
  EXPECT_EQ(s.layers[7].kind, LayerKind::Full);
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
