#!/usr/bin/env python3
"""Make a tiny random-weight Gemma 4 checkpoint with a vision tower, plus reference outputs.

Why
---
``shared/fixtures/hf/gemma4-towers-pub`` holds the E2B-style vision tower: no clipped linears,
no standardization, one KV head per query head, 16-px patches pooled 3 x 3, a causal text model.
The released towers also use what it leaves out: the E2B / E4B towers clamp every projection
(``use_clipped_linears``), the 26B / 31B ones standardize the pooled features and let an image's
tokens attend to each other on the sliding layers (``use_bidirectional_attention = "vision"``).
This variant turns all of those on, with other shapes (grouped KV heads in the tower, 8-px
patches pooled 2 x 2, RoPE theta 1000), and feeds the tower padding patches interleaved with
shuffled real ones, so the tower's pooling by position is what puts the soft tokens in order.

It lives in ``tests/data/hf-media``, not ``tests/data/hf``: every checkpoint there is a text-only
parity fixture with make_hf_variants.py's file contract (the HfParity tests read them all).

What it writes (``OUT/gemma4-vision-std-clip/``)
------------------------------------------------
- ``config.json``, ``model.safetensors``, ``generation_config.json`` (``save_pretrained``).
- ``reference.safetensors``:
    - ``pixel_values``       float32 [80, 192]  60 real 8-px patches of a 10 x 6 grid, shuffled,
                                                 and 20 padding patches (random values) among them
    - ``image_position_ids`` int32   [80, 2]    (x, y); (-1, -1) for padding
    - ``image_features``     float32 [15, 64]   tower + embed_vision (``get_image_features``)
    - ``input_ids``          int32   [T]        BOS, text, boi, 15 image tokens, eoi, text
    - ``mm_token_type_ids``  int32   [T]        1 on the image tokens
    - ``logits``             float32 [T, V]     with the image block (sliding layers)
    - ``logits_without_mm_token_type_ids``      the same inputs, plain causal masks
- ``reference.json``: sizes, seeds, the clip bounds' source, and probes showing that each special
  setting changes the features or logits (clipping, standardization, the image block).

How
---
Weights (seed 4; the seed also draws the inputs): every parameter N(0, 0.05) for matrices, RMSNorm weights 1 + N(0, 0.1) (Gemma 4's norms
multiply by the weight), std_scale 1 + N(0, 0.2), std_bias N(0, 0.5). Clip bounds: the inputs and
outputs of every clippable linear are measured on the reference image with open bounds, and each
bound set to 60 % of the extreme seen (so clamping is active on every projection). The model is
saved, reloaded with ``from_pretrained(dtype=float32, attn_implementation="eager")``, checked
tensor by tensor, and the references computed from the reloaded model. The same model in float64
gives the fixture's rounding noise (``reference.json``): a tiny random model amplifies float32
rounding from the features to the logits, and some seeds put HF's own float32 logits 1e-4 off the
exact ones; the script refuses a seed whose noise exceeds 5e-5.

Run (CPU, a few seconds; the venv of make_hf_variants.py)::

    $V/python tests/data/make_gemma4_vision_variant.py --out tests/data/hf-media
"""

import argparse
import json
import os
import sys


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args(argv)

    import torch
    import transformers
    from safetensors.torch import load_file, save_file
    from transformers import Gemma4Config, Gemma4ForConditionalGeneration

    seed = args.seed
    torch.manual_seed(seed)
    name = "gemma4-vision-std-clip"
    out_dir = os.path.join(args.out, name)
    os.makedirs(out_dir, exist_ok=True)

    vision = dict(
        hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=1,
        head_dim=16, patch_size=8, pooling_kernel_size=2, position_embedding_size=64,
        rope_parameters={"rope_type": "axial", "rope_theta": 1000.0}, use_clipped_linears=True, standardize=True,
        rms_norm_eps=1e-6,
    )
    text = dict(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=1, head_dim=16, global_head_dim=32, sliding_window=4,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        hidden_size_per_layer_input=0, num_kv_shared_layers=0, use_bidirectional_attention="vision",
        max_position_embeddings=256, final_logit_softcapping=30.0, pad_token_id=0, bos_token_id=2, eos_token_id=1,
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "full_attention": {"rope_type": "proportional", "rope_theta": 1000000.0, "partial_rotary_factor": 0.25},
        },
    )
    config = Gemma4Config(text_config=text, vision_config=vision, audio_config=None, image_token_id=500,
                          boi_token_id=502, eoi_token_id=503, audio_token_id=501, boa_token_id=504,
                          eoa_token_index=505, video_token_id=506)
    config.text_config._attn_implementation = "eager"
    model = Gemma4ForConditionalGeneration(config).eval()

    # Inputs: a 10 x 6 grid of 8-px patches (pooled 2 x 2: 5 x 3 = 15 soft tokens), shuffled, with
    # 20 padding patches among them (80 patches: HF's output length is 80 / 4 = 20 >= 15).
    g = torch.Generator().manual_seed(1 + seed)
    cols, rows, k = 10, 6, 2
    real = [(x, y) for y in range(rows) for x in range(cols)]
    n_pad = 20
    order = torch.randperm(len(real) + n_pad, generator=g).tolist()
    positions = [real[i] if i < len(real) else (-1, -1) for i in order]
    pixel_values = torch.rand(len(positions), 3 * 8 * 8, generator=g)
    pos = torch.tensor(positions, dtype=torch.long)
    n_tokens = (cols // k) * (rows // k)
    ids = [2, 300, 301, 302, 502] + [500] * n_tokens + [503, 310, 311, 312, 313, 314]
    input_ids = torch.tensor([ids])
    mm_types = torch.tensor([[1 if t == 500 else 0 for t in ids]])

    # Random weights.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname and p.ndim == 1:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        vt = model.model.vision_tower
        vt.std_scale.copy_(1.0 + 0.2 * torch.randn(vt.std_scale.shape, generator=g))
        vt.std_bias.copy_(0.5 * torch.randn(vt.std_bias.shape, generator=g))
        for mname, m in model.named_modules():
            if hasattr(m, "layer_scalar"):
                m.layer_scalar.fill_(1.0)

    # Clip bounds: 60 % of the extremes seen with open bounds.
    clippables = [(n, m) for n, m in model.model.vision_tower.named_modules() if type(m).__name__ == "Gemma4ClippableLinear"]
    seen = {}

    def hook(name):
        def f(mod, inp, out):
            seen[name] = (inp[0].min().item(), inp[0].max().item(), out.min().item(), out.max().item())
        return f

    handles = [m.linear.register_forward_hook(hook(n)) for n, m in clippables]
    with torch.no_grad():
        model.model.get_image_features(pixel_values[None], pos[None])
    for h in handles:
        h.remove()
    with torch.no_grad():
        for n, m in clippables:
            lo_in, hi_in, lo_out, hi_out = seen[n]
            m.input_min.fill_(0.6 * lo_in)
            m.input_max.fill_(0.6 * hi_in)
            m.output_min.fill_(0.6 * lo_out)
            m.output_max.fill_(0.6 * hi_out)

    model.save_pretrained(out_dir)
    saved = load_file(os.path.join(out_dir, "model.safetensors"))
    ref = Gemma4ForConditionalGeneration.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager").eval()
    reloaded = dict(ref.state_dict())
    for key, t in saved.items():
        if key not in reloaded or not torch.equal(reloaded[key].float(), t.float()):
            sys.exit(f"{key}: not reloaded as saved")

    def features(m):
        with torch.no_grad():
            return torch.cat(m.model.get_image_features(pixel_values[None], pos[None]).pooler_output, dim=0)

    def logits(m, types):
        with torch.no_grad():
            kw = {"mm_token_type_ids": types} if types is not None else {}
            return m(input_ids=input_ids, pixel_values=pixel_values[None], image_position_ids=pos[None], **kw).logits[0]

    feats = features(ref)
    with_blocks = logits(ref, mm_types)
    without_blocks = logits(ref, None)

    def rel(a, b):
        return ((a - b).norm(dim=-1) / b.norm(dim=-1)).max().item()

    # Probes: each special setting must matter.
    probes = {}
    vt = ref.model.vision_tower
    saved_bounds = {n: (m.input_min.clone(), m.input_max.clone(), m.output_min.clone(), m.output_max.clone())
                    for n, m in vt.named_modules() if type(m).__name__ == "Gemma4ClippableLinear"}
    with torch.no_grad():
        for n, m in vt.named_modules():
            if type(m).__name__ == "Gemma4ClippableLinear":
                m.input_min.fill_(-float("inf")); m.input_max.fill_(float("inf"))
                m.output_min.fill_(-float("inf")); m.output_max.fill_(float("inf"))
        probes["features_without_clipping_rel_err"] = rel(features(ref), feats)
        for n, m in vt.named_modules():
            if n in saved_bounds:
                a, b, c, d = saved_bounds[n]
                m.input_min.copy_(a); m.input_max.copy_(b); m.output_min.copy_(c); m.output_max.copy_(d)
        scale, bias = vt.std_scale.clone(), vt.std_bias.clone()
        vt.std_scale.fill_(1.0); vt.std_bias.fill_(0.0)
        probes["features_without_standardize_rel_err"] = rel(features(ref), feats)
        vt.std_scale.copy_(scale); vt.std_bias.copy_(bias)
    assert rel(features(ref), feats) == 0.0
    probes["logits_without_blocks_rel_err"] = rel(without_blocks, with_blocks)
    for key, v in probes.items():
        if not v > 1e-3:
            sys.exit(f"probe {key} = {v}: the setting is inert")

    # The fixture's own rounding noise: the same references in float64 (HF's float32 run is
    # within this of the exact result; a parity test at 1e-4 needs it well below that).
    ref64 = Gemma4ForConditionalGeneration.from_pretrained(out_dir, dtype=torch.float64, attn_implementation="eager").eval()
    with torch.no_grad():
        feats64 = torch.cat(ref64.model.get_image_features(pixel_values.double()[None], pos[None]).pooler_output, dim=0)
        kw = dict(input_ids=input_ids, pixel_values=pixel_values.double()[None], image_position_ids=pos[None])
        noise = {
            "image_features": rel(feats.double(), feats64),
            "logits": rel(with_blocks.double(), ref64(**kw, mm_token_type_ids=mm_types).logits[0]),
            "logits_without_mm_token_type_ids": rel(without_blocks.double(), ref64(**kw).logits[0]),
        }
    if max(noise.values()) > 5e-5:
        sys.exit(f"float32 references {noise} off float64: too ill-conditioned for a 1e-4 test (try another --seed)")

    save_file({
        "pixel_values": pixel_values.contiguous(),
        "image_position_ids": pos.to(torch.int32).contiguous(),
        "image_features": feats.contiguous(),
        "input_ids": input_ids[0].to(torch.int32).contiguous(),
        "mm_token_type_ids": mm_types[0].to(torch.int32).contiguous(),
        "logits": with_blocks.contiguous(),
        "logits_without_mm_token_type_ids": without_blocks.contiguous(),
    }, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({
            "family": "Gemma4ForConditionalGeneration (vision tower, no audio)",
            "description": "clipped linears (bounds at 60% of the measured extremes), standardize, GQA tower, "
                           "8-px patches pooled 2x2, theta 1000, shuffled patches with interleaved padding, "
                           "use_bidirectional_attention=vision with a window of 4 (< the 15-token image block)",
            "grid": [cols, rows], "patches": len(positions), "padding": n_pad, "soft_tokens": n_tokens,
            "seed": seed, "probes": probes, "float32_vs_float64_worst_row_rel_err": noise,
            "made_with": f"transformers {transformers.__version__}, torch {torch.__version__}, eager, fp32",
        }, f, indent=1)
    print(name, probes, noise)


if __name__ == "__main__":
    main()
