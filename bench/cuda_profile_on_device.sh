#!/usr/bin/env bash
# On the GPU machine (device tool): where a decode step's GPU time goes, per kernel, measured by
# Nsight Compute (each kernel alone, caches flushed, clocks left alone) on a Gemma 3 shape with
# random weights (`gemrt bench --synthetic`). Carry build-carry with bin.tar.xz.
#   bash bench/cuda_profile_on_device.sh [SHAPE=1b] [TYPE=BF16]
# Writes the raw CSV to $OUT/ncu-SHAPE-TYPE.csv (when OUT is set) and prints bench/ncu_summary.py's
# table for the last decode step.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1b}; type=${2:-BF16}
if [[ ! -x build-carry/bin/gemrt ]]; then
  mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz
fi
csv=${OUT:-/tmp}/ncu-$shape-$type.csv
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || ls /usr/local/cuda/bin/ncu)
GEMRT_CUDA_GRAPHS=0 "$ncu" --clock-control none --csv \
  --metrics gpu__time_duration.sum,dram__bytes_read.sum,launch__grid_size,launch__registers_per_thread \
  build-carry/bin/gemrt bench --device cuda "bench/configs/gemma3-$shape.json" --synthetic --weight-type "$type" \
  -p 0 -n 2 -r 1 > "$csv" 2> "${csv%.csv}.err" || { tail -20 "${csv%.csv}.err"; exit 1; }
python3 bench/ncu_summary.py "$csv" --steps 1
