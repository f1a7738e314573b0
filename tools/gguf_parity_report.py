#!/usr/bin/env python3
"""Report gemrt's distance to llama.cpp on ../shared/fixtures/gguf (one Gemma 3 model, 11 formats).

Runs `gemrt logits --model X.gguf --ids <input_ids> --greedy 16` and prints, per file, the largest
per-row ||d||/||ref|| against llama.cpp's float32-activation run on the dequantized weights
(`dequant_logits`, `dequant_step_logits`; CI asserts < 1e-3 and equal greedy ids) and, for
information, against llama.cpp's own quantized-activation run (`logits`), plus top-1 agreement.
Needs numpy and safetensors.

Usage: python3 tools/gguf_parity_report.py [--gemrt build/bin/gemrt]
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

FORMATS = ["F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def row_rel(a, ref):
    a, ref = a.astype(np.float64), ref.astype(np.float64)
    return np.linalg.norm(a - ref, axis=1) / np.linalg.norm(ref, axis=1)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemrt", default=str(root / "build/bin/gemrt"))
    a = ap.parse_args()
    fixtures = root.parent / "shared/fixtures/gguf"
    print(f"{'format':<6} {'vs dequant: logits':>19} {'steps':>9} {'greedy':>7} | {'vs llama.cpp logits: max':>25} {'median':>8} {'top-1':>6}")
    ok = True
    for fmt in FORMATS:
        base = fixtures / f"gemma3-tiny-pub-{fmt}"
        ref = load_file(str(base) + ".reference.safetensors")
        ids = ",".join(str(int(x)) for x in ref["input_ids"])
        n = len(ref["dequant_greedy_ids"])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "o.safetensors"
            subprocess.run([a.gemrt, "logits", "--model", str(base) + ".gguf", "--ids", ids, "--greedy", str(n),
                            "--out", str(out)], check=True)
            got = load_file(str(out))
        e1 = row_rel(got["logits"], ref["dequant_logits"]).max()
        e2 = row_rel(got["step_logits"], ref["dequant_step_logits"]).max()
        same = np.array_equal(got["greedy_ids"], ref["dequant_greedy_ids"])
        q = row_rel(got["logits"], ref["logits"])
        top1 = int((got["logits"].argmax(1) == ref["logits"].argmax(1)).sum())
        ok &= e1 < 1e-3 and e2 < 1e-3 and same
        print(f"{fmt:<6} {e1:>19.2e} {e2:>9.2e} {('same' if same else 'DIFFER'):>7} | {q.max():>25.2e} {np.median(q):>8.2e} {top1:>3}/{len(q)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
