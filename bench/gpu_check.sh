#!/usr/bin/env bash
# One command for a GPU machine: GPU and CPU-vs-GPU cross tests with L5SIM_REQUIRE_GPU=1 (nothing
# may skip), then the throughput benchmark (sheet, K = 1000, STDP on PYR->PYR) at 10^4, 10^5 and
# 10^6 cells; a short table last. Logs under LOG_DIR.
# Usage: bench/gpu_check.sh [BIN_DIR_OR_BUNDLE] [LOG_DIR] [MAX_CELLS]
#   BIN_DIR_OR_BUNDLE: a build dir (build) or a bundle made by ../shared/gpu/bundle (.gpu)
set -uo pipefail
src=${1:-.gpu}
logs=${2:-${OUT:-gpu_logs}}
max_cells=${3:-1000000}
mkdir -p "$logs"
if [ -x "$src/run" ]; then
  run() { "$src/run" "$@"; }
  l5sim=("$src/run" l5sim)
else
  run() { prog=$1; shift; if [ -x "$src/tests/$prog" ]; then "$src/tests/$prog" "$@"; else "$src/$prog" "$@"; fi; }
  l5sim=("$src/l5sim")
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$logs/nvidia-smi.txt" 2>&1
run l5sim info > "$logs/info.txt" 2>&1
[ "${SKIP_TESTS:-0}" = 1 ] || L5SIM_REQUIRE_GPU=1 L5SIM_CUDA_SYNC=1 run l5sim_gpu_tests --gtest_output=xml:"$logs/gpu_tests.xml" \
  > "$logs/gpu_tests.log" 2>&1
rc=$?
table="$logs/bench.md"
echo "| cells | synapses | build s | wall s / bio s | synaptic events/s | bytes/synapse | PYR Hz |" > "$table"
echo "|---|---|---|---|---|---|---|" >> "$table"
for n in 10000 100000 1000000; do
  [ "$n" -le "$max_cells" ] || continue
  pyr=$((n * 8 / 10)); pv=$((n / 10)); som=$((n / 10))
  dur=200; [ "$n" -ge 1000000 ] && dur=100
  out="$logs/bench_$n"
  timeout 240 "${l5sim[@]}" run bench/sheet_k1000.yaml --out "$out" --force -q --backend cuda \
    --set populations.PYR.n=$pyr --set populations.PV.n=$pv --set populations.SOM.n=$som \
    --set simulation.duration_ms=$dur > "$logs/bench_$n.log" 2>&1
  if [ -f "$out/summary.json" ]; then
    python3 - "$out/summary.json" "$n" >> "$table" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = s["timing"]; net = s["network"]
print(f"| {int(sys.argv[2]):,} | {net['synapses']:,} | {t['build_s']:.2f} | {t['wall_per_bio_s']:.3f} | "
      f"{t['events_per_s']:.3g} | {net['bytes_per_synapse']:.2f} | {s['populations']['PYR']['rate_hz']:.1f} |")
PY
  else
    echo "| $n | failed: $(tail -n 1 "$logs/bench_$n.log") | | | | | |" >> "$table"
  fi
done
echo "== device"; cat "$logs/nvidia-smi.txt"; grep "cuda device" "$logs/info.txt"
echo "== GPU tests (L5SIM_REQUIRE_GPU=1), exit $rc"
grep -E "^\[ +(OK|FAILED|SKIPPED) +\]" "$logs/gpu_tests.log" | sed 's/^/  /'
grep -E "Failure|Expected|Which is|differ" "$logs/gpu_tests.log" | head -n 20
echo "== benchmark (CUDA engine)"; cat "$table"
exit $rc
