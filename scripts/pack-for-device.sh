#!/usr/bin/env bash
# Prepares build-carry/ for a run on the lent GPU machine (the `device` tool): the CUDA build of
# gemrt and its tests (built here: the GPU machine has no Debian packages for the test deps), and
# what the run needs beside them (../shared does not travel). The binaries travel xz-compressed.
#
#   bash scripts/pack-for-device.sh [tests|hf|gguf|all|bench]
#     tests (default): every HF fixture and the Q4_0 / Q8_0 / Q4_K / Q5_K / Q6_K GGUF ones, for
#            scripts/device-cuda-tests.sh and bench/first_call_on_device.sh (with the repository,
#            about 61 of a call's 64 MiB);
#     hf, gguf: the HF fixtures (+ the F16 GGUF) / every GGUF format, a call each;
#     all:   every fixture (more than one call holds beside the repository since session 14);
#     bench: no fixtures; the gguf wheel, the donor tokenizer (xz) and build-llama/llama.cpp.tar.xz
#            for bench/cuda_peers_on_device.sh and bench/llamacpp_cuda_on_device.sh (carry
#            build-carry and build-llama; the Gemma 3 270M GGUF of scripts/fetch-model.sh gives the
#            tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-tests}
case $what in tests|hf|gguf|all|bench) ;; *) echo "unknown mode '$what' (tests, hf, gguf, all or bench)" >&2; exit 2 ;; esac
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
if [[ $what == hf || $what == all || $what == tests ]]; then
  for f in gemma1-pub gemma2-pub gemma3-pub gemma3-linrope-pub gemma3-bf16-pub gemma3n-pub gemma4-dense-pub gemma4-e2b-pub gemma4-moe-pub gemma4u-pub gemma3-siglip-pub gemma4-towers-pub; do
    cp -r "$fixtures/hf/$f" build-carry/fixtures/hf/
  done
  # The media files and processor outputs are for the CPU's preprocessing tests only.
  rm -f build-carry/fixtures/hf/gemma4u-pub/{image.png,audio.wav,image_processed.safetensors,audio_processed.safetensors}
  [[ $what == tests ]] || cp "$fixtures"/gguf/gemma3-tiny-pub-F16.* build-carry/fixtures/gguf/
fi
if [[ $what == tests ]]; then
  cp "$fixtures"/gguf/gemma3-tiny-pub-{Q4_0,Q8_0,Q4_K,Q5_K,Q6_K}.* build-carry/fixtures/gguf/
fi
if [[ $what == bench ]]; then
  rm -rf build-carry/fixtures
  venv=${GEMRT_CACHE:-$HOME/.cache/gemrt}/gguf-venv  # gguf and numpy, outside the repository
  [[ -x $venv/bin/python ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q gguf==0.19.0; }
  mkdir -p build-carry/whl
  "$venv/bin/pip" download -q --no-deps gguf==0.19.0 -d build-carry/whl
  "$venv/bin/python" bench/make_tokenizer_donor.py "$(bash scripts/fetch-model.sh)" build-carry/donor-tokenizer.gguf
  xz -9 build-carry/donor-tokenizer.gguf
  bash bench/pack_llamacpp_for_device.sh
fi
if [[ $what == gguf || $what == all ]]; then
  cp "$fixtures"/gguf/gemma3-tiny-pub-*.gguf "$fixtures"/gguf/gemma3-tiny-pub-*.safetensors build-carry/fixtures/gguf/
  [[ $what == gguf ]] && rm -f build-carry/fixtures/gguf/gemma3-tiny-pub-F16.*
fi
# The fixtures packed with xz too (random weights: 25 MB -> 11 MB for `tests`, which with the
# repository and the binaries was just over the 64 MiB that travel);
# scripts/device-cuda-tests.sh unpacks them.
if [[ -d build-carry/fixtures ]]; then
  XZ_OPT=-9 tar -C build-carry -cJf build-carry/fixtures.tar.xz fixtures && rm -rf build-carry/fixtures
fi
du -sh build-carry
