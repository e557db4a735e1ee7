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

#include "otd/otd_comm.h"
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
    unsigned char *num_is_int; /* 1: stored as an HDF5 integer */
    int64_t iters;             /* /summary iters, else (a run not finished) the last */
                               /* row of /history/iter; -1: neither */
} otd_runfile_summary;

/* Read the /summary of the results file at path (and, if it has no iters,
 * the last row of /history/iter) into *s (free with otd_runfile_summary_free
 * whatever the result). Reads past HDF5's file lock: a live run holds its
 * results open for writing, and what it has flushed is consistent.
 * OTD_ERR_HDF5 naming the object if anything cannot be read. */
otd_err otd_runfile_read_summary(const char *path, otd_runfile_summary *s);
void otd_runfile_summary_free(otd_runfile_summary *s);

/* The string attributes names[0..n) of /provenance of the results file at
 * path, each in a malloc'd vals[k] ("" where there is none: a results file
 * of an otd before provenance). Reads past HDF5's file lock like
 * otd_runfile_read_summary; on failure every vals[k] is NULL. */
otd_err otd_runfile_read_provenance(const char *path, const char *const *names, int n, char **vals);

/* --- Before a run trusts a results file (src/io/runcheck.c) --- */

/* The stored configuration (root attribute `config`, canonical YAML) of the
 * results file at path in a malloc'd *yaml. OTD_ERR_FORMAT naming path if
 * it cannot be opened as HDF5 or has no such attribute. Not collective. */
otd_err otd_runfile_read_config(const char *path, char **yaml);

/* Whether HDF5 can read the file at path without crashing: damaged metadata
 * (junk in an attribute heap, a broken B-tree) can make the library itself
 * crash or loop, where no return code can help. A child process (fork)
 * opens the file and reads what otd's readers touch: every link, every
 * object, every attribute's value, each numeric dataset's first and last
 * element. If it dies of a signal, runs past a minute, or HDF5 reports an
 * error in an opened file, OTD_ERR_FORMAT "'path' is damaged (HDF5 could
 * not read it: ...)". A file that does not open is left to the caller's
 * own open, which says why (not HDF5, locked by a live writer). Not
 * collective: call it on one rank, before that rank opens the file. */
otd_err otd_runfile_probe(const char *path);

/* What a resumed run knows to be right, to check its results file by. */
typedef struct {
    const otd_layout *lay;
    int64_t m;
    const double *W0_loc;   /* this rank's rows of W0, as the checkpoint's checksum verified them */
    int64_t r;              /* target components (0: none stored, a tensor file) */
    const double *U;        /* the target now, whole on every rank: d x r column-major */
    const double *a;        /* and its r weights */
    int target_regenerated; /* 1: U, a come from run.seed (the truth: rewrite what differs); */
                            /* 0: read from a file now (a difference is refused) */
    const char *config;     /* the configuration now (canonical YAML), stored as `config` */
    const char *config_hash; /* ... and its hash, as `config_hash` */
    const char *change;      /* a line appended to `config_changes`, NULL: none */
} otd_runfile_resume;

/* Collective. Before a resumed run reopens its results file at path: compare
 * /init/W, /target/U and /target/a bit for bit with in's values and rewrite
 * what differs (rank 0 warns, naming the dataset and the count: a damaged
 * file repaired); store the configuration now and append the change. The
 * same verdict on every rank: OTD_ERR_FORMAT naming path when one of those
 * datasets is missing or has another shape (not this run's results), or
 * when a target read from a file differs (the input changed, or the file is
 * damaged: restore it, or --restart); OTD_ERR_HDF5 or _IO when the file
 * cannot be read or written. */
otd_err otd_runfile_prepare_resume(const char *path, otd_comm *comm, const otd_runfile_resume *in);

#endif
