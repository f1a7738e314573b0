#!/usr/bin/env python3
"""Writes tests/data/mmproj/: llama.cpp mmproj files of two shared fixtures, made by llama.cpp's own
converter, the text GGUF that goes with each, and transformers references for the weights and
settings those files carry.

Command (the project's HF venv for torch + transformers; the llama.cpp sdist's own gguf-py)::

    L=/tmp/llama-src/llama_cpp_python-0.3.36/vendor/llama.cpp   # llama-cpp-python 0.3.36's sdist
    PYTHONPATH=$L/gguf-py ~/.cache/gemrt/hf-venv/bin/python tests/data/make_mmproj_fixtures.py --llama-cpp $L

For each of ../shared/fixtures/hf/gemma3-siglip-pub and gemma4-towers-pub, tests/data/mmproj/NAME/ gets
what follows; for gemma4u-pub (Gemma 4 unified, projectors gemma4uv / gemma4ua) only the f32 mmproj
and the text GGUF: every weight of that file is float32, so the shared reference is its reference.

- ``mmproj-F32.gguf``, ``mmproj-F16.gguf``: ``convert_hf_to_gguf.py --mmproj --outtype f32|f16`` run on
  a staging copy of the fixture. The converter needs two things the fixture folders lack, and the
  staging copy supplies them without touching a weight value:
    * ``preprocessor_config.json`` (MmprojModel reads image_mean / image_std from it): the
      fixture's own ``reference.json["image_processor"]``, the processor settings it was made with;
      for Gemma 3 plus ``image_seq_length`` = config ``mm_tokens_per_image`` (16; Gemma3Processor's
      key, from which the converter derives clip.vision.projector.scale_factor = 2). gemma4u-pub's
      reference.json names no processor: mean 0 and std 1, the no-op of its processor, which does
      not normalize (gemma-spec §7.3; gemrt reads neither key).
    * Gemma 3 only: the tensor names of the published checkpoints. transformers 5.17 saved the
      fixture's tower as ``vision_tower.embeddings.*`` / ``vision_tower.encoder.*``; the converter's
      Gemma3VisionModel and tensor map know the published layout ``vision_tower.vision_model.*``
      (gemma-spec §4.6), so the staging copy renames ``vision_tower.`` to ``vision_tower.vision_model.``
      (the values and every other name unchanged; the unused SigLIP ``head.*`` the converter drops).
  The staging folder is named after the fixture: the converter writes its name as general.name.
  What the converter then does to the weights (the mmproj loader undoes it, model/gemma/mmproj_*):
  Gemma 3: mm_soft_emb_norm stored + 1, mm_input_projection forced to F16 even under --outtype f32;
  Gemma 4: the vision patch projection [n, p*p*3] reshaped and permuted to a conv kernel
  [n, 3, p, p], per_dim_scale stored after softplus, scalar clip bounds as [1] tensors, the
  depthwise conv [n, 1, k] as [n, k], audio convolutions and the position table kept F32.
- ``text-F32.gguf``: ``tools/hf_to_gguf.py`` on the fixture (its language model, float32).
- ``reference.safetensors`` (+ ``reference.json``): transformers 5.17 (float32, CPU) on the fixture's
  inputs (``reference.safetensors`` of the shared fixture), with each model weight rounded to the
  dtype the mmproj stores it in (found by value: a tensor whose float16 rounding, as a multiset of
  values, equals an F16 tensor of the mmproj), one set per mmproj: ``image_features_F32``,
  ``logits_F32``, ``image_features_F16``, ``logits_F16`` and for Gemma 4 ``audio_features_F32`` /
  ``audio_features_F16``. Gemma 4's audio tower runs with the settings an mmproj implies, which
  differ from the fixture's: llama.cpp's gemma4a graph hard-codes chunks of 12 frames, 12 frames
  of left context (attention_context_left 13) and none to the right (tools/mtmd/models/gemma4a.cpp;
  Gemma4AudioConfig's defaults), while the fixture uses 4 / 5 / 0; so the reference sets those
  three keys and uses the default attn_implementation (sdpa), gemrt's default mask.
  Before writing, the script checks that the unrounded model under the fixture's own settings
  reproduces the shared reference (worst row < 1e-5), so the calls are the fixture's.
"""
import argparse
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFReader
from safetensors.numpy import load_file as load_numpy
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, Gemma3ForConditionalGeneration, Gemma4ForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.abspath(os.path.join(ROOT, "..", "shared", "fixtures", "hf"))
# llama.cpp's gemma4a graph: chunk_size 12, max_past_horizon 12 (= attention_context_left - 1), no right context.
LLAMA_CPP_AUDIO = {"attention_chunk_size": 12, "attention_context_left": 13, "attention_context_right": 0}


def stage(name, dest):
    src = os.path.join(FIXTURES, name)
    shutil.copy(os.path.join(src, "config.json"), dest)
    config = json.load(open(os.path.join(src, "config.json")))
    processor = dict(json.load(open(os.path.join(src, "reference.json"))).get(
        "image_processor", {"image_mean": [0.0, 0.0, 0.0], "image_std": [1.0, 1.0, 1.0]}))
    if config["model_type"] == "gemma3":
        processor["image_seq_length"] = config["mm_tokens_per_image"]
        tensors = load_file(os.path.join(src, "model.safetensors"))
        renamed = {("vision_tower.vision_model." + k[len("vision_tower."):] if k.startswith("vision_tower.") else k): v
                   for k, v in tensors.items()}
        save_file(renamed, os.path.join(dest, "model.safetensors"), metadata={"format": "pt"})
    else:
        os.symlink(os.path.join(src, "model.safetensors"), os.path.join(dest, "model.safetensors"))
    json.dump(processor, open(os.path.join(dest, "preprocessor_config.json"), "w"), indent=1)


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def values_key(a):
    return hashlib.sha1(np.sort(np.asarray(a, dtype=np.float32).ravel()).tobytes()).hexdigest()


def f16_tensors(path):
    """Keys (sorted values) of the mmproj's F16 tensors."""
    keys = set()
    for t in GGUFReader(path).tensors:
        if t.tensor_type == GGMLQuantizationType.F16:
            keys.add(values_key(np.array(t.data, dtype=np.float16).astype(np.float32)))
    return keys


def round_like_mmproj(model, mmproj):
    """Rounds to float16 every parameter the mmproj stores as F16; returns how many."""
    wanted, found = f16_tensors(mmproj), set()
    with torch.no_grad():
        for _, p in model.named_parameters():
            r = p.detach().half().float()
            k = values_key(r.numpy())
            if k in wanted:
                p.copy_(r)
                found.add(k)
    if found != wanted:
        raise SystemExit(f"{mmproj}: {len(wanted - found)} F16 tensors match no model weight")
    return len(found)


def rel(a, b):
    a, b = a.double().reshape(-1, a.shape[-1]), b.double().reshape(-1, b.shape[-1])
    return float(((a - b).norm(dim=-1) / b.norm(dim=-1)).max())


def gemma3_outputs(model, ref):
    ids = torch.tensor(ref["input_ids"])[None].long()
    types = (ids == model.config.image_token_id).long()
    pixels = torch.tensor(ref["pixel_values"])[None]
    with torch.no_grad():
        features = model.model.get_image_features(pixels).pooler_output[0]
        logits = model(input_ids=ids, pixel_values=pixels, token_type_ids=types).logits[0]
    return {"image_features": features, "logits": logits}


def gemma4_outputs(model, ref):
    ids = torch.tensor(ref["input_ids"])[None].long()
    pixels = torch.tensor(ref["pixel_values"])[None]
    pos = torch.tensor(ref["image_position_ids"])[None].long()
    mel = torch.tensor(ref["audio_mel"])[None]
    mask = torch.tensor(ref["audio_mel_mask"])[None].bool()
    with torch.no_grad():
        image = torch.cat(model.model.get_image_features(pixels, pos).pooler_output, dim=0)
        audio = model.model.get_audio_features(mel, mask, return_dict=True)
        logits = model(input_ids=ids, pixel_values=pixels, image_position_ids=pos, input_features=mel,
                       input_features_mask=mask).logits[0]
    return {"image_features": image, "audio_features": audio.pooler_output[0][audio.attention_mask[0]],
            "logits": logits}


def references(name, out_dir):
    src = os.path.join(FIXTURES, name)
    ref = load_numpy(os.path.join(src, "reference.safetensors"))
    gemma3 = name.startswith("gemma3")
    cls, outputs = (Gemma3ForConditionalGeneration, gemma3_outputs) if gemma3 else (Gemma4ForConditionalGeneration,
                                                                                     gemma4_outputs)
    # The fixture's own settings first: the calls must reproduce the shared reference.
    fixture_model = cls.from_pretrained(src, dtype=torch.float32, attn_implementation="eager").eval()
    check = {k: rel(v, torch.tensor(ref[k])) for k, v in outputs(fixture_model, ref).items()}
    if max(check.values()) > 1e-5:
        raise SystemExit(f"{name}: the unrounded model does not reproduce the shared reference: {check}")
    config = AutoConfig.from_pretrained(src)
    if not gemma3:
        for k, v in LLAMA_CPP_AUDIO.items():
            setattr(config.audio_config, k, v)
    tensors, notes = {}, {"shared_reference_check": check}
    base = None
    for dtype in ("F32", "F16"):
        model = cls.from_pretrained(src, config=copy.deepcopy(config), dtype=torch.float32).eval()
        n = round_like_mmproj(model, os.path.join(out_dir, f"mmproj-{dtype}.gguf"))
        out = outputs(model, ref)
        for k, v in out.items():
            tensors[f"{k}_{dtype}"] = v.float().contiguous()
        notes[f"{dtype}_rounded_to_f16"] = n
        if base is None:
            base = out
        else:  # what rounding the F16 file's weights does, as transformers itself computes it
            notes["f16_effect_vs_f32_file"] = {k: rel(v, base[k]) for k, v in out.items()}
    notes["f32_file_vs_shared_reference"] = {k: rel(v, torch.tensor(ref[k])) for k, v in base.items() if k in ref}
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    meta = {
        "source": f"../../../../../shared/fixtures/hf/{name} (model, inputs)",
        "made_with": f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, float32, CPU",
        "script": "tests/data/make_mmproj_fixtures.py",
        "weights": "each rounded to the dtype the mmproj of the same suffix stores it in",
        "audio_config_overrides": None if gemma3 else LLAMA_CPP_AUDIO,
        "attn_implementation": "sdpa (default)",
        "measured": notes,
    }
    json.dump(meta, open(os.path.join(out_dir, "reference.json"), "w"), indent=1)
    print(name, json.dumps(notes), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp source tree (convert_hf_to_gguf.py)")
    ap.add_argument("--out", default=os.path.join(HERE, "mmproj"))
    a = ap.parse_args()
    for name in ("gemma3-siglip-pub", "gemma4-towers-pub", "gemma4u-pub"):
        out_dir = os.path.join(a.out, name)
        os.makedirs(out_dir, exist_ok=True)
        unified = name == "gemma4u-pub"
        with tempfile.TemporaryDirectory() as tmp:
            staged = os.path.join(tmp, name)
            os.makedirs(staged)
            stage(name, staged)
            for dtype in ("f32",) if unified else ("f32", "f16"):
                run([sys.executable, os.path.join(a.llama_cpp, "convert_hf_to_gguf.py"), staged, "--mmproj",
                     "--outtype", dtype, "--outfile", os.path.join(out_dir, f"mmproj-{dtype.upper()}.gguf")])
        run([sys.executable, os.path.join(ROOT, "tools", "hf_to_gguf.py"), os.path.join(FIXTURES, name),
             os.path.join(out_dir, "text-F32.gguf")])
        if not unified:
            references(name, out_dir)


if __name__ == "__main__":
    main()
