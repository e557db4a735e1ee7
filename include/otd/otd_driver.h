/* otd_driver.h: one run, from a validated configuration to results.h5.
 *
 * The data path: layout -> target -> initial W -> engine -> step loop
 * (evaluate, log every run.log_every steps, stop on run.target_rel_err or
 * algo.max_iters, step) -> final W and summary. Rank 0 prints a banner,
 * progress lines every run.progress_seconds and a summary. */
#ifndef OTD_DRIVER_H
#define OTD_DRIVER_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"
#include "otd/otd_linalg.h"
#include "otd/otd_rundir.h"

/* How a run ended: the `status` attribute of /summary ("running" until
 * then, also after a checkpoint-and-exit). */
typedef enum {
    OTD_STATUS_CONVERGED,    /* rel_err <= algo.target_rel_err */
    OTD_STATUS_MAX_ITERS,    /* step budget spent */
    OTD_STATUS_NONFINITE,    /* loss or gradient became NaN/Inf: an error */
    OTD_STATUS_CHECKPOINTED, /* a signal: checkpointed, resubmit to continue */
    OTD_STATUS_SOLVED,       /* lazy_opt: the normal equations were solved */
} otd_status;

typedef struct {
    otd_status status;
    int64_t iters; /* gradient steps taken */
    double final_rel_err;
    double final_loss;
    double wall_seconds; /* step loop only */
    double steps_per_s;
    /* lazy_opt: the distributed solve (n = 0 for other algorithms) */
    otd_spd_info lazy;
} otd_run_summary;

const char *otd_status_name(otd_status s);

/* Collective. Run, resume or report the experiment of cfg in the run
 * directory rd (otd_rundir.h): FRESH starts at iteration 0 (and commits a
 * checkpoint of it at once), RESUME continues from the newest valid
 * checkpoint after checking it belongs to this configuration (else
 * OTD_ERR_CONFIG listing the differing keys), DONE only reports. Checkpoints
 * every run.checkpoint_every steps (or run.checkpoint_seconds) and, on
 * SIGUSR1/SIGUSR2/SIGTERM, at the next step, then returns with status
 * OTD_STATUS_CHECKPOINTED. Returns OTD_ERR_NUMERIC for a non-finite run
 * (after writing what it could; the last good checkpoint is kept). */
otd_err otd_driver_run(const otd_config *cfg, otd_comm *comm, otd_rundir *rd,
                       otd_run_summary *summary);

#endif
