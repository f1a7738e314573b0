#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry as scripts/pack-for-device.sh makes it): the
# GPU tests and what sessions 15 and 16 changed in decode, in one call (about 400 s on an H100):
#   1. scripts/device-cuda-tests.sh five times: as built; with GEMRT_CUDA_QGLOBAL_MIN_K=1000000
#      (every product stages its codes in each block again, K-quant pairs included, but the codes
#      handed from attention / gated products are still read); with GEMRT_CUDA_HANDOFF=0; with
#      GEMRT_CUDA_ROUND_NEXT=1 (o / down's last block rounds the next product's NormAdd); with
#      GEMRT_CUDA_ATTN_THREADS=256 (the one-token attention on 256 threads a block);
#   2. 4B decode side by side (bench/switch_ab_on_device.sh, tg128): the default (codes handed to
#      o_proj and down_proj, the rest rounded once per product, K-quant pairs in one launch)
#      against GEMRT_CUDA_HANDOFF=0 (session 15's way), GEMRT_CUDA_QGLOBAL_MIN_K=4096 (the
#      hidden-width products stage in every block: no rounding launch left) and
#      GEMRT_CUDA_QGLOBAL=0 (session 14's way) and GEMRT_CUDA_ROUND_NEXT=1 (no rounding launch
#      left, the rounding still once per product), Q4_K_M and Q8_0; the one-token attention on
#      256 threads a block (GEMRT_CUDA_ATTN_THREADS=256) and with more key splits
#      (GEMRT_CUDA_ATTN_MIN_CHUNK=4, 2), Q4_K_M and BF16;
#   3. the 4B decode step inside the captured graph, Q4_K_M and BF16 (GEMRT_CUDA_TIMELINE=1: each
#      kernel's boundary after the one before and its own time, per step kind).
# The 4B profile, the 12B prefill and more switches follow in bench/second_call_on_device.sh.
#   bash bench/first_call_on_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
log=${OUT:-/tmp}
for variant in - GEMRT_CUDA_QGLOBAL_MIN_K=1000000 GEMRT_CUDA_HANDOFF=0 GEMRT_CUDA_ROUND_NEXT=1 \
    GEMRT_CUDA_ATTN_THREADS=256; do
  settings=(); [[ $variant == - ]] || settings=("$variant")
  dir=$log/tests${variant//[^A-Za-z0-9_]/_}  # the whole log: $dir/cuda_tests.log (one file a variant)
  mkdir -p "$dir"
  env OUT="$dir" "${settings[@]}" bash scripts/device-cuda-tests.sh > /tmp/summary.txt 2>&1
  echo "GPU tests [$variant]:"
  grep -E '^\[  (PASSED|FAILED) |^\[  FAILED  \]|tests? ran' /tmp/summary.txt | head -20
done
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
short='s/| synthetic.*bf16) //'
bash bench/switch_ab_on_device.sh 4b Q4_K_M,Q8_0 - GEMRT_CUDA_HANDOFF=0 GEMRT_CUDA_QGLOBAL_MIN_K=4096 \
  GEMRT_CUDA_QGLOBAL=0 GEMRT_CUDA_ROUND_NEXT=1 | sed "$short"
bash bench/switch_ab_on_device.sh 4b Q4_K_M,BF16 - GEMRT_CUDA_ATTN_THREADS=256 GEMRT_CUDA_ATTN_MIN_CHUNK=4 \
  GEMRT_CUDA_ATTN_MIN_CHUNK=2 | sed "$short"
for run in "Q4_K_M" "BF16" "Q4_K_M GEMRT_CUDA_ROUND_NEXT=1"; do
  read -r type setting <<< "$run"
  echo "== timeline: 4B $type ${setting:-}"
  env GEMRT_CUDA_TIMELINE=1 ${setting:+"$setting"} build-carry/bin/gemrt bench --device cuda \
    bench/configs/gemma3-4b.json --synthetic --weight-type "$type" -p 0 -n 16 -r 1 2>&1 |
    grep -A40 'cuda timeline' | grep -v '^$'
done
