#!/usr/bin/env python3
"""Writes tests/data/quant/vectors.safetensors: packed GGML rows and their float32 values.

The reference values come from the `gguf` Python package (gguf.quants.dequantize), which is
independent of gemrt's C++ code and bit-identical to llama.cpp's dequantize_row_* functions.
tests/quant/dequantize_test.cpp checks gemrt::quant::dequantize_row against them bit for bit.

For every format FMT the file holds pairs of tensors
    FMT[.CASE].packed   U8  [rows, bytes_per_row]   the packed rows
    FMT[.CASE].dequant  F32 [rows, n]               the gguf package's dequantized values
with the cases
    (none)   rows of 512 values. Q4_0 ... Q8_0: gguf.quants.quantize of deterministic random
             rows (gaussian, outliers, zeros, tiny and huge magnitudes, constant rows). The
             K-quants: gguf cannot quantize them, so these rows are random block bytes with
             finite f16 scales (every code pattern, negative / zero / subnormal scales).
    n256     rows of 256 values, made the same way.
    random   random block bytes for every format (with finite f16 scales), 256 values per row.
    gguf256  two rows of `token_embd.weight` (256 values) of the llama-quantize-made fixture
             ../shared/fixtures/gguf/gemma3-tiny-pub-FMT.gguf, read with gguf.GGUFReader.
    gguf512  two rows of `blk.0.ffn_down.weight` (512 values, two K-quant super-blocks) of
             the same file.
F16, BF16 and F32 rows are included too (numpy / gguf conversions of random bit patterns, no
nans). Q8_K, which gguf cannot dequantize, gets random blocks and numpy's float32 d * q.

Run from the repository root with a Python that has numpy and gguf:
    /root/.cache/gemrt/venv/bin/python tests/data/make_quant_vectors.py
(options: --out FILE, --fixtures DIR). The output is deterministic.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

SIMPLE = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
KQUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

# Byte offsets of the f16 scale fields inside each block (see src/gemrt/quant/block_formats.h).
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}


def block_sizes(fmt: str) -> tuple[int, int]:
    return gguf.GGML_QUANT_SIZES[T[fmt]]


def value_rows(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    """Deterministic rows that exercise the quantizers: plain gaussians, outliers, zeros,
    tiny (f16-subnormal scales) and large magnitudes, constant and one-signed rows."""
    rows = []
    rows.append(rng.standard_normal(n))
    r = rng.standard_normal(n) * 0.1
    r[rng.choice(n, 6, replace=False)] = [40.0, -55.0, 12.5, -0.0, 90.0, -7.0]
    rows.append(r)  # outliers
    r = rng.standard_normal(n)
    r[: n // 4] = 0.0                       # whole zero blocks
    r[rng.choice(n, n // 8, replace=False)] = 0.0  # scattered zeros
    rows.append(r)
    r = rng.standard_normal(n) * 1e-6       # scales become f16 subnormals
    r[n // 2:] = rng.standard_normal(n - n // 2) * 3000.0
    rows.append(r)
    r = np.full(n, 0.75)                    # constant row
    r[n // 2:] = -np.abs(rng.standard_normal(n - n // 2))  # one-signed half
    rows.append(r)
    r = rng.uniform(-1, 1, n) ** 3 * 20.0   # heavy-ish tails
    rows.append(r)
    return np.stack(rows[:count]).astype(np.float32)


def random_f16(rng: np.random.Generator, count: int) -> np.ndarray:
    """Finite f16 scales: mostly random magnitudes over many decades, with both signs, plus
    zero, negative zero, the smallest subnormal and the largest finite value."""
    mags = rng.standard_normal(count) * 10.0 ** rng.uniform(-7, 1, count)
    h = mags.astype(np.float16)
    special = np.array([0x0000, 0x8000, 0x0001, 0x7BFF, 0x3C00, 0xBC00], dtype=np.uint16).view(np.float16)
    pick = rng.random(count) < 0.1
    h[pick] = special[rng.integers(0, len(special), int(pick.sum()))]
    assert np.all(np.isfinite(h))
    return h


def random_blocks(rng: np.random.Generator, fmt: str, rows: int, n: int) -> np.ndarray:
    """Random block bytes with every f16 field replaced by a finite value."""
    qk, nbytes = block_sizes(fmt)
    nblocks = rows * n // qk
    blocks = rng.integers(0, 256, (nblocks, nbytes), dtype=np.uint8)
    if fmt == "Q8_K":
        d = (rng.standard_normal(nblocks) * 10.0 ** rng.uniform(-4, 1, nblocks)).astype(np.float32)
        blocks[:, 0:4] = d.view(np.uint8).reshape(nblocks, 4)
    else:
        for off in F16_FIELDS[fmt]:
            blocks[:, off:off + 2] = random_f16(rng, nblocks).view(np.uint8).reshape(nblocks, 2)
    # A few edge blocks: all code bits zero / all set.
    if nblocks >= 3:
        keep = blocks[1].copy()
        blocks[1] = 0
        blocks[2] = 0xFF
        for row in (1, 2):
            if fmt == "Q8_K":
                blocks[row, 0:4] = keep[0:4]
            else:
                for off in F16_FIELDS[fmt]:
                    blocks[row, off:off + 2] = keep[off:off + 2]
    return blocks.reshape(rows, -1)


def dequant(fmt: str, packed: np.ndarray) -> np.ndarray:
    if fmt == "Q8_K":  # gguf has no Q8_K: float32 d * q, as ggml's dequantize_row_q8_K
        blocks = packed.reshape(-1, 292)
        d = blocks[:, 0:4].copy().view(np.float32)
        q = blocks[:, 4:260].view(np.int8).astype(np.float32)
        return (d * q).reshape(packed.shape[0], -1).astype(np.float32)
    out = gguf.quants.dequantize(packed, T[fmt])
    assert out.dtype == np.float32
    return np.ascontiguousarray(out)


def float_rows(rng: np.random.Generator, fmt: str, rows: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    if fmt == "F32":
        v = rng.standard_normal((rows, n)).astype(np.float32)
        v[0, :4] = [0.0, -0.0, np.inf, -np.inf]
        return v.view(np.uint8).reshape(rows, -1), v
    bits = rng.integers(0, 1 << 16, (rows, n), dtype=np.uint16)
    if fmt == "F16":
        nan = ((bits & 0x7C00) == 0x7C00) & ((bits & 0x03FF) != 0)
        bits[nan] &= 0xFC00  # -> inf
        packed = bits.view(np.uint8).reshape(rows, -1)
        return packed, gguf.quants.dequantize(packed, T.F16).reshape(rows, n)
    nan = ((bits & 0x7F80) == 0x7F80) & ((bits & 0x007F) != 0)
    bits[nan] &= 0xFF80
    packed = bits.view(np.uint8).reshape(rows, -1)
    return packed, np.ascontiguousarray(gguf.quants.dequantize(packed, T.BF16).reshape(rows, n))


def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {}
    offset = 0
    blobs = []
    for name, a in tensors.items():
        dtype = {np.dtype(np.uint8): "U8", np.dtype(np.float32): "F32"}[a.dtype]
        raw = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    header["__metadata__"] = {"generator": "tests/data/make_quant_vectors.py", "gguf_version": importlib.metadata.version("gguf")}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def fixture_rows(path: str, fmt: str, name: str, rows: list[int]) -> np.ndarray:
    reader = gguf.GGUFReader(path)
    for t in reader.tensors:
        if t.name == name:
            if t.tensor_type != T[fmt]:
                raise SystemExit(f"{path}: {name} is {t.tensor_type.name}, expected {fmt}")
            return np.ascontiguousarray(np.asarray(t.data)[rows]).astype(np.uint8)
    raise SystemExit(f"{path}: no tensor {name}")


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "quant", "vectors.safetensors"))
    ap.add_argument("--fixtures", default=os.path.join(repo, "..", "shared", "fixtures", "gguf"))
    args = ap.parse_args()

    tensors: dict[str, np.ndarray] = {}

    def add(key: str, fmt: str, packed: np.ndarray, values: np.ndarray | None = None) -> None:
        if values is None:
            values = dequant(fmt, packed)
        values = values.reshape(packed.shape[0], -1).astype(np.float32, copy=False)
        assert not np.any(np.isnan(values)), key
        qk, nbytes = block_sizes(fmt) if fmt not in ("F32", "F16", "BF16") else (1, {"F32": 4, "F16": 2, "BF16": 2}[fmt])
        assert packed.shape[1] == values.shape[1] // qk * nbytes, key
        tensors[key + ".packed"] = np.ascontiguousarray(packed, dtype=np.uint8)
        tensors[key + ".dequant"] = np.ascontiguousarray(values)

    for i, fmt in enumerate(["F32", "F16", "BF16"]):
        rng = np.random.default_rng(1000 + i)
        packed, values = float_rows(rng, fmt, 2, 64)
        add(fmt, fmt, packed, values)

    for i, fmt in enumerate(SIMPLE + KQUANTS + ["Q8_K"]):
        rng = np.random.default_rng(2000 + i)
        if fmt in SIMPLE:
            rows512 = value_rows(rng, 512, 6)
            add(fmt, fmt, gguf.quants.quantize(rows512, T[fmt]))
            rows256 = value_rows(rng, 256, 3)
            add(fmt + ".n256", fmt, gguf.quants.quantize(rows256, T[fmt]))
        else:
            add(fmt, fmt, random_blocks(rng, fmt, 3, 512))
            add(fmt + ".n256", fmt, random_blocks(rng, fmt, 2, 256))
        add(fmt + ".random", fmt, random_blocks(rng, fmt, 3, 256))
        if fmt != "Q8_K":
            path = os.path.join(args.fixtures, f"gemma3-tiny-pub-{fmt}.gguf")
            add(fmt + ".gguf256", fmt, fixture_rows(path, fmt, "token_embd.weight", [0, 301]))
            add(fmt + ".gguf512", fmt, fixture_rows(path, fmt, "blk.0.ffn_down.weight", [0, 200]))

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_safetensors(args.out, tensors)
    print(f"wrote {args.out}: {len(tensors) // 2} cases, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
