/* philox.c: Philox4x32-10 and the distributions otd draws from it. */
#include "otd/otd_rng.h"

#include <math.h>

/* Multipliers and Weyl key increments of Philox4x32 (Random123). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void otd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void block(uint64_t seed, uint32_t stream, uint32_t a, uint64_t b, uint32_t out[4])
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), a, stream};
    otd_philox4x32_10(ctr, key, out);
}

/* 53 bits from two words, centred in its ulp so that 0 and 1 never occur
 * (log(u) below stays finite). */
static inline double to_open01(uint32_t hi, uint32_t lo)
{
    uint64_t k = ((uint64_t)(hi >> 5) << 26) | (lo >> 6);
    return ((double)k + 0.5) * 0x1.0p-53;
}

double otd_rng_uniform(uint64_t seed, uint32_t stream, uint32_t a, uint64_t b)
{
    uint32_t x[4];
    block(seed, stream, a, b, x);
    return to_open01(x[0], x[1]);
}

double otd_rng_normal(uint64_t seed, uint32_t stream, uint32_t a, uint64_t b)
{
    uint32_t x[4];
    block(seed, stream, a, b, x);
    double u1 = to_open01(x[0], x[1]), u2 = to_open01(x[2], x[3]);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
