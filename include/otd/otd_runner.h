/* otd_runner.h: many sweep points in one MPI job, each through the one run
 * call (otd_run.h), no process launched per point.
 *
 * The job's ranks form groups sized to each point's `ranks` (a points class
 * per rank count, largest first; within a class the points in order of
 * estimated cost, largest first, so that the long ones do not end the job
 * alone). The groups of a class take points from one shared list with an
 * atomic counter (otd_counter: no coordinator rank, no rank idle while
 * there is work of its size; in MPI's shared memory on one node, in files
 * under DIR/counters across nodes), run them at the same time, and record each
 * outcome as it happens in the sweep directory (tasks/<name>.exit, the
 * point's run directory and its log logs/run-<name>.out) exactly as a
 * separate `otd run` would: `otd collect` cannot tell the difference, and
 * each result is bitwise what `otd run` gives at the same rank count.
 *
 * Failures stay local: a point whose configuration is refused, that goes
 * non-finite, that does not fit in memory or that hits an I/O error every
 * rank of its group agreed on is recorded with its exit status and reason,
 * and its group goes on. A failure that the group's ranks may not all know
 * of (one rank left inside a collective) cannot be survived by the job: the
 * call returns it and the caller ends the job (`otd sweep-run` aborts);
 * running the sweep again continues (done points are not redone, points in
 * flight resume from their checkpoints).
 *
 * Signals (otd_signal.h): a group's current run checkpoints at its next step
 * and returns; no group takes a new point after a signal, and the call
 * returns with result.signalled set (exit 75 or, after SIGINT, 130). */
#ifndef OTD_RUNNER_H
#define OTD_RUNNER_H

#include <stdint.h>
#include <stdio.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

typedef struct {
    const char *dir;         /* the sweep directory */
    const char *share;       /* NULL: every point not done; else a file of point names,
                              * one per line (this job's share) */
    const char *jobid;       /* recorded with each outcome ("local" or the Slurm job id) */
    double progress_seconds; /* between progress lines on rank 0 (<= 0: none) */
    FILE *out;               /* rank 0's progress and summary lines (NULL: stdout) */
} otd_runner_opts;

typedef struct {
    int64_t total;   /* points this call took on */
    int64_t done;    /* ended done (converged, max_iters, solved) */
    int64_t failed;  /* ended otherwise, or could not run here */
    int signalled;   /* a stop signal arrived: the rest are left for a rerun */
    int interrupted; /* ... and it was SIGINT */
    double seconds;  /* wall time of the call */
} otd_runner_result;

/* Collective over world. Run the points of o->dir that are not done (or of
 * o->share) as described above. Returns OTD_OK when every point was tried
 * (res says how they ended), OTD_ERR_FORMAT/_IO for a sweep directory that
 * cannot be read, or the error of a point that left its group's ranks in
 * disagreement (the job must end). Every rank gets the same *res. */
otd_err otd_sweep_runner(otd_comm *world, const otd_runner_opts *o, otd_runner_result *res);

#endif
