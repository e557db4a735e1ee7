/* comm.c: all MPI communication of otd (see otd_comm.h). */
#include "comm/comm_mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct otd_comm {
    MPI_Comm comm; /* a duplicate: otd's messages never mix with a caller's */
    int rank;
    int size;
    int failed_rank; /* lowest rank whose failure an agreement reported, or -1 */
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

otd_err otd_comm_create(otd_comm **out)
{
    otd_err err = OTD_OK;
    otd_comm *c = NULL;
    *out = NULL;
    OTD_ALLOC(c, 1);
    c->comm = MPI_COMM_NULL;
    c->failed_rank = -1;
    OTD_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &c->comm));
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

void otd_comm_destroy(otd_comm *c)
{
    if (c == NULL)
        return;
    if (c->comm != MPI_COMM_NULL)
        MPI_Comm_free(&c->comm);
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

/* MPI counts are int: reductions of more elements go in pieces. */
static otd_err reduce(otd_comm *c, void *buf, size_t n, MPI_Datatype type, size_t elsize, MPI_Op op)
{
    otd_err err = OTD_OK;
    char *p = buf;
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
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

otd_err otd_comm_agree(otd_comm *c, otd_err local)
{
    otd_err err = OTD_OK;
    /* Lowest failing rank wins: encode as (rank if failed else size). */
    int mine = local == OTD_OK ? c->size : c->rank, first = 0, code = 0;
    OTD_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->comm));
    if (first == c->size)
        return OTD_OK;
    c->failed_rank = first;
    /* Everyone adopts the failing rank's code: the exit status is one. */
    code = (int)local;
    OTD_MPI(MPI_Bcast(&code, 1, MPI_INT, first, c->comm));
    if (local != OTD_OK)
        return local; /* keep this rank's own message */
    return OTD_ERROR((otd_err)code, "failed on rank %d (see that rank's message)", first);
done:
    return err;
}

otd_err otd_comm_allgather_rows(otd_comm *c, const otd_layout *lay, const double *local,
                                int64_t ncols, double *full)
{
    otd_err err = OTD_OK;
    int *counts = NULL, *displs = NULL;
    OTD_ALLOC(counts, c->size);
    OTD_ALLOC(displs, c->size);
    if (lay->d > INT_MAX)
        OTD_FAIL(OTD_ERR_NOMEM, "allgather of %lld rows exceeds MPI's int counts",
                 (long long)lay->d);
    for (int p = 0; p < c->size; p++) {
        int64_t r0, nr;
        otd_layout_range(lay->d, c->size, p, &r0, &nr);
        counts[p] = (int)nr;
        displs[p] = (int)r0;
    }
    /* Column by column: the local block is column-major with ld = nrows. */
    for (int64_t j = 0; j < ncols; j++)
        OTD_MPI(MPI_Allgatherv(local + j * lay->nrows, (int)lay->nrows, MPI_DOUBLE,
                               full + j * lay->d, counts, displs, MPI_DOUBLE, c->comm));
done:
    free(counts);
    free(displs);
    return err;
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

void otd_comm_abort(otd_comm *c, int status)
{
    MPI_Abort(c != NULL ? c->comm : MPI_COMM_WORLD, status);
}
