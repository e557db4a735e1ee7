# env.sh: environment for running otd with Open MPI on this machine.
# Sourced by the local launch scripts and by jobs/slurm/task.sh (so by every
# Slurm job otd writes); harmless to source by hand.
#
# Open MPI refuses to start as root unless told. Outside a Slurm allocation
# it also refuses more ranks than cores by default, which a small machine
# (and the test suite) needs: oversubscription is allowed there. Inside an
# allocation (SLURM_JOB_ID set) the allocation says how many ranks fit, so
# nothing is forced. One BLAS thread per rank: ranks are otd's parallelism.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [ -z "${SLURM_JOB_ID:-}" ]; then
  export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
