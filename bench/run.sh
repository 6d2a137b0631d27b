#!/usr/bin/env bash
# The benchmark harness (bench/run.py): l5sim's CPU engine (and the CUDA engine when a GPU is
# visible) against Brian2 on the sheet circuit, one machine, one run. Builds l5sim if needed.
# Needs brian2 for the comparison: python3 -m pip install brian2 'numpy<2.4' (or --no-brian2).
#   bench/run.sh                       10^3, 10^4, 10^5 cells and a K sweep: ~10 min on 2 cores
#   bench/run.sh --sizes 1000,10000 --ks ''
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/l5sim ] || { scripts/install_deps.sh; scripts/build.sh; }
exec python3 bench/run.py --l5sim build/l5sim "$@"
