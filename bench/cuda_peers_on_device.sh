#!/usr/bin/env bash
# On the GPU machine (device tool): issue 5's benchmark for one Gemma 3 shape, gemrt beside both
# peers in one run:
#   1. Hugging Face transformers (bf16, sdpa, static KV cache) and gemrt's bf16 mode on the same
#      random checkpoint (bench/cuda_side_by_side.py);
#   2. llama.cpp's CUDA llama-bench -ngl 99 and gemrt on the same synthetic GGUF files, F16 and
#      Q4_K_M by default (bench/llamacpp_cuda_on_device.sh, which says what to carry for it).
#   bash bench/cuda_peers_on_device.sh SHAPE [TYPES=F16,Q4_K_M] [bench flags, default -p 512,4096 -n 128 -r 3]
# Both tables go to stdout and to $OUT/peers-SHAPE.txt when OUT is set. The transformers
# checkpoint is deleted before the GGUF files are made (a 12B shape's files would not fit the
# machine's disk together).
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1b}; types=${2:-F16,Q4_K_M}; shift $(( $# > 2 ? 2 : $# ))
flags=("$@")
(( ${#flags[@]} )) || flags=(-p 512,4096 -n 128 -r 3)
[[ -x build-carry/bin/gemrt ]] || { mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz; }
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}  # the media libraries carried beside gemrt
log=${OUT:-/tmp}/peers-$shape.txt
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
  python3 bench/cuda_copy_bandwidth.py
  PYTHONUNBUFFERED=1 python3 bench/cuda_side_by_side.py --shape "$shape" --gemrt build-carry/bin/gemrt \
    --out-dir /tmp/gemrt-side-by-side "${flags[@]}"
  rm -rf /tmp/gemrt-side-by-side
  bash bench/llamacpp_cuda_on_device.sh "$shape" "$types" "${flags[@]}"
} 2>&1 | tee "$log"
