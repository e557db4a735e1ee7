/* otd_comm.h: the communication module, with parallel I/O the only MPI user.
 *
 * A handle on a duplicate of MPI_COMM_WORLD, the row layout of the d rows over
 * the ranks, and the few collectives the algorithms need. Every function that
 * says "Collective" must be called by every rank in the same order.
 *
 * Layout: the d rows are split in contiguous blocks, rank p owning rows
 * [row0(p), row0(p) + nrows(p)), the first d % P ranks one row more. A P x 1
 * BLACS grid with block size ceil(d/P) describes ownership to ScaLAPACK only
 * when P divides d, so ScaLAPACK code redistributes explicitly. */
#ifndef OTD_COMM_H
#define OTD_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "otd/otd_error.h"

typedef struct otd_comm otd_comm;

typedef struct {
    int64_t d;     /* global rows */
    int rank;      /* this rank */
    int nranks;    /* P */
    int64_t row0;  /* first global row of this rank */
    int64_t nrows; /* rows of this rank (>= 1: P <= d is required) */
} otd_layout;

/* Row range of rank p in a layout of d rows over P ranks. Not collective. */
void otd_layout_range(int64_t d, int nranks, int p, int64_t *row0, int64_t *nrows);

/* Fill *lay for this rank; fails with OTD_ERR_CONFIG naming problem.dim when
 * P > d (a rank would own no rows). Not collective. */
otd_err otd_layout_init(otd_layout *lay, int64_t d, int rank, int nranks);

/* Start and stop MPI for the process (main() only). init returns
 * OTD_ERR_MPI if MPI cannot start; finalize is collective. */
otd_err otd_comm_init(int *argc, char ***argv);
void otd_comm_finalize(void);

/* Collective over MPI_COMM_WORLD (MPI must be initialized). */
otd_err otd_comm_create(otd_comm **out);
/* Collective. Accepts NULL. */
void otd_comm_destroy(otd_comm *c);

/* Collective: a communicator of the ranks [0, n) of c (same order); ranks
 * outside get *out = NULL. For measurements on fewer ranks in one job. */
otd_err otd_comm_subset(otd_comm *c, int n, otd_comm **out);

/* Collective: the ranks of c that pass the same color (>= 0) form one
 * new communicator, in c's rank order: groups that run work of their own
 * at the same time (one run per group). */
otd_err otd_comm_split(otd_comm *c, int color, otd_comm **out);

/* Not collective: a communicator of this rank alone. */
otd_err otd_comm_self(otd_comm **out);

/* Collective: how many ranks of c share this rank's node (shared memory),
 * for memory checks that divide a node's free memory among its ranks. */
otd_err otd_comm_node_size(otd_comm *c, int *n);

/* Collective: the distinct names of the hosts c's ranks run on
 * (MPI_Get_processor_name), sorted and joined by "," ("node01,node02"), in a
 * malloc'd *out, the same on every rank: where a run ran (provenance). */
otd_err otd_comm_hosts(otd_comm *c, char **out);

/* Not collective: the first line of MPI_Get_library_version ("Open MPI
 * v4.1.4, package: ...", "MPICH Version: 4.0.2"), trailing blanks cut, in
 * buf (n bytes, NUL included). OTD_ERR_MPI if MPI cannot say. */
otd_err otd_comm_library_version(char *buf, size_t n);

int otd_comm_rank(const otd_comm *c);
int otd_comm_size(const otd_comm *c);

/* Collective: in-place elementwise sum / max over all ranks. */
otd_err otd_comm_sum(otd_comm *c, double *buf, size_t n);
otd_err otd_comm_max(otd_comm *c, double *buf, size_t n);
otd_err otd_comm_max_i64(otd_comm *c, int64_t *buf, size_t n);
/* Collective: in-place elementwise sum modulo 2^64. Unsigned addition wraps
 * and is associative, so the result is exact and independent of the rank
 * count and reduction order (checkpoint checksums rely on this). */
otd_err otd_comm_sum_u64(otd_comm *c, uint64_t *buf, size_t n);

/* Collective: broadcast n bytes from root. */
otd_err otd_comm_bcast(otd_comm *c, void *buf, size_t n, int root);

/* Collective: broadcast a malloc'd byte string from root; on other ranks
 * *buf is replaced by a new malloc'd copy (NUL-terminated), *len set. */
otd_err otd_comm_bcast_bytes(otd_comm *c, char **buf, size_t *len, int root);

/* Collective: agreement on failure. Each rank passes its local status; all
 * ranks receive OTD_OK only if every rank passed OTD_OK. Otherwise a rank
 * that failed keeps its code and message, and the others adopt the code of
 * the lowest failing rank (so all exit with the same status) with a message
 * naming it. This
 * is how a local failure (a file that one rank cannot read) becomes the same
 * verdict everywhere instead of a hang. */
otd_err otd_comm_agree(otd_comm *c, otd_err local);

/* Collective: otd_comm_agree, except that the ranks that did not fail
 * receive the lowest failing rank's message ("rank r: <message>") instead of
 * a pointer to it, so that every rank can report what failed (the path of a
 * file that could not be written). One extra broadcast, on failure only. */
otd_err otd_comm_agree_share(otd_comm *c, otd_err local);

/* Not collective: the rank whose failure an otd_comm_agree on this handle
 * reported, or -1. When set, every rank knows of the failure and the job can
 * end cleanly instead of aborting. */
int otd_comm_failed_rank(const otd_comm *c);

/* Not collective: forget the failure otd_comm_failed_rank reports, before
 * a new piece of work on the same handle (the next point of a sweep). Every
 * rank of c calls it at the same point. */
void otd_comm_clear_failure(otd_comm *c);

/* Collective: gather the row blocks of a column-major nrows x ncols local
 * matrix (leading dimension nrows) into the full column-major d x ncols
 * matrix on every rank. One MPI_Allgatherv; its receive buffer is kept in
 * the handle, so repeated calls of the same size allocate nothing. */
otd_err otd_comm_allgather_rows(otd_comm *c, const otd_layout *lay, const double *local,
                                int64_t ncols, double *full);

/* Not collective: wall-clock seconds (MPI_Wtime). Decisions taken on time must
 * be agreed (otd_comm_max) before they change what ranks do collectively. */
double otd_comm_wtime(void);

otd_err otd_comm_barrier(otd_comm *c);

/* Collective: a barrier whose waiting ranks sleep (1 ms polls) instead of
 * spinning a core, so that a measurement on fewer ranks is not slowed by
 * the idle ones. Not for the step loop. */
otd_err otd_comm_barrier_idle(otd_comm *c);

/* Not collective: terminate the whole job (MPI_Abort) with the given exit
 * status. For main() after a failure that other ranks may not see. */
void otd_comm_abort(otd_comm *c, int status);

/* Shared counters: n int64 values, all 0 at the start, that any rank can
 * fetch-and-add at any time without the others taking part. How groups of a
 * sweep runner take points from one list without a coordinator rank.
 * Kept with MPI one-sided atomics on a window held by rank 0 when every rank
 * is on one node, else as files in a directory of their own under dir, which
 * every rank must share: across nodes MPI's one-sided operations without
 * RDMA hardware are missing (Debian's Open MPI over TCP) or wait for rank 0
 * to enter MPI (src/comm/counter.c says why and how). OTD_COUNTER=files or
 * =mpi in the environment chooses either everywhere. */
typedef struct otd_counter otd_counter;

/* Collective over c. dir: where file counters go (made if missing; their
 * own subdirectory is removed by otd_counter_destroy, and dir too if it is
 * then empty). Errors: OTD_ERR_IO (dir), OTD_ERR_ARG (a bad OTD_COUNTER),
 * OTD_ERR_MPI (also: OTD_COUNTER=mpi where MPI has no one-sided transport
 * between the ranks). */
otd_err otd_counter_create(otd_comm *c, int n, const char *dir, otd_counter **out);

/* Not collective: NULL for MPI counters, else their directory (owned by
 * the counters). */
const char *otd_counter_dir(const otd_counter *ct);

/* Not collective: *old (may be NULL) = counter k, then counter k += inc,
 * atomically with respect to every other rank's adds. File counters add 0
 * or 1, and a read (inc 0) may lag behind other nodes' adds where the file
 * system caches lookups (NFS): for progress reports, not for decisions. */
otd_err otd_counter_add(otd_counter *ct, int k, int64_t inc, int64_t *old);

/* Collective over the communicator it was created on. Accepts NULL. */
void otd_counter_destroy(otd_counter *ct);

#endif
