#!/usr/bin/env bash
# setup.sh: install what is missing (Debian 12, apt-get) and build otd.
#
#   bash jobs/setup.sh [CMAKE_ARGS...]
#
# Sourced or run by the two README commands; safe to run again (installs
# nothing that is present, rebuilds only what changed). The build goes to
# $OTD_BUILD (default: build/ in the checkout). OTD_SETUP_TESTS=1 (set by
# jobs/test.sh) also installs what only the tests need: MPICH, BLIS and
# their ScaLAPACK and HDF5 (the second toolchain, jobs/toolchains/), Lmod.
#
# Packages are installed only when this can: as root, or with sudo that
# needs no password. Otherwise setup lists what is missing and stops, or
# goes on to the build when nothing is. Not on Debian (no dpkg): nothing is
# checked or installed, and CMake says what it cannot find; see README.md,
# "Building on a cluster".
set -euo pipefail

OTD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OTD_BUILD=${OTD_BUILD:-$OTD_ROOT/build}

# Everything otd, its tests and analysis/ need, from Debian's archive. Slurm:
# the daemons and client that the job scripts use and that tests/integration
# start privately on localhost (not the slurm-wlm metapackage: it pulls in
# some twenty -dev packages).
OTD_PACKAGES=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin
  libscalapack-openmpi-dev libhdf5-openmpi-dev hdf5-tools libcunit1-dev libopenblas-dev
  libyaml-dev clang-format python3 python3-h5py python3-numpy python3-matplotlib python3-yaml
  python3-pandas
  slurmctld slurmd slurm-client munge)
# The tests' second toolchain (Debian keeps Open MPI and OpenBLAS the
# defaults: these come in beside them) and the module system.
if [ "${OTD_SETUP_TESTS:-0}" = 1 ]; then
  OTD_PACKAGES+=(mpich libmpich-dev libscalapack-mpich-dev libhdf5-mpich-dev libblis-dev lmod)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${OTD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  echo "otd setup: not a Debian system: installing nothing (see README.md, Building on a cluster)"
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  else
    echo "otd setup: these Debian packages are missing, and installing them needs root:" >&2
    echo "  ${missing[*]}" >&2
    echo "Ask an administrator to run" >&2
    echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
    echo "or build without root from your site's modules: README.md, Building on a cluster." >&2
    exit 1
  fi
  echo "otd setup: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's h5py/matplotlib import only under /usr/bin/python3 (a pyenv
# python3 may come first on PATH).
mkdir -p "$OTD_BUILD"
cmake -S "$OTD_ROOT" -B "$OTD_BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE=/usr/bin/python3 "$@" >"$OTD_BUILD/configure.log" 2>&1 ||
  { cat "$OTD_BUILD/configure.log"; exit 1; }
cmake --build "$OTD_BUILD" -j "$(nproc)"
