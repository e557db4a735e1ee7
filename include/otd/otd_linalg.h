/* otd_linalg.h: the dense factorizations otd runs through ScaLAPACK. */
#ifndef OTD_LINALG_H
#define OTD_LINALG_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

/* Collective. On entry every rank holds the same column-major d x r matrix
 * A (r <= d, full column rank); on exit A holds its orthonormal factor Q
 * with signs fixed so that R has a positive diagonal (the Haar-random
 * orthonormal basis of docs/science.md section 1), bitwise the same on every rank.
 *
 * The factorization (PDGEQRF + PDORGQR) runs on a BLACS grid whose shape
 * does not depend on the job's rank count (every rank factors on a 1 x 1
 * grid of its own, so ScaLAPACK's process-wide state stays the same on all
 * ranks), and rank 0's Q is broadcast: a P x 1 grid would split the Householder reductions
 * differently for every P, and the promise that a run's target is bitwise identical at any rank
 * count would break. A d x r target basis is small (r << d), so nothing is lost by not splitting
 * it. Fails with OTD_ERR_LAPACK on a rank-deficient A. */
otd_err otd_linalg_orthonormalize(otd_comm *comm, int64_t d, int64_t r, double *A);

/* Fill the tile A[i0 .. i0+mb, j0 .. j0+nb) of a distributed symmetric
 * matrix into a (column-major, leading dimension lda): entry (i0+p, j0+q)
 * goes to a[p + q*lda]. Called for every tile a rank owns, both triangles. */
typedef void (*otd_tile_fill)(void *ctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb, double *a,
                              int64_t lda);

typedef struct {
    int64_t n;               /* order of the system */
    int nprow, npcol;        /* BLACS process grid */
    int64_t block;           /* block-cyclic block size */
    double bytes_per_rank;   /* the largest rank's share of the matrix (and eigenvectors) */
    double mean_diag;        /* trace / n of the assembled matrix */
    double shift;            /* what was added to the diagonal: shift_abs + ridge_rel mean_diag */
    double seconds;          /* factorization and solve (assembly excluded), slowest rank */
    double gflops;           /* their flop count over seconds (n^3/3 + 2 n^2 for Cholesky) */
    const char *solver;      /* "cholesky" or "eigen" (pseudo-inverse fallback) */
    int64_t rank_deficiency; /* eigen: eigenvalues treated as zero */
} otd_spd_info;

/* Collective. Solve (A + shift I) x = rhs for a symmetric positive
 * semi-definite n x n matrix A that no rank ever holds whole: A is assembled
 * tile by tile (fill) directly into a 2-D block-cyclic ScaLAPACK matrix over
 * a near-square nprow x npcol grid of all ranks, shift = shift_abs +
 * ridge_rel * trace(A)/n, then PDPOTRF + PDPOTRS (on a 1 x 1 grid, where
 * the local matrix is all of A, LAPACK's faster DPOTRF + DPOTRS). If the Cholesky
 * factorization fails (A + shift I numerically indefinite), A is assembled
 * again and solved by PDSYEVD as a pseudo-inverse (eigenvalues below
 * n eps max|lambda| dropped). rhs and x are replicated (length n, the same on
 * every rank; x may alias rhs).
 *
 * Memory is checked before anything is allocated: OTD_ERR_NOMEM with a
 * message naming the bytes per rank needed and the node's available memory
 * when the matrix does not fit in max_fraction of it. */
otd_err otd_spd_solve(otd_comm *comm, int64_t n, int64_t block, otd_tile_fill fill, void *ctx,
                      double shift_abs, double ridge_rel, double max_fraction, const double *rhs,
                      double *x, otd_spd_info *info);

/* Collective. Check, before allocating, that otd_spd_solve's local share of
 * an n x n matrix (twice that with_vectors, the eigensolver's fallback) fits
 * in max_fraction of the memory available per rank on the tightest node
 * (MemAvailable divided among the ranks sharing the node): OTD_ERR_CONFIG
 * naming the GiB needed and available otherwise. *bytes_per_rank gets the
 * need. */
otd_err otd_spd_check_memory(otd_comm *comm, int64_t n, int64_t block, int with_vectors,
                             double max_fraction, double *bytes_per_rank);

/* Collective. The rate of PDGEMM (C = A B, n x n, block-cyclic over the
 * same grid otd_spd_solve uses) on this communicator, in GFLOP/s over the
 * slowest rank: the yardstick of the distributed solve in `otd bench`. */
otd_err otd_linalg_pdgemm_rate(otd_comm *comm, int64_t n, int64_t block, double *gflops);

#endif
