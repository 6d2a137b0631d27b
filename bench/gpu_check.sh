#!/usr/bin/env bash
# One command for a GPU machine: the GPU and CPU-vs-GPU cross tests with L5SIM_REQUIRE_GPU=1
# (nothing may skip), the card's copy bandwidth, then the throughput benchmark: configs/sheet.yaml
# (PYR ~3 Hz) with K = 1000 (every in-degree x 10), STDP on PYR->PYR, at 10^4, 10^5, 10^6 and
# 4x10^6 cells (windows of steps, the default), and stepping singly at 10^4 and 10^6
# (L5SIM_WINDOW=1); a phase profile at 10^6; the paper's T4 and T2 sweeps packed, unpacked and
# on the CPU; a short table last. Logs under LOG_DIR.
# Usage: bench/gpu_check.sh [BIN_DIR_OR_BUNDLE] [LOG_DIR] [MAX_CELLS] [BASELINE_BUNDLE]
# Bundle with: ../shared/gpu/bundle .gpu build/tests/l5sim_gpu_tests build/tests/l5sim_tests build/l5sim
# and, for CUDA ranks under mpiexec where the machine has no Open MPI: bench/mpi_bundle.sh .gpu/mpi
# SKIP_TESTS=1 skips the tests; LARGEST=1 also probes the largest sheet that fits; SWEEPS=0 skips
# the sweep timings; PEERS=1 runs Brian2CUDA beside l5sim (bench/gpu_peers.sh).
#   BIN_DIR_OR_BUNDLE: a build dir (build) or a bundle made by ../shared/gpu/bundle (.gpu)
#   BASELINE_BUNDLE: optional older bundle, run on the 10^6 case in the same session (before/after)
set -uo pipefail
src=${1:-.gpu}
logs=${2:-${OUT:-gpu_logs}}
max_cells=${3:-4000000}
baseline=${4:-}
mkdir -p "$logs"
bin() {  # bin DIR PROGRAM -> command words
  if [ -x "$1/run" ]; then echo "$1/run $2"; elif [ -x "$1/tests/$2" ]; then echo "$1/tests/$2"; else echo "$1/$2"; fi
}
L5SIM=$(bin "$src" l5sim)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$logs/nvidia-smi.txt" 2>&1
$L5SIM info --bandwidth > "$logs/info.txt" 2>&1
bw=$(sed -n 's/.*copy bandwidth: \([0-9.]*\) GB\/s.*/\1/p' "$logs/info.txt")
rc=0
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  # A hung test must not eat the whole device lease: each suite gets at most TEST_TIMEOUT s.
  L5SIM_REQUIRE_GPU=1 L5SIM_CUDA_SYNC=1 timeout "${TEST_TIMEOUT:-240}" $(bin "$src" l5sim_gpu_tests) \
    --gtest_output=xml:"$logs/gpu_tests.xml" > "$logs/gpu_tests.log" 2>&1
  rc=$?
  # The engine tests' CUDA instances (one test body over both engines).
  L5SIM_REQUIRE_GPU=1 L5SIM_CUDA_SYNC=1 timeout "${TEST_TIMEOUT:-240}" $(bin "$src" l5sim_tests) --gtest_filter='*/cuda' \
    --gtest_output=xml:"$logs/engine_tests.xml" >> "$logs/gpu_tests.log" 2>&1 || rc=1
  # The cross tests once more with windows off (L5SIM_WINDOW=1: the single-step kernels).
  L5SIM_WINDOW=1 L5SIM_REQUIRE_GPU=1 L5SIM_CUDA_SYNC=1 timeout "${TEST_TIMEOUT:-240}" $(bin "$src" l5sim_gpu_tests) \
    --gtest_filter='CrossEngine.*' >> "$logs/gpu_tests.log" 2>&1 || rc=1
  # ... and with every stage fused over populations and projections (L5SIM_CUDA_FUSE=1: the
  # packed kernels with one member).
  L5SIM_CUDA_FUSE=1 L5SIM_REQUIRE_GPU=1 L5SIM_CUDA_SYNC=1 timeout "${TEST_TIMEOUT:-240}" $(bin "$src" l5sim_gpu_tests) \
    --gtest_filter='CrossEngine.*' >> "$logs/gpu_tests.log" 2>&1 || rc=1
  # CUDA ranks under mpiexec (where the machine has Open MPI; the engine of a rank itself is
  # checked in one process by RankEngines.*/cuda above): 1-3 ranks sharing the device against
  # the plain CPU run, checkpoints across CUDA and CPU ranks.
  mpiexec=$(command -v mpiexec || true)
  [ -z "$mpiexec" ] && [ -x "$src/mpi/mpiexec" ] && mpiexec="$(cd "$src/mpi" && pwd)/mpiexec"
  if [ -n "$mpiexec" ]; then
    wrapper="$(cd "$logs" && pwd)/l5sim_bin"
    printf '#!/bin/sh\nexec %s "$@"\n' "$(bin "$(cd "$src" && pwd)" l5sim)" > "$wrapper"
    chmod +x "$wrapper"
    (cd tests/python && L5SIM_BIN="$wrapper" L5SIM_MPIEXEC="$mpiexec" L5SIM_REQUIRE_GPU=1 OMPI_ALLOW_RUN_AS_ROOT=1 \
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 timeout 600 \
      python3 -m unittest -v test_mpi.MpiRun.test_cuda_ranks_write_the_plain_runs_files) \
      > "$logs/mpi_cuda.log" 2>&1 || rc=1
  else
    echo "no mpiexec here nor in the bundle (bench/mpi_bundle.sh BUNDLE/mpi): CUDA ranks under MPI not run" > "$logs/mpi_cuda.log"
  fi
fi
K10=(--set projections.PYR_PYR.connectivity.K=800 --set projections.PYR_PV.connectivity.K=1000
     --set projections.PYR_SOM.connectivity.K=1000 --set projections.PV_PYR.connectivity.K=100
     --set projections.SOM_PYR.connectivity.K=100 --set recording.spikes=false)
size_args() { echo "--set populations.PYR.n=$(($1*8/10)) --set populations.PV.n=$(($1/10)) --set populations.SOM.n=$(($1/10))"; }
row() {  # row SUMMARY LABEL
  python3 - "$1" "$2" "$bw" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = s["timing"]; net = s["network"]; p = s["populations"]
bw = float(sys.argv[3] or 0)
phase = t.get("phases_s")
share = ""
if phase and bw:
    # propagation moves at least 12 B per event: packed target+delay 4, weight 4, 32-bit
    # atomic read + write 4 (plastic events add a weight write and a trace read).
    share = f"{100 * 12 * t['synaptic_events'] / phase['propagate'] / (bw * 1e9):.1f}%"
print(f"| {sys.argv[2]} | {net['synapses']:,} | {t['build_s']:.2f} | {t['wall_per_bio_s']:.3f} | "
      f"{t['events_per_s']:.3g} | {net['bytes_per_synapse']:.2f} | {net.get('device_bytes', 0) / 2**30:.1f} | "
      f"{p['PYR']['rate_hz']:.1f} / {p['PV']['rate_hz']:.1f} / {p['SOM']['rate_hz']:.1f} | {share} |")
if phase:
    bio = t["bio_s"]
    print("|  | phases, wall s per bio s: " + ", ".join(f"{k} {v / bio:.3f}" for k, v in phase.items()) + " | | | | | | | |")
if phase and bw and phase.get("detect", 0) == 0 and phase.get("deliver", 0) > 0:
    # Windows (the per-cell kernel is timed as deliver): the bytes it must move, for this sheet
    # (inputs: PYR 3, PV 1, SOM 1; windows of 10 steps: delay.min_ms = 1 ms at dt 0.1 ms).
    # Per cell and window: the state read (PYR 73 B, interneuron 36 B) and written (PYR 65 B
    # with the spike mask, interneuron 36 B), and per step and input its 32-bit ring slot read
    # and zeroed (4 + 4 B). Steps per window: 10.
    w = 10
    cells = p["PYR"]["n"] * (73 + 65 + 8 * 3 * w) + (p["PV"]["n"] + p["SOM"]["n"]) * (72 + 8 * w)
    per_bio_s = cells * (1e4 / w)
    ring = (p["PYR"]["n"] * 3 + p["PV"]["n"] + p["SOM"]["n"]) * 8 * 1e4
    print(f"|  | per-cell kernel: {per_bio_s / 1e9:.0f} GB per bio s ({100 * ring / per_bio_s:.0f} % "
          f"ring slots), {100 * per_bio_s * bio / phase['deliver'] / (bw * 1e9):.0f} % of copy bandwidth "
          "| | | | | | | |")
    # Post-side STDP (timed as plasticity, with the traces): per PYR spike its 800 reverse-index
    # entries (K of PYR -> PYR here), each 20 useful bytes: the entry 4, the weight read and
    # written 8, the source's trace 4 and spike mask 4 (scattered: 4 sectors of 32 B each).
    if phase.get("plasticity", 0) > 0:
        stdp = 20 * 800 * p["PYR"]["spikes"]
        print(f"|  | post-side STDP: {stdp / bio / 1e9:.1f} GB per bio s of useful bytes, "
              f"{100 * stdp / phase['plasticity'] / (bw * 1e9):.1f} % of copy bandwidth "
              f"({100 * stdp * 6.4 / phase['plasticity'] / (bw * 1e9):.0f} % counting 32-byte sectors) "
              "| | | | | | | |")
PY
}
table="$logs/bench.md"
{
echo "| cells | synapses | build s | wall s / bio s | synaptic events/s | bytes/synapse | device GiB | PYR / PV / SOM Hz | propagation % of copy bandwidth |"
echo "|---|---|---|---|---|---|---|---|---|"
} > "$table"
bench() {  # bench LABEL BIN CELLS DURATION_MS [EXTRA...]
  local label=$1 l5=$2 n=$3 dur=$4; shift 4
  local out="$logs/bench_$label"
  timeout 300 $l5 run configs/sheet.yaml --out "$out" --force -q --backend cuda "${K10[@]}" \
    $(size_args "$n") --set simulation.duration_ms=$dur "$@" > "$out.log" 2>&1
  if [ -f "$out/summary.json" ]; then row "$out/summary.json" "$label" >> "$table"
  else echo "| $label | failed: $(tail -n 1 "$out.log" | cut -c1-150) | | | | | | | |" >> "$table"; fi
}
for n in 10000 100000 1000000 4000000; do
  [ "$n" -le "$max_cells" ] || continue
  dur=500; [ "$n" -ge 1000000 ] && dur=300
  bench "$n" "$L5SIM" "$n" "$dur"
done
# The same binary stepping singly (L5SIM_WINDOW=1): the windows' before/after in one run; and
# with every spike recorded (the record's cost).
bench "10000-steps" "env L5SIM_WINDOW=1 $L5SIM" 10000 500
[ "$max_cells" -ge 1000000 ] && bench "1000000-steps" "env L5SIM_WINDOW=1 $L5SIM" 1000000 300
[ "$max_cells" -ge 1000000 ] && bench "1000000-recorded" "$L5SIM" 1000000 300 --set recording.spikes=true
# Profiled: the window's stages one after the other (deliver = the per-cell kernel, phases
# 1-5; propagate = the window's propagation; plasticity = its post-side STDP and traces), and
# single steps with every phase on its own.
[ "$max_cells" -ge 1000000 ] && bench "1000000-profiled" "$L5SIM" 1000000 300 --profile
[ "$max_cells" -ge 1000000 ] && bench "1000000-steps-profiled" "env L5SIM_WINDOW=1 $L5SIM" 1000000 300 --profile
if [ -n "$baseline" ] && [ "$max_cells" -ge 1000000 ]; then
  bench "1000000-baseline" "$(bin "$baseline" l5sim)" 1000000 300
  bench "1000000-baseline-profiled" "$(bin "$baseline" l5sim)" 1000000 300 --profile
fi
# The largest sheet (K = 1000) this card holds: try sizes upwards until the memory check refuses.
if [ "${LARGEST:-0}" = 1 ]; then
  echo "| cells | result |" > "$logs/largest.md"; echo "|---|---|" >> "$logs/largest.md"
  for n in 5000000 6000000 6500000 7000000; do
    out="$logs/largest_$n"
    timeout 200 $L5SIM run configs/sheet.yaml --out "$out" --force -q --backend cuda "${K10[@]}" \
      $(size_args "$n") --set simulation.duration_ms=20 > "$out.log" 2>&1
    if [ -f "$out/summary.json" ]; then
      python3 -c "import json,sys; s=json.load(open('$out/summary.json')); n=s['network']; print(f'| $n | fits: {n[\"synapses\"]:,} synapses, {n[\"device_bytes\"]/2**30:.1f} GiB on the device |')" >> "$logs/largest.md"
    else
      echo "| $n | refused: $(tail -n 1 "$out.log" | cut -c1-160) |" >> "$logs/largest.md"
    fi
  done
fi
# Small single networks (launch overhead): the quickstart ring (300 cells, STDP, no delay:
# single steps) and the same with 1 ms delays (windows), and a 10^4-cell sheet at K = 100,
# with one launch per population and projection (default) and fused (L5SIM_CUDA_FUSE=1).
small="$logs/small.md"
echo "| network | default s / bio s | fused s / bio s | same spikes |" > "$small"
echo "|---|---|---|---|" >> "$small"
small_row() {  # small_row LABEL CONFIG [SET...]
  local label=$1 cfg=$2; shift 2
  timeout 120 $L5SIM run "$cfg" --out "$logs/small_${label}_a" --force -q --backend cuda "$@" > /dev/null 2>&1
  L5SIM_CUDA_FUSE=1 timeout 120 $L5SIM run "$cfg" --out "$logs/small_${label}_b" --force -q --backend cuda "$@" > /dev/null 2>&1
  python3 - "$logs/small_${label}_a" "$logs/small_${label}_b" "$label" >> "$small" <<'PY'
import filecmp, json, os, sys
a, b, label = sys.argv[1:4]
def wall(d):
    p = os.path.join(d, "summary.json")
    return f"{json.load(open(p))['timing']['wall_per_bio_s']:.3f}" if os.path.exists(p) else "failed"
same = all(os.path.exists(os.path.join(d, "spikes.h5")) for d in (a, b)) and \
    filecmp.cmp(os.path.join(a, "spikes.h5"), os.path.join(b, "spikes.h5"), shallow=False)
print(f"| {label} | {wall(a)} | {wall(b)} | {'yes' if same else 'NO'} |")
PY
}
small_row ring300 configs/quickstart.yaml --set simulation.duration_ms=2000
small_row ring300-delays configs/quickstart.yaml --set simulation.duration_ms=2000 \
  --set projections.PYR_PYR.delay.ms=1 --set projections.PYR_PV.delay.ms=1 \
  --set projections.PYR_SOM.delay.ms=1 --set projections.PV_PYR.delay.ms=1 --set projections.SOM_PYR.delay.ms=1
small_row sheet10k configs/sheet.yaml --set simulation.duration_ms=1000 \
  --set populations.PYR.n=8000 --set populations.PV.n=1000 --set populations.SOM.n=1000

# Sweeps of small circuits (issue 4): the T4 ring sweep (zero delays: single steps) and the T2
# isolated cells (windows), packed into one simulation (one launch per stage for all replicas)
# against one engine and stream per replica (--pack off), and against the CPU engine: every
# replica's spikes.h5 must be the same bytes. SWEEPS=0 skips.
sweeps="$logs/sweeps.md"
if [ "${SWEEPS:-1}" = 1 ]; then
  echo "| sweep | replicas | CPU ($(nproc) threads) s | CUDA one stream per replica s | CUDA packed s | packed = CPU, replicas |" > "$sweeps"
  echo "|---|---|---|---|---|---|" >> "$sweeps"
  for t in t4_som_inhibition t2_dendritic_drive; do
    args=(--force -q --set sweep.trials=2)
    timeout 200 $L5SIM run configs/paper/$t.yaml --out "$logs/sw_${t}_cpu" "${args[@]}" --backend cpu > "$logs/sw_${t}_cpu.log" 2>&1
    timeout 200 $L5SIM run configs/paper/$t.yaml --out "$logs/sw_${t}_alone" "${args[@]}" --backend cuda --pack off > "$logs/sw_${t}_alone.log" 2>&1
    timeout 200 $L5SIM run configs/paper/$t.yaml --out "$logs/sw_${t}_packed" "${args[@]}" --backend cuda --pack on > "$logs/sw_${t}_packed.log" 2>&1
    python3 - "$logs" "$t" >> "$sweeps" <<'PY'
import json, os, sys, filecmp
logs, t = sys.argv[1], sys.argv[2]
def wall(kind):
    p = f"{logs}/sw_{t}_{kind}/summary.json"
    return f"{json.load(open(p))['timing']['wall_s']:.2f}" if os.path.exists(p) else "failed"
n = same = 0
rdir = f"{logs}/sw_{t}_cpu/replicas"
for r in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
    n += 1
    b = f"{logs}/sw_{t}_packed/replicas/{r}/spikes.h5"
    same += os.path.exists(b) and filecmp.cmp(f"{rdir}/{r}/spikes.h5", b, shallow=False)
print(f"| {t} | {n} | {wall('cpu')} | {wall('alone')} | {wall('packed')} | {same} / {n} |")
PY
  done
fi
# The Python module on the CUDA engine (PYTHON_DIR: the build's python/ folder, or the bundle's;
# needs python3 with NumPy on the machine): the ranks_sheet run in pieces by Simulation(backend=
# "cuda") against `l5sim run --backend cuda` and the CPU, file for file.
pydir=${PYTHON_DIR:-$src/python}
pycheck="$logs/python_cuda.txt"
if [ -d "$pydir/l5sim" ] && python3 -c "import numpy" 2>/dev/null; then
  timeout 120 $L5SIM run tests/configs/ranks_sheet.yaml --out "$logs/py_cli_cuda" --force -q --backend cuda > /dev/null 2>&1
  timeout 120 $L5SIM run tests/configs/ranks_sheet.yaml --out "$logs/py_cli_cpu" --force -q --backend cpu > /dev/null 2>&1
  PYTHONPATH="$pydir" timeout 120 python3 - "$logs" > "$pycheck" 2>&1 <<'PY'
import filecmp, shutil, sys
import l5sim
logs = sys.argv[1]
out = f"{logs}/py_cuda"
shutil.rmtree(out, ignore_errors=True)
sim = l5sim.Simulation("tests/configs/ranks_sheet.yaml", backend="cuda")
for ms in (37.3, 0.1, 50, None):
    sim.run(ms, progress=False)
sim.write(out)
for ref in ("py_cli_cuda", "py_cli_cpu"):
    same = [f for f in ("spikes.h5", "probes.h5", "weights.h5")
            if filecmp.cmp(f"{out}/{f}", f"{logs}/{ref}/{f}", shallow=False)]
    print(f"python backend=cuda ({sim.engine}) vs {ref}: {len(same)} of 3 files identical")
PY
else
  echo "python backend=cuda: not checked (no $pydir/l5sim, or no NumPy on this machine)" > "$pycheck"
fi
# The GPU peer (PEERS=1, wheels from bench/peer_wheels.sh in BUNDLE/wheels): Brian2CUDA on the
# same sheet networks as l5sim's CUDA engine (bench/gpu_peers.sh; its compilation takes minutes).
if [ "${PEERS:-0}" = 1 ] && [ -d "$src/wheels" ]; then
  bash bench/gpu_peers.sh "$L5SIM" "$src/wheels" "$logs/peers" "${PEER_SIZES:-10000,100000}" > "$logs/peers.log" 2>&1
fi
echo "== device"; cat "$logs/nvidia-smi.txt"; grep "cuda device" "$logs/info.txt"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== GPU tests (L5SIM_REQUIRE_GPU=1), exit $rc"
  grep -E "^\[ +(OK|FAILED|SKIPPED) +\]" "$logs/gpu_tests.log" | sed 's/^/  /'
  grep -E "Failure|Expected|Which is|differ" "$logs/gpu_tests.log" | head -n 20
  echo "== CUDA ranks under mpiexec"; tail -n 4 "$logs/mpi_cuda.log"
fi
echo "== benchmark (CUDA engine, configs/sheet.yaml with K = 1000)"; cat "$table"
[ -f "$logs/largest.md" ] && { echo "== largest sheet that fits (K = 1000)"; cat "$logs/largest.md"; }
[ -f "$small" ] && { echo "== small networks: one launch per population/projection vs fused"; cat "$small"; }
[ -f "$sweeps" ] && { echo "== sweeps: packed replicas (wall s)"; cat "$sweeps"; }
[ -f "$pycheck" ] && { echo "== Python module on the CUDA engine"; cat "$pycheck"; }
[ -f "$logs/peers/peers.md" ] && { echo "== peers on the GPU (sheet, K = 100)"; cat "$logs/peers/peers.md"; }
exit $rc
