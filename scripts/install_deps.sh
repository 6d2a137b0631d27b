#!/usr/bin/env bash
# Install everything l5sim needs on Debian 12 (idempotent): compilers and build tools, the
# libraries (all Debian packages; nothing is downloaded at build time; Open MPI for the
# distributed parts), clang-format (the format check), and numpy / matplotlib / h5py and PyYAML
# for scripts/plot.py; pybind11 and Python's headers for the Python module; nbclient and an
# IPython kernel for the example notebooks. The CUDA toolkit is
# optional: with nvcc on PATH or in /usr/local/cuda the CUDA parts build too.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS="build-essential cmake ninja-build ccache git pkg-config libyaml-cpp-dev libspdlog-dev
  libfmt-dev libcli11-dev nlohmann-json3-dev libhdf5-dev librandom123-dev libgtest-dev zlib1g-dev
  libomp-dev libopenmpi-dev openmpi-bin clang-format python3 python3-pip python3-dev
  pybind11-dev python3-numpy python3-matplotlib python3-h5py python3-yaml python3-nbclient
  python3-nbformat python3-ipykernel python3-pytest"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install_deps: apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
# The python3 on PATH may not be Debian's (pyenv, conda): make sure it can import the plot stack.
if ! python3 -c "import numpy, matplotlib, h5py, yaml" 2>/dev/null; then
  echo "install_deps: pip install numpy matplotlib h5py pyyaml for $(command -v python3)"
  python3 -m pip install -q numpy matplotlib h5py pyyaml 2>/dev/null ||
    python3 -m pip install -q --user --break-system-packages numpy matplotlib h5py pyyaml
fi
# The Python module's tests (pytest) and the example notebooks they run (nbclient with an
# IPython kernel).
if ! python3 -c "import nbclient, nbformat, ipykernel, pytest" 2>/dev/null; then
  echo "install_deps: pip install nbclient nbformat ipykernel pytest for $(command -v python3)"
  python3 -m pip install -q nbclient nbformat ipykernel pytest 2>/dev/null ||
    python3 -m pip install -q --user --break-system-packages nbclient nbformat ipykernel pytest
fi
# libsonata, the reference SONATA reader, checks that spikes.h5 is a SONATA spike report (its
# test is skipped where it cannot be installed; nothing else needs it).
if ! python3 -c "import libsonata" 2>/dev/null; then
  python3 -m pip install -q libsonata 2>/dev/null ||
    python3 -m pip install -q --user --break-system-packages libsonata 2>/dev/null ||
    echo "install_deps: libsonata could not be installed (its test will be skipped)"
fi
echo "install_deps: all dependencies present"
