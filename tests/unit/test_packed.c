/* test_packed.c: the sorted multi-index enumeration against brute force. */
#include <stdlib.h>

#include "otd/otd_packed.h"
#include "otd_test.h"

/* Iteration visits every sorted tuple once, in lexicographic order, and
 * rank() inverts it; the multiplicities over all sorted tuples add up to
 * d^k (every ordered tuple counted once). */
static void test_enumeration(void)
{
    for (int k = 1; k <= 4; k++)
        for (int64_t d = 1; d <= 7; d++) {
            int64_t idx[OTD_PACKED_MAX_K], prev[OTD_PACKED_MAX_K], n = 0;
            double msum = 0.0, dk = 1.0;
            for (int q = 0; q < k; q++)
                dk *= (double)d;
            otd_packed_first(k, idx);
            do {
                for (int q = 1; q < k; q++)
                    CU_ASSERT(idx[q - 1] <= idx[q]);
                if (n > 0) {
                    int q = 0;
                    while (q < k && prev[q] == idx[q])
                        q++;
                    CU_ASSERT(q < k && prev[q] < idx[q]); /* strictly increasing */
                }
                CU_ASSERT_EQUAL(otd_packed_rank(k, d, idx), n);
                msum += otd_packed_mult(k, idx);
                for (int q = 0; q < k; q++)
                    prev[q] = idx[q];
                n++;
            } while (otd_packed_next(k, d, idx));
            CU_ASSERT_EQUAL(n, otd_packed_count(d, k));
            CU_ASSERT_EQUAL(msum, dk);
        }
}

static void test_counts(void)
{
    CU_ASSERT_EQUAL(otd_packed_count(300, 2), 45150);
    CU_ASSERT_EQUAL(otd_packed_count(100, 3), 171700);
    CU_ASSERT_EQUAL(otd_packed_count(10, 1), 10);
    CU_ASSERT_EQUAL(otd_packed_count((int64_t)1 << 40, 11), -1); /* overflow reported */
    int64_t idx[4] = {3, 1, 3, 0};
    otd_packed_sort(4, idx);
    CU_ASSERT(idx[0] == 0 && idx[1] == 1 && idx[2] == 3 && idx[3] == 3);
    CU_ASSERT_EQUAL(otd_packed_mult(4, idx), 12.0); /* 4!/2! */
}

/* Panels (built by runs of the last index) equal the products of the
 * tabled multi-indices, for every panel cut, at a leading dimension larger
 * than the panel (its extra rows left alone). */
static void test_panel(void)
{
    for (int k = 1; k <= 4; k++) {
        const int64_t d = 6, n = 3;
        int64_t np = otd_packed_count(d, k);
        int32_t *idx = otd_packed_table(k, d, np);
        double X[6 * 3], *K = calloc((size_t)((np + 2) * n), sizeof(double));
        for (int i = 0; i < 18; i++)
            X[i] = 0.5 + 0.1 * i;
        for (int64_t npan = 1; npan <= np; npan += 3)
            for (int64_t p0 = 0; p0 < np; p0 += npan) {
                int64_t len = np - p0 < npan ? np - p0 : npan, ldk = len + 2;
                for (int64_t q = 0; q < ldk * n; q++)
                    K[q] = -1.0;
                otd_packed_panel(k, d, idx, p0, len, X, d, n, K, ldk);
                for (int64_t c = 0; c < n; c++) {
                    for (int64_t p = 0; p < len; p++) {
                        double v = 1.0;
                        for (int q = 0; q < k; q++)
                            v *= X[idx[(p0 + p) * k + q] + c * d];
                        CU_ASSERT_DOUBLE_EQUAL(K[p + c * ldk], v, 1e-15 * v);
                    }
                    CU_ASSERT(K[len + c * ldk] == -1.0 && K[len + 1 + c * ldk] == -1.0);
                }
            }
        free(idx);
        free(K);
    }
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("packed", NULL, NULL);
    CU_add_test(s, "enumeration, rank and multiplicities vs brute force", test_enumeration);
    CU_add_test(s, "counts, overflow, sort", test_counts);
    CU_add_test(s, "panels vs products of tabled indices", test_panel);
}
