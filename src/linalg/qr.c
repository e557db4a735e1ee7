/* qr.c: orthonormal basis by ScaLAPACK QR (see otd_linalg.h for why the
 * grid is 1 x 1). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "comm/comm_mpi.h"
#include "linalg/scalapack.h"
#include "otd/otd_linalg.h"

/* Block size of the distributed factorization; any value is correct, 64 is
 * ScaLAPACK's usual choice for blocked Householder. */
#define QR_NB 64

/* Rank 0 only: factor A in place and form Q with positive diag(R). */
static otd_err factor(int ctx, int m, int n, double *A)
{
    otd_err err = OTD_OK;
    int desc[9], info = 0, one = 1, zero = 0, nb = QR_NB, lwork = -1;
    double *tau = NULL, *work = NULL, wq = 0.0, *sign = NULL;
    descinit_(desc, &m, &n, &nb, &nb, &zero, &zero, &ctx, &m, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "descinit (QR of %d x %d): info = %d", m, n, info);
    OTD_ALLOC(tau, n);
    OTD_ALLOC(sign, n);
    pdgeqrf_(&m, &n, A, &one, &one, desc, tau, &wq, &lwork, &info);
    lwork = (int)wq + 1;
    OTD_ALLOC(work, lwork);
    pdgeqrf_(&m, &n, A, &one, &one, desc, tau, work, &lwork, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "PDGEQRF of the %d x %d target basis: info = %d", m, n, info);
    for (int k = 0; k < n; k++) {
        double rkk = A[(size_t)k * m + k];
        if (rkk == 0.0 || !isfinite(rkk))
            OTD_FAIL(OTD_ERR_LAPACK, "target basis is rank deficient (R[%d,%d] = %g)", k, k, rkk);
        sign[k] = rkk > 0 ? 1.0 : -1.0;
    }
    lwork = -1;
    pdorgqr_(&m, &n, &n, A, &one, &one, desc, tau, &wq, &lwork, &info);
    if ((int)wq + 1 > n) {
        free(work);
        work = NULL;
        lwork = (int)wq + 1;
        OTD_ALLOC(work, lwork);
    }
    pdorgqr_(&m, &n, &n, A, &one, &one, desc, tau, work, &lwork, &info);
    if (info != 0)
        OTD_FAIL(OTD_ERR_LAPACK, "PDORGQR of the %d x %d target basis: info = %d", m, n, info);
    /* Q diag(sign) pairs with diag(sign) R, whose diagonal is positive. */
    for (int k = 0; k < n; k++)
        for (int j = 0; j < m; j++)
            A[(size_t)k * m + j] *= sign[k];
done:
    free(tau);
    free(work);
    free(sign);
    return err;
}

otd_err otd_linalg_orthonormalize(otd_comm *comm, int64_t d, int64_t r, double *A)
{
    otd_err err = OTD_OK, local = OTD_OK;
    otd_comm *root = NULL;
    if (r > d || d > INT_MAX || (int64_t)d * r > INT_MAX)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "orthonormal target needs r <= d and d*r < 2^31 (d = %lld, r = %lld)",
                 (long long)d, (long long)r);
    /* Every rank factors the same A on a 1 x 1 grid of its own, and rank 0's
     * Q is broadcast. Not rank 0 alone: ScaLAPACK keeps process-wide state
     * (PBLAS broadcast topologies) that its factorizations change, and a
     * rank 0 whose state differed from the others' deadlocked a later
     * PDGEMM over all ranks in its broadcasts. */
    OTD_CHECK(otd_comm_self(&root));
    {
        int handle = Csys2blacs_handle(otd_comm_raw(root)), ctx = handle;
        int nprow = 0, npcol = 0, myrow = -1, mycol = -1;
        Cblacs_gridinit(&ctx, "Row", 1, 1);
        Cblacs_gridinfo(ctx, &nprow, &npcol, &myrow, &mycol);
        local = factor(ctx, (int)d, (int)r, A);
        Cblacs_gridexit(ctx);
        Cfree_blacs_system_handle(handle);
    }
    OTD_CHECK(otd_comm_agree(comm, local));
    OTD_CHECK(otd_comm_bcast(comm, A, (size_t)(d * r) * sizeof *A, 0));
done:
    otd_comm_destroy(root);
    return err;
}
