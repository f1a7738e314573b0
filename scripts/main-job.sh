#!/usr/bin/env bash
# The main job: build gemrt and generate tokens with it.
# Until real-model support lands, it runs a tiny random-weight Gemma 3 checkpoint from the shared
# fixtures and prints the greedy continuation (token ids) of a short prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target gemrt_cli
model=${1:-../shared/fixtures/hf/gemma3-pub}
echo "gemrt generate --model $model --ids 2,17,99,123 -n 12"
./build/bin/gemrt generate --model "$model" --ids 2,17,99,123 -n 12
