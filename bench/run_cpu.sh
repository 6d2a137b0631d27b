#!/usr/bin/env bash
# First CPU benchmark (issue 2): the sheet circuit (configs/sheet.yaml, 80/10/10 PYR/PV/SOM,
# K = 100 inputs per cell, STDP on PYR -> PYR) at 10^3, 10^4 and 10^5 cells on the CPU engine.
# Prints a Markdown table (cells, synapses, threads, build s, wall s per biological s, synaptic
# events/s, bytes per synapse, rates) and keeps it, with every run's summary.json and resolved
# config, in a results directory. About 75 s on 2 idle cores; see bench/README.md.
#
# Usage: bench/run_cpu.sh [L5SIM_BINARY] [RESULTS_DIR]
#   L5SIM_BINARY  a Release build of l5sim (default: build-cpu/l5sim if it exists, else
#                 build/l5sim, which scripts/build.sh makes)
#   RESULTS_DIR   default: out/bench/cpu-<date>-<time> (out/ is ignored by git)
# Environment:
#   BENCH_THREADS       OpenMP threads (default: nproc)
#   BENCH_SIZES         cells per run (default: "1000 10000 100000"; 80/10/10 split)
#   BENCH_DURATIONS_MS  biological ms per run, one per size (default: "2000 1000 1000")
#   OMP_WAIT_POLICY     passed through to l5sim and recorded (passive: far faster on a busy machine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
default_bin=$root/build-cpu/l5sim
[ -x "$default_bin" ] || default_bin=$root/build/l5sim
bin=$(readlink -f "${1:-$default_bin}" || echo "${1:-$default_bin}")
stamp=$(date +%Y%m%d-%H%M%S)
results=${2:-$root/out/bench/cpu-$stamp}
threads=${BENCH_THREADS:-$(nproc)}
read -r -a sizes <<< "${BENCH_SIZES:-1000 10000 100000}"
read -r -a durations <<< "${BENCH_DURATIONS_MS:-2000 1000 1000}"
config=$root/configs/sheet.yaml

if [ ! -x "$bin" ]; then
  echo "run_cpu.sh: $bin: no such executable (build first: scripts/build.sh, or pass the path)" >&2
  exit 2
fi
if [ "${#durations[@]}" -ne "${#sizes[@]}" ]; then
  echo "run_cpu.sh: BENCH_DURATIONS_MS needs one duration per size in BENCH_SIZES" >&2
  exit 2
fi
build_type=$("$bin" info | head -n 1)
case "$build_type" in
  *Release*) ;;
  *) echo "run_cpu.sh: warning: $bin is not a Release build ($build_type)" >&2 ;;
esac

mkdir -p "$results"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | head -c 1 || true)
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
B_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) B_HOST=$(hostname) B_NPROC=$(nproc) B_CPU=$cpu \
B_COMMIT=$commit B_DIRTY=$dirty B_L5SIM=$build_type B_BIN=$bin B_THREADS=$threads \
B_SIZES="${sizes[*]}" B_DURATIONS="${durations[*]}" B_WAIT=${OMP_WAIT_POLICY:-} python3 - "$results/meta.json" <<'EOF'
import json, os, sys
e = os.environ
json.dump({
    "date": e["B_DATE"], "host": e["B_HOST"], "nproc": int(e["B_NPROC"]),
    "cpu_model": e["B_CPU"], "commit": e["B_COMMIT"], "tree_dirty": bool(e["B_DIRTY"]),
    "l5sim": e["B_L5SIM"], "binary": e["B_BIN"], "threads": int(e["B_THREADS"]),
    "omp_wait_policy": e["B_WAIT"] or "(unset: libgomp default)",
    "config": "configs/sheet.yaml",
    "sizes": [int(x) for x in e["B_SIZES"].split()],
    "durations_ms": [float(x) for x in e["B_DURATIONS"].split()],
    "loadavg_before": open("/proc/loadavg").read().split()[:3],
}, open(sys.argv[1], "w"), indent=2)
EOF

echo "l5sim CPU benchmark: $build_type, commit $commit${dirty:+ (working tree modified)}"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $threads threads${OMP_WAIT_POLICY:+ (OMP_WAIT_POLICY=$OMP_WAIT_POLICY)}; load $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" -v t="$threads" \
     'BEGIN { exit !(l + t > n + 0.5) }'; then
  echo "run_cpu.sh: warning: load average $(cut -d' ' -f1 /proc/loadavg) + $threads threads" \
       "exceeds $(nproc) CPUs: timings will be inflated (see bench/README.md)" >&2
fi
t_start=$(date +%s)
for i in "${!sizes[@]}"; do
  n=${sizes[$i]}
  ms=${durations[$i]}
  pyr=$((n * 8 / 10)); pv=$((n / 10)); som=$((n - pyr - pv))
  out=$scratch/run_$n
  keep=$results/run_$n
  mkdir -p "$keep"
  echo "-- $n cells (PYR $pyr, PV $pv, SOM $som), $ms ms biological ..."
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$scratch/rss_$n" \
    "$bin" run "$config" --out "$out" --force --quiet --threads "$threads" \
    --set "populations.PYR.n=$pyr" --set "populations.PV.n=$pv" --set "populations.SOM.n=$som" \
    --set "simulation.duration_ms=$ms" > "$keep/log.txt" 2>&1 || {
      echo "run_cpu.sh: the $n-cell run failed; its log:" >&2; cat "$keep/log.txt" >&2; exit 1; }
  t1=$(date +%s.%N)
  cp "$out/summary.json" "$out/config.resolved.yaml" "$keep/"
  rss_kb=$(tail -n 1 "$scratch/rss_$n")
  python3 -c "import json; json.dump({'threads': $threads, 'duration_ms': $ms,
    'process_wall_s': round($t1 - $t0, 3), 'max_rss_mib': round($rss_kb / 1024, 1),
    'loadavg_after': open('/proc/loadavg').read().split()[:3]}, open('$keep/bench.json', 'w'))"
  python3 -c "import json; s = json.load(open('$keep/summary.json')); t = s['timing'];
print(f\"   {t['wall_per_bio_s']:.2f} wall s per bio s, build {t['build_s']:.2f} s, \"
      f\"PYR {s['populations']['PYR']['rate_hz']:.2f} Hz, peak RSS {$rss_kb / 1024:.0f} MiB\")"
done
echo "total $(( $(date +%s) - t_start )) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$root/bench/table.py" "$results"
echo
echo "results: $results (table.md, results.json, run_<cells>/)"
