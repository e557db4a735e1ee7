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

#include <stdio.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"
#include "otd/otd_status.h"

typedef enum {
    OTD_RUNDIR_FRESH,  /* nothing there: start from iteration 0 */
    OTD_RUNDIR_RESUME, /* results of an unfinished run: continue from a checkpoint */
    OTD_RUNDIR_DONE,   /* the run finished (its status is not running) */
} otd_rundir_state;

typedef struct otd_rundir otd_rundir;

/* Collective. Create dir (and parents) if needed, lock it (a second run on
 * the same directory fails with OTD_ERR_IO naming the holder's pid and
 * host), and find its state. With restart, an earlier run's results and
 * checkpoints are first moved to dir/previous-N (rank 0 says where on out)
 * and the state is FRESH. */
otd_err otd_rundir_open(otd_comm *comm, const char *dir, int restart, FILE *out,
                        otd_rundir **out_rd);

/* Not collective: releases the lock (rank 0). Accepts NULL. */
void otd_rundir_close(otd_rundir *rd);

otd_rundir_state otd_rundir_get_state(const otd_rundir *rd);
/* The /summary status of the run found there (RUNNING when FRESH). */
otd_status otd_rundir_status(const otd_rundir *rd);
const char *otd_rundir_results_path(const otd_rundir *rd);
const char *otd_rundir_ckpt_dir(const otd_rundir *rd);

#endif
