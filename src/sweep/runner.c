/* runner.c: many sweep points in one MPI job (see otd_runner.h). Uses the
 * communication module only (otd_comm.h): no MPI call here. */
#include "otd/otd_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otd/otd_algo.h"
#include "otd/otd_collect.h"
#include "otd/otd_config.h"
#include "otd/otd_run.h"
#include "otd/otd_signal.h"
#include "otd/otd_status.h"
#include "otd/otd_sweep.h"
#include "otd/otd_text.h"

/* Counter slots besides one per class: points ended done, ended failed. */
enum { SLOT_DONE, SLOT_FAILED, NSLOTS_FIXED };

typedef struct {
    int ranks;
    double cost;
    int64_t index;
    char *name, *config, *rundir; /* config and rundir relative to the sweep directory */
} job;

typedef struct {
    const otd_runner_opts *o;
    FILE *out;
    otd_comm *world;
    otd_counter *ct;
    job *jobs;
    int64_t n;
    uint64_t ended[2]; /* points this rank recorded: done, failed (totals by a sum) */
    double t0, last_print;
} runner;

static int cmp_job(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->ranks != y->ranks)
        return x->ranks > y->ranks ? -1 : 1;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Is name listed in the share (one name per line)? */
static int in_share(const char *share, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = share; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* A point's estimated flops from its configuration (0 if it does not
 * parse: it fails at once). */
static double point_cost(const char *dir, const char *config)
{
    char path[4200], *text = NULL;
    size_t len = 0;
    double cost = 0.0;
    otd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(path, sizeof path, "%s/%s", dir, config);
    if (otd_read_text_file(path, "config", OTD_ERR_IO, &text, &len) == OTD_OK &&
        otd_config_parse(text, len, config, NULL, 0, &cfg) == OTD_OK)
        cost = otd_algo_cost(&cfg);
    otd_error_clear();
    otd_config_free(&cfg);
    free(text);
    return cost;
}

/* Rank 0: the points to run, in order, as lines "ranks\tcost\tindex\tname\tconfig\trundir". */
static otd_err plan(const otd_runner_opts *o, otd_strbuf *text)
{
    otd_err err = OTD_OK;
    otd_manifest m;
    otd_point_info info;
    job *jobs = NULL;
    char *share = NULL;
    size_t len = 0;
    int64_t n = 0;
    memset(&m, 0, sizeof m);
    memset(&info, 0, sizeof info);
    OTD_CHECK(otd_manifest_read(o->dir, &m));
    if (o->share != NULL)
        OTD_CHECK(otd_read_text_file(o->share, "share of points", OTD_ERR_ARG, &share, &len));
    OTD_ALLOC(jobs, m.n + 1);
    for (int64_t i = 0; i < m.n; i++) {
        const otd_manifest_row *r = &m.rows[i];
        if (share != NULL && !in_share(share, r->name))
            continue;
        OTD_CHECK(otd_point_inspect(o->dir, r, &info));
        /* Done, or running in another job: not ours. */
        int skip = info.status == OTD_POINT_DONE || info.status == OTD_POINT_RUNNING;
        otd_point_info_free(&info);
        if (skip)
            continue;
        jobs[n] =
            (job){r->ranks, point_cost(o->dir, r->config), r->index, r->name, r->config, r->rundir};
        n++;
    }
    qsort(jobs, (size_t)n, sizeof *jobs, cmp_job);
    OTD_CHECK(otd_strbuf_printf(text, "%s", ""));
    for (int64_t k = 0; k < n; k++)
        OTD_CHECK(otd_strbuf_printf(text, "%d\t%.17g\t%lld\t%s\t%s\t%s\n", jobs[k].ranks,
                                    jobs[k].cost, (long long)jobs[k].index, jobs[k].name,
                                    jobs[k].config, jobs[k].rundir));
done:
    otd_point_info_free(&info);
    otd_manifest_free(&m);
    free(jobs);
    free(share);
    return err;
}

/* Every rank: the plan's lines into jobs (strings point into text). */
static otd_err parse_plan(char *text, job **out, int64_t *n)
{
    otd_err err = OTD_OK;
    int64_t lines = 0;
    *out = NULL;
    *n = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    OTD_ALLOC(*out, lines + 1);
    for (char *line = text, *next; line != NULL && *line; line = next) {
        job *j = &(*out)[*n];
        char *f[6];
        int k = 0;
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        for (char *p = line; k < 6; k++) {
            f[k] = p;
            if ((p = strchr(p, '\t')) == NULL)
                break;
            *p++ = '\0';
        }
        if (k != 5)
            OTD_FAIL(OTD_ERR_INTERNAL, "runner plan line %lld malformed", (long long)*n);
        *j = (job){atoi(f[0]), strtod(f[1], NULL), strtoll(f[2], NULL, 10), f[3], f[4], f[5]};
        (*n)++;
    }
done:
    return err;
}

/* Rank 0: a progress line every o->progress_seconds (and with force). */
static void progress(runner *r, int force)
{
    int64_t done = 0, failed = 0;
    double now = otd_comm_wtime(), el = now - r->t0;
    if (otd_comm_rank(r->world) != 0 || r->o->progress_seconds <= 0 ||
        (!force && now - r->last_print < r->o->progress_seconds))
        return;
    if (otd_counter_add(r->ct, SLOT_DONE, 0, &done) != OTD_OK ||
        otd_counter_add(r->ct, SLOT_FAILED, 0, &failed) != OTD_OK) {
        otd_error_clear();
        return;
    }
    int64_t ended = done + failed, left = r->n - ended;
    double rate = el > 0 ? (double)ended / el : 0.0;
    fprintf(r->out,
            "sweep: %lld/%lld points ended (%lld done, %lld failed), %.3g points/s, ETA %.0f s\n",
            (long long)ended, (long long)r->n, (long long)done, (long long)failed, rate,
            rate > 0 ? (double)left / rate : 0.0);
    fflush(r->out);
    r->last_print = now;
}

/* The point's log, appended to (never through a symlink). */
static FILE *open_log(const char *dir, const char *name)
{
    char path[4300];
    int fd;
    snprintf(path, sizeof path, "%s/logs/run-%s.out", dir, name);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    return fd >= 0 ? fdopen(fd, "a") : NULL;
}

/* Errors every rank of the group reached by itself or agreed on: the group
 * can go on after them. */
static int shared(otd_comm *g, otd_err err)
{
    return err == OTD_OK || err == OTD_ERR_CONFIG || err == OTD_ERR_ARG || err == OTD_ERR_NUMERIC ||
           otd_comm_failed_rank(g) >= 0;
}

/* A point's /provenance command: the runner that ran it and, after a
 * shell comment (the line stays one a shell reads), the point's
 * configuration: "otd sweep-run DIR # point DIR/points/p0003.yaml". */
static otd_err point_command(const char *dir, const char *config, otd_strbuf *b)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_strbuf_printf(b, "otd sweep-run "));
    OTD_CHECK(otd_strbuf_shell_word(b, dir));
    OTD_CHECK(otd_strbuf_printf(b, " # point "));
    OTD_CHECK(otd_strbuf_shell_word(b, config));
done:
    return err;
}

/* Collective over g: run one point; *code its exit status as `otd run`. */
static otd_err run_one(runner *r, otd_comm *g, const job *j, int *code)
{
    otd_err err = OTD_OK, local = OTD_OK;
    const otd_runner_opts *o = r->o;
    const int leader = otd_comm_rank(g) == 0;
    char path[4200], rundir[4200], *text = NULL;
    size_t len = 0;
    otd_config cfg;
    otd_run_summary sum;
    FILE *log = NULL;
    otd_strbuf command = {0};
    memset(&cfg, 0, sizeof cfg);
    memset(&sum, 0, sizeof sum);
    otd_comm_clear_failure(g);
    snprintf(path, sizeof path, "%s/%s", o->dir, j->config);
    snprintf(rundir, sizeof rundir, "%s/%s", o->dir, j->rundir);
    if (leader) {
        log = open_log(o->dir, j->name);
        local = otd_read_text_file(path, "configuration file", OTD_ERR_CONFIG, &text, &len);
    }
    err = otd_comm_agree(g, local);
    if (err == OTD_OK)
        err = otd_comm_bcast_bytes(g, &text, &len, 0);
    if (err == OTD_OK)
        err = otd_config_parse(text, len, path, NULL, 0, &cfg);
    if (err == OTD_OK)
        err = otd_comm_agree(g, point_command(o->dir, path, &command));
    if (err == OTD_OK) {
        otd_run_opts ro = {.restart = 0, .out = log, .command = command.data};
        err = otd_run(&cfg, g, rundir, &ro, &sum);
    }
    *code = err != OTD_OK ? otd_exit_for_error(err)
                          : otd_status_exit_after(sum.status, sum.interrupted);
    if (err != OTD_OK && leader && log != NULL)
        fprintf(log, "otd run: %s\n", otd_error_text());
    if (shared(g, err))
        err = OTD_OK;
    else
        otd_error_trace(__FILE__, __LINE__);
    otd_config_free(&cfg);
    otd_strbuf_free(&command);
    free(text);
    if (log != NULL)
        fclose(log);
    return err;
}

/* Rank 0: points of k ranks cannot run in a job of fewer: record why. */
static otd_err refuse_class(runner *r, const job *jobs, int64_t n, int k)
{
    otd_err err = OTD_OK;
    for (int64_t i = 0; i < n; i++) {
        FILE *log = open_log(r->o->dir, jobs[i].name);
        if (log != NULL) {
            fprintf(log, "otd sweep-run: point %s needs %d ranks; this job has %d\n", jobs[i].name,
                    k, otd_comm_size(r->world));
            fclose(log);
        }
        OTD_CHECK(otd_sweep_record_exit(r->o->dir, jobs[i].name, OTD_EXIT_USAGE, r->o->jobid));
        OTD_CHECK(otd_counter_add(r->ct, SLOT_FAILED, 1, NULL));
        r->ended[1]++;
    }
done:
    return err;
}

/* Collective over world: the points jobs[0..n) of k ranks each, in groups
 * that take them from counter slot `slot`. */
static otd_err run_class(runner *r, const job *jobs, int64_t n, int k, int slot)
{
    otd_err err = OTD_OK;
    otd_comm *g = NULL;
    const int N = otd_comm_size(r->world), rank = otd_comm_rank(r->world);
    const int ngroups = N / k, color = rank < ngroups * k ? rank / k : ngroups;
    if (k > N)
        return otd_comm_agree(r->world, rank == 0 ? refuse_class(r, jobs, n, k) : OTD_OK);
    OTD_CHECK(otd_comm_split(r->world, color, &g));
    while (color < ngroups) {
        int64_t idx = -1;
        int code = 0;
        /* The leader takes the next point, unless a signal says stop. */
        if (otd_comm_rank(g) == 0 && !otd_signal_pending())
            OTD_CHECK(otd_counter_add(r->ct, slot, 1, &idx));
        OTD_CHECK(otd_comm_bcast(g, &idx, sizeof idx, 0));
        if (idx < 0 || idx >= n)
            break;
        OTD_CHECK(run_one(r, g, &jobs[idx], &code));
        if (otd_comm_rank(g) == 0) {
            /* The record is what `otd collect` reads; a point whose record
             * cannot be written still ran, so warn rather than stop. */
            if (otd_sweep_record_exit(r->o->dir, jobs[idx].name, code, r->o->jobid) != OTD_OK)
                otd_warn("point %s: %s", jobs[idx].name, otd_error_text());
            OTD_CHECK(
                otd_counter_add(r->ct, code == OTD_EXIT_OK ? SLOT_DONE : SLOT_FAILED, 1, NULL));
            r->ended[code == OTD_EXIT_OK ? 0 : 1]++;
        }
        progress(r, 0);
    }
done:
    otd_comm_destroy(g);
    return err;
}

otd_err otd_sweep_runner(otd_comm *world, const otd_runner_opts *o, otd_runner_result *res)
{
    otd_err err = OTD_OK, local = OTD_OK;
    otd_strbuf text = {0};
    size_t len = 0;
    int nclass = 0;
    char counters[4200];
    double flags[2] = {0, 0};
    runner r = {.o = o, .out = o->out != NULL ? o->out : stdout, .world = world};
    memset(res, 0, sizeof *res);
    r.t0 = r.last_print = otd_comm_wtime();
    if (otd_comm_rank(world) == 0)
        local = plan(o, &text);
    OTD_CHECK(otd_comm_agree_share(world, local));
    len = text.len;
    OTD_CHECK(otd_comm_bcast_bytes(world, &text.data, &len, 0));
    OTD_CHECK(parse_plan(text.data != NULL ? text.data : (char *)"", &r.jobs, &r.n));
    for (int64_t i = 0; i < r.n; i++)
        nclass += i == 0 || r.jobs[i].ranks != r.jobs[i - 1].ranks;
    snprintf(counters, sizeof counters, "%s/counters", o->dir);
    OTD_CHECK(otd_counter_create(world, NSLOTS_FIXED + nclass, counters, &r.ct));
    if (otd_comm_rank(world) == 0 && otd_counter_dir(r.ct) != NULL) {
        fprintf(r.out, "sweep-run: the groups take points through counter files in %s\n",
                otd_counter_dir(r.ct));
        fflush(r.out);
    }
    for (int64_t i = 0, c = 0; i < r.n; c++) {
        int64_t e = i;
        while (e < r.n && r.jobs[e].ranks == r.jobs[i].ranks)
            e++;
        OTD_CHECK(run_class(&r, r.jobs + i, e - i, r.jobs[i].ranks, NSLOTS_FIXED + (int)c));
        /* A signal on any rank ends the job for every class. */
        flags[0] = otd_signal_pending() != 0;
        flags[1] = otd_signal_interrupted();
        OTD_CHECK(otd_comm_max(world, flags, 2));
        if (flags[0] > 0)
            break;
        i = e;
    }
    /* The totals from what each rank recorded: exact whatever the counters
     * are kept in (a file counter's read may lag). */
    OTD_CHECK(otd_comm_sum_u64(world, r.ended, 2));
    res->done = (int64_t)r.ended[0];
    res->failed = (int64_t)r.ended[1];
    res->total = r.n;
    res->signalled = flags[0] > 0;
    res->interrupted = flags[1] > 0;
    res->seconds = otd_comm_wtime() - r.t0;
    progress(&r, 1);
done:
    otd_counter_destroy(r.ct);
    free(r.jobs);
    otd_strbuf_free(&text);
    return err;
}
