/* cmd_bench.c: `otd bench`: time the step of each engine and measure, in
 * the same process, what this machine can do (DGEMM rate, read bandwidth),
 * so that every claim is a ratio of two numbers from one run
 * (performance.md). Prints one line of key=value fields per case. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_algo.h"
#include "otd/otd_ckpt.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_lazy.h"
#include "otd/otd_linalg.h"
#include "otd/otd_packed.h"
#include "otd/otd_target.h"

typedef struct {
    char engine[16];
    int l;
    int64_t d, m, r;
} bench_case;

/* The dense step at l = 3 and 4 over the memory-bound (m = 10) to
 * compute-bound (m >= 100) range; the implicit step where per-step overhead
 * shows (d = 10, m = 12), at the paper's scale (d = 20..30, m = 50..400),
 * and at a GEMM-sized one. */
static const bench_case default_cases[] = {
    {"dense", 3, 300, 10, 3},   {"dense", 3, 300, 100, 3},   {"dense", 3, 300, 1000, 3},
    {"dense", 4, 100, 10, 3},   {"dense", 4, 100, 100, 3},   {"implicit", 3, 10, 12, 2},
    {"implicit", 3, 20, 50, 3}, {"implicit", 3, 30, 400, 3}, {"implicit", 3, 1000, 1000, 10},
};

typedef struct {
    bench_case *cases;
    int ncases;
    int repeats;
    double seconds;
    int single;             /* also time on rank 0 alone, for parallel efficiency */
    int64_t ckpt_d, ckpt_m; /* checkpoint case: W of d x m (0: none) */
    int64_t lazy_n;         /* lazy_opt solve of this order m d (0: none) */
    int64_t cg_m;           /* lazy_opt CG product at d = 100 and this m (0: none) */
    const char *ckpt_dir;
    int help;
} bench_args;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mpirun -n P otd bench [--case ENGINE:l:d:m[:r]]... [--repeats N]\n"
        "                             [--seconds S] [--no-single] [--no-checkpoint]\n"
        "                             [--checkpoint-dir DIR] [--lazy N] [--lazy-cg M]\n"
        "\n"
        "Time one step (loss + gradient + update) of each case, median of N repeats of\n"
        "about S seconds each (default 5 x 0.3 s), and measure in the same run the DGEMM\n"
        "rate and read bandwidth of the same ranks. One line per case:\n"
        "  engine l d m r P ms_per_step steps_per_s\n"
        "  dense:    gflops_dense (on 2 m d^l) gflops_packed (on 2 m d C(d+l-2, l-1))\n"
        "            gbps (stored tensor bytes / step time) ratio = gflops_packed / dgemm_gflops\n"
        "            bw_ratio = gbps / read_gbps\n"
        "  implicit: gflops (on 3 d m^2 + 4 d m r) ratio = gflops / dgemm_gflops\n"
        "  dgemm_gflops read_gbps: all P ranks at once (n = 1500 DGEMM; 256 MiB sum)\n"
        "  with P > 1: ms_per_step_P1 (rank 0 alone) and efficiency = t_1 / (P t_P)\n"
        "Default cases: dense 3:300:{10,100,1000}, dense 4:100:{10,100}, implicit\n"
        "3:10:12:2, 3:20:50:3, 3:30:400:3 and 3:1000:1000:10.\n"
        "Last line, case=checkpoint: median time to commit a checkpoint of a 1000 x 1000\n"
        "W (and W0) under DIR (default $TMPDIR or /tmp), and its overhead at the default\n"
        "cadence (run.checkpoint_every = auto: every 300 s). A benchmark, not a test: nothing\n"
        "is asserted; run it on an otherwise idle machine.\n"
        "Line case=lazy_opt (--lazy N, default 8000; 0 skips it): lazy_opt's distributed\n"
        "normal equations of order N = m d (l = 3, d = 100, m = N/100, block 64), assembled\n"
        "and solved with PDPOTRF/PDPOTRS on all P ranks: solve_gflops (n^3/3 + 2 n^2 over the\n"
        "factor + solve time), pdgemm_gflops (PDGEMM of two n x n matrices on the same grid,\n"
        "same run) and ratio = solve_gflops / pdgemm_gflops.\n"
        "Line case=lazy_cg (--lazy-cg M, default 1000; 0 skips it): one product with J^T J\n"
        "of lazy_opt's CG solver (l = 3, d = 100, m = M, never formed), median of N repeats:\n"
        "ms_per_product, gflops (on 6 m^2 d) and ratio = gflops / dgemm_gflops.\n");
}

static otd_err parse_case(const char *s, bench_case *c)
{
    long long d = 0, m = 0, r = 3;
    int l = 0, n = 0;
    const char *colon = strchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof c->engine)
        return OTD_ERROR(OTD_ERR_ARG, "--case '%s': expected ENGINE:l:d:m[:r]", s);
    memcpy(c->engine, s, (size_t)(colon - s));
    c->engine[colon - s] = '\0';
    if (sscanf(colon + 1, "%d:%lld:%lld%n:%lld%n", &l, &d, &m, &n, &r, &n) < 3 ||
        colon[1 + n] != '\0' || l < 2 || d < 1 || m < 1 || r < 1)
        return OTD_ERROR(OTD_ERR_ARG,
                         "--case '%s': expected ENGINE:l:d:m[:r] with l >= 2, d, m, r >= 1", s);
    c->l = l;
    c->d = d;
    c->m = m;
    c->r = r;
    return OTD_OK;
}

static otd_err parse_args(int argc, char **argv, bench_args *a)
{
    otd_err err = OTD_OK;
    a->repeats = 5;
    a->seconds = 0.3;
    a->single = 1;
    a->ckpt_d = 1000;
    a->ckpt_m = 1000;
    a->ckpt_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    a->lazy_n = 8000;
    a->cg_m = 1000;
    /* Room for every --case, or for the default cases when none is given. */
    OTD_ALLOC(a->cases, argc + (int)(sizeof default_cases / sizeof *default_cases));
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        char *end = NULL;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            a->help = 1;
        } else if (strcmp(s, "--no-single") == 0) {
            a->single = 0;
        } else if (strcmp(s, "--no-checkpoint") == 0) {
            a->ckpt_d = 0;
        } else if (i + 1 < argc && strcmp(s, "--checkpoint-dir") == 0) {
            a->ckpt_dir = argv[++i];
        } else if (i + 1 < argc && strcmp(s, "--case") == 0) {
            OTD_CHECK(parse_case(argv[++i], &a->cases[a->ncases++]));
        } else if (i + 1 < argc && strcmp(s, "--lazy") == 0) {
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 0 || v > 1000000 || (v > 0 && (v < 100 || v % 100 != 0)))
                OTD_FAIL(OTD_ERR_ARG, "--lazy '%s': 0, or a multiple of 100 in [100, 1000000]",
                         argv[i]);
            a->lazy_n = v;
        } else if (i + 1 < argc && strcmp(s, "--lazy-cg") == 0) {
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 0 || v > 100000)
                OTD_FAIL(OTD_ERR_ARG, "--lazy-cg '%s': 0, or m in [1, 100000]", argv[i]);
            a->cg_m = v;
        } else if (i + 1 < argc && strcmp(s, "--repeats") == 0) {
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 1000)
                OTD_FAIL(OTD_ERR_ARG, "--repeats '%s': an integer in [1, 1000]", argv[i]);
            a->repeats = (int)v;
        } else if (i + 1 < argc && strcmp(s, "--seconds") == 0) {
            double v = strtod(argv[++i], &end);
            if (*end != '\0' || !(v > 0 && v <= 60))
                OTD_FAIL(OTD_ERR_ARG, "--seconds '%s': a number in (0, 60]", argv[i]);
            a->seconds = v;
        } else {
            OTD_FAIL(OTD_ERR_ARG, "unknown or incomplete option '%s' (see otd bench --help)", s);
        }
    }
    if (a->ncases == 0) {
        a->ncases = (int)(sizeof default_cases / sizeof *default_cases);
        memcpy(a->cases, default_cases, sizeof default_cases);
    }
done:
    return err;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Everything one timed case holds. */
typedef struct {
    otd_config cfg;
    otd_layout lay;
    otd_target *target;
    otd_algo *algo;
    otd_engine *engine;
    double *W, *G;
} bench_run;

static void run_free(bench_run *b)
{
    otd_engine_destroy(b->engine);
    otd_algo_destroy(b->algo);
    otd_target_destroy(b->target);
    otd_config_free(&b->cfg);
    free(b->W);
    free(b->G);
}

static otd_err run_setup(const bench_case *bc, otd_comm *comm, bench_run *b)
{
    otd_err err = OTD_OK;
    char s_e[64], s_l[32], s_d[48], s_m[48], s_r[48];
    snprintf(s_e, sizeof s_e, "engine=%s", bc->engine);
    snprintf(s_l, sizeof s_l, "problem.order=%d", bc->l);
    snprintf(s_d, sizeof s_d, "problem.dim=%lld", (long long)bc->d);
    snprintf(s_m, sizeof s_m, "model.m=%lld", (long long)bc->m);
    snprintf(s_r, sizeof s_r, "problem.rank=%lld", (long long)bc->r);
    /* gd from a unit-scale init: every component active, no epochs. */
    const char *sets[] = {
        s_e, s_l, s_d, s_m, s_r, "problem.target=gaussian", "algo.name=gd", "model.init_scale=1"};
    OTD_CHECK(
        otd_config_parse(NULL, 0, "<bench>", sets, (int)(sizeof sets / sizeof *sets), &b->cfg));
    OTD_CHECK(otd_layout_init(&b->lay, bc->d, otd_comm_rank(comm), otd_comm_size(comm)));
    OTD_CHECK(otd_target_create(&b->cfg, comm, &b->target));
    OTD_ALLOC(b->W, b->lay.nrows * bc->m);
    OTD_ALLOC(b->G, b->lay.nrows * bc->m);
    OTD_CHECK(otd_algo_create(&b->cfg, &b->lay, comm, &b->algo));
    OTD_CHECK(otd_algo_init(b->algo, b->W));
    OTD_CHECK(otd_engine_create(&b->cfg, &b->lay, comm, b->target, &b->engine));
done:
    return err;
}

/* steps gradient steps; seconds per step, the slowest rank's. */
static otd_err time_steps(otd_comm *comm, bench_run *b, int64_t steps, double *sec)
{
    otd_err err = OTD_OK;
    otd_eval ev = {0};
    int n = (int)(b->lay.nrows * b->cfg.model.m);
    OTD_CHECK(otd_comm_barrier(comm));
    double t0 = otd_comm_wtime();
    for (int64_t s = 0; s < steps; s++) {
        OTD_CHECK(otd_engine_eval(b->engine, b->W, b->G, &ev));
        /* a negligible step keeps W (and so the flop count) what it was */
        cblas_daxpy(n, -1e-12, b->G, 1, b->W, 1);
    }
    double t = (otd_comm_wtime() - t0) / (double)steps;
    OTD_CHECK(otd_comm_max(comm, &t, 1));
    *sec = t;
done:
    return err;
}

/* Median seconds per step over repeats of about `seconds` each. */
static otd_err time_case(const bench_case *bc, otd_comm *comm, const bench_args *a, double *sec)
{
    otd_err err = OTD_OK;
    bench_run b;
    double *t = NULL, t1 = 0;
    memset(&b, 0, sizeof b);
    OTD_CHECK(run_setup(bc, comm, &b));
    OTD_ALLOC(t, a->repeats);
    OTD_CHECK(time_steps(comm, &b, 1, &t1)); /* warm-up and calibration */
    OTD_CHECK(time_steps(comm, &b, 1, &t1));
    int64_t steps = (int64_t)ceil(a->seconds / fmax(t1, 1e-9));
    for (int rep = 0; rep < a->repeats; rep++)
        OTD_CHECK(time_steps(comm, &b, steps < 1 ? 1 : steps, &t[rep]));
    qsort(t, (size_t)a->repeats, sizeof *t, cmp_double);
    *sec = t[a->repeats / 2];
done:
    free(t);
    run_free(&b);
    return err;
}

/* DGEMM GFLOP/s of all ranks at once (n x n, each rank its own), and read
 * bandwidth GB/s of all ranks at once (a sum over 256 MiB per rank). */
static otd_err machine_rates(otd_comm *comm, double *dgemm, double *read)
{
    otd_err err = OTD_OK;
    const int n = 1500;
    const int64_t nread = (int64_t)1 << 25;
    double *A = NULL, *B = NULL, *C = NULL, *X = NULL, best = INFINITY, rates[2];
    OTD_ALLOC(A, (int64_t)n * n);
    OTD_ALLOC(B, (int64_t)n * n);
    OTD_ALLOC(C, (int64_t)n * n);
    for (int64_t i = 0; i < (int64_t)n * n; i++) {
        A[i] = 1.0 / (1.0 + (double)(i % 97));
        B[i] = 1.0 / (2.0 + (double)(i % 89));
    }
    for (int rep = 0; rep < 4; rep++) {
        OTD_CHECK(otd_comm_barrier(comm));
        double t0 = otd_comm_wtime();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
        best = fmin(best, otd_comm_wtime() - t0);
    }
    rates[0] = 2.0 * n * (double)n * n / best / 1e9;
    free(A);
    free(B);
    free(C);
    A = B = C = NULL;
    OTD_ALLOC(X, nread);
    for (int64_t i = 0; i < nread; i++)
        X[i] = (double)(i & 1023);
    best = INFINITY;
    volatile double sink = 0;
    for (int rep = 0; rep < 4; rep++) {
        OTD_CHECK(otd_comm_barrier(comm));
        double t0 = otd_comm_wtime(), s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t i = 0; i < nread; i += 4) {
            s0 += X[i];
            s1 += X[i + 1];
            s2 += X[i + 2];
            s3 += X[i + 3];
        }
        sink += s0 + s1 + s2 + s3;
        best = fmin(best, otd_comm_wtime() - t0);
    }
    (void)sink;
    rates[1] = 8.0 * (double)nread / best / 1e9;
    OTD_CHECK(otd_comm_sum(comm, rates, 2));
    *dgemm = rates[0];
    *read = rates[1];
done:
    free(A);
    free(B);
    free(C);
    free(X);
    return err;
}

/* Checkpoint cost: median seconds to commit a checkpoint of a d x m W (and
 * W0) in a fresh directory under dir, written collectively by all ranks. */
static otd_err time_checkpoint(otd_comm *comm, const char *dir, int64_t d, int64_t m, int repeats,
                               double *sec)
{
    otd_err err = OTD_OK;
    otd_layout lay;
    double *W = NULL, *t = NULL;
    char path[4096] = "";
    OTD_CHECK(otd_layout_init(&lay, d, otd_comm_rank(comm), otd_comm_size(comm)));
    OTD_ALLOC(W, lay.nrows * m);
    OTD_ALLOC(t, repeats);
    for (int64_t q = 0; q < lay.nrows * m; q++)
        W[q] = 1.0 / (1.0 + (double)((lay.row0 * m + q) % 1009));
    if (otd_comm_rank(comm) == 0) {
        snprintf(path, sizeof path, "%s/otd-bench-ckpt-XXXXXX", dir);
        if (mkdtemp(path) == NULL)
            err = OTD_ERROR(OTD_ERR_IO, "cannot create a directory under '%s': %s", dir,
                            strerror(errno));
    }
    OTD_CHECK(otd_comm_agree(comm, err));
    OTD_CHECK(otd_comm_bcast(comm, path, sizeof path, 0));
    otd_ckpt_meta meta = {.config_yaml = "bench: true\n"};
    for (int rep = 0; rep < repeats; rep++) {
        meta.iter = rep;
        OTD_CHECK(otd_comm_barrier(comm));
        double t0 = otd_comm_wtime();
        OTD_CHECK(otd_ckpt_write(path, comm, &lay, m, W, W, &meta, 1));
        t[rep] = otd_comm_wtime() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    *sec = t[repeats / 2];
done:
    /* keep = 1 left one file: remove it and the directory */
    if (path[0] != '\0' && otd_comm_rank(comm) == 0) {
        char f[4200];
        snprintf(f, sizeof f, "%s/ckpt-%012d.h5", path, repeats - 1);
        unlink(f);
        rmdir(path);
    }
    free(W);
    free(t);
    return err;
}

/* lazy_opt's solve of order n = m d (l = 3, d = 100) and PDGEMM of the
 * same order on the same grid. The engine cases' setup serves: its W0 (gd's,
 * Gaussian at scale 1) is the lazy start, and its lambda only shifts the
 * diagonal, so matrix, grid and flops are lazy_opt's. */
static otd_err time_lazy(otd_comm *comm, int64_t n, otd_spd_info *info, double *pdgemm)
{
    otd_err err = OTD_OK;
    const bench_case bc = {"implicit", 3, 100, n / 100, 3};
    bench_run b;
    otd_lazy *lz = NULL;
    otd_eval ev = {0};
    memset(&b, 0, sizeof b);
    OTD_CHECK(run_setup(&bc, comm, &b));
    OTD_CHECK(otd_engine_eval(b.engine, b.W, b.G, &ev));
    OTD_CHECK(otd_lazy_create(&b.cfg, &b.lay, comm, b.W, &ev, b.G, b.target, &lz));
    OTD_CHECK(otd_lazy_solve(lz, b.cfg.algo.lazy_block, b.cfg.algo.lazy_ridge, 0.75, b.W, info));
    OTD_CHECK(otd_linalg_pdgemm_rate(comm, n, b.cfg.algo.lazy_block, pdgemm));
done:
    otd_lazy_destroy(lz);
    run_free(&b);
    return err;
}

/* One product with J^T J of lazy_opt's CG (l = 3, d = 100, m): the median
 * seconds over repeats of about `seconds` each, the slowest rank's. */
static otd_err time_lazy_cg(otd_comm *comm, int64_t m, const bench_args *a, double *sec,
                            double *flops)
{
    otd_err err = OTD_OK;
    const bench_case bc = {"implicit", 3, 100, m, 3};
    bench_run b;
    otd_lazy *lz = NULL;
    otd_eval ev = {0};
    double *out = NULL, *t = NULL;
    memset(&b, 0, sizeof b);
    OTD_CHECK(run_setup(&bc, comm, &b));
    OTD_CHECK(otd_engine_eval(b.engine, b.W, b.G, &ev));
    OTD_CHECK(otd_lazy_create(&b.cfg, &b.lay, comm, b.W, &ev, b.G, b.target, &lz));
    OTD_ALLOC(out, b.lay.nrows * m);
    OTD_ALLOC(t, a->repeats);
    OTD_CHECK(otd_lazy_jtj_apply(lz, b.W, out)); /* warm-up */
    for (int rep = 0; rep < a->repeats; rep++) {
        int64_t k = 0;
        OTD_CHECK(otd_comm_barrier(comm));
        double t0 = otd_comm_wtime(), el = 0;
        do {
            OTD_CHECK(otd_lazy_jtj_apply(lz, b.W, out));
            k++;
            el = otd_comm_wtime() - t0;
            /* the same count on every rank: rank 0's clock decides */
            OTD_CHECK(otd_comm_bcast(comm, &el, sizeof el, 0));
        } while (el < a->seconds);
        t[rep] = el / (double)k;
        OTD_CHECK(otd_comm_max(comm, &t[rep], 1));
    }
    qsort(t, (size_t)a->repeats, sizeof *t, cmp_double);
    *sec = t[a->repeats / 2];
    *flops = otd_lazy_cg_flops(lz);
done:
    free(out);
    free(t);
    otd_lazy_destroy(lz);
    run_free(&b);
    return err;
}

static void print_case(const bench_case *bc, int P, double sec, double dgemm, double read,
                       double sec1)
{
    double d = (double)bc->d, m = (double)bc->m, r = (double)bc->r;
    printf("engine=%s l=%d d=%lld m=%lld r=%lld P=%d ms_per_step=%.4g steps_per_s=%.4g", bc->engine,
           bc->l, (long long)bc->d, (long long)bc->m, (long long)bc->r, P, sec * 1e3, 1.0 / sec);
    if (strcmp(bc->engine, "dense") == 0) {
        double np = (double)otd_packed_count(bc->d, bc->l - 1);
        double fd = 2.0 * m * pow(d, bc->l), fp = 2.0 * m * d * np, bytes = 8.0 * d * np;
        printf(" gflops_dense=%.4g gflops_packed=%.4g gbps=%.4g dgemm_gflops=%.4g read_gbps=%.4g "
               "ratio=%.3f bw_ratio=%.3f",
               fd / sec / 1e9, fp / sec / 1e9, bytes / sec / 1e9, dgemm, read,
               fp / sec / 1e9 / dgemm, bytes / sec / 1e9 / read);
    } else {
        double f = 3.0 * d * m * m + 4.0 * d * m * r;
        printf(" gflops=%.4g dgemm_gflops=%.4g ratio=%.3f", f / sec / 1e9, dgemm,
               f / sec / 1e9 / dgemm);
    }
    if (sec1 > 0)
        printf(" ms_per_step_P1=%.4g efficiency=%.3f", sec1 * 1e3, sec1 / (P * sec));
    printf("\n");
    fflush(stdout);
}

int otd_cmd_bench(int argc, char **argv)
{
    otd_err err = OTD_OK;
    otd_comm *comm = NULL, *one = NULL;
    bench_args a;
    double dgemm = 0, read = 0;
    int status;
    memset(&a, 0, sizeof a);
    if ((err = otd_comm_create(&comm)) != OTD_OK)
        return otd_cli_finish(NULL, "bench", err);
    const int root = otd_comm_rank(comm) == 0, P = otd_comm_size(comm);
    OTD_CHECK(parse_args(argc, argv, &a));
    if (a.help) {
        if (root)
            usage(stdout);
        goto done;
    }
    OTD_CHECK(machine_rates(comm, &dgemm, &read));
    if (a.single && P > 1)
        OTD_CHECK(otd_comm_subset(comm, 1, &one));
    for (int c = 0; c < a.ncases; c++) {
        double sec = 0, sec1 = 0;
        OTD_CHECK(time_case(&a.cases[c], comm, &a, &sec));
        /* Rank 0 alone, the others asleep: the same case on one rank. */
        if (one != NULL)
            OTD_CHECK(time_case(&a.cases[c], one, &a, &sec1));
        OTD_CHECK(otd_comm_barrier_idle(comm));
        if (root)
            print_case(&a.cases[c], P, sec, dgemm, read, sec1);
    }
    if (a.ckpt_d > 0) {
        double sec = 0;
        OTD_CHECK(time_checkpoint(comm, a.ckpt_dir, a.ckpt_d, a.ckpt_m, a.repeats, &sec));
        /* At the default cadence (run.checkpoint_every = auto, every 300 s of
         * run time) a checkpoint costs sec / 300 of the run. */
        if (root)
            printf("case=checkpoint d=%lld m=%lld P=%d ckpt_ms=%.4g mb=%.4g cadence_s=300 "
                   "overhead=%.2g\n",
                   (long long)a.ckpt_d, (long long)a.ckpt_m, P, sec * 1e3,
                   16.0 * (double)a.ckpt_d * (double)a.ckpt_m / 1048576.0, sec / 300.0);
    }
    if (a.lazy_n > 0) {
        otd_spd_info info;
        double pdgemm = 0;
        OTD_CHECK(time_lazy(comm, a.lazy_n, &info, &pdgemm));
        if (root)
            printf("case=lazy_opt n=%lld P=%d grid=%dx%d block=%lld solver=%s solve_s=%.4g "
                   "solve_gflops=%.4g pdgemm_gflops=%.4g ratio=%.3f gib_per_rank=%.3g\n",
                   (long long)info.n, P, info.nprow, info.npcol, (long long)info.block, info.solver,
                   info.seconds, info.gflops, pdgemm, pdgemm > 0 ? info.gflops / pdgemm : 0.0,
                   info.bytes_per_rank / 1073741824.0);
    }
    if (a.cg_m > 0) {
        double sec = 0, flops = 0;
        OTD_CHECK(time_lazy_cg(comm, a.cg_m, &a, &sec, &flops));
        if (root)
            printf("case=lazy_cg l=3 d=100 m=%lld P=%d ms_per_product=%.4g gflops=%.4g "
                   "dgemm_gflops=%.4g ratio=%.3f\n",
                   (long long)a.cg_m, P, sec * 1e3, flops / sec / 1e9, dgemm,
                   flops / sec / 1e9 / dgemm);
    }
done:
    status = otd_cli_finish(comm, "bench", err);
    free(a.cases);
    otd_comm_destroy(one);
    otd_comm_destroy(comm);
    return status;
}
