/* otd_rundir.h: a run directory OUT and what is in it.
 *
 *   OUT/results.h5       history and final state (otd_results.h)
 *   OUT/checkpoints/     committed checkpoints (otd_ckpt.h)
 *   OUT/.lock            held (flock) by the run using OUT
 *   OUT/previous-N/      what `--restart` set aside (never deleted)
 *
 * Running the same command again resumes: the state of OUT decides whether
 * a run starts, resumes from its newest checkpoint, or is already done.
 *
 * otd never writes through a symbolic link here: .lock is opened with
 * O_NOFOLLOW (created with O_EXCL), and a results.h5, checkpoints/ or
 * checkpoints/<entry> that is a link (or not a regular file, not a
 * directory for checkpoints/) is refused before anything opens it. */
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
 * and the state is FRESH. Refused, the same on every rank: an empty dir
 * (OTD_ERR_ARG), an entry that is a link or of the wrong kind (OTD_ERR_ARG,
 * naming it), a results.h5 HDF5 cannot read (otd_runfile_probe:
 * OTD_ERR_FORMAT). Of a resumable run, a checkpoint HDF5 cannot read is
 * renamed *.bad (a warning says so), like one that fails verification. On
 * failure nothing this call added is left (see otd_rundir_discard). */
otd_err otd_rundir_open(otd_comm *comm, const char *dir, int restart, FILE *out,
                        otd_rundir **out_rd);

/* Not collective: releases the lock (rank 0). Accepts NULL. */
void otd_rundir_close(otd_rundir *rd);

/* Not collective: close after a failure before anything was written into
 * the directory: rank 0 also removes the .lock if this open created it, and
 * the directory (and parents) if this open created them and they are empty
 * ("nothing written" leaves nothing). Accepts NULL. */
void otd_rundir_discard(otd_rundir *rd);

otd_rundir_state otd_rundir_get_state(const otd_rundir *rd);
/* The /summary status of the run found there (RUNNING when FRESH). */
otd_status otd_rundir_status(const otd_rundir *rd);
const char *otd_rundir_results_path(const otd_rundir *rd);
const char *otd_rundir_ckpt_dir(const otd_rundir *rd);

#endif
