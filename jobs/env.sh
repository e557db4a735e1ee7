# env.sh: environment for running otd with Open MPI on this machine.
# Sourced by the local launch scripts; harmless to source by hand.
#
# Open MPI refuses to start as root unless told, and by default refuses more
# ranks than cores. One BLAS thread per rank: ranks are otd's parallelism.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
