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

/* How a run ended: the `status` attribute of /summary. */
typedef enum {
    OTD_STATUS_CONVERGED, /* rel_err <= algo.target_rel_err */
    OTD_STATUS_MAX_ITERS, /* step budget spent */
    OTD_STATUS_NONFINITE, /* loss or gradient became NaN/Inf: an error */
} otd_status;

typedef struct {
    otd_status status;
    int64_t iters; /* gradient steps taken */
    double final_rel_err;
    double final_loss;
    double wall_seconds; /* step loop only */
    double steps_per_s;
} otd_run_summary;

const char *otd_status_name(otd_status s);

/* Collective. Run the experiment of cfg, writing outdir/results.h5 (outdir
 * must exist; results.h5 must not). Returns OTD_ERR_NUMERIC for a
 * non-finite run (after writing what it could), other codes for failures. */
otd_err otd_driver_run(const otd_config *cfg, otd_comm *comm, const char *outdir,
                       otd_run_summary *summary);

#endif
