#!/usr/bin/env bash
# test.sh: the README's test command. Installs what is missing, builds with
# warnings as errors, and runs the whole suite: CUnit unit tests, CUnit MPI
# tests at 1, 2, 3 and 4 ranks, and integration tests of the real `otd`.
#
#   bash jobs/test.sh [ctest options, e.g. -R engine]
#
# Every test has a timeout (tests/CMakeLists.txt): a hang fails, it does not
# stall. .ci/run calls exactly this.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/jobs/setup.sh" -DOTD_WERROR=ON
. "$ROOT/jobs/env.sh"
cd "${OTD_BUILD:-$ROOT/build}"
ctest --output-on-failure -j "$(nproc)" "$@"
