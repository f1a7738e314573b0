#!/usr/bin/env python3
"""Device memory copy bandwidth on the GPU machine: the denominator of issue 5's decode limit
(weight bytes read per token / this bandwidth).

A 1 GiB device-to-device copy with torch, timed with CUDA events over 20 repetitions after 3
warm-up copies; bytes counted as read + written (2 GiB per copy). Prints the best and median GB/s.
    python3 bench/cuda_copy_bandwidth.py [--gib 1] [--reps 20]
"""
import argparse
import statistics

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    n = int(args.gib * (1 << 30))
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    src.fill_(1)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    rates = []
    for _ in range(args.reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        rates.append(2 * n / (start.elapsed_time(end) / 1e3) / 1e9)
    print(f"copy bandwidth ({torch.cuda.get_device_name()}, {args.gib:g} GiB device to device, "
          f"read + write): best {max(rates):.0f} GB/s, median {statistics.median(rates):.0f} GB/s")


if __name__ == "__main__":
    main()
