/* kernel.h: the dense engine's product Y += S K, for its skinny shapes.
 *
 * S is a rank's packed slab (n rows: d / P, a few hundred; np columns:
 * C(d+l-2, l-1), tens of thousands to millions), K a chunk of the
 * Khatri-Rao-like matrix of W (np x m, m from 1 to a few hundred). A BLAS
 * copies the operands of every GEMM into its own blocked layout: here that
 * is the slab, the largest array of the run, read and written once more
 * per step, which triples the memory traffic of a memory-bound step (small
 * m) and costs about a quarter on top of the flops of a compute-bound one.
 * This kernel reads S where it lies, once per step: register tiles of
 * 24 rows x up to 10 columns of Y (30 AVX-512 accumulators) run down a
 * chunk of OTD_KERNEL_CHUNK columns of S, so that the tile's part of S
 * (24 x 256 doubles) is fetched from memory by the first column block and
 * reused from cache by the others, with software prefetch far enough ahead
 * to keep the memory busy (docs/performance.md).
 *
 * Rounding: every Y[i, c] receives sum_p S[i, p] K[p, c] formed in p order
 * by fused multiply-adds from zero, then one addition into Y. That order
 * depends neither on n, lda, the tiling nor the instruction set: the
 * AVX-512 path and the portable one give the same bits, and the rows of a
 * rank give the same bits at any rank count. */
#ifndef OTD_ENGINE_KERNEL_H
#define OTD_ENGINE_KERNEL_H

#include <stdint.h>

#include "otd/otd_error.h"

/* Columns of S (rows of K) per call: the tile's part of S (24 x 256
 * doubles, 48 KiB) is read from memory once and reused from the L1/L2
 * caches by every column block of Y. */
#define OTD_KERNEL_CHUNK 256

/* How the dense engine forms Y = S K: the BLAS (panels of K, one DGEMM
 * each) or this kernel. */
typedef enum { OTD_KERNEL_BLAS = 0, OTD_KERNEL_AVX512 } otd_kernel_kind;

/* The product this process uses, from the environment variable
 * OTD_DENSE_KERNEL: "blas", "avx512", or unset/empty/"auto" (avx512 where
 * the CPU and the operating system support AVX-512F, else blas). Not
 * collective. OTD_ERR_CONFIG for another value, or for "avx512" where it
 * cannot run. */
otd_err otd_kernel_choose(otd_kernel_kind *kind);

/* "blas" or "avx512". */
const char *otd_kernel_name(otd_kernel_kind kind);

/* Whether the AVX-512 path of otd_kernel_acc can run here. */
int otd_kernel_avx512(void);

/* Y (n x m, leading dimension ldy) += S (n x pc, lda) K (pc x m, leading
 * dimension OTD_KERNEL_CHUNK: one base register reaches every column of a
 * tile), all column-major, pc <= OTD_KERNEL_CHUNK. next: the S of the
 * following call (n x next_pc, the same lda), whose first columns are
 * prefetched while this call ends, or NULL. With AVX-512
 * (otd_kernel_avx512) the tiles above; elsewhere a portable loop with the
 * same rounding, for tests (the dense engine uses the BLAS there). Not
 * collective; no errors. */
void otd_kernel_acc(int64_t n, int64_t m, int64_t pc, const double *S, int64_t lda, const double *K,
                    double *Y, int64_t ldy, const double *next, int64_t next_pc);

#endif
