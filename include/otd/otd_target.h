/* otd_target.h: the target tensor T* = sum_k a_k u_k^{(x) l}.
 *
 * The components are small (d x r) and kept whole on every rank: each rank
 * reads its row block U[I_p, :] from them, and everything derived from the
 * whole of U (UtU, the norm of T*, the normalization of a) is computed
 * redundantly in the same order everywhere, so it is bitwise the same for
 * any rank count. */
#ifndef OTD_TARGET_H
#define OTD_TARGET_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"

typedef struct {
    int order;    /* l */
    int64_t d, r; /* r = 0: a tensor read from problem.tensor_file (no components) */
    double *U;    /* d x r column-major: U[j + k*d] = coordinate j of u_k */
    double *a;    /* r weights, normalized when problem.normalize is set */
    double *UtU;  /* r x r Gram matrix of the components */
    double norm2; /* ||T*||_F^2 of sum_k a_k u_k^l (1 when normalized); NaN if r = 0 */
} otd_target;

/* The number of known components the target of cfg has: problem.rank, or 0
 * for a tensor read from problem.tensor_file. Not collective. */
static inline int64_t otd_target_ncomp(const otd_config *cfg)
{
    return cfg->problem.tensor_file[0] != '\0' ? 0 : cfg->problem.rank;
}

/* Collective. Generate (from run.seed) or read (problem.components_file) the
 * target described by cfg. Errors: OTD_ERR_CONFIG/FORMAT/LAPACK with a
 * message; the same verdict on every rank. */
otd_err otd_target_create(const otd_config *cfg, otd_comm *comm, otd_target **out);

/* Not collective. A target from given components (copied; a is used as is,
 * not normalized): e.g. lazy_gd's scaled model fits T(W0) + T* / alpha. */
otd_err otd_target_from_components(int order, int64_t d, int64_t r, const double *U,
                                   const double *a, otd_target **out);

/* Accepts NULL. */
void otd_target_destroy(otd_target *t);

/* Symmetric Gram matrix G = A^T B of column-major n x p and n x q matrices
 * (lda = ldb = n) in a fixed summation order: a pure function of the data,
 * independent of BLAS threading. For small replicated matrices. */
void otd_gram_exact(int64_t n, int64_t p, int64_t q, const double *A, const double *B, double *G);

/* x^k for small integer k >= 0 by repeated multiplication (exact order,
 * faster than pow() in the inner loops). */
static inline double otd_ipow(double x, int k)
{
    double y = 1.0;
    for (int i = 0; i < k; i++)
        y *= x;
    return y;
}

#endif
