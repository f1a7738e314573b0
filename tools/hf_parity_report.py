#!/usr/bin/env python3
"""Report gemrt's distance to the transformers references of the HF fixtures.

For each checkpoint folder (default: ../shared/fixtures/hf/{gemma1,gemma2,gemma3,gemma3-linrope,
gemma3-bf16}-pub and tests/data/hf/*), runs `gemrt logits --inputs reference.safetensors --greedy N`
and prints the largest per-row relative error ||d||/||ref|| of `logits` (vs `logits`) and of
`step_logits` (vs the matching rows of `full_logits`), and whether greedy ids are identical.
Needs numpy and safetensors. The CI tests assert the same contract (< 1e-4, identical ids).

Usage: python3 tools/hf_parity_report.py [--gemrt build/bin/gemrt] [DIR ...]
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file


def max_row_rel(a: np.ndarray, ref: np.ndarray) -> float:
    a, ref = a.astype(np.float64), ref.astype(np.float64)
    return float(np.max(np.linalg.norm(a - ref, axis=1) / np.linalg.norm(ref, axis=1)))


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemrt", default=str(root / "build/bin/gemrt"))
    ap.add_argument("dirs", nargs="*")
    a = ap.parse_args()
    dirs = [Path(d) for d in a.dirs] or (
        [root.parent / "shared/fixtures/hf" / f"{n}-pub" for n in ("gemma1", "gemma2", "gemma3", "gemma3-linrope", "gemma3-bf16")]
        + sorted(p for p in (root / "tests/data/hf").iterdir() if (p / "reference.safetensors").exists()))
    print(f"{'checkpoint':<22} {'max logits err':>15} {'max step err':>13} {'greedy':>8}")
    worst = 0.0
    for d in dirs:
        ref = load_file(str(d / "reference.safetensors"))
        n = len(ref["greedy_ids"])
        t = len(ref["input_ids"])
        extra = ["--rope-freqs-in-weight-dtype"] if d.name == "gemma3-bf16-pub" else []
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "o.safetensors"
            subprocess.run([a.gemrt, "logits", "--model", str(d), "--inputs", str(d / "reference.safetensors"),
                            "--greedy", str(n), "--out", str(out), *extra], check=True)
            got = load_file(str(out))
        e1 = max_row_rel(got["logits"], ref["logits"])
        e2 = max_row_rel(got["step_logits"], ref["full_logits"][t - 1:t - 1 + n])
        same = bool(np.array_equal(got["greedy_ids"], ref["greedy_ids"]))
        worst = max(worst, e1, e2)
        print(f"{d.name:<22} {e1:>15.2e} {e2:>13.2e} {('same' if same else 'DIFFER'):>8}")
    print(f"worst row error: {worst:.2e} (contract: < 1e-4)")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
