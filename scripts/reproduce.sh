#!/usr/bin/env bash
# Reproduce the seven findings of the paper (MODEL.md section 11): set up and build if needed,
# then run configs/paper/t1..t7 and write figures and a results table into out/reproduce/.
#   scripts/reproduce.sh            full trial counts (about 1.5 minutes on 2 CPU cores)
#   scripts/reproduce.sh --quick    reduced trials (about 40 s)
# Other arguments go to scripts/reproduce.py (--only T2,T5, --backend cuda, --out DIR, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/l5sim ] || scripts/install_deps.sh
scripts/build.sh
exec python3 scripts/reproduce.py --l5sim build/l5sim "$@"
