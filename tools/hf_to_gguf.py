#!/usr/bin/env python3
"""Convert a Hugging Face Gemma 1/2/3/3n/4 text checkpoint (config.json + model.safetensors) to GGUF.

Written for gemrt's tests: it produces the GGUF layout llama.cpp's converter produces for these
architectures (gemma-spec.md §8), using the registry's `gguf` package as the writer:
  - metadata {arch}.context_length / embedding_length / block_count / feed_forward_length /
    attention.head_count / head_count_kv / key_length / value_length / layer_norm_rms_epsilon,
    rope.freq_base (+ rope.freq_base_swa and linear rope.scaling for gemma3), sliding_window,
    soft-caps; plus attention.scale (a key llama.cpp defines) = query_pre_attn_scalar^-1/2, since
    GGUF otherwise has no place for Gemma's query scale;
  - tensor names token_embd / output_norm / blk.N.*; every norm weight stored as 1 + w (§8.4);
  - gemma4 (§8.2-8.4): per-layer arrays where layers differ (head_count_kv, feed_forward_length),
    key_length(_swa), rope.dimension_count(_swa), rope.freq_base(_swa), the sliding-window
    pattern, shared_kv_layers, embedding_length_per_layer_input, expert counts; norms stored as
    they are (no +1), layer_scalar as layer_output_scale, the per-layer-embedding and MoE tensor
    names, and the generated rope_freqs tensor (1 for each rotated pair, 1e30 for the others);
  - gemma3n (§8.2-8.4, llama.cpp's Gemma3NModel): per-layer feed_forward_length, the sliding
    pattern, altup.active_idx / num_inputs, embedding_length_per_layer_input, shared_kv_layers,
    activation_sparsity_scale (Phi^-1(p) per layer, -inf where p = 0); the AltUp projections
    stacked into altup_proj / altup_unembd_proj [3, hidden, hidden]; norms stored as they are;
    llama.cpp always multiplies by altup_correct_scale, which has no metadata key, so a config with
    altup_correct_scale = false is written with that tensor set to ones (the same product);
  - weights in float32 (--dtype f32, default) or float16;
  - the language model of a multimodal checkpoint (Gemma3ForConditionalGeneration: model_type
    gemma3, tensors language_model.model.*; Gemma4ForConditionalGeneration: gemma4,
    model.language_model.*; Gemma4UnifiedForConditionalGeneration: gemma4_unified, likewise, written
    as architecture gemma4, as llama.cpp's Gemma4UnifiedModel does): its text_config and
    language-model tensors, as llama.cpp writes the text GGUF that goes with an mmproj file (the
    towers go to the mmproj, written by llama.cpp's own convert_hf_to_gguf.py --mmproj;
    tests/data/make_mmproj_fixtures.py).
No tokenizer is written; the fixtures have none. A multimodal checkpoint's media token ids are
recorded the way a real GGUF's vocabulary carries them: tokenizer.ggml.tokens with the media
pieces ("<start_of_image>", "<|image|>", ...) at the config's ids, every other entry a placeholder
"[id]", and tokenizer.ggml.model = "none" (llama.cpp's "no vocabulary" type), so nothing
tokenizes with it.

Usage: python3 tools/hf_to_gguf.py CHECKPOINT_DIR OUT.gguf [--dtype f32|f16]
Needs: pip install gguf numpy safetensors
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from safetensors.numpy import load_file

ARCH = {"gemma": "gemma", "gemma2": "gemma2", "gemma3_text": "gemma3", "gemma3n_text": "gemma3n", "gemma4_text": "gemma4"}
# Multimodal checkpoints: the text model's type and the prefix of its tensors (spec §4.6, §6.8).
MULTIMODAL = {"gemma3": ("gemma3_text", "language_model.model."), "gemma4": ("gemma4_text", "model.language_model."),
              "gemma4_unified": ("gemma4_text", "model.language_model.")}
# The tokenizer pieces of the media tokens (spec §9.1) and the config keys holding their ids.
MEDIA_PIECES = {
    "gemma3": [("image_token_index", "<image_soft_token>"), ("boi_token_index", "<start_of_image>"),
               ("eoi_token_index", "<end_of_image>")],
    "gemma4": [("image_token_id", "<|image|>"), ("boi_token_id", "<|image>"), ("eoi_token_id", "<image|>"),
               ("audio_token_id", "<|audio|>"), ("boa_token_id", "<|audio>"), ("eoa_token_index", "<audio|>"),
               ("video_token_id", "<|video|>")],
}
MEDIA_PIECES["gemma4_unified"] = MEDIA_PIECES["gemma4"]
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
    # gemma4
    "per_layer_input_gate": "inp_gate",
    "per_layer_projection": "proj",
    "post_per_layer_input_norm": "post_norm",
    "router.proj": "ffn_gate_inp",
    "pre_feedforward_layernorm_2": "pre_ffw_norm_2",
    "post_feedforward_layernorm_1": "post_ffw_norm_1",
    "post_feedforward_layernorm_2": "post_ffw_norm_2",
    # gemma3n
    "altup.correction_coefs": "altup_correct_coef",
    "altup.prediction_coefs": "altup_predict_coef",
    "altup.modality_router": "altup_router",
    "altup.router_norm": "altup_router_norm",
    "laurel.linear_left": "laurel_l",
    "laurel.linear_right": "laurel_r",
    "laurel.post_laurel_norm": "laurel_post_norm",
}
# gemma4 tensors HF names without a ".weight" suffix (spec §8.3, §8.4)
BARE_NAMES = {
    "layer_scalar": "layer_output_scale.weight",
    "router.scale": "ffn_gate_inp.scale",
    "router.per_expert_scale": "ffn_down_exps.scale",
    "experts.gate_up_proj": "ffn_gate_up_exps.weight",
    "experts.down_proj": "ffn_down_exps.weight",
    "altup.correct_output_scale": "altup_correct_scale.weight",
}
# gemma3n: the AltUp stream projections, stacked in order into one tensor each
STACKED = {"model.altup_projections.": "altup_proj.weight", "model.altup_unembed_projections.": "altup_unembd_proj.weight"}
TOP_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "model.embed_tokens_per_layer.weight": "per_layer_token_embd.weight",
    "model.per_layer_model_projection.weight": "per_layer_model_proj.weight",
    "model.per_layer_projection_norm.weight": "per_layer_proj_norm.weight",
}


def gguf_name(hf: str, arch: str) -> str:
    if hf in TOP_NAMES:
        return TOP_NAMES[hf]
    parts = hf.split(".")
    if parts[:2] == ["model", "layers"] and ".".join(parts[3:]) in BARE_NAMES:
        return f"blk.{parts[2]}.{BARE_NAMES['.'.join(parts[3:])]}"
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
    top, prefix = None, None
    if cfg["model_type"] in MULTIMODAL:
        top = cfg
        text_type, prefix = MULTIMODAL[cfg["model_type"]]
        cfg = dict(cfg["text_config"], model_type=text_type)
        if not top.get("tie_word_embeddings", True):
            raise SystemExit("a multimodal checkpoint with an untied lm_head is not supported")
    if cfg["model_type"] not in ARCH:
        raise SystemExit(f"unsupported model_type {cfg['model_type']}")
    arch = ARCH[cfg["model_type"]]
    w = GGUFWriter(a.out, arch)
    if top is not None:
        write_media_vocab(w, top, cfg["vocab_size"])
    if arch == "gemma4":
        write_gemma4_metadata(w, cfg)
        write_tensors(w, ck, arch, a.dtype, shift_norms=False, extra={"rope_freqs.weight": gemma4_rope_freqs(cfg)},
                      text_prefix=prefix)
        print(f"wrote {a.out}", file=sys.stderr)
        return
    if arch == "gemma3n":
        write_gemma3n_metadata(w, cfg)
        ones = None if cfg.get("altup_correct_scale", True) else ".altup.correct_output_scale"
        write_tensors(w, ck, arch, a.dtype, shift_norms=False, ones_suffix=ones)
        print(f"wrote {a.out}", file=sys.stderr)
        return
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

    write_tensors(w, ck, arch, a.dtype, shift_norms=True, text_prefix=prefix)
    print(f"wrote {a.out}", file=sys.stderr)


def write_media_vocab(w, top, vocab_size):
    """The media token ids of a multimodal config as vocabulary pieces (see the module docstring)."""
    tokens = [f"[{i}]" for i in range(vocab_size)]
    for key, piece in MEDIA_PIECES[top["model_type"]]:
        if key in top:
            tokens[top[key]] = piece
    w.add_tokenizer_model("none")
    w.add_token_list(tokens)


def language_model_tensors(tensors, prefix):
    """The language model's tensors of a multimodal checkpoint, renamed to a text checkpoint's model.*."""
    out = {}
    for name, t in tensors.items():
        if name.startswith(prefix):
            out["model." + name[len(prefix):]] = t
    return out


def write_tensors(w, ck, arch, dtype_name, shift_norms, extra=None, ones_suffix=None, text_prefix=None):
    tensors = load_file(str(ck / "model.safetensors"))
    if text_prefix is not None:
        tensors = language_model_tensors(tensors, text_prefix)
    dtype = np.float32 if dtype_name == "f32" else np.float16
    for prefix, out in STACKED.items():
        parts = sorted((n for n in tensors if n.startswith(prefix)), key=lambda n: int(n[len(prefix):].split(".")[0]))
        if parts:
            extra = dict(extra or {})
            extra[out] = np.stack([tensors.pop(n).astype(np.float32) for n in parts]).astype(dtype)
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype != np.float32:
            t = t.astype(np.float32)
        if ones_suffix and name.endswith(ones_suffix):
            t = np.ones_like(t)
        if name.endswith("norm.weight") or t.ndim < 2:
            if shift_norms and name.endswith("norm.weight"):
                t = t + np.float32(1.0)  # llama.cpp stores Gemma 1-3 norm weights with the +1 folded in
            t = t.astype(np.float32)  # vectors stay float32
        else:
            t = t.astype(dtype)
        w.add_tensor(gguf_name(name, arch), t)
    for name, t in (extra or {}).items():
        w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gemma4_layers(cfg):
    """Per-layer (kind, head_dim, kv_heads, intermediate) as transformers 5.17's Gemma4TextConfig
    resolves them (per_layer_config, or global_head_dim / num_global_key_value_heads)."""
    n = cfg["num_hidden_layers"]
    kinds = list(cfg.get("layer_types") or ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(n)])
    kinds[-1] = "full_attention"
    hd, kv = cfg.get("head_dim", 256), cfg["num_key_value_heads"]
    plc = cfg.get("per_layer_config")
    first_shared = n - cfg.get("num_kv_shared_layers", 0)
    out = []
    for i, kind in enumerate(kinds):
        d, k = hd, kv
        if plc is not None:
            o = plc.get(str(i)) or plc.get(f"{i:02d}") or {}
            d, k = o.get("head_dim", hd), o.get("num_key_value_heads", kv)
        elif kind == "full_attention":
            d = cfg.get("global_head_dim", 512)
            if cfg.get("attention_k_eq_v") and cfg.get("num_global_key_value_heads"):
                k = cfg["num_global_key_value_heads"]
        inter = cfg["intermediate_size"] * (2 if cfg.get("use_double_wide_mlp") and i >= first_shared > 0 else 1)
        out.append((kind, d, k, inter))
    return out


def gemma4_rope_freqs(cfg):
    """llama.cpp's rope_freqs for the full layers: 1 for each rotated pair, 1e30 (no rotation) for
    the others (spec §8.4)."""
    full = (cfg.get("rope_parameters") or {}).get("full_attention") or {}
    d = [dim for kind, dim, _, _ in gemma4_layers(cfg) if kind == "full_attention"][0]
    if full.get("rope_type", "proportional") == "proportional":
        angles = int(full.get("partial_rotary_factor", 0.25 if not full else 1.0) * d // 2)
    else:
        angles = d // 2
    return np.array([1.0] * angles + [1e30] * (d // 2 - angles), dtype=np.float32)


def write_gemma3n_metadata(w, cfg):
    arch = "gemma3n"
    n = cfg["num_hidden_layers"]
    kinds = cfg.get("layer_types") or ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(n)]
    inter = cfg.get("intermediate_size", 16384)
    rope = cfg.get("rope_parameters") or {}
    w.add_context_length(cfg.get("max_position_embeddings", 32768))
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(n)
    if isinstance(inter, list):
        w.add_array(f"{arch}.feed_forward_length", inter)
    else:
        w.add_feed_forward_length(inter)
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_key_length(cfg.get("head_dim", 256))
    w.add_value_length(cfg.get("head_dim", 256))
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    w.add_rope_freq_base((rope.get("full_attention") or {}).get("rope_theta", cfg.get("rope_theta", 1e6)))
    w.add_float32(f"{arch}.rope.freq_base_swa",
                  (rope.get("sliding_attention") or {}).get("rope_theta", cfg.get("rope_local_base_freq", 1e4)))
    w.add_sliding_window(cfg.get("sliding_window", 512))
    w.add_array(f"{arch}.attention.sliding_window_pattern", [k == "sliding_attention" for k in kinds])
    w.add_float32(f"{arch}.final_logit_softcapping", cfg.get("final_logit_softcapping", 30.0))
    w.add_uint32(f"{arch}.altup.active_idx", cfg.get("altup_active_idx", 0))
    w.add_uint32(f"{arch}.altup.num_inputs", cfg.get("altup_num_inputs", 4))
    w.add_uint32(f"{arch}.embedding_length_per_layer_input", cfg.get("hidden_size_per_layer_input", 256))
    w.add_uint32(f"{arch}.attention.shared_kv_layers", cfg.get("num_kv_shared_layers", 15))
    pattern = cfg.get("activation_sparsity_pattern") or ([0.95] * 10 + [0.0] * (n - 10) if n > 10 else [0.0] * n)
    z = [float(np.float32(statistics.NormalDist().inv_cdf(p))) if p > 0 else float("-inf") for p in pattern]
    w.add_array(f"{arch}.activation_sparsity_scale", z)
    w.add_bos_token_id(cfg.get("bos_token_id", 2))
    eos = cfg.get("eos_token_id", 1)
    w.add_eos_token_id(eos if isinstance(eos, int) else eos[0])
    w.add_pad_token_id(cfg.get("pad_token_id", 0))


def write_gemma4_metadata(w, cfg):
    arch = "gemma4"
    layers = gemma4_layers(cfg)
    n = len(layers)
    full = [l for l in layers if l[0] == "full_attention"]
    sliding = [l for l in layers if l[0] == "sliding_attention"] or full
    rope = cfg.get("rope_parameters") or {}
    w.add_context_length(cfg.get("max_position_embeddings", 131072))
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(n)
    inters = [l[3] for l in layers]
    if len(set(inters)) == 1:
        w.add_feed_forward_length(inters[0])
    else:
        w.add_array(f"{arch}.feed_forward_length", inters)
    w.add_head_count(cfg["num_attention_heads"])
    kvs = [l[2] for l in layers]
    if len(set(kvs)) == 1:
        w.add_head_count_kv(kvs[0])
    else:
        w.add_array(f"{arch}.attention.head_count_kv", kvs)
    w.add_key_length(full[0][1])
    w.add_value_length(full[0][1])
    w.add_uint32(f"{arch}.attention.key_length_swa", sliding[0][1])
    w.add_uint32(f"{arch}.attention.value_length_swa", sliding[0][1])
    w.add_uint32(f"{arch}.rope.dimension_count", full[0][1])
    w.add_uint32(f"{arch}.rope.dimension_count_swa", sliding[0][1])
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    w.add_rope_freq_base((rope.get("full_attention") or {}).get("rope_theta", 1e6))
    w.add_float32(f"{arch}.rope.freq_base_swa", (rope.get("sliding_attention") or {}).get("rope_theta", 1e4))
    w.add_sliding_window(cfg.get("sliding_window", 512))
    w.add_array(f"{arch}.attention.sliding_window_pattern", [l[0] == "sliding_attention" for l in layers])
    w.add_uint32(f"{arch}.attention.shared_kv_layers", cfg.get("num_kv_shared_layers", 0))
    w.add_uint32(f"{arch}.embedding_length_per_layer_input", cfg.get("hidden_size_per_layer_input") or 0)
    if cfg.get("enable_moe_block"):
        w.add_expert_count(cfg["num_experts"])
        w.add_expert_used_count(cfg["top_k_experts"])
        w.add_uint32(f"{arch}.expert_feed_forward_length", cfg["moe_intermediate_size"])
    if cfg.get("final_logit_softcapping") is not None:
        w.add_float32(f"{arch}.final_logit_softcapping", cfg["final_logit_softcapping"])
    w.add_bos_token_id(cfg.get("bos_token_id", 2))
    eos = cfg.get("eos_token_id", 1)
    w.add_eos_token_id(eos if isinstance(eos, int) else eos[0])
    w.add_pad_token_id(cfg.get("pad_token_id", 0))


if __name__ == "__main__":
    main()
