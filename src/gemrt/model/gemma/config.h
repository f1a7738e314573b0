// Gemma model configuration: HF config.json -> ModelSpec with one LayerSpec per layer.
//
// Supported model_type values: gemma (Gemma 1), gemma2, gemma3_text, gemma3 (the text side of
// the multimodal config, read from its nested text_config), gemma3n_text, gemma3n, gemma4_text
// and gemma4 (likewise). Defaults are those of the HF config classes (gemma-spec.md §2.1, §3.1,
// §4.1, §5.1, §6.1).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gemrt/model/gemma/layer_spec.h"

namespace gemrt {

enum class GemmaFamily { Gemma1, Gemma2, Gemma3, Gemma3n, Gemma4 };
const char* family_name(GemmaFamily f);

struct ModelSpec {
  std::string model_type;  // as written in config.json
  GemmaFamily family = GemmaFamily::Gemma1;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  float norm_offset = 1.0f;       // for the final norm
  // sqrt(hidden_size) in float32: HF rounds the constant to the compute dtype (spec §1.2, P5),
  // and gemrt's precise mode computes in float32.
  float embed_scale = 1.0f;
  float final_softcap = 0.0f;     // 0 = none
  // Per-layer embeddings (Gemma 3n / 4 PLE, spec §6.3 step 2): width per layer (0 = none) and
  // the rows of their table [ple_vocab, n_layers * per_layer_input].
  int per_layer_input = 0;
  int64_t ple_vocab = 0;
  // Gemma 3n AltUp streams (spec §5.3 steps 4, 15; 0 = one plain residual stream) and the one
  // the blocks run on.
  int altup_inputs = 0;
  int altup_active = 0;
  // use_bidirectional_attention = "vision" (spec §6.5, §7.2): the tokens of one image attend to
  // each other in every layer during prefill (graph/ir.h AttentionAttrs blocks).
  bool bidirectional_vision = false;
  bool tie_word_embeddings = true;
  int bos_token_id = 2;
  std::vector<int> eos_token_ids;
  int pad_token_id = 0;
  std::vector<LayerSpec> layers;

  int n_layers() const { return static_cast<int>(layers.size()); }
};

// What a checkpoint's metadata says about the model, before it is turned into per-layer specs.
// Both the HF config.json parser and the GGUF metadata parser fill this; make_model_spec is the one
// place that derives every layer's fields from it.
struct GemmaHyperparams {
  std::string model_type;
  GemmaFamily family = GemmaFamily::Gemma1;
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0;
  int n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  float norm_offset = 1.0f;     // 1: stored norm weights are zero-centred (HF); 0: they hold 1 + w (GGUF)
  double attn_scale = 1.0;      // query scale of every layer
  float attn_softcap = 0.0f;    // applied on every layer (0 = none)
  float final_softcap = 0.0f;
  int sliding_window = 0;       // window of sliding layers (0 = not given)
  std::vector<LayerKind> layer_kinds;  // one per layer
  RopeSpec rope_full, rope_sliding;
  Activation activation = Activation::GeluTanh;
  // Gemma 4 (spec §6.1): per-layer head_dim and kv heads where they differ from the above (empty:
  // none differ), K = V on full layers, the last `kv_shared_layers` layers reading earlier
  // layers' KV, MLPs twice as wide on those layers, and per-layer embeddings.
  std::vector<int> layer_head_dim, layer_kv_heads;
  bool k_eq_v = false;
  int kv_shared_layers = 0;
  bool double_wide_mlp = false;
  bool bidirectional_vision = false;  // use_bidirectional_attention == "vision" (Gemma 4), or gemma3
  bool window_limits_blocks = false;  // Gemma 3, Gemma 4 (not unified): a sliding window also bounds an image block
  bool blocks_on_sliding_only = false;  // Gemma 4 (not unified): full layers stay causal (spec §6.5)
  int per_layer_input = 0;
  int64_t ple_vocab = 0;
  int n_experts = 0, top_k_experts = 0, expert_intermediate = 0;  // Gemma 4 MoE (0: no MoE block)
  // Per-layer MLP widths where they differ from intermediate_size (Gemma 3n's list; empty: none).
  std::vector<int64_t> layer_intermediate;
  // Gemma 3n (spec §5.1): AltUp streams (0: none), the active one, whether the PLE input is
  // rescaled, the LAuReL rank (0: none), and per layer the activation-sparsity std multiplier
  // Phi^-1(p) (empty or nullopt: a dense layer).
  int altup_inputs = 0, altup_active = 0;
  bool altup_correct_scale = false;
  int laurel_rank = 0;
  std::vector<std::optional<float>> sparsity_z;
  bool tie_word_embeddings = true;
  int bos_token_id = 2, pad_token_id = 0;
  std::vector<int> eos_token_ids{1};
};

// How the tokens of one image attend to each other during prefill (spec §4.5, §6.5, §7.2): the
// bidirectional_vision / window_limits_blocks / blocks_on_sliding_only triple of GemmaHyperparams.
enum class ImageBlocks {
  None,          // causal (Gemma 4 with use_bidirectional_attention null: E2B / E4B)
  Gemma3,        // Gemma3ForConditionalGeneration: every layer, a sliding layer's window bounding the block
  Gemma4Vision,  // Gemma 4, use_bidirectional_attention "vision": sliding layers only, within their window
  Unified,       // Gemma 4 unified: every layer, not bounded by the window
};
void set_image_blocks(GemmaHyperparams& h, ImageBlocks blocks);

// Derives the per-layer specs; `source` names the checkpoint in error messages.
ModelSpec make_model_spec(const GemmaHyperparams& h, const std::string& source);

// Builds the spec from a parsed config.json; `source` names the file in error messages.
ModelSpec parse_gemma_config(const nlohmann::json& config, const std::string& source);

// Phi^-1(p), the standard normal quantile, as torch's Normal(0, 1).icdf evaluates it in float32
// (sqrt(2) * erfinv(2p - 1), each step rounded to float32): Gemma 3n's sparsity multiplier.
float normal_quantile_f32(float p);

// Reads `path`: a .json file, or else a folder holding config.json.
ModelSpec load_gemma_config(const std::string& path);

// One line per layer: kind, heads, head_dim, window, RoPE, scale, soft-cap (for `inspect`, tests).
std::string describe_layers(const ModelSpec& spec);

}  // namespace gemrt
