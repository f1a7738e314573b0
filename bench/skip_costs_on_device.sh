#!/usr/bin/env bash
# On the GPU machine (device tool, carry build-carry): what each kind of decode step costs inside
# the captured CUDA graph, gaps between kernels included. GEMRT_CUDA_PROFILE=1 lists the step
# kinds of a synthetic model's decode graph (and their event-bracketed times, which overstate
# small kernels); then each kind is left out in turn (GEMRT_CUDA_SKIP=label: meaningless outputs,
# real timing) and the decode time per token compared with the full step's, measured before and
# after.
#   bash bench/skip_costs_on_device.sh [SHAPE=4b] [TYPE=BF16] [config folder=bench/configs]
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-4b}; type=${2:-BF16}; configs=${3:-bench/configs}
[[ -x build-carry/bin/gemrt ]] || { mkdir -p build-carry/bin && tar -C build-carry/bin -xJf build-carry/bin.tar.xz; }
export LD_LIBRARY_PATH=$PWD/build-carry/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bench=(build-carry/bin/gemrt bench --device cuda "$configs/gemma3-$shape.json" --synthetic --weight-type "$type" -p 0)
profile=$(mktemp)
GEMRT_CUDA_PROFILE=1 "${bench[@]}" -n 16 -r 1 >/dev/null 2>"$profile"
echo "== step kinds of the $shape $type decode graph (GEMRT_CUDA_PROFILE=1, event-bracketed)"
grep -A200 'gemrt cuda profile' "$profile" | grep -v '^$' || true
mapfile -t labels < <(python3 - "$profile" <<'PY'
import sys
seen = []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 5 or not line.startswith("  ") or parts[0] == "step":
        continue
    try:
        [float(p.rstrip("%")) for p in parts[-4:]]
    except ValueError:
        continue
    label = " ".join(parts[:-4])
    if label not in seen:
        seen.append(label)
print("\n".join(seen))
PY
)
rm -f "$profile"
ms_per_token() {  # tg128 mean tok/s -> ms per token
  "${bench[@]}" -n 128 -r 3 --json | python3 -c '
import json, sys
r = [t for t in json.load(sys.stdin)["tests"] if t["test"] == "tg128"][0]
print("%.4f %.2f" % (1000.0 / r["avg_ts"], r["avg_ts"]))'
}
read -r base0 ts0 < <(ms_per_token)
echo "== leave-one-out, tg128 (-r 3): full step $base0 ms/token ($ts0 tok/s)"
printf '| %-50s | %10s | %12s | %10s |\n' "step kind left out" "tok/s" "ms / token" "cost, ms"
for label in "${labels[@]}"; do
  if ! read -r ms ts < <(GEMRT_CUDA_SKIP="$label" ms_per_token 2>/dev/null); then
    printf '| %-50s | %10s | %12s | %10s |\n' "$label" "failed" "-" "-"
    continue
  fi
  printf '| %-50s | %10s | %12s | %10.4f |\n' "$label" "$ts" "$ms" "$(python3 -c "print($base0 - $ms)")"
done
read -r base1 ts1 < <(ms_per_token)
echo "full step again: $base1 ms/token ($ts1 tok/s)"
