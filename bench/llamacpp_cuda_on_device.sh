#!/usr/bin/env bash
# On the GPU machine (device tool): llama.cpp built there with CUDA (sm_90) and gemrt, side by
# side on the same synthetic Gemma 3 GGUF files (issue 5's llama.cpp peer: `llama-bench -ngl 99`).
# Carry (all prepared on the CPU machine; `bash scripts/pack-for-device.sh bench` makes build-carry
# and build-llama/llama.cpp.tar.xz):
#   build-llama/llama-bins.tar.xz        llama-bench + llama-quantize built here with CUDA (sm_90):
#                                        bash bench/pack_llamacpp_for_device.sh --build; or else
#   build-llama/llama.cpp.tar.xz         bash bench/pack_llamacpp_for_device.sh (built there)
#   build-carry/bin.tar.xz               bash scripts/pack-for-device.sh (or the CUDA build's bins)
#   build-carry/whl/gguf-*.whl           python3 -m pip download --no-deps gguf -d build-carry/whl
#   build-carry/donor-tokenizer.gguf     python3 bench/make_tokenizer_donor.py GEMMA3.gguf OUT
#                                        (or that file xz-compressed, .gguf.xz: 1.2 MB instead of 6.5)
#   bash bench/llamacpp_cuda_on_device.sh [SHAPE=1b] [TYPES=F16,Q4_K_M] [bench flags, default
#        -p 512,4096 -n 128 -r 3]
# F16 / BF16 files come from bench/make_synthetic_gguf.py, other types from llama.cpp's own
# llama-quantize run on the F16 file (27B: on a Q8_0 file, requantized; see below). Both engines get the same flags; gemrt runs its bf16 mode.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1b}; types=${2:-F16,Q4_K_M}; shift $(( $# > 2 ? 2 : $# ))
flags=("$@")
(( ${#flags[@]} )) || flags=(-p 512,4096 -n 128 -r 3)
# GEMRT_LLAMA_DIR: where llama.cpp is unpacked and built; a git-ignored folder of the repository
# (build-llama-work) outlives calls on a warm machine, /tmp may not.
llama=${GEMRT_LLAMA_DIR:-/tmp/llama.cpp}
t0=$(date +%s)
if [[ -f build-llama/llama-bins.tar.xz ]]; then  # built on the CPU machine: bench/pack_llamacpp_for_device.sh --build
  mkdir -p $llama/b/bin && tar -C $llama/b/bin -xJf build-llama/llama-bins.tar.xz
  # Its CUDA runtime and cuBLAS from the toolkit, NCCL from PyTorch's wheels, libgomp carried.
  nccl=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0] + "/lib")' 2>/dev/null || true)
  export LD_LIBRARY_PATH=$llama/b/bin:${nccl:+$nccl:}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
elif [[ ! -x $llama/b/bin/llama-bench ]]; then
  mkdir -p "$llama" && tar -C "$llama" --strip-components=1 -xJf build-llama/llama.cpp.tar.xz
  generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S $llama -B $llama/b "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF >/dev/null
  cmake --build $llama/b --target llama-bench llama-quantize -j"$(nproc)" >/dev/null
fi
echo "llama.cpp ready after $(( $(date +%s) - t0 )) s"
[[ -x build-carry/bin/gemrt ]] || { mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz; }
[[ -f build-carry/donor-tokenizer.gguf ]] || xz -dk build-carry/donor-tokenizer.gguf.xz
python3 -m pip install -q --no-index --no-deps --target /tmp/site build-carry/whl/*.whl
mkdir -p /tmp/syn
base=/tmp/syn/gemma3-$shape-synthetic
# The 12B / 27B files take their values from one random pool (--tile: drawing 54 G values takes
# too long), and the 27B quantized files are made from a Q8_0 file (its F16 file and Q4_K_M would
# not fit the one-GPU machine's 64 GB disk together); each 27B file is deleted once measured.
src=F16 make=(); big=0
[[ $shape == 12b || $shape == 27b ]] && make+=(--tile)
[[ $shape == 27b ]] && { src=Q8_0; big=1; }
make_file() {  # make_file TYPE
  PYTHONPATH=/tmp/site python3 bench/make_synthetic_gguf.py --shape "$shape" --out-dir /tmp/syn \
    --donor build-carry/donor-tokenizer.gguf --types "$1" --base "$src" "${make[@]}" >/dev/null
}
IFS=, read -ra list <<< "$types"
needs_src=0
for t in "${list[@]}"; do [[ $t == F16 || $t == BF16 ]] || needs_src=1; done
(( needs_src )) && [[ ! -f $base-$src.gguf ]] && make_file "$src"
requant=(); [[ $src != F16 ]] && requant=(--allow-requantize)
for t in "${list[@]}"; do
  file=$base-$t.gguf
  if [[ ! -f $file ]]; then
    if [[ $t == F16 || $t == BF16 ]]; then
      make_file "$t"
    else
      $llama/b/bin/llama-quantize "${requant[@]}" "$base-$src.gguf" "$file" "$t" >/dev/null 2>&1
    fi
  fi
  echo "== $(basename "$file") ($(du -h "$file" | cut -f1))"
  $llama/b/bin/llama-bench -m "$file" -ngl 99 "${flags[@]}" -o md 2>/dev/null
  build-carry/bin/gemrt bench --device cuda "$file" "${flags[@]}"
  (( big )) && [[ $t != "$src" ]] && rm -f "$file"
done
(( big )) && rm -f "$base-$src.gguf"
true
