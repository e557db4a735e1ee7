/* vec8.h: eight doubles at a time, for the hot loops of the engines and of
 * the dense engine's panels (src/engine/model.c, src/tensor/packed.c).
 *
 * otd is built without -march (one binary for every node of a cluster), so
 * the compiler may only assume SSE2. The hot loops are therefore written on
 * otd_v8, eight doubles as one value (GCC/clang vector extensions), inside
 * functions marked OTD_VECTOR_CLONES: the compiler emits an AVX-512, an AVX2
 * and a baseline copy of each and the loader picks the one the CPU runs. An
 * otd_v8 is one AVX-512 register, two AVX2 or four SSE2 registers, and the
 * arithmetic is lane by lane in the written order, so every copy rounds the
 * same way (up to the contraction of a * b + c into one FMA, which the AVX
 * copies may do: last-bit differences between CPUs, not between runs).
 *
 * Everything here is inline (always: each clone needs its own copy) and
 * passes vectors through pointers, never by value (their calling convention
 * depends on the target). */
#ifndef OTD_CORE_VEC8_H
#define OTD_CORE_VEC8_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 &&           \
    !defined(OTD_NO_CLONES)
#define OTD_VECTOR_CLONES                                                                          \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define OTD_VECTOR_CLONES
#endif

#define OTD_INLINE static inline __attribute__((always_inline))

typedef double otd_v8 __attribute__((vector_size(8 * sizeof(double))));
typedef long long otd_v8i __attribute__((vector_size(8 * sizeof(double))));

/* x in every lane. */
#define OTD_V8(x) ((otd_v8){0} + (double)(x))

/* The first n (< 8 allowed) of x into v, the other lanes 0. */
OTD_INLINE void otd_v8_load(otd_v8 *v, const double *x, int64_t n)
{
    if (n >= 8) {
        memcpy(v, x, sizeof *v);
    } else {
        double t[8] = {0};
        memcpy(t, x, (size_t)n * sizeof *x);
        memcpy(v, t, sizeof *v);
    }
}

/* The first n (< 8 allowed) lanes of v to x. */
OTD_INLINE void otd_v8_store(double *x, const otd_v8 *v, int64_t n)
{
    if (n >= 8) {
        memcpy(x, v, sizeof *v);
    } else {
        double t[8];
        memcpy(t, v, sizeof t);
        for (int64_t q = 0; q < n; q++)
            x[q] = t[q];
    }
}

OTD_INLINE void otd_v8_abs(otd_v8 *r, const otd_v8 *v)
{
    const long long m = ~(1LL << 63);
    *r = (otd_v8)((otd_v8i)*v & (otd_v8i){m, m, m, m, m, m, m, m});
}

/* The lanes added in a fixed order. */
OTD_INLINE double otd_v8_sum(const otd_v8 *v)
{
    double t[8], s = 0.0;
    memcpy(t, v, sizeof t);
    for (int q = 0; q < 8; q++)
        s += t[q];
    return s;
}

/* x^k, k >= 0 small, by repeated multiplication (as otd_ipow). */
OTD_INLINE void otd_v8_pow(otd_v8 *r, const otd_v8 *x, int k)
{
    otd_v8 y = OTD_V8(1.0);
    for (int i = 0; i < k; i++)
        y *= *x;
    *r = y;
}

/* b[j + i ldb] = a[i + j lda] for the 8 x 8 block at a (column-major). */
OTD_INLINE void otd_v8_transpose8(const double *a, int64_t lda, double *b, int64_t ldb)
{
    otd_v8 v[8], t[8];
    for (int j = 0; j < 8; j++)
        memcpy(&v[j], a + j * lda, sizeof v[j]);
    /* Three rounds of interleaving: pairs, quads, halves. */
    for (int j = 0; j < 8; j += 2) {
        t[j] = __builtin_shufflevector(v[j], v[j + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        t[j + 1] = __builtin_shufflevector(v[j], v[j + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    for (int j = 0; j < 8; j += 4)
        for (int q = 0; q < 2; q++) {
            v[j + q] = __builtin_shufflevector(t[j + q], t[j + q + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            v[j + q + 2] =
                __builtin_shufflevector(t[j + q], t[j + q + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int q = 0; q < 4; q++) {
        t[q] = __builtin_shufflevector(v[q], v[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        t[q + 4] = __builtin_shufflevector(v[q], v[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
    for (int i = 0; i < 8; i++)
        memcpy(b + i * ldb, &t[i], sizeof t[i]);
}

#endif
