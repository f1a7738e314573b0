#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry as scripts/pack-for-device.sh makes it): the
# GPU tests, then where a decode step's time goes, in one call:
#   1. scripts/device-cuda-tests.sh (every CUDA test over the carried fixtures);
#   2. the decode products alone, 4B shapes (gemrt_bench_cuda_matvec: BF16 and the int8 products),
#      then with GEMRT_CUDA_EVEN_GRID=1 and with GEMRT_CUDA_QGLOBAL=0, then decode side by side;
#   3. bench/skip_costs_on_device.sh for the 4B shape in Q4_K_M (each step kind's cost inside the
#      captured graph);
#   4. Nsight Compute's stall view of two int8 products;
#   5. the leave-one-out costs of 4B BF16.
#   bash bench/first_call_on_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
bash scripts/device-cuda-tests.sh 2>&1 | tail -40
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
products() {
  build-carry/bin/gemrt_bench_cuda_matvec --benchmark_min_time=0.05 \
    --benchmark_filter='matvec/(BF16|Q4_K-i8|Q6_K-i8|Q8_0-i8)/4b_' 2>&1 | grep -v '^\*\*\*'
}
echo "== decode products alone"
products
# Switches, products alone then decode side by side: every block of a product walking the same
# number of row groups (GEMRT_CUDA_EVEN_GRID=1, an experiment); the activation rounded in every
# block of a product instead of once into scratch (GEMRT_CUDA_QGLOBAL=0, session 14's way).
echo "== decode products alone, GEMRT_CUDA_EVEN_GRID=1"
GEMRT_CUDA_EVEN_GRID=1 products
echo "== decode products alone, GEMRT_CUDA_QGLOBAL=0"
GEMRT_CUDA_QGLOBAL=0 products
bash bench/switch_ab_on_device.sh 1b,4b Q4_K_M - GEMRT_CUDA_EVEN_GRID=1 GEMRT_CUDA_QGLOBAL=0
bash bench/switch_ab_on_device.sh 4b BF16 - GEMRT_CUDA_EVEN_GRID=1
bash bench/skip_costs_on_device.sh 4b Q4_K_M
# Nsight Compute's view of two int8 products with a large fixed cost (bench/RESULTS.md, sessions
# 10 and 12): the 4B down projection in Q6_K (k = 10240) and the 4B q/k/v in Q4_K (4 MB):
# where their warps stall. The whole report goes to $OUT/ncu-products.txt.
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || ls /usr/local/cuda/bin/ncu)
for f in 'matvec/Q6_K-i8/4b_down/' 'matvec/Q4_K-i8/4b_qkv/'; do
  echo "== ncu: $f"
  "$ncu" --clock-control none -k regex:quant_matvec --launch-skip 20 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --section SchedulerStats --section MemoryWorkloadAnalysis \
    build-carry/bin/gemrt_bench_cuda_matvec --benchmark_min_time=0.01 --benchmark_filter="$f" 2>&1 |
    tee -a "${OUT:-/tmp}/ncu-products.txt" |
    grep -E 'Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit|Warp Cycles Per Issued|Issued Warp Per|No Eligible|Active Warps Per|Eligible Warps|Grid Size|Waves Per SM|L1/TEX Hit|L2 Hit|Stall|stall' | head -40
done
bash bench/skip_costs_on_device.sh 4b BF16
