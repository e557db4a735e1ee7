/* driver.c: the step loop of one run (see otd_driver.h). */
#include "otd/otd_driver.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/report.h"
#include "otd/otd_algo.h"
#include "otd/otd_blas.h"
#include "otd/otd_engine.h"
#include "otd/otd_input.h"
#include "otd/otd_metrics.h"
#include "otd/otd_results.h"
#include "otd/otd_target.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

/* Logged rows kept in memory before they are written: bounds memory on very
 * long runs while keeping file I/O out of almost every step. */
#define FLUSH_ROWS 4096

const char *otd_status_name(otd_status s)
{
    switch (s) {
    case OTD_STATUS_CONVERGED:
        return "converged";
    case OTD_STATUS_MAX_ITERS:
        return "max_iters";
    case OTD_STATUS_NONFINITE:
        return "nonfinite";
    }
    return "unknown";
}

/* Everything one run holds; released in one place. */
typedef struct {
    otd_layout lay;
    otd_target *target;
    otd_algo *algo;
    otd_engine *engine;
    otd_metrics *metrics;
    otd_results *results;
    double *W, *grad, *scalars, *vecs;
    char *yaml;
} run_state;

static void run_free(run_state *s)
{
    otd_metrics_destroy(s->metrics);
    otd_engine_destroy(s->engine);
    otd_algo_destroy(s->algo);
    otd_target_destroy(s->target);
    free(s->W);
    free(s->grad);
    free(s->scalars);
    free(s->vecs);
    free(s->yaml);
}

/* Initial W: from model.init_file, or drawn by the algorithm. */
static otd_err initial_w(const otd_config *cfg, otd_comm *comm, run_state *s)
{
    otd_err err = OTD_OK;
    double *full = NULL;
    const otd_layout *lay = &s->lay;
    int64_t m = cfg->model.m;
    if (cfg->model.init_file[0] == '\0')
        return otd_algo_init(s->algo, s->W);
    OTD_ALLOC(full, lay->d * m);
    OTD_CHECK(otd_input_read(comm, cfg->model.init_file, "/W", "model.init_file", lay->d, m, full));
    for (int64_t i = 0; i < m; i++)
        memcpy(s->W + i * lay->nrows, full + i * lay->d + lay->row0,
               (size_t)lay->nrows * sizeof *full);
done:
    free(full);
    return err;
}

static otd_err open_results(const otd_config *cfg, otd_comm *comm, const char *path, run_state *s)
{
    otd_err err = OTD_OK;
    char hash[17], blas[256];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)otd_config_hash(cfg));
    otd_blas_describe(blas, sizeof blas);
    OTD_CHECK(otd_config_to_yaml(cfg, &s->yaml));
    const otd_attr attrs[] = {
        {"config", s->yaml},
        {"config_hash", hash},
        {"otd_version", OTD_VERSION_STRING},
        {"blas", blas},
        {"engine", otd_engine_label(s->engine)},
        {"algo", otd_algo_name_str(cfg->algo.name)},
        {"layout", "contiguous row blocks"},
    };
    OTD_CHECK(
        otd_results_create(path, comm, attrs, (int)(sizeof attrs / sizeof *attrs), &s->results));
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
                                         otd_metrics_vector_names,
                                         s->target->r > 0 ? OTD_V_NVEC : 0, s->target->r));
done:
    return err;
}

/* The step loop. Sets summary fields; returns OTD_ERR_NUMERIC when the loss
 * or gradient stops being finite (the verdict is the same on every rank:
 * both come out of allreduced values). */
static otd_err step_loop(const otd_config *cfg, otd_comm *comm, run_state *s, otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const int root = otd_comm_rank(comm) == 0;
    const int64_t n = s->lay.nrows * cfg->model.m;
    double t0 = otd_comm_wtime(), last_print = t0, last_good = NAN;
    int64_t reinit_acc = 0, rows = 0, it;
    otd_eval ev = {0};
    for (it = 0;; it++) {
        int64_t nre = 0;
        int stop = -1;
        OTD_CHECK(otd_algo_before_step(s->algo, it, s->W, &nre));
        reinit_acc += nre;
        OTD_CHECK(otd_engine_eval(s->engine, s->W, s->grad, &ev));
        if (!isfinite(ev.loss)) {
            sum->status = OTD_STATUS_NONFINITE;
            OTD_FAIL(OTD_ERR_NUMERIC,
                     "non-finite loss at iteration %lld (last logged rel_err %g); "
                     "try a smaller algo.lr",
                     (long long)it, last_good);
        }
        if (ev.rel_err <= cfg->algo.target_rel_err)
            stop = OTD_STATUS_CONVERGED;
        else if (it >= cfg->algo.max_iters)
            stop = OTD_STATUS_MAX_ITERS;
        if (it % cfg->run.log_every == 0 || stop >= 0) {
            OTD_CHECK(otd_metrics_compute(s->metrics, &ev, s->W, s->grad, s->scalars, s->vecs));
            s->scalars[OTD_M_ITER] = (double)it;
            s->scalars[OTD_M_EPOCH] = (double)otd_algo_epoch(s->algo, it);
            s->scalars[OTD_M_N_REINIT] = (double)reinit_acc;
            s->scalars[OTD_M_WALL_TIME] = otd_comm_wtime() - t0;
            reinit_acc = 0;
            OTD_CHECK(otd_results_history_append(s->results, s->scalars, s->vecs));
            if (++rows % FLUSH_ROWS == 0)
                OTD_CHECK(otd_results_history_flush(s->results));
            if (!isfinite(s->scalars[OTD_M_GRAD_NORM])) {
                sum->status = OTD_STATUS_NONFINITE;
                OTD_FAIL(OTD_ERR_NUMERIC, "non-finite gradient at iteration %lld (loss %g)",
                         (long long)it, ev.loss);
            }
            last_good = ev.rel_err;
        }
        if (root && (stop >= 0 || otd_comm_wtime() - last_print >= cfg->run.progress_seconds)) {
            last_print = otd_comm_wtime();
            otd_report_progress(cfg, it, ev.loss, ev.rel_err, last_print - t0, 0);
        }
        if (stop >= 0) {
            sum->status = (otd_status)stop;
            break;
        }
        cblas_daxpy((int)n, -cfg->algo.lr, s->grad, 1, s->W, 1);
    }
done:
    sum->iters = it;
    sum->final_rel_err = ev.rel_err;
    sum->final_loss = ev.loss;
    sum->wall_seconds = otd_comm_wtime() - t0;
    sum->steps_per_s = sum->wall_seconds > 0 ? (double)it / sum->wall_seconds : 0.0;
    return err;
}

static otd_err write_final(const otd_config *cfg, run_state *s, const otd_run_summary *sum)
{
    otd_err err = OTD_OK;
    const char *dn[] = {"final_rel_err", "final_loss", "wall_seconds", "steps_per_s"};
    const double dv[] = {sum->final_rel_err, sum->final_loss, sum->wall_seconds, sum->steps_per_s};
    const char *in[] = {"iters"};
    const int64_t iv[] = {sum->iters};
    OTD_CHECK(otd_results_write_rows(s->results, "/final/W", &s->lay, s->W, cfg->model.m));
    OTD_CHECK(otd_results_write_summary(s->results, otd_status_name(sum->status), NULL, 0, dn, dv,
                                        4, in, iv, 1));
done:
    return err;
}

otd_err otd_driver_run(const otd_config *cfg, otd_comm *comm, const char *outdir,
                       otd_run_summary *sum)
{
    otd_err err = OTD_OK, loop_err = OTD_OK;
    run_state s = {0};
    char path[4096], storage[512];
    int64_t m = cfg->model.m;
    memset(sum, 0, sizeof *sum);
    snprintf(path, sizeof path, "%s/results.h5", outdir);
    OTD_CHECK(otd_layout_init(&s.lay, cfg->problem.dim, otd_comm_rank(comm), otd_comm_size(comm)));
    OTD_CHECK(otd_target_create(cfg, comm, &s.target));
    OTD_ALLOC(s.W, s.lay.nrows * m);
    OTD_ALLOC(s.grad, s.lay.nrows * m);
    OTD_ALLOC(s.scalars, OTD_M_NSCALAR);
    OTD_ALLOC(s.vecs, OTD_V_NVEC * s.target->r);
    OTD_CHECK(otd_algo_create(cfg, &s.lay, comm, &s.algo));
    OTD_CHECK(initial_w(cfg, comm, &s));
    OTD_CHECK(otd_engine_create(cfg, &s.lay, comm, s.target, &s.engine));
    OTD_CHECK(otd_metrics_create(cfg, &s.lay, comm, s.target, s.W, &s.metrics));
    OTD_CHECK(open_results(cfg, comm, path, &s));
    otd_engine_describe(s.engine, storage, sizeof storage);
    otd_report_banner(cfg, comm, &s.lay, otd_engine_label(s.engine), storage, outdir);
    loop_err = step_loop(cfg, comm, &s, sum);
    /* A non-finite run still records how far it got; other failures in the
     * loop are collective failures with nothing sensible to add. */
    if (loop_err != OTD_OK && loop_err != OTD_ERR_NUMERIC)
        OTD_CHECK(loop_err);
    OTD_CHECK(write_final(cfg, &s, sum));
    if (otd_comm_rank(comm) == 0)
        otd_report_summary(sum, path);
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
