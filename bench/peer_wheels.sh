#!/usr/bin/env bash
# Wheels for the GPU peer (Brian2CUDA 1.0a7 on Brian2 2.8.0, the newest pair pip resolves here)
# for a GPU machine without package access: downloaded here for CPython 3.10-3.12 (the GPU
# machine's Python is not known in advance; its own numpy is used), ~21 MB, into DIR (default
# .gpu/wheels, which travels with the bundle). bench/gpu_peers.sh installs them there.
# Usage: bench/peer_wheels.sh [DIR]
set -euo pipefail
dir=${1:-.gpu/wheels}
mkdir -p "$dir"
for v in 3.10 3.11 3.12; do
  pip download -q --only-binary=:all: --python-version "$v" --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$dir" "brian2==2.8.0" "brian2cuda==1.0a7"
done
rm -f "$dir"/numpy-*.whl  # the GPU machine's numpy is used (--system-site-packages)
du -sh "$dir"
