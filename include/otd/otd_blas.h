/* otd_blas.h: which BLAS this process runs, and getting its fast kernels.
 *
 * otd links whichever BLAS CMake found (BLA_VENDOR): OpenBLAS by default on
 * Debian, BLIS (jobs/toolchains/mpich-blis.cmake), MKL, Cray LibSci... Which
 * one it is, is found at run time by looking up each vendor's functions in
 * the process (dlsym), so that nothing here needs a particular BLAS to link.
 *
 * OpenBLAS only (none of this happens with another BLAS): Debian's OpenBLAS
 * 0.3.21 does not recognise some current virtual CPUs and falls back to its
 * SSE3 "Prescott" kernels, 5-8x slower at DGEMM. The kernel
 * is chosen when the library loads, from OPENBLAS_CORETYPE, so the only fix
 * is to set that variable before the process starts. otd does this for the
 * user: at the top of main(), before MPI_Init, it compares the kernel OpenBLAS
 * picked with what the CPU supports (cpuid) and, when the library chose a
 * weaker one, re-executes itself once with OPENBLAS_CORETYPE set. It also
 * defaults OPENBLAS_NUM_THREADS to 1: one rank per core is otd's model, and
 * several ranks each spawning threads on the same cores thrash. A user's own
 * settings of either variable are always respected. BLIS and MKL are likewise
 * set to one thread unless BLIS_NUM_THREADS, MKL_NUM_THREADS or
 * OMP_NUM_THREADS says otherwise. */
#ifndef OTD_BLAS_H
#define OTD_BLAS_H

#include <stddef.h>

/* Call first thing in main(), before MPI_Init. Returns only if no re-exec was
 * needed or possible (then the reason is kept for otd_blas_describe). Not
 * collective (each rank decides the same way from the same CPU). */
void otd_blas_select(char **argv);

/* One line for the banner and results.h5, naming the BLAS in use, e.g.
 * "OpenBLAS 0.3.21 core=SkylakeX threads=1 (OPENBLAS_CORETYPE=SkylakeX set by
 * otd: the library picked Prescott)", "BLIS 0.9.0 threads=1", MKL's version
 * string and "threads=N", or "unknown BLAS (dgemm_ from LIBRARY)". Writes at
 * most n bytes including the NUL. */
void otd_blas_describe(char *buf, size_t n);

/* The kernel OpenBLAS is using now ("SkylakeX", "Haswell", "Prescott"...);
 * NULL when the BLAS is not OpenBLAS. */
const char *otd_blas_corename(void);

/* The ScaLAPACK in use, for provenance: ScaLAPACK has no version query, so
 * the file the running process took pdgeqrf_ from, its symbolic links
 * resolved (the version is in the name:
 * "/usr/lib/x86_64-linux-gnu/libscalapack-openmpi.so.2.2.1"), or "unknown"
 * (a static link, no dladdr). Writes at most n bytes including the NUL. */
void otd_scalapack_describe(char *buf, size_t n);

#endif
