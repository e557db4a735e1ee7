/* otd_metrics.h: what every logged iteration records (docs/science.md section 6).
 *
 * The columns are fixed here, in order, and the results file takes their
 * names, descriptions and units from otd_metrics_scalar_cols /
 * otd_metrics_vector_cols, so adding a metric is one enum value, one entry
 * there and one line computing it. */
#ifndef OTD_METRICS_H
#define OTD_METRICS_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_error.h"
#include "otd/otd_results.h"
#include "otd/otd_target.h"

enum {
    OTD_M_ITER,            /* iteration t (W_t, before step t) */
    OTD_M_EPOCH,           /* bl/tdp epoch, 0 for gd */
    OTD_M_LOSS,            /* fit + regularizer */
    OTD_M_FIT,             /* 1/2 ||T(W) - T*||^2 */
    OTD_M_REL_ERR,         /* ||T(W) - T*|| / ||T*|| */
    OTD_M_GRAD_NORM,       /* ||grad L||_F */
    OTD_M_N_LARGE,         /* components with coefficient >= large_fraction * min |a_k| */
    OTD_M_N_REINIT,        /* components redrawn since the previous logged row */
    OTD_M_SUM_SQ_NORM,     /* sum_i ||w_i||^2 */
    OTD_M_MAX_NORM,        /* max_i ||w_i|| */
    OTD_M_MIN_BEST_CORR,   /* min over large i of max_k |cos(w_i, u_k)| (NaN: none large) */
    OTD_M_MAX_OUT_OF_SPAN, /* max over large i of the fraction of ||w_i||^2 outside span{u_k} */
    OTD_M_N_FITTED,        /* targets k with a large component whose best target is k at
                            * |cos| >= fit_corr and |target_mass_k - 1| <= fit_mass_tol */
    OTD_M_DIST_INIT,       /* ||W - W_0||_F / ||W_0||_F */
    OTD_M_WALL_TIME,       /* seconds since the start of the loop (rank 0's clock) */
    OTD_M_REL_ERR_RES,     /* rel_err's resolution: a smaller rel_err is only "at most this" */
    OTD_M_NSCALAR
};

enum {
    OTD_V_TARGET_MASS,     /* <T(W), u_k^l> / (a_k ||u_k||^{2l}): 1 when target k is fitted */
    OTD_V_TARGET_RESIDUAL, /* <T* - T(W), u_k^l> / (a_k ||u_k||^{2l}) */
    OTD_V_TARGET_COUNT,    /* large components whose best-correlated target is k */
    OTD_V_NVEC
};

/* Name, description and unit of every column, in enum order. */
extern const otd_results_column otd_metrics_scalar_cols[OTD_M_NSCALAR];
extern const otd_results_column otd_metrics_vector_cols[OTD_V_NVEC];

typedef struct otd_metrics otd_metrics;

/* Not collective. W0_loc (this rank's rows of the initial W) is copied. */
otd_err otd_metrics_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                           const otd_target *target, const double *W0_loc, otd_metrics **out);
void otd_metrics_destroy(otd_metrics *mt);

/* Collective (one allreduce of two numbers). Fill scalars[OTD_M_NSCALAR] and
 * vecs[OTD_V_NVEC * r] for iteration iter from the evaluation ev at W_loc with
 * gradient grad_loc. iter, epoch, n_reinit and wall_time are set by the
 * caller-provided values. */
otd_err otd_metrics_compute(otd_metrics *mt, const otd_eval *ev, const double *W_loc,
                            const double *grad_loc, double *scalars, double *vecs);

/* Not collective. The dimension count of docs/science.md section 4: sqrt(max(0, 1 - m d / D)),
 * D = C(d + l - 1, l) the dimension of symmetric order-l tensors: roughly
 * the relative error left when the tangent space (dimension <= m d) is a
 * random subspace. */
double otd_metrics_dim_count(int l, int64_t d, int64_t m);

#endif
