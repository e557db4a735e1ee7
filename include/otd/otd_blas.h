/* otd_blas.h: getting (and reporting) the fast BLAS kernels.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise some current virtual CPUs and
 * falls back to its SSE3 "Prescott" kernels, 5-8x slower at DGEMM. The kernel
 * is chosen when the library loads, from OPENBLAS_CORETYPE, so the only fix
 * is to set that variable before the process starts. otd does this for the
 * user: at the top of main(), before MPI_Init, it compares the kernel OpenBLAS
 * picked with what the CPU supports (cpuid) and, when the library chose a
 * weaker one, re-executes itself once with OPENBLAS_CORETYPE set. It also
 * defaults OPENBLAS_NUM_THREADS to 1: one rank per core is otd's model, and
 * several ranks each spawning threads on the same cores thrash. A user's own
 * settings of either variable are always respected. */
#ifndef OTD_BLAS_H
#define OTD_BLAS_H

#include <stddef.h>

/* Call first thing in main(), before MPI_Init. Returns only if no re-exec was
 * needed or possible (then the reason is kept for otd_blas_describe). Not
 * collective (each rank decides the same way from the same CPU). */
void otd_blas_select(char **argv);

/* One line for the banner, e.g. "OpenBLAS 0.3.21 core=SkylakeX threads=1
 * (OPENBLAS_CORETYPE set by otd: library picked Prescott on an avx512f CPU)".
 * Writes at most n bytes including the NUL. */
void otd_blas_describe(char *buf, size_t n);

/* The kernel OpenBLAS is using now ("SkylakeX", "Haswell", "Prescott"...). */
const char *otd_blas_corename(void);

#endif
