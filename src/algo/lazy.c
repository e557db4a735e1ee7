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
    double f0;       /* 1 - 1/k, k the model's degree: W = Y + f0 W0 */
    double *JTt;     /* this rank's rows of J^T T* */
    double *JTt_mag; /* |J^T b| + |J^T T(W0)|, entrywise: what was summed into J^T T* */
    const double *U; /* this rank's rows of U (leading dimension d), or NULL */
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
    free(lz->JTt);
    free(lz->JTt_mag);
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
    return (size_t)(2 * lz->m * lz->m + lz->m + lz->m * lz->r + 3 + OTD_EVAL_NFLAGS);
}

static otd_err apply_shifted(otd_lazy *lz, const double *V, double shift, double *out);

double otd_lazy_bytes(const otd_config *cfg, const otd_layout *lay, int64_t r)
{
    const double m = (double)cfg->model.m,
                 rows = (double)((lay->d + lay->nranks - 1) / lay->nranks);
    /* X, W0, J^T T*, its magnitudes, Dl, Dt, Y (rows x m); S, A, B, Q, C
     * (m x m); nrm and norms; the allreduce buffer (red_size). */
    return 8.0 * (7.0 * rows * m + 5.0 * m * m + 2.0 * m +
                  (2.0 * m * m + m + m * (double)r + 3 + OTD_EVAL_NFLAGS));
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
    OTD_ALLOC(lz->JTt, ld * m);
    OTD_ALLOC(lz->JTt_mag, ld * m);
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
            lz->JTt[j + i * ld] = -(grad0[j + i * nr] - cfg->algo.lambda * W0[j + i * nr]);
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
    lz->t2 = ev0->t_norm2;
    /* Solve for the target, not for the difference. T is homogeneous of
     * degree k in each w_i (k = l plain, 2 homogeneous), so by Euler
     * J[W0] = k T(W0): T(W0) + J Delta = J Y with Y = Delta + W0 / k, and
     * the lazy model's fit is 1/2 ||T* - J Y||^2, whose terms are of the size
     * of ||T*||^2 rather than of ||T* - T(W0)||^2 (which the start makes
     * large). J^T T* = J^T b + J^T J W0 / k. */
    {
        const double k = cfg->model.param == OTD_PARAM_HOMOGENEOUS ? 2.0 : (double)lz->l;
        lz->f0 = 1.0 - 1.0 / k;
        for (int64_t q = 0; q < ld * m; q++)
            lz->Dl[q] = lz->W0[q] / k;
        OTD_CHECK(apply_shifted(lz, lz->Dl, 0.0, lz->Y));
        for (int64_t q = 0; q < ld * m; q++) {
            lz->JTt_mag[q] = fabs(lz->JTt[q]) + fabs(lz->Y[q]);
            lz->JTt[q] += lz->Y[q];
        }
    }
    *out = lz;
    lz = NULL;
done:
    otd_lazy_destroy(lz);
    return err;
}

/* Not collective. Q_ij = <x_i, v~_j>, v~_j = n_j P_j v_j, from the reduced
 * M = X^T V (m x m, M_ij = <x_i, v_j>), into lz->Q. */
static void form_Q(otd_lazy *lz, const double *M)
{
    const int64_t m = lz->m;
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i < m; i++)
            lz->Q[i + j * m] =
                lz->nrm[j] * (M[i + j * m] + lz->c * M[j + j * m] * lz->S[i + j * m]);
}

/* Not collective. out = J^T J V (this rank's rows, leading dimension ld)
 * from V, M = X^T V and lz->Q = form_Q(M):
 *   (J^T J V)_i = n_i P_i y_i,  y_i = sum_j A_ij v~_j + B_ij Q_ij x_j,
 * and <x_i, y_i> = sum_j (A_ij + B_ij s_ij) Q_ij from replicated values, so
 * applying P_i needs no further communication. Uses lz->C and Dt. */
static void jtj_from_M(otd_lazy *lz, const double *V, const double *M, double *out)
{
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows;
    const double c = lz->c;
    if (nr == 0)
        return;
    for (int64_t j = 0; j < m; j++) {
        double f = c * M[j + j * m];
        for (int64_t q = 0; q < nr; q++)
            lz->Dt[q + j * ld] = lz->nrm[j] * (V[q + j * ld] + f * lz->X[q + j * ld]);
    }
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i < m; i++)
            lz->C[j + i * m] = lz->B[i + j * m] * lz->Q[i + j * m];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)m, (int)m, 1.0, lz->Dt,
                (int)ld, lz->A, (int)m, 0.0, out, (int)ld);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)m, (int)m, 1.0, lz->X,
                (int)ld, lz->C, (int)m, 1.0, out, (int)ld);
    for (int64_t i = 0; i < m; i++) {
        double h = 0.0;
        for (int64_t j = 0; j < m; j++)
            h += (lz->A[i + j * m] + lz->B[i + j * m] * lz->S[i + j * m]) * lz->Q[i + j * m];
        for (int64_t q = 0; q < nr; q++)
            out[q + i * ld] = lz->nrm[i] * (out[q + i * ld] + c * h * lz->X[q + i * ld]);
    }
}

otd_err otd_lazy_eval(otd_lazy *lz, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    const int64_t m = lz->m, r = lz->r, ld = lz->ld, nr = lz->lay->nrows;
    const double c = lz->c;
    double *M = lz->red, *D = M + m * m, *wsq = D + m * m, *WtU = wsq + m, *tail = WtU + m * r;
    double jtbd = 0.0, jtbd_mag = 0.0, w2 = 0.0, mag = 0.0;
    otd_ksum jdj = {0, 0}, fit = {0, 0};

    /* Y = W - f0 W0 (= Delta + W0 / k) and the local parts of the
     * reduction. */
    for (int64_t i = 0; i < m; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < nr; j++) {
            double w = W[j + i * nr], y = w - lz->f0 * lz->W0[j + i * ld];
            lz->Dl[j + i * ld] = y;
            jtbd += lz->JTt[j + i * ld] * y;
            jtbd_mag += lz->JTt_mag[j + i * ld] * fabs(y);
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
    tail[2] = jtbd_mag;
    for (int k = 0; k < OTD_EVAL_NFLAGS; k++)
        tail[3 + k] = ev->flags[k];
    OTD_CHECK(otd_comm_sum(lz->comm, lz->red, red_size(lz)));
    jtbd = tail[0];
    w2 = tail[1];
    jtbd_mag = tail[2];
    for (int k = 0; k < OTD_EVAL_NFLAGS; k++)
        ev->flags[k] = tail[3 + k];

    /* delta~_j = n_j P_j delta_j, Q_ij = <x_i, delta~_j>, and
     * ||J Delta||^2 = sum_ij A_ij <delta~_i, delta~_j> + B_ij Q_ij Q_ji. */
    form_Q(lz, M);
    for (int64_t j = 0; j < m; j++) {
        double aj = M[j + j * m];
        for (int64_t i = 0; i < m; i++) {
            double ai = M[i + i * m];
            double e = lz->nrm[i] * lz->nrm[j] *
                       (D[i + j * m] + c * aj * M[j + i * m] + c * ai * M[i + j * m] +
                        c * c * ai * aj * lz->S[i + j * m]);
            double ta = lz->A[i + j * m] * e,
                   tb = lz->B[i + j * m] * lz->Q[i + j * m] * lz->Q[j + i * m];
            otd_ksum_add(&jdj, ta);
            otd_ksum_add(&jdj, tb);
            mag += fabs(ta) + fabs(tb);
        }
    }
    /* fit = 1/2 ||T*||^2 - <J^T T*, Y> + 1/2 ||J Y||^2 */
    otd_ksum_add(&fit, 0.5 * lz->t2);
    otd_ksum_add(&fit, -jtbd);
    otd_ksum_add(&fit, 0.5 * otd_ksum_value(&jdj));
    ev->fit = otd_ksum_value(&fit);
    ev->reg = 0.5 * lz->lambda * w2;
    ev->loss = ev->fit + ev->reg;
    ev->t_norm2 = lz->t2;
    ev->rel_err = sqrt(fmax(0.0, 2.0 * ev->fit) / lz->t2);
    ev->rel_err_res =
        otd_rel_err_resolution(lz->t2 + 2.0 * jtbd_mag + mag, lz->t2, lz->l, lz->lay->d);
    for (int64_t i = 0; i < m; i++)
        lz->norms[i] = sqrt(wsq[i]);
    ev->norms = lz->norms;
    ev->WtU = r > 0 ? WtU : NULL;
    if (grad == NULL || nr == 0)
        goto done;

    /* grad = J^T J Y - J^T T* + lambda W */
    jtj_from_M(lz, lz->Dl, M, lz->Y);
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < nr; q++)
            grad[q + i * nr] = lz->Y[q + i * ld] - lz->JTt[q + i * ld] + lz->lambda * W[q + i * nr];
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
    /* For Y (W = Y + f0 W0): rhs = J^T T* - lambda f0 W0, whole on every
     * rank (the layout of a d x m column-major matrix is the index i d + a
     * of the system). */
    OTD_CHECK(otd_comm_allgather_rows(lz->comm, lay, lz->JTt, m, rhs));
    OTD_CHECK(otd_comm_allgather_rows(lz->comm, lay, lz->W0, m, w0));
    for (int64_t q = 0; q < n; q++)
        rhs[q] -= lz->lambda * lz->f0 * w0[q];
    OTD_CHECK(otd_spd_solve(lz->comm, n, block, fill_jtj, lz, lz->lambda, ridge_rel, max_fraction,
                            rhs, x, info));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < nr; j++)
            W[j + i * nr] = lz->f0 * w0[lay->row0 + j + i * d] + x[lay->row0 + j + i * d];
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
    /* The engine's resolution is relative to its target T(W0) + T* / alpha. */
    ev->rel_err_res = alpha * ev->rel_err_res * sqrt(ev->t_norm2 / norm2);
    ev->rel_err = alpha * sqrt(fmax(0.0, 2.0 * ev->fit) / norm2);
    ev->fit *= alpha * alpha;
    ev->t_norm2 = norm2;
}

/* --- lazy_opt by preconditioned conjugate gradients (no J^T J formed) --- */

/* Collective (one allreduce of m^2 numbers): out = (J^T J + shift I) V. */
static otd_err apply_shifted(otd_lazy *lz, const double *V, double shift, double *out)
{
    otd_err err = OTD_OK;
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows;
    double *M = lz->red;
    if (nr > 0)
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, (int)m, (int)nr, 1.0, lz->X,
                    (int)ld, V, (int)ld, 0.0, M, (int)m);
    else
        memset(M, 0, (size_t)(m * m) * sizeof *M);
    OTD_CHECK(otd_comm_sum(lz->comm, M, (size_t)(m * m)));
    form_Q(lz, M);
    jtj_from_M(lz, V, M, out);
    for (int64_t q = 0; q < ld * m; q++)
        out[q] += shift * V[q];
done:
    return err;
}

/* The d x d diagonal block i of J^T J + shift I is a0_i I + a1_i x_i x_i^T:
 * with al = A_ii, be = B_ii, s = s_ii, P_i x_i = (1 + c s) x_i and
 * P_i^2 = I + (2c + c^2 s) x_i x_i^T,
 *   a0 = n_i^2 al + shift,  a1 = n_i^2 (al (2c + c^2 s) + be (1 + c s)^2).
 * Its inverse (Sherman-Morrison) is (I - g x_i x_i^T) / a0 with
 * g = a1 / (a0 + a1 s). A block that is not positive definite (a zero
 * column without a shift) is left alone: identity. Also the block's trace,
 * for the ridge's mean diagonal. Not collective. */
static void block_coefficients(const otd_lazy *lz, int64_t i, double shift, double *inv_a0,
                               double *g, double *trace)
{
    const int64_t m = lz->m, d = lz->lay->d;
    const double c = lz->c, al = lz->A[i + i * m], be = lz->B[i + i * m], s = lz->S[i + i * m];
    const double n2 = lz->nrm[i] * lz->nrm[i], gc = c * (al + be * s);
    double a0 = n2 * al + shift,
           a1 = n2 * (al * (2 * c + c * c * s) + be * (1 + c * s) * (1 + c * s));
    /* The diagonal of block i, summed (fill_jtj's entries with a = b). */
    *trace = n2 * (al * (double)d + (be + 2 * gc + gc * c * s) * s);
    if (!(a0 > 0) || !(a0 + a1 * s > 0)) {
        *inv_a0 = 1.0;
        *g = 0.0;
        return;
    }
    *inv_a0 = 1.0 / a0;
    *g = a1 / (a0 + a1 * s);
}

/* Z = M^{-1} R block by block, given xr_i = <x_i, r_i> (reduced). */
static void precondition_local(const otd_lazy *lz, const double *inv_a0, const double *g,
                               const double *xr, const double *R, double *Z)
{
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows;
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < nr; q++)
            Z[q + i * ld] = inv_a0[i] * (R[q + i * ld] - g[i] * xr[i] * lz->X[q + i * ld]);
}

/* Collective (one allreduce of 2m numbers): xr_i = <x_i, r_i>, rr_i =
 * <r_i, r_i> over all rows. */
static otd_err column_dots(otd_lazy *lz, const double *R, double *xr_rr)
{
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows;
    for (int64_t i = 0; i < m; i++) {
        double a = 0.0, b = 0.0;
        for (int64_t q = 0; q < nr; q++) {
            a += lz->X[q + i * ld] * R[q + i * ld];
            b += R[q + i * ld] * R[q + i * ld];
        }
        xr_rr[i] = a;
        xr_rr[m + i] = b;
    }
    return otd_comm_sum(lz->comm, xr_rr, (size_t)(2 * m));
}

otd_err otd_lazy_precondition(otd_lazy *lz, double shift, const double *R, double *Z)
{
    otd_err err = OTD_OK;
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows;
    double *inv_a0 = NULL, *g = NULL, *dots = NULL, *Rl = NULL, *Zl = NULL, tr;
    OTD_ALLOC(inv_a0, m);
    OTD_ALLOC(g, m);
    OTD_ALLOC(dots, 2 * m);
    OTD_ALLOC(Rl, ld * m);
    OTD_ALLOC(Zl, ld * m);
    for (int64_t i = 0; i < m; i++) {
        block_coefficients(lz, i, shift, &inv_a0[i], &g[i], &tr);
        memcpy(Rl + i * ld, R + i * nr, (size_t)nr * sizeof *R);
    }
    OTD_CHECK(column_dots(lz, Rl, dots));
    precondition_local(lz, inv_a0, g, dots, Rl, Zl);
    for (int64_t i = 0; i < m; i++)
        memcpy(Z + i * nr, Zl + i * ld, (size_t)nr * sizeof *Z);
done:
    free(inv_a0);
    free(g);
    free(dots);
    free(Rl);
    free(Zl);
    return err;
}

/* Work of one CG iteration over all ranks: the three m x m x d products of
 * apply_shifted. */
static double cg_flops_per_iter(const otd_lazy *lz)
{
    return 6.0 * (double)lz->m * (double)lz->m * (double)lz->lay->d;
}

otd_err otd_lazy_solve_cg(otd_lazy *lz, double ridge_rel, double tol, int64_t max_iters, double *W,
                          otd_lazy_cg_info *info)
{
    otd_err err = OTD_OK;
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows, n = m * lz->lay->d;
    double *x = NULL, *r = NULL, *z = NULL, *p = NULL, *q = NULL, *inv_a0 = NULL, *g = NULL;
    double *dots = NULL, trace = 0.0, rho = 0.0, rhs_norm = 0.0, t0 = otd_comm_wtime();
    memset(info, 0, sizeof *info);
    info->n = n;
    OTD_ALLOC(x, ld * m);
    OTD_ALLOC(r, ld * m);
    OTD_ALLOC(z, ld * m);
    OTD_ALLOC(p, ld * m);
    OTD_ALLOC(q, ld * m);
    OTD_ALLOC(inv_a0, m);
    OTD_ALLOC(g, m);
    OTD_ALLOC(dots, 2 * m + 1);
    /* The same shift as the dense solve: lambda + ridge x mean diagonal. */
    for (int64_t i = 0; i < m; i++) {
        double t;
        block_coefficients(lz, i, 0.0, &inv_a0[i], &g[i], &t);
        trace += t;
    }
    info->mean_diag = trace / (double)n;
    info->shift = lz->lambda + ridge_rel * info->mean_diag;
    for (int64_t i = 0; i < m; i++) {
        double t;
        block_coefficients(lz, i, info->shift, &inv_a0[i], &g[i], &t);
    }
    /* For Y (W = Y + f0 W0, see otd_lazy_create): x = Y = 0, r = J^T T* -
     * lambda f0 W0. Starting from Y = 0, CG stays in the range of J^T J:
     * the minimum-norm Y on a singular system. */
    for (int64_t k = 0; k < ld * m; k++)
        r[k] = lz->JTt[k] - lz->lambda * lz->f0 * lz->W0[k];
    OTD_CHECK(column_dots(lz, r, dots));
    for (int64_t i = 0; i < m; i++)
        rhs_norm += dots[m + i];
    rhs_norm = sqrt(rhs_norm);
    info->converged = rhs_norm == 0.0;
    precondition_local(lz, inv_a0, g, dots, r, z);
    /* <r, z> from the reduced column dots: no further communication. */
    for (int64_t i = 0; i < m; i++)
        rho += inv_a0[i] * (dots[m + i] - g[i] * dots[i] * dots[i]);
    memcpy(p, z, (size_t)(ld * m) * sizeof *p);
    while (!info->converged && info->iters < max_iters) {
        double pq = 0.0, rr = 0.0, rho_new = 0.0;
        OTD_CHECK(apply_shifted(lz, p, info->shift, q));
        for (int64_t k = 0; k < ld * m; k++)
            pq += p[k] * q[k];
        OTD_CHECK(otd_comm_sum(lz->comm, &pq, 1));
        info->iters++;
        /* Not positive: the system is (numerically) singular in direction
         * p; stop with what we have (reported as not converged). */
        if (!(pq > 0))
            break;
        double alpha = rho / pq;
        for (int64_t k = 0; k < ld * m; k++) {
            x[k] += alpha * p[k];
            r[k] -= alpha * q[k];
        }
        OTD_CHECK(column_dots(lz, r, dots));
        for (int64_t i = 0; i < m; i++) {
            rr += dots[m + i];
            rho_new += inv_a0[i] * (dots[m + i] - g[i] * dots[i] * dots[i]);
        }
        if (sqrt(rr) <= tol * rhs_norm) {
            info->converged = 1;
            break;
        }
        precondition_local(lz, inv_a0, g, dots, r, z);
        double beta = rho_new / rho;
        rho = rho_new;
        for (int64_t k = 0; k < ld * m; k++)
            p[k] = z[k] + beta * p[k];
    }
    /* The residual of the answer itself, not the recurrence's. */
    OTD_CHECK(apply_shifted(lz, x, info->shift, q));
    for (int64_t k = 0; k < ld * m; k++)
        r[k] = lz->JTt[k] - lz->lambda * lz->f0 * lz->W0[k] - q[k];
    OTD_CHECK(column_dots(lz, r, dots));
    info->residual = 0.0;
    for (int64_t i = 0; i < m; i++)
        info->residual += dots[m + i];
    info->residual = rhs_norm > 0 ? sqrt(info->residual) / rhs_norm : 0.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t k = 0; k < nr; k++)
            W[k + i * nr] = lz->f0 * lz->W0[k + i * ld] + x[k + i * ld];
    info->seconds = otd_comm_wtime() - t0;
    OTD_CHECK(otd_comm_max(lz->comm, &info->seconds, 1));
    info->gflops = info->seconds > 0
                       ? (double)(info->iters + 1) * cg_flops_per_iter(lz) / info->seconds * 1e-9
                       : 0.0;
    info->bytes_per_rank = 8.0 * (double)(11 * ld * m + 6 * m * m + 4 * m);
done:
    free(x);
    free(r);
    free(z);
    free(p);
    free(q);
    free(inv_a0);
    free(g);
    free(dots);
    return err;
}

otd_err otd_lazy_jtj_apply(otd_lazy *lz, const double *V, double *out)
{
    otd_err err = OTD_OK;
    const int64_t m = lz->m, ld = lz->ld, nr = lz->lay->nrows;
    double *Vl = NULL, *Ol = NULL;
    OTD_ALLOC(Vl, ld * m);
    OTD_ALLOC(Ol, ld * m);
    for (int64_t i = 0; i < m; i++)
        memcpy(Vl + i * ld, V + i * nr, (size_t)nr * sizeof *V);
    OTD_CHECK(apply_shifted(lz, Vl, 0.0, Ol));
    for (int64_t i = 0; i < m; i++)
        memcpy(out + i * nr, Ol + i * ld, (size_t)nr * sizeof *out);
done:
    free(Vl);
    free(Ol);
    return err;
}

double otd_lazy_cg_flops(const otd_lazy *lz)
{
    return cg_flops_per_iter(lz);
}
