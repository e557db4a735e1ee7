/* test_kernel.c: the dense engine's product kernel (src/engine/kernel.c)
 * against cblas_dgemm and against a plain loop in the order kernel.h
 * promises, on shapes that leave every remainder: rows that are not a
 * multiple of the 24-row tile (the slab sizes of d = 300 and d = 100 at
 * P = 1..4), m = 1, 7, 13, 100 (column blocks of 10 and uneven ones),
 * chunks not a multiple of anything, padded leading dimensions. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernel.h"
#include "otd/otd_rng.h"
#include "otd_test.h"

/* Uniform in [-1, 1), one stream per matrix. */
static double *random_matrix(int64_t rows, int64_t cols, int64_t ld, uint32_t which)
{
    double *a = malloc(sizeof(double) * (size_t)(ld * cols));
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < ld; i++)
            a[i + j * ld] = i < rows ? 2.0 * otd_rng_uniform(5, otd_rng_stream(OTD_RNG_INIT, which),
                                                             (uint32_t)j, (uint64_t)i) -
                                           1.0
                                     : NAN; /* padding: must never be read into a result */
    return a;
}

/* sum_p S[i,p] K[p,c] by fused multiply-adds from zero in p order, then
 * added to Y: the order kernel.h documents. */
static void ordered_product(int64_t n, int64_t m, int64_t pc, const double *S, int64_t lda,
                            const double *K, int64_t ldk, double *Y, int64_t ldy)
{
    for (int64_t c = 0; c < m; c++)
        for (int64_t i = 0; i < n; i++) {
            double s = 0.0;
            for (int64_t p = 0; p < pc; p++)
                s = fma(S[i + p * lda], K[p + c * ldk], s);
            Y[i + c * ldy] += s;
        }
}

/* One call: Y += S K against DGEMM (1e-13 of the largest entry) and, bit
 * for bit, against ordered_product; Y's padding rows stay untouched. K has
 * the kernel's leading dimension, its unused rows NaN like S's padding. */
static void check_one(int64_t n, int64_t m, int64_t pc, int64_t pad)
{
    const int64_t lda = n + pad, ldk = OTD_KERNEL_CHUNK, ldy = n + pad;
    double *S = random_matrix(n, pc, lda, 1), *K = random_matrix(pc, m, ldk, 2);
    double *Y = random_matrix(n, m, ldy, 3), *Yb = random_matrix(n, m, ldy, 3);
    double *Yo = random_matrix(n, m, ldy, 3);
    for (int64_t q = 0; q < ldy * m; q++)
        if (q % ldy >= n)
            Y[q] = Yb[q] = Yo[q] = -7.0; /* padding rows of Y: a marker */
    otd_kernel_acc(n, m, pc, S, lda, K, Y, ldy, NULL, 0);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)pc, 1.0, S,
                (int)lda, K, (int)ldk, 1.0, Yb, (int)ldy);
    ordered_product(n, m, pc, S, lda, K, ldk, Yo, ldy);
    double diff = otd_test_maxreldiff(Y, Yb, (size_t)(ldy * m));
    int same = memcmp(Y, Yo, sizeof(double) * (size_t)(ldy * m)) == 0, pads = 1;
    for (int64_t q = 0; q < ldy * m; q++)
        pads &= q % ldy < n || Y[q] == -7.0;
    if (!(diff <= 1e-13) || !same || !pads)
        fprintf(stderr,
                "n = %lld m = %lld pc = %lld pad = %lld: vs dgemm %.2e, ordered %s, "
                "padding %s\n",
                (long long)n, (long long)m, (long long)pc, (long long)pad, diff,
                same ? "same" : "DIFFERENT", pads ? "kept" : "WRITTEN");
    CU_ASSERT(diff <= 1e-13);
    CU_ASSERT(same);
    CU_ASSERT(pads);
    free(S);
    free(K);
    free(Y);
    free(Yb);
    free(Yo);
}

/* Rows: 1..9 and 23..33 (every tile remainder, the 25..32 split), the
 * slab heights of d = 300 and d = 100 at P = 1..4; columns: one block of
 * each width 1..10 and the uneven splits above it; chunks: 1, odd, the
 * kernel's own, longer than the prefetch distance and not a multiple. */
static void test_vs_dgemm(void)
{
    static const int64_t ns[] = {1,  2,  7,  8,  9,  16, 17, 23,  24,  25, 31,
                                 32, 33, 34, 41, 48, 50, 75, 100, 150, 300};
    static const int64_t ms[] = {1, 7, 10, 11, 13, 100};
    static const int64_t pcs[] = {1, 5, 97, OTD_KERNEL_CHUNK};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ms / sizeof *ms; b++)
            for (size_t c = 0; c < sizeof pcs / sizeof *pcs; c++)
                check_one(ns[a], ms[b], pcs[c], (int64_t)((a + b + c) % 3 == 0 ? 3 : 0));
    for (int64_t m = 1; m <= 20; m++) /* every column split up to two blocks */
        check_one(29, m, 61, 1);
    printf(" [%s path] ", otd_kernel_avx512() ? "AVX-512" : "portable");
}

/* The dense engine's use: the slab in chunks of OTD_KERNEL_CHUNK columns
 * (np = 1000: the last one short), each call prefetching the next, summed
 * into one Y, against one DGEMM over all columns; and the rows of a rank
 * (a block of rows of the same S, at its own leading dimension) get the
 * same bits as those rows of the whole (rank-count independence). */
static void test_chunks(void)
{
    const int64_t n = 100, m = 13, np = 1000, C = OTD_KERNEL_CHUNK;
    double *S = random_matrix(n, np, n, 4), *K = random_matrix(np, m, np, 5);
    double *Y = calloc((size_t)(n * m), sizeof(double)),
           *Yb = calloc((size_t)(n * m), sizeof(double));
    double *Kc = calloc((size_t)(C * m), sizeof(double));
    const int64_t r0 = 37, nr = 34; /* rows 37..70, as a rank of P = 3 holds them */
    double *Sr = malloc(sizeof(double) * (size_t)(nr * np)),
           *Yr = calloc((size_t)(nr * m), sizeof(double));
    for (int64_t p = 0; p < np; p++)
        memcpy(Sr + p * nr, S + r0 + p * n, sizeof(double) * (size_t)nr);
    for (int64_t p0 = 0; p0 < np; p0 += C) {
        int64_t pc = np - p0 < C ? np - p0 : C, p1 = p0 + pc, nn = np - p1 < C ? np - p1 : C;
        for (int64_t c = 0; c < m; c++)
            memcpy(Kc + c * C, K + p0 + c * np, sizeof(double) * (size_t)pc);
        otd_kernel_acc(n, m, pc, S + p0 * n, n, Kc, Y, n, nn > 0 ? S + p1 * n : NULL, nn);
        otd_kernel_acc(nr, m, pc, Sr + p0 * nr, nr, Kc, Yr, nr, nn > 0 ? Sr + p1 * nr : NULL, nn);
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)np, 1.0, S, (int)n,
                K, (int)np, 0.0, Yb, (int)n);
    CU_ASSERT(otd_test_maxreldiff(Y, Yb, (size_t)(n * m)) <= 1e-13);
    int same = 1;
    for (int64_t c = 0; c < m; c++)
        same &= memcmp(Yr + c * nr, Y + r0 + c * n, sizeof(double) * (size_t)nr) == 0;
    CU_ASSERT(same);
    free(S);
    free(K);
    free(Y);
    free(Yb);
    free(Kc);
    free(Sr);
    free(Yr);
}

/* OTD_DENSE_KERNEL: blas always; avx512 exactly where it runs; unset,
 * empty and auto the best available; anything else refused. */
static void test_choose(void)
{
    otd_kernel_kind k;
    const otd_kernel_kind best = otd_kernel_avx512() ? OTD_KERNEL_AVX512 : OTD_KERNEL_BLAS;
    unsetenv("OTD_DENSE_KERNEL");
    OTD_TEST_OK(otd_kernel_choose(&k));
    CU_ASSERT_EQUAL(k, best);
    setenv("OTD_DENSE_KERNEL", "auto", 1);
    OTD_TEST_OK(otd_kernel_choose(&k));
    CU_ASSERT_EQUAL(k, best);
    setenv("OTD_DENSE_KERNEL", "blas", 1);
    OTD_TEST_OK(otd_kernel_choose(&k));
    CU_ASSERT_EQUAL(k, OTD_KERNEL_BLAS);
    CU_ASSERT_STRING_EQUAL(otd_kernel_name(k), "blas");
    setenv("OTD_DENSE_KERNEL", "avx512", 1);
    CU_ASSERT_EQUAL(otd_kernel_choose(&k), best == OTD_KERNEL_AVX512 ? OTD_OK : OTD_ERR_CONFIG);
    setenv("OTD_DENSE_KERNEL", "avx2", 1);
    CU_ASSERT_EQUAL(otd_kernel_choose(&k), OTD_ERR_CONFIG);
    CU_ASSERT(strstr(otd_error_message(), "OTD_DENSE_KERNEL='avx2'") != NULL);
    unsetenv("OTD_DENSE_KERNEL");
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("kernel", NULL, NULL);
    CU_add_test(s, "Y += S K vs DGEMM and the documented order, odd shapes", test_vs_dgemm);
    CU_add_test(s, "chunked with prefetch vs one DGEMM; a rank's rows, same bits", test_chunks);
    CU_add_test(s, "OTD_DENSE_KERNEL", test_choose);
}
