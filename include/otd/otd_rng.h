/* otd_rng.h: counter-based random numbers (Philox4x32-10).
 *
 * Every random number otd uses is a pure function of (seed, stream, a, b):
 * the key is the 64-bit run seed, the 128-bit counter holds a stream word
 * (purpose, and e.g. the epoch of a re-initialization), a 32-bit column
 * index a and a 64-bit row index b. Because nothing depends on which rank
 * asks or in which order, targets and initial W are bitwise identical for any
 * rank count, and a restarted run draws exactly what it would have drawn.
 * There is no generator state to checkpoint. All functions: not collective,
 * thread-safe, no errors. */
#ifndef OTD_RNG_H
#define OTD_RNG_H

#include <stdint.h>

/* Purposes: the top 8 bits of the stream word. Never reuse a value. */
enum {
    OTD_RNG_TARGET = 1, /* target components u_k (a = k, b = row) */
    OTD_RNG_INIT = 2,   /* initial W (a = component i, b = row) */
    OTD_RNG_REINIT = 3, /* bl re-initialization (sub = epoch) */
    OTD_RNG_NOISE = 4,  /* dense noise tensor (later) */
};

/* Stream word from a purpose and a 24-bit sub-stream (e.g. epoch). */
static inline uint32_t otd_rng_stream(uint32_t purpose, uint32_t sub)
{
    return (purpose << 24) | (sub & 0xFFFFFFu);
}

/* The raw bijection: 10 rounds of Philox4x32 on ctr under key (Salmon et al.,
 * SC'11; known-answer vectors in tests/unit/test_rng.c). */
void otd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Uniform double in the open interval (0, 1), 53 random bits. */
double otd_rng_uniform(uint64_t seed, uint32_t stream, uint32_t a, uint64_t b);

/* Standard normal N(0, 1) by Box-Muller on one Philox block. */
double otd_rng_normal(uint64_t seed, uint32_t stream, uint32_t a, uint64_t b);

#endif
