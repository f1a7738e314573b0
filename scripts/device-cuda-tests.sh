#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry): runs the CUDA tests over the fixtures that
# scripts/pack-for-device.sh carried; GGUF formats whose files were not carried are left out.
# Writes the whole log to $OUT/cuda_tests.log when OUT is set.
set -uo pipefail
cd "$(dirname "$0")/.."
export GEMRT_FIXTURES=$PWD/build-carry/fixtures GEMRT_TEST_DATA=$PWD/tests/data
[[ -f build-carry/bin.tar.xz ]] && mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz
[[ -f build-carry/fixtures.tar.xz && ! -d build-carry/fixtures ]] && tar -C build-carry -xJf build-carry/fixtures.tar.xz
chmod +x build-carry/bin/*
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}  # libs carried beside the binaries
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
filter='CudaOps*'
[[ -d build-carry/fixtures/hf/gemma3-pub ]] && filter+=':Fixtures/HfParity.Cuda*:HfParityBf16.*'
[[ -d build-carry/fixtures/hf/gemma4u-pub ]] && filter+=':Gemma4Unified.Cuda*'
[[ -d build-carry/fixtures/hf/gemma3-siglip-pub ]] && filter+=':Gemma3Vision.Cuda*'
[[ -d build-carry/fixtures/hf/gemma4-towers-pub ]] && filter+=":Gemma4Vision.Cuda*:Gemma4Audio.Cuda*:MmprojGemma4.Cuda*"
[[ -d build-carry/fixtures/hf/gemma3-siglip-pub ]] && filter+=":MmprojGemma3.Cuda*"
formats=(F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K)
all_formats=1
for i in "${!formats[@]}"; do
  if [[ -f build-carry/fixtures/gguf/gemma3-tiny-pub-${formats[$i]}.gguf ]]; then
    filter+=":Formats/GgufParity.CudaMatchesLlamaCppOnDequantizedWeights/$i"
  else
    all_formats=0
  fi
done
(( all_formats )) && filter+=':GgufParityBf16.*'
filter+=':Fusion.*'
build-carry/bin/gemrt_tests --gtest_filter="$filter" --gtest_list_tests | grep -c '^  ' | sed 's/^/tests selected: /'
build-carry/bin/gemrt_tests --gtest_filter="$filter" 2>&1 | tee "${OUT:-/tmp}/cuda_tests.log" |
  grep -E '^\[ +(OK|FAILED|PASSED|SKIPPED) |tests ran|^\[ bf16'
