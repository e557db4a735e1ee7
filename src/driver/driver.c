/* driver.c: one run, one call (see otd_run.h): open the run directory, start
 * or resume, step or solve as the algorithm says, checkpoint, finish. It
 * names no algorithm: everything algorithm-specific comes from otd_algo.h. */
#include "otd/otd_run.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/provenance.h"
#include "driver/report.h"
#include "otd/otd_algo.h"
#include "otd/otd_blas.h"
#include "otd/otd_ckpt.h"
#include "otd/otd_engine.h"
#include "otd/otd_input.h"
#include "otd/otd_memory.h"
#include "otd/otd_metrics.h"
#include "otd/otd_results.h"
#include "otd/otd_rundir.h"
#include "otd/otd_runfile.h"
#include "otd/otd_signal.h"
#include "otd/otd_target.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

/* Logged rows kept in memory before they are written: bounds memory on very
 * long runs while keeping file I/O out of almost every step. */
#define FLUSH_ROWS 4096

/* Of the memory available per rank, what the run's own estimate may take:
 * all of it; the estimate leaves out the process image, MPI's buffers and
 * HDF5's caches, so a run it passes may still be tight, but one it refuses
 * cannot fit. */
#define RUN_MEMORY_FRACTION 1.0

/* Slots of otd_eval.flags: ranks that saw a stop signal; ranks that saw
 * SIGINT; rank 0's "a time-based checkpoint is due". */
enum { FLAG_SIGNAL, FLAG_INTERRUPT, FLAG_CKPT_DUE };

/* Everything one run holds; released in one place. */
typedef struct {
    const otd_config *cfg;
    const otd_run_opts *opts; /* NULL: defaults */
    otd_comm *comm;
    otd_rundir *rd;
    FILE *out;     /* rank 0's output: the outcome lines */
    FILE *chatter; /* the banner, progress and notes: out, or NULL when quiet */
    otd_layout lay;
    otd_target *target;
    otd_algo *algo;
    otd_engine *engine;
    otd_metrics *metrics;
    otd_results *results;
    double *W, *W0, *grad, *scalars, *vecs;
    char *yaml;
    int wrote;          /* this call has written into the run directory */
    int64_t it0;        /* first iteration of this call */
    int64_t reinit_acc; /* re-initializations since the last logged row */
    double wall0;       /* loop seconds of earlier calls (resume) */
    int64_t row_iter;   /* iteration of the last row this call logged (-1: none) */
} run_state;

static void run_free(run_state *s)
{
    otd_metrics_destroy(s->metrics);
    otd_algo_destroy(s->algo);
    otd_engine_destroy(s->engine);
    otd_target_destroy(s->target);
    free(s->W);
    free(s->W0);
    free(s->grad);
    free(s->scalars);
    free(s->vecs);
    free(s->yaml);
}

static int root(const run_state *s)
{
    return otd_comm_rank(s->comm) == 0;
}

static int64_t nvec(const run_state *s)
{
    return s->target->r > 0 ? OTD_V_NVEC : 0;
}

/* Initial W: from model.init_file, or drawn by the algorithm. */
static otd_err initial_w(run_state *s)
{
    otd_err err = OTD_OK;
    double *full = NULL;
    const otd_layout *lay = &s->lay;
    int64_t m = s->cfg->model.m;
    if (s->cfg->model.init_file[0] == '\0')
        return otd_algo_init(s->algo, s->W);
    OTD_ALLOC(full, lay->d * m);
    OTD_CHECK(
        otd_input_read(s->comm, s->cfg->model.init_file, "/W", "model.init_file", lay->d, m, full));
    for (int64_t i = 0; i < m; i++)
        memcpy(s->W + i * lay->nrows, full + i * lay->d + lay->row0,
               (size_t)lay->nrows * sizeof *full);
done:
    free(full);
    return err;
}

/* Collective: commit a checkpoint of W at the start of iteration `iter`. */
static otd_err checkpoint(run_state *s, int64_t iter, double wall)
{
    otd_err err = OTD_OK;
    const int64_t n = s->lay.nrows * s->cfg->model.m;
    double bad = 0;
    /* A non-finite W is not worth keeping: the last good checkpoint stays
     * and the next evaluation stops the run with diagnostics. */
    for (int64_t q = 0; q < n; q++)
        if (!isfinite(s->W[q]))
            bad = 1;
    OTD_CHECK(otd_comm_max(s->comm, &bad, 1));
    if (bad > 0)
        goto done;
    OTD_CHECK(otd_results_history_flush(s->results));
    otd_ckpt_meta meta = {
        .iter = iter,
        .n_reinit = s->reinit_acc,
        .history_rows = otd_results_history_rows(s->results),
        .wall_offset = wall,
        .config_hash = otd_config_hash(s->cfg),
        .config_yaml = s->yaml,
    };
    OTD_CHECK(otd_ckpt_write(otd_rundir_ckpt_dir(s->rd), s->comm, &s->lay, s->cfg->model.m, s->W,
                             s->W0, &meta, (int)s->cfg->run.keep_checkpoints));
done:
    return err;
}

/* Collective: /summary's status with the outcome it means (otd_status.h),
 * and the given fields. */
static otd_err write_summary(run_state *s, otd_status status, const otd_algo_report *extra,
                             const char *const *dn, const double *dv, int nd, const char *const *in,
                             const int64_t *iv, int ni)
{
    otd_err err = OTD_OK;
    otd_attr strs[1 + OTD_ALGO_REPORT_CAP];
    const char *dnames[8 + OTD_ALGO_REPORT_CAP], *inames[4 + OTD_ALGO_REPORT_CAP];
    double dvals[8 + OTD_ALGO_REPORT_CAP];
    int64_t ivals[4 + OTD_ALGO_REPORT_CAP];
    int ns = 0;
    if (nd > 8 || ni > 4)
        OTD_FAIL(OTD_ERR_INTERNAL, "write_summary: %d reals and %d integers exceed its room", nd,
                 ni);
    strs[ns++] = (otd_attr){"outcome", otd_outcome_name(otd_status_outcome(status))};
    for (int k = 0; k < nd; k++) {
        dnames[k] = dn[k];
        dvals[k] = dv[k];
    }
    for (int k = 0; k < ni; k++) {
        inames[k] = in[k];
        ivals[k] = iv[k];
    }
    /* The algorithm's own fields after the generic ones. */
    for (int k = 0; extra != NULL && k < extra->nreal; k++) {
        dnames[nd] = extra->real_names[k];
        dvals[nd++] = extra->real_vals[k];
    }
    for (int k = 0; extra != NULL && k < extra->nint; k++) {
        inames[ni] = extra->int_names[k];
        ivals[ni++] = extra->int_vals[k];
    }
    for (int k = 0; extra != NULL && k < extra->nstr; k++)
        strs[ns++] = (otd_attr){extra->str_names[k], extra->str_vals[k]};
    OTD_CHECK(otd_results_write_summary(s->results, otd_status_name(status), strs, ns, dnames,
                                        dvals, nd, inames, ivals, ni));
done:
    return err;
}

static otd_err create_results(run_state *s)
{
    otd_err err = OTD_OK;
    char hash[17], blas[256];
    const otd_config *cfg = s->cfg;
    otd_prov prov;
    memset(&prov, 0, sizeof prov);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)otd_config_hash(cfg));
    otd_blas_describe(blas, sizeof blas);
    const otd_attr attrs[] = {
        {"config", s->yaml},
        {"config_hash", hash},
        {"otd_version", OTD_VERSION_STRING},
        {"blas", blas},
        {"engine", otd_engine_label(s->engine)},
        {"algo", otd_algo_name_str(cfg->algo.name)},
        {"layout", "contiguous row blocks"},
    };
    /* Gathered before the file exists: a failure here leaves nothing. */
    OTD_CHECK(otd_prov_gather(s->comm, s->opts, &prov));
    OTD_CHECK(otd_results_create(otd_rundir_results_path(s->rd), s->comm, attrs,
                                 (int)(sizeof attrs / sizeof *attrs), &s->results));
    OTD_CHECK(otd_results_set_provenance(s->results, prov.attrs, OTD_PROV_NATTRS));
    /* The target's components, when it has any (not for a tensor file, whose
     * path is in the config). */
    if (s->target->r > 0) {
        OTD_CHECK(otd_results_write_replicated(s->results, "/target/U", s->target->U, s->lay.d,
                                               s->target->r));
        OTD_CHECK(
            otd_results_write_replicated(s->results, "/target/a", s->target->a, s->target->r, 0));
    }
    OTD_CHECK(otd_results_write_rows(s->results, "/init/W", &s->lay, s->W, cfg->model.m));
    OTD_CHECK(otd_results_history_define(s->results, otd_metrics_scalar_cols, OTD_M_NSCALAR,
                                         otd_metrics_vector_cols, (int)nvec(s), s->target->r));
    OTD_CHECK(write_summary(s, OTD_STATUS_RUNNING, NULL, NULL, NULL, 0, NULL, NULL, 0));
done:
    otd_prov_free(&prov);
    /* Not written whole (a full disk): no file is left to pass for the
     * results of a run that has no checkpoint; the next try starts over. */
    if (err != OTD_OK && s->results != NULL) {
        otd_results_discard(s->results);
        s->results = NULL;
    }
    return err;
}

/* A fresh start: W0 drawn or read, results created, iteration 0 committed. */
static otd_err start(run_state *s)
{
    otd_err err = OTD_OK;
    OTD_CHECK(initial_w(s));
    memcpy(s->W0, s->W, (size_t)(s->lay.nrows * s->cfg->model.m) * sizeof *s->W);
    /* From here on the run directory holds what this call made. */
    s->wrote = 1;
    OTD_CHECK(create_results(s));
    OTD_CHECK(checkpoint(s, 0, 0.0));
done:
    return err;
}

/* Collective: the configuration stored in results.h5 (rank 0 reads it)
 * against this one, exactly as a checkpoint's: another configuration is
 * refused, listing the keys that differ (`what` names the run: "the
 * finished run"). *changes (malloc'd on every rank, "" if none) lists the
 * keys that may change on resume and did. */
static otd_err check_stored_config(run_state *s, const char *what, char **changes)
{
    otd_err err = OTD_OK, local = OTD_OK;
    const char *path = otd_rundir_results_path(s->rd);
    char *yaml = NULL, *diff = NULL, *ch = NULL;
    size_t len = 0;
    *changes = NULL;
    if (root(s)) {
        local = otd_runfile_read_config(path, &yaml);
        if (local == OTD_OK)
            local = otd_config_resume_diff(s->cfg, yaml, &diff);
        if (local == OTD_OK && diff != NULL)
            local = OTD_ERROR(OTD_ERR_CONFIG,
                              "%s in %s is of a different configuration: %s; use another --out, "
                              "or --restart to set the old run aside",
                              what, path, diff);
        if (local == OTD_OK)
            local = otd_config_resume_changes(s->cfg, yaml, &ch);
        /* Broadcast needs a string, also for "no change". */
        if (local == OTD_OK && ch == NULL && (ch = strdup("")) == NULL)
            local = OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
        len = ch != NULL ? strlen(ch) : 0;
    }
    OTD_CHECK(otd_comm_agree(s->comm, local));
    OTD_CHECK(otd_comm_bcast_bytes(s->comm, &ch, &len, 0));
    *changes = ch;
    ch = NULL;
done:
    free(ch);
    free(diff);
    free(yaml);
    return err;
}

/* Collective, on resume: what results.h5 holds checked against what this
 * call knows to be right (the checkpoint's checksummed W0, the regenerated
 * target), repaired where it differs, and the configuration that governs
 * the run from now on stored, with the keys that changed. */
static otd_err prepare_results(run_state *s, const char *changes)
{
    otd_err err = OTD_OK;
    char hash[17], *line = NULL;
    size_t n = 0;
    otd_runfile_resume in = {
        .lay = &s->lay,
        .m = s->cfg->model.m,
        .W0_loc = s->W0,
        .r = s->target->r,
        .U = s->target->U,
        .a = s->target->a,
        /* A generated target is a function of the configuration: the truth.
         * One read from a file now may not be the one the run began with. */
        .target_regenerated = s->cfg->problem.components_file[0] == '\0',
        .config = s->yaml,
        .config_hash = hash,
    };
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)otd_config_hash(s->cfg));
    if (changes[0] != '\0') {
        n = strlen(changes) + 64;
        OTD_ALLOC(line, n);
        snprintf(line, n, "iteration %lld: %s", (long long)s->it0, changes);
        in.change = line;
    }
    OTD_CHECK(otd_runfile_prepare_resume(otd_rundir_results_path(s->rd), s->comm, &in));
done:
    free(line);
    return err;
}

/* Collective: one more row of /provenance/resumes: when, where, on how
 * many ranks, from which iteration. */
static otd_err record_resume(run_state *s, int64_t iter)
{
    otd_err err = OTD_OK;
    char utc[OTD_PROV_UTC_CAP], *hosts = NULL;
    OTD_CHECK(otd_prov_now(s->comm, utc));
    OTD_CHECK(otd_comm_hosts(s->comm, &hosts));
    otd_results_resume r = {
        .utc = utc, .hosts = hosts, .nranks = otd_comm_size(s->comm), .iteration = iter};
    OTD_CHECK(otd_results_add_resume(s->results, &r));
done:
    free(hosts);
    return err;
}

/* A resume: the newest valid checkpoint of this configuration, results.h5
 * checked against it, and its history cut back to it. */
static otd_err resume(run_state *s)
{
    otd_err err = OTD_OK;
    otd_ckpt_meta meta;
    char *diff = NULL, *changes = NULL;
    int found = 0;
    memset(&meta, 0, sizeof meta);
    OTD_CHECK(check_stored_config(s, "the unfinished run", &changes));
    err = otd_ckpt_load(otd_rundir_ckpt_dir(s->rd), s->comm, &s->lay, s->cfg->model.m, s->W, s->W0,
                        &meta, &found);
    /* A checkpoint of another shape: name the settings that differ. */
    if (err == OTD_ERR_CONFIG && meta.config_yaml != NULL &&
        otd_config_resume_diff(s->cfg, meta.config_yaml, &diff) == OTD_OK && diff != NULL)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "the checkpoint in %s is from a different configuration: %s; use another --out, "
                 "or --restart to set the old run aside",
                 otd_rundir_ckpt_dir(s->rd), diff);
    OTD_CHECK(err);
    /* Every rank has the same `found`: an agreed verdict, exit 2 at any P. */
    OTD_CHECK(otd_comm_agree(
        s->comm, found ? OTD_OK
                       : OTD_ERROR(OTD_ERR_FORMAT,
                                   "%s holds an unfinished run but no checkpoint to resume from; "
                                   "rerun with --restart to set it aside and start over",
                                   otd_rundir_results_path(s->rd))));
    OTD_CHECK(otd_config_resume_diff(s->cfg, meta.config_yaml, &diff));
    if (diff != NULL)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "the checkpoint in %s is from a different configuration: %s; use another --out, "
                 "or --restart to set the old run aside",
                 otd_rundir_ckpt_dir(s->rd), diff);
    s->it0 = meta.iter;
    s->reinit_acc = meta.n_reinit;
    s->wall0 = meta.wall_offset;
    /* Everything is checked: from here on this call changes the directory. */
    s->wrote = 1;
    OTD_CHECK(prepare_results(s, changes));
    OTD_CHECK(otd_results_reopen(otd_rundir_results_path(s->rd), s->comm, otd_metrics_scalar_cols,
                                 OTD_M_NSCALAR, otd_metrics_vector_cols, (int)nvec(s), s->target->r,
                                 meta.history_rows, &s->results));
    OTD_CHECK(record_resume(s, meta.iter));
    if (root(s)) {
        otd_report_resume(s->chatter, meta.iter, meta.nranks, meta.history_rows);
        if (changes[0] != '\0')
            otd_report_line(s->chatter, "configuration changed on resume: %s (recorded in %s)",
                            changes, otd_rundir_results_path(s->rd));
    }
done:
    free(changes);
    free(diff);
    free(meta.config_yaml);
    return err;
}

/* Log one history row for iteration it. */
static otd_err log_row(run_state *s, const otd_eval *ev, int64_t it, double wall)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_metrics_compute(s->metrics, ev, s->W, s->grad, s->scalars, s->vecs));
    s->scalars[OTD_M_ITER] = (double)it;
    s->scalars[OTD_M_EPOCH] = (double)otd_algo_epoch(s->algo, it);
    s->scalars[OTD_M_N_REINIT] = (double)s->reinit_acc;
    s->scalars[OTD_M_WALL_TIME] = wall;
    s->reinit_acc = 0;
    s->row_iter = it;
    OTD_CHECK(otd_results_history_append(s->results, s->scalars, s->vecs));
    if (otd_results_history_rows(s->results) % FLUSH_ROWS == 0)
        OTD_CHECK(otd_results_history_flush(s->results));
    if (!isfinite(s->scalars[OTD_M_GRAD_NORM]))
        OTD_FAIL(OTD_ERR_NUMERIC, "non-finite gradient at iteration %lld (loss %g)", (long long)it,
                 ev->loss);
done:
    return err;
}

/* A one-shot algorithm: log W0, solve once, log the answer. */
static otd_err solve_once(run_state *s, otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    otd_eval ev = {0};
    otd_status status = OTD_STATUS_NONFINITE;
    double t0 = otd_comm_wtime(), sig[2];
    char line[512];
    sum->status = OTD_STATUS_NONFINITE;
    sum->iters = 1; /* a one-shot solve counts 1, also when it fails */
    memcpy(s->W, s->W0, (size_t)(s->lay.nrows * cfg->model.m) * sizeof *s->W);
    OTD_CHECK(otd_algo_eval(s->algo, s->W, s->grad, &ev));
    OTD_CHECK(log_row(s, &ev, 0, s->wall0 + otd_comm_wtime() - t0));
    /* The solve cannot stop midway: a stop signal that came before it (while
     * the run was set up) stops the run at W0, whose checkpoint is
     * committed; one that comes during it is honoured by recording it. */
    sig[0] = otd_signal_pending() != 0;
    sig[1] = otd_signal_interrupted();
    OTD_CHECK(otd_comm_max(s->comm, sig, 2));
    if (sig[0] > 0) {
        sum->status = OTD_STATUS_RUNNING;
        sum->interrupted = sig[1] > 0;
        sum->iters = 0;
        goto done;
    }
    if (root(s))
        otd_report_line(s->chatter, "%s: solving", otd_algo_name_str(cfg->algo.name));
    OTD_CHECK(otd_algo_solve(s->algo, s->W, &status));
    OTD_CHECK(otd_algo_eval(s->algo, s->W, s->grad, &ev));
    if (!isfinite(ev.loss))
        OTD_FAIL(OTD_ERR_NUMERIC, "%s: the solve gave a non-finite loss",
                 otd_algo_name_str(cfg->algo.name));
    OTD_CHECK(log_row(s, &ev, 1, s->wall0 + otd_comm_wtime() - t0));
    sum->status = status;
    otd_algo_result(s->algo, ev.rel_err, ev.rel_err_res, line, sizeof line);
    if (root(s)) {
        otd_report_line(s->chatter, "%s: %s", otd_algo_name_str(cfg->algo.name), line);
        if (otd_signal_pending() != 0)
            otd_report_line(s->out, "otd: a signal came during the solve: its result is recorded");
    }
done:
    sum->final_rel_err = ev.rel_err;
    sum->final_rel_err_res = ev.rel_err_res;
    sum->final_loss = ev.loss;
    sum->wall_seconds = otd_comm_wtime() - t0;
    sum->steps_per_s = 0.0;
    return err;
}

/* The step loop. Sets summary fields; returns OTD_ERR_NUMERIC when the loss
 * or gradient stops being finite (the verdict is the same on every rank:
 * both come out of allreduced values). */
static otd_err step_loop(run_state *s, otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    const int64_t n = s->lay.nrows * cfg->model.m, every = cfg->run.checkpoint_every;
    double t0 = otd_comm_wtime(), last_print = t0, last_ckpt = t0;
    int64_t it;
    otd_eval ev = {0};
    sum->status = OTD_STATUS_NONFINITE;
    /* A budget lowered on resume below where the checkpoint is: the first
     * evaluation below ends the run there, without a step; say why. */
    if (root(s) && s->it0 > cfg->algo.max_iters)
        otd_report_line(s->chatter,
                        "otd: algo.max_iters = %lld is below iteration %lld, where the run "
                        "resumes: the step budget is already spent; the run ends there, "
                        "without a step",
                        (long long)cfg->algo.max_iters, (long long)s->it0);
    for (it = s->it0;; it++) {
        int64_t nre = 0;
        int stop = -1;
        OTD_CHECK(otd_algo_before_step(s->algo, it, s->W, &nre));
        s->reinit_acc += nre;
        /* One clock read per step, on rank 0 only, for both time-based
         * decisions (a read costs a few percent of a step at small sizes). */
        double now = root(s) ? otd_comm_wtime() : 0.0;
        ev.flags[FLAG_SIGNAL] = otd_signal_pending() != 0;
        ev.flags[FLAG_INTERRUPT] = otd_signal_interrupted();
        ev.flags[FLAG_CKPT_DUE] =
            root(s) && every == OTD_CKPT_AUTO && now - last_ckpt >= cfg->run.checkpoint_seconds;
        OTD_CHECK(otd_algo_eval(s->algo, s->W, s->grad, &ev));
        if (!isfinite(ev.loss))
            OTD_FAIL(OTD_ERR_NUMERIC,
                     "non-finite loss at iteration %lld; the last good checkpoint is kept; try "
                     "a smaller algo.lr",
                     (long long)it);
        if (ev.rel_err <= cfg->algo.target_rel_err)
            stop = OTD_STATUS_CONVERGED;
        else if (it >= cfg->algo.max_iters)
            stop = OTD_STATUS_MAX_ITERS;
        if (it % cfg->run.log_every == 0 || stop >= 0)
            OTD_CHECK(log_row(s, &ev, it, s->wall0 + otd_comm_wtime() - t0));
        if (root(s) && (stop >= 0 || now - last_print >= cfg->run.progress_seconds)) {
            last_print = otd_comm_wtime();
            otd_report_progress(s->chatter, cfg, it, ev.loss, ev.rel_err, ev.rel_err_res,
                                last_print - t0, s->it0);
        }
        if (stop >= 0) {
            sum->status = (otd_status)stop;
            break;
        }
        cblas_daxpy((int)n, -cfg->algo.lr, s->grad, 1, s->W, 1);
        /* The step boundary: W is now W_{it+1}. */
        if (ev.flags[FLAG_SIGNAL] > 0 || ev.flags[FLAG_CKPT_DUE] > 0 ||
            (every != OTD_CKPT_AUTO && (it + 1) % every == 0)) {
            OTD_CHECK(checkpoint(s, it + 1, s->wall0 + otd_comm_wtime() - t0));
            last_ckpt = otd_comm_wtime();
            if (ev.flags[FLAG_SIGNAL] > 0) {
                it++;
                sum->status = OTD_STATUS_RUNNING;
                sum->interrupted = ev.flags[FLAG_INTERRUPT] > 0;
                break;
            }
        }
    }
done:
    sum->iters = it;
    sum->final_rel_err = ev.rel_err;
    sum->final_rel_err_res = ev.rel_err_res;
    sum->final_loss = ev.loss;
    sum->wall_seconds = otd_comm_wtime() - t0;
    sum->steps_per_s = sum->wall_seconds > 0 ? (double)(it - s->it0) / sum->wall_seconds : 0.0;
    return err;
}

static otd_err write_final(run_state *s, const otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    otd_algo_report rep;
    char utc[OTD_PROV_UTC_CAP];
    const otd_attr fin = {"finished_utc", utc};
    /* With the outcome, the stopping keys that governed the run: they may
     * change on resume, and the root attribute config holds the same. */
    const char *dn[] = {"final_rel_err", "final_loss", "wall_seconds",
                        "steps_per_s",   "dim_count",  "final_rel_err_resolution",
                        "target_rel_err"};
    const double dv[] = {sum->final_rel_err,
                         sum->final_loss,
                         s->wall0 + sum->wall_seconds,
                         sum->steps_per_s,
                         otd_metrics_dim_count(cfg->problem.order, cfg->problem.dim, cfg->model.m),
                         sum->final_rel_err_res,
                         cfg->algo.target_rel_err};
    const char *in[] = {"iters", "max_iters", "n_fitted"};
    /* n_fitted of the final W: the last row describes it when it was logged
     * at the last iteration (always, unless the run failed before); a
     * target without components has none. */
    int ni = s->target->r > 0 && s->row_iter == sum->iters ? 3 : 2;
    const int64_t iv[] = {sum->iters, cfg->algo.max_iters,
                          ni == 3 ? (int64_t)s->scalars[OTD_M_N_FITTED] : 0};
    otd_algo_report_fields(s->algo, &rep);
    OTD_CHECK(otd_results_write_rows(s->results, "/final/W", &s->lay, s->W, cfg->model.m));
    OTD_CHECK(write_summary(s, sum->status, &rep, dn, dv, 7, in, iv, ni));
    /* The run has ended (its final status is written): when. */
    OTD_CHECK(otd_prov_now(s->comm, utc));
    OTD_CHECK(otd_results_set_provenance(s->results, &fin, 1));
done:
    return err;
}

/* Collective: the memory the run will hold per rank, estimated before
 * anything large is allocated and checked against the nodes' (otd_memory.h):
 * the driver's part here, the engine's and the algorithm's from their rows. */
static otd_err check_memory(run_state *s)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    const int64_t r = otd_target_ncomp(cfg);
    const double d = (double)s->lay.d, m = (double)cfg->model.m, rr = (double)r,
                 rows = (double)((s->lay.d + s->lay.nranks - 1) / s->lay.nranks);
    char what[512];
    /* The target (U, a, U^T U, whole on every rank); W, W0 and the gradient,
     * the metrics' copy of W0 and an I/O buffer of the rows (results,
     * checkpoints); model.init_file read whole; the history rows buffered
     * between flushes (doubling) and a row's vectors. */
    double need = 8.0 * (d * rr + rr * rr + rr + 5.0 * rows * m +
                         (cfg->model.init_file[0] != '\0' ? d * m : 0.0) +
                         2.0 * FLUSH_ROWS * (OTD_M_NSCALAR + OTD_V_NVEC * rr) + OTD_V_NVEC * rr);
    /* The algorithm's own check first: lazy_opt's matrix, the largest need
     * of all, gives the most useful message. */
    OTD_CHECK(otd_algo_check_resources(cfg, &s->lay, s->comm, &need));
    OTD_CHECK(otd_engine_memory(cfg, &s->lay, r, &need));
    snprintf(what, sizeof what,
             "problem.dim = %lld, model.m = %lld, problem.rank = %lld (engine %s, algo.name %s, "
             "%d ranks)",
             (long long)cfg->problem.dim, (long long)cfg->model.m, (long long)cfg->problem.rank,
             otd_engine_name_str(cfg->engine), otd_algo_name_str(cfg->algo.name), s->lay.nranks);
    OTD_CHECK(otd_memory_check(s->comm, need, RUN_MEMORY_FRACTION, what,
                               "use more ranks or nodes (W and the tensor are split by rows), or "
                               "a smaller problem.dim, model.m or problem.rank",
                               NULL));
done:
    return err;
}

/* Collective: everything a run needs before its first step, checked and
 * allocated before the banner. */
static otd_err setup(run_state *s)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    int64_t m = cfg->model.m;
    char storage[512], algo[512];
    OTD_CHECK(
        otd_layout_init(&s->lay, cfg->problem.dim, otd_comm_rank(s->comm), otd_comm_size(s->comm)));
    OTD_CHECK(check_memory(s));
    OTD_CHECK(otd_config_to_yaml(cfg, &s->yaml));
    OTD_CHECK(otd_target_create(cfg, s->comm, &s->target));
    OTD_ALLOC(s->W, s->lay.nrows * m);
    OTD_ALLOC(s->W0, s->lay.nrows * m);
    OTD_ALLOC(s->grad, s->lay.nrows * m);
    OTD_ALLOC(s->scalars, OTD_M_NSCALAR);
    OTD_ALLOC(s->vecs, OTD_V_NVEC * s->target->r);
    OTD_CHECK(otd_algo_create(cfg, &s->lay, s->comm, &s->algo));
    OTD_CHECK(otd_engine_create(cfg, &s->lay, s->comm, s->target, &s->engine));
    otd_engine_describe(s->engine, storage, sizeof storage);
    otd_algo_describe(cfg, algo, sizeof algo);
    if (root(s))
        otd_report_banner(s->chatter, cfg, &s->lay, otd_engine_label(s->engine), storage, algo,
                          otd_rundir_results_path(s->rd));
done:
    return err;
}

/* Collective: the run in an open run directory. */
static otd_err run_in(run_state *s, otd_run_summary *sum)
{
    otd_err err = OTD_OK, loop_err = OTD_OK;
    OTD_CHECK(setup(s));
    if (otd_rundir_get_state(s->rd) == OTD_RUNDIR_RESUME)
        OTD_CHECK(resume(s));
    else
        OTD_CHECK(start(s));
    OTD_CHECK(otd_algo_prepare(s->algo, s->engine, s->target, s->W0, s->grad));
    OTD_CHECK(otd_metrics_create(s->cfg, &s->lay, s->comm, s->target, s->W0, &s->metrics));
    loop_err = otd_algo_one_shot(s->algo) ? solve_once(s, sum) : step_loop(s, sum);
    /* A non-finite run still records how far it got; other failures in the
     * loop are collective failures with nothing sensible to add. */
    if (loop_err == OTD_ERR_NUMERIC)
        sum->status = OTD_STATUS_NONFINITE;
    else if (loop_err != OTD_OK)
        OTD_CHECK(loop_err);
    if (sum->status == OTD_STATUS_RUNNING) {
        OTD_CHECK(otd_results_history_flush(s->results));
        if (root(s) && sum->interrupted)
            otd_report_line(s->out,
                            "otd: interrupted (SIGINT): checkpointed at iteration %lld; exit %d; "
                            "run the same command again to continue",
                            (long long)sum->iters,
                            otd_status_exit_after(sum->status, sum->interrupted));
        else if (root(s))
            otd_report_line(s->out,
                            "otd: signal received: checkpointed at iteration %lld; exit %d = "
                            "resubmit to continue",
                            (long long)sum->iters,
                            otd_status_exit_after(sum->status, sum->interrupted));
    } else {
        OTD_CHECK(write_final(s, sum));
        if (root(s))
            otd_report_summary(s->out, sum, otd_rundir_results_path(s->rd));
    }
    err = loop_err;
done:
    if (s->results != NULL) {
        otd_err cerr = otd_results_close(s->results);
        s->results = NULL;
        if (err == OTD_OK)
            err = cerr;
    }
    return err;
}

/* A finished run of this configuration: say so, and end with its verdict.
 * One of another configuration is refused like a checkpoint of one. */
static otd_err report_done(run_state *s, otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    char *changes = NULL;
    OTD_CHECK(check_stored_config(s, "the finished run", &changes));
    sum->status = otd_rundir_status(s->rd);
    if (root(s))
        otd_report_line(s->out,
                        "otd: %s is complete (status %s): nothing to do; --restart runs "
                        "it again",
                        otd_rundir_results_path(s->rd), otd_status_name(sum->status));
    /* Stopping keys may differ: the run is complete under the ones it ran
     * with (its /summary says which); a new budget needs --restart. */
    if (root(s) && changes[0] != '\0')
        otd_report_line(s->chatter, "(it ran under other settings than given now: %s)", changes);
    if (otd_status_outcome(sum->status) == OTD_OUTCOME_FAILED)
        OTD_FAIL(OTD_ERR_NUMERIC, "the run in %s ended with status %s",
                 otd_rundir_results_path(s->rd), otd_status_name(sum->status));
done:
    free(changes);
    return err;
}

otd_err otd_run(const otd_config *cfg, otd_comm *comm, const char *dir, const otd_run_opts *opts,
                otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    run_state s = {.cfg = cfg, .opts = opts, .comm = comm, .row_iter = -1};
    memset(sum, 0, sizeof *sum);
    sum->status = OTD_STATUS_RUNNING;
    s.out = opts != NULL && opts->out != NULL ? opts->out : stdout;
    s.chatter = otd_report_chatter(s.out, opts);
    OTD_CHECK(otd_rundir_open(comm, dir, opts != NULL && opts->restart, s.out, &s.rd));
    if (otd_rundir_get_state(s.rd) == OTD_RUNDIR_DONE)
        OTD_CHECK(report_done(&s, sum));
    else
        OTD_CHECK(run_in(&s, sum));
done:
    run_free(&s);
    /* "Nothing written" leaves nothing: no .lock, no directory this call
     * created for a run that failed before writing anything. */
    if (err != OTD_OK && !s.wrote)
        otd_rundir_discard(s.rd);
    else
        otd_rundir_close(s.rd);
    return err;
}
