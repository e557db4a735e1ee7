/* otd_runfile.h: what the tools read back from a run's results.h5 (the
 * writer is otd_results.h): the /summary verdict and numbers, and how far
 * the history got. For the run directory's state (otd_rundir.h) and a
 * sweep point's (otd_collect.h).
 *
 * Read with HDF5's default (serial) driver: not collective, no MPI needed;
 * call it on one rank. */
#ifndef OTD_RUNFILE_H
#define OTD_RUNFILE_H

#include <stdint.h>

#include "otd/otd_error.h"

/* The /summary status of the results file at path ("converged", ...) in a
 * malloc'd *status, or NULL when there is none yet (no /summary, or no
 * status in it: the run has not finished). OTD_ERR_IO if path does not
 * exist; OTD_ERR_FORMAT, naming path, if it exists but cannot be opened as
 * HDF5 (not HDF5, truncated) or its status is not a string; OTD_ERR_HDF5 if
 * an opened file cannot be read. Opens with HDF5's file locking as usual. */
otd_err otd_runfile_read_status(const char *path, char **status);

typedef struct {
    char *status;     /* /summary status, NULL if none (see above) */
    int nnum;         /* every single-valued integer or float attribute of */
    char **num_names; /* /summary, by name, as a double (integers converted) */
    double *num_vals;
    int64_t iters; /* /summary iters, else (a run not finished) the last */
                   /* row of /history/iter; -1: neither */
} otd_runfile_summary;

/* Read the /summary of the results file at path (and, if it has no iters,
 * the last row of /history/iter) into *s (free with otd_runfile_summary_free
 * whatever the result). Reads past HDF5's file lock: a live run holds its
 * results open for writing, and what it has flushed is consistent.
 * OTD_ERR_HDF5 naming the object if anything cannot be read. */
otd_err otd_runfile_read_summary(const char *path, otd_runfile_summary *s);
void otd_runfile_summary_free(otd_runfile_summary *s);

#endif
