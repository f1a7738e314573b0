#!/usr/bin/env bash
# On the GPU machine (device tool): makes a synthetic Gemma 3 GGUF there and times gemrt on it.
# Carry build-carry with bin/gemrt (scripts/pack-for-device.sh), donor-tokenizer.gguf
# (bench/make_tokenizer_donor.py) and whl/gguf-*.whl (pip download --no-deps gguf).
#   bash bench/cuda_bench_on_device.sh [SHAPE=1b] [TYPE=BF16] [gemrt bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1b}; type=${2:-BF16}; shift $(( $# > 2 ? 2 : $# ))
python3 -m pip install -q --no-index --no-deps --target /tmp/site build-carry/whl/*.whl
export PYTHONPATH=/tmp/site
file=/tmp/syn/gemma3-$shape-synthetic-$type.gguf
[[ -f $file ]] || python3 bench/make_synthetic_gguf.py --shape "$shape" --out-dir /tmp/syn \
  --donor build-carry/donor-tokenizer.gguf --types "$type" >/dev/null
chmod +x build-carry/bin/gemrt
build-carry/bin/gemrt bench --device cuda "$file" "$@"
