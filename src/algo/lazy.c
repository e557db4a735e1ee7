/* lazy.c: the linearized model of the lazy regime (see otd_lazy.h). */
#include "otd/otd_lazy.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct otd_lazy {
    const otd_layout *lay;
    otd_comm *comm;
    int l;
    double c;      /* (2-l)/l for homogeneous, 0 for plain: P_i = I + c x_i x_i^T */
    double lambda; /* regularizer of L_lin */
    int64_t m, r, ld;
    double *X;       /* this rank's rows of x_i (w_i, or w_bar_i), ld x m */
    double *Xfull;   /* all of them, d x m: only while lazy_opt assembles J^T J */
    double *nrm;     /* n_i (1 for plain) */
    double *S;       /* s_ij = <x_i, x_j> */
    double *A;       /* l s_ij^{l-1}: the identity part of the plain blocks */
    double *B;       /* l (l-1) s_ij^{l-2}: the rank-one part */
    double *W0;      /* this rank's rows of W0 */
    double *JTb;     /* this rank's rows of J^T b */
    const double *U; /* this rank's rows of U (leading dimension d), or NULL */
    double b2;       /* ||b||^2 */
    double t2;       /* ||T*||^2 */
    /* work */
    double *Dl, *Dt, *Y, *red, *Q, *C, *norms;
};

void otd_lazy_destroy(otd_lazy *lz)
{
    if (lz == NULL)
        return;
    free(lz->X);
    free(lz->nrm);
    free(lz->S);
    free(lz->A);
    free(lz->B);
    free(lz->W0);
    free(lz->JTb);
    free(lz->Dl);
    free(lz->Dt);
    free(lz->Y);
    free(lz->red);
    free(lz->Q);
    free(lz->C);
    free(lz->norms);
    free(lz);
}

/* Slots of the one allreduce of an evaluation. */
static size_t red_size(const otd_lazy *lz)
{
    return (size_t)(2 * lz->m * lz->m + lz->m + lz->m * lz->r + 2 + OTD_EVAL_NFLAGS);
}

double otd_lazy_bytes(const otd_config *cfg, const otd_layout *lay, int64_t r)
{
    const double m = (double)cfg->model.m,
                 rows = (double)((lay->d + lay->nranks - 1) / lay->nranks);
    /* X, W0, J^T b, Dl, Dt, Y (rows x m); S, A, B, Q, C (m x m); nrm and
     * norms; the allreduce buffer (red_size). */
    return 8.0 * (6.0 * rows * m + 5.0 * m * m + 2.0 * m +
                  (2.0 * m * m + m + m * (double)r + 2 + OTD_EVAL_NFLAGS));
}

otd_err otd_lazy_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                        const double *W0, const otd_eval *ev0, const double *grad0,
                        const otd_target *t, otd_lazy **out)
{
    otd_err err = OTD_OK;
    otd_lazy *lz = NULL;
    const int64_t m = cfg->model.m, nr = lay->nrows, ld = nr > 1 ? nr : 1;
    *out = NULL;
    OTD_ALLOC(lz, 1);
    lz->lay = lay;
    lz->comm = comm;
    lz->l = cfg->problem.order;
    lz->c = cfg->model.param == OTD_PARAM_HOMOGENEOUS ? (2.0 - lz->l) / lz->l : 0.0;
    lz->lambda = cfg->algo.lambda;
    lz->m = m;
    lz->r = t->r;
    lz->ld = ld;
    lz->U = t->r > 0 ? t->U + lay->row0 : NULL;
    OTD_ALLOC(lz->X, ld * m);
    OTD_ALLOC(lz->nrm, m);
    OTD_ALLOC(lz->S, m * m);
    OTD_ALLOC(lz->A, m * m);
    OTD_ALLOC(lz->B, m * m);
    OTD_ALLOC(lz->W0, ld * m);
    OTD_ALLOC(lz->JTb, ld * m);
    OTD_ALLOC(lz->Dl, ld * m);
    OTD_ALLOC(lz->Dt, ld * m);
    OTD_ALLOC(lz->Y, ld * m);
    OTD_ALLOC(lz->red, red_size(lz));
    OTD_ALLOC(lz->Q, m * m);
    OTD_ALLOC(lz->C, m * m);
    OTD_ALLOC(lz->norms, m);

    /* The engine's evaluation at W0 already holds the column norms. */
    for (int64_t i = 0; i < m; i++) {
        double n = ev0->norms[i];
        /* homogeneous: x_i = w_bar_i; a zero column has J_i = 0 (n_i = 0). */
        int homog = cfg->model.param == OTD_PARAM_HOMOGENEOUS;
        double f = homog ? (n > 0 ? 1.0 / n : 0.0) : 1.0;
        lz->nrm[i] = homog ? n : 1.0;
        for (int64_t j = 0; j < nr; j++) {
            lz->X[j + i * ld] = f * W0[j + i * nr];
            lz->W0[j + i * ld] = W0[j + i * nr];
            /* J^T b = -grad fit(W0); engines add lambda W0 to the gradient. */
            lz->JTb[j + i * ld] = -(grad0[j + i * nr] - cfg->algo.lambda * W0[j + i * nr]);
        }
    }
    if (nr > 0)
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, (int)m, (int)nr, 1.0, lz->X,
                    (int)ld, lz->X, (int)ld, 0.0, lz->S, (int)m);
    else
        memset(lz->S, 0, (size_t)(m * m) * sizeof *lz->S);
    OTD_CHECK(otd_comm_sum(comm, lz->S, (size_t)(m * m)));
    /* Symmetric to the last bit, whatever order the reduction took. */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < i; j++)
            lz->S[j + i * m] = lz->S[i + j * m];
    for (int64_t q = 0; q < m * m; q++) {
        lz->A[q] = lz->l * otd_ipow(lz->S[q], lz->l - 1);
        lz->B[q] = lz->l * (lz->l - 1) * otd_ipow(lz->S[q], lz->l - 2);
    }
    lz->b2 = 2.0 * ev0->fit;
    lz->t2 = ev0->t_norm2;
    *out = lz;
    lz = NULL;
done:
    otd_lazy_destroy(lz);
    return err;
}

otd_err otd_lazy_eval(otd_lazy *lz, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    const int64_t m = lz->m, r = lz->r, ld = lz->ld, nr = lz->lay->nrows;
    const double c = lz->c;
    double *M = lz->red, *D = M + m * m, *wsq = D + m * m, *WtU = wsq + m, *tail = WtU + m * r;
    double jtbd = 0.0, w2 = 0.0;
    otd_ksum jdj = {0, 0}, fit = {0, 0};

    /* Delta = W - W0 and the local parts of the reduction. */
    for (int64_t i = 0; i < m; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < nr; j++) {
            double w = W[j + i * nr], dl = w - lz->W0[j + i * ld];
            lz->Dl[j + i * ld] = dl;
            jtbd += lz->JTb[j + i * ld] * dl;
            s += w * w;
        }
        wsq[i] = s;
        w2 += s;
    }
    if (nr > 0) {
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, (int)m, (int)nr, 1.0, lz->X,
                    (int)ld, lz->Dl, (int)ld, 0.0, M, (int)m);
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, (int)m, (int)nr, 1.0, lz->Dl,
                    (int)ld, lz->Dl, (int)ld, 0.0, D, (int)m);
        if (r > 0)
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, (int)r, (int)nr, 1.0, W,
                        (int)nr, lz->U, (int)lz->lay->d, 0.0, WtU, (int)m);
    } else {
        memset(M, 0, (size_t)(2 * m * m) * sizeof *M);
        memset(WtU, 0, (size_t)(m * r) * sizeof *WtU);
    }
    tail[0] = jtbd;
    tail[1] = w2;
    for (int k = 0; k < OTD_EVAL_NFLAGS; k++)
        tail[2 + k] = ev->flags[k];
    OTD_CHECK(otd_comm_sum(lz->comm, lz->red, red_size(lz)));
    jtbd = tail[0];
    w2 = tail[1];
    for (int k = 0; k < OTD_EVAL_NFLAGS; k++)
        ev->flags[k] = tail[2 + k];

    /* delta~_j = n_j P_j delta_j, Q_ij = <x_i, delta~_j>, and
     * ||J Delta||^2 = sum_ij A_ij <delta~_i, delta~_j> + B_ij Q_ij Q_ji. */
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i < m; i++)
            lz->Q[i + j * m] = lz->nrm[j] * (M[i + j * m] + c * M[j + j * m] * lz->S[i + j * m]);
    for (int64_t j = 0; j < m; j++) {
        double aj = M[j + j * m];
        for (int64_t i = 0; i < m; i++) {
            double ai = M[i + i * m];
            double e = lz->nrm[i] * lz->nrm[j] *
                       (D[i + j * m] + c * aj * M[j + i * m] + c * ai * M[i + j * m] +
                        c * c * ai * aj * lz->S[i + j * m]);
            otd_ksum_add(&jdj, lz->A[i + j * m] * e);
            otd_ksum_add(&jdj, lz->B[i + j * m] * lz->Q[i + j * m] * lz->Q[j + i * m]);
        }
    }
    otd_ksum_add(&fit, 0.5 * lz->b2);
    otd_ksum_add(&fit, -jtbd);
    otd_ksum_add(&fit, 0.5 * otd_ksum_value(&jdj));
    ev->fit = otd_ksum_value(&fit);
    ev->reg = 0.5 * lz->lambda * w2;
    ev->loss = ev->fit + ev->reg;
    ev->t_norm2 = lz->t2;
    ev->rel_err = sqrt(fmax(0.0, 2.0 * ev->fit) / lz->t2);
    for (int64_t i = 0; i < m; i++)
        lz->norms[i] = sqrt(wsq[i]);
    ev->norms = lz->norms;
    ev->WtU = r > 0 ? WtU : NULL;
    if (grad == NULL || nr == 0)
        goto done;

    /* grad = J^T J Delta - J^T b + lambda W, with
     * (J^T J Delta)_i = n_i P_i y_i,  y_i = sum_j A_ij delta~_j + B_ij Q_ij x_j. */
    for (int64_t j = 0; j < m; j++) {
        double f = c * M[j + j * m];
        for (int64_t q = 0; q < nr; q++)
            lz->Dt[q + j * ld] = lz->nrm[j] * (lz->Dl[q + j * ld] + f * lz->X[q + j * ld]);
    }
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i < m; i++)
            lz->C[j + i * m] = lz->B[i + j * m] * lz->Q[i + j * m];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)m, (int)m, 1.0, lz->Dt,
                (int)ld, lz->A, (int)m, 0.0, lz->Y, (int)ld);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)m, (int)m, 1.0, lz->X,
                (int)ld, lz->C, (int)m, 1.0, lz->Y, (int)ld);
    for (int64_t i = 0; i < m; i++) {
        /* <x_i, y_i> = sum_j (A_ij + B_ij s_ij) Q_ij, from replicated values. */
        double h = 0.0;
        for (int64_t j = 0; j < m; j++)
            h += (lz->A[i + j * m] + lz->B[i + j * m] * lz->S[i + j * m]) * lz->Q[i + j * m];
        for (int64_t q = 0; q < nr; q++) {
            double jj = lz->nrm[i] * (lz->Y[q + i * ld] + c * h * lz->X[q + i * ld]);
            grad[q + i * nr] = jj - lz->JTb[q + i * ld] + lz->lambda * W[q + i * nr];
        }
    }
done:
    return err;
}

/* The tile of J^T J at rows (i, a), columns (j, b): index i d + a. */
static void fill_jtj(void *ctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb, double *t,
                     int64_t lda)
{
    const otd_lazy *lz = ctx;
    const int64_t d = lz->lay->d, m = lz->m;
    const double c = lz->c;
    for (int64_t q = 0; q < nb; q++) {
        int64_t j = (j0 + q) / d, b = (j0 + q) % d;
        const double *xj = lz->Xfull + j * d;
        for (int64_t p = 0; p < mb; p++) {
            int64_t i = (i0 + p) / d, a = (i0 + p) % d;
            const double *xi = lz->Xfull + i * d;
            double al = lz->A[i + j * m], be = lz->B[i + j * m], s = lz->S[i + j * m];
            double g = c * (al + be * s);
            /* n_i n_j [P_i (al I + be x_j x_i^T) P_j]_ab */
            double v = (a == b ? al : 0.0) + be * xj[a] * xi[b] +
                       g * (xi[a] * xi[b] + xj[a] * xj[b]) + g * c * s * xi[a] * xj[b];
            t[p + q * lda] = lz->nrm[i] * lz->nrm[j] * v;
        }
    }
}

otd_err otd_lazy_check_memory(const otd_config *cfg, otd_comm *comm, double max_fraction,
                              double *bytes_per_rank)
{
    int64_t n = cfg->model.m * cfg->problem.dim;
    if (cfg->problem.dim > 0 && n / cfg->problem.dim != cfg->model.m)
        return OTD_ERROR(OTD_ERR_CONFIG, "lazy_opt: m d = %lld x %lld overflows",
                         (long long)cfg->model.m, (long long)cfg->problem.dim);
    return otd_spd_check_memory(comm, n, cfg->algo.lazy_block, 0, max_fraction, bytes_per_rank);
}

otd_err otd_lazy_solve(otd_lazy *lz, int64_t block, double ridge_rel, double max_fraction,
                       double *W, otd_spd_info *info)
{
    otd_err err = OTD_OK;
    const otd_layout *lay = lz->lay;
    const int64_t m = lz->m, d = lay->d, nr = lay->nrows, n = m * d;
    double *rhs = NULL, *w0 = NULL, *x = NULL;
    OTD_ALLOC(rhs, n);
    OTD_ALLOC(w0, n);
    OTD_ALLOC(x, n);
    OTD_ALLOC(lz->Xfull, n);
    /* Every rank fills tiles of any (i, j): it needs all the x_i. */
    OTD_CHECK(otd_comm_allgather_rows(lz->comm, lay, lz->X, m, lz->Xfull));
    /* rhs = J^T b - lambda W0, whole on every rank (the layout of a d x m
     * column-major matrix is the index i d + a of the system). */
    OTD_CHECK(otd_comm_allgather_rows(lz->comm, lay, lz->JTb, m, rhs));
    OTD_CHECK(otd_comm_allgather_rows(lz->comm, lay, lz->W0, m, w0));
    for (int64_t q = 0; q < n; q++)
        rhs[q] -= lz->lambda * w0[q];
    OTD_CHECK(otd_spd_solve(lz->comm, n, block, fill_jtj, lz, lz->lambda, ridge_rel, max_fraction,
                            rhs, x, info));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < nr; j++)
            W[j + i * nr] = w0[lay->row0 + j + i * d] + x[lay->row0 + j + i * d];
done:
    free(rhs);
    free(w0);
    free(x);
    free(lz->Xfull);
    lz->Xfull = NULL;
    return err;
}

otd_err otd_lazy_scaled_target(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                               const otd_target *t, const double *W0, otd_target **out)
{
    otd_err err = OTD_OK;
    const int64_t d = lay->d, m = cfg->model.m, r = t->r;
    const double alpha = cfg->algo.lazy_alpha;
    const int l = cfg->problem.order;
    double *U = NULL, *a = NULL;
    *out = NULL;
    OTD_ALLOC(U, d * (r + m));
    OTD_ALLOC(a, r + m);
    memcpy(U, t->U, (size_t)(d * r) * sizeof *U);
    for (int64_t k = 0; k < r; k++)
        a[k] = t->a[k] / alpha;
    OTD_CHECK(otd_comm_allgather_rows(comm, lay, W0, m, U + d * r));
    for (int64_t i = 0; i < m; i++) {
        double n2 = 0.0;
        for (int64_t j = 0; j < d; j++)
            n2 += U[j + (r + i) * d] * U[j + (r + i) * d];
        /* w^{(x)l} (plain) or ||w||^{2-l} w^{(x)l} (homogeneous) */
        a[r + i] = cfg->model.param == OTD_PARAM_PLAIN ? 1.0
                   : n2 > 0                            ? pow(n2, (2.0 - l) / 2.0)
                                                       : 0.0;
    }
    OTD_CHECK(otd_target_from_components(l, d, r + m, U, a, out));
done:
    free(U);
    free(a);
    return err;
}

void otd_lazy_scaled_report(double alpha, double norm2, otd_eval *ev)
{
    ev->rel_err = alpha * sqrt(fmax(0.0, 2.0 * ev->fit) / norm2);
    ev->fit *= alpha * alpha;
    ev->t_norm2 = norm2;
}
