/* otd_status.h: how a run stands, and what that means to a user, a shell and
 * a sweep: the one mapping from which every reader derives its verdict.
 *
 *   status       stored (/summary status)  outcome     exit status of `otd run`
 *   RUNNING      "running"                 unfinished  75 (checkpointed on a signal:
 *                                                          resubmit to continue)
 *   CONVERGED    "converged"               done        0
 *   MAX_ITERS    "max_iters"               done        0
 *   SOLVED       "solved"                  done        0
 *   NONFINITE    "nonfinite"               failed      3
 *
 * The writer stores the status string together with its outcome and exit
 * status (/summary attributes `outcome` and `exit_status`), so readers in any
 * language take the verdict from the file instead of re-deriving it. An
 * unfinished run whose run directory is not locked by a live process was
 * interrupted (killed, out of time): `otd collect` calls it failed, resumable.
 * docs/file-formats.md documents the table; nothing else may restate it. */
#ifndef OTD_STATUS_H
#define OTD_STATUS_H

#include "otd/otd_error.h"

/* Exit statuses of every otd command (documented in `otd --help`). */
enum {
    OTD_EXIT_OK = 0,            /* finished: converged, step budget spent, solved */
    OTD_EXIT_FAILURE = 1,       /* runtime failure (I/O, MPI, library) */
    OTD_EXIT_USAGE = 2,         /* bad command line, configuration or input file: nothing written */
    OTD_EXIT_NONFINITE = 3,     /* the loss or gradient became NaN/Inf: results kept */
    OTD_EXIT_REQUEUE = 75,      /* checkpointed on a signal: resubmit to continue (EX_TEMPFAIL) */
    OTD_EXIT_INTERRUPTED = 130, /* checkpointed after SIGINT (128 + 2, as a shell reports it) */
};

typedef enum {
    OTD_STATUS_RUNNING,   /* unfinished (also after a checkpoint on a signal) */
    OTD_STATUS_CONVERGED, /* rel_err <= algo.target_rel_err */
    OTD_STATUS_MAX_ITERS, /* step budget spent */
    OTD_STATUS_SOLVED,    /* a one-shot algorithm (lazy_opt) solved its problem */
    OTD_STATUS_NONFINITE, /* the loss or gradient became NaN/Inf: an error */
    OTD_STATUS_COUNT_
} otd_status;

typedef enum {
    OTD_OUTCOME_UNFINISHED, /* resumable: run the same command again */
    OTD_OUTCOME_DONE,       /* a result to use */
    OTD_OUTCOME_FAILED,     /* ended without a usable result */
} otd_outcome;

/* All: pure functions, not collective. */

/* The stored string of s ("running", "converged", ...); never NULL. */
const char *otd_status_name(otd_status s);

/* The status stored as name; OTD_ERR_FORMAT naming `where` (a file) and the
 * known names if it is none of them. */
otd_err otd_status_parse(const char *name, const char *where, otd_status *s);

otd_outcome otd_status_outcome(otd_status s);
/* "unfinished", "done", "failed". */
const char *otd_outcome_name(otd_outcome o);

/* The exit status of `otd run` that ended with s. */
int otd_status_exit(otd_status s);

/* The exit status of a command that failed with err (OTD_OK: 0): 2 for bad
 * usage, configuration or input (OTD_ERR_ARG, _CONFIG, _FORMAT), 3 for a
 * non-finite run, 1 for everything else. */
int otd_exit_for_error(otd_err err);

#endif
