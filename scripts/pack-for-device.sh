#!/usr/bin/env bash
# Prepares build-carry/ for a run on the lent GPU machine (the `device` tool): the CUDA build of
# gemrt and its tests (built here: the GPU machine has no Debian packages for the test deps), and
# the fixtures the GPU tests read (../shared does not travel). The GPU machine runs
# scripts/device-cuda-tests.sh over the carried folder.
#
#   bash scripts/pack-for-device.sh [hf|gguf|all]   (default all: the binaries travel xz-compressed,
#                                                   which keeps every fixture, the repository and
#                                                   them under a call's 64 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
fixtures=../shared/fixtures
# The configure step's own message says whether the backend is in (CMAKE_CUDA_COMPILER is not always
# a cache entry: CMakeLists.txt sets it as a plain variable when nvcc is only in /usr/local/cuda).
configure=$(cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DGEMRT_CUDA=ON)
grep -q "gemrt: CUDA backend on" <<<"$configure" ||
  { echo "no CUDA compiler found: cannot build the CUDA backend here" >&2; exit 1; }
cmake --build build-cuda -j"$(nproc)" --target gemrt_cli gemrt_tests
bins=(gemrt gemrt_tests)
# The decode-product micro-benchmark (needs Debian's libbenchmark, which travels beside it:
# run it there with LD_LIBRARY_PATH=build-carry/bin).
if cmake --build build-cuda -j"$(nproc)" --target gemrt_bench_cuda_matvec 2>/dev/null; then
  lib=$(ldd build-cuda/bin/gemrt_bench_cuda_matvec | awk '/libbenchmark/ {print $3}')
  cp "$lib" build-cuda/bin/ && bins+=(gemrt_bench_cuda_matvec "$(basename "$lib")")
fi
# The media decoders' shared libraries (libpng, libjpeg-turbo, libsoxr and its OpenMP runtime),
# which the GPU machine may lack: run there with LD_LIBRARY_PATH=build-carry/bin.
for lib in $(ldd build-cuda/bin/gemrt | awk '/libpng|libjpeg|libsoxr|libgomp/ {print $3}'); do
  cp "$lib" build-cuda/bin/ && bins+=("$(basename "$lib")")
done
rm -rf build-carry
mkdir -p build-carry/fixtures/hf build-carry/fixtures/gguf
# Stripped and packed with xz -9e (its large window finds the repeats between the binaries):
# ~6 MB instead of ~13, which leaves room beside them for llama.cpp's llama-bench in one call.
stage=$(mktemp -d)
cp "${bins[@]/#/build-cuda/bin/}" "$stage"/
strip "$stage"/gemrt "$stage"/gemrt_tests
[[ -f $stage/gemrt_bench_cuda_matvec ]] && strip "$stage"/gemrt_bench_cuda_matvec
XZ_OPT=-9e tar -C "$stage" -cJf build-carry/bin.tar.xz "${bins[@]}"
rm -rf "$stage"
if [[ $what == hf || $what == all ]]; then
  for f in gemma1-pub gemma2-pub gemma3-pub gemma3-linrope-pub gemma3-bf16-pub gemma3n-pub gemma4-dense-pub gemma4-e2b-pub gemma4-moe-pub gemma4u-pub gemma3-siglip-pub gemma4-towers-pub; do
    cp -r "$fixtures/hf/$f" build-carry/fixtures/hf/
  done
  # The media files and processor outputs are for the CPU's preprocessing tests only.
  rm -f build-carry/fixtures/hf/gemma4u-pub/{image.png,audio.wav,image_processed.safetensors,audio_processed.safetensors}
  cp "$fixtures"/gguf/gemma3-tiny-pub-F16.* build-carry/fixtures/gguf/
fi
if [[ $what == gguf || $what == all ]]; then
  cp "$fixtures"/gguf/gemma3-tiny-pub-*.gguf "$fixtures"/gguf/gemma3-tiny-pub-*.safetensors build-carry/fixtures/gguf/
  [[ $what == gguf ]] && rm -f build-carry/fixtures/gguf/gemma3-tiny-pub-F16.*
fi
du -sh build-carry
