#!/usr/bin/env python3
"""How far transformers' own bfloat16 model is from its float32 reference, per checkpoint.

For each checkpoint folder: load it with from_pretrained(dtype=bfloat16, eager attention), run one
forward pass over reference.safetensors' `full_ids` (the prompt and the greedy continuation, so
its rows cover the prompt's logits and every decode step's), and record the worst row's
||bf16 - fp32|| / ||fp32|| against `full_logits`. The CUDA bf16-mode parity test
(tests/model/gemma/hf_parity_test.cpp) holds gemrt to these where they exceed issue 5's 3e-2:
on Gemma 4's random checkpoints (attention scale 1 over unit-normalised q and k) bf16 rounding
alone moves the logits by up to ~50 %, in transformers as in any bf16 engine.

    python3 tests/data/measure_hf_bf16.py tests/data/hf_bf16_errors.json DIR...

Needs torch and transformers (tests/data/make_hf_variants.py says how to get them without a GPU).
"""
import json
import os
import sys


def main(out, dirs):
    import torch
    import transformers
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    result = {}
    for d in dirs:
        ref = load_file(os.path.join(d, "reference.safetensors"))
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16, attn_implementation="eager").eval()
        with torch.no_grad():
            logits = model(input_ids=ref["full_ids"].long()[None]).logits[0].float()
        full = ref["full_logits"]
        err = float(((logits - full).norm(dim=-1) / full.norm(dim=-1)).max())
        name = os.path.basename(os.path.normpath(d))
        result[name] = err
        print(f"{name:28s} transformers bf16 vs float32: worst row {err:.3e}")
    result["made_with"] = f"transformers {transformers.__version__}, torch {torch.__version__}, CPU"
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
