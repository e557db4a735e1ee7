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

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("packed", NULL, NULL);
    CU_add_test(s, "enumeration, rank and multiplicities vs brute force", test_enumeration);
    CU_add_test(s, "counts, overflow, sort", test_counts);
}
