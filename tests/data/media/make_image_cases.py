#!/usr/bin/env python3
"""Writes the image preprocessing cases of tests/media/image_patches_test.cpp: small PNG / JPEG
files of several sizes and aspect ratios, and what transformers' Gemma4UnifiedImageProcessor
makes of them (the issue's processor settings: patch 16, pooling 3, bicubic, rescale 1/255, no
normalisation) at a few soft-token budgets.

Each case's expected.safetensors holds `positions` int32 [N, 2], `size` int32 [2] (resized height,
width) and `pixels` float32: every 127th value of the processor's pixel_values [N, 6912] (the
whole array would be megabytes per case). Run with transformers 5.17 + torch + torchvision +
Pillow:
    python3 tests/data/media/make_image_cases.py
"""
import io
import pathlib

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers.image_utils import load_image
from transformers.models.gemma4_unified.image_processing_gemma4_unified import Gemma4UnifiedImageProcessor

OUT = pathlib.Path(__file__).parent
STRIDE = 127


def picture(width, height, seed):
    """A smooth colour field with some noise: compresses well, exercises the filter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 127 + 120 * np.sin(x / max(width, 1) * 6.3 + seed)
    g = 127 + 120 * np.cos(y / max(height, 1) * 4.1)
    b = 127 + 100 * np.sin((x + y) / max(width + height, 1) * 9.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


CASES = [
    # name, width, height, format, budgets
    ("tiny", 5, 3, "png", [70, 280]),
    ("portrait", 90, 160, "png", [280]),
    ("wide", 400, 61, "jpg", [140]),
    ("one-pixel-wide", 1, 300, "png", [280]),
    ("one-pixel-high", 500, 1, "png", [70]),
    ("large", 1500, 1100, "jpg", [280, 1120]),
    # EXIF orientation 6 (stored sideways, shown rotated 90 degrees clockwise) and 3 (upside down):
    # HF's load_image applies it (PIL.ImageOps.exif_transpose) before the processor.
    ("exif-rotated", 120, 40, "jpg", [70]),
    ("exif-flipped", 64, 48, "png", [70]),
]
EXIF = {"exif-rotated": 6, "exif-flipped": 3}


# Gemma 3 (transformers' Gemma3ImageProcessor, bilinear, mean / std 0.5) at these sizes: the whole
# pixel_values [3, size, size] of each case in gemma3-NAME-SIZE.safetensors.
GEMMA3_CASES = [("tiny", "png", 64), ("portrait", "png", 64), ("wide", "jpg", 96), ("large", "jpg", 64)]


def gemma3_cases():
    from transformers.models.gemma3.image_processing_gemma3 import Gemma3ImageProcessor
    for name, fmt, size in GEMMA3_CASES:
        proc = Gemma3ImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
        out = proc(load_image(str(OUT / f"{name}.{fmt}")), return_tensors="pt")
        pv = out["pixel_values"][0].float().contiguous()
        save_file({"pixel_values": pv}, str(OUT / f"gemma3-{name}-{size}.safetensors"))
        print("gemma3", name, size, tuple(pv.shape))


def main():
    for name, w, h, fmt, budgets in CASES:
        img = picture(w, h, seed=len(name))
        path = OUT / f"{name}.{fmt}"
        buf = io.BytesIO()
        extra = {}
        if name in EXIF:
            exif = Image.Exif()
            exif[0x0112] = EXIF[name]
            extra["exif"] = exif.tobytes()
        img.save(buf, format="PNG" if fmt == "png" else "JPEG", quality=75, **extra)
        path.write_bytes(buf.getvalue())
        decoded = load_image(str(path))  # as the processors load a file: EXIF orientation applied, RGB
        for budget in budgets:
            proc = Gemma4UnifiedImageProcessor(max_soft_tokens=budget)
            out = proc(decoded, return_tensors="pt")
            n = int(out["num_soft_tokens_per_image"][0])
            pv = out["pixel_values"][0, :n].float()
            pos = out["image_position_ids"][0, :n].to(torch.int32)
            size = torch.tensor([int(pos[:, 1].max() + 1) * 48, int(pos[:, 0].max() + 1) * 48], dtype=torch.int32)
            save_file({"positions": pos.contiguous(), "size": size,
                       "pixels": pv.reshape(-1)[::STRIDE].contiguous()},
                      str(OUT / f"{name}-{budget}.safetensors"))
            print(name, fmt, w, h, budget, "->", n, "tokens,", size.tolist())


if __name__ == "__main__":
    main()
    gemma3_cases()
