#!/usr/bin/env bash
# Build and run the whole test suite (the README's second command; .ci/run calls it).
# GPU tests skip without a device; set L5SIM_REQUIRE_GPU=1 on a GPU machine to forbid skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
