/* otd_results.h: results.h5, written collectively with parallel HDF5.
 *
 * Layout of the file (all float64 unless noted):
 *   /                 attributes: config (resolved YAML text), config_hash
 *                     (string, 16 hex digits), otd_version, nranks (int64),
 *                     blas, plus any extra string attributes passed at create
 *   /target/U (d, r)  U[j, k] = coordinate j of target component k
 *   /target/a (r,)
 *   /init/W (d, m)    the initial factor matrix W0
 *   /final/W (d, m)   W[j, i] = coordinate j of component i
 *   /history/<name>   1-D extendible (chunked) datasets, one per scalar column,
 *                     one row per logged iteration
 *   /history/<vname>  2-D extendible (n, width) datasets for vector columns
 *                     (per-target quantities, width r)
 *   /summary          group with attributes final_rel_err (double), iters
 *                     (int64), status (string), and any extra numbers
 *   /provenance       group with string attributes (where the run ran, when,
 *                     by which command and libraries) and the compound
 *                     record /provenance/resumes (one row per resume)
 *
 * Every dataset has a `description` attribute (string) and, when its values
 * have a unit, a `unit` attribute ("s"; dimensionless values have none):
 * the fixed datasets' from a table in results.c, the history columns' from
 * the otd_results_column entries that define them.
 *
 * History rows are buffered in memory on every rank (all ranks hold the same
 * values) and written at flush time by rank 0 inside a collective extend, so
 * the step loop never touches the file. */
#ifndef OTD_RESULTS_H
#define OTD_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

typedef struct otd_results otd_results;

/* A history column: its name, what it holds (non-empty), and its unit
 * ("s", "1/s", "bytes"; NULL for a dimensionless value or a count). */
typedef struct {
    const char *name;
    const char *description;
    const char *unit;
} otd_results_column;

typedef struct {
    const char *name;  /* attribute name */
    const char *value; /* string value */
} otd_attr;

/* Collective. Create `path` (which must not exist: results are never
 * overwritten silently; fails with OTD_ERR_IO naming the path) and write the
 * root attributes. `attrs` are nattrs extra string attributes. */
otd_err otd_results_create(const char *path, otd_comm *comm, const otd_attr *attrs, int nattrs,
                           otd_results **out);

/* Collective. Write a distributed d x ncols matrix as dataset `name` (full
 * path, groups created as needed) of shape (d, ncols). `name` is one of the
 * layout above (/init/W, /final/W, /target/U, /target/a), which gives its
 * description; OTD_ERR_ARG for another. Likewise write_replicated. `local` is this rank's
 * row block, column-major nrows x ncols with leading dimension lay->nrows. */
otd_err otd_results_write_rows(otd_results *res, const char *name, const otd_layout *lay,
                               const double *local, int64_t ncols);

/* Collective. Write a replicated 1-D or 2-D array that every rank holds
 * identically (rank 0's copy is written). For 2-D, `data` is column-major
 * rows x cols and the dataset has shape (rows, cols); cols = 0 means 1-D. */
otd_err otd_results_write_replicated(otd_results *res, const char *name, const double *data,
                                     int64_t rows, int64_t cols);

/* Collective. Declare the history columns once, before the first append:
 * nscalar 1-D columns, nvec 2-D columns of `width`; each gets its
 * description and unit as attributes (OTD_ERR_ARG if one has no
 * description). */
otd_err otd_results_history_define(otd_results *res, const otd_results_column *scalars, int nscalar,
                                   const otd_results_column *vecs, int nvec, int64_t width);

/* Not collective (but every rank must append the same rows): buffer one row,
 * nscalar values and nvec*width values (vector v at [v*width, (v+1)*width)). */
otd_err otd_results_history_append(otd_results *res, const double *scalars, const double *vecs);

/* Collective. Write the buffered rows and flush the file. */
otd_err otd_results_history_flush(otd_results *res);

/* Collective. Write /summary attributes: status string, the named doubles and
 * int64s. Flushes history first. */
otd_err otd_results_write_summary(otd_results *res, const char *status, const otd_attr *strs,
                                  int nstrs, const char *const *dnames, const double *dvals, int nd,
                                  const char *const *inames, const int64_t *ivals, int ni);

/* Collective. Open an existing results file to continue a resumed run: of
 * its history columns (the same names as history_define would take) the
 * first keep_rows rows, those that belong before the checkpoint, are kept;
 * the resumed run writes its rows after them (over any stale ones) and the
 * leftovers are cut at close, so the history keeps exactly one row per
 * logged iteration. A /final/W from an end that
 * did not complete is removed. OTD_ERR_FORMAT if the file does not have
 * these columns or has fewer rows. */
otd_err otd_results_reopen(const char *path, otd_comm *comm, const otd_results_column *scalars,
                           int nscalar, const otd_results_column *vecs, int nvec, int64_t width,
                           int64_t keep_rows, otd_results **out);

/* Rows of history so far, written and buffered. Not collective. */
int64_t otd_results_history_rows(const otd_results *res);

/* Collective. Flush and close; accepts NULL. Returns the first error.
 * Every write above goes in agreed steps (src/io/h5util.h): rank 0 first
 * reserves the blocks it takes, so a full disk fails before HDF5 writes
 * anything, every rank leaves with the same verdict (OTD_ERR_IO naming the
 * file and the reason, "No space left on device"), and the file stays as
 * the previous write left it, so a resumed run can reopen it. The handle is
 * still open after a failure: close it (every rank). */
otd_err otd_results_close(otd_results *res);

/* Collective, after an agreed failure. Close and delete the file of a run
 * whose results could not be written whole at its start (before its first
 * checkpoint), so that nothing is left to pass for a run's results and the
 * run starts over. Best effort (a file that cannot be removed is a
 * warning); the current error message is left alone. Accepts NULL. */
void otd_results_discard(otd_results *res);

/* --- /provenance (docs/file-formats.md; src/io/prov_h5.c) --- */

/* Collective. Write (replace) string attributes of /provenance, the group
 * created if needed; in agreed steps like every write here. */
otd_err otd_results_set_provenance(otd_results *res, const otd_attr *attrs, int nattrs);

/* One resume of a run. */
typedef struct {
    const char *utc;   /* when it resumed, "2026-11-30T10:46:39Z" */
    const char *hosts; /* otd_comm_hosts of the resuming ranks */
    int64_t nranks;
    int64_t iteration; /* the checkpoint's iteration it resumed at */
} otd_results_resume;

/* Collective. Append r to /provenance/resumes (created on the first
 * resume); the arguments are the same on every rank. */
otd_err otd_results_add_resume(otd_results *res, const otd_results_resume *r);

/* Not collective: the HDF5 library's version, "1.10.8" (H5get_libversion),
 * or "unknown"; n bytes including the NUL. */
void otd_results_hdf5_version(char *buf, size_t n);

#endif
