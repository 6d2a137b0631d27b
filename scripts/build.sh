#!/usr/bin/env bash
# Configure and build l5sim (Release) into build/. The CUDA engine is built when nvcc exists;
# set CUDA_ARCHS to change its architectures (default 90: H100/H200).
set -euo pipefail
cd "$(dirname "$0")/.."
archs=${CUDA_ARCHS:-90}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
cmake --build build -j "$(nproc)"
