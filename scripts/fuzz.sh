#!/usr/bin/env bash
# libFuzzer over the config loader (tests/fuzz/fuzz_config.cpp): a clang build with ASan and
# UBSan in build-fuzz/, then SECONDS (default 60) of fuzzing that starts from the shipped
# configs. A crash, a sanitizer report, a hang (10 s) or an exception other than ConfigError
# stops it and leaves the input as build-fuzz/crash-* (or timeout-*, oom-*).
#   scripts/fuzz.sh [SECONDS]
# Needs clang and its fuzzer runtime (Debian: clang, libclang-rt-14-dev), installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p"; }
done
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DL5SIM_CUDA=OFF -DL5SIM_TESTS=OFF -DL5SIM_FUZZ=ON >/dev/null
cmake --build build-fuzz --target fuzz_config
mkdir -p build-fuzz/corpus
cp configs/*.yaml configs/paper/*.yaml build-fuzz/corpus/
cd build-fuzz
ASAN_OPTIONS=detect_leaks=0 ./fuzz_config -max_total_time="$secs" -timeout=10 \
  -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 corpus
