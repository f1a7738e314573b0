#!/usr/bin/env bash
# Prepares build-llama/llama.cpp.tar.xz: the llama.cpp sources inside the registry's
# llama-cpp-python source package, pruned to what a CUDA build of llama-bench needs (no model
# vocabularies, docs, web UI, other GPU backends), small enough to carry to the GPU machine.
# There, bench/llamacpp_cuda_on_device.sh builds and runs it.
#   bash bench/pack_llamacpp_for_device.sh [--build] [llama_cpp_python-X.Y.Z.tar.gz]
#   (default: pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36)
# --build also compiles llama-bench here with CUDA for sm_90 (nvcc of the CUDA toolkit; about two
# hours on two cores) and a CPU-only llama-quantize into build-llama/llama-bins.tar.xz, which the GPU
# machine then runs as they are (its CUDA runtime and cuBLAS from /usr/local/cuda/lib64).
set -euo pipefail
cd "$(dirname "$0")/.."
build=0
[[ ${1:-} == --build ]] && { build=1; shift; }
sdist=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -z $sdist ]]; then
  python3 -m pip download -q --no-binary :all: --no-deps -d "$work" llama-cpp-python==0.3.36
  sdist=$(ls "$work"/llama_cpp_python-*.tar.gz)
fi
tar -C "$work" -xzf "$sdist"
src=$(ls -d "$work"/llama_cpp_python-*/vendor/llama.cpp)
rm -rf "$src"/{models,docs,examples,benches,tests,pocs,app,scripts,conversion,tools/ui,tools/server,.github}
for b in "$src"/ggml/src/ggml-*/; do
  case $(basename "$b") in ggml-cpu|ggml-cuda|ggml-blas|ggml-rpc) ;; *) rm -rf "$b" ;; esac
done
mkdir -p build-llama
tar -C "$(dirname "$src")" -cJf build-llama/llama.cpp.tar.xz llama.cpp
du -h build-llama/llama.cpp.tar.xz
if (( build )); then
  cmake -S "$src" -B "$work/b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >/dev/null
  cmake --build "$work/b" --target llama-bench -j"$(nproc)"
  # llama-quantize needs no GPU: a CPU-only build (AVX2, which every x86-64 host of these GPUs
  # has) is a few MB, where the CUDA one (~41 MB compressed, as large as llama-bench) would not
  # fit in a call beside llama-bench.
  cmake -S "$src" -B "$work/q" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=OFF -DGGML_NATIVE=OFF \
    -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF >/dev/null
  cmake --build "$work/q" --target llama-quantize -j"$(nproc)"
  cp "$work/q/bin/llama-quantize" "$work/b/bin/llama-quantize"
  # llama-bench (stripped) and the CPU llama-quantize, with the OpenMP runtime they link.
  strip "$work/b/bin/llama-bench" "$work/b/bin/llama-quantize"
  cp "$(ldd "$work/b/bin/llama-bench" | awk '/libgomp/ {print $3}')" "$work/b/bin/"
  tar -C "$work/b/bin" -cf - llama-bench llama-quantize libgomp.so.1 | xz -T"$(nproc)" -9 > build-llama/llama-bins.tar.xz
  du -h build-llama/llama-bins.tar.xz
fi
