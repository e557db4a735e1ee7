#!/usr/bin/env bash
# setup.sh: install what is missing (Debian 12, apt-get) and build otd.
#
#   bash jobs/setup.sh [CMAKE_ARGS...]
#
# Sourced or run by the two README commands; safe to run again (installs
# nothing that is present, rebuilds only what changed). The build goes to
# $OTD_BUILD (default: build/ in the checkout).
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
  slurmctld slurmd slurm-client munge)

missing=()
for p in "${OTD_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "otd setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's h5py/matplotlib import only under /usr/bin/python3 (a pyenv
# python3 may come first on PATH).
mkdir -p "$OTD_BUILD"
cmake -S "$OTD_ROOT" -B "$OTD_BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE=/usr/bin/python3 "$@" >"$OTD_BUILD/configure.log" 2>&1 ||
  { cat "$OTD_BUILD/configure.log"; exit 1; }
cmake --build "$OTD_BUILD" -j "$(nproc)"
