#!/bin/bash
# sweep_task.sh: run one point of an `otd sweep` directory (one array task).
#
#   bash jobs/slurm/sweep_task.sh DIR INDEX
#
# Exec'd by DIR/sweep.sbatch (written by `otd sweep`) with INDEX =
# $SLURM_ARRAY_TASK_ID. Reads the line of DIR/manifest.tsv whose index
# column is INDEX and runs `otd run DIR/<config> --out DIR/<rundir>` through
# jobs/slurm/task.sh: the warning signal is relayed, exit 75 requeues the
# task (up to OTD_MAX_REQUEUES times), and each attempt appends
# "<unix_time> <exit_code> <host> <jobid>" to DIR/tasks/<name>.exit.
# An `invalid` point is run as well: otd prints the configuration error
# and exits 2, which is recorded like any other outcome.
#
# Environment: OTD_BIN (required), OTD_LAUNCH (default `srun --mpi=pmix`),
# OTD_MAX_REQUEUES (default 3). See task.sh.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: sweep_task.sh DIR INDEX" >&2
  exit 2
fi
dir=$1
index=$2
manifest=$dir/manifest.tsv
if [ ! -r "$manifest" ]; then
  echo "sweep_task: cannot read $manifest" >&2
  exit 2
fi
# Columns by name from the header (index, name, status, config, rundir, then
# one per swept key), so that extra columns never shift what we read.
line=$(awk -F'\t' -v want="$index" '
  NR == 1 {
    for (i = 1; i <= NF; i++) col[$i] = i
    if (!col["index"] || !col["name"] || !col["status"] || !col["config"] || !col["rundir"]) {
      print "sweep_task: " FILENAME ": header lacks index/name/status/config/rundir" > "/dev/stderr"
      exit 2
    }
    next
  }
  $col["index"] == want { print $col["name"] "\t" $col["status"] "\t" $col["config"] "\t" $col["rundir"]; exit }
' "$manifest")
if [ -z "$line" ]; then
  echo "sweep_task: no line with index $index in $manifest" >&2
  exit 2
fi
IFS=$'\t' read -r name status config rundir <<<"$line"
echo "sweep_task: $dir point $index: $name ($status)"
# config and rundir are relative to DIR.
case $config in /*) ;; *) config=$dir/$config ;; esac
case $rundir in /*) ;; *) rundir=$dir/$rundir ;; esac

# shellcheck source=task.sh
. "$(dirname "${BASH_SOURCE[0]}")/task.sh"
rc=0
otd_slurm_task "$config" "$rundir" "$dir/tasks/$name.exit" || rc=$?
exit "$rc"
