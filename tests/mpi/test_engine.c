/* test_engine.c: the implicit engine against independent computations, at
 * every rank count: central finite differences of the loss for the gradient,
 * and a brute-force d^l-entry evaluation for the loss. Both parametrizations,
 * l = 2..5, lambda > 0, d not divisible by most rank counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dense_ref.h"
#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_rng.h"
#include "otd/otd_target.h"
#include "otd_test.h"

typedef struct {
    otd_config cfg;
    otd_layout lay;
    otd_target *target;
    otd_engine *engine;
    double *W_loc, *W_full, *grad_loc, *grad_full;
} fixture;

/* A problem of order l with a general (non-orthogonal) Gaussian target and a
 * W of moderate norms, both the same on every rank whatever P. */
static int setup(fixture *f, int l, const char *param, int64_t d, int64_t m, int64_t r)
{
    char s_l[32], s_d[32], s_m[32], s_r[32], s_p[64], s_w[64];
    /* A negative weight where the model can fit one (not for even l with
     * the homogeneous model, whose coefficients are non-negative). */
    const char *w2 = (l % 2 == 0 && strcmp(param, "homogeneous") == 0) ? "0.7" : "-0.7";
    snprintf(s_w, sizeof s_w, "problem.weights=[1.0, %s%s]", w2, r == 3 ? ", 0.4" : "");
    snprintf(s_l, sizeof s_l, "problem.order=%d", l);
    snprintf(s_d, sizeof s_d, "problem.dim=%lld", (long long)d);
    snprintf(s_m, sizeof s_m, "model.m=%lld", (long long)m);
    snprintf(s_r, sizeof s_r, "problem.rank=%lld", (long long)r);
    snprintf(s_p, sizeof s_p, "model.param=%s", param);
    const char *sets[] = {
        s_l, s_d, s_m, s_r, s_p, "problem.target=gaussian", "algo.lambda=0.01", s_w, "run.seed=5"};
    otd_comm *c = otd_test_comm();
    memset(f, 0, sizeof *f);
    int nsets = (int)(sizeof sets / sizeof *sets);
    if (otd_config_parse(NULL, 0, "<test>", sets, nsets, &f->cfg) != OTD_OK) {
        fprintf(stderr, "config: %s\n", otd_error_message());
        return 0;
    }
    if (otd_layout_init(&f->lay, d, otd_comm_rank(c), otd_comm_size(c)) != OTD_OK ||
        otd_target_create(&f->cfg, c, &f->target) != OTD_OK ||
        otd_engine_create(&f->cfg, &f->lay, c, f->target, &f->engine) != OTD_OK) {
        fprintf(stderr, "setup: %s\n", otd_error_message());
        return 0;
    }
    f->W_loc = calloc((size_t)(f->lay.nrows * m), sizeof(double));
    f->grad_loc = calloc((size_t)(f->lay.nrows * m), sizeof(double));
    f->W_full = calloc((size_t)(d * m), sizeof(double));
    f->grad_full = calloc((size_t)(d * m), sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++)
            f->W_full[j + i * d] =
                0.8 * otd_rng_normal(99, otd_rng_stream(OTD_RNG_INIT, 7), (uint32_t)i, (uint64_t)j);
    for (int64_t i = 0; i < m; i++)
        memcpy(f->W_loc + i * f->lay.nrows, f->W_full + i * d + f->lay.row0,
               (size_t)f->lay.nrows * sizeof(double));
    return 1;
}

static void teardown(fixture *f)
{
    otd_engine_destroy(f->engine);
    otd_target_destroy(f->target);
    otd_config_free(&f->cfg);
    free(f->W_loc);
    free(f->W_full);
    free(f->grad_loc);
    free(f->grad_full);
}

static double loss_at(fixture *f)
{
    otd_eval ev = {0};
    if (otd_engine_eval(f->engine, f->W_loc, NULL, &ev) != OTD_OK)
        return NAN;
    return ev.loss;
}

/* Add h to global entry (j, i) on the rank that owns row j. */
static void bump(fixture *f, int64_t j, int64_t i, double h)
{
    if (j >= f->lay.row0 && j < f->lay.row0 + f->lay.nrows)
        f->W_loc[(j - f->lay.row0) + i * f->lay.nrows] += h;
}

static void check_fd(int l, const char *param, int64_t d, int64_t m)
{
    fixture f;
    CU_ASSERT_FATAL(setup(&f, l, param, d, m, 3));
    otd_eval ev = {0};
    OTD_TEST_OK(otd_engine_eval(f.engine, f.W_loc, f.grad_loc, &ev));
    OTD_TEST_OK(otd_comm_allgather_rows(otd_test_comm(), &f.lay, f.grad_loc, m, f.grad_full));
    double gmax = 0.0, worst = 0.0;
    for (int64_t q = 0; q < d * m; q++)
        gmax = fmax(gmax, fabs(f.grad_full[q]));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++) {
            const double h = 1e-5;
            bump(&f, j, i, h);
            double lp = loss_at(&f);
            bump(&f, j, i, -2 * h);
            double lm = loss_at(&f);
            bump(&f, j, i, h);
            double fd = (lp - lm) / (2 * h);
            double e = fabs(fd - f.grad_full[j + i * d]) / gmax;
            worst = isfinite(e) ? fmax(worst, e) : INFINITY; /* fmax would drop a NaN */
        }
    if (worst > 1e-7)
        fprintf(stderr, "l = %d %s: finite-difference mismatch %.3e (grad max %.3e)\n", l, param,
                worst, gmax);
    CU_ASSERT(gmax > 1e-3); /* a vanishing gradient would make the check empty */
    CU_ASSERT(worst < 1e-7);
    teardown(&f);
}

/* m = 4: fewer components than a vector's eight lanes; m = 13 at d = 9: a
 * ragged second block, and at P = 3, 4 few enough rows per rank (3, 2) for
 * W B's transposed shape (model.c). */
static void test_fd_plain(void)
{
    for (int l = 2; l <= 5; l++) {
        check_fd(l, "plain", 7, 4);
        check_fd(l, "plain", 9, 13);
    }
}

static void test_fd_homogeneous(void)
{
    for (int l = 2; l <= 5; l++) {
        check_fd(l, "homogeneous", 7, 4);
        check_fd(l, "homogeneous", 9, 13);
    }
}

/* Implicit loss equals the brute-force d^l-entry loss to rounding. */
static void check_dense(int l, const char *param, int zero_column, int64_t m)
{
    fixture f;
    const int64_t d = 5, r = 2;
    CU_ASSERT_FATAL(setup(&f, l, param, d, m, r));
    if (zero_column) {
        memset(f.W_full + 1 * d, 0, (size_t)d * sizeof(double));
        memset(f.W_loc + 1 * f.lay.nrows, 0, (size_t)f.lay.nrows * sizeof(double));
    }
    otd_eval ev = {0};
    OTD_TEST_OK(otd_engine_eval(f.engine, f.W_loc, f.grad_loc, &ev));
    double ref = otd_dense_ref_loss(l, strcmp(param, "homogeneous") == 0, 0.01, d, m, f.W_full, r,
                                    f.target->U, f.target->a);
    double rd = otd_test_reldiff(ev.loss, ref);
    if (rd > 1e-12)
        fprintf(stderr, "l = %d %s: implicit %.17g vs dense %.17g (rel %.2e)\n", l, param, ev.loss,
                ref, rd);
    CU_ASSERT(rd <= 1e-12);
    CU_ASSERT(ev.loss > 1e-3);
    /* fit and regularizer add up; rel_err is consistent with the fit */
    CU_ASSERT(otd_test_reldiff(ev.fit + ev.reg, ev.loss) <= 1e-15);
    CU_ASSERT(otd_test_reldiff(ev.rel_err, sqrt(2 * ev.fit / f.target->norm2)) <= 1e-14);
    if (zero_column) {
        /* A zero component contributes nothing and has zero gradient. */
        for (int64_t j = 0; j < f.lay.nrows; j++)
            CU_ASSERT_EQUAL(f.grad_loc[j + 1 * f.lay.nrows], 0.0);
        for (int64_t q = 0; q < f.lay.nrows * m; q++)
            CU_ASSERT(isfinite(f.grad_loc[q]));
    }
    teardown(&f);
}

static void test_dense_loss(void)
{
    /* m = 3, and m = 21: two whole blocks of eight and a ragged one */
    for (int l = 2; l <= 5; l++)
        for (int64_t m = 3; m <= 21; m += 18) {
            check_dense(l, "plain", 0, m);
            check_dense(l, "homogeneous", 0, m);
            check_dense(l, "homogeneous", 1, m);
        }
}

/* The error's resolution (otd_eval.rel_err_res): W = the target's own
 * components plus pairs +-c z that cancel exactly (odd l, plain), so the
 * true error is 0 while the summed terms are large; the reported error must
 * be within its resolution of 0, and the resolution must grow with the
 * cancelling terms. For the random W of the fixture, the reported error is
 * within its resolution of the brute-force one. */
static void test_resolution(void)
{
    const int l = 3;
    const int64_t d = 5, r = 2, m = r + 4;
    double res_prev = 0.0;
    for (int big = 0; big < 3; big++) {
        fixture f;
        CU_ASSERT_FATAL(setup(&f, l, "plain", d, m, r));
        double c = big == 0 ? 0.5 : big == 1 ? 3.0 : 20.0;
        for (int64_t k = 0; k < r; k++)
            for (int64_t j = 0; j < d; j++)
                f.W_full[j + k * d] = cbrt(f.target->a[k]) * f.target->U[j + k * d];
        for (int64_t p = 0; p < 2; p++)
            for (int64_t j = 0; j < d; j++) {
                double z = c * otd_rng_normal(4, otd_rng_stream(OTD_RNG_NOISE, 6), (uint32_t)p,
                                              (uint64_t)j);
                f.W_full[j + (r + 2 * p) * d] = z;
                f.W_full[j + (r + 2 * p + 1) * d] = -z;
            }
        for (int64_t i = 0; i < m; i++)
            memcpy(f.W_loc + i * f.lay.nrows, f.W_full + i * d + f.lay.row0,
                   (size_t)f.lay.nrows * sizeof(double));
        otd_eval ev = {0};
        OTD_TEST_OK(otd_engine_eval(f.engine, f.W_loc, NULL, &ev));
        if (otd_comm_rank(otd_test_comm()) == 0)
            printf("\n    cancelling pairs of norm ~%g: rel_err %.3e, resolution %.3e", c,
                   ev.rel_err, ev.rel_err_res);
        CU_ASSERT(ev.rel_err <= ev.rel_err_res);
        CU_ASSERT(ev.rel_err_res > res_prev);
        res_prev = ev.rel_err_res;
        teardown(&f);
    }
    fixture f;
    CU_ASSERT_FATAL(setup(&f, l, "plain", d, 3, r));
    otd_eval ev = {0};
    OTD_TEST_OK(otd_engine_eval(f.engine, f.W_loc, NULL, &ev));
    double fit = otd_dense_ref_loss(l, 0, 0.0, d, 3, f.W_full, r, f.target->U, f.target->a);
    CU_ASSERT(fabs(ev.rel_err - sqrt(2 * fit / f.target->norm2)) <= ev.rel_err_res);
    CU_ASSERT(ev.rel_err_res < 1e-6);
    teardown(&f);
}

/* The target is normalized and its Gram matrix is consistent with U. */
static void test_target_norm(void)
{
    fixture f;
    CU_ASSERT_FATAL(setup(&f, 3, "plain", 6, 2, 3));
    CU_ASSERT(fabs(f.target->norm2 - 1.0) < 1e-14);
    double ref = otd_dense_ref_loss(3, 0, 0.0, 6, 0, f.W_full, 3, f.target->U, f.target->a);
    CU_ASSERT(fabs(2 * ref - 1.0) < 1e-13); /* ||T*||^2 by brute force, W = 0 */
    teardown(&f);
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("engine_implicit", NULL, NULL);
    CU_add_test(s, "gradient vs finite differences, plain, l=2..5", test_fd_plain);
    CU_add_test(s, "gradient vs finite differences, homogeneous, l=2..5", test_fd_homogeneous);
    CU_add_test(s, "loss vs brute-force dense tensor, l=2..5", test_dense_loss);
    CU_add_test(s, "target normalized to ||T*|| = 1", test_target_norm);
    CU_add_test(s, "error resolution: cancelling terms, brute force", test_resolution);
}
