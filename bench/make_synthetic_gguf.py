#!/usr/bin/env python3
"""Write Gemma 3-shaped GGUF files with random weights, for benchmarking without real weights.

Shapes (Gemma 3 text models as published; the vocabulary is the real Gemma 3 one, copied with
every tokenizer.* key from a donor GGUF, so llama.cpp and gemrt both load the files):

    270m: hidden 640,  18 layers, 4 heads / 1 KV head, head_dim 256, FFN 2048
    1b:   hidden 1152, 26 layers, 4 heads / 1 KV head, head_dim 256, FFN 6912
    4b:   hidden 2560, 34 layers, 8 heads / 4 KV heads, head_dim 256, FFN 10240 (7.8 GB as F16)
    12b:  hidden 3840, 48 layers, 16 heads / 8 KV heads, head_dim 256, FFN 15360 (23.5 GB as F16)
    27b:  hidden 5376, 62 layers, 32 heads / 16 KV heads, head_dim 128, FFN 21504 (54.0 GB as F16;
          llama.cpp takes its query scale 168^-1/2 from the 62-layer model type)
  all: vocab 262144 (tied LM head), sliding window 512 (5 sliding : 1 global), RoPE 1e6 / 1e4.

Formats: F16 and BF16 are written by the registry's `gguf` package; Q8_0, Q4_0, Q4_K_M and Q6_K
are made from the F16 file by llama.cpp's own quantizer (llama_model_quantize, through
llama-cpp-python), so their tensor-type mixtures are exactly the ones llama.cpp users get.
--base Q8_0 writes a Q8_0 file directly (`gguf`'s Q8_0 quantizer) and makes the other quantized
types from it (requantizing): a 27B shape's F16 file (54 GB) and its Q4_K_M (16 GB) would not fit
a 64 GB disk together, its Q8_0 (29 GB) and Q4_K_M do. The speed of a product does not depend on
its values, only their format.

Weights: matrices N(0, 0.02) (token embedding N(0, 0.02) too), norm weights 1 + N(0, 0.05)
(GGUF stores Gemma's norms with the +1 folded in). Deterministic for a given --seed. --tile
(for the 12B / 27B shapes, where drawing every value takes minutes): each tensor is a run of a
pool of 2^26 such values (its 32-value blocks for Q8_0), starting at a random place, repeated.

Usage:
  python3 bench/make_synthetic_gguf.py --shape 1b --out-dir ~/.cache/gemrt/synthetic \
      --donor ~/.cache/gemrt/gemma-3-270m-q4_k_m.gguf --types F16,BF16,Q8_0,Q4_0,Q4_K_M,Q6_K
Needs: numpy, gguf (and llama-cpp-python for the quantized types).
"""
import argparse
import ctypes
import os
import sys
import time

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import quantize as gguf_quantize

SHAPES = {
    "270m": dict(hidden=640, layers=18, ffn=2048, heads=4, kv_heads=1, head_dim=256),
    "1b": dict(hidden=1152, layers=26, ffn=6912, heads=4, kv_heads=1, head_dim=256),
    "4b": dict(hidden=2560, layers=34, ffn=10240, heads=8, kv_heads=4, head_dim=256),
    "12b": dict(hidden=3840, layers=48, ffn=15360, heads=16, kv_heads=8, head_dim=256),
    "27b": dict(hidden=5376, layers=62, ffn=21504, heads=32, kv_heads=16, head_dim=128),
}
POOL = 1 << 26  # values of the --tile pool
VOCAB = 262144
# llama.cpp's llama_ftype values.
FTYPES = {"Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "Q6_K": 18}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def copy_tokenizer(w: GGUFWriter, donor: str) -> None:
    r = GGUFReader(donor)
    for key, field in r.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == GGUFValueType.ARRAY:
            w.add_array(key, field.contents())
        elif vtype == GGUFValueType.STRING:
            w.add_string(key, field.contents())
        elif vtype == GGUFValueType.BOOL:
            w.add_bool(key, bool(field.contents()))
        elif vtype in (GGUFValueType.UINT32, GGUFValueType.INT32):
            w.add_uint32(key, int(field.contents()))
        else:
            raise SystemExit(f"donor key {key} has unhandled type {vtype}")


def tiled(pool: np.ndarray, count: int, rng) -> np.ndarray:
    """`count` consecutive items of `pool` (along its first axis) from a random start, wrapping."""
    start = int(rng.integers(len(pool)))
    reps = (start + count + len(pool) - 1) // len(pool)
    return np.concatenate([pool] * reps)[start:start + count] if reps > 1 else pool[start:start + count].copy()


def write_file(path: str, shape: dict, dtype: str, donor: str, seed: int, tile: bool) -> None:
    """A synthetic model with its matrices in `dtype`: F16, BF16 or Q8_0."""
    rng = np.random.default_rng(seed)
    arch = "gemma3"
    w = GGUFWriter(path, arch)
    w.add_name(f"synthetic gemma-3 {os.path.basename(path)}")
    w.add_file_type({"F16": 1, "BF16": 32, "Q8_0": 7}[dtype])  # llama_ftype MOSTLY_F16 / BF16 / Q8_0
    w.add_context_length(32768)
    w.add_embedding_length(shape["hidden"])
    w.add_block_count(shape["layers"])
    w.add_feed_forward_length(shape["ffn"])
    w.add_head_count(shape["heads"])
    w.add_head_count_kv(shape["kv_heads"])
    w.add_key_length(shape["head_dim"])
    w.add_value_length(shape["head_dim"])
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1e6)
    w.add_sliding_window(512)
    copy_tokenizer(w, donor)

    qtype = {"F16": GGMLQuantizationType.F16, "BF16": GGMLQuantizationType.BF16, "Q8_0": GGMLQuantizationType.Q8_0}[dtype]
    pool = None
    if tile:  # the pool in the file's format: values (F16 / BF16) or 34-byte Q8_0 blocks
        values = rng.standard_normal((POOL // 32, 32), dtype=np.float32) * np.float32(0.02)
        pool = values.astype(np.float16) if dtype == "F16" else gguf_quantize(values, qtype)

    def matrix(name, rows, cols):
        if pool is not None:
            if dtype == "F16":
                w.add_tensor(name, tiled(pool.reshape(-1), rows * cols, rng).reshape(rows, cols))
            else:
                per_row = pool.shape[1] * cols // 32  # bytes of a row: its blocks' (Q8_0) or values' (BF16)
                data = tiled(pool, rows * cols // 32, rng).reshape(rows, per_row)
                w.add_tensor(name, data, raw_dtype=qtype)
            return
        a = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)
        if dtype == "F16":
            w.add_tensor(name, a.astype(np.float16))
        else:
            w.add_tensor(name, gguf_quantize(a, qtype), raw_dtype=qtype)

    def norm(name, n):
        w.add_tensor(name, (1.0 + 0.05 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32))

    h, hd = shape["hidden"], shape["head_dim"]
    matrix("token_embd.weight", VOCAB, h)
    norm("output_norm.weight", h)
    for i in range(shape["layers"]):
        p = f"blk.{i}."
        norm(p + "attn_norm.weight", h)
        matrix(p + "attn_q.weight", shape["heads"] * hd, h)
        matrix(p + "attn_k.weight", shape["kv_heads"] * hd, h)
        matrix(p + "attn_v.weight", shape["kv_heads"] * hd, h)
        matrix(p + "attn_output.weight", h, shape["heads"] * hd)
        norm(p + "attn_q_norm.weight", hd)
        norm(p + "attn_k_norm.weight", hd)
        norm(p + "post_attention_norm.weight", h)
        norm(p + "ffn_norm.weight", h)
        matrix(p + "ffn_gate.weight", shape["ffn"], h)
        matrix(p + "ffn_up.weight", shape["ffn"], h)
        matrix(p + "ffn_down.weight", h, shape["ffn"])
        norm(p + "post_ffw_norm.weight", h)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize_with_llama(src: str, dst: str, ftype: int, threads: int, requantize: bool = False) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = requantize  # from a Q8_0 base (--base Q8_0)
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize failed ({rc}) for {dst}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--donor", required=True, help="a Gemma 3 GGUF whose tokenizer.* keys are copied")
    ap.add_argument("--types", default="F16,BF16,Q8_0,Q4_0,Q4_K_M,Q6_K")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base", choices=["F16", "Q8_0"], default="F16",
                    help="the file the other quantized types are made from")
    ap.add_argument("--tile", action="store_true", help="tensors as runs of one random pool (fast, for 12b / 27b)")
    args = ap.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    shape = SHAPES[args.shape]
    stem = os.path.join(args.out_dir, f"gemma3-{args.shape}-synthetic")
    base = f"{stem}-{args.base}.gguf"
    need_base = args.base in types or any(t in FTYPES and t != args.base for t in types)
    if need_base and not os.path.exists(base):
        t0 = time.time()
        write_file(base, shape, args.base, args.donor, args.seed, args.tile)
        log(f"wrote {base} ({os.path.getsize(base) / 2**20:.0f} MiB, {time.time() - t0:.0f} s)")
    for t in types:
        out = f"{stem}-{t}.gguf"
        if t == args.base or os.path.exists(out):
            continue
        t0 = time.time()
        if t in ("F16", "BF16"):
            write_file(out, shape, t, args.donor, args.seed, args.tile)
        elif t in FTYPES:
            quantize_with_llama(base, out, FTYPES[t], args.threads, requantize=args.base != "F16")
        else:
            raise SystemExit(f"unknown type {t} (F16, BF16, {', '.join(FTYPES)})")
        log(f"wrote {out} ({os.path.getsize(out) / 2**20:.0f} MiB, {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
