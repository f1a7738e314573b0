// The weight map: names, prefixes, and shape/dtype checks against the config.
#include "gemrt/model/gemma/weights.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/media_weights.h"
#include "gemrt/model/gemma/weight_names.h"

namespace gemrt {
namespace {

// An in-memory TensorStore of zero-filled tensors.
class FakeStore final : public TensorStore {
 public:
  void add(const std::string& name, Shape shape, DType dtype = DType::F32) {
    HostTensor t{name, dtype, shape, {}};
    t.bytes.resize(static_cast<size_t>(dtype_bytes(dtype, shape.numel())));
    tensors_[name] = std::move(t);
    views_[name] = tensors_[name].view();
  }
  void erase(const std::string& name) {
    tensors_.erase(name);
    views_.erase(name);
  }
  const TensorView* find(std::string_view name) const override {
    auto it = views_.find(std::string(name));
    return it == views_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> n;
    for (const auto& [k, v] : views_) n.push_back(k);
    return n;
  }
  const std::string& source() const override { return source_; }

 private:
  std::string source_ = "fake.safetensors";
  std::map<std::string, HostTensor> tensors_;
  std::map<std::string, TensorView> views_;
};

ModelSpec tiny_spec(const std::string& model_type) {
  return parse_gemma_config(nlohmann::json{{"model_type", model_type}, {"hidden_size", 8}, {"num_hidden_layers", 2},
                                           {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 4},
                                           {"intermediate_size", 12}, {"vocab_size", 10}},
                            "cfg");
}

// Every tensor a checkpoint of `spec` holds, under `prefix`.
FakeStore complete_store(const ModelSpec& spec, const std::string& prefix) {
  FakeStore s;
  s.add(prefix + "embed_tokens.weight", Shape{10, 8});
  s.add(prefix + "norm.weight", Shape{8});
  for (int i = 0; i < spec.n_layers(); ++i) {
    const std::string L = prefix + "layers." + std::to_string(i) + ".";
    s.add(L + "input_layernorm.weight", Shape{8});
    s.add(L + "post_attention_layernorm.weight", Shape{8});
    s.add(L + "self_attn.q_proj.weight", Shape{8, 8}, DType::BF16);
    s.add(L + "self_attn.k_proj.weight", Shape{4, 8}, DType::F16);
    s.add(L + "self_attn.v_proj.weight", Shape{4, 8});
    s.add(L + "self_attn.o_proj.weight", Shape{8, 8});
    s.add(L + "mlp.gate_proj.weight", Shape{12, 8});
    s.add(L + "mlp.up_proj.weight", Shape{12, 8});
    s.add(L + "mlp.down_proj.weight", Shape{8, 12});
    if (spec.family != GemmaFamily::Gemma1) {
      s.add(L + "pre_feedforward_layernorm.weight", Shape{8});
      s.add(L + "post_feedforward_layernorm.weight", Shape{8});
    }
    if (spec.family == GemmaFamily::Gemma3) {
      s.add(L + "self_attn.q_norm.weight", Shape{4});
      s.add(L + "self_attn.k_norm.weight", Shape{4});
    }
  }
  return s;
}

std::string bind_error(const ModelSpec& spec, const TensorStore& store) {
  try {
    bind_gemma_weights(spec, store);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GemmaWeights, BindsEveryFamilyAndTiesTheHead) {
  for (const char* type : {"gemma", "gemma2", "gemma3_text"}) {
    const ModelSpec spec = tiny_spec(type);
    const FakeStore store = complete_store(spec, "model.");
    const GemmaWeights w = bind_gemma_weights(spec, store);
    EXPECT_EQ(w.lm_head.data, w.embed.data) << type;
    ASSERT_EQ(w.layers.size(), 2u);
    EXPECT_EQ(w.layers[1].q.dtype, DType::BF16);  // stored dtype kept, not converted
    EXPECT_EQ(w.layers[1].q_norm.has_value(), spec.family == GemmaFamily::Gemma3) << type;
    EXPECT_EQ(w.layers[1].ffn_out_norm.has_value(), spec.family != GemmaFamily::Gemma1) << type;
  }
}

TEST(GemmaWeights, Gemma1PreMlpNormIsPostAttentionLayernorm) {
  const ModelSpec spec = tiny_spec("gemma");
  const FakeStore store = complete_store(spec, "model.");
  const GemmaWeights w = bind_gemma_weights(spec, store);
  EXPECT_EQ(w.layers[0].ffn_norm.name, "model.layers.0.post_attention_layernorm.weight");
  EXPECT_FALSE(w.layers[0].attn_out_norm.has_value());
}

TEST(GemmaWeights, AcceptsMultimodalPrefixes) {
  for (const char* prefix : {"model.language_model.", "language_model.model."}) {
    const ModelSpec spec = tiny_spec("gemma3_text");
    const FakeStore store = complete_store(spec, prefix);
    EXPECT_EQ(HfWeightNames::detect(store).prefix(), prefix);
    EXPECT_NO_THROW(bind_gemma_weights(spec, store)) << prefix;
  }
}

// Gemma 4 unified media embedders (spec §7.6): both spellings of the vision tensors, and errors
// that name every spelling looked for.
TEST(MediaWeights, BindsBothSpellingsOfTheVisionEmbedder) {
  MediaSpec spec;
  spec.vision = VisionEmbedderSpec{.patch_size = 2, .pooling = 2, .embed_dim = 6, .posemb_size = 5, .output_proj_dims = 6};
  spec.audio = AudioEmbedderSpec{.embed_dim = 7};
  const int64_t hidden = 8, p = spec.vision->patch_values();
  ASSERT_EQ(p, 48);
  for (const std::string prefix : {"model.vision_embedder.", "model.embed_vision."}) {
    FakeStore s;
    for (const char* ln : {"patch_ln1", "patch_ln2", "pos_norm"}) {
      const int64_t n = std::string(ln) == "patch_ln1" ? p : 6;
      s.add(prefix + ln + ".weight", Shape{n});
      s.add(prefix + ln + ".bias", Shape{n});
    }
    s.add(prefix + "patch_dense.weight", Shape{6, p}, DType::BF16);
    s.add(prefix + "patch_dense.bias", Shape{6});
    s.add(prefix + "pos_embedding", Shape{5, 2, 6});
    s.add(prefix == "model.embed_vision." ? "model.embed_vision.multimodal_embedder.embedding_projection.weight"
                                          : "model.embed_vision.embedding_projection.weight",
          Shape{8, 6});
    s.add("model.embed_audio.embedding_projection.weight", Shape{8, 7});
    const MediaWeights w = bind_media_weights(spec, hidden, s);
    ASSERT_TRUE(w.vision && w.audio) << prefix;
    EXPECT_EQ(w.vision->dense_weight.dtype, DType::BF16);
    EXPECT_EQ(w.vision->pos_embedding.shape, (Shape{5, 2, 6}));
    EXPECT_EQ(w.audio->projection.shape, (Shape{8, 7}));

    s.erase(prefix + "pos_embedding");
    try {
      bind_media_weights(spec, hidden, s);
      ADD_FAILURE() << "a missing pos_embedding was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'model.vision_embedder.pos_embedding', 'model.embed_vision.pos_embedding'"), std::string::npos)
          << msg;
    }
    s.add(prefix + "pos_embedding", Shape{4, 2, 6});
    try {
      bind_media_weights(spec, hidden, s);
      ADD_FAILURE() << "a pos_embedding of the wrong shape was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("[5, 2, 6]"), std::string::npos) << e.what();
    }
  }
}

TEST(GemmaWeightsErrors, MissingTensorIsNamed) {
  const ModelSpec spec = tiny_spec("gemma2");
  FakeStore store = complete_store(spec, "model.");
  store.erase("model.layers.1.pre_feedforward_layernorm.weight");
  const std::string e = bind_error(spec, store);
  EXPECT_NE(e.find("fake.safetensors: missing tensor 'model.layers.1.pre_feedforward_layernorm.weight'"),
            std::string::npos)
      << e;
}

TEST(GemmaWeightsErrors, MissingEmbeddingIsNamed) {
  const ModelSpec spec = tiny_spec("gemma");
  FakeStore store = complete_store(spec, "model.");
  store.erase("model.embed_tokens.weight");
  EXPECT_NE(bind_error(spec, store).find("model.embed_tokens.weight"), std::string::npos);
}

TEST(GemmaWeightsErrors, ShapeDisagreeingWithConfigIsNamed) {
  const ModelSpec spec = tiny_spec("gemma3_text");
  FakeStore store = complete_store(spec, "model.");
  store.add("model.layers.0.mlp.up_proj.weight", Shape{13, 8});
  const std::string e = bind_error(spec, store);
  EXPECT_NE(e.find("'model.layers.0.mlp.up_proj.weight' has shape [13, 8] but config.json implies [12, 8]"),
            std::string::npos)
      << e;
}

TEST(GemmaWeightsErrors, NonFloatDtypeIsRejected) {
  const ModelSpec spec = tiny_spec("gemma");
  FakeStore store = complete_store(spec, "model.");
  store.add("model.norm.weight", Shape{8}, DType::I32);
  EXPECT_NE(bind_error(spec, store).find("'model.norm.weight' has dtype I32"), std::string::npos);
}

TEST(GemmaWeightsErrors, UntiedHeadMustExist) {
  ModelSpec spec = tiny_spec("gemma");
  spec.tie_word_embeddings = false;
  FakeStore store = complete_store(spec, "model.");
  EXPECT_NE(bind_error(spec, store).find("lm_head.weight"), std::string::npos);
  store.add("lm_head.weight", Shape{10, 8});
  const GemmaWeights w = bind_gemma_weights(spec, store);
  EXPECT_NE(w.lm_head.data, w.embed.data);
}

}  // namespace
}  // namespace gemrt
