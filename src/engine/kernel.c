/* kernel.c: Y += S K without copying S (see kernel.h). */
#include "engine/kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OTD_KERNEL_X86 1
#include <immintrin.h>
#else
#define OTD_KERNEL_X86 0
#endif

/* Register tile: TILE_V vectors of 8 rows by up to TILE_C columns, 30
 * accumulators (with the three vectors of S and the broadcast, GCC keeps
 * two of them on the stack: still faster than 16 x 12, 24 x 8, 32 x 6 or
 * 40 x 5, and m = 10, the memory-bound case, reads S once: see
 * docs/performance.md). */
#define TILE_V 3
#define TILE_ROWS (8 * TILE_V)
#define TILE_C 10

/* Prefetch distance, in columns of S: at about 15 cycles a column (30
 * fused multiply-adds on two pipes), 64 columns ahead is some 250 ns, more
 * than the memory's latency, with a few hundred cache lines in flight.
 * Measured: 48 to 80 equally good, 128 and more slower (the lines arrive
 * before they are needed and are evicted again). */
#define PF_DIST 64

const char *otd_kernel_name(otd_kernel_kind kind)
{
    return kind == OTD_KERNEL_AVX512 ? "avx512" : "blas";
}

int otd_kernel_avx512(void)
{
#if OTD_KERNEL_X86
    /* GCC's and Clang's check includes the operating system's support of
     * the AVX-512 register state (XCR0), not only cpuid. */
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

otd_err otd_kernel_choose(otd_kernel_kind *kind)
{
    const char *v = getenv("OTD_DENSE_KERNEL");
    *kind = otd_kernel_avx512() ? OTD_KERNEL_AVX512 : OTD_KERNEL_BLAS;
    if (v == NULL || v[0] == '\0' || strcmp(v, "auto") == 0)
        return OTD_OK;
    if (strcmp(v, "blas") == 0) {
        *kind = OTD_KERNEL_BLAS;
        return OTD_OK;
    }
    if (strcmp(v, "avx512") == 0 && *kind == OTD_KERNEL_AVX512)
        return OTD_OK;
    if (strcmp(v, "avx512") == 0)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "OTD_DENSE_KERNEL=avx512: this CPU (or its operating system) does not "
                         "support AVX-512F; unset it or set OTD_DENSE_KERNEL=blas");
    return OTD_ERROR(OTD_ERR_CONFIG,
                     "OTD_DENSE_KERNEL='%s': allowed are auto (the default), blas and avx512", v);
}

/* The portable product, in the order of kernel.h: where AVX-512 is not
 * available (the dense engine takes the BLAS there; tests take this). */
static void acc_portable(int64_t n, int64_t m, int64_t pc, const double *S, int64_t lda,
                         const double *K, double *Y, int64_t ldy)
{
    for (int64_t c = 0; c < m; c++)
        for (int64_t i = 0; i < n; i++) {
            double s = 0.0;
            for (int64_t p = 0; p < pc; p++)
                s = fma(S[i + p * lda], K[p + c * OTD_KERNEL_CHUNK], s);
            Y[i + c * ldy] += s;
        }
}

#if OTD_KERNEL_X86

#define AVX512 __attribute__((target("avx512f")))

/* One register tile: rows [0, rows) of S and Y (rows <= TILE_ROWS), columns
 * [0, nc) of K and Y. next: the rows the next tile reads (next_rows of
 * them, next_pc columns), prefetched in this tile's last PF_DIST columns. */
typedef struct {
    const double *S, *K, *next;
    double *Y;
    int64_t lda, ldy, pc, rows, next_pc, next_rows;
} tile_args;

/* The cache lines of rows [0, rows) of a column of S at f: those of rows
 * 0, 8, 16 and rows - 1 cover them at any alignment (o: 8, 16 and rows - 1,
 * each clamped to rows - 1). */
AVX512 static inline __attribute__((always_inline)) void prefetch_rows(const double *f,
                                                                       const int64_t o[3])
{
    _mm_prefetch((const char *)f, _MM_HINT_T0);
    _mm_prefetch((const char *)(f + o[0]), _MM_HINT_T0);
    _mm_prefetch((const char *)(f + o[1]), _MM_HINT_T0);
    _mm_prefetch((const char *)(f + o[2]), _MM_HINT_T0);
}

static void row_offsets(int64_t rows, int64_t o[3])
{
    o[0] = rows > 8 ? 8 : rows - 1;
    o[1] = rows > 16 ? 16 : rows - 1;
    o[2] = rows - 1;
}

/* acc[v][c] += S[8v.., p] K[p, c] for one column p of S (s) and row p of K
 * (k, columns OTD_KERNEL_CHUNK apart: one base register for all of them). */
AVX512 static inline __attribute__((always_inline)) void step(const int mv, const int nc,
                                                              __mmask8 last, const double *s,
                                                              const double *k,
                                                              __m512d acc[TILE_V][TILE_C])
{
    __m512d sv[TILE_V];
#pragma GCC unroll 4
    for (int v = 0; v < mv; v++)
        sv[v] = v < mv - 1 ? _mm512_loadu_pd(s + 8 * v) : _mm512_maskz_loadu_pd(last, s + 8 * v);
#pragma GCC unroll 16
    for (int c = 0; c < nc; c++) {
        const __m512d kc = _mm512_set1_pd(k[c * OTD_KERNEL_CHUNK]);
#pragma GCC unroll 4
        for (int v = 0; v < mv; v++)
            acc[v][c] = _mm512_fmadd_pd(sv[v], kc, acc[v][c]);
    }
}

/* mv vectors of rows (the last one masked to the rows that exist) by nc
 * columns, both compile-time constants in each instantiation below so that
 * the accumulators are registers. The first pc - PF_DIST columns prefetch
 * this tile's rows PF_DIST columns ahead, the last ones the next tile's
 * first columns: two loops, no branch on the way. */
AVX512 static inline __attribute__((always_inline)) void tile(const int mv, const int nc,
                                                              const tile_args *a)
{
    __m512d acc[TILE_V][TILE_C];
    const __mmask8 last = (__mmask8)((1u << (a->rows - 8 * (mv - 1))) - 1u);
    const double *S = a->S, *K = a->K;
    const int64_t lda = a->lda, pc = a->pc, own = pc > PF_DIST ? pc - PF_DIST : 0;
    int64_t o[3], on[3], p = 0;
    row_offsets(a->rows, o);
    row_offsets(a->next_rows, on);
#pragma GCC unroll 4
    for (int v = 0; v < mv; v++)
#pragma GCC unroll 16
        for (int c = 0; c < nc; c++)
            acc[v][c] = _mm512_setzero_pd();
    for (; p < own; p++) {
        prefetch_rows(S + (p + PF_DIST) * lda, o);
        step(mv, nc, last, S + p * lda, K + p, acc);
    }
    for (; p < pc; p++) {
        const int64_t q = p + PF_DIST - pc;
        if (q < a->next_pc)
            prefetch_rows(a->next + q * lda, on);
        step(mv, nc, last, S + p * lda, K + p, acc);
    }
#pragma GCC unroll 16
    for (int c = 0; c < nc; c++)
#pragma GCC unroll 4
        for (int v = 0; v < mv; v++) {
            double *y = a->Y + c * a->ldy + 8 * v;
            if (v < mv - 1)
                _mm512_storeu_pd(y, _mm512_add_pd(_mm512_loadu_pd(y), acc[v][c]));
            else
                _mm512_mask_storeu_pd(y, last,
                                      _mm512_add_pd(_mm512_maskz_loadu_pd(last, y), acc[v][c]));
        }
}

#define TILE_FN(MV, NC)                                                                            \
    AVX512 static void tile_##MV##_##NC(const tile_args *a)                                        \
    {                                                                                              \
        tile(MV, NC, a);                                                                           \
    }
#define TILE_ROW(MV)                                                                               \
    TILE_FN(MV, 1)                                                                                 \
    TILE_FN(MV, 2)                                                                                 \
    TILE_FN(MV, 3)                                                                                 \
    TILE_FN(MV, 4)                                                                                 \
    TILE_FN(MV, 5)                                                                                 \
    TILE_FN(MV, 6)                                                                                 \
    TILE_FN(MV, 7)                                                                                 \
    TILE_FN(MV, 8)                                                                                 \
    TILE_FN(MV, 9)                                                                                 \
    TILE_FN(MV, 10)
TILE_ROW(1)
TILE_ROW(2)
TILE_ROW(3)
#define TILE_PTRS(MV)                                                                              \
    {                                                                                              \
        tile_##MV##_1, tile_##MV##_2, tile_##MV##_3, tile_##MV##_4, tile_##MV##_5, tile_##MV##_6,  \
            tile_##MV##_7, tile_##MV##_8, tile_##MV##_9, tile_##MV##_10                            \
    }

/* tiles[mv - 1][nc - 1] */
static void (*const tiles[TILE_V][TILE_C])(const tile_args *) = {TILE_PTRS(1), TILE_PTRS(2),
                                                                 TILE_PTRS(3)};

/* Rows of the tile that starts with `left` rows to go: TILE_ROWS, except
 * that 25..32 rows left are split 16 + 9..16, so that no tile is a single
 * vector (its ten broadcasts per column would outnumber its fused
 * multiply-adds: at n = 100, 4 rows in such a tile cost an eighth of the
 * product). */
static int64_t tile_rows(int64_t left)
{
    if (left > TILE_ROWS && left <= TILE_ROWS + 8)
        return 16;
    return left < TILE_ROWS ? left : TILE_ROWS;
}

/* Row tiles outside, column blocks inside: a row tile's part of S comes
 * from memory in its first column block and from cache in the others. The
 * columns are split into blocks of at most TILE_C, as even as possible
 * (m = 100: ten of 10; m = 13: 7 and 6). */
static void acc_avx512(int64_t n, int64_t m, int64_t pc, const double *S, int64_t lda,
                       const double *K, double *Y, int64_t ldy, const double *next, int64_t next_pc)
{
    const int64_t ncb = (m + TILE_C - 1) / TILE_C;
    for (int64_t r0 = 0, rows; r0 < n; r0 += rows) {
        rows = tile_rows(n - r0);
        tile_args a = {.S = S + r0, .lda = lda, .ldy = ldy, .pc = pc, .rows = rows};
        for (int64_t b = 0, c0 = 0; b < ncb; b++) {
            const int64_t c1 = m * (b + 1) / ncb;
            a.K = K + c0 * OTD_KERNEL_CHUNK;
            a.Y = Y + r0 + c0 * ldy;
            /* The last column block prefetches the next row tile (or the
             * next call's first); the others, their own rows again. */
            a.next = S + r0;
            a.next_pc = pc;
            a.next_rows = rows;
            if (b == ncb - 1 && r0 + rows < n) {
                a.next = S + r0 + rows;
                a.next_rows = tile_rows(n - r0 - rows);
            } else if (b == ncb - 1 && next != NULL) {
                a.next = next;
                a.next_pc = next_pc;
                a.next_rows = tile_rows(n);
            }
            tiles[(rows + 7) / 8 - 1][c1 - c0 - 1](&a);
            c0 = c1;
        }
    }
}

#endif

void otd_kernel_acc(int64_t n, int64_t m, int64_t pc, const double *S, int64_t lda, const double *K,
                    double *Y, int64_t ldy, const double *next, int64_t next_pc)
{
#if OTD_KERNEL_X86
    if (otd_kernel_avx512()) {
        acc_avx512(n, m, pc, S, lda, K, Y, ldy, next, next_pc);
        return;
    }
#endif
    (void)next;
    (void)next_pc;
    acc_portable(n, m, pc, S, lda, K, Y, ldy);
}
