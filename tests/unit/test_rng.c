/* test_rng.c: Philox4x32-10 known answers and the distributions on top. */
#include <math.h>

#include "otd/otd_rng.h"
#include "otd_test.h"

/* Known-answer vectors published with Random123 (kat_vectors):
 * counter[4], key[2] -> output[4]. */
static void test_philox_kat(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        otd_philox4x32_10(kat[t], kat[t] + 4, out);
        for (int i = 0; i < 4; i++)
            CU_ASSERT_EQUAL(out[i], kat[t][6 + i]);
    }
}

/* Pure function of its arguments; distinct arguments give distinct draws. */
static void test_determinism(void)
{
    uint32_t s = otd_rng_stream(OTD_RNG_INIT, 0);
    CU_ASSERT_EQUAL(otd_rng_normal(7, s, 3, 5), otd_rng_normal(7, s, 3, 5));
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5), otd_rng_normal(8, s, 3, 5));
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5), otd_rng_normal(7, s, 4, 5));
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5), otd_rng_normal(7, s, 3, 6));
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5),
                        otd_rng_normal(7, otd_rng_stream(OTD_RNG_TARGET, 0), 3, 5));
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5),
                        otd_rng_normal(7, otd_rng_stream(OTD_RNG_INIT, 1), 3, 5));
    /* Bits above 32 of the row index and the seed matter too. */
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5), otd_rng_normal(7, s, 3, 5 + (1ull << 32)));
    CU_ASSERT_NOT_EQUAL(otd_rng_normal(7, s, 3, 5), otd_rng_normal(7 + (1ull << 32), s, 3, 5));
}

/* Moments of 200k draws: mean, variance and kurtosis of N(0,1) within
 * about 5 standard errors; uniform in (0,1) with mean 1/2. */
static void test_moments(void)
{
    const int n = 200000;
    double s1 = 0, s2 = 0, s4 = 0, u1 = 0, umin = 1, umax = 0;
    uint32_t st = otd_rng_stream(OTD_RNG_TARGET, 0);
    for (int i = 0; i < n; i++) {
        double z = otd_rng_normal(42, st, (uint32_t)(i % 7), (uint64_t)i);
        double u = otd_rng_uniform(42, st, 0, (uint64_t)i);
        s1 += z;
        s2 += z * z;
        s4 += z * z * z * z;
        u1 += u;
        umin = fmin(umin, u);
        umax = fmax(umax, u);
    }
    CU_ASSERT(fabs(s1 / n) < 5.0 / sqrt(n));
    CU_ASSERT(fabs(s2 / n - 1.0) < 5.0 * sqrt(2.0 / n));
    CU_ASSERT(fabs(s4 / n - 3.0) < 5.0 * sqrt(96.0 / n));
    CU_ASSERT(fabs(u1 / n - 0.5) < 5.0 * sqrt(1.0 / 12.0 / n));
    CU_ASSERT(umin > 0.0 && umax < 1.0);
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("rng", NULL, NULL);
    CU_add_test(s, "Philox4x32-10 known answers", test_philox_kat);
    CU_add_test(s, "pure function of (seed, stream, a, b)", test_determinism);
    CU_add_test(s, "normal and uniform moments", test_moments);
}
