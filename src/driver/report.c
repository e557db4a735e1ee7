/* report.c: banner, progress lines and summary on rank 0.
 *
 * Quiet mode (otd_run_opts.quiet): the driver passes a NULL stream for what
 * only narrates (banner, resume, progress, the indented lines), and these
 * functions then print nothing; the outcome lines get the real stream.
 * Deciding it here, per call, keeps otd_run re-entrant (no global flag). */
#include "driver/report.h"

#include <stdarg.h>
#include <string.h>

#include "otd/otd_blas.h"
#include "otd/otd_engine.h"

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

void otd_report_banner(FILE *out, const otd_config *cfg, const otd_layout *lay, const char *engine,
                       const char *storage, const char *algo, const char *outdir)
{
    if (out == NULL)
        return;
    char blas[256], mem[32];
    int64_t m = cfg->model.m, r = cfg->problem.rank,
            rows_max = (lay->d + lay->nranks - 1) / lay->nranks;
    otd_blas_describe(blas, sizeof blas);
    /* W, gradient, W_0 rows + the m x m and m x r Gram work space per rank. */
    human_bytes(8.0 * (3.0 * rows_max * m + 2.0 * m * m + 2.0 * m * r + (double)lay->d * r), mem,
                sizeof mem);
    fprintf(out, "otd %s | %s on %s engine | P = %d ranks\n", OTD_VERSION_STRING,
            otd_algo_name_str(cfg->algo.name), engine, lay->nranks);
    if (cfg->problem.tensor_file[0] != '\0')
        fprintf(out, "  problem: l = %d, d = %lld, T* from %s", cfg->problem.order,
                (long long)lay->d, cfg->problem.tensor_file);
    else
        fprintf(out, "  problem: l = %d, d = %lld, r = %lld, target %s", cfg->problem.order,
                (long long)lay->d, (long long)r, otd_target_kind_name(cfg->problem.target));
    if (cfg->problem.noise > 0)
        fprintf(out, " + noise %.3g", cfg->problem.noise);
    fprintf(out, " | model: m = %lld, %s, init %.3g\n", (long long)m,
            otd_param_name(cfg->model.param), cfg->model.init_scale);
    fprintf(out, "  algo: %s\n", algo);
    fprintf(out,
            "  layout: rows per rank %lld..%lld, about %s per rank | seed %llu | config %016llx\n",
            (long long)(lay->d / lay->nranks), (long long)rows_max, mem,
            (unsigned long long)cfg->run.seed, (unsigned long long)otd_config_hash(cfg));
    fprintf(out, "  %s\n", storage);
    fprintf(out, "  BLAS: %s\n  output: %s\n", blas, outdir);
    fflush(out);
}

void otd_report_resume(FILE *out, int64_t iter, int nranks, int64_t history_rows)
{
    if (out == NULL)
        return;
    fprintf(out,
            "  resuming at iteration %lld from a checkpoint written by %d rank%s (history: %lld "
            "rows kept)\n",
            (long long)iter, nranks, nranks == 1 ? "" : "s", (long long)history_rows);
    fflush(out);
}

void otd_report_progress(FILE *out, const otd_config *cfg, int64_t iter, double loss,
                         double rel_err, double rel_err_res, double elapsed, int64_t start_iter)
{
    if (out == NULL)
        return;
    double rate = elapsed > 0 ? (double)(iter - start_iter) / elapsed : 0.0;
    double eta = rate > 0 ? (double)(cfg->algo.max_iters - iter) / rate : 0.0;
    char e[32];
    otd_format_rel_err(e, sizeof e, rel_err, rel_err_res);
    fprintf(out, "  iter %9lld/%lld  loss %.6e  rel_err %s  %.3g steps/s  ETA <= %.0f s\n",
            (long long)iter, (long long)cfg->algo.max_iters, loss, e, rate, eta);
    fflush(out);
}

void otd_report_summary(FILE *out, const otd_run_summary *s, const char *path)
{
    if (out == NULL)
        return;
    char e[32];
    otd_format_rel_err(e, sizeof e, s->final_rel_err, s->final_rel_err_res);
    fprintf(out,
            "done: %s after %lld steps, rel_err %s (resolution %.2g), loss %.6e, %.3f s, %.4g "
            "steps/s\n"
            "  results: %s\n",
            otd_status_name(s->status), (long long)s->iters, e, s->final_rel_err_res, s->final_loss,
            s->wall_seconds, s->steps_per_s, path);
    fflush(out);
}

void otd_report_line(FILE *out, const char *fmt, ...)
{
    if (out == NULL)
        return;
    va_list ap;
    if (strncmp(fmt, "otd:", 4) != 0)
        fputs("  ", out);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

FILE *otd_report_chatter(FILE *out, const otd_run_opts *opts)
{
    return opts != NULL && opts->quiet ? NULL : out;
}
