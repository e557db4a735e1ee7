#!/usr/bin/env bash
# run_local.sh: the README's main command. Installs what is missing, builds,
# runs a sweep here in one MPI job on all cores (otd sweep --local N: groups
# of ranks run the points in-process, largest first), collects it
# and draws its figure.
#
#   bash jobs/run_local.sh [SWEEP.yaml [FIGURE]]
#
# Default: jobs/sweeps/e1_small.yaml (E1 at laptop scale: lazy_opt vs bl vs
# gd, l = 3, d in {10, 20}, m from 3 to 96, 3 seeds) and its figure e1.
# Output: results/<sweep name>-<date>/ with runs/, summary.csv, summary.h5
# and figures/<FIGURE>.png (+ .pdf); a new directory each time, so nothing
# earlier is touched. OTD_NP overrides the number of ranks (cores) used.
# One run instead of a sweep: `mpirun -n P build/otd run CONFIG --out DIR`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/jobs/setup.sh"
. "$ROOT/jobs/env.sh"

sweep=${1:-$ROOT/jobs/sweeps/e1_small.yaml}
figure=${2:-e1}
np=${OTD_NP:-$(nproc)}
out=$ROOT/results/$(basename "$sweep" .yaml)-$(date +%Y%m%d-%H%M%S)

# `otd sweep --local` exits 1 when a point did not finish; collect then says
# which and prints the command that reruns only those.
status=0
"$ROOT/build/otd" sweep "$sweep" --out "$out" --local "$np" || status=$?
"$ROOT/build/otd" collect "$out" || status=$?
/usr/bin/python3 "$ROOT/analysis/figures.py" "$figure" "$out"
echo "results: $out (summary.csv, summary.h5, figures/)"
exit "$status"
