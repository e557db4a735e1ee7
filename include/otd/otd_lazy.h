/* otd_lazy.h: the lazy (NTK) regime of docs/science.md section 4: the model
 * linearized around W0,
 *
 *   T_lin(W0 + Delta) = T(W0) + J[Delta],   J = dT/dW at W0,
 *   L_lin(Delta) = 1/2 ||b - J[Delta]||_F^2 + lambda/2 ||W0 + Delta||_F^2,
 *   b = T* - T(W0),
 *
 * for both parametrizations. J is never formed. Column i of J acts as
 *   plain:        J_i delta = l sym(w_i^{(x)(l-1)} (x) delta)
 *   homogeneous:  J_i = n_i J^plain(w_bar_i) P_i,  P_i = I + ((2-l)/l) w_bar_i w_bar_i^T,
 * (n_i = ||w_i||), so everything follows from the plain blocks at the
 * vectors x_i (w_i, or w_bar_i):
 *   (J^T J)_ij = n_i n_j P_i [ l s_ij^{l-1} I + l(l-1) s_ij^{l-2} x_j x_i^T ] P_j,
 *   s_ij = <x_i, x_j>,
 * and J^T b = -grad fit(W0), which any engine computes (implicit or dense:
 * for the dense engine b and J^T b come from the tensor itself).
 *
 *   lazy_gd   gradient descent on L_lin: one allreduce of 2 m^2 + O(m r)
 *             numbers per step, O(m^2 d / P) flops.
 *   lazy_opt  the minimizer of L_lin: (J^T J + lambda I) Delta = J^T b - lambda W0,
 *             md x md, assembled tile by tile into a 2-D block-cyclic
 *             ScaLAPACK matrix and solved by distributed Cholesky
 *             (otd_spd_solve) with the ridge algo.lazy_ridge.
 * Layout as everywhere: this rank's rows, column-major nrows x m. */
#ifndef OTD_LAZY_H
#define OTD_LAZY_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_error.h"
#include "otd/otd_linalg.h"
#include "otd/otd_target.h"

typedef struct otd_lazy otd_lazy;

/* Collective. The linearization at W0 (this rank's rows). ev0 and grad0 are
 * an engine's evaluation of the configured loss at W0 (grad0 = grad fit +
 * lambda W0, as engines return it): J^T b, ||b||^2 and the column norms
 * come from them. t is
 * the target, for the W^T U of evaluations (the metrics); it must outlive
 * the handle. */
otd_err otd_lazy_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                        const double *W0, const otd_eval *ev0, const double *grad0,
                        const otd_target *t, otd_lazy **out);
void otd_lazy_destroy(otd_lazy *lz);

/* Collective (one allreduce). L_lin and, if grad is not NULL, its gradient
 * at W = W0 + Delta (this rank's rows). ev gets loss, fit (of the
 * linearized model), reg, rel_err, t_norm2, and for the metrics the column
 * norms and W^T U of W itself; ev->flags are summed as in otd_engine_eval. */
otd_err otd_lazy_eval(otd_lazy *lz, const double *W, double *grad, otd_eval *ev);

/* Collective. lazy_opt: solve the normal equations with ScaLAPACK block
 * size `block` and ridge ridge_rel (relative to the mean diagonal); W (this
 * rank's rows) gets W0 + Delta. max_fraction: of each node's available
 * memory the matrix may use. */
otd_err otd_lazy_solve(otd_lazy *lz, int64_t block, double ridge_rel, double max_fraction,
                       double *W, otd_spd_info *info);

/* What a CG solve of lazy_opt did. */
typedef struct {
    int64_t n;             /* order of the system, m d */
    int64_t iters;         /* CG iterations (products with J^T J) */
    double residual;       /* ||rhs - (J^T J + shift I) x|| / ||rhs|| of the answer */
    int converged;         /* residual <= the tolerance within the iteration budget */
    double mean_diag;      /* trace(J^T J) / n, in closed form */
    double shift;          /* lambda + ridge_rel mean_diag, as for the dense solve */
    double seconds;        /* the whole solve, slowest rank */
    double gflops;         /* products' flops (6 m^2 d each) over seconds */
    double bytes_per_rank; /* the solve's vectors and m x m work space */
} otd_lazy_cg_info;

/* Collective. lazy_opt without forming J^T J: the same normal equations
 * (J^T J + shift I) Delta = J^T b - lambda W0, shift = lambda + ridge_rel x
 * mean diagonal, by conjugate gradients preconditioned with the d x d
 * diagonal blocks of J^T J + shift I (identity plus rank one, inverted in
 * closed form). A product costs O(m^2 d / P) flops and one allreduce of
 * m^2 numbers; each iteration adds one allreduce of one number and one of
 * 2m. Stops when ||r|| <= tol ||rhs|| or after max_iters products; W (this
 * rank's rows) gets W0 + Delta either way, and an unconverged Delta is still
 * a point of the lazy model, so its error bounds the optimum from above. */
otd_err otd_lazy_solve_cg(otd_lazy *lz, double ridge_rel, double tol, int64_t max_iters, double *W,
                          otd_lazy_cg_info *info);

/* Collective. out = J^T J V for this rank's rows of V (nrows x m): the
 * product CG uses (for tests and `otd bench`). */
otd_err otd_lazy_jtj_apply(otd_lazy *lz, const double *V, double *out);

/* Collective. Z = M^{-1} R with M the block diagonal of J^T J + shift I
 * (this rank's rows): the preconditioner of otd_lazy_solve_cg. */
otd_err otd_lazy_precondition(otd_lazy *lz, double shift, const double *R, double *Z);

/* Flops of one CG product over all ranks (6 m^2 d). Not collective. */
double otd_lazy_cg_flops(const otd_lazy *lz);

/* Not collective. The bytes otd_lazy_create holds on the largest rank of
 * lay for a target of r known components. */
double otd_lazy_bytes(const otd_config *cfg, const otd_layout *lay, int64_t r);

/* Collective. Check that lazy_opt's matrix fits (otd_spd_check_memory for
 * order m d) before anything is written. */
otd_err otd_lazy_check_memory(const otd_config *cfg, otd_comm *comm, double max_fraction,
                              double *bytes_per_rank);

/* Collective. lazy_gd with algo.lazy_alpha = alpha > 0 minimizes
 * 1/(2 alpha^2) ||alpha (T(W) - T(W0)) - T*||^2 = 1/2 ||T(W) - T_eff||^2 with
 * T_eff = T(W0) + T* / alpha: a target of rank r + m built from T*'s
 * components and W0 (gathered), for any engine. */
otd_err otd_lazy_scaled_target(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                               const otd_target *t, const double *W0, otd_target **out);

/* Turn an engine's evaluation of the scaled model into the lazy model's
 * terms: fit and rel_err of alpha (T(W) - T(W0)) against T* (norm2 =
 * ||T*||^2); the loss stays the minimized objective. */
void otd_lazy_scaled_report(double alpha, double norm2, otd_eval *ev);

#endif
