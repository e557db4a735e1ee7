#!/usr/bin/env bash
# test.sh: the README's test command. Installs what is missing, builds with
# warnings as errors, and runs the whole suite: CUnit unit tests, CUnit MPI
# tests at 1, 2, 3 and 4 ranks, and integration tests of the real `otd`.
#
#   bash jobs/test.sh [ctest options, e.g. -R engine]
#
# It also builds the second toolchain, jobs/toolchains/mpich-blis.cmake
# (MPICH + BLIS + ScaLAPACK/HDF5 for MPICH), into $OTD_MPICH_BUILD (default
# build-mpich/ in the checkout) and runs its MPI tests at 1 and 2 ranks
# (MPICH's ranks poll while they wait: more ranks than these 2 cores would
# only measure that); the suite's integ_toolchains compares the two builds.
# The ctest options apply to the main suite.
#
# Every test has a timeout (tests/CMakeLists.txt): a hang fails, it does not
# stall. .ci/run calls exactly this.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MPICH_BUILD=${OTD_MPICH_BUILD:-$ROOT/build-mpich}
OTD_SETUP_TESTS=1 bash "$ROOT/jobs/setup.sh" -DOTD_WERROR=ON -DOTD_MPICH_BUILD="$MPICH_BUILD"

mkdir -p "$MPICH_BUILD"
cmake -C "$ROOT/jobs/toolchains/mpich-blis.cmake" -S "$ROOT" -B "$MPICH_BUILD" \
  -DCMAKE_BUILD_TYPE=Release -DOTD_WERROR=ON -DPython3_EXECUTABLE=/usr/bin/python3 \
  >"$MPICH_BUILD/configure.log" 2>&1 || { cat "$MPICH_BUILD/configure.log"; exit 1; }
cmake --build "$MPICH_BUILD" -j "$(nproc)" --target otd otd_mpi_tests

. "$ROOT/jobs/env.sh"
status=0
echo "== MPICH + BLIS build ($MPICH_BUILD): MPI tests at 1 and 2 ranks"
(cd "$MPICH_BUILD" && ctest --output-on-failure -j "$(nproc)" -L mpi -R '_P[12]$') || status=1
echo "== main build (${OTD_BUILD:-$ROOT/build})"
(cd "${OTD_BUILD:-$ROOT/build}" && ctest --output-on-failure -j "$(nproc)" "$@") || status=1
exit "$status"
