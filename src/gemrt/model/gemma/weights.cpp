#include "gemrt/model/gemma/weights.h"

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/weight_names.h"

namespace gemrt {
namespace {

class Binder {
 public:
  explicit Binder(const TensorStore& store) : store_(store) {}

  TensorView bind(const std::string& name, const Shape& expected) const {
    const TensorView& t = store_.get(name);
    if (t.shape != expected)
      fail(store_.source(), ": tensor '", name, "' has shape ", t.shape.to_string(), " but config.json implies ",
           expected.to_string());
    if (!dtype_info(t.dtype).is_float)
      fail(store_.source(), ": tensor '", name, "' has dtype ", dtype_name(t.dtype), ", expected F32, F16 or BF16");
    return t;
  }

 private:
  const TensorStore& store_;
};

}  // namespace

GemmaWeights bind_gemma_weights(const ModelSpec& spec, const TensorStore& store) {
  const HfWeightNames names = HfWeightNames::detect(store);
  const Binder b(store);
  const int64_t hidden = spec.hidden_size;
  GemmaWeights w;
  w.embed = b.bind(names.embed(), Shape{spec.vocab_size, hidden});
  w.final_norm = b.bind(names.final_norm(), Shape{hidden});
  w.lm_head = spec.tie_word_embeddings ? w.embed : b.bind(names.lm_head(store), Shape{spec.vocab_size, hidden});

  for (int i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& l = spec.layers[static_cast<size_t>(i)];
    const int64_t q_w = int64_t{l.n_heads} * l.head_dim;
    const int64_t kv_w = int64_t{l.n_kv_heads} * l.head_dim;
    LayerWeights lw;
    const auto name = [&](const char* suffix) { return names.layer(i, suffix); };
    lw.attn_norm = b.bind(name("input_layernorm"), Shape{hidden});
    lw.q = b.bind(name("self_attn.q_proj"), Shape{q_w, hidden});
    lw.k = b.bind(name("self_attn.k_proj"), Shape{kv_w, hidden});
    lw.v = b.bind(name("self_attn.v_proj"), Shape{kv_w, hidden});
    lw.o = b.bind(name("self_attn.o_proj"), Shape{hidden, q_w});
    if (l.qk_norm) {
      lw.q_norm = b.bind(name("self_attn.q_norm"), Shape{l.head_dim});
      lw.k_norm = b.bind(name("self_attn.k_norm"), Shape{l.head_dim});
    }
    // Gemma 1 has two norms and calls its pre-MLP norm post_attention_layernorm; the sandwich
    // layout (Gemma 2/3) uses that name for the norm on the attention output (spec §2.3, §3.4).
    if (l.sandwich_norms) {
      lw.attn_out_norm = b.bind(name("post_attention_layernorm"), Shape{hidden});
      lw.ffn_norm = b.bind(name("pre_feedforward_layernorm"), Shape{hidden});
      lw.ffn_out_norm = b.bind(name("post_feedforward_layernorm"), Shape{hidden});
    } else {
      lw.ffn_norm = b.bind(name("post_attention_layernorm"), Shape{hidden});
    }
    lw.gate = b.bind(name("mlp.gate_proj"), Shape{l.intermediate_size, hidden});
    lw.up = b.bind(name("mlp.up_proj"), Shape{l.intermediate_size, hidden});
    lw.down = b.bind(name("mlp.down_proj"), Shape{hidden, l.intermediate_size});
    w.layers.push_back(std::move(lw));
  }
  return w;
}

}  // namespace gemrt
