/* otd_rundir.h: a run directory OUT and what is in it.
 *
 *   OUT/results.h5       history and final state (otd_results.h)
 *   OUT/checkpoints/     committed checkpoints (otd_ckpt.h)
 *   OUT/.lock            held (flock) by the run using OUT
 *   OUT/previous-N/      what `--restart` set aside (never deleted)
 *
 * Running the same command again resumes: the state of OUT decides whether
 * a run starts, resumes from its newest checkpoint, or is already done. */
#ifndef OTD_RUNDIR_H
#define OTD_RUNDIR_H

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

typedef enum {
    OTD_RUNDIR_FRESH,  /* nothing there: start from iteration 0 */
    OTD_RUNDIR_RESUME, /* results of an unfinished run: continue from a checkpoint */
    OTD_RUNDIR_DONE,   /* the run finished (status converged, max_iters or nonfinite) */
} otd_rundir_state;

typedef struct otd_rundir otd_rundir;

/* Collective. Create dir (and parents) if needed, lock it (a second run on
 * the same directory fails with OTD_ERR_IO naming the holder's pid and
 * host), and find its state. With restart, an earlier run's results and
 * checkpoints are first moved to dir/previous-N and the state is FRESH. */
otd_err otd_rundir_open(otd_comm *comm, const char *dir, int restart, otd_rundir **out);

/* Not collective: releases the lock (rank 0). Accepts NULL. */
void otd_rundir_close(otd_rundir *rd);

otd_rundir_state otd_rundir_get_state(const otd_rundir *rd);
/* DONE: the /summary status of the finished run ("converged", ...). */
const char *otd_rundir_status(const otd_rundir *rd);
const char *otd_rundir_results_path(const otd_rundir *rd);
const char *otd_rundir_ckpt_dir(const otd_rundir *rd);

#endif
