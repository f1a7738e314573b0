#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry): the decode products' L2 prefetch depth
# (GEMRT_CUDA_PREFETCH=N pieces per thread before pdl_wait; "default" = the kernels' own, 4
# chunks for BF16, q_unroll units for the block formats), through bench/switch_ab_on_device.sh.
#   bash bench/prefetch_ab_on_device.sh [SHAPES=1b,4b] [TYPES=BF16,Q4_K_M] [DEPTHS=default,16,64]
set -euo pipefail
cd "$(dirname "$0")/.."
IFS=, read -ra depths <<< "${3:-default,16,64}"
variants=()
for d in "${depths[@]}"; do
  if [[ $d == default ]]; then variants+=(-); else variants+=("GEMRT_CUDA_PREFETCH=$d"); fi
done
exec bash bench/switch_ab_on_device.sh "${1:-1b,4b}" "${2:-BF16,Q4_K_M}" "${variants[@]}"
