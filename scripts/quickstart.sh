#!/usr/bin/env bash
# Set up, build, and run the reference ring network (configs/quickstart.yaml) into out/quickstart,
# then draw its raster and rates. The README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
build/l5sim run configs/quickstart.yaml --out out/quickstart --force
python3 scripts/plot.py out/quickstart
echo "quickstart: outputs and figures in out/quickstart (raster.png, rates.png, probes.png, plateau.png, weights.png)"
