# task.sh: run otd inside a Slurm batch job (sourced, not executed).
#
#   . "$OTD_JOBS_DIR/slurm/task.sh"
#   otd_slurm_task CONFIG RUNDIR STATUS_FILE      # one run; returns otd's exit status
#   otd_slurm_step STATUS_FILE OTD_ARGS...        # any otd command, e.g. a packed
#                                                 # sweep job: sweep-run DIR --share FILE
#
# otd_slurm_task is used by jobs/slurm/run_one.sbatch, otd_slurm_step by the
# job scripts `otd sweep --submit` writes (DIR/jobs/job-B-K.sbatch). It
#   - runs  $OTD_LAUNCH "$OTD_BIN" OTD_ARGS...  (for one run: run CONFIG --out
#     RUNDIR, which resumes RUNDIR from its newest checkpoint or says it is
#     complete; for a sweep job: sweep-run, which skips done points and
#     resumes the interrupted ones);
#   - relays the warning signal: Slurm's --signal=B:USR1@N reaches only this
#     batch shell, so on USR1, USR2 or TERM the shell sends USR1 to the
#     launcher, which passes it to every rank; otd checkpoints at the next
#     step and exits 75;
#   - appends "<unix_time> <exit_code> <host> <jobid>" to STATUS_FILE (one
#     line per attempt; the format of tasks/<name>.exit and jobs/job-B-K.exit
#     in docs/file-formats.md);
#   - on exit 75 requeues this job (`scontrol requeue`; the rerun resumes)
#     unless SLURM_RESTART_COUNT >= OTD_MAX_REQUEUES, in which case it says
#     that the retry limit was reached and returns 75 (the job then ends
#     FAILED with exit code 75, "resubmit to continue").
#
# Environment:
#   OTD_BIN           the otd binary (required)
#   OTD_LAUNCH        launcher command, word-split (default: srun --mpi=pmix
#                     --wait=10). OTD_LAUNCH=mpirun also works
#                     inside an allocation (Open MPI reads the Slurm
#                     allocation); as root it needs
#                     OMPI_ALLOW_RUN_AS_ROOT{,_CONFIRM}=1, which jobs/env.sh
#                     (sourced below) sets.
#   OTD_MAX_REQUEUES  requeues allowed after exit 75 (default 3; 0 = never)
#
# --wait=10: when a rank dies (its node fails, the OOM killer, kill -9),
# srun ends the rest of the step 10 s later, as mpirun ends its job. Without
# it the ranks on the other nodes would wait in their next collective for a
# peer that is gone, until the time limit (Open MPI only warns that a peer
# disconnected; checked across two nodes by
# tests/integration/test_multinode.py). otd's ranks always leave together
# (after MPI_Finalize), so 10 s apart means one is gone. Not
# --kill-on-bad-exit: it would also cut short the normal end of a step whose
# ranks all exit 75, and a requeued job can then start before the cut step
# has cleaned up on its nodes (PMIx: "Address already in use").
#
# MPI over TCP between nodes: Open MPI uses every interface but loopback
# unless told otherwise. On nodes with interfaces that do not reach the
# other nodes (a container bridge, a management network) restrict it to the
# one that does, for example in the sweep file's `setup` lines or before
# sbatch (which exports the environment):
#   export OMPI_MCA_btl_tcp_if_include=10.1.0.0/16    # or an interface: ib0
# and, for OTD_LAUNCH=mpirun (its daemons talk to each other too), the same
# for OMPI_MCA_oob_tcp_if_include. See docs/platform.md.
#
# Signals, as checked with Slurm 22.05 + Open MPI 4.1 + PMIx 4.2:
#   - srun and mpirun both forward SIGUSR1 (and SIGUSR2) to every rank.
#   - SIGTERM to srun makes it cancel the step ("forcing job termination":
#     ranks are SIGKILLed), and SIGTERM to mpirun makes it kill its ranks
#     too. So whatever arrives here (USR1, USR2 or TERM), USR1 is what we
#     send on: otd treats all three alike, and USR1 is the one both
#     launchers relay instead of acting on.

# Load env.sh (Open MPI root variables for `OTD_LAUNCH=mpirun` as root, one
# BLAS thread per rank) from the jobs/ directory this file lives in.
# shellcheck source=../env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../env.sh"

_otd_task_pid=""
_otd_task_signalled=0

# Trap handler: remember the signal and pass USR1 to the launcher.
_otd_task_forward() {
  _otd_task_signalled=1
  if [ -n "$_otd_task_pid" ] && kill -0 "$_otd_task_pid" 2>/dev/null; then
    echo "otd task: received SIG$1; sending USR1 to the launcher (pid $_otd_task_pid) so that otd checkpoints"
    kill -s USR1 "$_otd_task_pid" 2>/dev/null || true
  else
    echo "otd task: received SIG$1 while otd is not running; ignored"
  fi
}

otd_slurm_task() {
  otd_slurm_step "$3" run "$1" --out "$2"
}

otd_slurm_step() {
  local status=$1
  shift
  local launch max restarts jobid host rc
  if [ -z "${OTD_BIN:-}" ]; then
    echo "otd task: OTD_BIN is not set (the otd binary to run)" >&2
    return 2
  fi
  read -r -a launch <<<"${OTD_LAUNCH:-srun --mpi=pmix --wait=10}"
  max=${OTD_MAX_REQUEUES:-3}
  restarts=${SLURM_RESTART_COUNT:-0}
  # An array task is named as its log file is (%A_%a); scontrol accepts both.
  if [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    jobid=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
  else
    jobid=${SLURM_JOB_ID:-local}
  fi
  host=$(hostname -s 2>/dev/null || hostname)
  echo "otd task: job $jobid on $host, SLURM_RESTART_COUNT=$restarts, OTD_MAX_REQUEUES=$max, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  # The command as it runs, each word shell-quoted (%q): paths may hold
  # spaces or anything else.
  printf 'otd task:'
  printf ' %q' "${launch[@]}" "$OTD_BIN" "$@"
  printf '\n'

  _otd_task_pid=""
  _otd_task_signalled=0
  trap '_otd_task_forward USR1' USR1
  trap '_otd_task_forward USR2' USR2
  trap '_otd_task_forward TERM' TERM
  # Run in the background and wait: bash runs a trap only between commands,
  # so with otd in the foreground the warning would wait until otd ended.
  # `wait` returns (status > 128) as soon as a trapped signal arrives; then
  # wait again for otd's own status (bash keeps it even if otd has ended).
  "${launch[@]}" "$OTD_BIN" "$@" &
  _otd_task_pid=$!
  while :; do
    _otd_task_signalled=0
    rc=0
    wait "$_otd_task_pid" || rc=$?
    [ "$_otd_task_signalled" -eq 1 ] || break
  done
  trap - USR1 USR2 TERM
  _otd_task_pid=""

  mkdir -p "$(dirname "$status")"
  echo "$(date +%s) $rc $host $jobid" >>"$status"
  echo "otd task: otd exited $rc (appended to $status)"

  if [ "$rc" -ne 75 ]; then
    return "$rc"
  fi
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    echo "otd task: not in a Slurm job: run again to continue from the checkpoint" >&2
    return 75
  fi
  if [ "$restarts" -ge "$max" ]; then
    echo "otd task: retry limit reached: SLURM_RESTART_COUNT=$restarts >= OTD_MAX_REQUEUES=$max; not requeueing. The checkpoints are kept: resubmit to continue" >&2
    return 75
  fi
  echo "otd task: requeueing job $SLURM_JOB_ID (restart $((restarts + 1)) of at most $max); the rerun resumes from the checkpoints"
  # Slurm ends this shell right after the requeue: everything is recorded.
  if ! scontrol requeue "$SLURM_JOB_ID"; then
    echo "otd task: scontrol requeue $SLURM_JOB_ID failed (job submitted with --no-requeue?): resubmit to continue" >&2
  fi
  return 75
}
