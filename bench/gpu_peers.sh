#!/usr/bin/env bash
# On a GPU machine: the sheet circuit (configs/sheet.yaml, K = 100) on l5sim's CUDA engine and on
# Brian2CUDA (bench/brian2_sheet.py --device cuda_standalone: the same network, model and dt),
# in the same run, at 10^4 and 10^5 cells; a Markdown table last. Brian2CUDA is installed from
# the wheels of bench/peer_wheels.sh into a virtual environment that sees the machine's numpy.
# Brian2CUDA generates and compiles a CUDA project per network (minutes on many cores); its
# reported time is its own step loop, without compilation or start-up, as for Brian2 on the CPU.
# Usage: bench/gpu_peers.sh L5SIM_COMMAND WHEEL_DIR LOG_DIR [SIZES] [DURATION_MS]
set -uo pipefail
l5=$1; wheels=$2; logs=$3; sizes=${4:-10000,100000}; ms=${5:-1000}
mkdir -p "$logs"
table="$logs/peers.md"
echo "| simulator | cells | K | wall s / bio s | synaptic events/s | PYR / PV / SOM Hz | note |" > "$table"
echo "|---|---|---|---|---|---|---|" >> "$table"
venv="$logs/venv"
python3 -m venv --system-site-packages "$venv" > "$logs/venv.log" 2>&1 &&
  "$venv/bin/pip" install -q --no-index --find-links "$wheels" "brian2==2.8.0" "brian2cuda==1.0a7" \
    >> "$logs/venv.log" 2>&1
have_peer=$?
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1)
for n in ${sizes//,/ }; do
  pyr=$((n * 8 / 10)); pv=$((n / 10)); som=$((n - pyr - pv))
  out="$logs/l5sim_$n"
  $l5 run configs/sheet.yaml --out "$out" --force -q --backend cuda \
    --set simulation.duration_ms=$ms --set recording.spikes=false \
    --set populations.PYR.n=$pyr --set populations.PV.n=$pv --set populations.SOM.n=$som \
    --set projections.PYR_PYR.connectivity.K=80 --set projections.PV_PYR.connectivity.K=10 \
    --set projections.SOM_PYR.connectivity.K=10 --set projections.PYR_PV.connectivity.K=100 \
    --set projections.PYR_SOM.connectivity.K=100 > "$out.log" 2>&1
  python3 - "$out/summary.json" "$n" >> "$table" <<'PY'
import json, os, sys
p, n = sys.argv[1], sys.argv[2]
if not os.path.exists(p):
    print(f"| l5sim cuda | {n} | 100 | failed | | | |"); sys.exit()
s = json.load(open(p)); t = s["timing"]; q = s["populations"]
print(f"| l5sim cuda | {int(n):,} | 100 | **{t['wall_per_bio_s']:.3f}** | {t['events_per_s']:.3g} | "
      f"{q['PYR']['rate_hz']:.2f} / {q['PV']['rate_hz']:.1f} / {q['SOM']['rate_hz']:.1f} | |")
PY
  if [ "$have_peer" = 0 ]; then
    timeout 900 "$venv/bin/python" bench/brian2_sheet.py --cells "$n" --k 100 --duration-ms "$ms" \
      --device cuda_standalone ${arch:+--cuda-arch $arch} --workdir "$logs/b2cuda_$n" \
      --json "$logs/b2cuda_$n.json" > "$logs/b2cuda_$n.log" 2>&1
    python3 - "$logs/b2cuda_$n.json" "$n" "$logs/b2cuda_$n.log" >> "$table" <<'PY'
import json, os, sys
p, n, log = sys.argv[1:4]
if not os.path.exists(p):
    last = open(log).read().strip().splitlines()[-1:] if os.path.exists(log) else ["no log"]
    print(f"| brian2cuda | {int(n):,} | 100 | failed | | | {last[0][:120]} |"); sys.exit()
r = json.load(open(p)); t = r["timing"]; q = r["populations"]
print(f"| brian2cuda {r.get('brian2cuda_version', '')} | {int(n):,} | 100 | **{t['wall_per_bio_s']:.3f}** | "
      f"{t['events_per_s']:.3g} | {q['PYR']['rate_hz']:.2f} / {q['PV']['rate_hz']:.1f} / "
      f"{q['SOM']['rate_hz']:.1f} | compile {t['compile_s']:.0f} s |")
PY
  else
    echo "| brian2cuda | $n | 100 | not installed | | | see venv.log |" >> "$table"
  fi
done
cat "$table"
