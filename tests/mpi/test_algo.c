/* test_algo.c: the training algorithms (otd_algo.h) through their public
 * API, at every rank count, against references the test computes itself:
 *
 *   - the bl/tdp epoch of every iteration against the schedule
 *     start_s = sum_{t<s} ceil(H_0 (1+gamma)^t) in exact integer arithmetic,
 *     asked in order, backwards and at random (the implementation caches the
 *     current epoch); gd and the lazy algorithms are always in epoch 0;
 *   - re-initialization: only at the first step of an epoch s >= 1, only of
 *     the columns with global norm <= delta_1 (boundary cases exact), to
 *     norm delta_0, drawn from the documented stream (seed, REINIT, epoch),
 *     bitwise the same as on one rank, other columns bitwise untouched;
 *   - initialization: bl/tdp columns of norm exactly delta_0; gd/lazy columns
 *     N(0, sigma^2/d) (sample moments), both the same as on one rank. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_algo.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_rng.h"
#include "otd_test.h"

__extension__ typedef unsigned __int128 u128;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Parse a config from --set strings (NULL-terminated list). */
static int parse(otd_config *cfg, const char *const *sets)
{
    int n = 0;
    while (sets[n] != NULL)
        n++;
    memset(cfg, 0, sizeof *cfg);
    if (otd_config_parse(NULL, 0, "<test>", sets, n, cfg) != OTD_OK) {
        fprintf(stderr, "config: %s\n", otd_error_message());
        return 0;
    }
    return 1;
}

/* A small deterministic generator for the test's own random choices. */
static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The exact schedule: starts[0] = 0, starts[s+1] = starts[s] +
 * ceil(h0 (num/den)^s), for as long as the integers fit and starts stay
 * below limit. Returns the number of starts written (>= 2). */
static int schedule(int64_t h0, uint64_t num, uint64_t den, int64_t limit, int64_t *starts,
                    int max_starts)
{
    u128 p = 1, q = 1; /* num^s, den^s */
    const u128 cap = ((u128)1 << 100);
    int n = 1;
    starts[0] = 0;
    for (int s = 0; n < max_starts; s++) {
        u128 h = ((u128)h0 * p + q - 1) / q; /* ceil(h0 p / q) */
        if (h > (u128)limit || starts[n - 1] + (int64_t)h > limit)
            break;
        starts[n] = starts[n - 1] + (int64_t)h;
        n++;
        if (p > cap / num || q > cap / den)
            break;
        p *= num;
        q *= den;
    }
    return n;
}

/* Epoch of iteration it given starts[0..n): the last s with starts[s] <= it
 * (it < starts[n-1] is required to be sure of the answer). */
static int64_t expected_epoch(const int64_t *starts, int n, int64_t it)
{
    int lo = 0, hi = n - 1; /* starts[lo] <= it < starts[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (starts[mid] <= it)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Global sums of squares of the m columns of a local nrows x m block. */
static void column_sq(const otd_layout *lay, int64_t m, const double *W, double *sq)
{
    for (int64_t i = 0; i < m; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < lay->nrows; j++)
            s += W[j + i * lay->nrows] * W[j + i * lay->nrows];
        sq[i] = s;
    }
    OTD_TEST_OK(otd_comm_sum(otd_test_comm(), sq, (size_t)m));
}

/* The documented draw of a (re-)initialized column: scale * z / ||z|| with
 * z_j = normal(seed, stream, i, j) over all d rows; writes all d rows. */
static void sphere_ref(uint64_t seed, uint32_t stream, int64_t i, int64_t d, double scale,
                       double *col)
{
    long double ss = 0.0L;
    for (int64_t j = 0; j < d; j++) {
        col[j] = otd_rng_normal(seed, stream, (uint32_t)i, (uint64_t)j);
        ss += (long double)col[j] * col[j];
    }
    double f = (double)((long double)scale / sqrtl(ss));
    for (int64_t j = 0; j < d; j++)
        col[j] *= f;
}

/* Copy this rank's rows of the full d x m matrix into the local block. */
static void slice(const otd_layout *lay, int64_t m, const double *full, double *loc)
{
    for (int64_t i = 0; i < m; i++)
        memcpy(loc + i * lay->nrows, full + i * lay->d + lay->row0,
               (size_t)lay->nrows * sizeof *loc);
}

/* ------------------------------------------------------------------ */
/* Epoch boundaries                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
    int64_t h0;
    const char *gamma; /* as given to the config */
    uint64_t num, den; /* 1 + gamma = num / den exactly */
} sched_case;

static const sched_case sched_cases[] = {
    {7, "0.5", 3, 2},  {3, "0", 1, 1},   {10, "1.3", 23, 10},
    {1, "0.25", 5, 4}, {4, "0.5", 3, 2}, /* H_s an exact integer for s <= 2: ceil must not round up
                                          */
    {2, "0.75", 7, 4}, {5, "2", 3, 1},   {1, "0", 1, 1},
};

#define MAX_STARTS 4096
#define DENSE_BOUND 3000 /* every iteration in [0, DENSE_BOUND) is asked */

static int create_algo(const char *name, int64_t h0, const char *gamma, otd_config *cfg,
                       otd_layout *lay, otd_algo **a)
{
    char s_name[64], s_h0[64], s_g[64];
    snprintf(s_name, sizeof s_name, "algo.name=%s", name);
    snprintf(s_h0, sizeof s_h0, "algo.epoch_len=%lld", (long long)h0);
    snprintf(s_g, sizeof s_g, "algo.epoch_growth=%s", gamma);
    const char *sets[] = {s_name, s_h0, s_g, "problem.dim=7", "model.m=3", "run.seed=3", NULL};
    otd_comm *c = otd_test_comm();
    if (!parse(cfg, sets))
        return 0;
    if (otd_layout_init(lay, 7, otd_comm_rank(c), otd_comm_size(c)) != OTD_OK ||
        otd_algo_create(cfg, lay, c, a) != OTD_OK) {
        fprintf(stderr, "setup: %s\n", otd_error_message());
        return 0;
    }
    return 1;
}

/* Ask otd_algo_epoch at `it`, counting and reporting the first mismatches. */
static void ask(otd_algo *a, int64_t it, int64_t want, const char *what, int *bad)
{
    int64_t got = otd_algo_epoch(a, it);
    if (got != want && (*bad)++ < 5)
        fprintf(stderr, "%s: epoch(%lld) = %lld, expected %lld\n", what, (long long)it,
                (long long)got, (long long)want);
}

static void check_schedule(const char *name, const sched_case *c)
{
    static int64_t starts[MAX_STARTS];
    otd_config cfg;
    otd_layout lay;
    otd_algo *a = NULL;
    char what[128];
    int n = schedule(c->h0, c->num, c->den, 2000000, starts, MAX_STARTS);
    int64_t top = starts[n - 1]; /* answers known for it < top */
    int64_t dense = top < DENSE_BOUND ? top : DENSE_BOUND;
    uint64_t rs = 0x9E3779B97F4A7C15ull ^ (uint64_t)c->h0;
    int bad = 0;
    snprintf(what, sizeof what, "%s H0=%lld gamma=%s", name, (long long)c->h0, c->gamma);
    CU_ASSERT_FATAL(n >= 10); /* several epochs inside the checked range */

    /* A fresh handle asked first far out, then back to the start. */
    CU_ASSERT_FATAL(create_algo(name, c->h0, c->gamma, &cfg, &lay, &a));
    ask(a, top - 1, n - 2, what, &bad);
    ask(a, 0, 0, what, &bad);
    ask(a, starts[n / 2], n / 2, what, &bad);
    ask(a, starts[n / 2] - 1, n / 2 - 1, what, &bad);
    /* In order, as the step loop asks. */
    for (int64_t it = 0; it < dense; it++)
        ask(a, it, expected_epoch(starts, n, it), what, &bad);
    /* Backwards. */
    for (int64_t it = dense - 1; it >= 0; it--)
        ask(a, it, expected_epoch(starts, n, it), what, &bad);
    /* Every boundary, last first: one past, the start, one before. */
    for (int s = n - 2; s >= 1; s--) {
        if (starts[s] + 1 < top)
            ask(a, starts[s] + 1, expected_epoch(starts, n, starts[s] + 1), what, &bad);
        ask(a, starts[s], s, what, &bad);
        ask(a, starts[s] - 1, s - 1, what, &bad);
    }
    /* Random jumps over the whole range, and near the origin. */
    for (int k = 0; k < 4000; k++) {
        int64_t it = (int64_t)(xorshift(&rs) % (uint64_t)top);
        if (k % 2)
            it %= (c->h0 * 4);
        ask(a, it, expected_epoch(starts, n, it), what, &bad);
    }
    otd_algo_destroy(a);
    otd_config_free(&cfg);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_epochs_bl(void)
{
    for (size_t k = 0; k < sizeof sched_cases / sizeof *sched_cases; k++)
        check_schedule("bl", &sched_cases[k]);
}

static void test_epochs_tdp(void)
{
    for (size_t k = 0; k < sizeof sched_cases / sizeof *sched_cases; k++)
        check_schedule("tdp", &sched_cases[k]);
}

/* gamma = 0: epoch(it) = floor(it / H_0) far out (a jump of 10^6 epochs). */
static void test_epochs_far(void)
{
    otd_config cfg;
    otd_layout lay;
    otd_algo *a = NULL;
    CU_ASSERT_FATAL(create_algo("bl", 3, "0", &cfg, &lay, &a));
    int64_t its[] = {3000000, 2999999, 3000002, 5, 3000001, 6, 2};
    for (size_t k = 0; k < sizeof its / sizeof *its; k++)
        CU_ASSERT_EQUAL(otd_algo_epoch(a, its[k]), its[k] / 3);
    otd_algo_destroy(a);
    otd_config_free(&cfg);
}

/* gd and the lazy algorithms have no epochs. */
static void test_epochs_none(void)
{
    const char *names[] = {"gd", "lazy_gd", "lazy_opt"};
    for (int k = 0; k < 3; k++) {
        otd_config cfg;
        otd_layout lay;
        otd_algo *a = NULL;
        uint64_t rs = 77;
        int bad = 0;
        CU_ASSERT_FATAL(create_algo(names[k], 3, "0.5", &cfg, &lay, &a));
        for (int64_t it = 0; it < 200; it++)
            ask(a, it, 0, names[k], &bad);
        for (int j = 0; j < 200; j++)
            ask(a, (int64_t)(xorshift(&rs) % 1000000), 0, names[k], &bad);
        CU_ASSERT_EQUAL(bad, 0);
        otd_algo_destroy(a);
        otd_config_free(&cfg);
    }
}

/* ------------------------------------------------------------------ */
/* Re-initialization                                                   */
/* ------------------------------------------------------------------ */

#define RD 7             /* rows: 3 and 4 do not divide it */
#define RM 10            /* columns */
#define DELTA1 0.0078125 /* 2^-7: delta_1^2 = 2^-14 exactly */
#define DELTA0 0.25      /* init_scale */
#define RSEED 11
#define NROLES 10

/* Column roles; which ones the rule re-initializes is decided by the test
 * from the global norm it computes, not from this list. */
static void fill_role(int role, int64_t i, int64_t it, double *col)
{
    int64_t at = (i + it) % RD; /* the row of a single nonzero entry */
    double s = 0.0;
    memset(col, 0, RD * sizeof *col);
    switch (role) {
    case 0: /* zero */
        break;
    case 1: /* norm exactly delta_1 (redrawn: the rule is <=) */
        col[at] = DELTA1;
        break;
    case 2: /* one ulp above delta_1 (kept) */
        col[at] = nextafter(DELTA1, 1.0);
        break;
    case 3: /* one ulp below delta_1 (redrawn) */
        col[at] = -nextafter(DELTA1, 0.0);
        break;
    case 4: /* spread over every rank, global norm 0.79 delta_1 (redrawn) */
        for (int j = 0; j < RD; j++)
            col[j] = 0.3 * DELTA1;
        break;
    case 5: /* global norm 1.46 delta_1 (kept) although at P >= 3 no rank
               holds more than 0.95 delta_1 of it */
        for (int j = 0; j < RD; j++)
            col[j] = (j % 2 ? -0.55 : 0.55) * DELTA1;
        break;
    case 6: /* large */
        for (int j = 0; j < RD; j++)
            col[j] = otd_rng_normal(5, 0xABCDEFu, (uint32_t)(i + 100 * it), (uint64_t)j);
        break;
    case 7:   /* generic small (redrawn) */
    case 8:   /* generic just above (kept) */
    case 9: { /* norm delta_0 (kept) */
        double scale = role == 7 ? 0.5 * DELTA1 : role == 8 ? 1.01 * DELTA1 : DELTA0;
        for (int j = 0; j < RD; j++) {
            col[j] = otd_rng_normal(6, 0xABCDEFu, (uint32_t)(i + 100 * it), (uint64_t)j);
            s += col[j] * col[j];
        }
        for (int j = 0; j < RD; j++)
            col[j] *= scale / sqrt(s);
        break;
    }
    }
}

typedef struct {
    otd_config cfg;
    otd_layout lay, lay1; /* this rank's rows; one rank holding all d rows */
    otd_comm *self;
    otd_algo *a, *a1; /* on the job's communicator; on this rank alone */
    int64_t starts[64];
    int nstarts;
    double *full, *full1, *loc, *before;
    double last[RM][RD]; /* the last redraw of each column */
    int have_last[RM];
    int64_t total_reinit, redraw_pairs, draw_checks;
} reinit_fix;

static int reinit_setup(reinit_fix *f, const char *name)
{
    char s_name[64], s_thr[64], s_init[64];
    otd_comm *c = otd_test_comm();
    memset(f, 0, sizeof *f);
    snprintf(s_name, sizeof s_name, "algo.name=%s", name);
    snprintf(s_thr, sizeof s_thr, "algo.reinit_threshold=%.17g", DELTA1);
    snprintf(s_init, sizeof s_init, "model.init_scale=%.17g", DELTA0);
    const char *sets[] = {s_name,
                          s_thr,
                          s_init,
                          "problem.dim=7",
                          "model.m=10",
                          "run.seed=11",
                          "algo.epoch_len=3",
                          "algo.epoch_growth=0.5",
                          NULL};
    if (!parse(&f->cfg, sets))
        return 0;
    if (otd_layout_init(&f->lay, RD, otd_comm_rank(c), otd_comm_size(c)) != OTD_OK ||
        otd_layout_init(&f->lay1, RD, 0, 1) != OTD_OK || otd_comm_self(&f->self) != OTD_OK ||
        otd_algo_create(&f->cfg, &f->lay, c, &f->a) != OTD_OK ||
        otd_algo_create(&f->cfg, &f->lay1, f->self, &f->a1) != OTD_OK) {
        fprintf(stderr, "setup: %s\n", otd_error_message());
        return 0;
    }
    /* H = 3, 5, 7, 11, 16, ...: starts 0, 3, 8, 15, 26, 42, 65 */
    f->nstarts = schedule(3, 3, 2, 100, f->starts, 64);
    f->full = calloc(RD * RM, sizeof(double));
    f->full1 = calloc(RD * RM, sizeof(double));
    f->loc = calloc((size_t)(f->lay.nrows * RM), sizeof(double));
    f->before = calloc((size_t)(f->lay.nrows * RM), sizeof(double));
    return f->nstarts >= 6;
}

static void reinit_teardown(reinit_fix *f)
{
    otd_algo_destroy(f->a);
    otd_algo_destroy(f->a1);
    otd_comm_destroy(f->self);
    otd_config_free(&f->cfg);
    free(f->full);
    free(f->full1);
    free(f->loc);
    free(f->before);
}

/* One before_step at iteration it on the pattern of roles rotated by it;
 * every check against the test's own prediction. */
static void reinit_step(reinit_fix *f, int64_t it)
{
    const otd_layout *lay = &f->lay;
    const int64_t nr = lay->nrows;
    double sq[RM], ref[RD];
    int redraw[RM];
    int64_t n = -1, n1 = -1, want = 0;
    int s = 0;
    for (int k = 1; k < f->nstarts; k++)
        if (f->starts[k] == it)
            s = k; /* it is the first step of epoch s >= 1 */
    for (int64_t i = 0; i < RM; i++)
        fill_role((int)((i + it) % NROLES), i, it, f->full + i * RD);
    /* The test's verdict, from the global norms (exact for the single-entry
     * boundary columns: one nonzero square, the rest zeros). */
    for (int64_t i = 0; i < RM; i++) {
        double t = 0.0;
        for (int j = 0; j < RD; j++)
            t += f->full[j + i * RD] * f->full[j + i * RD];
        redraw[i] = s > 0 && t <= DELTA1 * DELTA1;
        want += redraw[i];
    }
    slice(lay, RM, f->full, f->loc);
    memcpy(f->before, f->loc, (size_t)(nr * RM) * sizeof(double));
    memcpy(f->full1, f->full, RD * RM * sizeof(double));
    OTD_TEST_OK(otd_algo_before_step(f->a, it, f->loc, &n));
    OTD_TEST_OK(otd_algo_before_step(f->a1, it, f->full1, &n1));
    if (n != want || n1 != want)
        fprintf(stderr,
                "iteration %lld (epoch start %d): n_reinit %lld (one rank: %lld), "
                "expected %lld\n",
                (long long)it, s, (long long)n, (long long)n1, (long long)want);
    CU_ASSERT_EQUAL(n, want);
    CU_ASSERT_EQUAL(n1, want);
    f->total_reinit += n;

    column_sq(lay, RM, f->loc, sq);
    for (int64_t i = 0; i < RM; i++) {
        double *col = f->loc + i * nr;
        int same_as_one_rank = 1, unchanged = 1, matches_ref = 1, differs = 0;
        for (int64_t j = 0; j < nr; j++) {
            same_as_one_rank &= col[j] == f->full1[lay->row0 + j + i * RD];
            unchanged &= col[j] == f->before[j + i * nr];
        }
        /* Whatever happened, it happened bitwise as on one rank. */
        CU_ASSERT(same_as_one_rank);
        if (!redraw[i]) {
            if (!unchanged)
                fprintf(stderr, "iteration %lld: column %lld changed (norm^2 %.17g)\n",
                        (long long)it, (long long)i, sq[i]);
            CU_ASSERT(unchanged);
            continue;
        }
        /* A redrawn column: norm delta_0, the documented draw of epoch s. */
        if (fabs(sqrt(sq[i]) - DELTA0) > 1e-14 * DELTA0)
            fprintf(stderr, "iteration %lld: column %lld redrawn to norm %.17g, expected %.17g\n",
                    (long long)it, (long long)i, sqrt(sq[i]), DELTA0);
        CU_ASSERT(fabs(sqrt(sq[i]) - DELTA0) <= 1e-14 * DELTA0);
        sphere_ref(RSEED, otd_rng_stream(OTD_RNG_REINIT, (uint32_t)s), i, RD, DELTA0, ref);
        for (int64_t j = 0; j < nr; j++)
            matches_ref &= fabs(col[j] - ref[lay->row0 + j]) <= 1e-15 * DELTA0;
        CU_ASSERT(matches_ref);
        f->draw_checks++;
        /* A later epoch draws anew (checked on the full column). */
        if (f->have_last[i]) {
            for (int j = 0; j < RD; j++)
                differs |= f->full1[j + i * RD] != f->last[i][j];
            CU_ASSERT(differs);
            f->redraw_pairs++;
        }
        memcpy(f->last[i], f->full1 + i * RD, RD * sizeof(double));
        f->have_last[i] = 1;
    }
}

static void check_reinit(const char *name)
{
    reinit_fix f;
    CU_ASSERT_FATAL(reinit_setup(&f, name));
    CU_ASSERT_EQUAL(f.starts[5], 42); /* the schedule the iterations below assume */
    /* In order over five epoch starts (iteration 0 included: no redraw). */
    for (int64_t it = 0; it <= 44; it++)
        reinit_step(&f, it);
    /* The five starts each redraw 5 of the 10 columns. */
    CU_ASSERT_EQUAL(f.total_reinit, 25);
    CU_ASSERT(f.redraw_pairs >= 10);
    /* Out of order (a resumed run starts anywhere). */
    int64_t its[] = {42, 3, 41, 26, 0, 15, 8, 9, 27, 2, 43, 16, 14, 7, 4, 66, 65, 1};
    for (size_t k = 0; k < sizeof its / sizeof *its; k++) {
        memset(f.have_last, 0, sizeof f.have_last);
        reinit_step(&f, its[k]);
    }
    CU_ASSERT_EQUAL(f.total_reinit, 25 + 6 * 5);
    CU_ASSERT(f.draw_checks == 55);
    reinit_teardown(&f);
}

static void test_reinit_bl(void)
{
    check_reinit("bl");
}

static void test_reinit_tdp(void)
{
    check_reinit("tdp");
}

/* gd and the lazy algorithms never touch W in before_step, even with zero
 * columns at what would be bl's epoch starts. */
static void test_reinit_none(void)
{
    const char *names[] = {"gd", "lazy_gd", "lazy_opt"};
    otd_comm *c = otd_test_comm();
    for (int k = 0; k < 3; k++) {
        otd_config cfg;
        otd_layout lay;
        otd_algo *a = NULL;
        char s_name[64];
        snprintf(s_name, sizeof s_name, "algo.name=%s", names[k]);
        const char *sets[] = {
            s_name, "problem.dim=7", "model.m=10", "algo.epoch_len=3", "algo.reinit_threshold=1",
            NULL};
        CU_ASSERT_FATAL(parse(&cfg, sets));
        OTD_TEST_OK(otd_layout_init(&lay, RD, otd_comm_rank(c), otd_comm_size(c)));
        OTD_TEST_OK(otd_algo_create(&cfg, &lay, c, &a));
        double *full = calloc(RD * RM, sizeof(double));
        double *loc = calloc((size_t)(lay.nrows * RM), sizeof(double));
        double *before = calloc((size_t)(lay.nrows * RM), sizeof(double));
        int unchanged = 1, zero = 1;
        for (int64_t it = 0; it < 30; it++) {
            int64_t n = -1;
            for (int64_t i = 0; i < RM; i++)
                fill_role((int)((i + it) % NROLES), i, it, full + i * RD);
            slice(&lay, RM, full, loc);
            memcpy(before, loc, (size_t)(lay.nrows * RM) * sizeof(double));
            OTD_TEST_OK(otd_algo_before_step(a, it, loc, &n));
            zero &= n == 0;
            unchanged &= memcmp(before, loc, (size_t)(lay.nrows * RM) * sizeof(double)) == 0;
        }
        CU_ASSERT(zero);
        CU_ASSERT(unchanged);
        otd_algo_destroy(a);
        otd_config_free(&cfg);
        free(full);
        free(loc);
        free(before);
    }
}

/* ------------------------------------------------------------------ */
/* Initialization                                                      */
/* ------------------------------------------------------------------ */

/* Initial W of algorithm `name` on this rank's rows and on one rank holding
 * all d rows; checks they agree bitwise. Returns the local block. */
static double *init_both(const char *name, const char *scale, int64_t d, int64_t m, otd_config *cfg,
                         otd_layout *lay, double **full_out)
{
    char s_name[64], s_d[64], s_m[64], s_init[64];
    otd_comm *c = otd_test_comm(), *self = NULL;
    otd_layout lay1;
    otd_algo *a = NULL, *a1 = NULL;
    snprintf(s_name, sizeof s_name, "algo.name=%s", name);
    snprintf(s_d, sizeof s_d, "problem.dim=%lld", (long long)d);
    snprintf(s_m, sizeof s_m, "model.m=%lld", (long long)m);
    snprintf(s_init, sizeof s_init, "model.init_scale=%s", scale ? scale : "auto");
    const char *sets[] = {s_name, s_d, s_m, "run.seed=21", s_init, NULL};
    if (!parse(cfg, sets))
        return NULL;
    double *loc = NULL, *full = calloc((size_t)(d * m), sizeof(double));
    OTD_TEST_OK(otd_layout_init(lay, d, otd_comm_rank(c), otd_comm_size(c)));
    OTD_TEST_OK(otd_layout_init(&lay1, d, 0, 1));
    OTD_TEST_OK(otd_comm_self(&self));
    loc = calloc((size_t)(lay->nrows * m), sizeof(double));
    OTD_TEST_OK(otd_algo_create(cfg, lay, c, &a));
    OTD_TEST_OK(otd_algo_create(cfg, &lay1, self, &a1));
    OTD_TEST_OK(otd_algo_init(a, loc));
    OTD_TEST_OK(otd_algo_init(a1, full));
    int same = 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < lay->nrows; j++)
            same &= loc[j + i * lay->nrows] == full[lay->row0 + j + i * d];
    CU_ASSERT(same);
    otd_algo_destroy(a);
    otd_algo_destroy(a1);
    otd_comm_destroy(self);
    *full_out = full;
    return loc;
}

/* bl/tdp: every column has norm exactly delta_0 and is the documented draw. */
static void check_init_sphere(const char *name)
{
    const int64_t d = 23, m = 40;
    const double delta0 = 0.37;
    otd_config cfg;
    otd_layout lay;
    double *full = NULL, sq[40], ref[23];
    double *loc = init_both(name, "0.37", d, m, &cfg, &lay, &full);
    CU_ASSERT_FATAL(loc != NULL);
    column_sq(&lay, m, loc, sq);
    int norms = 1, refs = 1;
    double maxcos = 0.0;
    for (int64_t i = 0; i < m; i++) {
        norms &= fabs(sqrt(sq[i]) - delta0) <= 1e-14 * delta0;
        sphere_ref(21, otd_rng_stream(OTD_RNG_INIT, 0), i, d, delta0, ref);
        for (int64_t j = 0; j < lay.nrows; j++)
            refs &= fabs(loc[j + i * lay.nrows] - ref[lay.row0 + j]) <= 1e-15 * delta0;
        if (i > 0) { /* distinct directions */
            double dot = 0.0;
            for (int64_t j = 0; j < d; j++)
                dot += full[j + i * d] * full[j];
            maxcos = fmax(maxcos, fabs(dot) / (delta0 * delta0));
        }
    }
    CU_ASSERT(norms);
    CU_ASSERT(refs);
    CU_ASSERT(maxcos < 0.95);
    free(loc);
    free(full);
    otd_config_free(&cfg);
}

static void test_init_bl(void)
{
    check_init_sphere("bl");
}

static void test_init_tdp(void)
{
    check_init_sphere("tdp");
}

/* gd, lazy_gd, lazy_opt: entries N(0, sigma^2/d): over N = m d entries the
 * mean is within 4 standard errors of 0 and the mean square within 4 of
 * sigma^2/d (standard error sqrt(2/N) sigma^2/d); each entry is the
 * documented draw sigma/sqrt(d) z. scale NULL: the default sigma = 1. */
static void check_init_gauss(const char *name, const char *scale, double sigma)
{
    const int64_t d = 50, m = 200;
    const double n = (double)(d * m), var = sigma * sigma / (double)d;
    otd_config cfg;
    otd_layout lay;
    double *full = NULL, mom[2] = {0, 0};
    double *loc = init_both(name, scale, d, m, &cfg, &lay, &full);
    CU_ASSERT_FATAL(loc != NULL);
    CU_ASSERT_EQUAL(cfg.model.init_scale, sigma);
    int refs = 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < lay.nrows; j++) {
            double w = loc[j + i * lay.nrows];
            double z = otd_rng_normal(21, otd_rng_stream(OTD_RNG_INIT, 0), (uint32_t)i,
                                      (uint64_t)(lay.row0 + j));
            mom[0] += w;
            mom[1] += w * w;
            refs &= fabs(w - sigma / sqrt((double)d) * z) <= 1e-15 * sigma;
        }
    OTD_TEST_OK(otd_comm_sum(otd_test_comm(), mom, 2));
    double mean = mom[0] / n, msq = mom[1] / n;
    if (fabs(msq - var) > 4 * sqrt(2 / n) * var || fabs(mean) > 4 * sqrt(var / n))
        fprintf(stderr, "%s: mean %.6g mean square %.6g, expected 0 and %.6g\n", name, mean, msq,
                var);
    CU_ASSERT(fabs(msq - var) <= 4 * sqrt(2 / n) * var);
    CU_ASSERT(fabs(mean) <= 4 * sqrt(var / n));
    CU_ASSERT(refs);
    free(loc);
    free(full);
    otd_config_free(&cfg);
}

static void test_init_gauss(void)
{
    check_init_gauss("gd", "1.7", 1.7);
    check_init_gauss("gd", NULL, 1.0);
    check_init_gauss("lazy_gd", "0.3", 0.3);
    check_init_gauss("lazy_opt", NULL, 1.0);
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("algo", NULL, NULL);
    CU_add_test(s, "bl epochs vs exact schedule, in and out of order", test_epochs_bl);
    CU_add_test(s, "tdp epochs vs exact schedule, in and out of order", test_epochs_tdp);
    CU_add_test(s, "gamma = 0 epochs far out", test_epochs_far);
    CU_add_test(s, "gd and lazy: always epoch 0", test_epochs_none);
    CU_add_test(s, "bl re-initialization: when, which, how", test_reinit_bl);
    CU_add_test(s, "tdp re-initialization: when, which, how", test_reinit_tdp);
    CU_add_test(s, "gd and lazy: before_step leaves W alone", test_reinit_none);
    CU_add_test(s, "bl initial columns of norm delta_0", test_init_bl);
    CU_add_test(s, "tdp initial columns of norm delta_0", test_init_tdp);
    CU_add_test(s, "gd and lazy initial columns N(0, sigma^2/d)", test_init_gauss);
}
