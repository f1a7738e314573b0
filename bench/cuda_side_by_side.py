#!/usr/bin/env python3
"""gemrt (CUDA) and Hugging Face transformers side by side on the GPU machine, on the same random
Gemma 3-shaped checkpoint, in one run (issue 5).

The checkpoint is made here with transformers' own initialisation (bf16, seed 0), saved as
safetensors, and read by both engines. transformers runs bf16 with sdpa attention and a static KV
cache (the issue's peer setup); gemrt runs `gemrt bench --device cuda` on the same folder.

    pp N:  one forward pass over N random tokens (only the last position's logits), tok/s
    tg N:  N greedy decode steps after a 1-token prompt, tok/s

Usage (on the device machine, with a CUDA build of gemrt carried in build-carry/bin):
    python3 bench/cuda_side_by_side.py --shape 1b --gemrt build-carry/bin/gemrt -p 512,4096 -n 128 -r 3
gemrt runs its bf16 mode (--numerics fast, the default here) or precise numerics (--numerics precise).
Needs: torch and transformers (both on the device image).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# Gemma 3 text shapes as published (vocab 262144, tied LM head, sliding window 512, 5 sliding : 1 global).
SHAPES = {
    "270m": dict(hidden_size=640, num_hidden_layers=18, intermediate_size=2048, num_attention_heads=4,
                 num_key_value_heads=1, head_dim=256, query_pre_attn_scalar=256),
    "1b": dict(hidden_size=1152, num_hidden_layers=26, intermediate_size=6912, num_attention_heads=4,
               num_key_value_heads=1, head_dim=256, query_pre_attn_scalar=256),
    "4b": dict(hidden_size=2560, num_hidden_layers=34, intermediate_size=10240, num_attention_heads=8,
               num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256),
    "12b": dict(hidden_size=3840, num_hidden_layers=48, intermediate_size=15360, num_attention_heads=16,
                num_key_value_heads=8, head_dim=256, query_pre_attn_scalar=256),
    "27b": dict(hidden_size=5376, num_hidden_layers=62, intermediate_size=21504, num_attention_heads=32,
                num_key_value_heads=16, head_dim=128, query_pre_attn_scalar=168),
}


def config_dict(shape: str) -> dict:
    s = SHAPES[shape]
    layers = s["num_hidden_layers"]
    return {
        "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 262144,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh",
        "attention_bias": False, "attention_dropout": 0.0, "attn_logit_softcapping": None,
        "final_logit_softcapping": None, "sliding_window": 512, "tie_word_embeddings": True,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "initializer_range": 0.02,
        "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)],
        "rope_parameters": {"full_attention": {"rope_theta": 1000000.0, "rope_type": "default"},
                            "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}},
        "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "use_cache": True, "dtype": "bfloat16",
        **s,
    }


def make_checkpoint(shape: str, out_dir: str, device: str = "cuda"):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config_dict(shape), f, indent=2)
    config = Gemma3TextConfig.from_pretrained(out_dir)
    torch.manual_seed(0)
    # Built in bfloat16 directly: built in float32 first, a 27B model (108 GB) would not fit the GPU.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = Gemma3ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(out_dir, safe_serialization=True)
    return model


def time_transformers(model, prompts: list, n_gen: int, reps: int) -> dict:
    import torch

    model.eval()
    gen = torch.Generator(device="cuda").manual_seed(1)
    vocab = model.config.vocab_size
    res = {}
    with torch.inference_mode():
        for n_prompt in prompts:
            samples = []
            for i in range(reps + 1):
                ids = torch.randint(0, vocab, (1, n_prompt), device="cuda", generator=gen)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(input_ids=ids, use_cache=False, logits_to_keep=1)
                torch.cuda.synchronize()
                if i > 0:  # the first pass is the warm-up
                    samples.append(n_prompt / (time.perf_counter() - t0))
            res[f"pp{n_prompt}"] = samples
        if n_gen > 0:
            samples = []
            for i in range(reps + 1):
                ids = torch.randint(0, vocab, (1, 1), device="cuda", generator=gen)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = model.generate(ids, max_new_tokens=n_gen, min_new_tokens=n_gen, do_sample=False,
                                     cache_implementation="static")
                torch.cuda.synchronize()
                assert out.shape[1] == n_gen + 1
                if i > 0:
                    samples.append(n_gen / (time.perf_counter() - t0))
            res[f"tg{n_gen}"] = samples
    return res


def time_gemrt(gemrt: str, model_dir: str, prompts: list, n_gen: int, reps: int, numerics: str) -> dict:
    cmd = [gemrt, "bench", "--device", "cuda", "--numerics", numerics, model_dir,
           "-p", ",".join(str(p) for p in prompts) or "0", "-n", str(n_gen), "-r", str(reps), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {t["test"]: t["samples_ts"] for t in json.loads(out)["tests"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="1b")
    ap.add_argument("--gemrt", required=True)
    ap.add_argument("--out-dir", default="/tmp/gemrt-side-by-side")
    ap.add_argument("-p", default="512", help="prompt sizes, comma-separated (0 = none)")
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("--numerics", choices=["fast", "precise"], default="fast")
    a = ap.parse_args()
    prompts = [int(x) for x in a.p.split(",") if int(x) > 0]

    import torch
    import transformers

    model_dir = os.path.join(a.out_dir, f"gemma3-{a.shape}-random-bf16")
    model = make_checkpoint(a.shape, model_dir)
    hf = time_transformers(model, prompts, a.n, a.r)
    del model
    torch.cuda.empty_cache()
    ours = time_gemrt(a.gemrt, model_dir, prompts, a.n, a.r, a.numerics)

    mode = "bf16 mode" if a.numerics == "fast" else "precise numerics"
    print(f"gemrt (CUDA, {mode}) vs transformers {transformers.__version__} (torch {torch.__version__}, "
          f"bf16, sdpa, static cache) on {torch.cuda.get_device_name()}, random Gemma 3 {a.shape} checkpoint")
    print(f"command: {' '.join(sys.argv)}")
    print("| test | transformers t/s | gemrt t/s | gemrt / transformers |")
    print("|---|---:|---:|---:|")
    for test in hf:
        h, g = statistics.mean(hf[test]), statistics.mean(ours[test])
        hs = statistics.stdev(hf[test]) if len(hf[test]) > 1 else 0.0
        gs = statistics.stdev(ours[test]) if len(ours[test]) > 1 else 0.0
        print(f"| {test} | {h:.2f} ± {hs:.2f} | {g:.2f} ± {gs:.2f} | {g / h:.2f} |")


if __name__ == "__main__":
    main()
