#!/usr/bin/env bash
# On the GPU machine (device tool): times gemrt on a Gemma 3 shape with random weights made in
# memory (`gemrt bench --synthetic`, shapes in bench/configs/; no weight file, so the 27B shape
# needs no 54 GB download). Carry build-carry with bin.tar.xz (scripts/pack-for-device.sh).
#   bash bench/cuda_bench_on_device.sh [SHAPE=1b] [TYPE=BF16] [gemrt bench flags...]
# SHAPE: 270m, 1b, 4b, 12b, 27b. TYPE: BF16, F16, Q8_0, Q4_K_M, ... (gemrt bench --help).
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1b}; type=${2:-BF16}; shift $(( $# > 2 ? 2 : $# ))
if [[ ! -x build-carry/bin/gemrt ]]; then
  mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz
fi
build-carry/bin/gemrt bench --device cuda "bench/configs/gemma3-$shape.json" --synthetic --weight-type "$type" "$@"
