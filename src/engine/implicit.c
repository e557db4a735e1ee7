/* implicit.c: the implicit engine (docs/science.md section 3).
 *
 * The target is known by its components, so its side of the gradient also
 * follows from a Gram matrix, C = V^T U:
 *   T*(v_i^{(x)(l-1)}) = sum_k a_k C_ik^{l-1} u_k,   <T(W), T*> = sum_ik s_i a_k C_ik^l
 * and the gradient rows are W_loc B - U_loc A with A_ki = l h_i a_k C_ik^{l-1}
 * (model.h has the rest). A step is: two local products for the raw Grams,
 * one allreduce of m (m+1) / 2 + m r numbers (the Gram's upper triangle), O(m^2 + m r) scalar work
 * done redundantly on every rank, and two GEMMs for this rank's gradient rows. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "engine/model.h"

typedef struct {
    otd_model md;
    int m, r, nrows, d;
    otd_comm *comm;
    const otd_target *target;
    const double *U_loc; /* this rank's rows of U, leading dimension d */
    /* the one allreduce buffer: raw W^T W (m x m), W^T U (m x r), the flags */
    double *red;
    double *A; /* r x m */
} implicit_state;

static void implicit_destroy(void *p)
{
    implicit_state *st = p;
    if (st == NULL)
        return;
    otd_model_free(&st->md);
    free(st->red);
    free(st->A);
    free(st);
}

/* BLAS takes int dimensions, and m^2 elements index the Gram matrix. */
static otd_err implicit_limits(const otd_config *cfg, const otd_layout *lay, int64_t r)
{
    if (cfg->model.m > 46340 || lay->d > INT_MAX || r > INT_MAX)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "model.m = %lld, problem.dim = %lld, problem.rank = %lld: the implicit "
                         "engine needs m^2 < 2^31 (m <= 46340) and d, r < 2^31",
                         (long long)cfg->model.m, (long long)lay->d, (long long)r);
    return OTD_OK;
}

/* The model's vectors and B (model.h), the allreduce buffer, A. The sizes
 * BLAS cannot take are create's to refuse: first the bytes, which say more. */
static otd_err implicit_memory(const otd_config *cfg, const otd_layout *lay, int64_t r,
                               double *bytes)
{
    double m = (double)cfg->model.m;
    *bytes += otd_model_bytes(cfg, lay) + 8.0 * (m * m + 2.0 * m * (double)r + OTD_EVAL_NFLAGS);
    return OTD_OK;
}

static otd_err implicit_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                               const otd_target *target, void **out)
{
    otd_err err = OTD_OK;
    implicit_state *st = NULL;
    int64_t m = cfg->model.m, r = target->r;
    *out = NULL;
    OTD_CHECK(implicit_limits(cfg, lay, r));
    OTD_ALLOC(st, 1);
    OTD_CHECK(otd_model_init(&st->md, cfg, lay->nrows));
    st->m = (int)m;
    st->r = (int)r;
    st->nrows = (int)lay->nrows;
    st->d = (int)lay->d;
    st->comm = comm;
    st->target = target;
    st->U_loc = target->U + lay->row0;
    OTD_ALLOC(st->red, m * m + m * r + OTD_EVAL_NFLAGS);
    OTD_ALLOC(st->A, r * m);
    *out = st;
    st = NULL;
done:
    implicit_destroy(st);
    return err;
}

/* Target terms: <T(W), T*>, the target part of rho, and A; *mag gets the
 * sum of |2 s_i a_k C_ik^l|. Column k of W^T U eight rows at a time, as
 * model.c's columns (core/vec8.h). */
OTD_VECTOR_CLONES
static double target_terms(implicit_state *st, const double *Craw, double *mag)
{
    const int m = st->m, r = st->r, l = st->md.l;
    const double *a = st->target->a;
    otd_model *md = &st->md;
    otd_lsum ts;
    otd_lsum_zero(&ts);
    for (int k = 0; k < r; k++) {
        const double *Ck = Craw + (size_t)k * m;
        otd_v8 ak, lak;
        ak = OTD_V8(a[k]);
        lak = OTD_V8(l * a[k]);
        for (int i = 0; i < m; i += 8) {
            int64_t n = m - i;
            otd_v8 c, iv, sv, hv, rv, c1, cl, y, Ak;
            double t[8];
            otd_v8_load(&c, Ck + i, n);
            otd_v8_load(&iv, md->inv_t + i, n);
            otd_v8_load(&sv, md->s + i, n);
            otd_v8_load(&hv, md->h + i, n);
            otd_v8_load(&rv, md->rho + i, n);
            c = c * iv;
            otd_v8_pow(&c1, &c, l - 1);
            cl = c1 * c;
            rv += ak * cl;
            otd_v8_store(md->rho + i, &rv, n);
            y = ak * (sv * cl);
            otd_lsum_add(&ts, &y);
            /* A is r x m: its rows (one per k) are strided. */
            Ak = lak * hv * c1;
            memcpy(t, &Ak, sizeof t);
            for (int q = 0; q < 8 && q < n; q++)
                st->A[k + (size_t)(i + q) * r] = t[q];
        }
    }
    double v = otd_lsum_value(&ts, mag);
    *mag *= 2.0;
    return v;
}

static otd_err implicit_eval(void *p, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    implicit_state *st = p;
    const int m = st->m, r = st->r, n = st->nrows;
    double *Graw = st->red;
    otd_model_gram(&st->md, W, st->U_loc, st->d, r, Graw, Graw + (size_t)m * m);
    /* One collective: the upper triangle of W^T W, W^T U and the flags. */
    size_t np = otd_model_pack_gram(&st->md, st->red, (size_t)m * r, otd_comm_size(st->comm) > 1);
    double *Craw = st->red + np, *flags = Craw + (size_t)m * r;
    memcpy(flags, ev->flags, sizeof ev->flags);
    OTD_CHECK(otd_comm_sum(st->comm, st->red, np + (size_t)m * r + OTD_EVAL_NFLAGS));
    memcpy(ev->flags, flags, sizeof ev->flags);
    double reg = otd_model_components(&st->md, Graw);
    double mag_t = 0, mag_s = 0;
    double tt = otd_model_terms(&st->md, Graw, &mag_t), ts = target_terms(st, Craw, &mag_s);
    otd_engine_fill_eval(ev, tt, ts, st->target->norm2, reg, mag_t + mag_s, st->md.l, st->d,
                         st->md.norms, Craw);
    if (grad == NULL)
        goto done;
    otd_model_finish_B(&st->md);
    /* grad = W B - U_loc A */
    otd_model_apply(&st->md, W, grad);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, m, r, -1.0, st->U_loc, st->d, st->A,
                r, 1.0, grad, n);
done:
    return err;
}

static void implicit_describe(const void *p, char *buf, size_t n)
{
    const implicit_state *st = p;
    snprintf(buf, n,
             "implicit: no tensor stored; per step one allreduce of W^T W and W^T U "
             "(%d x %d + %d x %d)",
             st->m, st->m, st->m, st->r);
}

const otd_engine_ops otd_engine_implicit = {
    .describe = implicit_describe,
    .name = "implicit",
    .id = OTD_ENGINE_IMPLICIT,
    .memory = implicit_memory,
    .create = implicit_create,
    .eval = implicit_eval,
    .destroy = implicit_destroy,
};
