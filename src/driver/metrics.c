/* metrics.c: per-iteration diagnostics (see otd_metrics.h). Everything but
 * the gradient norm and the distance from W_0 follows from the engine's
 * column norms and W^T U, which every rank already holds. */
#include "otd/otd_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Descriptions as in docs/science.md section 6; every value is on the scale
 * of ||T*|| or dimensionless, except the wall time. */
const otd_results_column otd_metrics_scalar_cols[OTD_M_NSCALAR] = {
    [OTD_M_ITER] = {"iter", "iteration t of the row (W_t, before step t)", NULL},
    [OTD_M_EPOCH] = {"epoch", "bl/tdp epoch of the row, 0 for the other algorithms", NULL},
    [OTD_M_LOSS] = {"loss", "objective L(W): fit + regularizer", NULL},
    [OTD_M_FIT] = {"fit_loss", "fit 1/2 ||T(W) - T*||_F^2", NULL},
    [OTD_M_REL_ERR] = {"rel_err", "relative error ||T(W) - T*||_F / ||T*||_F", NULL},
    [OTD_M_GRAD_NORM] = {"grad_norm", "gradient norm ||grad L(W)||_F", NULL},
    [OTD_M_N_LARGE] = {"n_large",
                       "components whose coefficient in T(W) is at least "
                       "metrics.large_fraction times the smallest |a_k|",
                       NULL},
    [OTD_M_N_REINIT] = {"n_reinit", "components re-initialized since the previous row", NULL},
    [OTD_M_SUM_SQ_NORM] = {"sum_sq_norm", "sum_i ||w_i||^2", NULL},
    [OTD_M_MAX_NORM] = {"max_norm", "max_i ||w_i||", NULL},
    [OTD_M_MIN_BEST_CORR] = {"min_best_corr",
                             "min over large components of their best |cos(w_i, u_k)| "
                             "(NaN: none large, or no target components)",
                             NULL},
    [OTD_M_MAX_OUT_OF_SPAN] = {"max_out_of_span",
                               "max over large components of the fraction of ||w_i||^2 "
                               "outside span{u_k} (NaN: none large)",
                               NULL},
    [OTD_M_N_FITTED] = {"n_fitted",
                        "targets fitted: a large component at |cos| >= metrics.fit_corr and "
                        "target_mass within metrics.fit_mass_tol of 1",
                        NULL},
    [OTD_M_DIST_INIT] = {"dist_init", "relative distance from W0, ||W - W0||_F / ||W0||_F", NULL},
    [OTD_M_WALL_TIME] = {"wall_time", "wall time since the start of the step loop (rank 0)", "s"},
    [OTD_M_REL_ERR_RES] = {"rel_err_resolution",
                           "resolution of rel_err: a smaller rel_err is only known to be at "
                           "most this",
                           NULL},
};

const otd_results_column otd_metrics_vector_cols[OTD_V_NVEC] = {
    [OTD_V_TARGET_MASS] = {"target_mass",
                           "per target k: <T(W), u_k^l> / (a_k ||u_k||^{2l}), 1 when k is fitted",
                           NULL},
    [OTD_V_TARGET_RESIDUAL] = {"target_residual",
                               "per target k: <T* - T(W), u_k^l> / (a_k ||u_k||^{2l})", NULL},
    [OTD_V_TARGET_COUNT] = {"target_count",
                            "per target k: large components whose best-correlated target is k",
                            NULL},
};

struct otd_metrics {
    const otd_config *cfg;
    const otd_layout *lay;
    otd_comm *comm;
    const otd_target *t;
    double *W0;      /* this rank's rows of W_0 */
    double w0_norm2; /* ||W_0||_F^2 (set on the first compute: needs a collective) */
    int have_w0;
    double *L;         /* Cholesky factor of U^T U (r x r), or NULL if singular */
    double *y;         /* r scratch */
    double *match;     /* r: best |cos| of a large component whose best target is k */
    double large_min;  /* coefficient threshold for "large" */
    double *target_tt; /* <T*, u_k^l> for each k */
};

/* L L^T = S for a small symmetric positive definite S (r x r, column-major);
 * returns 0 if S is not numerically positive definite. */
static int cholesky(int64_t r, const double *S, double *L)
{
    memset(L, 0, (size_t)(r * r) * sizeof *L);
    for (int64_t j = 0; j < r; j++) {
        double dj = S[j + j * r];
        for (int64_t k = 0; k < j; k++)
            dj -= L[j + k * r] * L[j + k * r];
        if (!(dj > 1e-12 * S[j + j * r]))
            return 0;
        L[j + j * r] = sqrt(dj);
        for (int64_t i = j + 1; i < r; i++) {
            double v = S[i + j * r];
            for (int64_t k = 0; k < j; k++)
                v -= L[i + k * r] * L[j + k * r];
            L[i + j * r] = v / L[j + j * r];
        }
    }
    return 1;
}

otd_err otd_metrics_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                           const otd_target *target, const double *W0_loc, otd_metrics **out)
{
    otd_err err = OTD_OK;
    otd_metrics *mt = NULL;
    int64_t r = target->r, n = lay->nrows * cfg->model.m;
    *out = NULL;
    OTD_ALLOC(mt, 1);
    mt->cfg = cfg;
    mt->lay = lay;
    mt->comm = comm;
    mt->t = target;
    OTD_ALLOC(mt->W0, n);
    memcpy(mt->W0, W0_loc, (size_t)n * sizeof *mt->W0);
    OTD_ALLOC(mt->L, r * r);
    OTD_ALLOC(mt->y, r);
    OTD_ALLOC(mt->match, r);
    OTD_ALLOC(mt->target_tt, r);
    if (!cholesky(r, target->UtU, mt->L)) {
        free(mt->L); /* components span everything or are dependent: no out-of-span metric */
        mt->L = NULL;
    }
    double amin = INFINITY;
    for (int64_t k = 0; k < r; k++) {
        amin = fmin(amin, fabs(target->a[k]));
        double s = 0.0;
        for (int64_t q = 0; q < r; q++)
            s += target->a[q] * otd_ipow(target->UtU[q + k * r], target->order);
        mt->target_tt[k] = s;
    }
    /* Without components (a tensor file) the scale is ||T*||, set on the
     * first evaluation. */
    mt->large_min = r > 0 ? cfg->metrics.large_fraction * amin : NAN;
    *out = mt;
    mt = NULL;
done:
    otd_metrics_destroy(mt);
    return err;
}

void otd_metrics_destroy(otd_metrics *mt)
{
    if (mt == NULL)
        return;
    free(mt->W0);
    free(mt->L);
    free(mt->y);
    free(mt->match);
    free(mt->target_tt);
    free(mt);
}

/* Fraction of ||w||^2 outside span{u_k}: 1 - c^T (U^T U)^{-1} c / ||w||^2. */
static double out_of_span(otd_metrics *mt, const double *WtU, int64_t m, int64_t i, double n2)
{
    int64_t r = mt->t->r;
    if (mt->L == NULL || n2 <= 0)
        return NAN;
    double p2 = 0.0;
    for (int64_t k = 0; k < r; k++) {
        double v = WtU[i + k * m];
        for (int64_t q = 0; q < k; q++)
            v -= mt->L[k + q * r] * mt->y[q];
        mt->y[k] = v / mt->L[k + k * r];
        p2 += mt->y[k] * mt->y[k];
    }
    return fmax(0.0, 1.0 - p2 / n2);
}

otd_err otd_metrics_compute(otd_metrics *mt, const otd_eval *ev, const double *W,
                            const double *grad, double *sc, double *vec)
{
    otd_err err = OTD_OK;
    const otd_target *t = mt->t;
    const int l = t->order, homog = mt->cfg->model.param == OTD_PARAM_HOMOGENEOUS;
    const int64_t m = mt->cfg->model.m, r = t->r, n = mt->lay->nrows * m;
    double red[3] = {0, 0, 0};
    double *mass = vec + OTD_V_TARGET_MASS * r, *resid = vec + OTD_V_TARGET_RESIDUAL * r;
    double *count = vec + OTD_V_TARGET_COUNT * r;

    for (int64_t j = 0; j < n; j++) {
        double dw = W[j] - mt->W0[j];
        red[0] += grad[j] * grad[j];
        red[1] += dw * dw;
        red[2] += mt->W0[j] * mt->W0[j];
    }
    OTD_CHECK(otd_comm_sum(mt->comm, red, mt->have_w0 ? 2 : 3));
    if (!mt->have_w0) {
        mt->w0_norm2 = red[2];
        mt->have_w0 = 1;
    }
    if (isnan(mt->large_min))
        mt->large_min = mt->cfg->metrics.large_fraction * sqrt(ev->t_norm2);
    sc[OTD_M_LOSS] = ev->loss;
    sc[OTD_M_FIT] = ev->fit;
    sc[OTD_M_REL_ERR] = ev->rel_err;
    sc[OTD_M_REL_ERR_RES] = ev->rel_err_res;
    sc[OTD_M_GRAD_NORM] = sqrt(red[0]);
    sc[OTD_M_DIST_INIT] = mt->w0_norm2 > 0 ? sqrt(red[1] / mt->w0_norm2) : NAN;

    double nlarge = 0, ssq = 0, nmax = 0, min_best = INFINITY, max_out = -INFINITY, nfit = 0;
    for (int64_t k = 0; k < r; k++)
        mass[k] = count[k] = mt->match[k] = 0.0;
    for (int64_t i = 0; i < m; i++) {
        double ni = ev->norms[i], n2 = ni * ni;
        /* coefficient of component i in T(W) and its direction's cosines */
        double coef = homog ? n2 : otd_ipow(ni, l), best = 0.0;
        int64_t kbest = 0;
        ssq += n2;
        nmax = fmax(nmax, ni);
        for (int64_t k = 0; k < r; k++) {
            double uk = sqrt(t->UtU[k + k * r]);
            double cosv = ni > 0 ? ev->WtU[i + k * m] / (ni * uk) : 0.0;
            mass[k] += coef * otd_ipow(cosv * uk, l);
            if (fabs(cosv) > best) {
                best = fabs(cosv);
                kbest = k;
            }
        }
        if (ni > 0 && coef >= mt->large_min) {
            nlarge++;
            if (r > 0) {
                count[kbest] += 1.0;
                mt->match[kbest] = fmax(mt->match[kbest], best);
            }
            min_best = fmin(min_best, best);
            max_out = fmax(max_out, out_of_span(mt, ev->WtU, m, i, n2));
        }
    }
    for (int64_t k = 0; k < r; k++) {
        double den = t->a[k] * otd_ipow(t->UtU[k + k * r], l);
        resid[k] = (mt->target_tt[k] - mass[k]) / den;
        mass[k] /= den;
        /* Fitted: one large component points at u_k (a direction found)
         * and T(W) holds u_k's whole weight (the amount right), so that
         * neither a spread of poorly aligned components nor one aligned
         * but still growing counts. */
        if (mt->match[k] >= mt->cfg->metrics.fit_corr &&
            fabs(mass[k] - 1.0) <= mt->cfg->metrics.fit_mass_tol)
            nfit++;
    }
    sc[OTD_M_N_LARGE] = nlarge;
    sc[OTD_M_SUM_SQ_NORM] = ssq;
    sc[OTD_M_MAX_NORM] = nmax;
    /* Correlations need target components (none for a tensor file). */
    sc[OTD_M_MIN_BEST_CORR] = nlarge > 0 && r > 0 ? min_best : NAN;
    sc[OTD_M_MAX_OUT_OF_SPAN] = nlarge > 0 && r > 0 ? max_out : NAN;
    sc[OTD_M_N_FITTED] = r > 0 ? nfit : NAN;
done:
    return err;
}

double otd_metrics_dim_count(int l, int64_t d, int64_t m)
{
    /* D = C(d + l - 1, l) in floating point: exact for every size otd runs. */
    double D = 1.0;
    for (int k = 1; k <= l; k++)
        D = D * (double)(d - 1 + k) / k;
    return sqrt(fmax(0.0, 1.0 - (double)m * (double)d / D));
}
