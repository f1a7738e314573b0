#!/usr/bin/env python3
"""Sums an Nsight Compute CSV (`ncu --csv --metrics gpu__time_duration.sum,dram__bytes_read.sum ...`)
by kernel name and grid size over the last `--steps` decode steps of a `gemrt bench -n N` run.

A decode step is recognised by its last kernel: the one whose name matches `--step-end`
(default: the LM head's matrix-vector product, the largest kernel of a step). Prints, per kernel
name: launches per step, microseconds per step, DRAM bytes read per step and the bandwidth those
bytes make over that time, then the step total.
    python3 bench/ncu_summary.py ncu.csv [--steps 1]
"""
import argparse
import collections
import csv
import re
import sys


def load(path):
    kernels = collections.OrderedDict()  # id -> {name, metrics}
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for row in csv.DictReader(lines):
        k = kernels.setdefault(row["ID"], {"name": row["Kernel Name"], "m": {}})
        value = row["Metric Value"].replace(",", "")
        unit = row["Metric Unit"]
        try:
            v = float(value)
        except ValueError:
            continue
        scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3,
                 "second": 1e6, "s": 1e6,
                 "byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9}.get(unit, 1.0)
        k["m"][row["Metric Name"]] = v * scale
    return list(kernels.values())


def short(name):
    name = re.sub(r"\(.*", "", name)          # drop argument lists
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"gemrt::cuda::(\(anonymous namespace\)::)?", "", name)
    return name[:90]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--steps", type=int, default=1)
    args = ap.parse_args()
    ks = load(args.csv)
    if not ks:
        sys.exit("no kernels in " + args.csv)
    # Step boundaries: a step ends after the kernel with the most DRAM bytes read of the run
    # among matvec launches (the LM head), searched from the end.
    heads = [i for i, k in enumerate(ks) if "matvec" in k["name"]]
    big = max(k["m"].get("dram__bytes_read.sum", 0) for k in ks)
    ends = [i for i in heads if ks[i]["m"].get("dram__bytes_read.sum", 0) > 0.5 * big]
    if len(ends) < args.steps + 1:
        sys.exit(f"found {len(ends)} step ends, need {args.steps + 1}")
    lo, hi = ends[-args.steps - 1] + 1, ends[-1] + 1
    groups = collections.OrderedDict()
    for k in ks[lo:hi]:
        key = f'{short(k["name"])} grid {k["m"].get("launch__grid_size", 0):.0f}'
        g = groups.setdefault(key, [0, 0.0, 0.0])
        g[0] += 1
        g[1] += k["m"].get("gpu__time_duration.sum", 0.0)
        g[2] += k["m"].get("dram__bytes_read.sum", 0.0)
    n = args.steps
    tot_t = sum(g[1] for g in groups.values()) / n
    tot_b = sum(g[2] for g in groups.values()) / n
    print(f"{'kernel, grid':<72} {'launches':>8} {'us/step':>9} {'MB/step':>9} {'GB/s':>7}")
    for name, (c, t, b) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:<72} {c / n:>8.0f} {t / n:>9.1f} {b / n / 1e6:>9.1f} {b / max(t, 1e-9) / 1e3:>7.0f}")
    print(f"{'total':<72} {(hi - lo) / n:>8.0f} {tot_t:>9.1f} {tot_b / 1e6:>9.1f} {tot_b / max(tot_t, 1e-9) / 1e3:>7.0f}")


if __name__ == "__main__":
    main()
