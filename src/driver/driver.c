/* driver.c: one run: start or resume, the step loop, checkpoints, the end
 * (see otd_driver.h). */
#include "otd/otd_driver.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/report.h"
#include "otd/otd_algo.h"
#include "otd/otd_blas.h"
#include "otd/otd_ckpt.h"
#include "otd/otd_engine.h"
#include "otd/otd_input.h"
#include "otd/otd_lazy.h"
#include "otd/otd_metrics.h"
#include "otd/otd_results.h"
#include "otd/otd_signal.h"
#include "otd/otd_target.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

/* Logged rows kept in memory before they are written: bounds memory on very
 * long runs while keeping file I/O out of almost every step. */
#define FLUSH_ROWS 4096

/* Of a node's available memory, what lazy_opt's matrix may take: the rest
 * is for the process images, MPI buffers and the page cache of others. */
#define LAZY_MEMORY_FRACTION 0.75

/* Slots of otd_eval.flags: ranks that saw a signal; rank 0's "a time-based
 * checkpoint is due". */
enum { FLAG_SIGNAL, FLAG_CKPT_DUE };

const char *otd_status_name(otd_status s)
{
    switch (s) {
    case OTD_STATUS_CONVERGED:
        return "converged";
    case OTD_STATUS_MAX_ITERS:
        return "max_iters";
    case OTD_STATUS_NONFINITE:
        return "nonfinite";
    case OTD_STATUS_CHECKPOINTED:
        return "running";
    case OTD_STATUS_SOLVED:
        return "solved";
    }
    return "unknown";
}

/* Everything one run holds; released in one place. */
typedef struct {
    const otd_config *cfg;
    otd_comm *comm;
    otd_rundir *rd;
    otd_layout lay;
    otd_target *target;
    otd_algo *algo;
    otd_engine *engine;
    otd_metrics *metrics;
    otd_results *results;
    otd_lazy *lazy;             /* lazy_gd (alpha = 0) and lazy_opt: the linearization */
    otd_target *scaled_target;  /* lazy_gd with alpha > 0: T(W0) + T* / alpha */
    double *W, *W0, *grad, *scalars, *vecs;
    char *yaml;
    int64_t it0;        /* first iteration of this process */
    int64_t reinit_acc; /* re-initializations since the last logged row */
    double wall0;       /* loop seconds of earlier processes (resume) */
} run_state;

static void run_free(run_state *s)
{
    otd_metrics_destroy(s->metrics);
    otd_lazy_destroy(s->lazy);
    otd_engine_destroy(s->engine);
    otd_target_destroy(s->scaled_target);
    otd_algo_destroy(s->algo);
    otd_target_destroy(s->target);
    free(s->W);
    free(s->W0);
    free(s->grad);
    free(s->scalars);
    free(s->vecs);
    free(s->yaml);
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

static otd_err create_results(run_state *s)
{
    otd_err err = OTD_OK;
    char hash[17], blas[256];
    const otd_config *cfg = s->cfg;
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
    OTD_CHECK(otd_results_create(otd_rundir_results_path(s->rd), s->comm, attrs,
                                 (int)(sizeof attrs / sizeof *attrs), &s->results));
    /* The target's components, when it has any (not for a tensor file, whose
     * path is in the config). */
    if (s->target->r > 0) {
        OTD_CHECK(otd_results_write_replicated(s->results, "/target/U", s->target->U, s->lay.d,
                                               s->target->r));
        OTD_CHECK(
            otd_results_write_replicated(s->results, "/target/a", s->target->a, s->target->r, 0));
    }
    OTD_CHECK(otd_results_write_rows(s->results, "/init/W", &s->lay, s->W, cfg->model.m));
    OTD_CHECK(otd_results_history_define(s->results, otd_metrics_scalar_names, OTD_M_NSCALAR,
                                         otd_metrics_vector_names, (int)nvec(s), s->target->r));
    OTD_CHECK(
        otd_results_write_summary(s->results, "running", NULL, 0, NULL, NULL, 0, NULL, NULL, 0));
done:
    return err;
}

/* FRESH: W0 drawn or read, results created, iteration 0 committed. */
static otd_err start(run_state *s)
{
    otd_err err = OTD_OK;
    OTD_CHECK(initial_w(s));
    memcpy(s->W0, s->W, (size_t)(s->lay.nrows * s->cfg->model.m) * sizeof *s->W);
    OTD_CHECK(create_results(s));
    OTD_CHECK(checkpoint(s, 0, 0.0));
done:
    return err;
}

/* RESUME: the newest valid checkpoint of this configuration, and the
 * results history cut back to it. */
static otd_err resume(run_state *s)
{
    otd_err err = OTD_OK;
    otd_ckpt_meta meta;
    char *diff = NULL;
    int found = 0;
    memset(&meta, 0, sizeof meta);
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
    if (!found)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s holds an unfinished run but no checkpoint to resume from; rerun with "
                 "--restart to set it aside and start over",
                 otd_rundir_results_path(s->rd));
    OTD_CHECK(otd_config_resume_diff(s->cfg, meta.config_yaml, &diff));
    if (diff != NULL)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "the checkpoint in %s is from a different configuration: %s; use another --out, "
                 "or --restart to set the old run aside",
                 otd_rundir_ckpt_dir(s->rd), diff);
    OTD_CHECK(otd_results_reopen(otd_rundir_results_path(s->rd), s->comm, otd_metrics_scalar_names,
                                 OTD_M_NSCALAR, otd_metrics_vector_names, (int)nvec(s),
                                 s->target->r, meta.history_rows, &s->results));
    s->it0 = meta.iter;
    s->reinit_acc = meta.n_reinit;
    s->wall0 = meta.wall_offset;
    if (otd_comm_rank(s->comm) == 0) {
        printf("  resuming at iteration %lld from a checkpoint written by %d rank%s (history: "
               "%lld rows kept)\n",
               (long long)meta.iter, meta.nranks, meta.nranks == 1 ? "" : "s",
               (long long)meta.history_rows);
        fflush(stdout);
    }
done:
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
    OTD_CHECK(otd_results_history_append(s->results, s->scalars, s->vecs));
    if (otd_results_history_rows(s->results) % FLUSH_ROWS == 0)
        OTD_CHECK(otd_results_history_flush(s->results));
    if (!isfinite(s->scalars[OTD_M_GRAD_NORM]))
        OTD_FAIL(OTD_ERR_NUMERIC, "non-finite gradient at iteration %lld (loss %g)", (long long)it,
                 ev->loss);
done:
    return err;
}

/* Collective: the objective the algorithm descends, at W: the engine's
 * loss; for lazy_gd the linearized model (alpha = 0) or the scaled one. */
static otd_err objective_eval(run_state *s, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    if (s->lazy != NULL)
        return otd_lazy_eval(s->lazy, W, grad, ev);
    OTD_CHECK(otd_engine_eval(s->engine, W, grad, ev));
    if (s->scaled_target != NULL)
        otd_lazy_scaled_report(s->cfg->algo.lazy_alpha, s->target->norm2, ev);
done:
    return err;
}

/* Collective, after start or resume (W0 known): what the lazy algorithms
 * build from W0. lazy_gd with alpha > 0 gets an engine for its scaled
 * target; lazy_gd with alpha = 0 and lazy_opt the linearization, from the
 * engine's J^T b at W0. */
static otd_err setup_lazy(run_state *s)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    otd_eval ev0 = {0};
    if (!otd_algo_is_lazy(cfg->algo.name))
        return OTD_OK;
    if (cfg->algo.lazy_alpha > 0) {
        OTD_CHECK(otd_lazy_scaled_target(cfg, &s->lay, s->comm, s->target, s->W0,
                                         &s->scaled_target));
        otd_engine_destroy(s->engine);
        s->engine = NULL;
        OTD_CHECK(otd_engine_create(cfg, &s->lay, s->comm, s->scaled_target, &s->engine));
        goto done;
    }
    OTD_CHECK(otd_engine_eval(s->engine, s->W0, s->grad, &ev0));
    OTD_CHECK(otd_lazy_create(cfg, &s->lay, s->comm, s->W0, &ev0, s->grad, s->target, &s->lazy));
done:
    return err;
}

/* lazy_opt: log W0, solve the normal equations once, log W0 + Delta with
 * the linearized model's error. */
static otd_err lazy_opt_run(run_state *s, otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    otd_eval ev = {0};
    double t0 = otd_comm_wtime();
    sum->status = OTD_STATUS_NONFINITE;
    memcpy(s->W, s->W0, (size_t)(s->lay.nrows * cfg->model.m) * sizeof *s->W);
    OTD_CHECK(otd_lazy_eval(s->lazy, s->W, s->grad, &ev));
    OTD_CHECK(log_row(s, &ev, 0, s->wall0 + otd_comm_wtime() - t0));
    if (otd_comm_rank(s->comm) == 0) {
        printf("  lazy_opt: solving the normal equations of order m d = %lld\n",
               (long long)(cfg->model.m * cfg->problem.dim));
        fflush(stdout);
    }
    OTD_CHECK(otd_lazy_solve(s->lazy, cfg->algo.lazy_block, cfg->algo.lazy_ridge,
                             LAZY_MEMORY_FRACTION, s->W, &sum->lazy));
    OTD_CHECK(otd_lazy_eval(s->lazy, s->W, s->grad, &ev));
    if (!isfinite(ev.loss))
        OTD_FAIL(OTD_ERR_NUMERIC, "lazy_opt: the solve gave a non-finite loss");
    OTD_CHECK(log_row(s, &ev, 1, s->wall0 + otd_comm_wtime() - t0));
    sum->status = OTD_STATUS_SOLVED;
    if (otd_comm_rank(s->comm) == 0) {
        const otd_spd_info *in = &sum->lazy;
        printf("  lazy_opt: %s on a %d x %d grid (block %lld), %.3g GiB per rank, shift %.3g "
               "(ridge %.3g x mean diagonal %.3g), %.3g s, %.3g GFLOP/s; optimal lazy rel_err "
               "%.6g\n",
               in->solver, in->nprow, in->npcol, (long long)in->block,
               in->bytes_per_rank / 1073741824.0, in->shift, cfg->algo.lazy_ridge, in->mean_diag,
               in->seconds, in->gflops, ev.rel_err);
        fflush(stdout);
    }
done:
    sum->iters = 1;
    sum->final_rel_err = ev.rel_err;
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
    const int root = otd_comm_rank(s->comm) == 0;
    const int64_t n = s->lay.nrows * cfg->model.m, every = cfg->run.checkpoint_every;
    double t0 = otd_comm_wtime(), last_print = t0, last_ckpt = t0;
    int64_t it;
    otd_eval ev = {0};
    sum->status = OTD_STATUS_NONFINITE;
    for (it = s->it0;; it++) {
        int64_t nre = 0;
        int stop = -1;
        OTD_CHECK(otd_algo_before_step(s->algo, it, s->W, &nre));
        s->reinit_acc += nre;
        ev.flags[FLAG_SIGNAL] = otd_signal_pending() != 0;
        ev.flags[FLAG_CKPT_DUE] = root && every == OTD_CKPT_AUTO &&
                                  otd_comm_wtime() - last_ckpt >= cfg->run.checkpoint_seconds;
        OTD_CHECK(objective_eval(s, s->W, s->grad, &ev));
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
        if (root && (stop >= 0 || otd_comm_wtime() - last_print >= cfg->run.progress_seconds)) {
            last_print = otd_comm_wtime();
            otd_report_progress(cfg, it, ev.loss, ev.rel_err, last_print - t0, s->it0);
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
                sum->status = OTD_STATUS_CHECKPOINTED;
                break;
            }
        }
    }
done:
    sum->iters = it;
    sum->final_rel_err = ev.rel_err;
    sum->final_loss = ev.loss;
    sum->wall_seconds = otd_comm_wtime() - t0;
    sum->steps_per_s = sum->wall_seconds > 0 ? (double)(it - s->it0) / sum->wall_seconds : 0.0;
    return err;
}

static otd_err write_final(run_state *s, const otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const otd_config *cfg = s->cfg;
    const otd_spd_info *lz = &sum->lazy;
    const char *dn[] = {"final_rel_err",   "final_loss",          "wall_seconds",
                        "steps_per_s",     "dim_count",           "lazy_ridge",
                        "lazy_shift",      "lazy_bytes_per_rank", "lazy_seconds",
                        "lazy_gflops"};
    const double dv[] = {sum->final_rel_err,
                         sum->final_loss,
                         s->wall0 + sum->wall_seconds,
                         sum->steps_per_s,
                         otd_lazy_dim_count(cfg->problem.order, cfg->problem.dim, cfg->model.m),
                         cfg->algo.lazy_ridge,
                         lz->shift,
                         lz->bytes_per_rank,
                         lz->seconds,
                         lz->gflops};
    const char *in[] = {"iters", "lazy_n", "lazy_rank_deficiency"};
    const int64_t iv[] = {sum->iters, lz->n, lz->rank_deficiency};
    const otd_attr strs[] = {{"lazy_solver", lz->solver}};
    /* The solve's numbers only where there was one. */
    const int nd = lz->n > 0 ? 10 : 5, ni = lz->n > 0 ? 3 : 1;
    OTD_CHECK(otd_results_write_rows(s->results, "/final/W", &s->lay, s->W, cfg->model.m));
    OTD_CHECK(otd_results_write_summary(s->results, otd_status_name(sum->status), strs,
                                        lz->n > 0 ? 1 : 0, dn, dv, nd, in, iv, ni));
done:
    return err;
}

/* DONE: say so, and end with the finished run's verdict. */
static otd_err report_done(run_state *s)
{
    const char *status = otd_rundir_status(s->rd);
    if (otd_comm_rank(s->comm) == 0) {
        printf("otd: %s is complete (status %s): nothing to do; --restart runs it again\n",
               otd_rundir_results_path(s->rd), status);
        fflush(stdout);
    }
    if (strcmp(status, "nonfinite") == 0)
        return OTD_ERROR(OTD_ERR_NUMERIC, "the run in %s ended with non-finite values",
                         otd_rundir_results_path(s->rd));
    return OTD_OK;
}

otd_err otd_driver_run(const otd_config *cfg, otd_comm *comm, otd_rundir *rd, otd_run_summary *sum)
{
    otd_err err = OTD_OK, loop_err = OTD_OK;
    run_state s = {.cfg = cfg, .comm = comm, .rd = rd};
    char storage[512];
    int64_t m = cfg->model.m;
    memset(sum, 0, sizeof *sum);
    sum->status = OTD_STATUS_MAX_ITERS;
    if (otd_rundir_get_state(rd) == OTD_RUNDIR_DONE)
        return report_done(&s);
    OTD_CHECK(otd_layout_init(&s.lay, cfg->problem.dim, otd_comm_rank(comm), otd_comm_size(comm)));
    if (cfg->algo.name == OTD_ALGO_LAZY_OPT) {
        double need = 0;
        OTD_CHECK(otd_lazy_check_memory(cfg, comm, LAZY_MEMORY_FRACTION, &need));
    }
    OTD_CHECK(otd_config_to_yaml(cfg, &s.yaml));
    OTD_CHECK(otd_target_create(cfg, comm, &s.target));
    OTD_ALLOC(s.W, s.lay.nrows * m);
    OTD_ALLOC(s.W0, s.lay.nrows * m);
    OTD_ALLOC(s.grad, s.lay.nrows * m);
    OTD_ALLOC(s.scalars, OTD_M_NSCALAR);
    OTD_ALLOC(s.vecs, OTD_V_NVEC * s.target->r);
    OTD_CHECK(otd_algo_create(cfg, &s.lay, comm, &s.algo));
    OTD_CHECK(otd_engine_create(cfg, &s.lay, comm, s.target, &s.engine));
    otd_engine_describe(s.engine, storage, sizeof storage);
    otd_report_banner(cfg, comm, &s.lay, otd_engine_label(s.engine), storage,
                      otd_rundir_results_path(rd));
    if (otd_rundir_get_state(rd) == OTD_RUNDIR_RESUME)
        OTD_CHECK(resume(&s));
    else
        OTD_CHECK(start(&s));
    OTD_CHECK(setup_lazy(&s));
    OTD_CHECK(otd_metrics_create(cfg, &s.lay, comm, s.target, s.W0, &s.metrics));
    if (cfg->algo.name == OTD_ALGO_LAZY_OPT)
        loop_err = lazy_opt_run(&s, sum);
    else
        loop_err = step_loop(&s, sum);
    /* A non-finite run still records how far it got; other failures in the
     * loop are collective failures with nothing sensible to add. */
    if (loop_err == OTD_ERR_NUMERIC)
        sum->status = OTD_STATUS_NONFINITE;
    else if (loop_err != OTD_OK)
        OTD_CHECK(loop_err);
    if (sum->status == OTD_STATUS_CHECKPOINTED) {
        OTD_CHECK(otd_results_history_flush(s.results));
        if (otd_comm_rank(comm) == 0)
            printf("otd: signal received: checkpointed at iteration %lld; exit %d = resubmit "
                   "to continue\n",
                   (long long)sum->iters, 75);
    } else {
        OTD_CHECK(write_final(&s, sum));
        if (otd_comm_rank(comm) == 0)
            otd_report_summary(sum, otd_rundir_results_path(rd));
    }
    err = loop_err;
done:
    if (s.results != NULL) {
        otd_err cerr = otd_results_close(s.results);
        if (err == OTD_OK)
            err = cerr;
    }
    run_free(&s);
    return err;
}
