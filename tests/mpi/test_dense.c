/* test_dense.c: the dense engine (explicit tensor, mode-1 slices, packed)
 * against the implicit engine on the same problem, at every rank count:
 * loss, gradient and 100-step gradient-descent trajectories agree to 1e-12
 * relative, for both parametrizations and l = 3, 4 (d = 7: uneven blocks at
 * P = 2, 3, 4), and at d = 41, m = 13 (several chunks of the product kernel,
 * two column blocks, 41, 21, 14 and 11 rows) by both products
 * (OTD_DENSE_KERNEL: the kernel where it runs, and the BLAS). The implicit
 * engine is itself checked against finite differences and a brute-force
 * tensor (test_engine.c); the kernel against DGEMM (unit/test_kernel.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_rng.h"
#include "otd/otd_target.h"
#include "otd_test.h"

typedef struct {
    otd_config cfg;
    otd_target *target;
    otd_engine *engine;
} side;

static int make_side(side *s, const otd_layout *lay, int l, const char *param, const char *engine,
                     int64_t m)
{
    char s_l[32], s_p[64], s_e[64], s_d[64], s_m[64];
    snprintf(s_l, sizeof s_l, "problem.order=%d", l);
    snprintf(s_p, sizeof s_p, "model.param=%s", param);
    snprintf(s_e, sizeof s_e, "engine=%s", engine);
    snprintf(s_d, sizeof s_d, "problem.dim=%lld", (long long)lay->d);
    snprintf(s_m, sizeof s_m, "model.m=%lld", (long long)m);
    const char *sets[] = {s_l,
                          s_p,
                          s_e,
                          s_d,
                          s_m,
                          "problem.rank=3",
                          "problem.target=gaussian",
                          "problem.weights=[1.0, 0.6, 0.3]",
                          "algo.lambda=0.02",
                          "run.seed=11"};
    memset(s, 0, sizeof *s);
    if (otd_config_parse(NULL, 0, "<test>", sets, (int)(sizeof sets / sizeof *sets), &s->cfg) !=
            OTD_OK ||
        otd_target_create(&s->cfg, otd_test_comm(), &s->target) != OTD_OK ||
        otd_engine_create(&s->cfg, lay, otd_test_comm(), s->target, &s->engine) != OTD_OK) {
        fprintf(stderr, "setup (%s): %s\n", engine, otd_error_message());
        return 0;
    }
    return 1;
}

static void free_side(side *s)
{
    otd_engine_destroy(s->engine);
    otd_target_destroy(s->target);
    otd_config_free(&s->cfg);
}

/* kernel: OTD_DENSE_KERNEL for the dense side ("" leaves it unset). */
static void compare(int l, const char *param, int64_t d, int64_t m, const char *kernel)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    side imp, den;
    OTD_TEST_OK(otd_layout_init(&lay, d, otd_comm_rank(c), otd_comm_size(c)));
    CU_ASSERT_FATAL(make_side(&imp, &lay, l, param, "implicit", m));
    if (kernel[0] != '\0')
        setenv("OTD_DENSE_KERNEL", kernel, 1);
    int made = make_side(&den, &lay, l, param, "dense", m);
    unsetenv("OTD_DENSE_KERNEL");
    CU_ASSERT_FATAL(made);
    int64_t n = lay.nrows * m;
    double *Wi = calloc((size_t)n, sizeof(double)), *Wd = calloc((size_t)n, sizeof(double));
    double *gi = calloc((size_t)n, sizeof(double)), *gd = calloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < lay.nrows; j++)
            Wi[j + i * lay.nrows] = Wd[j + i * lay.nrows] =
                0.5 * sqrt(7.0 / (double)d) *
                otd_rng_normal(3, otd_rng_stream(OTD_RNG_INIT, 9), (uint32_t)i,
                               (uint64_t)(lay.row0 + j));
    otd_eval ei = {0}, ed = {0};
    double worst_loss = 0, worst_grad = 0, loss0 = 0;
    for (int step = 0; step <= 100; step++) {
        OTD_TEST_OK(otd_engine_eval(imp.engine, Wi, gi, &ei));
        OTD_TEST_OK(otd_engine_eval(den.engine, Wd, gd, &ed));
        if (step == 0)
            loss0 = ed.loss;
        /* a NaN would slip through fmax: a diverging trajectory fails here */
        CU_ASSERT_FATAL(isfinite(ei.loss) && isfinite(ed.loss));
        worst_loss = fmax(worst_loss, otd_test_reldiff(ei.loss, ed.loss));
        double gmax[2] = {otd_test_maxreldiff(gi, gd, (size_t)n), 0};
        OTD_TEST_OK(otd_comm_max(c, gmax, 1)); /* the worst over all ranks' rows */
        worst_grad = fmax(worst_grad, gmax[0]);
        for (int64_t q = 0; q < n; q++) {
            Wi[q] -= 0.01 * gi[q];
            Wd[q] -= 0.01 * gd[q];
        }
    }
    double wdiff[1] = {otd_test_maxreldiff(Wi, Wd, (size_t)n)};
    OTD_TEST_OK(otd_comm_max(c, wdiff, 1));
    if (worst_loss > 1e-12 || worst_grad > 1e-12 || wdiff[0] > 1e-12)
        fprintf(stderr, "l = %d %s d = %lld m = %lld %s: loss %.2e grad %.2e W %.2e\n", l, param,
                (long long)d, (long long)m, kernel, worst_loss, worst_grad, wdiff[0]);
    CU_ASSERT(worst_loss <= 1e-12);
    CU_ASSERT(worst_grad <= 1e-12);
    CU_ASSERT(wdiff[0] <= 1e-12);
    /* the trajectory went somewhere: the loss fell */
    CU_ASSERT(ed.loss < 0.9 * loss0);
    /* the dense engine's ||T*|| is the tensor's, equal to the components' */
    CU_ASSERT(otd_test_reldiff(ed.t_norm2, imp.target->norm2) <= 1e-13);
    free(Wi);
    free(Wd);
    free(gi);
    free(gd);
    free_side(&imp);
    free_side(&den);
}

static void test_l3_plain(void)
{
    compare(3, "plain", 7, 5, "");
}
static void test_l3_homogeneous(void)
{
    compare(3, "homogeneous", 7, 5, "");
}
static void test_l4_plain(void)
{
    compare(4, "plain", 7, 5, "");
}
static void test_l4_homogeneous(void)
{
    compare(4, "homogeneous", 7, 5, "");
}
/* np = 861 (l = 3) and 12341 (l = 4): 4 and 49 chunks of the kernel. */
static void test_chunks_kernel(void)
{
    compare(3, "plain", 41, 13, "");
    compare(4, "homogeneous", 41, 13, "");
}
static void test_chunks_blas(void)
{
    compare(3, "plain", 41, 13, "blas");
    compare(4, "homogeneous", 41, 13, "blas");
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("dense_vs_implicit", NULL, NULL);
    CU_add_test(s, "l=3 plain: loss, gradient, 100 steps", test_l3_plain);
    CU_add_test(s, "l=3 homogeneous: loss, gradient, 100 steps", test_l3_homogeneous);
    CU_add_test(s, "l=4 plain: loss, gradient, 100 steps", test_l4_plain);
    CU_add_test(s, "l=4 homogeneous: loss, gradient, 100 steps", test_l4_homogeneous);
    CU_add_test(s, "d=41 m=13, default product: 100 steps", test_chunks_kernel);
    CU_add_test(s, "d=41 m=13, OTD_DENSE_KERNEL=blas: 100 steps", test_chunks_blas);
}
