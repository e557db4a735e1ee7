#!/usr/bin/env bash
# run_local.sh: the README's main command. Installs what is missing, builds,
# runs the default experiment on all cores of this machine, and draws its
# figure.
#
#   bash jobs/run_local.sh [CONFIG.yaml] [otd run options...]
#
# Default: jobs/configs/default.yaml (bl on an orthonormal rank-3 order-3
# target). Output: results/<config name>-<date>/ with results.h5 and
# rel_err.png; a new directory each time, so nothing earlier is touched.
# OTD_NP overrides the rank count (default: all cores).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/jobs/setup.sh"
. "$ROOT/jobs/env.sh"

config=$ROOT/jobs/configs/default.yaml
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  config=$1
  shift
fi
np=${OTD_NP:-$(nproc)}
out=$ROOT/results/$(basename "$config" .yaml)-$(date +%Y%m%d-%H%M%S)

mpirun -n "$np" "$ROOT/build/otd" run "$config" --out "$out" "$@"
/usr/bin/python3 "$ROOT/analysis/plot_run.py" "$out"
echo "results: $out/results.h5 (otd info $out/results.h5)"
