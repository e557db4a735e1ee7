/* test_model.c: the engines' shared O(m^2) model pass (src/engine/model.c)
 * against plain long-double loops, on shapes that take every path: both
 * ways of forming W^T W, both ways of forming W B, fewer than eight
 * components, ragged multiples of eight, orders 2 to 5, plain and
 * homogeneous, a zero component. And the compensated loss on a sum a plain
 * one gets wrong. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "otd/otd_rng.h"
#include "otd/otd_target.h"
#include "otd_test.h"

static void config(otd_config *cfg, int l, int64_t m, int homogeneous, double lambda)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->problem.order = l;
    cfg->model.m = m;
    cfg->model.param = homogeneous ? OTD_PARAM_HOMOGENEOUS : OTD_PARAM_PLAIN;
    cfg->algo.lambda = lambda;
}

static long double lpow(long double x, int k)
{
    long double y = 1.0L;
    for (int i = 0; i < k; i++)
        y *= x;
    return y;
}

/* G = A^T B in long double: A n x p, B n x q (leading dimension n). */
static void ref_gram(const double *A, const double *B, int64_t n, int64_t p, int64_t q,
                     long double *G)
{
    for (int64_t i = 0; i < p; i++)
        for (int64_t j = 0; j < q; j++) {
            long double s = 0.0L;
            for (int64_t k = 0; k < n; k++)
                s += (long double)A[k + i * n] * B[k + j * n];
            G[i + j * p] = s;
        }
}

/* Max |a - b| over n entries of a, relative to max |b|. */
static double maxdiff(const double *a, const long double *b, int64_t n)
{
    long double d = 0.0L, s = 0.0L;
    for (int64_t q = 0; q < n; q++) {
        d = fmaxl(d, fabsl((long double)a[q] - b[q]));
        s = fmaxl(s, fabsl(b[q]));
    }
    return (double)(d / (s > 0 ? s : 1.0L));
}

/* One shape: n rows of W, m components, r target columns. want_small and
 * want_transposed say which paths model.c must choose for it, so that a
 * change of its thresholds cannot quietly drop a path from this test. */
static void check_shape(int l, int homogeneous, int64_t n, int64_t m, int want_small,
                        int want_transposed)
{
    const int r = 3;
    otd_config cfg;
    otd_model md;
    memset(&md, 0, sizeof md);
    config(&cfg, l, m, homogeneous, 0.01);
    OTD_TEST_OK(otd_model_init(&md, &cfg, n));
    CU_ASSERT_EQUAL(md.small_gram, want_small);
    CU_ASSERT_EQUAL(md.transposed, want_transposed);
    double *W = calloc((size_t)(n * m), sizeof *W), *U = calloc((size_t)(n * r), sizeof *U);
    double *G = calloc((size_t)(m * m), sizeof *G), *C = calloc((size_t)(m * r), sizeof *C);
    double *grad = calloc((size_t)(n * m), sizeof *grad);
    long double *Gr = calloc((size_t)(m * m), sizeof *Gr),
                *Cr = calloc((size_t)(m * r), sizeof *Cr);
    long double *Br = calloc((size_t)(m * m), sizeof *Br), *rho = calloc((size_t)m, sizeof *rho);
    long double *gr = calloc((size_t)(n * m), sizeof *gr);
    double *Gu = calloc((size_t)(m * m), sizeof *Gu);
    long double *Gur = calloc((size_t)(m * m), sizeof *Gur);
    CU_ASSERT_FATAL(W && U && G && C && grad && Gr && Cr && Br && rho && gr && Gu && Gur);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            W[j + i * n] = (homogeneous && i == m / 2)
                               ? 0.0 /* a zero component */
                               : 0.5 * otd_rng_normal(11, 3, (uint32_t)i, (uint64_t)j);
    for (int64_t k = 0; k < r; k++)
        for (int64_t j = 0; j < n; j++)
            U[j + k * n] = otd_rng_normal(12, 4, (uint32_t)k, (uint64_t)j);

    /* The Gram matrices. */
    otd_model_gram(&md, W, U, n, r, G, C);
    ref_gram(W, W, n, m, m, Gr);
    ref_gram(W, U, n, m, r, Cr);
    /* only the upper triangle of G is promised */
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i <= j; i++) {
            Gu[i + j * m] = G[i + j * m];
            Gur[i + j * m] = Gr[i + j * m];
        }
    CU_ASSERT(maxdiff(Gu, Gur, m * m) < 1e-13);
    CU_ASSERT(maxdiff(C, Cr, m * r) < 1e-13);

    /* The model pass, from the computed G (so that only the pass is
     * compared): ||T(W)||^2, rho, B. */
    /* as one rank leaves G, and as several do (packed): the same values */
    double *Gp = calloc((size_t)(m * m + 1), sizeof *Gp), rho1[1024];
    CU_ASSERT_FATAL(Gp != NULL && m <= 1024);
    memcpy(Gp, G, (size_t)(m * m) * sizeof *Gp);
    Gp[m * m] = 42.0;
    CU_ASSERT_EQUAL(otd_model_pack_gram(&md, G, 0, 0), (size_t)(m * m));
    otd_model_components(&md, G);
    double mag1 = 0.0, tt1 = otd_model_terms(&md, G, &mag1);
    memcpy(rho1, md.rho, (size_t)m * sizeof *rho1);
    CU_ASSERT_EQUAL(otd_model_pack_gram(&md, Gp, 1, 1), (size_t)(m * (m + 1) / 2));
    CU_ASSERT_EQUAL(Gp[m * (m + 1) / 2], 42.0); /* the extra number moved behind */
    otd_model_components(&md, Gp);
    double mag = 0.0, tt = otd_model_terms(&md, Gp, &mag);
    free(Gp);
    CU_ASSERT_EQUAL(tt, tt1);
    CU_ASSERT_EQUAL(mag, mag1);
    CU_ASSERT(memcmp(rho1, md.rho, (size_t)m * sizeof *rho1) == 0);
    long double ttr = 0.0L, magr = 0.0L;
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i < m; i++) {
            long double g =
                (long double)G[i <= j ? i + j * m : j + i * m] * md.inv_t[i] * md.inv_t[j];
            long double term = (long double)md.s[i] * md.s[j] * lpow(g, l);
            ttr += term;
            magr += fabsl(term);
            rho[i] -= md.s[j] * lpow(g, l);
            Br[i + j * m] = (long double)l * md.h[i] * md.h[j] * lpow(g, l - 1);
        }
    for (int64_t i = 0; i < m; i++)
        Br[i + i * m] += (homogeneous ? (l - 2) * rho[i] : 0.0L) + 0.01L;
    otd_model_finish_B(&md);
    double rhod[1024];
    CU_ASSERT_FATAL(m <= 1024);
    CU_ASSERT(fabsl(tt - ttr) <= 4 * DBL_EPSILON * magr);
    CU_ASSERT(fabsl(mag - magr) <= 1e-14 * magr);
    memcpy(rhod, md.rho, (size_t)m * sizeof *rhod);
    CU_ASSERT(maxdiff(rhod, rho, m) < 1e-13);
    CU_ASSERT(maxdiff(md.B, Br, m * m) < 1e-13);

    /* W B */
    otd_model_apply(&md, W, grad);
    for (int64_t j = 0; j < m; j++)
        for (int64_t q = 0; q < n; q++) {
            long double s = 0.0L;
            for (int64_t i = 0; i < m; i++)
                s += (long double)W[q + i * n] * md.B[i + j * m];
            gr[q + j * n] = s;
        }
    double e = maxdiff(grad, gr, n * m);
    if (e >= 1e-13)
        fprintf(stderr, "\nl=%d n=%lld m=%lld: W B off by %.2e\n", l, (long long)n, (long long)m,
                e);
    CU_ASSERT(e < 1e-13);

    otd_model_free(&md);
    free(W), free(U), free(G), free(C), free(grad), free(Gr), free(Cr), free(Br), free(rho);
    free(gr), free(Gu), free(Gur);
}

static void test_paths(void)
{
    /* n, m, small Gram?, transposed W B? */
    static const struct {
        int64_t n, m;
        int small, transposed;
    } shapes[] = {
        {3, 1, 1, 0},  {7, 5, 1, 0},    {9, 8, 1, 0},    {2, 13, 1, 1}, {20, 50, 1, 0},
        {5, 67, 1, 1}, {320, 41, 0, 0}, {40, 203, 0, 1}, {17, 9, 1, 0},
    };
    for (int l = 2; l <= 5; l++)
        for (int hom = 0; hom <= 1; hom++)
            for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
                check_shape(l, hom, shapes[k].n, shapes[k].m, shapes[k].small,
                            shapes[k].transposed);
}

/* ||T(W)||^2 whose terms cancel: entries +-2^17 give terms 2 g^3 = +-2^52
 * that cancel in pairs, the rest +-1/4 give terms +-2^-5, below the last bit
 * of 2^52. Every term is exact in double, so the exact sum is known (long
 * double holds it exactly); a plain running sum loses the small terms, the
 * lanes' compensation must not. */
static void test_compensation(void)
{
    const int64_t m = 37;
    otd_config cfg;
    otd_model md;
    memset(&md, 0, sizeof md);
    config(&cfg, 3, m, 0, 0.0);
    OTD_TEST_OK(otd_model_init(&md, &cfg, 1));
    double *G = calloc((size_t)(m * m), sizeof *G);
    CU_ASSERT_FATAL(G != NULL);
    long double exact = 0.0L;
    double plain = 0.0;
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i <= j; i++) {
            double g;
            if (i == j)
                g = 1.0;
            else if (j >= 30 && i < 6)
                g = ((i + j) % 2 ? 1 : -1) * 131072.0; /* 2^17 */
            else
                g = ((i * 7 + j * 3) % 3 - 1) * 0.25;
            G[i + j * m] = g;
            double term = (i == j ? 1.0 : 2.0) * g * g * g;
            exact += term;
            plain += term;
        }
    /* big terms: +-2^52 in equal numbers, so the exact sum is the small ones */
    CU_ASSERT(fabsl(exact) < 1e3L);
    CU_ASSERT(fabsl(exact) > 1.0L);
    CU_ASSERT(fabsl(plain - exact) > 1e-3L * fabsl(exact)); /* the case is hard */
    CU_ASSERT_EQUAL(otd_model_pack_gram(&md, G, 0, 1), (size_t)(m * (m + 1) / 2));
    otd_model_components(&md, G);
    double mag = 0.0, tt = otd_model_terms(&md, G, &mag);
    if (fabsl(tt - exact) > 1e-14L * fabsl(exact))
        fprintf(stderr, "\ncompensated %.17g vs exact %.17Lg (plain %.17g)\n", tt, exact, plain);
    CU_ASSERT(fabsl(tt - exact) <= 1e-14L * fabsl(exact));
    CU_ASSERT(mag > 1e16);
    otd_model_free(&md);
    free(G);
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("model", NULL, NULL);
    CU_add_test(s, "Gram, terms, B and W B vs long double, every path, l=2..5", test_paths);
    CU_add_test(s, "compensated loss on cancelling exact terms", test_compensation);
}
