#!/usr/bin/env python3
"""Write the published Gemma 3n and Gemma 4 text shapes (gemma-spec.md §5.2, §6.2, §7.1) as HF
config.json files, made and validated by transformers' own Gemma3nTextConfig / Gemma4TextConfig,
and record what transformers builds
from each: the tensor elements of its checkpoint (every state-dict entry, the tied LM head once,
layer_scalar buffers included) counted on the meta device, so no memory is used. gemrt's
config-only `inspect` must report the same counts (tests/model/gemma/config_test.cpp).

    python3 bench/configs/make_configs.py bench/configs tests/data/config_counts.json

Needs torch and transformers 5.17 (tests/data/make_hf_variants.py says how to get them on a
machine without a GPU).
"""
import json
import os
import sys

SLIDING, FULL = "sliding_attention", "full_attention"


def pattern(groups, sliding):
    return ([SLIDING] * sliding + [FULL]) * groups


SHAPES = {
    "gemma4-e2b": dict(hidden_size=1536, num_hidden_layers=35, layer_types=pattern(7, 4),
                       num_attention_heads=8, num_key_value_heads=1, head_dim=256, global_head_dim=512,
                       intermediate_size=6144, use_double_wide_mlp=True, sliding_window=512,
                       hidden_size_per_layer_input=256, num_kv_shared_layers=20, final_logit_softcapping=30.0),
    "gemma4-e4b": dict(hidden_size=2560, num_hidden_layers=42, layer_types=pattern(7, 5),
                       num_attention_heads=8, num_key_value_heads=2, head_dim=256, global_head_dim=512,
                       intermediate_size=10240, sliding_window=512, hidden_size_per_layer_input=256,
                       num_kv_shared_layers=18, final_logit_softcapping=30.0),
    "gemma4-26b-a4b": dict(hidden_size=2816, num_hidden_layers=30, layer_types=pattern(5, 5),
                           num_attention_heads=16, num_key_value_heads=8, head_dim=256, global_head_dim=512,
                           num_global_key_value_heads=2, attention_k_eq_v=True, intermediate_size=2112,
                           sliding_window=1024, hidden_size_per_layer_input=0, enable_moe_block=True,
                           num_experts=128, top_k_experts=8, moe_intermediate_size=704,
                           max_position_embeddings=262144, final_logit_softcapping=30.0,
                           use_bidirectional_attention="vision"),
    "gemma4-31b": dict(hidden_size=5376, num_hidden_layers=60, layer_types=pattern(10, 5),
                       num_attention_heads=32, num_key_value_heads=16, head_dim=256, global_head_dim=512,
                       num_global_key_value_heads=4, attention_k_eq_v=True, intermediate_size=21504,
                       sliding_window=1024, hidden_size_per_layer_input=0, max_position_embeddings=262144,
                       final_logit_softcapping=30.0, use_bidirectional_attention="vision"),
    # the text model of the unified 12B (spec §7.1)
    "gemma4-12b-text": dict(hidden_size=3840, num_hidden_layers=48, layer_types=pattern(8, 5),
                            num_attention_heads=16, num_key_value_heads=8, head_dim=256, global_head_dim=512,
                            num_global_key_value_heads=1, attention_k_eq_v=True, intermediate_size=15360,
                            sliding_window=1024, hidden_size_per_layer_input=0, final_logit_softcapping=30.0,
                            use_bidirectional_attention="vision"),
}


# Gemma 3n E2B / E4B (spec §5.2): 4 sliding : 1 full (the config's default), KV shared by the
# last 10 / 15 layers, activation sparsity 0.95 on the first 10 layers.
SHAPES_3N = {
    "gemma3n-e2b": dict(num_hidden_layers=30, intermediate_size=[8192] * 30, num_kv_shared_layers=10,
                        activation_sparsity_pattern=[0.95] * 10 + [0.0] * 20),
    "gemma3n-e4b": dict(num_hidden_layers=35, intermediate_size=[16384] * 35, num_kv_shared_layers=15,
                        activation_sparsity_pattern=[0.95] * 10 + [0.0] * 25),
}


def main(out_dir, counts_path):
    import torch
    import transformers
    from transformers import Gemma3nForCausalLM, Gemma3nTextConfig, Gemma4ForCausalLM, Gemma4TextConfig

    counts = {}
    shapes = [(n, Gemma3nTextConfig(**kw), Gemma3nForCausalLM) for n, kw in SHAPES_3N.items()]
    shapes += [(n, Gemma4TextConfig(vocab_size=262144, rope_parameters=None, **kw), Gemma4ForCausalLM)
               for n, kw in SHAPES.items()]
    for name, cfg, model_class in shapes:
        path = os.path.join(out_dir, name + ".json")
        d = cfg.to_dict()
        d["architectures"] = [model_class.__name__]
        with open(path, "w") as f:
            json.dump(d, f, indent=2, sort_keys=True)
            f.write("\n")
        with torch.device("meta"):
            model = model_class(cfg)
        elements = sum(t.numel() for k, t in model.state_dict().items() if k != "lm_head.weight")
        params = sum(p.numel() for p in model.parameters())
        counts[name] = {"checkpoint_elements": elements, "parameters": params}
        print(f"{name:18s} {elements:>14,d} elements {params:>14,d} parameters -> {path}")
    counts["made_with"] = f"transformers {transformers.__version__}, torch {torch.__version__} (meta device)"
    with open(counts_path, "w") as f:
        json.dump(counts, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
