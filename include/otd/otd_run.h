/* otd_run.h: one run is one library call.
 *
 * otd_run takes a resolved configuration, a communicator and a run directory
 * and starts, resumes or reports the run there: layout -> target -> initial
 * W -> engine -> the algorithm's steps (evaluate, log every run.log_every
 * steps, stop on algo.target_rel_err or algo.max_iters) or its one-shot
 * solve -> final W and /summary, with checkpoints on the way (otd_ckpt.h).
 *
 * It is re-entrant: it keeps no state between calls, never exits or aborts,
 * releases everything on every path, and may run many times in one process,
 * on different communicators at the same time (the ranks of one
 * MPI_Comm_split half running one point while the other half runs
 * another). The one process-level input is the signal flag (otd_signal.h),
 * which every call polls once per step. `otd run` calls it once; a sweep
 * runner calls it per point. */
#ifndef OTD_RUN_H
#define OTD_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"
#include "otd/otd_status.h"

typedef struct {
    int restart; /* set an earlier run in the directory aside (dir/previous-N) first */
    FILE *out;   /* where rank 0 of the communicator prints banner, progress and
                  * summary; NULL: stdout */
    /* Provenance (results.h5's /provenance, written when the run starts;
     * NULL / 0: recorded empty). A library call has no argv of its own:
     * the caller says what made it. */
    const char *command;          /* the command line, shell-quoted words */
    const char *const *overrides; /* the --set KEY=VALUE strings, in order */
    int noverrides;
    int quiet; /* only the outcome: the summary (or the line saying why the run
                * stopped or has nothing to do), no banner, resume or progress */
} otd_run_opts;

/* What a call did: filled on every return (status RUNNING until the run ends,
 * and after a checkpoint on a signal). */
typedef struct {
    otd_status status;
    int64_t iters; /* steps taken in all (a one-shot solve counts 1) */
    double final_rel_err;
    double final_rel_err_res; /* its resolution (otd_eval.rel_err_res) */
    double final_loss;
    double wall_seconds; /* this call's step loop or solve */
    double steps_per_s;
    int interrupted; /* status RUNNING because of SIGINT (agreed by every rank): */
                     /* otd_status_exit_after gives 130, not 75 */
} otd_run_summary;

/* Collective over comm. Run the experiment of cfg in directory dir (created
 * if needed, locked while in use):
 *   - nothing there: start at iteration 0 (a checkpoint of it is committed
 *     at once);
 *   - an unfinished run: resume from its newest valid checkpoint after
 *     checking that it belongs to this configuration (else OTD_ERR_CONFIG
 *     listing the differing keys);
 *   - a finished run: only report it (status as stored), after checking it
 *     is of this configuration like a checkpoint (else OTD_ERR_CONFIG).
 * Before anything large is allocated, the memory every rank will need is
 * estimated and checked against its node's (OTD_ERR_CONFIG naming the keys
 * and the GiB). On resume, results.h5's /init/W and /target are checked
 * bit for bit against the checkpoint's verified W0 and the regenerated
 * target and rewritten where they differ (a warning says so); the effective
 * configuration (stopping keys may change on resume) is stored, and each
 * change recorded (docs/file-formats.md). A failure before this call wrote
 * anything leaves dir as it was (no .lock, no directory it created).
 * On SIGUSR1/SIGUSR2/SIGTERM/SIGINT every rank checkpoints at the next step
 * and the call returns OTD_OK with status RUNNING (summary->interrupted for
 * SIGINT): otd_status_exit_after gives the exit status. A one-shot solve is
 * not interrupted: a signal before it stops the run at W0 (checkpointed),
 * one during it is honoured by recording the solve. Returns OTD_ERR_NUMERIC
 * for a non-finite run (after writing what it could; the last good
 * checkpoint is kept), other codes for failures. opts may be NULL
 * (defaults). */
otd_err otd_run(const otd_config *cfg, otd_comm *comm, const char *dir, const otd_run_opts *opts,
                otd_run_summary *summary);

#endif
