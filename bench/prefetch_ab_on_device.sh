#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry): the decode products' L2 prefetch depth
# (GEMRT_CUDA_PREFETCH=N pieces per thread before pdl_wait; unset = the kernels' defaults, 4
# chunks for BF16, q_unroll units for the block formats), side by side in one call, alternating.
#   bash bench/prefetch_ab_on_device.sh [SHAPES=1b,4b] [TYPES=BF16,Q4_K_M] [DEPTHS=default,16,64]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build-carry/bin/gemrt ]] || { mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz; }
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
IFS=, read -ra shapes <<< "${1:-1b,4b}"
IFS=, read -ra types <<< "${2:-BF16,Q4_K_M}"
IFS=, read -ra depths <<< "${3:-default,16,64}"
for shape in "${shapes[@]}"; do
  for type in "${types[@]}"; do
    for round in 1 2; do
      for d in "${depths[@]}"; do
        if [[ $d == default ]]; then unset GEMRT_CUDA_PREFETCH; else export GEMRT_CUDA_PREFETCH=$d; fi
        printf '%s %s prefetch=%s round %d: ' "$shape" "$type" "$d" "$round"
        build-carry/bin/gemrt bench --device cuda "bench/configs/gemma3-$shape.json" --synthetic \
          --weight-type "$type" -p 0 -n 128 -r 3 2>&1 | grep -E 'tg128' | tr -s ' ' | tr '\n' ' '
        echo
      done
    done
  done
done
