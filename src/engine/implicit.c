/* implicit.c: the implicit engine (science.md section 3).
 *
 * With v_i the direction of component i (w_i for plain, w_i/||w_i|| for
 * homogeneous) and s_i its coefficient (1, or ||w_i||^2), T(W) = sum_i s_i
 * v_i^{(x)l}, and every quantity follows from G = V^T V and C = V^T U:
 *   g_i = R(v_i^{(x)(l-1)}) = sum_k a_k C_ik^{l-1} u_k - sum_j s_j G_ij^{l-1} v_j
 *   ||T(W)||^2 = sum_ij s_i s_j G_ij^l,  <T(W), T*> = sum_ik s_i a_k C_ik^l
 *   plain:       grad_i = -l g_i + lambda w_i
 *   homogeneous: grad_i = -n_i (l g_i - (l-2) rho_i v_i) + lambda w_i,
 *                rho_i = <v_i, g_i> = sum_k a_k C_ik^l - sum_j s_j G_ij^l
 * Both gradients are W_loc B - U_loc A for an m x m matrix B and an r x m
 * matrix A built from G and C, so a step is: two local products for the raw
 * Grams, one allreduce of m^2 + m r numbers, O(m^2 + m r) scalar work done
 * redundantly on every rank, and two GEMMs for this rank's gradient rows. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "engine/engine_impl.h"

typedef struct {
    int l;
    int homogeneous;
    double lambda;
    int m, r, nrows, d;
    otd_comm *comm;
    const otd_target *target;
    const double *U_loc; /* this rank's rows of U, leading dimension d */
    double *red;         /* the one allreduce buffer: raw W^T W (m x m), then W^T U (m x r) */
    double *norms;       /* ||w_i|| */
    double *inv_t;       /* 1 / (norm of w_i used to form v_i); 0 for a zero column */
    double *s;           /* coefficients s_i */
    double *h;           /* gradient scale: 1 (plain) or n_i (homogeneous) */
    double *rho;         /* <v_i, g_i> */
    double *A;           /* r x m */
    double *B;           /* m x m */
} implicit_state;

static void implicit_destroy(void *p)
{
    implicit_state *st = p;
    if (st == NULL)
        return;
    free(st->red);
    free(st->norms);
    free(st->inv_t);
    free(st->s);
    free(st->h);
    free(st->rho);
    free(st->A);
    free(st->B);
    free(st);
}

static otd_err implicit_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                               const otd_target *target, void **out)
{
    otd_err err = OTD_OK;
    implicit_state *st = NULL;
    int64_t m = cfg->model.m, r = target->r;
    *out = NULL;
    /* BLAS takes int dimensions. */
    if (m > 46340 || lay->d > INT_MAX || r > INT_MAX)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "model.m = %lld: the implicit engine needs m^2 < 2^31 (m <= 46340)", (long long)m);
    OTD_ALLOC(st, 1);
    st->l = cfg->problem.order;
    st->homogeneous = cfg->model.param == OTD_PARAM_HOMOGENEOUS;
    st->lambda = cfg->algo.lambda;
    st->m = (int)m;
    st->r = (int)r;
    st->nrows = (int)lay->nrows;
    st->d = (int)lay->d;
    st->comm = comm;
    st->target = target;
    st->U_loc = target->U + lay->row0;
    OTD_ALLOC(st->red, m * m + m * r);
    OTD_ALLOC(st->norms, m);
    OTD_ALLOC(st->inv_t, m);
    OTD_ALLOC(st->s, m);
    OTD_ALLOC(st->h, m);
    OTD_ALLOC(st->rho, m);
    OTD_ALLOC(st->A, r * m);
    OTD_ALLOC(st->B, m * m);
    *out = st;
    st = NULL;
done:
    implicit_destroy(st);
    return err;
}

/* Norms, coefficients and scales of every component from the raw Gram. */
static void components(implicit_state *st, double *reg)
{
    const double *Graw = st->red;
    double ss = 0.0;
    for (int i = 0; i < st->m; i++) {
        double g = Graw[i + (size_t)i * st->m], n = sqrt(g > 0 ? g : 0);
        st->norms[i] = n;
        ss += g;
        if (st->homogeneous) {
            st->inv_t[i] = n > 0 ? 1.0 / n : 0.0;
            st->s[i] = n * n;
            st->h[i] = n;
        } else {
            st->inv_t[i] = 1.0;
            st->s[i] = 1.0;
            st->h[i] = 1.0;
        }
    }
    *reg = 0.5 * st->lambda * ss;
}

/* Model-model terms: ||T(W)||^2, the model part of rho, and B. */
static double model_terms(implicit_state *st)
{
    const int m = st->m, l = st->l;
    const double *Graw = st->red;
    otd_ksum tt = {0, 0};
    for (int i = 0; i < m; i++)
        st->rho[i] = 0.0;
    for (int j = 0; j < m; j++) {
        for (int i = 0; i <= j; i++) {
            /* dsyrk filled the upper triangle: Graw[i + j m] with i <= j. */
            double g = Graw[i + (size_t)j * m] * st->inv_t[i] * st->inv_t[j];
            double g1 = otd_ipow(g, l - 1), gl = g1 * g;
            otd_ksum_add(&tt, (i == j ? 1.0 : 2.0) * st->s[i] * st->s[j] * gl);
            st->rho[i] -= st->s[j] * gl;
            st->B[j + (size_t)i * m] = l * st->h[i] * st->s[j] * g1 * st->inv_t[j];
            if (i != j) {
                st->rho[j] -= st->s[i] * gl;
                st->B[i + (size_t)j * m] = l * st->h[j] * st->s[i] * g1 * st->inv_t[i];
            }
        }
    }
    return otd_ksum_value(&tt);
}

/* Model-target terms: <T(W), T*>, the target part of rho, and A. */
static double target_terms(implicit_state *st)
{
    const int m = st->m, r = st->r, l = st->l;
    const double *Craw = st->red + (size_t)m * m, *a = st->target->a;
    otd_ksum ts = {0, 0};
    for (int i = 0; i < m; i++) {
        for (int k = 0; k < r; k++) {
            double c = Craw[i + (size_t)k * m] * st->inv_t[i];
            double c1 = otd_ipow(c, l - 1), cl = c1 * c;
            otd_ksum_add(&ts, st->s[i] * a[k] * cl);
            st->rho[i] += a[k] * cl;
            st->A[k + (size_t)i * r] = l * st->h[i] * a[k] * c1;
        }
    }
    return otd_ksum_value(&ts);
}

static otd_err implicit_eval(void *p, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    implicit_state *st = p;
    const int m = st->m, r = st->r, n = st->nrows;
    double *Graw = st->red, *Craw = st->red + (size_t)m * m, reg = 0.0;
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, m, n, 1.0, W, n, 0.0, Graw, m);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, r, n, 1.0, W, n, st->U_loc, st->d, 0.0,
                Craw, m);
    /* Only the upper triangle is meaningful; reducing the whole square keeps
     * the buffer contiguous with W^T U for a single collective. */
    OTD_CHECK(otd_comm_sum(st->comm, st->red, (size_t)m * m + (size_t)m * r));
    components(st, &reg);
    double tt = model_terms(st), ts = target_terms(st), t2 = st->target->norm2;
    otd_ksum fit = {0, 0};
    otd_ksum_add(&fit, tt);
    otd_ksum_add(&fit, -2.0 * ts);
    otd_ksum_add(&fit, t2);
    ev->fit = 0.5 * otd_ksum_value(&fit);
    ev->reg = reg;
    ev->loss = ev->fit + reg;
    ev->rel_err = sqrt(fmax(0.0, 2.0 * ev->fit) / t2);
    ev->norms = st->norms;
    /* Lower triangle of the raw Gram is not needed again; W^T U stays raw. */
    ev->WtU = Craw;
    if (grad == NULL)
        goto done;
    for (int i = 0; i < m; i++) {
        double e = st->homogeneous ? (st->l - 2) * st->rho[i] : 0.0;
        st->B[i + (size_t)i * m] += e + st->lambda;
    }
    /* grad = W B - U_loc A */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, m, m, 1.0, W, n, st->B, m, 0.0, grad,
                n);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, m, r, -1.0, st->U_loc, st->d, st->A,
                r, 1.0, grad, n);
done:
    return err;
}

const otd_engine_ops otd_engine_implicit = {
    .name = "implicit",
    .id = OTD_ENGINE_IMPLICIT,
    .create = implicit_create,
    .eval = implicit_eval,
    .destroy = implicit_destroy,
};
