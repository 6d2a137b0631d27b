#!/usr/bin/env bash
# One command for a GPU machine (DESIGN.md, DEVELOPERS guide): the GPU tests with
# L5SIM_REQUIRE_GPU=1 (so nothing can skip silently), device info, and a short table last.
# Usage: bench/gpu_check.sh [BIN_DIR_OR_BUNDLE] [LOG_DIR]
#   BIN_DIR_OR_BUNDLE: a build dir (build-cuda) or a bundle made by ../shared/gpu/bundle (.gpu)
#   LOG_DIR: where logs go (default: $OUT if set, else gpu_logs)
# The CUDA engine (issue 3) will add the CPU-vs-GPU network cross tests and the throughput
# benchmark here; today the device checks the shared model math bit for bit.
set -uo pipefail
src=${1:-.gpu}
logs=${2:-${OUT:-gpu_logs}}
mkdir -p "$logs"
if [ -x "$src/run" ]; then
  run() { "$src/run" "$@"; }
else
  run() { prog=$1; shift; if [ -x "$src/tests/$prog" ]; then "$src/tests/$prog" "$@"; else "$src/$prog" "$@"; fi; }
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$logs/nvidia-smi.txt" 2>&1
run l5sim info > "$logs/info.txt" 2>&1
L5SIM_REQUIRE_GPU=1 run l5sim_gpu_tests --gtest_output=xml:"$logs/gpu_tests.xml" > "$logs/gpu_tests.log" 2>&1
rc=$?
echo "== device"; cat "$logs/nvidia-smi.txt"; grep "cuda device" "$logs/info.txt"
echo "== GPU tests (L5SIM_REQUIRE_GPU=1), exit $rc"
grep -E "^\[ +(OK|FAILED|SKIPPED) +\]" "$logs/gpu_tests.log" | sed 's/^/  /'
tail -n 3 "$logs/gpu_tests.log"
exit $rc
