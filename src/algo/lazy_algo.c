/* lazy_algo.c: lazy_gd and lazy_opt, the algorithms of the lazy (NTK)
 * regime, as rows of the algorithm table: both start from gd's Gaussian W0
 * and work on the model linearized there (otd_lazy.h). lazy_gd steps on it
 * (or, with algo.lazy_alpha > 0, on the Chizat-scaled model through an
 * engine of its own); lazy_opt solves its normal equations once. */
#include <stdio.h>
#include <stdlib.h>

#include "algo/algo_impl.h"
#include "otd/otd_lazy.h"
#include "otd/otd_linalg.h"

/* Of a node's available memory, what lazy_opt's matrix may take: the rest
 * is for the process images, MPI buffers and the page cache of others. */
#define LAZY_MEMORY_FRACTION 0.75

/* algo.lazy_solver = auto: the dense solve up to this order m d. There it
 * is exact (up to the ridge), needs at most 0.5 GiB for the whole matrix and
 * takes seconds; beyond it its n^3 / 3 flops and n^2 memory grow past what
 * CG needs (6 m^2 d flops per product, O(m d + m^2) memory) for any
 * reasonable iteration count. */
#define LAZY_DENSE_MAX_N 8192

typedef struct {
    otd_lazy *lz;              /* the linearization (lazy_opt, lazy_gd with alpha = 0) */
    otd_target *scaled_target; /* lazy_gd with alpha > 0: T(W0) + T* / alpha */
    otd_engine *scaled_engine; /* ... and the engine that evaluates against it */
    otd_spd_info solve;        /* lazy_opt dense: the distributed solve */
    otd_lazy_cg_info cg;       /* lazy_opt cg */
} lazy_state;

/* lazy_opt's solver as configured: CG, or dense (the default up to
 * LAZY_DENSE_MAX_N). */
static int uses_cg(const otd_config *cfg)
{
    return cfg->algo.lazy_solver == OTD_LAZY_SOLVER_CG ||
           (cfg->algo.lazy_solver == OTD_LAZY_SOLVER_AUTO &&
            cfg->model.m * cfg->problem.dim > LAZY_DENSE_MAX_N);
}

otd_err otd_lazy_algo_check_config(const otd_config *cfg)
{
    if (cfg->algo.lazy_alpha > 0 && cfg->engine == OTD_ENGINE_DENSE &&
        (cfg->problem.noise > 0 || cfg->problem.tensor_file[0] != '\0'))
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "algo.lazy_alpha = %g with engine = dense needs a generated noise-free "
                         "target: the scaled model fits T(W0) + T* / alpha, built from T*'s "
                         "components",
                         cfg->algo.lazy_alpha);
    return OTD_OK;
}

otd_err otd_lazy_gd_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                    double *bytes)
{
    otd_err err = OTD_OK;
    const int64_t r = otd_target_ncomp(cfg), rm = r + cfg->model.m;
    (void)comm;
    if (cfg->algo.lazy_alpha <= 0) {
        *bytes += otd_lazy_bytes(cfg, lay, r);
        goto done;
    }
    /* The scaled model: a target of r + m components, built in a buffer and
     * copied (d x (r + m) twice, its Gram matrix), and an engine of its own
     * for it. */
    *bytes +=
        8.0 * (2.0 * (double)lay->d * (double)rm + (double)rm * (double)rm + 2.0 * (double)rm);
    OTD_CHECK(otd_engine_memory(cfg, lay, rm, bytes));
done:
    return err;
}

otd_err otd_lazy_opt_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                     double *bytes)
{
    otd_err err = OTD_OK;
    double matrix = 0, rows = (double)((lay->d + lay->nranks - 1) / lay->nranks),
           m = (double)cfg->model.m;
    if (uses_cg(cfg)) {
        /* CG: the linearization and five more vectors of W's size (x, r, z,
         * p, q), no matrix. */
        *bytes +=
            otd_lazy_bytes(cfg, lay, otd_target_ncomp(cfg)) + 8.0 * (5.0 * rows * m + 4.0 * m);
        goto done;
    }
    OTD_CHECK(otd_lazy_check_memory(cfg, comm, LAZY_MEMORY_FRACTION, &matrix));
    /* The linearization, its share of the matrix, and the solve's gathered
     * vectors: right-hand side, W0, solution, the x_i (m d each) and MPI's
     * receive buffer for them. */
    *bytes += otd_lazy_bytes(cfg, lay, otd_target_ncomp(cfg)) + matrix +
              8.0 * 5.0 * (double)cfg->model.m * (double)lay->d;
done:
    return err;
}

otd_err otd_lazy_algo_create(otd_algo *a)
{
    otd_err err = OTD_OK;
    lazy_state *st = NULL;
    OTD_ALLOC(st, 1);
    a->state = st;
done:
    return err;
}

void otd_lazy_algo_destroy(otd_algo *a)
{
    lazy_state *st = a->state;
    if (st == NULL)
        return;
    otd_lazy_destroy(st->lz);
    otd_engine_destroy(st->scaled_engine);
    otd_target_destroy(st->scaled_target);
    free(st);
    a->state = NULL;
}

/* Collective: from W0, the scaled model's engine (alpha > 0) or the
 * linearization, built from the engine's J^T b at W0. */
otd_err otd_lazy_algo_prepare(otd_algo *a, const double *W0, double *work)
{
    otd_err err = OTD_OK;
    lazy_state *st = a->state;
    const otd_config *cfg = a->cfg;
    otd_eval ev0 = {0};
    if (cfg->algo.lazy_alpha > 0) {
        OTD_CHECK(otd_lazy_scaled_target(cfg, a->lay, a->comm, a->target, W0, &st->scaled_target));
        OTD_CHECK(otd_engine_create(cfg, a->lay, a->comm, st->scaled_target, &st->scaled_engine));
        goto done;
    }
    OTD_CHECK(otd_engine_eval(a->engine, W0, work, &ev0));
    OTD_CHECK(otd_lazy_create(cfg, a->lay, a->comm, W0, &ev0, work, a->target, &st->lz));
done:
    return err;
}

otd_err otd_lazy_algo_eval(otd_algo *a, const double *W, double *grad, otd_eval *ev)
{
    otd_err err = OTD_OK;
    lazy_state *st = a->state;
    if (st->lz != NULL)
        return otd_lazy_eval(st->lz, W, grad, ev);
    if (st->scaled_engine == NULL)
        OTD_FAIL(OTD_ERR_INTERNAL, "lazy algorithm evaluated before otd_algo_prepare");
    OTD_CHECK(otd_engine_eval(st->scaled_engine, W, grad, ev));
    otd_lazy_scaled_report(a->cfg->algo.lazy_alpha, a->target->norm2, ev);
done:
    return err;
}

otd_err otd_lazy_opt_solve(otd_algo *a, double *W, otd_status *status)
{
    otd_err err = OTD_OK;
    lazy_state *st = a->state;
    const otd_config *cfg = a->cfg;
    if (uses_cg(cfg))
        OTD_CHECK(otd_lazy_solve_cg(st->lz, cfg->algo.lazy_ridge, cfg->algo.lazy_tol,
                                    cfg->algo.lazy_max_iters, W, &st->cg));
    else
        OTD_CHECK(otd_lazy_solve(st->lz, cfg->algo.lazy_block, cfg->algo.lazy_ridge,
                                 LAZY_MEMORY_FRACTION, W, &st->solve));
    *status = OTD_STATUS_SOLVED;
done:
    return err;
}

double otd_lazy_opt_cost(const otd_config *cfg)
{
    double n = (double)cfg->model.m * (double)cfg->problem.dim, m = (double)cfg->model.m;
    /* dense: the Cholesky factorization; cg: a few hundred products (the
     * E1 problems converge in 100-200). */
    if (uses_cg(cfg))
        return 300.0 * 6.0 * m * m * (double)cfg->problem.dim;
    return n * n * n / 3.0;
}

void otd_lazy_gd_describe(const otd_config *cfg, char *buf, size_t n)
{
    if (cfg->algo.lazy_alpha > 0)
        snprintf(buf, n,
                 "gradient descent on the Chizat-scaled model, alpha %.3g: lr %.3g, lambda "
                 "%.3g, max_iters %lld, target rel_err %.3g",
                 cfg->algo.lazy_alpha, cfg->algo.lr, cfg->algo.lambda,
                 (long long)cfg->algo.max_iters, cfg->algo.target_rel_err);
    else
        snprintf(buf, n,
                 "gradient descent on the model linearized at W0: lr %.3g, lambda %.3g, "
                 "max_iters %lld, target rel_err %.3g",
                 cfg->algo.lr, cfg->algo.lambda, (long long)cfg->algo.max_iters,
                 cfg->algo.target_rel_err);
}

void otd_lazy_opt_describe(const otd_config *cfg, char *buf, size_t n)
{
    const int64_t order = cfg->model.m * cfg->problem.dim;
    const char *why = cfg->algo.lazy_solver != OTD_LAZY_SOLVER_AUTO ? ""
                      : uses_cg(cfg)                                ? " (auto: m d > 8192)"
                                                                    : " (auto: m d <= 8192)";
    if (uses_cg(cfg))
        snprintf(buf, n,
                 "one solve of the linearized model's normal equations, order m d = %lld, by "
                 "preconditioned CG%s: tol %.3g, at most %lld products, lambda %.3g, ridge %.3g "
                 "x mean diagonal",
                 (long long)order, why, cfg->algo.lazy_tol, (long long)cfg->algo.lazy_max_iters,
                 cfg->algo.lambda, cfg->algo.lazy_ridge);
    else
        snprintf(buf, n,
                 "one solve of the linearized model's normal equations, order m d = %lld, "
                 "dense%s: lambda %.3g, ridge %.3g x mean diagonal, ScaLAPACK block %lld",
                 (long long)order, why, cfg->algo.lambda, cfg->algo.lazy_ridge,
                 (long long)cfg->algo.lazy_block);
}

/* What either solver of lazy_opt reports, in the order the summary has always had. */
static void report_solve(otd_algo_report *rep, const otd_config *cfg, double shift, double bytes,
                         double seconds, double gflops)
{
    otd_algo_report_real(rep, "lazy_ridge", cfg->algo.lazy_ridge);
    otd_algo_report_real(rep, "lazy_shift", shift);
    otd_algo_report_real(rep, "lazy_bytes_per_rank", bytes);
    otd_algo_report_real(rep, "lazy_seconds", seconds);
    otd_algo_report_real(rep, "lazy_gflops", gflops);
}

void otd_lazy_opt_report(const otd_algo *a, otd_algo_report *rep)
{
    const lazy_state *st = a->state;
    if (st->cg.n > 0) {
        const otd_lazy_cg_info *cg = &st->cg;
        report_solve(rep, a->cfg, cg->shift, cg->bytes_per_rank, cg->seconds, cg->gflops);
        otd_algo_report_real(rep, "lazy_residual", cg->residual);
        otd_algo_report_int(rep, "lazy_n", cg->n);
        otd_algo_report_int(rep, "lazy_iters", cg->iters);
        otd_algo_report_int(rep, "lazy_converged", cg->converged);
        otd_algo_report_str(rep, "lazy_solver", "cg");
        return;
    }
    const otd_spd_info *in = &st->solve;
    if (in->n == 0)
        return; /* no solve (yet): nothing to report */
    report_solve(rep, a->cfg, in->shift, in->bytes_per_rank, in->seconds, in->gflops);
    otd_algo_report_int(rep, "lazy_n", in->n);
    otd_algo_report_int(rep, "lazy_rank_deficiency", in->rank_deficiency);
    otd_algo_report_str(rep, "lazy_solver", in->solver);
}

void otd_lazy_opt_result(const otd_algo *a, double rel_err, double res, char *buf, size_t n)
{
    const lazy_state *st = a->state;
    const otd_spd_info *in = &st->solve;
    const otd_lazy_cg_info *cg = &st->cg;
    char e[32];
    otd_format_rel_err(e, sizeof e, rel_err, res);
    if (cg->n > 0)
        snprintf(buf, n,
                 "cg, %lld products, relative residual %.3g (%s), shift %.3g (ridge %.3g x mean "
                 "diagonal %.3g), %.3g s, %.3g GFLOP/s; %s rel_err %s (resolution %.2g)",
                 (long long)cg->iters, cg->residual,
                 cg->converged ? "converged" : "NOT converged: raise algo.lazy_max_iters",
                 cg->shift, a->cfg->algo.lazy_ridge, cg->mean_diag, cg->seconds, cg->gflops,
                 cg->converged ? "optimal lazy" : "upper bound on the optimal lazy", e, res);
    else
        snprintf(
            buf, n,
            "%s on a %d x %d grid (block %lld), %.3g GiB per rank, shift %.3g (ridge %.3g x "
            "mean diagonal %.3g), %.3g s, %.3g GFLOP/s; optimal lazy rel_err %s (resolution %.2g)",
            in->solver, in->nprow, in->npcol, (long long)in->block,
            in->bytes_per_rank / 1073741824.0, in->shift, a->cfg->algo.lazy_ridge, in->mean_diag,
            in->seconds, in->gflops, e, res);
}
