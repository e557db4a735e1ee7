/* otd_collect.h: the state of every point of a sweep directory, and the
 * summary table `otd collect` writes (DIR/summary.csv, DIR/summary.h5).
 *
 * Everything here only reads run directories: results files are opened
 * read-only with HDF5 file locking off (a live run holds its file open), a
 * run's .lock is only tested. Not collective; no MPI. */
#ifndef OTD_COLLECT_H
#define OTD_COLLECT_H

#include <stdint.h>

#include "otd/otd_error.h"
#include "otd/otd_sweep.h"

typedef enum {
    OTD_POINT_DONE,    /* results with status converged or max_iters */
    OTD_POINT_RUNNING, /* its run directory is locked by a live run */
    OTD_POINT_FAILED,  /* nonfinite, interrupted, invalid config, or a task exited nonzero */
    OTD_POINT_MISSING, /* never ran (no results, no failed attempt) */
    OTD_POINT_NSTATUS_
} otd_point_status;

/* "done", "running", "failed", "missing". */
const char *otd_point_status_name(otd_point_status s);

typedef struct {
    otd_point_status status;
    char *reason;       /* short text for failed/running ("" otherwise), malloc'd */
    int64_t iters;      /* -1: unknown */
    int64_t attempts;   /* lines of tasks/<name>.exit */
    int last_code;      /* exit code of the last attempt (attempts > 0) */
    int64_t first_time; /* unix time of its first attempt line */
    int nnum;           /* numeric attributes of the results' /summary */
    char **num_names;
    double *num_vals;
    unsigned char *num_is_int; /* 1: an integer attribute (summary.h5 column type) */
} otd_point_info;

/* Classify point `name` of sweep directory dir (manifest fields config and
 * rundir relative to dir; invalid: the manifest says so), by the rules of
 * `otd collect --help`. Fills a zeroed *info (free with otd_point_info_free
 * whatever the result); fails only for out of memory. */
otd_err otd_point_inspect(const char *dir, const otd_manifest_row *row, otd_point_info *info);
void otd_point_info_free(otd_point_info *info);

typedef struct {
    otd_manifest manifest;
    otd_point_info *info; /* manifest.n */
    int64_t count[OTD_POINT_NSTATUS_];
} otd_collection;

/* Inspect every manifest point of dir and write dir/summary.csv and
 * dir/summary.h5 (each to a temporary name, then renamed). Fills a zeroed
 * *c; free with otd_collection_free. OTD_ERR_FORMAT if the manifest is
 * missing or broken (dir is not a sweep directory), OTD_ERR_IO /
 * OTD_ERR_HDF5 if a summary cannot be written. */
otd_err otd_collect(const char *dir, otd_collection *c);
void otd_collection_free(otd_collection *c);

#endif
