#!/usr/bin/env python3
"""Convert a Hugging Face Gemma 1/2/3 text checkpoint (config.json + model.safetensors) to GGUF.

Written for gemrt's tests: it produces the GGUF layout llama.cpp's converter produces for these
architectures (gemma-spec.md §8), using the registry's `gguf` package as the writer:
  - metadata {arch}.context_length / embedding_length / block_count / feed_forward_length /
    attention.head_count / head_count_kv / key_length / value_length / layer_norm_rms_epsilon,
    rope.freq_base (+ rope.freq_base_swa and linear rope.scaling for gemma3), sliding_window,
    soft-caps; plus attention.scale (a key llama.cpp defines) = query_pre_attn_scalar^-1/2, since
    GGUF otherwise has no place for Gemma's query scale;
  - tensor names token_embd / output_norm / blk.N.*; every norm weight stored as 1 + w (§8.4);
  - weights in float32 (--dtype f32, default) or float16.
No tokenizer is written unless the checkpoint folder has none; the fixtures have none.

Usage: python3 tools/hf_to_gguf.py CHECKPOINT_DIR OUT.gguf [--dtype f32|f16]
Needs: pip install gguf numpy safetensors
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from safetensors.numpy import load_file

ARCH = {"gemma": "gemma", "gemma2": "gemma2", "gemma3_text": "gemma3"}
LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf: str, arch: str) -> str:
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    parts = hf.split(".")
    if parts[:2] != ["model", "layers"] or parts[-1] != "weight":
        raise SystemExit(f"unexpected tensor {hf}")
    layer, suffix = parts[2], ".".join(parts[3:-1])
    if suffix == "post_attention_layernorm":
        # Gemma 1's only post-attention norm is its pre-MLP norm (spec §2.3).
        name = "ffn_norm" if arch == "gemma" else "post_attention_norm"
    else:
        name = LAYER_NAMES[suffix]
    return f"blk.{layer}.{name}.weight"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    a = ap.parse_args()
    ck = Path(a.checkpoint)
    cfg = json.loads((ck / "config.json").read_text())
    if cfg["model_type"] not in ARCH:
        raise SystemExit(f"unsupported model_type {cfg['model_type']}")
    arch = ARCH[cfg["model_type"]]
    w = GGUFWriter(a.out, arch)
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim", cfg["hidden_size"] // heads)
    w.add_context_length(cfg.get("max_position_embeddings", 8192))
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    qpas = cfg.get("query_pre_attn_scalar") if arch != "gemma" else head_dim
    w.add_float32(f"{arch}.attention.scale", float(qpas) ** -0.5)

    rope = cfg.get("rope_parameters") or {}
    full = rope.get("full_attention", rope)
    sliding = rope.get("sliding_attention", rope)
    w.add_rope_freq_base(full.get("rope_theta", 10000.0))
    if arch == "gemma3":
        w.add_float32(f"{arch}.rope.freq_base_swa", sliding.get("rope_theta", 10000.0))
        if full.get("rope_type") == "linear":
            w.add_string(f"{arch}.rope.scaling.type", "linear")
            w.add_float32(f"{arch}.rope.scaling.factor", full["factor"])
        kinds = cfg.get("layer_types")
        pattern = [k == "sliding_attention" for k in kinds] if kinds else None
        if pattern is not None:
            w.add_array(f"{arch}.attention.sliding_window_pattern", pattern)
    if arch in ("gemma2", "gemma3") and cfg.get("sliding_window"):
        w.add_sliding_window(cfg["sliding_window"])
    for key in ("attn_logit_softcapping", "final_logit_softcapping"):
        if arch == "gemma2" or (arch == "gemma3" and key == "final_logit_softcapping"):
            if cfg.get(key) is not None:
                w.add_float32(f"{arch}.{key}", cfg[key])
    w.add_bos_token_id(cfg.get("bos_token_id", 2))
    w.add_eos_token_id(cfg.get("eos_token_id", 1) if isinstance(cfg.get("eos_token_id", 1), int) else cfg["eos_token_id"][0])
    w.add_pad_token_id(cfg.get("pad_token_id", 0))

    tensors = load_file(str(ck / "model.safetensors"))
    dtype = np.float32 if a.dtype == "f32" else np.float16
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype != np.float32:
            t = t.astype(np.float32)
        if name.endswith("norm.weight"):
            t = t + np.float32(1.0)  # llama.cpp stores Gemma 1-3 norm weights with the +1 folded in
            t = t.astype(np.float32)
        else:
            t = t.astype(dtype)
        w.add_tensor(gguf_name(name, arch), t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
