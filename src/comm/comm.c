/* comm.c: all MPI communication of otd (see otd_comm.h). */
#include "comm/comm_mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct otd_comm {
    MPI_Comm comm; /* a duplicate: otd's messages never mix with a caller's */
    int rank;
    int size;
    int failed_rank; /* lowest rank whose failure an agreement reported, or -1 */
    /* allgather_rows: counts/offsets per rank and a receive buffer, kept so
     * that the per-step gather allocates nothing after its first call. */
    int *counts, *displs;
    double *gather;
    size_t gather_cap;
};

MPI_Comm otd_comm_raw(const otd_comm *c)
{
    return c->comm;
}

void otd_layout_range(int64_t d, int nranks, int p, int64_t *row0, int64_t *nrows)
{
    int64_t base = d / nranks, extra = d % nranks;
    *nrows = base + (p < extra ? 1 : 0);
    *row0 = p * base + (p < extra ? p : extra);
}

otd_err otd_layout_init(otd_layout *lay, int64_t d, int rank, int nranks)
{
    if (d < nranks)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "problem.dim = %lld is smaller than the number of MPI ranks (%d): every "
                         "rank must own at least one row; use at most %lld ranks",
                         (long long)d, nranks, (long long)d);
    lay->d = d;
    lay->rank = rank;
    lay->nranks = nranks;
    otd_layout_range(d, nranks, rank, &lay->row0, &lay->nrows);
    return OTD_OK;
}

otd_err otd_comm_init(int *argc, char ***argv)
{
    otd_err err = OTD_OK;
    OTD_MPI(MPI_Init(argc, argv));
done:
    return err;
}

void otd_comm_finalize(void)
{
    MPI_Finalize();
}

/* Take ownership of an MPI communicator (freed by otd_comm_destroy, also on
 * failure here). */
static otd_err wrap(MPI_Comm comm, otd_comm **out)
{
    otd_err err = OTD_OK;
    otd_comm *c = NULL;
    *out = NULL;
    c = otd_calloc(1, sizeof *c);
    if (c == NULL) {
        MPI_Comm_free(&comm);
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory for a communicator handle");
    }
    c->comm = comm;
    c->failed_rank = -1;
    /* Errors come back as codes, never as an abort inside MPI. */
    OTD_MPI(MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN));
    OTD_MPI(MPI_Comm_rank(c->comm, &c->rank));
    OTD_MPI(MPI_Comm_size(c->comm, &c->size));
    *out = c;
    c = NULL;
done:
    otd_comm_destroy(c);
    return err;
}

otd_err otd_comm_create(otd_comm **out)
{
    otd_err err = OTD_OK;
    MPI_Comm dup = MPI_COMM_NULL;
    *out = NULL;
    OTD_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    OTD_CHECK(wrap(dup, out));
done:
    return err;
}

otd_err otd_comm_subset(otd_comm *c, int n, otd_comm **out)
{
    otd_err err = OTD_OK;
    MPI_Comm sub = MPI_COMM_NULL;
    *out = NULL;
    OTD_MPI(MPI_Comm_split(c->comm, c->rank < n ? 0 : MPI_UNDEFINED, c->rank, &sub));
    if (sub != MPI_COMM_NULL)
        OTD_CHECK(wrap(sub, out));
done:
    return err;
}

otd_err otd_comm_split(otd_comm *c, int color, otd_comm **out)
{
    otd_err err = OTD_OK;
    MPI_Comm sub = MPI_COMM_NULL;
    *out = NULL;
    if (color < 0)
        return OTD_ERROR(OTD_ERR_ARG, "otd_comm_split: color %d < 0", color);
    OTD_MPI(MPI_Comm_split(c->comm, color, c->rank, &sub));
    OTD_CHECK(wrap(sub, out));
done:
    return err;
}

otd_err otd_comm_self(otd_comm **out)
{
    otd_err err = OTD_OK;
    MPI_Comm self = MPI_COMM_NULL;
    *out = NULL;
    OTD_MPI(MPI_Comm_dup(MPI_COMM_SELF, &self));
    OTD_CHECK(wrap(self, out));
done:
    return err;
}

otd_err otd_comm_node_size(otd_comm *c, int *n)
{
    otd_err err = OTD_OK;
    MPI_Comm node = MPI_COMM_NULL;
    *n = 1;
    OTD_MPI(MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node));
    OTD_MPI(MPI_Comm_size(node, n));
done:
    if (node != MPI_COMM_NULL)
        MPI_Comm_free(&node);
    return err;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

otd_err otd_comm_hosts(otd_comm *c, char **out)
{
    otd_err err = OTD_OK;
    char name[MPI_MAX_PROCESSOR_NAME + 1], *all = NULL, **names = NULL, *joined = NULL;
    int len = 0;
    size_t total = 0, at = 0;
    *out = NULL;
    memset(name, 0, sizeof name);
    OTD_MPI(MPI_Get_processor_name(name, &len));
    /* Fixed-width slots: one Allgather, whatever the names' lengths. */
    OTD_ALLOC(all, (size_t)c->size * sizeof name);
    OTD_ALLOC(names, c->size);
    OTD_MPI(
        MPI_Allgather(name, (int)sizeof name, MPI_CHAR, all, (int)sizeof name, MPI_CHAR, c->comm));
    for (int p = 0; p < c->size; p++) {
        names[p] = all + (size_t)p * sizeof name;
        names[p][MPI_MAX_PROCESSOR_NAME] = '\0';
        total += strlen(names[p]) + 1;
    }
    qsort(names, (size_t)c->size, sizeof *names, cmp_name);
    OTD_ALLOC(joined, total + 1);
    joined[0] = '\0';
    for (int p = 0; p < c->size; p++) {
        size_t n = strlen(names[p]);
        if (p > 0 && strcmp(names[p], names[p - 1]) == 0)
            continue;
        if (at > 0)
            joined[at++] = ',';
        memcpy(joined + at, names[p], n + 1);
        at += n;
    }
    *out = joined;
    joined = NULL;
done:
    free(joined);
    free(names);
    free(all);
    return err;
}

otd_err otd_comm_library_version(char *buf, size_t n)
{
    otd_err err = OTD_OK;
    char v[MPI_MAX_LIBRARY_VERSION_STRING + 1];
    int len = 0;
    size_t k;
    memset(v, 0, sizeof v);
    if (n > 0)
        buf[0] = '\0';
    OTD_MPI(MPI_Get_library_version(v, &len));
    /* MPICH's string goes on with its configure line: the first line names
     * the library and its version. */
    k = strcspn(v, "\n");
    while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t' || v[k - 1] == '\r'))
        k--;
    v[k] = '\0';
    if (n > 0)
        snprintf(buf, n, "%s", v);
done:
    return err;
}

void otd_comm_destroy(otd_comm *c)
{
    if (c == NULL)
        return;
    if (c->comm != MPI_COMM_NULL)
        MPI_Comm_free(&c->comm);
    free(c->counts);
    free(c->displs);
    free(c->gather);
    free(c);
}

int otd_comm_rank(const otd_comm *c)
{
    return c->rank;
}
int otd_comm_size(const otd_comm *c)
{
    return c->size;
}

/* Reductions go in pieces of at most this many bytes. MPI counts are int,
 * and Open MPI 4.1's allreduce gets slower per byte once a message no
 * longer fits the caches: measured on two ranks of a 2-core node, 8 MB in
 * one call 1.4 ms, in 1 MiB pieces 0.7-0.8 ms (docs/performance.md, "The
 * implicit step"). Each element is still reduced by one call. */
#define REDUCE_PIECE_BYTES ((size_t)1 << 20)

static otd_err reduce(otd_comm *c, void *buf, size_t n, MPI_Datatype type, size_t elsize, MPI_Op op)
{
    otd_err err = OTD_OK;
    char *p = buf;
    const size_t piece = REDUCE_PIECE_BYTES / elsize;
    /* One rank: the sum is the data (the step loop's one collective then
     * costs nothing at P = 1). */
    if (c->size == 1)
        return OTD_OK;
    while (n > 0) {
        int k = n > piece ? (int)piece : (int)n;
        OTD_MPI(MPI_Allreduce(MPI_IN_PLACE, p, k, type, op, c->comm));
        p += (size_t)k * elsize;
        n -= (size_t)k;
    }
done:
    return err;
}

otd_err otd_comm_sum(otd_comm *c, double *buf, size_t n)
{
    return reduce(c, buf, n, MPI_DOUBLE, sizeof(double), MPI_SUM);
}

otd_err otd_comm_max(otd_comm *c, double *buf, size_t n)
{
    return reduce(c, buf, n, MPI_DOUBLE, sizeof(double), MPI_MAX);
}

otd_err otd_comm_max_i64(otd_comm *c, int64_t *buf, size_t n)
{
    return reduce(c, buf, n, MPI_INT64_T, sizeof(int64_t), MPI_MAX);
}

otd_err otd_comm_sum_u64(otd_comm *c, uint64_t *buf, size_t n)
{
    return reduce(c, buf, n, MPI_UINT64_T, sizeof(uint64_t), MPI_SUM);
}

otd_err otd_comm_bcast(otd_comm *c, void *buf, size_t n, int root)
{
    otd_err err = OTD_OK;
    char *p = buf;
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        OTD_MPI(MPI_Bcast(p, k, MPI_BYTE, root, c->comm));
        p += k;
        n -= (size_t)k;
    }
done:
    return err;
}

otd_err otd_comm_bcast_bytes(otd_comm *c, char **buf, size_t *len, int root)
{
    otd_err err = OTD_OK;
    uint64_t n = c->rank == root ? (uint64_t)*len : 0;
    OTD_CHECK(otd_comm_bcast(c, &n, sizeof n, root));
    if (c->rank != root) {
        free(*buf);
        *buf = NULL;
        OTD_ALLOC(*buf, n + 1);
        *len = (size_t)n;
    }
    OTD_CHECK(otd_comm_bcast(c, *buf, (size_t)n, root));
    (*buf)[n] = '\0';
done:
    return err;
}

/* The lowest failing rank's message to every rank: a malloc'd copy in *out
 * (or NULL when out of memory on the receiving side). */
static otd_err share_message(otd_comm *c, int first, char **out)
{
    otd_err err = OTD_OK;
    char empty[1] = {'\0'};
    char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    if (c->rank == first) {
        /* The text alone: the trail is that rank's, which prints it itself
         * (otd_cli_fail) where OTD_DEBUG asks for it. */
        const char *m = otd_error_text();
        len = strlen(m);
        buf = malloc(len + 1);
        if (buf != NULL) {
            memcpy(buf, m, len + 1);
        } else {
            buf = empty; /* send no text rather than fail the agreement */
            len = 0;
        }
    }
    err = otd_comm_bcast_bytes(c, &buf, &len, first);
    if (err == OTD_OK && buf != empty)
        *out = buf;
    else if (buf != empty)
        free(buf);
    return err;
}

/* Lowest failing rank wins: encode as (rank if failed else size). With
 * share, the others also receive that rank's message. */
static otd_err agree(otd_comm *c, otd_err local, int share)
{
    otd_err err = OTD_OK;
    int mine = local == OTD_OK ? c->size : c->rank, first = 0, code = 0;
    char *text = NULL;
    OTD_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->comm));
    if (first == c->size)
        return OTD_OK;
    c->failed_rank = first;
    /* Everyone adopts the failing rank's code: the exit status is one. */
    code = (int)local;
    OTD_MPI(MPI_Bcast(&code, 1, MPI_INT, first, c->comm));
    if (share)
        OTD_CHECK(share_message(c, first, &text));
    if (local != OTD_OK)
        err = local; /* keep this rank's own message */
    else if (text != NULL)
        err = OTD_ERROR((otd_err)code, "rank %d: %s", first, text);
    else
        err = OTD_ERROR((otd_err)code, "failed on rank %d (see that rank's message)", first);
done:
    free(text);
    return err;
}

otd_err otd_comm_agree(otd_comm *c, otd_err local)
{
    return agree(c, local, 0);
}

otd_err otd_comm_agree_share(otd_comm *c, otd_err local)
{
    return agree(c, local, 1);
}

otd_err otd_comm_allgather_rows(otd_comm *c, const otd_layout *lay, const double *local,
                                int64_t ncols, double *full)
{
    otd_err err = OTD_OK;
    size_t need = (size_t)(lay->d * ncols);
    if (lay->d * ncols > INT_MAX)
        OTD_FAIL(OTD_ERR_NOMEM, "allgather of %lld x %lld values exceeds MPI's int counts",
                 (long long)lay->d, (long long)ncols);
    if (c->counts == NULL) {
        OTD_ALLOC(c->counts, c->size);
        OTD_ALLOC(c->displs, c->size);
    }
    if (c->gather_cap < need) {
        free(c->gather);
        c->gather = NULL;
        c->gather_cap = 0;
        OTD_ALLOC(c->gather, need);
        c->gather_cap = need;
    }
    /* One collective: each rank's whole block (nrows_p x ncols, column-major)
     * lands contiguously, then is copied into place in the d x ncols matrix. */
    for (int p = 0; p < c->size; p++) {
        int64_t r0, nr;
        otd_layout_range(lay->d, c->size, p, &r0, &nr);
        c->counts[p] = (int)(nr * ncols);
        c->displs[p] = (int)(r0 * ncols);
    }
    OTD_MPI(MPI_Allgatherv(local, (int)(lay->nrows * ncols), MPI_DOUBLE, c->gather, c->counts,
                           c->displs, MPI_DOUBLE, c->comm));
    for (int p = 0; p < c->size; p++) {
        int64_t r0, nr;
        otd_layout_range(lay->d, c->size, p, &r0, &nr);
        const double *blk = c->gather + r0 * ncols;
        for (int64_t j = 0; j < ncols; j++)
            memcpy(full + j * lay->d + r0, blk + j * nr, (size_t)nr * sizeof *full);
    }
done:
    return err;
}

void otd_comm_clear_failure(otd_comm *c)
{
    c->failed_rank = -1;
}

int otd_comm_failed_rank(const otd_comm *c)
{
    return c->failed_rank;
}

double otd_comm_wtime(void)
{
    return MPI_Wtime();
}

otd_err otd_comm_barrier(otd_comm *c)
{
    otd_err err = OTD_OK;
    OTD_MPI(MPI_Barrier(c->comm));
done:
    return err;
}

otd_err otd_comm_barrier_idle(otd_comm *c)
{
    otd_err err = OTD_OK;
    MPI_Request req = MPI_REQUEST_NULL;
    int flag = 0;
    const struct timespec ms = {0, 1000000};
    OTD_MPI(MPI_Ibarrier(c->comm, &req));
    for (;;) {
        OTD_MPI(MPI_Test(&req, &flag, MPI_STATUS_IGNORE));
        if (flag)
            break;
        nanosleep(&ms, NULL);
    }
done:
    return err;
}

void otd_comm_abort(otd_comm *c, int status)
{
    MPI_Abort(c != NULL ? c->comm : MPI_COMM_WORLD, status);
}
