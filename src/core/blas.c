/* blas.c: find out which BLAS this process runs, and for OpenBLAS choose
 * kernels that match the CPU (see otd_blas.h). */
#define _GNU_SOURCE
#include "otd/otd_blas.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set in the re-executed process so that it never loops. */
#define REEXEC_MARK "OTD_BLAS_REEXEC"

/* The vendor functions, looked up in the running process (otd links
 * whichever BLAS CMake found; none of these is referenced at link time). */
typedef char *(*str_fn)(void);
typedef int (*int_fn)(void);
typedef void (*set_int_fn)(int);
typedef void (*mkl_version_fn)(char *buf, int len);

static struct {
    int looked;
    str_fn ob_corename, ob_config;
    int_fn ob_get_threads;
    set_int_fn ob_set_threads;
    str_fn bli_version;
    int64_t (*bli_get_threads)(void); /* BLIS's dim_t: 64 bits on 64-bit targets */
    void (*bli_set_threads)(int64_t);
    mkl_version_fn mkl_version;
    int_fn mkl_get_threads;
    set_int_fn mkl_set_threads;
} v;

/* dlsym's void * into a function pointer (POSIX guarantees this works). */
#define LOOKUP(field, name)                                                                        \
    do {                                                                                           \
        void *sym_ = dlsym(RTLD_DEFAULT, name);                                                    \
        memcpy(&v.field, &sym_, sizeof sym_);                                                      \
    } while (0)

static void look_up(void)
{
    if (v.looked)
        return;
    v.looked = 1;
    LOOKUP(ob_corename, "openblas_get_corename");
    LOOKUP(ob_config, "openblas_get_config");
    LOOKUP(ob_get_threads, "openblas_get_num_threads");
    LOOKUP(ob_set_threads, "openblas_set_num_threads");
    LOOKUP(bli_version, "bli_info_get_version_str");
    LOOKUP(bli_get_threads, "bli_thread_get_num_threads");
    LOOKUP(bli_set_threads, "bli_thread_set_num_threads");
    LOOKUP(mkl_version, "mkl_get_version_string");
    LOOKUP(mkl_get_threads, "MKL_Get_Max_Threads");
    LOOKUP(mkl_set_threads, "MKL_Set_Num_Threads");
    /* OpenBLAS only when all four are there (a library that merely shares a
     * name would break the re-exec below). */
    if (!v.ob_corename || !v.ob_config || !v.ob_get_threads || !v.ob_set_threads)
        v.ob_corename = NULL;
}

static int is_openblas(void)
{
    look_up();
    return v.ob_corename != NULL;
}

const char *otd_blas_corename(void)
{
    return is_openblas() ? v.ob_corename() : NULL;
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

/* Kernel families without AVX-512 (the generic ones included). */
static int weaker_than_avx512(const char *core)
{
    static const char *const avx2[] = {"Haswell",    "Zen",         "Sandybridge", "Bulldozer",
                                       "Piledriver", "Steamroller", "Excavator"};
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (strcasecmp(core, avx2[i]) == 0)
            return 1;
    return is_generic(core);
}

static char note[200];

/* One BLAS thread per rank for the BLAS libraries other than OpenBLAS, unless
 * the user said otherwise. */
static void one_thread_elsewhere(void)
{
    int omp = getenv("OMP_NUM_THREADS") != NULL;
    if (v.bli_set_threads && !omp && getenv("BLIS_NUM_THREADS") == NULL)
        v.bli_set_threads(1);
    if (v.mkl_set_threads && !omp && getenv("MKL_NUM_THREADS") == NULL)
        v.mkl_set_threads(1);
}

void otd_blas_select(char **argv)
{
    if (!is_openblas()) {
        one_thread_elsewhere();
        return;
    }
    const char *core = v.ob_corename(), *best = best_core();
    if (getenv(REEXEC_MARK) != NULL) {
        snprintf(note, sizeof note, "OPENBLAS_CORETYPE=%s set by otd: the library picked %s",
                 getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "?",
                 getenv(REEXEC_MARK));
        unsetenv(REEXEC_MARK); /* children (mpirun inside scripts) decide afresh */
        return;
    }
    /* A user's choice is kept, but a weaker one than the CPU runs is worth
     * saying (a stale module or profile setting costs up to half of DGEMM's
     * speed: AVX2 kernels on an AVX-512 CPU). */
    if (getenv("OPENBLAS_CORETYPE") != NULL && best != NULL && strcasecmp(best, "SkylakeX") == 0 &&
        weaker_than_avx512(core))
        snprintf(note, sizeof note,
                 "OPENBLAS_CORETYPE=%s from the environment; this CPU runs the faster SkylakeX "
                 "kernels when it is unset",
                 getenv("OPENBLAS_CORETYPE"));
    int need_threads = getenv("OPENBLAS_NUM_THREADS") == NULL && getenv("OMP_NUM_THREADS") == NULL;
    int need_core = getenv("OPENBLAS_CORETYPE") == NULL && best != NULL && is_generic(core);
    if (need_threads) {
        /* Thread count can change at run time; the variable is for children. */
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        v.ob_set_threads(1);
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
    look_up();
    if (is_openblas()) {
        char cfg[64];
        /* openblas_get_config() starts "OpenBLAS 0.3.21 DYNAMIC_ARCH ...":
         * keep the name and version only. */
        snprintf(cfg, sizeof cfg, "%s", v.ob_config());
        char *sp = strchr(cfg, ' ');
        if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
            *sp = '\0';
        snprintf(buf, n, "%s core=%s threads=%d%s%s%s", cfg, v.ob_corename(), v.ob_get_threads(),
                 note[0] ? " (" : "", note, note[0] ? ")" : "");
    } else if (v.bli_version != NULL) {
        snprintf(buf, n, "BLIS %s threads=%lld", v.bli_version(),
                 v.bli_get_threads ? (long long)v.bli_get_threads() : -1LL);
    } else if (v.mkl_version != NULL) {
        char ver[198];
        v.mkl_version(ver, (int)sizeof ver);
        snprintf(buf, n, "%s threads=%d", ver, v.mkl_get_threads ? v.mkl_get_threads() : -1);
    } else {
        /* Name at least the library that holds dgemm_. */
        Dl_info info;
        void *dgemm = dlsym(RTLD_DEFAULT, "dgemm_");
        if (dgemm != NULL && dladdr(dgemm, &info) != 0 && info.dli_fname != NULL)
            snprintf(buf, n, "unknown BLAS (dgemm_ from %s)", info.dli_fname);
        else
            snprintf(buf, n, "unknown BLAS");
    }
}

void otd_scalapack_describe(char *buf, size_t n)
{
    Dl_info info;
    char real[PATH_MAX];
    /* Looked up, not referenced: the BLAS module names no ScaLAPACK symbol
     * at link time; otd's QR (src/linalg) links pdgeqrf_. */
    void *sym = dlsym(RTLD_DEFAULT, "pdgeqrf_");
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL) {
        snprintf(buf, n, "unknown");
        return;
    }
    /* The main program itself: ScaLAPACK linked statically, name unknown. */
    if (info.dli_fname[0] == '\0' || strstr(info.dli_fname, ".so") == NULL) {
        snprintf(buf, n, "unknown (linked statically into %s)",
                 info.dli_fname[0] != '\0' ? info.dli_fname : "the program");
        return;
    }
    snprintf(buf, n, "%s", realpath(info.dli_fname, real) != NULL ? real : info.dli_fname);
}
