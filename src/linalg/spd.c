/* spd.c: distributed symmetric positive semi-definite solves with ScaLAPACK
 * (see otd_linalg.h): lazy_opt's normal equations.
 *
 * The matrix lives only in 2-D block-cyclic form: each rank allocates its
 * local part (numroc rows x numroc columns) and fills exactly the tiles it
 * owns through the caller's callback, so no rank ever holds A whole and
 * nothing is communicated to build it. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_mpi.h"
#include "linalg/scalapack.h"
#include "otd/otd_linalg.h"
#include "otd/otd_memory.h"

/* A BLACS grid over every rank of comm, and one distributed n x n matrix
 * (plus an n x 1 right-hand side) laid out on it. */
typedef struct {
    int handle, ctx, nprow, npcol, myrow, mycol;
    int n, nb, mloc, nloc, nloc_rhs;
    int desc[9], desc_rhs[9];
} grid;

/* Near-square grid nprow x npcol = P, nprow <= npcol: ScaLAPACK's
 * factorizations scale best on square grids. */
static void grid_shape(int P, int *nprow, int *npcol)
{
    int r = (int)sqrt((double)P);
    while (r > 1 && P % r != 0)
        r--;
    *nprow = r < 1 ? 1 : r;
    *npcol = P / *nprow;
}

static int local_size(int n, int nb, int iproc, int nprocs)
{
    int zero = 0;
    return numroc_(&n, &nb, &iproc, &zero, &nprocs);
}

/* The largest local share over the grid, in doubles: the same number on
 * every rank without communication (process (0,0) owns the most). */
static double max_local_doubles(int n, int nb, int nprow, int npcol)
{
    return (double)local_size(n, nb, 0, nprow) * (double)local_size(n, nb, 0, npcol);
}

static otd_err check_size(int64_t n, int64_t block)
{
    if (n < 1 || n > INT_MAX / 2 || block < 1 || block > 4096)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "distributed solve: order %lld (allowed: 1 .. %d) or block size %lld "
                         "(allowed: 1 .. 4096) out of range",
                         (long long)n, INT_MAX / 2, (long long)block);
    return OTD_OK;
}

otd_err otd_spd_check_memory(otd_comm *comm, int64_t n, int64_t block, int with_vectors,
                             double max_fraction, double *bytes_per_rank)
{
    otd_err err = OTD_OK;
    int nprow, npcol;
    char what[160];
    OTD_CHECK(check_size(n, block));
    grid_shape(otd_comm_size(comm), &nprow, &npcol);
    double need =
        8.0 * max_local_doubles((int)n, (int)block, nprow, npcol) * (with_vectors ? 2.0 : 1.0);
    *bytes_per_rank = need;
    snprintf(what, sizeof what,
             "lazy_opt: the normal equations (order m d = %lld) on a %d x %d grid", (long long)n,
             nprow, npcol);
    OTD_CHECK(otd_memory_check(comm, need, max_fraction, what,
                               "run on more ranks or nodes, or use a smaller model.m", NULL));
done:
    return err;
}

static otd_err grid_open(otd_comm *comm, int64_t n, int64_t block, grid *g)
{
    otd_err err = OTD_OK;
    int info = 0, zero = 0, one = 1, lld;
    memset(g, 0, sizeof *g);
    g->handle = g->ctx = -1;
    g->n = (int)n;
    g->nb = (int)(block < n ? block : n);
    grid_shape(otd_comm_size(comm), &g->nprow, &g->npcol);
    g->handle = Csys2blacs_handle(otd_comm_raw(comm));
    g->ctx = g->handle;
    Cblacs_gridinit(&g->ctx, "Row", g->nprow, g->npcol);
    Cblacs_gridinfo(g->ctx, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
    g->mloc = local_size(g->n, g->nb, g->myrow, g->nprow);
    g->nloc = local_size(g->n, g->nb, g->mycol, g->npcol);
    g->nloc_rhs = local_size(1, g->nb, g->mycol, g->npcol);
    lld = g->mloc > 1 ? g->mloc : 1;
    descinit_(g->desc, &g->n, &g->n, &g->nb, &g->nb, &zero, &zero, &g->ctx, &lld, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "descinit of the %d x %d matrix: info %d", g->n, g->n, info);
    descinit_(g->desc_rhs, &g->n, &one, &g->nb, &g->nb, &zero, &zero, &g->ctx, &lld, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "descinit of the right-hand side: info %d", info);
done:
    return err;
}

static void grid_close(grid *g)
{
    if (g->ctx >= 0)
        Cblacs_gridexit(g->ctx);
    if (g->handle >= 0)
        Cfree_blacs_system_handle(g->handle);
    g->ctx = g->handle = -1;
}

/* Global index of local index loc on process p of np (block-cyclic, nb). */
static int64_t global_index(int loc, int nb, int p, int np)
{
    return ((int64_t)(loc / nb) * np + p) * nb + loc % nb;
}

/* Fill this rank's tiles. */
static void assemble(const grid *g, otd_tile_fill fill, void *ctx, double *a)
{
    int lld = g->mloc > 1 ? g->mloc : 1;
    for (int jl = 0; jl < g->nloc; jl += g->nb) {
        int64_t j0 = global_index(jl, g->nb, g->mycol, g->npcol);
        int64_t nbj = g->nloc - jl < g->nb ? g->nloc - jl : g->nb;
        for (int il = 0; il < g->mloc; il += g->nb) {
            int64_t i0 = global_index(il, g->nb, g->myrow, g->nprow);
            int64_t mbi = g->mloc - il < g->nb ? g->mloc - il : g->nb;
            fill(ctx, i0, j0, mbi, nbj, a + il + (int64_t)jl * lld, lld);
        }
    }
}

/* Add shift to the diagonal entries this rank owns; return their sum
 * before the shift (the local part of the trace). One pass over the local
 * columns: column j's diagonal entry is here when row j's block is. */
static double shift_diagonal(const grid *g, double *a, double shift)
{
    double sum = 0.0;
    int lld = g->mloc > 1 ? g->mloc : 1;
    for (int jl = 0; jl < g->nloc; jl++) {
        int64_t j = global_index(jl, g->nb, g->mycol, g->npcol), blk = j / g->nb;
        if (blk % g->nprow != g->myrow)
            continue;
        double *ajj = a + (blk / g->nprow) * g->nb + j % g->nb + (int64_t)jl * lld;
        sum += *ajj;
        *ajj += shift;
    }
    return sum;
}

/* Local part of the replicated vector v as an n x 1 distributed matrix
 * (column 0 lives on process column 0), and back. */
static void scatter_vector(const grid *g, const double *v, double *loc)
{
    if (g->nloc_rhs == 0)
        return;
    for (int il = 0; il < g->mloc; il++)
        loc[il] = v[global_index(il, g->nb, g->myrow, g->nprow)];
}

static otd_err gather_vector(otd_comm *comm, const grid *g, const double *loc, double *v)
{
    memset(v, 0, (size_t)g->n * sizeof *v);
    if (g->nloc_rhs > 0)
        for (int il = 0; il < g->mloc; il++)
            v[global_index(il, g->nb, g->myrow, g->nprow)] = loc[il];
    /* Each entry is owned by exactly one rank: the sum is a copy, exact. */
    return otd_comm_sum(comm, v, (size_t)g->n);
}

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);

/* Cholesky of (A + shift I), then the solve; *ok = 0 if not positive definite.
 * On a 1 x 1 grid the local matrix is all of A, and LAPACK's DPOTRF is the
 * same factorization at twice the speed: PDPOTRF on one process runs its
 * trailing updates through PBLAS in block-sized pieces (measured at n = 8000:
 * 25 against 53 GFLOP/s). */
static otd_err solve_cholesky(const grid *g, double *a, double *b, int *ok)
{
    int one = 1, info = 0;
    if (g->nprow * g->npcol == 1) {
        dpotrf_("L", &g->n, a, &g->n, &info);
        if (info > 0) {
            *ok = 0;
            return OTD_OK;
        }
        if (info == 0)
            dpotrs_("L", &g->n, &one, a, &g->n, b, &g->n, &info);
        if (info != 0)
            return OTD_ERROR(OTD_ERR_LAPACK, "DPOTRF/DPOTRS: info %d", info);
        *ok = 1;
        return OTD_OK;
    }
    pdpotrf_("L", &g->n, a, &one, &one, g->desc, &info);
    if (info > 0) {
        *ok = 0;
        return OTD_OK;
    }
    if (info < 0)
        return OTD_ERROR(OTD_ERR_LAPACK, "PDPOTRF: argument %d is invalid", -info);
    pdpotrs_("L", &g->n, &one, a, &one, &one, g->desc, b, &one, &one, g->desc_rhs, &info);
    if (info != 0)
        return OTD_ERROR(OTD_ERR_LAPACK, "PDPOTRS: info %d", info);
    *ok = 1;
    return OTD_OK;
}

/* Pseudo-inverse through PDSYEVD: x = V diag(1/lambda, lambda > tol) V^T b. */
static otd_err solve_eigen(otd_comm *comm, const grid *g, double *a, const double *rhs, double *x,
                           int64_t *dropped)
{
    otd_err err = OTD_OK;
    int one = 1, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0, *w = NULL, *z = NULL, *work = NULL, *y = NULL;
    int *iwork = NULL;
    int lld = g->mloc > 1 ? g->mloc : 1;
    OTD_ALLOC(w, g->n);
    OTD_ALLOC(z, (int64_t)lld * (g->nloc > 0 ? g->nloc : 1));
    OTD_ALLOC(y, g->n);
    pdsyevd_("V", "L", &g->n, a, &one, &one, g->desc, w, z, &one, &one, g->desc, &wq, &lwork, &iwq,
             &liwork, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "PDSYEVD workspace query: info %d", info);
    lwork = (int)wq + 1;
    liwork = iwq > 1 ? iwq : 1;
    OTD_ALLOC(work, lwork);
    OTD_ALLOC(iwork, liwork);
    pdsyevd_("V", "L", &g->n, a, &one, &one, g->desc, w, z, &one, &one, g->desc, work, &lwork,
             iwork, &liwork, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "PDSYEVD: info %d (the eigensolver did not converge)", info);
    double wmax = 0.0;
    for (int k = 0; k < g->n; k++)
        wmax = fmax(wmax, fabs(w[k]));
    double tol = (double)g->n * DBL_EPSILON * wmax;
    /* y = V^T rhs: local partial products over this rank's rows of V. */
    memset(y, 0, (size_t)g->n * sizeof *y);
    for (int jl = 0; jl < g->nloc; jl++) {
        int64_t k = global_index(jl, g->nb, g->mycol, g->npcol);
        double s = 0.0;
        for (int il = 0; il < g->mloc; il++)
            s += z[il + (int64_t)jl * lld] * rhs[global_index(il, g->nb, g->myrow, g->nprow)];
        y[k] = s;
    }
    OTD_CHECK(otd_comm_sum(comm, y, (size_t)g->n));
    *dropped = 0;
    for (int k = 0; k < g->n; k++) {
        if (w[k] > tol) {
            y[k] /= w[k];
        } else {
            y[k] = 0.0;
            (*dropped)++;
        }
    }
    /* x = V y. */
    memset(x, 0, (size_t)g->n * sizeof *x);
    for (int jl = 0; jl < g->nloc; jl++) {
        int64_t k = global_index(jl, g->nb, g->mycol, g->npcol);
        for (int il = 0; il < g->mloc; il++)
            x[global_index(il, g->nb, g->myrow, g->nprow)] += z[il + (int64_t)jl * lld] * y[k];
    }
    OTD_CHECK(otd_comm_sum(comm, x, (size_t)g->n));
done:
    free(w);
    free(z);
    free(work);
    free(iwork);
    free(y);
    return err;
}

otd_err otd_spd_solve(otd_comm *comm, int64_t n, int64_t block, otd_tile_fill fill, void *ctx,
                      double shift_abs, double ridge_rel, double max_fraction, const double *rhs,
                      double *x, otd_spd_info *info)
{
    otd_err err = OTD_OK;
    grid g;
    double *a = NULL, *b = NULL, *rhs_copy = NULL, sums[1], t[1];
    int ok = 0;
    memset(&g, 0, sizeof g);
    g.ctx = g.handle = -1;
    memset(info, 0, sizeof *info);
    OTD_CHECK(otd_spd_check_memory(comm, n, block, 0, max_fraction, &info->bytes_per_rank));
    OTD_CHECK(grid_open(comm, n, block, &g));
    info->n = n;
    info->nprow = g.nprow;
    info->npcol = g.npcol;
    info->block = g.nb;
    OTD_ALLOC(a, (int64_t)(g.mloc > 1 ? g.mloc : 1) * (g.nloc > 0 ? g.nloc : 1));
    OTD_ALLOC(b, g.mloc > 0 ? g.mloc : 1);
    OTD_ALLOC(rhs_copy, n);
    memcpy(rhs_copy, rhs, (size_t)n * sizeof *rhs);
    assemble(&g, fill, ctx, a);
    sums[0] = shift_diagonal(&g, a, 0.0);
    OTD_CHECK(otd_comm_sum(comm, sums, 1));
    info->mean_diag = sums[0] / (double)n;
    info->shift = shift_abs + ridge_rel * info->mean_diag;
    shift_diagonal(&g, a, info->shift);
    scatter_vector(&g, rhs_copy, b);
    OTD_CHECK(otd_comm_barrier(comm));
    double t0 = otd_comm_wtime();
    OTD_CHECK(solve_cholesky(&g, a, b, &ok));
    if (ok) {
        info->solver = "cholesky";
        t[0] = otd_comm_wtime() - t0;
        OTD_CHECK(gather_vector(comm, &g, b, x));
        double nn = (double)n;
        OTD_CHECK(otd_comm_max(comm, t, 1));
        info->seconds = t[0];
        info->gflops = t[0] > 0 ? (nn * nn * nn / 3.0 + 2.0 * nn * nn) / t[0] * 1e-9 : 0.0;
        goto done;
    }
    /* Numerically indefinite even with the ridge: the eigenvectors need a
     * second matrix, so check again before allocating it. */
    OTD_CHECK(otd_spd_check_memory(comm, n, block, 1, max_fraction, &info->bytes_per_rank));
    assemble(&g, fill, ctx, a);
    shift_diagonal(&g, a, info->shift);
    t0 = otd_comm_wtime();
    OTD_CHECK(solve_eigen(comm, &g, a, rhs_copy, x, &info->rank_deficiency));
    t[0] = otd_comm_wtime() - t0;
    OTD_CHECK(otd_comm_max(comm, t, 1));
    info->solver = "eigen";
    info->seconds = t[0];
    /* PDSYEVD with vectors: about (4/3 + 8/3 + ...) n^3; quote 9 n^3 as
     * LAPACK's working notes do for the divide-and-conquer path. */
    info->gflops = t[0] > 0 ? 9.0 * (double)n * n * n / t[0] * 1e-9 : 0.0;
done:
    free(a);
    free(b);
    free(rhs_copy);
    grid_close(&g);
    return err;
}

otd_err otd_linalg_pdgemm_rate(otd_comm *comm, int64_t n, int64_t block, double *gflops)
{
    otd_err err = OTD_OK;
    grid g;
    double *A = NULL, *B = NULL, *C = NULL, t[1], one = 1.0, zero = 0.0;
    int ione = 1;
    memset(&g, 0, sizeof g);
    g.ctx = g.handle = -1;
    *gflops = 0.0;
    OTD_CHECK(check_size(n, block));
    OTD_CHECK(grid_open(comm, n, block, &g));
    int64_t nl = (int64_t)(g.mloc > 1 ? g.mloc : 1) * (g.nloc > 0 ? g.nloc : 1);
    OTD_ALLOC(A, nl);
    OTD_ALLOC(B, nl);
    OTD_ALLOC(C, nl);
    for (int64_t q = 0; q < nl; q++) {
        A[q] = 1.0 / (double)(q % 7 + 1);
        B[q] = 1.0 / (double)(q % 5 + 2);
    }
    /* A warm-up product, then the timed one. */
    for (int rep = 0; rep < 2; rep++) {
        OTD_CHECK(otd_comm_barrier(comm));
        double t0 = otd_comm_wtime();
        pdgemm_("N", "N", &g.n, &g.n, &g.n, &one, A, &ione, &ione, g.desc, B, &ione, &ione, g.desc,
                &zero, C, &ione, &ione, g.desc);
        t[0] = otd_comm_wtime() - t0;
    }
    OTD_CHECK(otd_comm_max(comm, t, 1));
    *gflops = t[0] > 0 ? 2.0 * (double)n * n * n / t[0] * 1e-9 : 0.0;
done:
    free(A);
    free(B);
    free(C);
    grid_close(&g);
    return err;
}
