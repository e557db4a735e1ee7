/* jobs.c: a sweep's points packed into Slurm jobs, and each job's batch
 * script and share (see otd_sweep.h; docs/file-formats.md, "Packed jobs").
 *
 * A job runs `otd sweep-run DIR --share FILE` over its allocation: the
 * in-allocation runner (otd_runner.h) takes its share's points, largest
 * estimated cost first, in groups of each point's ranks. The packing uses
 * the same estimate (otd_algo_cost, via each point's `cost`), turned into
 * seconds by an assumed rate per rank. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_sweep.h"
#include "otd/otd_text.h"

/* The longest time limit otd writes. */
#define MAX_SECONDS (365 * 86400)

/* ------------------------------------------------------------ time limits */

/* A run of decimal digits, at most 7 of them (no overflow below). */
static int digits(const char *s, size_t n, long *out)
{
    long v = 0;
    if (n == 0 || n > 7)
        return 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return 0;
        v = 10 * v + (s[k] - '0');
    }
    *out = v;
    return 1;
}

otd_err otd_sweep_parse_time(const char *text, const char *what, int *seconds)
{
    const char *dash = strchr(text, '-'), *p = dash ? dash + 1 : text;
    long days = 0, f[3] = {0, 0, 0}, total;
    int nf = 0, ok = 1;
    if (dash != NULL)
        ok = digits(text, (size_t)(dash - text), &days);
    while (ok) {
        size_t n = strcspn(p, ":");
        if (nf == 3 || !digits(p, n, &f[nf++])) {
            ok = 0;
            break;
        }
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    if (ok) {
        if (dash != NULL) /* days-hours[:minutes[:seconds]] */
            total = days * 86400 + f[0] * 3600 + f[1] * 60 + f[2];
        else if (nf == 3) /* hours:minutes:seconds */
            total = f[0] * 3600 + f[1] * 60 + f[2];
        else /* minutes[:seconds] */
            total = f[0] * 60 + f[1];
        if (total > 0 && total <= MAX_SECONDS) {
            *seconds = (int)total;
            return OTD_OK;
        }
    }
    return OTD_ERROR(OTD_ERR_CONFIG,
                     "%s: time '%s': expected a Slurm time limit above 0 and at most 365 days: "
                     "minutes, minutes:seconds, hours:minutes:seconds, days-hours, "
                     "days-hours:minutes or days-hours:minutes:seconds (e.g. 01:30:00)",
                     what, text);
}

void otd_sweep_format_time(int seconds, char *buf, size_t cap)
{
    int d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
    if (d > 0)
        snprintf(buf, cap, "%d-%02d:%02d:%02d", d, h, m, s);
    else
        snprintf(buf, cap, "%02d:%02d:%02d", h, m, s);
}

/* ---------------------------------------------------------------- packing */

double otd_sweep_point_seconds(const otd_sweep_point *p, double gflops)
{
    int r = p->ranks > 0 ? p->ranks : 1;
    return p->cost / ((double)r * gflops * 1e9) + OTD_SWEEP_POINT_OVERHEAD;
}

void otd_sweep_plan_free(otd_sweep_plan *plan)
{
    for (int64_t k = 0; k < plan->njobs; k++)
        free(plan->jobs[k].idx);
    free(plan->jobs);
    memset(plan, 0, sizeof *plan);
}

/* A min-heap of jobs by load, ties by job number: the least loaded job,
 * the first of equals, is on top. */
typedef struct {
    double load;
    int64_t job;
} slot;

static int slot_less(const slot *a, const slot *b)
{
    return a->load < b->load || (a->load == b->load && a->job < b->job);
}

static void heap_down(slot *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && slot_less(&h[l], &h[m]))
            m = l;
        if (r < n && slot_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        slot t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* A shared point: its place in idx[], ranks, seconds and rank-seconds. */
typedef struct {
    int64_t index;
    int ranks, rclass;
    double seconds, load;
} item;

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->load != y->load)
        return x->load > y->load ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* Put items[0..m) into K jobs (job[i]), largest first into the least
 * loaded; span[k]: job k's estimated seconds, its classes of ranks one
 * after the other as the runner runs them, each its load over its groups
 * plus its longest point's share of the rest (the bound of list
 * scheduling, longest first). */
static otd_err assign(const item *items, int64_t m, int64_t K, const int *rk, int nr, int ntasks,
                      int64_t *job, double *span)
{
    otd_err err = OTD_OK;
    slot *h = NULL;
    double *sum = NULL, *mx = NULL;
    OTD_ALLOC(h, K);
    OTD_ALLOC(sum, K * nr);
    OTD_ALLOC(mx, K * nr);
    for (int64_t k = 0; k < K; k++)
        h[k] = (slot){0.0, k};
    for (int64_t i = 0; i < m; i++) {
        int64_t k = h[0].job;
        job[i] = k;
        h[0].load += items[i].load;
        heap_down(h, K, 0);
        sum[k * nr + items[i].rclass] += items[i].seconds;
        if (items[i].seconds > mx[k * nr + items[i].rclass])
            mx[k * nr + items[i].rclass] = items[i].seconds;
    }
    for (int64_t k = 0; k < K; k++) {
        span[k] = 0.0;
        for (int c = 0; c < nr; c++) {
            double g = (double)(ntasks / rk[c]);
            if (sum[k * nr + c] > 0)
                span[k] += sum[k * nr + c] / g + mx[k * nr + c] * (g - 1) / g;
        }
    }
done:
    free(h);
    free(sum);
    free(mx);
    return err;
}

otd_err otd_sweep_check_job_opts(const otd_sweep *s, const otd_sweep_job_opts *o)
{
    const otd_sweep_slurm *sl = otd_sweep_slurm_settings(s);
    int nodes = o->nodes > 0 ? o->nodes : sl->nodes > 0 ? sl->nodes : 1;
    int ntasks = o->ntasks > 0 ? o->ntasks : sl->ntasks;
    /* ntasks by default is at least nodes. */
    if (ntasks > 0 && ntasks < nodes)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "ntasks = %d is less than nodes = %d: a job needs a task per node", ntasks,
                         nodes);
    return OTD_OK;
}

otd_err otd_sweep_pack(const otd_sweep *s, const otd_sweep_job_opts *o, const int64_t *idx,
                       int64_t n, otd_sweep_plan *plan)
{
    otd_err err = OTD_OK;
    const otd_sweep_slurm *sl = otd_sweep_slurm_settings(s);
    item *items = NULL;
    int64_t *job = NULL, *fill = NULL, *where = NULL, m = 0, own = 0, K = 0, want;
    double *span = NULL, total = 0.0;
    int *rk = NULL, nr = 0, maxr = 1;
    memset(plan, 0, sizeof *plan);
    plan->nodes = o->nodes > 0 ? o->nodes : sl->nodes > 0 ? sl->nodes : 1;
    for (int64_t i = 0; i < n; i++)
        if (otd_sweep_point_at(s, idx[i])->ranks > maxr)
            maxr = otd_sweep_point_at(s, idx[i])->ranks;
    plan->ntasks = o->ntasks > 0    ? o->ntasks
                   : sl->ntasks > 0 ? sl->ntasks
                                    : (maxr > plan->nodes ? maxr : plan->nodes);
    plan->seconds = o->time_seconds > 0    ? o->time_seconds
                    : sl->time_seconds > 0 ? sl->time_seconds
                                           : OTD_SWEEP_TIME_DEFAULT;
    plan->gflops = sl->gflops;
    OTD_CHECK(otd_sweep_check_job_opts(s, o));
    plan->usable = (double)plan->seconds - sl->signal_seconds - OTD_SWEEP_JOB_OVERHEAD;
    if (plan->usable < 0.5 * plan->seconds)
        plan->usable = 0.5 * plan->seconds;
    want = o->jobs > 0 ? o->jobs : sl->jobs;

    /* Shared points, and those too large to share. */
    OTD_ALLOC(items, n);
    OTD_ALLOC(rk, n);
    OTD_ALLOC(where, n);
    for (int64_t i = 0; i < n; i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, idx[i]);
        double w = otd_sweep_point_seconds(p, plan->gflops);
        where[i] = -1;
        if (p->ranks > plan->ntasks || w > plan->usable) {
            own++;
            continue;
        }
        items[m++] = (item){i, p->ranks, 0, w, w * p->ranks};
        total += w * p->ranks;
        rk[nr++] = p->ranks;
    }
    /* The classes of ranks among them. */
    qsort(rk, (size_t)nr, sizeof *rk, cmp_int);
    {
        int u = 0;
        for (int c = 0; c < nr; c++)
            if (u == 0 || rk[c] != rk[u - 1])
                rk[u++] = rk[c];
        nr = u;
    }
    for (int64_t i = 0; i < m; i++)
        for (int c = 0; c < nr; c++)
            if (rk[c] == items[i].ranks)
                items[i].rclass = c;
    qsort(items, (size_t)m, sizeof *items, cmp_item);

    /* How many shared jobs: as asked, or the fewest whose estimates fit. */
    OTD_ALLOC(job, m);
    OTD_ALLOC(span, m);
    if (m > 0) {
        K = want > 0 ? want : (int64_t)ceil(total / (plan->ntasks * plan->usable));
        K = K < 1 ? 1 : K > m ? m : K;
        for (;;) {
            double worst = 0.0;
            OTD_CHECK(assign(items, m, K, rk, nr, plan->ntasks, job, span));
            for (int64_t k = 0; k < K; k++)
                worst = span[k] > worst ? span[k] : worst;
            if (want > 0 || worst <= plan->usable || K == m)
                break;
            /* More jobs, in proportion to the excess. */
            int64_t next = (int64_t)ceil((double)K * worst / plan->usable);
            K = next > K ? next : K + 1;
            K = K > m ? m : K;
        }
    }

    plan->nshared = K;
    plan->njobs = K + own;
    OTD_ALLOC(plan->jobs, plan->njobs);
    OTD_ALLOC(fill, K);
    for (int64_t k = 0; k < K; k++) {
        otd_sweep_job *j = &plan->jobs[k];
        *j = (otd_sweep_job){plan->nodes, plan->ntasks, plan->seconds, 0, span[k], 0, NULL};
    }
    for (int64_t e = 0; e < m; e++) {
        plan->jobs[job[e]].n++;
        where[items[e].index] = job[e];
    }
    for (int64_t k = 0; k < K; k++)
        OTD_ALLOC(plan->jobs[k].idx, plan->jobs[k].n);
    /* Each share in sweep order: idx[] ascends, so walk it. */
    for (int64_t i = 0, own_k = K; i < n; i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, idx[i]);
        double w = otd_sweep_point_seconds(p, plan->gflops);
        if (where[i] < 0) {
            /* A job of its own: the point's ranks at the shares' ranks per
             * node, and time for twice its estimate. */
            otd_sweep_job *j = &plan->jobs[own_k++];
            double t = ceil((2.0 * w + sl->signal_seconds + OTD_SWEEP_JOB_OVERHEAD) / 60.0) * 60.0;
            int nodes = (int)(((int64_t)p->ranks * plan->nodes + plan->ntasks - 1) / plan->ntasks);
            *j = (otd_sweep_job){nodes < 1          ? 1
                                 : nodes > p->ranks ? p->ranks
                                                    : nodes,
                                 p->ranks,
                                 t > MAX_SECONDS     ? MAX_SECONDS
                                 : t > plan->seconds ? (int)t
                                                     : plan->seconds,
                                 1,
                                 w,
                                 1,
                                 NULL};
            OTD_ALLOC(j->idx, 1);
            j->idx[0] = idx[i];
            continue;
        }
        plan->jobs[where[i]].idx[fill[where[i]]++] = idx[i];
    }
done:
    if (err != OTD_OK)
        otd_sweep_plan_free(plan);
    free(items);
    free(rk);
    free(job);
    free(span);
    free(fill);
    free(where);
    return err;
}

/* ---------------------------------------------------------- batch scripts */

otd_err otd_sweep_job_text(const otd_sweep *s, const char *dir, const char *stem,
                           const otd_sweep_job *job, const otd_sweep_write_opts *o, char **text)
{
    otd_err err = OTD_OK;
    otd_strbuf b = {0}, w = {0};
    const otd_sweep_slurm *sl = otd_sweep_slurm_settings(s);
    char t[32];
    *text = NULL;
    OTD_CHECK(otd_sweep_check_script_path(dir));
    if (strpbrk(o->otd_bin, "\n\r") != NULL || strpbrk(o->jobs_dir, "\n\r") != NULL)
        OTD_FAIL(OTD_ERR_ARG, "a path with a line break cannot go into a batch script");
    otd_sweep_format_time(job->seconds, t, sizeof t);
    OTD_CHECK(otd_strbuf_printf(&b,
                                "#!/bin/bash\n#SBATCH --job-name=otd-%s\n#SBATCH --nodes=%d\n"
                                "#SBATCH --ntasks=%d\n#SBATCH --time=%s\n#SBATCH --output=",
                                otd_sweep_name(s), job->nodes, job->ntasks, t));
    /* --output is a Slurm filename pattern: a '%' of the directory is
     * written '%%', then the whole is one quoted word. */
    OTD_CHECK(otd_strbuf_printf(&w, "%s", ""));
    for (const char *c = dir; *c; c++)
        OTD_CHECK(otd_strbuf_printf(&w, "%s", *c == '%' ? "%%" : (char[2]){*c, '\0'}));
    OTD_CHECK(otd_strbuf_printf(&w, "/jobs/%s.out", stem));
    OTD_CHECK(otd_strbuf_shell_word(&b, w.data));
    OTD_CHECK(otd_strbuf_printf(&b,
                                "\n#SBATCH --open-mode=append\n"
                                "#SBATCH --requeue\n"
                                "#SBATCH --signal=B:USR1@%d\n",
                                sl->signal_seconds));
    /* The file's options, then the command line's, each one quoted word:
     * what was given as one option is one option to Slurm. */
    for (int k = 0; k < sl->nsbatch + o->nsbatch; k++) {
        const char *opt = k < sl->nsbatch ? sl->sbatch[k] : o->sbatch[k - sl->nsbatch];
        OTD_CHECK(otd_sweep_check_sbatch_option(opt, "--sbatch"));
        OTD_CHECK(otd_strbuf_printf(&b, "#SBATCH "));
        OTD_CHECK(otd_strbuf_shell_word(&b, opt));
        OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    }
    /* A command ends Slurm's reading of #SBATCH lines: a setup line that
     * looks like one is not read as an option. */
    OTD_CHECK(otd_strbuf_printf(&b, "export OTD_BIN="));
    OTD_CHECK(otd_strbuf_shell_word(&b, o->otd_bin));
    OTD_CHECK(otd_strbuf_printf(&b, "\nexport OTD_MAX_REQUEUES=%d\n", sl->max_requeues));
    if (sl->nsetup > 0)
        OTD_CHECK(otd_strbuf_printf(&b, "# setup: the sweep file's lines, run as written\n"));
    for (int k = 0; k < sl->nsetup; k++)
        OTD_CHECK(otd_strbuf_printf(&b, "%s\n", sl->setup[k]));
    OTD_CHECK(otd_strbuf_printf(&b, ". "));
    w.len = 0;
    OTD_CHECK(otd_strbuf_printf(&w, "%s/slurm/task.sh", o->jobs_dir));
    OTD_CHECK(otd_strbuf_shell_word(&b, w.data));
    OTD_CHECK(otd_strbuf_printf(&b, "\notd_slurm_step "));
    w.len = 0;
    OTD_CHECK(otd_strbuf_printf(&w, "%s/jobs/%s.exit", dir, stem));
    OTD_CHECK(otd_strbuf_shell_word(&b, w.data));
    OTD_CHECK(otd_strbuf_printf(&b, " sweep-run "));
    OTD_CHECK(otd_strbuf_shell_word(&b, dir));
    OTD_CHECK(otd_strbuf_printf(&b, " --share "));
    w.len = 0;
    OTD_CHECK(otd_strbuf_printf(&w, "%s/jobs/%s.points", dir, stem));
    OTD_CHECK(otd_strbuf_shell_word(&b, w.data));
    OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    *text = b.data;
    b.data = NULL;
done:
    otd_strbuf_free(&b);
    otd_strbuf_free(&w);
    return err;
}

otd_err otd_sweep_share_text(const otd_sweep *s, const otd_sweep_job *job, char **text)
{
    otd_err err = OTD_OK;
    otd_strbuf b = {0};
    *text = NULL;
    OTD_CHECK(otd_strbuf_printf(&b, "%s", ""));
    for (int64_t k = 0; k < job->n; k++)
        OTD_CHECK(otd_strbuf_printf(&b, "%s\n", otd_sweep_point_at(s, job->idx[k])->name));
    *text = b.data;
    b.data = NULL;
done:
    otd_strbuf_free(&b);
    return err;
}

otd_err otd_sweep_next_batch(const char *dir, int *batch)
{
    otd_err err = OTD_OK;
    char path[4200];
    DIR *d = NULL;
    struct dirent *e;
    int last = 0;
    snprintf(path, sizeof path, "%s/jobs", dir);
    if ((d = opendir(path)) == NULL) {
        if (errno != ENOENT)
            OTD_FAIL(OTD_ERR_IO, "cannot list '%s': %s", path, strerror(errno));
    } else {
        while ((e = readdir(d)) != NULL) {
            int b = 0, k = 0, used = 0;
            if (sscanf(e->d_name, "job-%d-%d.%n", &b, &k, &used) == 2 && used > 0 && b > last &&
                b < INT_MAX)
                last = b;
        }
    }
    *batch = last + 1;
done:
    if (d != NULL)
        closedir(d);
    return err;
}
