#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry): decode speed under environment switches,
# side by side in one call, each variant run twice, alternating (synthetic Gemma 3 shapes,
# `gemrt bench --device cuda ... -p 0 -n 128 -r 3`).
#   bash bench/switch_ab_on_device.sh SHAPES TYPES VARIANT...
# A variant is a space-separated list of NAME=VALUE settings ("" or "-": none), e.g.
#   bash bench/switch_ab_on_device.sh 1b,4b BF16,Q4_K_M - GEMRT_CUDA_EVEN_GRID=1
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build-carry/bin/gemrt ]] || { mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz; }
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
IFS=, read -ra shapes <<< "$1"
IFS=, read -ra types <<< "$2"
shift 2
for shape in "${shapes[@]}"; do
  for type in "${types[@]}"; do
    for round in 1 2; do
      for variant in "$@"; do
        settings=(); [[ $variant == - ]] || read -ra settings <<< "$variant"
        printf '%s %s [%s] round %d: ' "$shape" "$type" "${variant:--}" "$round"
        env "${settings[@]}" build-carry/bin/gemrt bench --device cuda "bench/configs/gemma3-$shape.json" --synthetic \
          --weight-type "$type" -p 0 -n 128 -r 3 2>&1 | grep -E 'tg128' | tr -s ' ' | tr '\n' ' '
        echo
      done
    done
  done
done
