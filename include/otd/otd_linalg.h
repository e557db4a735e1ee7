/* otd_linalg.h: the dense factorizations otd runs through ScaLAPACK. */
#ifndef OTD_LINALG_H
#define OTD_LINALG_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

/* Collective. On entry every rank holds the same column-major d x r matrix
 * A (r <= d, full column rank); on exit A holds its orthonormal factor Q
 * with signs fixed so that R has a positive diagonal (the Haar-random
 * orthonormal basis of science.md section 1), bitwise the same on every rank.
 *
 * The factorization (PDGEQRF + PDORGQR) runs on a BLACS grid whose shape
 * does not depend on the job's rank count (a 1 x 1 grid on rank 0), and Q is
 * broadcast: a P x 1 grid would split the Householder reductions differently
 * for every P, and the promise that a run's target is bitwise identical at
 * any rank count would break. A d x r target basis is small (r << d), so
 * nothing is lost by not splitting it. Fails with OTD_ERR_LAPACK on a
 * rank-deficient A. */
otd_err otd_linalg_orthonormalize(otd_comm *comm, int64_t d, int64_t r, double *A);

#endif
