#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry as scripts/pack-for-device.sh makes it): the
# GPU tests, then what session 15's changes do, in one call (about 400 s on an H100):
#   1. scripts/device-cuda-tests.sh (every CUDA test over the carried fixtures);
#   2. decode side by side: the activation rounded once per product, K-quant pairs in one launch
#      (the default) against GEMRT_CUDA_QGLOBAL=0 (rounded in every block, one launch per dtype),
#      4B and 12B, Q4_K_M and Q8_0;
#   3. the 4B Q4_K_M decode step per kernel (bench/cuda_profile_on_device.sh, Nsight Compute);
#   4. 12B prefill of 4096 tokens from BF16, F16 and Q4_K_M weights (session 14's two fixes: F16
#      stored as bfloat16, 256-row conversion chunks).
#   bash bench/first_call_on_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
bash scripts/device-cuda-tests.sh > "${OUT:-/tmp}/cuda_tests.log" 2>&1
grep -E '^\[  (PASSED|FAILED) |^\[  FAILED  \]|tests? ran' "${OUT:-/tmp}/cuda_tests.log" | head -30
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
short='s/| synthetic.*bf16) //'
bash bench/switch_ab_on_device.sh 4b,12b Q4_K_M,Q8_0 - GEMRT_CUDA_QGLOBAL=0 | sed "$short"
bash bench/cuda_profile_on_device.sh 4b Q4_K_M 2>&1 | tail -30
for type in BF16 F16 Q4_K_M; do
  build-carry/bin/gemrt bench --device cuda bench/configs/gemma3-12b.json --synthetic --weight-type "$type" \
    -p 4096 -n 0 -r 2 | grep pp4096 | sed "$short"
done
