#!/usr/bin/env python3
"""Make extra tiny random-weight Hugging Face Gemma checkpoints plus reference outputs.

Why
---
The parity tests of the C++ engine compare it against Hugging Face transformers on tiny
random-weight models. ``shared/fixtures/hf/`` already holds one checkpoint per architecture
(see ``shared/fixtures/README.md``). They all use similar widths (hidden 64, head_dim 16, window 8,
default soft-caps ...), so a bug that only shows with another shape (MHA, head_dim != hidden/heads,
one KV head, a window of 3, a full layer every 3rd layer, linear RoPE factor 4, caps switched off,
BF16-stored weights ...) can slip through. This script makes more variants with the SAME file
contract as the shared fixtures, so the same test code can read them.

What it writes
--------------
For every variant, ``OUT/<name>/`` holds:

- ``config.json``, ``model.safetensors``, ``generation_config.json``: a normal HF checkpoint,
  written by ``save_pretrained`` (tied embeddings, so there is no ``lm_head.weight``).
- ``reference.safetensors``:
    - ``input_ids``   int32   [T]      T = 20, ``input_ids[0]`` = BOS = 2, the rest random in [3, V)
    - ``logits``      float32 [T, V]   one forward pass over ``input_ids``, every position
    - ``greedy_ids``  int32   [N]      N = 12, ``generate()`` with the KV cache, greedy, exactly
                                        N new tokens (no EOS, so no early stop)
    - ``full_ids``    int32   [T+N]    ``input_ids`` followed by ``greedy_ids``
    - ``full_logits`` float32 [T+N, V] one forward pass over ``full_ids``; row T-1+i holds the
                                        logits that choose ``greedy_ids[i]``
- ``reference.json``: family, seed, sizes, weights dtype, description, versions, checks.

How the references are made
---------------------------
1. Build the config with transformers' own config class (its validation runs; a rejected
   setting stops that variant with a clear error, and a setting that transformers silently
   changed is reported as an error too, never patched over).
2. Build the model, then overwrite EVERY parameter with N(0, std): std 0.05 for matrices
   (ndim >= 2) and 0.1 for vectors. Gemma 1/2/3 RMSNorms compute x * (1 + w), so plain noise on
   the zero-centred norm weights is right (README: "a missing 1 + w shows up as a large error").
3. Optionally cast to bfloat16 (the BF16 variant), then ``save_pretrained``.
4. Reload the checkpoint from disk with ``from_pretrained(dtype=float32,
   attn_implementation="eager")``, check that every reloaded tensor equals the saved one (so no
   weight was silently re-initialised), and compute all references from that reloaded model in
   float32 (for the BF16 variant: float32 compute on the bf16 values). Reloading matters for
   BF16: casting the in-memory model to bf16 and back also rounds its non-persistent RoPE
   ``inv_freq`` buffers to bf16, which moves the logits by ~1e-3, more than the parity
   tolerance; a reload recomputes them in float32, as any loader of the checkpoint would.
5. Feature probes: for each special setting of a variant (soft-caps, sliding window,
   query_pre_attn_scalar, scaled RoPE) the same weights are run once more with that setting
   neutralised; the logits must change, otherwise the setting is inert in this transformers
   version and the fixture would not test what its description says. An inert setting is an
   error unless the variant declares it in ``expect_inert`` (then it is recorded in
   reference.json; see gemma3-bf16-mqa).

Run (CPU only, a few seconds per variant)::

    python3 tests/data/make_hf_variants.py --out tests/data/hf
    python3 tests/data/make_hf_variants.py --out tests/data/hf --only gemma2-w5

Made for transformers 5.17.0 and torch 2.11 (the versions of the shared fixtures); another
version prints a warning but still runs. Exit status is non-zero if any variant failed.

On a machine without a GPU and with only the Python package registry: PyPI's torch 2.11 wheel
runs on the CPU once the few CUDA libraries it links are present (the CUDA toolkit's lib64 has
most of them)::

    python3 -m venv ~/.cache/gemrt/hf-venv && V=~/.cache/gemrt/hf-venv/bin
    $V/pip install --no-deps torch==2.11.0 nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5 \
        nvidia-cufile==1.15.1.6
    $V/pip install numpy typing_extensions sympy networkx jinja2 filelock fsspec transformers==5.17.0 safetensors
    SP=$(echo ~/.cache/gemrt/hf-venv/lib/python3*/site-packages)
    export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$SP/nvidia/cusparselt/lib:$SP/nvidia/nvshmem/lib:$SP/nvidia/cu13/lib
    $V/python tests/data/make_hf_variants.py --out tests/data/hf
"""

import argparse
import copy
import inspect
import json
import os
import shutil
import struct
import sys

# ---------------------------------------------------------------------------------------------
# Contract constants (identical to shared/fixtures/README.md)
# ---------------------------------------------------------------------------------------------
T = 20  # prompt length
N = 12  # generated tokens
VOCAB = 512
BOS_ID = 2
EOS_ID = 1
PAD_ID = 0
MAX_POS = 512
STD_MATRIX = 0.05
STD_VECTOR = 0.1
EXPECTED_TRANSFORMERS = "5.17.0"
PARITY_TOL = 1e-4  # README: relative error ||d|| / ||ref|| per logits row

SLIDING = "sliding_attention"
FULL = "full_attention"

# Fields every variant shares (as in the shared fixtures' config.json files).
COMMON_CONFIG = dict(
    vocab_size=VOCAB,
    max_position_embeddings=MAX_POS,
    tie_word_embeddings=True,
    bos_token_id=BOS_ID,
    eos_token_id=EOS_ID,
    pad_token_id=PAD_ID,
    rms_norm_eps=1e-6,
)


def _alternating(n):
    """Gemma 2 style: sliding, full, sliding, full, ... (starts with sliding)."""
    return [SLIDING if i % 2 == 0 else FULL for i in range(n)]


def _full_every(k, n):
    """A full-attention layer every k-th layer ((i+1) % k == 0), sliding elsewhere."""
    return [FULL if (i + 1) % k == 0 else SLIDING for i in range(n)]


# ---------------------------------------------------------------------------------------------
# The variants. Settings differ from the shared fixtures wherever that is possible.
#   family        : transformers model class (``<family>`` in transformers)
#   config_class  : transformers config class
#   seed          : torch seed for the weights (inputs use a stream derived from it)
#   weights_dtype : dtype stored in model.safetensors ("float32" or "bfloat16")
#   config        : config kwargs on top of COMMON_CONFIG (all must survive validation unchanged)
#   expect_inert  : settings written to config.json that transformers is known NOT to apply
# ---------------------------------------------------------------------------------------------
VARIANTS = [
    dict(
        name="gemma1-mha",
        family="GemmaForCausalLM",
        config_class="GemmaConfig",
        seed=11,
        weights_dtype="float32",
        description=(
            "Gemma 1, MHA (6 heads = 6 kv heads), hidden 96, head_dim 16, 2 layers, "
            "intermediate 200, tanh-GELU gated MLP, (1+w) RMSNorm, sqrt(hidden) embedding scale, tied head"
        ),
        config=dict(
            hidden_size=96,
            num_hidden_layers=2,
            num_attention_heads=6,
            num_key_value_heads=6,
            head_dim=16,
            intermediate_size=200,
            hidden_act="gelu_pytorch_tanh",
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
    ),
    dict(
        name="gemma1-gqa-hd32",
        family="GemmaForCausalLM",
        config_class="GemmaConfig",
        seed=12,
        weights_dtype="float32",
        description=(
            "Gemma 1, GQA (4 heads, 2 kv heads), head_dim 32 != hidden/heads (48/4 = 12), so the "
            "q/k/v/o projections are not square; 3 layers, intermediate 96, rope_theta 500"
        ),
        config=dict(
            hidden_size=48,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,
            intermediate_size=96,
            hidden_act="gelu_pytorch_tanh",
            rope_parameters={"rope_type": "default", "rope_theta": 500.0},
        ),
    ),
    dict(
        name="gemma2-w5",
        family="Gemma2ForCausalLM",
        config_class="Gemma2Config",
        seed=13,
        weights_dtype="float32",
        description=(
            "Gemma 2, 5 layers alternating sliding/full (starts sliding, odd count so it ends "
            "sliding), sliding window 5, MQA-like 4 heads / 1 kv head, head_dim 20, hidden 80, "
            "query_pre_attn_scalar 30 (not head_dim), attention soft-cap 1.5 and final soft-cap 2.5 "
            "(both active; reference.json feature_probes gives how much each moves the logits)"
        ),
        config=dict(
            hidden_size=80,
            num_hidden_layers=5,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=20,
            intermediate_size=128,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=_alternating(5),
            sliding_window=5,
            query_pre_attn_scalar=30,
            attn_logit_softcapping=1.5,
            final_logit_softcapping=2.5,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
    ),
    dict(
        name="gemma2-nocap",
        family="Gemma2ForCausalLM",
        config_class="Gemma2Config",
        seed=14,
        weights_dtype="float32",
        description=(
            "Gemma 2 with both soft-caps switched off (null in config.json: an engine must not apply "
            "the Gemma 2 defaults 50/30), 3 layers sliding/full/sliding, tiny sliding window 3, "
            "8 heads / 4 kv heads, head_dim 8, hidden 64, query_pre_attn_scalar 8 (= head_dim)"
        ),
        config=dict(
            hidden_size=64,
            num_hidden_layers=3,
            num_attention_heads=8,
            num_key_value_heads=4,
            head_dim=8,
            intermediate_size=100,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=_alternating(3),
            sliding_window=3,
            query_pre_attn_scalar=8,
            attn_logit_softcapping=None,
            final_logit_softcapping=None,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
    ),
    dict(
        name="gemma3-w4-pattern3",
        family="Gemma3ForCausalLM",
        config_class="Gemma3TextConfig",
        seed=15,
        weights_dtype="float32",
        description=(
            "Gemma 3, 8 layers with a full layer every 3rd layer (layers 2 and 5; explicit "
            "layer_types while config.json still says _sliding_window_pattern 6, so layer_types "
            "must win), sliding window 4, 6 heads / 3 kv heads, head_dim 12, hidden 72, q/k norms, "
            "local RoPE theta 1e4, global RoPE theta 1e6 with linear scaling factor 4, "
            "query_pre_attn_scalar 12, final soft-cap 4.0"
        ),
        config=dict(
            hidden_size=72,
            num_hidden_layers=8,
            num_attention_heads=6,
            num_key_value_heads=3,
            head_dim=12,
            intermediate_size=144,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=_full_every(3, 8),
            sliding_window=4,
            query_pre_attn_scalar=12,
            attn_logit_softcapping=None,
            final_logit_softcapping=4.0,
            rope_parameters={
                FULL: {"rope_type": "linear", "factor": 4.0, "rope_theta": 1000000.0},
                SLIDING: {"rope_type": "default", "rope_theta": 10000.0},
            },
        ),
    ),
    dict(
        name="gemma3-bf16-mqa",
        family="Gemma3ForCausalLM",
        config_class="Gemma3TextConfig",
        seed=16,
        weights_dtype="bfloat16",
        description=(
            "Gemma 3 with BF16-stored weights (reference computed in float32 from the bf16 values), "
            "MQA (2 heads / 1 kv head), head_dim 32 = hidden/heads, hidden 64, 4 layers "
            "[sliding, sliding, full, sliding], sliding window 6, query_pre_attn_scalar 24, "
            "local RoPE theta 2e4 / global 2e5 (not the usual 1e4 / 1e6). config.json sets "
            "attn_logit_softcapping 3.0, but transformers' Gemma 3 attention never applies it "
            "(checked by the feature probe), so the reference has NO attention soft-cap: an "
            "engine at parity with transformers must ignore attn_logit_softcapping for Gemma 3"
        ),
        config=dict(
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=32,
            intermediate_size=96,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=[SLIDING, SLIDING, FULL, SLIDING],
            sliding_window=6,
            query_pre_attn_scalar=24,
            attn_logit_softcapping=3.0,
            final_logit_softcapping=None,
            rope_parameters={
                FULL: {"rope_type": "default", "rope_theta": 200000.0},
                SLIDING: {"rope_type": "default", "rope_theta": 20000.0},
            },
        ),
        # transformers 5.17 Gemma3Attention stores config.attn_logit_softcapping but never passes
        # it to the attention function (Gemma 2 does). Declared here so the probe records it
        # instead of failing; if a later transformers starts applying it, the probe fails loudly.
        expect_inert=["attn_logit_softcapping"],
    ),
    # Gemma 4: norms multiply by w itself, so norm weights (and the layer_scalar buffers) are
    # 1 + N(0, 0.1) (unit_vectors; the shared fixtures leave layer_scalar at exactly 1, which
    # tests nothing). global_head_dim / num_global_key_value_heads are consumed by the config's
    # __post_init__ (turned into per_layer_config), so they are not attributes afterwards.
    dict(
        name="gemma4-e-share3",
        family="Gemma4ForCausalLM",
        config_class="Gemma4TextConfig",
        seed=21,
        weights_dtype="float32",
        unit_vectors=True,
        noisy_buffers=["layer_scalar"],
        consumed=["global_head_dim", "head_dim", "num_key_value_heads"],  # per-layer attributes
        description=(
            "Gemma 4 E-style: 7 layers [s, s, f, s, f, s, f], the last 3 KV-shared (layer 4 reads "
            "full layer 2, layer 5 sliding layer 3, layer 6 full layer 2: a source read by two "
            "layers), double-wide MLP on the shared layers, per-layer inputs of width 4, head_dim "
            "8 sliding / 24 full (global_head_dim), 4 heads / 2 kv heads, hidden 48, window 5, "
            "proportional RoPE rotating half of the full heads (theta 5e5) and theta 2e4 sliding, "
            "final soft-cap 7, layer_scalar 1 + noise"
        ),
        config=dict(
            hidden_size=48,
            num_hidden_layers=7,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            global_head_dim=24,
            intermediate_size=64,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=[SLIDING, SLIDING, FULL, SLIDING, FULL, SLIDING, FULL],
            sliding_window=5,
            final_logit_softcapping=7.0,
            num_kv_shared_layers=3,
            use_double_wide_mlp=True,
            hidden_size_per_layer_input=4,
            vocab_size_per_layer_input=VOCAB,
            attention_k_eq_v=False,
            enable_moe_block=False,
            rope_parameters={
                FULL: {"rope_type": "proportional", "partial_rotary_factor": 0.5, "rope_theta": 500000.0},
                SLIDING: {"rope_type": "default", "rope_theta": 20000.0},
            },
        ),
    ),
    dict(
        name="gemma4-keqv-gqa",
        family="Gemma4ForCausalLM",
        config_class="Gemma4TextConfig",
        seed=22,
        weights_dtype="float32",
        unit_vectors=True,
        noisy_buffers=["layer_scalar"],
        consumed=["global_head_dim", "num_global_key_value_heads", "head_dim", "num_key_value_heads"],
        description=(
            "Gemma 4 dense-style: attention_k_eq_v (full layers have no v_proj: V is the k_proj "
            "output under a weightless norm), 8 heads with 4 kv heads on sliding layers and 2 on "
            "the full ones (num_global_key_value_heads), head_dim 12 / global 20, 5 layers in the "
            "default pattern (the last forced full), window 4, no per-layer inputs, no final "
            "soft-cap, default proportional RoPE (a quarter of the full heads rotate)"
        ),
        config=dict(
            hidden_size=40,
            num_hidden_layers=5,
            num_attention_heads=8,
            num_key_value_heads=4,
            head_dim=12,
            global_head_dim=20,
            num_global_key_value_heads=2,
            intermediate_size=72,
            hidden_activation="gelu_pytorch_tanh",
            sliding_window=4,
            final_logit_softcapping=None,
            attention_k_eq_v=True,
            num_kv_shared_layers=0,
            hidden_size_per_layer_input=0,
            enable_moe_block=False,
        ),
    ),
    # Gemma 3n with the AltUp, LAuReL, sparsity and sharing settings away from the shared fixture's:
    # norms and correct_output_scale 1 + noise (unit_vectors).
    dict(
        name="gemma3n-a3-share3",
        family="Gemma3nForCausalLM",
        config_class="Gemma3nTextConfig",
        seed=24,
        weights_dtype="float32",
        unit_vectors=True,
        description=(
            "Gemma 3n: 3 AltUp streams with stream 1 active (so the per-layer term is added to the "
            "active stream too) and no correct_output_scale, LAuReL rank 5, per-layer MLP widths "
            "64-96, activation sparsity 0.5 (z = 0) / 0.9 / 0.95 on layers 0, 1, 4, 7 layers "
            "[s, s, f, s, s, f, s] with the last 3 KV-shared (layers 4 and 6 read sliding layer 3, "
            "layer 5 full layer 2), per-layer inputs of width 6, 4 heads / 2 kv heads, head_dim 12, "
            "hidden 48, window 5, theta 2e5 full / 5e3 sliding, final soft-cap 6"
        ),
        config=dict(
            hidden_size=48,
            num_hidden_layers=7,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=12,
            intermediate_size=[64, 96, 64, 80, 64, 96, 64],
            hidden_activation="gelu_pytorch_tanh",
            layer_types=[SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL, SLIDING],
            sliding_window=5,
            final_logit_softcapping=6.0,
            num_kv_shared_layers=3,
            hidden_size_per_layer_input=6,
            vocab_size_per_layer_input=VOCAB,
            laurel_rank=5,
            altup_num_inputs=3,
            altup_active_idx=1,
            altup_correct_scale=False,
            activation_sparsity_pattern=[0.5, 0.9, 0.0, 0.0, 0.95, 0.0, 0.0],
            rope_parameters={
                FULL: {"rope_type": "default", "rope_theta": 200000.0},
                SLIDING: {"rope_type": "default", "rope_theta": 5000.0},
            },
        ),
    ),
    dict(
        name="gemma4-moe-e6k3-bf16",
        family="Gemma4ForCausalLM",
        config_class="Gemma4TextConfig",
        seed=23,
        weights_dtype="bfloat16",
        unit_vectors=True,
        noisy_buffers=["layer_scalar"],
        consumed=["global_head_dim", "head_dim", "num_key_value_heads"],
        description=(
            "Gemma 4 MoE block beside the dense MLP on every layer: 6 experts, top 3, expert "
            "width 24 (dense 40), router scale and per-expert scales 1 + noise, weights stored as "
            "bfloat16 (the stacked expert tensors too); 4 layers [s, f, s, f], 4 heads / 2 kv "
            "heads, head_dim 8 / global 16, window 3, hidden 32, final soft-cap 4"
        ),
        config=dict(
            hidden_size=32,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            global_head_dim=16,
            intermediate_size=40,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=[SLIDING, FULL, SLIDING, FULL],
            sliding_window=3,
            final_logit_softcapping=4.0,
            attention_k_eq_v=False,
            num_kv_shared_layers=0,
            hidden_size_per_layer_input=0,
            enable_moe_block=True,
            num_experts=6,
            top_k_experts=3,
            moe_intermediate_size=24,
        ),
    ),
]


class VariantError(Exception):
    """A variant could not be built as specified (the message says why)."""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _same(a, b):
    """Loose equality for config values (1 == 1.0, nested dicts compared as subsets)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in b and _same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _safetensors_header(path):
    """The JSON header of a safetensors file: {name: {"dtype", "shape", ...}}."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header


def _build_config(transformers, variant):
    """Make the config with transformers' own class; refuse rejected or altered settings."""
    cls = getattr(transformers, variant["config_class"], None)
    if cls is None:
        raise VariantError(f"transformers {transformers.__version__} has no {variant['config_class']}")
    kwargs = dict(COMMON_CONFIG)
    kwargs.update(copy.deepcopy(variant["config"]))
    consumed = set(variant.get("consumed", []))
    try:
        config = cls(**copy.deepcopy(kwargs))
    except Exception as e:  # strict-dataclass type errors, ValueError from validate_*, ...
        raise VariantError(
            f"transformers {transformers.__version__} rejected the {variant['config_class']} settings "
            f"{kwargs}: {type(e).__name__}: {e}"
        ) from e
    # Every requested setting must have survived validation unchanged (no silent fix-ups).
    changed = []
    for key, want in kwargs.items():
        if key in consumed:
            continue
        got = getattr(config, key, "<missing>")
        if not _same(want, got):
            changed.append(f"{key}: asked {want!r}, config has {got!r}")
    if changed:
        raise VariantError(
            f"transformers {transformers.__version__} changed settings of {variant['config_class']}: "
            + "; ".join(changed)
        )
    return config


def _randomize_(torch, model, seed, unit_vectors=False, noisy_buffers=()):
    """Overwrite every parameter with N(0, std): 0.05 for matrices, 0.1 for vectors (with
    unit_vectors, 1 + N(0, 0.1): the scales of norms that multiply by w itself); buffers whose
    name ends in one of noisy_buffers become 1 + N(0, 0.1) too."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        # named_parameters() lists a tied tensor once (lm_head.weight is embed_tokens.weight).
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            std = STD_MATRIX if p.ndim >= 2 else STD_VECTOR
            noise = torch.randn(tuple(p.shape), generator=gen, dtype=torch.float32) * std
            p.copy_(noise + 1.0 if unit_vectors and p.ndim < 2 else noise)
        for name, b in sorted(model.named_buffers(), key=lambda kv: kv[0]):
            if any(name.endswith(n) for n in noisy_buffers):
                b.copy_(1.0 + torch.randn(tuple(b.shape), generator=gen, dtype=torch.float32) * STD_VECTOR)


def _check_tied(model):
    out = model.get_output_embeddings().weight
    inp = model.get_input_embeddings().weight
    if out.data_ptr() != inp.data_ptr():
        raise VariantError("lm_head is not tied to embed_tokens although tie_word_embeddings=True")


def _save_pretrained(model, out_dir):
    kwargs = {}
    # transformers 4.x needed safe_serialization=True; 5.x always writes safetensors and has no
    # such parameter (an unknown kwarg would be swallowed), so pass it only where it exists.
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True
    model.save_pretrained(out_dir, **kwargs)
    for f in ("config.json", "model.safetensors", "generation_config.json"):
        if not os.path.isfile(os.path.join(out_dir, f)):
            raise VariantError(f"save_pretrained did not write {f} in {out_dir}")


def _forward_logits(torch, model, ids):
    """One forward pass over a 1-D id tensor; returns float32 [len, V] logits."""
    with torch.no_grad():
        out = model(
            input_ids=ids[None, :],
            attention_mask=torch.ones(1, ids.shape[0], dtype=torch.long),
            use_cache=False,
        )
    return out.logits[0].float().contiguous()


def _rel_err_rows(torch, a, b):
    """max over rows of ||a - b|| / ||b||."""
    return float(((a - b).norm(dim=-1) / b.norm(dim=-1).clamp_min(1e-30)).max())


def _probes_for(config):
    """(name, description, function that neutralises the setting on a config copy)."""
    probes = []
    layer_types = getattr(config, "layer_types", None) or []

    def setter(attr, value):
        def f(cfg):
            try:
                setattr(cfg, attr, value)
            except Exception:  # a strict config field (Gemma 3n's soft-cap is typed float): set it anyway
                object.__setattr__(cfg, attr, value)

        return f

    if getattr(config, "attn_logit_softcapping", None) is not None:
        probes.append(("attn_logit_softcapping", "attention soft-cap -> None", setter("attn_logit_softcapping", None)))
    if getattr(config, "final_logit_softcapping", None) is not None:
        probes.append(("final_logit_softcapping", "final soft-cap -> None", setter("final_logit_softcapping", None)))
    if SLIDING in layer_types and getattr(config, "sliding_window", None) is not None:
        if config.sliding_window < T + N:
            probes.append(("sliding_window", f"sliding window -> {MAX_POS}", setter("sliding_window", MAX_POS)))
    qpas = getattr(config, "query_pre_attn_scalar", None)
    if qpas is not None and qpas != config.head_dim:
        probes.append(
            ("query_pre_attn_scalar", f"query_pre_attn_scalar -> head_dim {config.head_dim}",
             setter("query_pre_attn_scalar", config.head_dim))
        )
    rp = getattr(config, "rope_parameters", None) or {}
    nested = isinstance(rp.get(FULL), dict) or isinstance(rp.get(SLIDING), dict)
    for key, params in (rp.items() if nested else [(None, rp)]):
        if isinstance(params, dict) and params.get("rope_type", "default") != "default":
            def f(cfg, key=key):
                new = copy.deepcopy(cfg.rope_parameters)
                target = new[key] if key is not None else new
                theta = target.get("rope_theta")
                target.clear()
                target.update({"rope_type": "default", "rope_theta": theta})
                cfg.rope_parameters = new

            label = f"rope_parameters[{key}]" if key else "rope_parameters"
            probes.append((label, f"{label} {params.get('rope_type')} -> default", f))
    return probes


def _run_probes(torch, model_cls, ref_model, full_ids, full_logits, expect_inert):
    """Check that each special setting changes the logits (i.e. the fixture really tests it)."""
    results = {}
    inert = []
    state = ref_model.state_dict()
    for name, what, neutralise in _probes_for(ref_model.config):
        cfg = copy.deepcopy(ref_model.config)
        neutralise(cfg)
        probe = model_cls._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
        missing, unexpected = probe.load_state_dict(state, strict=False)
        missing = [k for k in missing if "rotary" not in k and "inv_freq" not in k]
        if missing or unexpected:
            raise VariantError(f"probe {name}: state dict mismatch, missing {missing}, unexpected {unexpected}")
        probe.eval()
        probe_logits = _forward_logits(torch, probe, full_ids)
        diff = float((probe_logits - full_logits).abs().max())
        rel = _rel_err_rows(torch, probe_logits, full_logits)
        # "effective": the setting changes the logits at all; "above_tolerance": by more than the
        # README's parity tolerance (1e-4 relative per row), so an engine that skips it fails.
        effective = rel > 1e-6
        results[name] = {
            "neutralised": what,
            "max_abs_logit_change": diff,
            "max_row_rel_change": rel,
            "effective": effective,
            "above_tolerance": rel > PARITY_TOL,
        }
        if effective and rel <= PARITY_TOL:
            print(f"warning: {name} changes the logits by only {rel:.1e} (relative), below {PARITY_TOL}",
                  file=sys.stderr)
        base = name.split("[")[0]
        if not effective:
            inert.append(base)
            if base not in expect_inert:
                raise VariantError(
                    f"setting {name} is INERT in transformers (logits unchanged when {what}); the fixture "
                    f"would not test it. Change the variant, or list '{base}' in expect_inert."
                )
        elif base in expect_inert:
            raise VariantError(
                f"setting {name} is declared in expect_inert but transformers now applies it "
                f"(max |dlogit| {diff:.3g} when {what}); update the variant's expect_inert/description."
            )
    return results, inert


# ---------------------------------------------------------------------------------------------
# One variant
# ---------------------------------------------------------------------------------------------
def build_variant(torch, transformers, save_file, variant, out_root):
    name = variant["name"]
    seed = variant["seed"]
    model_cls = getattr(transformers, variant["family"], None)
    if model_cls is None:
        raise VariantError(f"transformers {transformers.__version__} has no {variant['family']}")
    weights_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[variant["weights_dtype"]]

    # Write into a temporary folder and move it into place only when everything succeeded.
    final_dir = os.path.join(out_root, name)
    tmp_dir = os.path.join(out_root, f".{name}.tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)

    # 1. config (validated by transformers)
    config = _build_config(transformers, variant)

    # 2. model with random weights
    torch.manual_seed(seed)
    model = model_cls._from_config(config, attn_implementation="eager", dtype=torch.float32)
    _check_tied(model)
    _randomize_(torch, model, seed, variant.get("unit_vectors", False), variant.get("noisy_buffers", ()))

    # 3. optional bf16 storage, then save
    if weights_dtype != torch.float32:
        model = model.to(weights_dtype)
    model.eval()
    _save_pretrained(model, tmp_dir)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}

    header = _safetensors_header(os.path.join(tmp_dir, "model.safetensors"))
    want_st = {torch.float32: "F32", torch.bfloat16: "BF16"}[weights_dtype]
    bad = {k: v["dtype"] for k, v in header.items() if v["dtype"] != want_st}
    if bad:
        raise VariantError(f"model.safetensors holds tensors not in {want_st}: {bad}")
    if any(k.startswith("lm_head") for k in header):
        raise VariantError("model.safetensors holds lm_head.weight although the head is tied")

    # 4. reload from disk in float32 with eager attention; references come from this model
    ref_model = model_cls.from_pretrained(tmp_dir, attn_implementation="eager", dtype=torch.float32)
    ref_model.eval()
    if ref_model.config._attn_implementation != "eager":
        raise VariantError(f"reloaded model uses {ref_model.config._attn_implementation!r} attention, not eager")
    _check_tied(ref_model)
    ref_state = ref_model.state_dict()
    for k, v in saved.items():
        if k not in ref_state:
            raise VariantError(f"reloaded model lacks {k}")
        r = ref_state[k]
        if r.dtype != torch.float32 and r.is_floating_point():
            raise VariantError(f"reloaded {k} is {r.dtype}, not float32")
        if r.is_floating_point() and not torch.equal(r, v.float()):
            raise VariantError(f"reloaded {k} differs from the saved weights (re-initialised on load?)")
    n_params = sum(p.numel() for p in ref_model.parameters())

    # inputs: BOS then random ids in [3, V); own stream so weight order changes do not move them
    gen = torch.Generator().manual_seed(seed * 1000 + 7)
    input_ids = torch.randint(3, VOCAB, (T,), generator=gen, dtype=torch.long)
    input_ids[0] = BOS_ID

    # one forward pass over the prompt
    logits = _forward_logits(torch, ref_model, input_ids)

    # greedy decode with the KV cache: no EOS at all (so nothing stops it and no logit is
    # masked), min_new_tokens = max_new_tokens = N
    ref_model.generation_config.eos_token_id = None
    with torch.no_grad():
        out = ref_model.generate(
            input_ids[None, :],
            attention_mask=torch.ones(1, T, dtype=torch.long),
            max_new_tokens=N,
            min_new_tokens=N,
            do_sample=False,
            num_beams=1,
            eos_token_id=None,
            use_cache=True,
            return_dict_in_generate=True,
            output_logits=True,
        )
    seq = out.sequences[0]
    if seq.shape[0] != T + N:
        raise VariantError(f"generate() returned {seq.shape[0] - T} new tokens, expected {N}")
    if not torch.equal(seq[:T], input_ids):
        raise VariantError("generate() output does not start with the prompt")
    greedy_ids = seq[T:].clone()
    step_logits = torch.stack([x[0].float() for x in out.logits])  # [N, V], cached decode steps

    # one forward pass over prompt + generated tokens
    full_ids = seq.clone()
    full_logits = _forward_logits(torch, ref_model, full_ids)

    agreement = float((full_logits[T - 1 : T - 1 + N].argmax(dim=-1) == greedy_ids).float().mean())
    decode_rel_err = _rel_err_rows(torch, step_logits, full_logits[T - 1 : T - 1 + N])
    prefix_rel_err = _rel_err_rows(torch, full_logits[:T], logits)
    logits_absmax = float(logits.abs().max())

    # 5. feature probes (after all references, on the same reloaded weights)
    probes, inert = _run_probes(
        torch, model_cls, ref_model, full_ids, full_logits, set(variant.get("expect_inert", []))
    )

    save_file(
        {
            "input_ids": input_ids.to(torch.int32).contiguous(),
            "logits": logits,
            "greedy_ids": greedy_ids.to(torch.int32).contiguous(),
            "full_ids": full_ids.to(torch.int32).contiguous(),
            "full_logits": full_logits,
        },
        os.path.join(tmp_dir, "reference.safetensors"),
    )

    reference = {
        "family": variant["family"],
        "seed": seed,
        "T": T,
        "N": N,
        "weights_dtype": str(weights_dtype),
        "greedy_vs_full_argmax_agreement": agreement,
        "logits_absmax": logits_absmax,
        "made_with": (
            f"transformers {transformers.__version__}, torch {torch.__version__}, "
            "eager attention, fp32 compute"
        ),
        "name": name,
        "description": variant["description"],
        "num_parameters": n_params,
        "init": f"all parameters N(0, {STD_MATRIX}) for ndim >= 2, "
        + (f"1 + N(0, {STD_VECTOR}) for vectors and the buffers {variant.get('noisy_buffers', [])}"
           if variant.get("unit_vectors") else f"N(0, {STD_VECTOR}) for vectors"),
        "input_ids_rule": f"input_ids[0] = BOS {BOS_ID}, others uniform in [3, {VOCAB})",
        "generate": "greedy, KV cache, eos_token_id=None, min_new_tokens=max_new_tokens=N",
        "checks": {
            "cached_decode_vs_full_max_rel_err": decode_rel_err,
            "prompt_logits_vs_full_prefix_max_rel_err": prefix_rel_err,
        },
        "feature_probes": probes,
        "inert_in_transformers": inert,
        "made_by": "tests/data/make_hf_variants.py",
    }
    with open(os.path.join(tmp_dir, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    for f in os.listdir(tmp_dir):  # safetensors writes 0600; make the fixture files world-readable
        os.chmod(os.path.join(tmp_dir, f), 0o644)

    # move into place
    shutil.rmtree(final_dir, ignore_errors=True)
    os.replace(tmp_dir, final_dir)

    warn = []
    if agreement < 1.0:
        warn.append("greedy != argmax(full_logits)")
    if decode_rel_err > 1e-4:
        warn.append(f"cached decode rel err {decode_rel_err:.2e}")
    if inert:
        warn.append("inert in transformers: " + ",".join(inert))
    print(
        f"{name:22s} V={VOCAB} logits_absmax={logits_absmax:.4f} "
        f"greedy_agreement={agreement:.3f} decode_rel_err={decode_rel_err:.1e}"
        + (f"  WARNING: {'; '.join(warn)}" if warn else ""),
        flush=True,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output root; each variant goes to OUT/<name>/")
    ap.add_argument(
        "--only", action="append", metavar="NAME",
        help="build only this variant (repeatable); names: " + ", ".join(v["name"] for v in VARIANTS),
    )
    args = ap.parse_args(argv)

    names = [v["name"] for v in VARIANTS]
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            ap.error(f"unknown variant(s) {unknown}; known: {names}")
    todo = [v for v in VARIANTS if not args.only or v["name"] in args.only]

    try:
        import torch
        import transformers
        from safetensors.torch import save_file
    except ImportError as e:
        sys.exit(f"error: needs torch, transformers and safetensors ({e})")

    if transformers.__version__ != EXPECTED_TRANSFORMERS:
        print(
            f"warning: transformers {transformers.__version__}, the shared fixtures were made with "
            f"{EXPECTED_TRANSFORMERS}; references may differ",
            file=sys.stderr,
        )
    torch.set_grad_enabled(False)

    os.makedirs(args.out, exist_ok=True)
    failed = []
    for variant in todo:
        try:
            build_variant(torch, transformers, save_file, variant, args.out)
        except VariantError as e:
            failed.append(variant["name"])
            print(f"{variant['name']:22s} ERROR: {e}", file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(os.path.join(args.out, f".{variant['name']}.tmp"), ignore_errors=True)
    if failed:
        print(f"{len(failed)} of {len(todo)} variant(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
