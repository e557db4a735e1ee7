/* test_lazy.c: the lazy regime (otd_lazy.h, otd_spd_solve) against an
 * independent dense computation, at every rank count: the Jacobian J of
 * T(W) at W0 is formed explicitly, entry by entry (d^l rows, m d columns),
 * b = T* - T(W0) likewise, and the least-squares problem
 *   min ||b - J delta||^2 + lambda ||W0 + delta||^2
 * is solved by LAPACK's SVD-based DGELSD. The distributed ScaLAPACK solve
 * must give the same optimal error (and the same Delta where it is
 * unique), the linearized model's loss and gradient must match J, lazy_gd
 * must approach lazy_opt, and the scaled model must start at rel_err 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_lazy.h"
#include "otd/otd_metrics.h"
#include "otd/otd_rng.h"
#include "otd/otd_target.h"
#include "otd_test.h"

void dgelsd_(const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
             const int *ldb, double *s, const double *rcond, int *rank, double *work,
             const int *lwork, int *iwork, int *info);

typedef struct {
    otd_config cfg;
    otd_layout lay;
    otd_target *target;
    otd_engine *engine;
    otd_lazy *lazy;
    int64_t d, m, N; /* N = d^l */
    int l, homog;
    double *W0, *W0_loc, *W_loc, *grad_loc;
    double *J, *b; /* dense reference: N x md and N */
} fixture;

static int64_t ipow64(int64_t x, int k)
{
    int64_t y = 1;
    for (int i = 0; i < k; i++)
        y *= x;
    return y;
}

/* Multi-index of linear index q (first index fastest). */
static void multi(int64_t q, int l, int64_t d, int64_t *k)
{
    for (int p = 0; p < l; p++) {
        k[p] = q % d;
        q /= d;
    }
}

/* out += s v^{(x) l} */
static void add_power(int l, int64_t d, double s, const double *v, double *out)
{
    int64_t k[16], N = ipow64(d, l);
    for (int64_t q = 0; q < N; q++) {
        multi(q, l, d, k);
        double p = s;
        for (int t = 0; t < l; t++)
            p *= v[k[t]];
        out[q] += p;
    }
}

/* Column (i, a) of J: d/dW[a, i] of w^{(x)l} (plain) or ||w||^{2-l} w^{(x)l}. */
static void jac_column(int l, int homog, int64_t d, const double *w, int64_t a, double *col)
{
    int64_t k[16], N = ipow64(d, l);
    double n2 = 0.0;
    for (int64_t j = 0; j < d; j++)
        n2 += w[j] * w[j];
    double s = homog ? pow(n2, (2.0 - l) / 2.0) : 1.0;
    for (int64_t q = 0; q < N; q++) {
        multi(q, l, d, k);
        double full = 1.0, dsum = 0.0;
        for (int t = 0; t < l; t++)
            full *= w[k[t]];
        for (int pos = 0; pos < l; pos++) {
            if (k[pos] != a)
                continue;
            double p = 1.0;
            for (int t = 0; t < l; t++)
                if (t != pos)
                    p *= w[k[t]];
            dsum += p;
        }
        col[q] = s * dsum;
        /* d/dw_a ||w||^{2-l} = (2-l) ||w||^{-l} w_a */
        if (homog)
            col[q] += (2.0 - l) * pow(n2, -l / 2.0) * w[a] * full;
        if (homog && n2 == 0.0)
            col[q] = 0.0;
    }
}

static int setup(fixture *f, int l, const char *param, int64_t d, int64_t m, double lambda,
                 const char *engine, int zero_column)
{
    char s_l[32], s_d[32], s_m[32], s_p[64], s_lam[64], s_e[64];
    otd_comm *c = otd_test_comm();
    memset(f, 0, sizeof *f);
    snprintf(s_l, sizeof s_l, "problem.order=%d", l);
    snprintf(s_d, sizeof s_d, "problem.dim=%lld", (long long)d);
    snprintf(s_m, sizeof s_m, "model.m=%lld", (long long)m);
    snprintf(s_p, sizeof s_p, "model.param=%s", param);
    snprintf(s_lam, sizeof s_lam, "algo.lambda=%g", lambda);
    snprintf(s_e, sizeof s_e, "engine=%s", engine);
    const char *sets[] = {s_l,
                          s_d,
                          s_m,
                          s_p,
                          s_lam,
                          s_e,
                          "algo.name=lazy_opt",
                          "problem.rank=2",
                          "problem.target=gaussian",
                          "problem.weights=[1.0, 0.6]",
                          "run.seed=3"};
    if (otd_config_parse(NULL, 0, "<test>", sets, (int)(sizeof sets / sizeof *sets), &f->cfg) !=
        OTD_OK) {
        fprintf(stderr, "config: %s\n", otd_error_message());
        return 0;
    }
    f->d = d;
    f->m = m;
    f->l = l;
    f->homog = strcmp(param, "homogeneous") == 0;
    f->N = ipow64(d, l);
    if (otd_layout_init(&f->lay, d, otd_comm_rank(c), otd_comm_size(c)) != OTD_OK ||
        otd_target_create(&f->cfg, c, &f->target) != OTD_OK ||
        otd_engine_create(&f->cfg, &f->lay, c, f->target, &f->engine) != OTD_OK) {
        fprintf(stderr, "setup: %s\n", otd_error_message());
        return 0;
    }
    int64_t nr = f->lay.nrows;
    f->W0 = calloc((size_t)(d * m), sizeof(double));
    f->W0_loc = calloc((size_t)(nr * m + 1), sizeof(double));
    f->W_loc = calloc((size_t)(nr * m + 1), sizeof(double));
    f->grad_loc = calloc((size_t)(nr * m + 1), sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++)
            f->W0[j + i * d] = (zero_column && i == 1)
                                   ? 0.0
                                   : otd_rng_normal(11, otd_rng_stream(OTD_RNG_INIT, 2),
                                                    (uint32_t)i, (uint64_t)j) /
                                         sqrt((double)d);
    for (int64_t i = 0; i < m; i++)
        memcpy(f->W0_loc + i * nr, f->W0 + i * d + f->lay.row0, (size_t)nr * sizeof(double));
    otd_eval ev0 = {0};
    if (otd_engine_eval(f->engine, f->W0_loc, f->grad_loc, &ev0) != OTD_OK ||
        otd_lazy_create(&f->cfg, &f->lay, c, f->W0_loc, &ev0, f->grad_loc, f->target, &f->lazy) !=
            OTD_OK) {
        fprintf(stderr, "lazy: %s\n", otd_error_message());
        return 0;
    }
    /* The dense reference, the same on every rank. */
    f->J = calloc((size_t)(f->N * d * m), sizeof(double));
    f->b = calloc((size_t)f->N, sizeof(double));
    for (int64_t k = 0; k < f->target->r; k++)
        add_power(l, d, f->target->a[k], f->target->U + k * d, f->b);
    for (int64_t i = 0; i < m; i++) {
        const double *w = f->W0 + i * d;
        double n2 = 0.0;
        for (int64_t j = 0; j < d; j++)
            n2 += w[j] * w[j];
        if (n2 > 0)
            add_power(l, d, -(f->homog ? pow(n2, (2.0 - l) / 2.0) : 1.0), w, f->b);
        for (int64_t a = 0; a < d; a++)
            jac_column(l, f->homog, d, w, a, f->J + (a + i * d) * f->N);
    }
    return 1;
}

static void teardown(fixture *f)
{
    otd_lazy_destroy(f->lazy);
    otd_engine_destroy(f->engine);
    otd_target_destroy(f->target);
    otd_config_free(&f->cfg);
    free(f->W0);
    free(f->W0_loc);
    free(f->W_loc);
    free(f->grad_loc);
    free(f->J);
    free(f->b);
}

/* Dense least squares: delta minimizing ||b - J delta||^2 + lambda ||W0 +
 * delta||^2 (DGELSD, minimum norm), and the relative error ||b - J
 * delta|| / ||T*|| it leaves. */
static double dense_lazy_opt(const fixture *f, double lambda, double *delta)
{
    int64_t n = f->d * f->m, rows = f->N + (lambda > 0 ? n : 0);
    double *A = calloc((size_t)(rows * n), sizeof(double)), *rhs = calloc((size_t)rows, 8);
    double *s = calloc((size_t)n, sizeof(double)), wq = 0, rcond = 1e-13;
    int mm = (int)rows, nn = (int)n, one = 1, rank = 0, info = 0, lwork = -1, iw = 0;
    for (int64_t q = 0; q < n; q++)
        memcpy(A + q * rows, f->J + q * f->N, (size_t)f->N * sizeof(double));
    memcpy(rhs, f->b, (size_t)f->N * sizeof(double));
    if (lambda > 0)
        for (int64_t q = 0; q < n; q++) {
            A[f->N + q + q * rows] = sqrt(lambda);
            rhs[f->N + q] = -sqrt(lambda) * f->W0[q];
        }
    int *iwork = calloc((size_t)(64 * n + 64), sizeof(int));
    dgelsd_(&mm, &nn, &one, A, &mm, rhs, &mm, s, &rcond, &rank, &wq, &lwork, &iw, &info);
    lwork = (int)wq + 1;
    double *work = calloc((size_t)lwork, sizeof(double));
    dgelsd_(&mm, &nn, &one, A, &mm, rhs, &mm, s, &rcond, &rank, work, &lwork, iwork, &info);
    CU_ASSERT_EQUAL(info, 0);
    memcpy(delta, rhs, (size_t)n * sizeof(double));
    double r2 = 0.0;
    for (int64_t q = 0; q < f->N; q++) {
        double v = f->b[q];
        for (int64_t p = 0; p < n; p++)
            v -= f->J[q + p * f->N] * delta[p];
        r2 += v * v;
    }
    free(A);
    free(rhs);
    free(s);
    free(work);
    free(iwork);
    return sqrt(r2 / f->target->norm2);
}

/* This rank's rows gathered into the full d x m matrix. */
static void gather(fixture *f, const double *loc, double *full)
{
    OTD_TEST_OK(otd_comm_allgather_rows(otd_test_comm(), &f->lay, loc, f->m, full));
}

/* lazy_opt vs DGELSD: the same optimal error; the same Delta when unique. */
static void check_opt(int l, const char *param, int64_t d, int64_t m, double lambda,
                      const char *engine, double ridge, int zero_column, const char *solver)
{
    fixture f;
    otd_spd_info info;
    CU_ASSERT_FATAL(setup(&f, l, param, d, m, lambda, engine, zero_column));
    int64_t n = d * m;
    double *ref = calloc((size_t)n, sizeof(double)), *got = calloc((size_t)n, sizeof(double));
    double err_ref = dense_lazy_opt(&f, lambda, ref);
    OTD_TEST_OK(otd_lazy_solve(f.lazy, 4, ridge, 0.75, f.W_loc, &info));
    otd_eval ev = {0};
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, f.grad_loc, &ev));
    gather(&f, f.W_loc, got);
    for (int64_t q = 0; q < n; q++)
        got[q] -= f.W0[q];
    double dd = otd_test_maxreldiff(got, ref, (size_t)n);
    if (otd_comm_rank(otd_test_comm()) == 0)
        printf("\n    l=%d %s d=%lld m=%lld lambda=%g %s: rel_err %.12g (dense %.12g), Delta "
               "diff %.2e, %s, grid %dx%d",
               l, param, (long long)d, (long long)m, lambda, engine, ev.rel_err, err_ref, dd,
               info.solver, info.nprow, info.npcol);
    CU_ASSERT(otd_test_reldiff(ev.rel_err, err_ref) < 1e-8);
    CU_ASSERT(dd < 1e-8);
    CU_ASSERT_STRING_EQUAL(info.solver, solver);
    CU_ASSERT_EQUAL(info.n, n);
    free(ref);
    free(got);
    teardown(&f);
}

static void test_opt_plain(void)
{
    check_opt(3, "plain", 5, 4, 0.0, "implicit", 0.0, 0, "cholesky");
    check_opt(4, "plain", 4, 3, 0.0, "implicit", 0.0, 0, "cholesky");
    check_opt(3, "plain", 5, 4, 0.05, "implicit", 0.0, 0, "cholesky");
}

static void test_opt_homogeneous(void)
{
    check_opt(3, "homogeneous", 5, 4, 0.0, "implicit", 0.0, 0, "cholesky");
    check_opt(4, "homogeneous", 4, 3, 0.0, "implicit", 0.0, 0, "cholesky");
}

/* The dense engine: b and J^T b from the tensor itself. */
static void test_opt_dense_engine(void)
{
    check_opt(3, "plain", 5, 4, 0.0, "dense", 0.0, 0, "cholesky");
    check_opt(3, "homogeneous", 5, 4, 0.0, "dense", 0.0, 0, "cholesky");
}

/* A zero column of the homogeneous model has J_i = 0: J^T J is exactly
 * singular, Cholesky without a ridge must fail and the eigen-based
 * pseudo-inverse must give DGELSD's minimum-norm answer. */
static void test_opt_singular_fallback(void)
{
    check_opt(3, "homogeneous", 5, 4, 0.0, "implicit", 0.0, 1, "eigen");
}

/* m d > D: the tangent space is everything and the lazy error vanishes;
 * the default ridge keeps Cholesky defined. */
static void test_opt_overparameterized(void)
{
    fixture f;
    otd_spd_info info;
    CU_ASSERT_FATAL(setup(&f, 3, "plain", 4, 7, 0.0, "implicit", 0)); /* md 28 > D 20 */
    OTD_TEST_OK(otd_lazy_solve(f.lazy, 8, 1e-12, 0.75, f.W_loc, &info));
    otd_eval ev = {0};
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, NULL, &ev));
    CU_ASSERT_STRING_EQUAL(info.solver, "cholesky");
    CU_ASSERT(ev.rel_err < 1e-5);
    CU_ASSERT(info.shift > 0);
    teardown(&f);
}

/* The linearized loss and gradient at W0 + Delta against J formed densely. */
static void check_eval(int l, const char *param, double lambda)
{
    fixture f;
    CU_ASSERT_FATAL(setup(&f, l, param, 5, 4, lambda, "implicit", 0));
    int64_t n = f.d * f.m, nr = f.lay.nrows;
    double *delta = calloc((size_t)n, 8), *r = calloc((size_t)f.N, 8), *g = calloc((size_t)n, 8);
    double *got = calloc((size_t)n, 8);
    for (int64_t q = 0; q < n; q++)
        delta[q] = 0.3 * otd_rng_normal(5, otd_rng_stream(OTD_RNG_NOISE, 1), 0, (uint64_t)q);
    for (int64_t i = 0; i < f.m; i++)
        for (int64_t j = 0; j < nr; j++)
            f.W_loc[j + i * nr] = f.W0_loc[j + i * nr] + delta[f.lay.row0 + j + i * f.d];
    double fit = 0.0, w2 = 0.0;
    for (int64_t q = 0; q < f.N; q++) {
        double v = -f.b[q];
        for (int64_t p = 0; p < n; p++)
            v += f.J[q + p * f.N] * delta[p];
        r[q] = v;
        fit += 0.5 * v * v;
    }
    for (int64_t p = 0; p < n; p++) {
        double s = 0.0;
        for (int64_t q = 0; q < f.N; q++)
            s += f.J[q + p * f.N] * r[q];
        g[p] = s + lambda * (f.W0[p] + delta[p]);
        w2 += (f.W0[p] + delta[p]) * (f.W0[p] + delta[p]);
    }
    otd_eval ev = {0};
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, f.grad_loc, &ev));
    gather(&f, f.grad_loc, got);
    CU_ASSERT(otd_test_reldiff(ev.fit, fit) < 1e-11);
    CU_ASSERT(otd_test_reldiff(ev.loss, fit + 0.5 * lambda * w2) < 1e-11);
    CU_ASSERT(otd_test_maxreldiff(got, g, (size_t)n) < 1e-11);
    free(delta);
    free(r);
    free(g);
    free(got);
    teardown(&f);
}

static void test_eval_plain(void)
{
    check_eval(3, "plain", 0.0);
    check_eval(4, "plain", 0.02);
}

static void test_eval_homogeneous(void)
{
    check_eval(3, "homogeneous", 0.02);
    check_eval(4, "homogeneous", 0.0);
}

/* lazy_gd: gradient descent on L_lin approaches lazy_opt's optimum. */
static void test_gd_approaches_opt(void)
{
    fixture f;
    otd_spd_info info;
    CU_ASSERT_FATAL(setup(&f, 3, "plain", 5, 4, 0.0, "implicit", 0));
    int64_t n = f.lay.nrows * f.m;
    double *W = calloc((size_t)(n + 1), 8), jf2 = 0.0;
    for (int64_t q = 0; q < f.N * f.d * f.m; q++)
        jf2 += f.J[q] * f.J[q];
    OTD_TEST_OK(otd_lazy_solve(f.lazy, 4, 1e-12, 0.75, f.W_loc, &info));
    otd_eval opt = {0}, ev = {0};
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, NULL, &opt));
    memcpy(W, f.W0_loc, (size_t)n * sizeof(double));
    /* 1/||J||_F^2 <= 1/lambda_max(J^T J): a step that cannot diverge. */
    double lr = 1.0 / jf2, first = 0.0;
    for (int it = 0; it < 40000; it++) {
        OTD_TEST_OK(otd_lazy_eval(f.lazy, W, f.grad_loc, &ev));
        if (it == 0)
            first = ev.rel_err;
        for (int64_t q = 0; q < n; q++)
            W[q] -= lr * f.grad_loc[q];
    }
    OTD_TEST_OK(otd_lazy_eval(f.lazy, W, NULL, &ev));
    if (otd_comm_rank(otd_test_comm()) == 0)
        printf("\n    lazy_gd: rel_err %.6f -> %.10f, lazy_opt %.10f", first, ev.rel_err,
               opt.rel_err);
    CU_ASSERT(ev.rel_err >= opt.rel_err * (1 - 1e-9));
    CU_ASSERT(ev.rel_err - opt.rel_err < 1e-4 * (first - opt.rel_err));
    free(W);
    teardown(&f);
}

/* The scaled model 1/(2 alpha^2)||alpha (T(W) - T(W0)) - T*||^2: at W0 its
 * error is exactly ||T*||, and near W0 its fit matches the dense tensors. */
static void test_scaled_model(void)
{
    fixture f;
    otd_target *st = NULL;
    otd_engine *e = NULL;
    const double alpha = 50.0;
    CU_ASSERT_FATAL(setup(&f, 3, "homogeneous", 5, 4, 0.0, "implicit", 0));
    f.cfg.algo.lazy_alpha = alpha;
    otd_comm *c = otd_test_comm();
    OTD_TEST_OK(otd_lazy_scaled_target(&f.cfg, &f.lay, c, f.target, f.W0_loc, &st));
    OTD_TEST_OK(otd_engine_create(&f.cfg, &f.lay, c, st, &e));
    otd_eval ev = {0};
    OTD_TEST_OK(otd_engine_eval(e, f.W0_loc, f.grad_loc, &ev));
    otd_lazy_scaled_report(alpha, f.target->norm2, &ev);
    CU_ASSERT(fabs(ev.rel_err - 1.0) < 1e-10);
    /* W = W0 + Delta: fit = 1/2 ||alpha (T(W) - T(W0)) - T*||^2 densely. */
    int64_t nr = f.lay.nrows;
    double *W = calloc((size_t)(f.d * f.m), 8), *T = calloc((size_t)f.N, 8);
    for (int64_t q = 0; q < f.d * f.m; q++)
        W[q] = f.W0[q] + 0.01 * otd_rng_normal(8, otd_rng_stream(OTD_RNG_NOISE, 3), 0, (uint64_t)q);
    for (int64_t i = 0; i < f.m; i++) {
        double n0 = 0, n1 = 0;
        for (int64_t j = 0; j < f.d; j++) {
            n0 += f.W0[j + i * f.d] * f.W0[j + i * f.d];
            n1 += W[j + i * f.d] * W[j + i * f.d];
        }
        add_power(3, f.d, alpha * pow(n1, -0.5), W + i * f.d, T);
        add_power(3, f.d, -alpha * pow(n0, -0.5), f.W0 + i * f.d, T);
    }
    for (int64_t k = 0; k < f.target->r; k++)
        add_power(3, f.d, -f.target->a[k], f.target->U + k * f.d, T);
    double fit = 0.0;
    for (int64_t q = 0; q < f.N; q++)
        fit += 0.5 * T[q] * T[q];
    for (int64_t i = 0; i < f.m; i++)
        memcpy(f.W_loc + i * nr, W + i * f.d + f.lay.row0, (size_t)nr * sizeof(double));
    OTD_TEST_OK(otd_engine_eval(e, f.W_loc, NULL, &ev));
    otd_lazy_scaled_report(alpha, f.target->norm2, &ev);
    CU_ASSERT(otd_test_reldiff(ev.fit, fit) < 1e-9);
    free(W);
    free(T);
    otd_engine_destroy(e);
    otd_target_destroy(st);
    teardown(&f);
}

/* lazy_opt by CG against DGELSD (the same optimal error, the same Delta)
 * and against the dense ScaLAPACK solve of the same equations. */
static void check_cg(int l, const char *param, int64_t d, int64_t m, double lambda,
                     const char *engine, int zero_column)
{
    fixture f;
    otd_spd_info info;
    otd_lazy_cg_info cg;
    CU_ASSERT_FATAL(setup(&f, l, param, d, m, lambda, engine, zero_column));
    int64_t n = d * m, nr = f.lay.nrows;
    double *ref = calloc((size_t)n, 8), *got = calloc((size_t)n, 8);
    double *Wd = calloc((size_t)(nr * m + 1), 8);
    double err_ref = dense_lazy_opt(&f, lambda, ref);
    otd_eval ev = {0}, evd = {0};
    OTD_TEST_OK(otd_lazy_solve_cg(f.lazy, 0.0, 1e-13, 10000, f.W_loc, &cg));
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, NULL, &ev));
    OTD_TEST_OK(otd_lazy_solve(f.lazy, 4, 0.0, 0.75, Wd, &info));
    OTD_TEST_OK(otd_lazy_eval(f.lazy, Wd, NULL, &evd));
    gather(&f, f.W_loc, got);
    for (int64_t q = 0; q < n; q++)
        got[q] -= f.W0[q];
    double dd = otd_test_maxreldiff(got, ref, (size_t)n);
    if (otd_comm_rank(otd_test_comm()) == 0)
        printf("\n    cg l=%d %s d=%lld m=%lld lambda=%g %s%s: rel_err %.12g (DGELSD %.12g, "
               "dense %.12g), Delta diff %.2e, %lld products, residual %.2e",
               l, param, (long long)d, (long long)m, lambda, engine, zero_column ? " zero col" : "",
               ev.rel_err, err_ref, evd.rel_err, dd, (long long)cg.iters, cg.residual);
    CU_ASSERT(cg.converged);
    CU_ASSERT(cg.residual <= 1e-13);
    CU_ASSERT_EQUAL(cg.n, n);
    CU_ASSERT(otd_test_reldiff(ev.rel_err, err_ref) < 1e-8);
    CU_ASSERT(otd_test_reldiff(ev.rel_err, evd.rel_err) < 1e-8);
    CU_ASSERT(dd < 1e-7);
    free(ref);
    free(got);
    free(Wd);
    teardown(&f);
}

static void test_cg_plain(void)
{
    check_cg(3, "plain", 5, 4, 0.0, "implicit", 0);
    check_cg(4, "plain", 4, 3, 0.0, "implicit", 0);
    check_cg(3, "plain", 5, 4, 0.05, "implicit", 0);
}

static void test_cg_homogeneous(void)
{
    check_cg(3, "homogeneous", 5, 4, 0.0, "implicit", 0);
    check_cg(4, "homogeneous", 4, 3, 0.02, "implicit", 0);
    /* J^T J exactly singular (a zero column): CG from 0 stays in its
     * range, so it gives DGELSD's minimum-norm Delta. */
    check_cg(3, "homogeneous", 5, 4, 0.0, "implicit", 1);
}

static void test_cg_dense_engine(void)
{
    check_cg(3, "plain", 5, 4, 0.0, "dense", 0);
    check_cg(3, "homogeneous", 5, 4, 0.0, "dense", 0);
}

/* The product CG uses: J^T J V against J^T (J V) with J formed densely. */
static void test_cg_product(void)
{
    const char *params[] = {"plain", "homogeneous"};
    for (int k = 0; k < 2; k++) {
        fixture f;
        CU_ASSERT_FATAL(setup(&f, 3, params[k], 5, 4, 0.0, "implicit", 0));
        int64_t n = f.d * f.m, nr = f.lay.nrows;
        double *V = calloc((size_t)n, 8), *JV = calloc((size_t)f.N, 8),
               *want = calloc((size_t)n, 8);
        double *Vl = calloc((size_t)(nr * f.m + 1), 8), *out = calloc((size_t)(nr * f.m + 1), 8);
        double *got = calloc((size_t)n, 8);
        for (int64_t q = 0; q < n; q++)
            V[q] = otd_rng_normal(9, otd_rng_stream(OTD_RNG_NOISE, 4), 0, (uint64_t)q);
        for (int64_t q = 0; q < f.N; q++)
            for (int64_t p = 0; p < n; p++)
                JV[q] += f.J[q + p * f.N] * V[p];
        for (int64_t p = 0; p < n; p++)
            for (int64_t q = 0; q < f.N; q++)
                want[p] += f.J[q + p * f.N] * JV[q];
        for (int64_t i = 0; i < f.m; i++)
            memcpy(Vl + i * nr, V + i * f.d + f.lay.row0, (size_t)nr * sizeof(double));
        OTD_TEST_OK(otd_lazy_jtj_apply(f.lazy, Vl, out));
        gather(&f, out, got);
        CU_ASSERT(otd_test_maxreldiff(got, want, (size_t)n) < 1e-11);
        free(V);
        free(JV);
        free(want);
        free(Vl);
        free(out);
        free(got);
        teardown(&f);
    }
}

/* The preconditioner against its definition: (J_i^T J_i + shift I) z_i =
 * r_i for every column block i, with J_i the d columns of component i of
 * the dense J. */
static void test_cg_preconditioner(void)
{
    const char *params[] = {"plain", "homogeneous"};
    for (int k = 0; k < 2; k++) {
        fixture f;
        const double shift = 0.37;
        CU_ASSERT_FATAL(setup(&f, 3, params[k], 5, 4, 0.0, "implicit", 0));
        int64_t n = f.d * f.m, nr = f.lay.nrows, d = f.d;
        double *R = calloc((size_t)n, 8), *Rl = calloc((size_t)(nr * f.m + 1), 8);
        double *Zl = calloc((size_t)(nr * f.m + 1), 8), *Z = calloc((size_t)n, 8);
        double worst = 0.0;
        for (int64_t q = 0; q < n; q++)
            R[q] = otd_rng_normal(10, otd_rng_stream(OTD_RNG_NOISE, 5), 0, (uint64_t)q);
        for (int64_t i = 0; i < f.m; i++)
            memcpy(Rl + i * nr, R + i * d + f.lay.row0, (size_t)nr * sizeof(double));
        OTD_TEST_OK(otd_lazy_precondition(f.lazy, shift, Rl, Zl));
        gather(&f, Zl, Z);
        for (int64_t i = 0; i < f.m; i++)
            for (int64_t a = 0; a < d; a++) {
                double v = shift * Z[a + i * d];
                for (int64_t b = 0; b < d; b++) {
                    double blk = 0.0;
                    for (int64_t q = 0; q < f.N; q++)
                        blk += f.J[q + (a + i * d) * f.N] * f.J[q + (b + i * d) * f.N];
                    v += blk * Z[b + i * d];
                }
                worst = fmax(worst, fabs(v - R[a + i * d]) / fabs(R[a + i * d]));
            }
        CU_ASSERT(worst < 1e-11);
        free(R);
        free(Rl);
        free(Zl);
        free(Z);
        teardown(&f);
    }
}

/* Stopped early, CG's Delta is still a point of the lazy model: its error
 * is an upper bound on the optimum, and it says it did not converge. */
static void test_cg_unconverged_is_bound(void)
{
    fixture f;
    otd_lazy_cg_info cg, full;
    CU_ASSERT_FATAL(setup(&f, 3, "plain", 5, 4, 0.0, "implicit", 0));
    otd_eval ev = {0}, opt = {0};
    OTD_TEST_OK(otd_lazy_solve_cg(f.lazy, 0.0, 1e-12, 10000, f.W_loc, &full));
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, NULL, &opt));
    OTD_TEST_OK(otd_lazy_solve_cg(f.lazy, 0.0, 1e-12, 2, f.W_loc, &cg));
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, NULL, &ev));
    CU_ASSERT(full.converged);
    CU_ASSERT(!cg.converged);
    CU_ASSERT_EQUAL(cg.iters, 2);
    CU_ASSERT(cg.residual > 1e-12);
    CU_ASSERT(ev.rel_err > opt.rel_err * (1 + 1e-6));
    teardown(&f);
}

/* Euler: T is homogeneous of degree k in each w_i (k = l plain, 2
 * homogeneous), so J[W0] = k T(W0). lazy_opt solves for the target on this
 * claim; checked here with J and T(W0) formed entry by entry. */
static void test_euler_identity(void)
{
    const char *params[] = {"plain", "homogeneous"};
    const int orders[] = {3, 4};
    for (int k = 0; k < 2; k++)
        for (int o = 0; o < 2; o++) {
            fixture f;
            CU_ASSERT_FATAL(setup(&f, orders[o], params[k], 4, 3, 0.0, "implicit", 0));
            double deg = f.homog ? 2.0 : (double)f.l, worst = 0.0, scale = 0.0;
            double *T0 = calloc((size_t)f.N, 8), *JW = calloc((size_t)f.N, 8);
            for (int64_t i = 0; i < f.m; i++) {
                const double *w = f.W0 + i * f.d;
                double n2 = 0.0;
                for (int64_t j = 0; j < f.d; j++)
                    n2 += w[j] * w[j];
                add_power(f.l, f.d, f.homog ? pow(n2, (2.0 - f.l) / 2.0) : 1.0, w, T0);
            }
            for (int64_t q = 0; q < f.N; q++) {
                for (int64_t p = 0; p < f.d * f.m; p++)
                    JW[q] += f.J[q + p * f.N] * f.W0[p];
                worst = fmax(worst, fabs(JW[q] - deg * T0[q]));
                scale = fmax(scale, fabs(deg * T0[q]));
            }
            CU_ASSERT(worst <= 1e-13 * scale);
            free(T0);
            free(JW);
            teardown(&f);
        }
}

/* The reported error against the explicit residual ||b - J Delta|| /
 * ||T*|| of the same Delta (J formed entry by entry): they agree to within
 * the reported resolution, also where the error is zero (m d > D), and the
 * resolution is far below the errors that matter. */
static void check_resolution(int l, const char *param, int64_t d, int64_t m, const char *solver)
{
    fixture f;
    otd_spd_info info;
    otd_lazy_cg_info cg;
    CU_ASSERT_FATAL(setup(&f, l, param, d, m, 0.0, "implicit", 0));
    int64_t n = d * m;
    double *W = calloc((size_t)n, 8);
    if (strcmp(solver, "cg") == 0)
        OTD_TEST_OK(otd_lazy_solve_cg(f.lazy, 1e-12, 1e-12, 10000, f.W_loc, &cg));
    else
        OTD_TEST_OK(otd_lazy_solve(f.lazy, 4, 1e-12, 0.75, f.W_loc, &info));
    otd_eval ev = {0};
    OTD_TEST_OK(otd_lazy_eval(f.lazy, f.W_loc, NULL, &ev));
    gather(&f, f.W_loc, W);
    double r2 = 0.0;
    for (int64_t q = 0; q < f.N; q++) {
        double v = f.b[q];
        for (int64_t p = 0; p < n; p++)
            v -= f.J[q + p * f.N] * (W[p] - f.W0[p]);
        r2 += v * v;
    }
    double explicit_err = sqrt(r2 / f.target->norm2);
    if (otd_comm_rank(otd_test_comm()) == 0)
        printf("\n    l=%d %s d=%lld m=%lld %s: rel_err %.3e explicit %.3e resolution %.2e", l,
               param, (long long)d, (long long)m, solver, ev.rel_err, explicit_err, ev.rel_err_res);
    CU_ASSERT(ev.rel_err_res > 0);
    CU_ASSERT(ev.rel_err_res < 1e-6);
    CU_ASSERT(fabs(ev.rel_err - explicit_err) <= ev.rel_err_res);
    free(W);
    teardown(&f);
}

static void test_resolution(void)
{
    check_resolution(3, "plain", 5, 4, "dense"); /* md 20 < D 35: an error to resolve */
    check_resolution(3, "plain", 4, 7, "dense"); /* md 28 > D 20: error zero */
    check_resolution(3, "plain", 4, 7, "cg");
    check_resolution(3, "homogeneous", 4, 7, "cg");
    check_resolution(4, "plain", 4, 9, "dense"); /* md 36 > D 35 */
}

static void test_dim_count(void)
{
    /* D = C(12, 3) = 220 for d = 10, l = 3. */
    CU_ASSERT_DOUBLE_EQUAL(otd_metrics_dim_count(3, 10, 12), sqrt(1.0 - 120.0 / 220.0), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(otd_metrics_dim_count(3, 10, 22), 0.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(otd_metrics_dim_count(4, 20, 100), sqrt(1.0 - 2000.0 / 8855.0), 1e-15);
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("lazy", NULL, NULL);
    CU_add_test(s, "lazy_opt = dense least squares, plain", test_opt_plain);
    CU_add_test(s, "lazy_opt = dense least squares, homogeneous", test_opt_homogeneous);
    CU_add_test(s, "lazy_opt with the dense engine", test_opt_dense_engine);
    CU_add_test(s, "singular J^T J: eigen fallback = min-norm LS", test_opt_singular_fallback);
    CU_add_test(s, "m d > D: lazy error vanishes", test_opt_overparameterized);
    CU_add_test(s, "linearized loss and gradient = dense J, plain", test_eval_plain);
    CU_add_test(s, "linearized loss and gradient = dense J, homogeneous", test_eval_homogeneous);
    CU_add_test(s, "lazy_gd approaches lazy_opt", test_gd_approaches_opt);
    CU_add_test(s, "scaled (Chizat) model", test_scaled_model);
    CU_add_test(s, "dimension count", test_dim_count);
    CU_add_test(s, "cg = dense least squares, plain", test_cg_plain);
    CU_add_test(s, "cg = dense least squares, homogeneous (and singular)", test_cg_homogeneous);
    CU_add_test(s, "cg with the dense engine", test_cg_dense_engine);
    CU_add_test(s, "cg product = J^T (J V)", test_cg_product);
    CU_add_test(s, "cg preconditioner = inverse of its blocks", test_cg_preconditioner);
    CU_add_test(s, "unconverged cg: an upper bound", test_cg_unconverged_is_bound);
    CU_add_test(s, "Euler: J[W0] = k T(W0)", test_euler_identity);
    CU_add_test(s, "reported error = explicit residual within its resolution", test_resolution);
}
