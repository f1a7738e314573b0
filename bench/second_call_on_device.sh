#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry), after bench/first_call_on_device.sh:
#   1. the 4B Q4_K_M decode step per kernel (bench/cuda_profile_on_device.sh, Nsight Compute:
#      what the one-token attention's 24 us a layer are);
#   2. 12B prefill of 4096 tokens from BF16, F16 and Q4_K_M weights (session 14's two fixes: F16
#      stored as bfloat16, 256-row conversion chunks; not yet measured);
#   3. session 16's decode switches on 1B and 12B Q4_K_M (as the first call did on 4B);
#   4. the one-token attention's key splits: at least 8 keys each (the default) against 32 and
#      128 (GEMRT_CUDA_ATTN_MIN_CHUNK: fewer splits to merge, longer chains in each), 4B decode.
#   bash bench/second_call_on_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
[[ -x build-carry/bin/gemrt ]] || { mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz; }
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
short='s/| synthetic.*bf16) //'
bash bench/cuda_profile_on_device.sh 4b Q4_K_M 2>&1 | tail -30
for type in BF16 F16 Q4_K_M; do
  build-carry/bin/gemrt bench --device cuda bench/configs/gemma3-12b.json --synthetic --weight-type "$type" \
    -p 4096 -n 0 -r 2 | grep pp4096 | sed "$short"
done
bash bench/switch_ab_on_device.sh 1b,12b Q4_K_M - GEMRT_CUDA_HANDOFF=0 GEMRT_CUDA_QGLOBAL_MIN_K=4096 \
  GEMRT_CUDA_ROUND_NEXT=1 | sed "$short"
bash bench/switch_ab_on_device.sh 4b Q4_K_M,BF16 - GEMRT_CUDA_ATTN_MIN_CHUNK=32 GEMRT_CUDA_ATTN_MIN_CHUNK=128 |
  sed "$short"
