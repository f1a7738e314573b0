#!/usr/bin/env bash
# Compare gemrt builds in the model on a machine whose speed drifts (the 2-core VMs move by
# ±20 % within minutes): the binaries run in turn, N rounds, one `gemrt bench` repetition each,
# so every binary sees the same spread of machine states; prints each binary's tok/s, median and
# best. Not part of CI.
#
#   bench/alternate.sh MODEL.gguf ROUNDS "BENCH ARGS" BINARY [BINARY ...]
#   bench/alternate.sh ~/.cache/gemrt/synthetic/gemma3-1b-synthetic-Q8_0.gguf 6 "-p 0 -n 64" \
#       /tmp/gemrt-before build/bin/gemrt
#
# BENCH ARGS must name one test (one -p or -n value); --threads 2 and -r 1 are added.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
model=$1 rounds=$2 args=$3
shift 3
declare -A runs
for ((i = 0; i < rounds; ++i)); do
  for bin in "$@"; do
    # The table row's tok/s column is "mean ± sd"; with -r 1 the mean is the run.
    # shellcheck disable=SC2086
    v=$("$bin" bench "$model" $args -r 1 --threads 2 | awk -F'|' '/ (pp|tg)[0-9]/ {split($(NF-1), a, " "); print a[1]}')
    runs[$bin]="${runs[$bin]:-} $v"
  done
done
for bin in "$@"; do
  read -ra vals <<<"${runs[$bin]}"
  sorted=$(printf '%s\n' "${vals[@]}" | sort -g)
  median=$(awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}' <<<"$sorted")
  echo "$bin:${runs[$bin]} | median $median best $(tail -1 <<<"$sorted") tok/s"
done
