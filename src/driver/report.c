/* report.c: banner, progress lines and summary on rank 0. */
#include "driver/report.h"

#include <stdio.h>

#include "otd/otd_blas.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

static void human_bytes(double b, char *buf, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, "%.1f %s", b, u[i]);
}

void otd_report_banner(const otd_config *cfg, const otd_comm *comm, const otd_layout *lay,
                       const char *engine, const char *storage, const char *outdir)
{
    char blas[256], mem[32];
    int64_t m = cfg->model.m, r = cfg->problem.rank,
            rows_max = (lay->d + lay->nranks - 1) / lay->nranks;
    if (otd_comm_rank(comm) != 0)
        return;
    otd_blas_describe(blas, sizeof blas);
    /* W, gradient, W_0 rows + the m x m and m x r Gram work space per rank. */
    human_bytes(8.0 * (3.0 * rows_max * m + 2.0 * m * m + 2.0 * m * r + (double)lay->d * r), mem,
                sizeof mem);
    printf("otd %s | %s on %s engine | P = %d ranks\n", OTD_VERSION_STRING,
           otd_algo_name_str(cfg->algo.name), engine, lay->nranks);
    if (cfg->problem.tensor_file[0] != '\0')
        printf("  problem: l = %d, d = %lld, T* from %s", cfg->problem.order, (long long)lay->d,
               cfg->problem.tensor_file);
    else
        printf("  problem: l = %d, d = %lld, r = %lld, target %s", cfg->problem.order,
               (long long)lay->d, (long long)r, otd_target_kind_name(cfg->problem.target));
    if (cfg->problem.noise > 0)
        printf(" + noise %.3g", cfg->problem.noise);
    printf(" | model: m = %lld, %s, init %.3g\n", (long long)m, otd_param_name(cfg->model.param),
           cfg->model.init_scale);
    printf("  algo: lr %.3g, lambda %.3g, max_iters %lld, target rel_err %.3g", cfg->algo.lr,
           cfg->algo.lambda, (long long)cfg->algo.max_iters, cfg->algo.target_rel_err);
    if (cfg->algo.name != OTD_ALGO_GD)
        printf(", epochs H0 = %lld growth %.3g, reinit <= %.3g", (long long)cfg->algo.epoch_len,
               cfg->algo.epoch_growth, cfg->algo.reinit_threshold);
    printf("\n  layout: rows per rank %lld..%lld, about %s per rank | seed %llu | config %016llx\n",
           (long long)(lay->d / lay->nranks), (long long)rows_max, mem,
           (unsigned long long)cfg->run.seed, (unsigned long long)otd_config_hash(cfg));
    printf("  %s\n", storage);
    printf("  BLAS: %s\n  output: %s\n", blas, outdir);
    fflush(stdout);
}

void otd_report_progress(const otd_config *cfg, int64_t iter, double loss, double rel_err,
                         double elapsed, int64_t start_iter)
{
    double rate = elapsed > 0 ? (double)(iter - start_iter) / elapsed : 0.0;
    double eta = rate > 0 ? (double)(cfg->algo.max_iters - iter) / rate : 0.0;
    printf("  iter %9lld/%lld  loss %.6e  rel_err %.4e  %.3g steps/s  ETA <= %.0f s\n",
           (long long)iter, (long long)cfg->algo.max_iters, loss, rel_err, rate, eta);
    fflush(stdout);
}

void otd_report_summary(const otd_run_summary *s, const char *path)
{
    printf("done: %s after %lld steps, rel_err %.4e, loss %.6e, %.3f s, %.4g steps/s\n"
           "  results: %s\n",
           otd_status_name(s->status), (long long)s->iters, s->final_rel_err, s->final_loss,
           s->wall_seconds, s->steps_per_s, path);
    fflush(stdout);
}
