/* blas.c: choose OpenBLAS kernels that match the CPU (see otd_blas.h). */
#define _GNU_SOURCE
#include "otd/otd_blas.h"

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* From OpenBLAS (cblas.h declares them too, but only with its own types). */
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);

/* Set in the re-executed process so that it never loops. */
#define REEXEC_MARK "OTD_BLAS_REEXEC"

const char *otd_blas_corename(void)
{
    return openblas_get_corename();
}

/* Best OpenBLAS kernel family this CPU can run, from cpuid and XCR0 (the OS
 * must also save the AVX/AVX-512 register state). NULL if nothing better than
 * the generic SSE kernels. */
static const char *best_core(void)
{
    unsigned a, b, c, d, xcr0_lo = 0, xcr0_hi = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return NULL;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx)
        return NULL;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6) != 0x6)
        return NULL;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return "Sandybridge";
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1;
    int avx512bw = (b >> 30) & 1, avx512dq = (b >> 17) & 1;
    if (avx512f && avx512vl && avx512bw && avx512dq && (xcr0_lo & 0xE0) == 0xE0)
        return "SkylakeX";
    if (avx2 && fma)
        return "Haswell";
    return "Sandybridge";
}

/* Kernels weaker than every family best_core() can return. */
static int is_generic(const char *core)
{
    static const char *const weak[] = {"Prescott",  "Core2",  "Penryn",  "Dunnington",
                                       "Nehalem",   "Atom",   "Katmai",  "Coppermine",
                                       "Northwood", "Banias", "Generic", "Unknown"};
    for (size_t i = 0; i < sizeof weak / sizeof *weak; i++)
        if (strcasecmp(core, weak[i]) == 0)
            return 1;
    return 0;
}

static char note[160];

void otd_blas_select(char **argv)
{
    const char *core = openblas_get_corename(), *best = best_core();
    if (getenv(REEXEC_MARK) != NULL) {
        snprintf(note, sizeof note, "OPENBLAS_CORETYPE=%s set by otd: the library picked %s",
                 getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "?",
                 getenv(REEXEC_MARK));
        unsetenv(REEXEC_MARK); /* children (mpirun inside scripts) decide afresh */
        return;
    }
    int need_threads = getenv("OPENBLAS_NUM_THREADS") == NULL && getenv("OMP_NUM_THREADS") == NULL;
    int need_core = getenv("OPENBLAS_CORETYPE") == NULL && best != NULL && is_generic(core);
    if (need_threads) {
        /* Thread count can change at run time; the variable is for children. */
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        openblas_set_num_threads(1);
    }
    if (!need_core)
        return;
    setenv("OPENBLAS_CORETYPE", best, 1);
    setenv(REEXEC_MARK, core, 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with what we have, and say so. */
    unsetenv(REEXEC_MARK);
    snprintf(note, sizeof note, "re-exec failed; kernels as detected");
}

void otd_blas_describe(char *buf, size_t n)
{
    char cfg[64];
    /* openblas_get_config() starts "OpenBLAS 0.3.21 DYNAMIC_ARCH ...": keep
     * the name and version only. */
    snprintf(cfg, sizeof cfg, "%s", openblas_get_config());
    char *sp = strchr(cfg, ' ');
    if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
        *sp = '\0';
    snprintf(buf, n, "%s core=%s threads=%d%s%s%s", cfg, openblas_get_corename(),
             openblas_get_num_threads(), note[0] ? " (" : "", note, note[0] ? ")" : "");
}
