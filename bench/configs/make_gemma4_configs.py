#!/usr/bin/env python3
"""Write the published Gemma 4 text shapes (gemma-spec.md §6.2, §7.1) as HF config.json files,
made and validated by transformers' own Gemma4TextConfig, and record what transformers builds
from each: the tensor elements of its checkpoint (every state-dict entry, the tied LM head once,
layer_scalar buffers included) counted on the meta device, so no memory is used. gemrt's
config-only `inspect` must report the same counts (tests/model/gemma/config_test.cpp).

    python3 bench/configs/make_gemma4_configs.py bench/configs tests/data/gemma4_config_counts.json

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


def main(out_dir, counts_path):
    import torch
    import transformers
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig

    counts = {}
    for name, kw in SHAPES.items():
        cfg = Gemma4TextConfig(vocab_size=262144, rope_parameters=None, **kw)
        path = os.path.join(out_dir, name + ".json")
        d = cfg.to_dict()
        d["architectures"] = ["Gemma4ForCausalLM"]
        with open(path, "w") as f:
            json.dump(d, f, indent=2, sort_keys=True)
            f.write("\n")
        with torch.device("meta"):
            model = Gemma4ForCausalLM(cfg)
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
