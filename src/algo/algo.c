/* algo.c: the table of algorithms and the dispatch to its rows (see
 * otd_algo.h and algo_impl.h). */
#include "otd/otd_algo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/algo_impl.h"
#include "otd/otd_rng.h"

/* The order of algo.name's values (configurations store the index). */
const char *const otd_algo_names[] = {"gd", "bl", "tdp", "lazy_gd", "lazy_opt", NULL};

static void gd_describe(const otd_config *cfg, char *buf, size_t n)
{
    snprintf(buf, n, "lr %.3g, lambda %.3g, max_iters %lld, target rel_err %.3g", cfg->algo.lr,
             cfg->algo.lambda, (long long)cfg->algo.max_iters, cfg->algo.target_rel_err);
}

/* bl and tdp: a small start on the sphere, the homogeneous model and a
 * regularizer (docs/science.md section 4). gd and the lazy regime start
 * from w_i ~ N(0, I/d): from a small start gd of order l >= 3 sits at the
 * saddle W = 0 (its gradient is O(sigma^{l-1})), and the lazy regime is by
 * definition a large one, unregularized (its error is the NTK regime's). */
#define SMALL_START                                                                                \
    {                                                                                              \
        OTD_PARAM_HOMOGENEOUS, 1e-3, NAN /* lambda: small_start_lambda */                          \
    }
#define GAUSSIAN_START                                                                             \
    {                                                                                              \
        OTD_PARAM_PLAIN, 1.0, 1e-3                                                                 \
    }
#define LAZY_START                                                                                 \
    {                                                                                              \
        OTD_PARAM_PLAIN, 1.0, 0.0                                                                  \
    }

/* bl/tdp's lambda: the regularizer leaves a floor under the relative
 * error, and auto puts that floor at a tenth of epsilon (docs/science.md
 * section 4). With the homogeneous model (lambda/2)||w_i||^2 is lambda/2
 * times component i's coefficient, so a fitted target's coefficient settles
 * where (c - a_k) + lambda/2 = 0: lambda/2 below a_k, for every k whatever
 * a_k. For orthonormal components the residual is then
 * (lambda/2) sum_k u_k^{(x)l}, of norm sqrt(r) lambda/2, and the error
 * cannot drop below sqrt(r) lambda / (2 ||T*||). The old constant 1e-3 put
 * that floor above the default epsilon = 1e-3 from r = 4 on (1.118e-3 at
 * r = 5), so bl never converged there though every target was fitted.
 * Smaller is not free: a component grows only where the residual's
 * correlation R(w_bar^{(x)l}) exceeds lambda/2, and the regularizer is what
 * shrinks components that do not help until a re-initialization catches
 * them. A tenth of epsilon keeps lambda/2 far below any target worth
 * fitting (one below it changes the error by less than the floor itself),
 * and measured runs take the same steps (within 3 % for orthonormal
 * targets) for any lambda from 0 to five times this one, so the rule costs
 * nothing. ||T*|| is 1 with
 * problem.normalize; otherwise sqrt(sum a_k^2) of the configured weights
 * (exact for orthonormal and basis targets, close for gaussian ones), or 1
 * when the weights come from a file the configuration cannot see. */
#define SMALL_START_FLOOR 0.1    /* the floor, as a fraction of epsilon */
#define SMALL_START_EPSILON 1e-3 /* epsilon when algo.target_rel_err = 0 (never stop) */

static void small_start_lambda(const otd_config *cfg, otd_algo_defaults *d)
{
    double eps = cfg->algo.target_rel_err > 0 ? cfg->algo.target_rel_err : SMALL_START_EPSILON;
    double tnorm = 1.0, amax = 0.0, s = 0.0;
    int64_t r = cfg->problem.rank;
    if (!cfg->problem.normalize && cfg->problem.components_file[0] == '\0' &&
        cfg->problem.tensor_file[0] == '\0' && cfg->problem.weights != NULL) {
        /* sqrt(sum a_k^2), scaled by max |a_k| so that no square overflows */
        for (int64_t k = 0; k < r; k++)
            amax = fmax(amax, fabs(cfg->problem.weights[k]));
        for (int64_t k = 0; amax > 0 && k < r; k++)
            s += (cfg->problem.weights[k] / amax) * (cfg->problem.weights[k] / amax);
        if (amax > 0)
            tnorm = amax * sqrt(s);
    }
    d->lambda = SMALL_START_FLOOR * 2.0 * eps * tnorm / sqrt((double)r);
}

/* bl and tdp: a small start on the sphere, epochs, re-initialization. */
#define EPOCHS_ROW(n)                                                                              \
    {                                                                                              \
        .name = (n), .defaults = SMALL_START, .resolve_defaults = small_start_lambda, .sphere = 1, \
        .check_resources = otd_epochs_check_resources, .create_state = otd_epochs_create,          \
        .destroy_state = otd_epochs_destroy, .before_step = otd_epochs_before_step,                \
        .epoch = otd_epochs_epoch, .describe = otd_epochs_describe                                 \
    }

static const otd_algo_ops rows[] = {
    {.name = "gd", .defaults = GAUSSIAN_START, .describe = gd_describe},
    EPOCHS_ROW("bl"),
    /* tdp: bl's loop read as the deflation schedule of the follow-up paper. */
    EPOCHS_ROW("tdp"),
    {.name = "lazy_gd",
     .defaults = LAZY_START,
     .scaled = 1,
     .check_config = otd_lazy_algo_check_config,
     .check_resources = otd_lazy_gd_check_resources,
     .create_state = otd_lazy_algo_create,
     .destroy_state = otd_lazy_algo_destroy,
     .prepare = otd_lazy_algo_prepare,
     .eval = otd_lazy_algo_eval,
     .describe = otd_lazy_gd_describe},
    {.name = "lazy_opt",
     .defaults = LAZY_START,
     .check_config = otd_lazy_algo_check_config,
     .check_resources = otd_lazy_opt_check_resources,
     .create_state = otd_lazy_algo_create,
     .destroy_state = otd_lazy_algo_destroy,
     .prepare = otd_lazy_algo_prepare,
     .eval = otd_lazy_algo_eval,
     .solve = otd_lazy_opt_solve,
     .describe = otd_lazy_opt_describe,
     .report = otd_lazy_opt_report,
     .result = otd_lazy_opt_result,
     .cost = otd_lazy_opt_cost},
};

static const otd_algo_ops *find(int name)
{
    const char *want = NULL;
    for (int i = 0; otd_algo_names[i] != NULL; i++)
        if (i == name)
            want = otd_algo_names[i];
    for (size_t k = 0; want != NULL && k < sizeof rows / sizeof *rows; k++)
        if (strcmp(rows[k].name, want) == 0)
            return &rows[k];
    return NULL;
}

static otd_err lookup(int name, const otd_algo_ops **ops)
{
    *ops = find(name);
    if (*ops == NULL)
        return OTD_ERROR(OTD_ERR_INTERNAL, "algorithm %d has no row in the algorithm table", name);
    return OTD_OK;
}

otd_err otd_algo_get_defaults(const otd_config *cfg, otd_algo_defaults *d)
{
    otd_err err = OTD_OK;
    const otd_algo_ops *ops = NULL;
    OTD_CHECK(lookup(cfg->algo.name, &ops));
    *d = ops->defaults;
    if (ops->resolve_defaults != NULL)
        ops->resolve_defaults(cfg, d);
    /* A row that leaves a default to its hook must have set it. */
    if (isnan(d->lambda) || isnan(d->init_scale))
        OTD_FAIL(OTD_ERR_INTERNAL, "algorithm %s left an auto default unresolved", ops->name);
done:
    return err;
}

otd_err otd_algo_check_config(const otd_config *cfg)
{
    otd_err err = OTD_OK;
    const otd_algo_ops *ops = NULL;
    OTD_CHECK(lookup(cfg->algo.name, &ops));
    /* algo.lazy_alpha belongs to lazy_gd alone: a value elsewhere is a
     * mistake, not a setting to ignore. */
    if (cfg->algo.lazy_alpha > 0 && !ops->scaled)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "algo.lazy_alpha = %g applies only to algo.name = lazy_gd (got %s)",
                 cfg->algo.lazy_alpha, ops->name);
    if (ops->check_config != NULL)
        OTD_CHECK(ops->check_config(cfg));
done:
    return err;
}

otd_err otd_algo_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                 double *bytes)
{
    otd_err err = OTD_OK;
    const otd_algo_ops *ops = NULL;
    OTD_CHECK(lookup(cfg->algo.name, &ops));
    /* NULL: nothing of its own beyond what the driver holds (gd). */
    if (ops->check_resources != NULL)
        OTD_CHECK(ops->check_resources(cfg, lay, comm, bytes));
done:
    return err;
}

otd_err otd_algo_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                        otd_algo **out)
{
    otd_err err = OTD_OK;
    otd_algo *a = NULL;
    *out = NULL;
    OTD_ALLOC(a, 1);
    OTD_CHECK(lookup(cfg->algo.name, &a->ops));
    a->cfg = cfg;
    a->lay = lay;
    a->comm = comm;
    if (a->ops->create_state != NULL)
        OTD_CHECK(a->ops->create_state(a));
    *out = a;
    a = NULL;
done:
    otd_algo_destroy(a);
    return err;
}

void otd_algo_destroy(otd_algo *a)
{
    if (a == NULL)
        return;
    if (a->ops != NULL && a->ops->destroy_state != NULL)
        a->ops->destroy_state(a);
    free(a);
}

void otd_algo_sphere_column(const otd_config *cfg, const otd_layout *lay, uint32_t stream,
                            int64_t i, double scale, double *col)
{
    double ss = 0.0;
    /* Every rank draws the whole column to get the same norm bitwise: d
     * draws per column, done only at (re-)initialization. */
    for (int64_t j = 0; j < lay->d; j++) {
        double z = otd_rng_normal(cfg->run.seed, stream, (uint32_t)i, (uint64_t)j);
        ss += z * z;
    }
    double f = scale / sqrt(ss);
    for (int64_t j = 0; j < lay->nrows; j++)
        col[j] = f * otd_rng_normal(cfg->run.seed, stream, (uint32_t)i, (uint64_t)(lay->row0 + j));
}

otd_err otd_algo_init(otd_algo *a, double *W)
{
    const otd_config *cfg = a->cfg;
    const otd_layout *lay = a->lay;
    uint32_t stream = otd_rng_stream(OTD_RNG_INIT, 0);
    double sigma = cfg->model.init_scale / sqrt((double)lay->d);
    for (int64_t i = 0; i < cfg->model.m; i++) {
        double *col = W + i * lay->nrows;
        if (a->ops->sphere) {
            otd_algo_sphere_column(cfg, lay, stream, i, cfg->model.init_scale, col);
            continue;
        }
        for (int64_t j = 0; j < lay->nrows; j++)
            col[j] = sigma *
                     otd_rng_normal(cfg->run.seed, stream, (uint32_t)i, (uint64_t)(lay->row0 + j));
    }
    return OTD_OK;
}

otd_err otd_algo_prepare(otd_algo *a, otd_engine *engine, const otd_target *target,
                         const double *W0, double *work)
{
    a->engine = engine;
    a->target = target;
    return a->ops->prepare != NULL ? a->ops->prepare(a, W0, work) : OTD_OK;
}

otd_err otd_algo_before_step(otd_algo *a, int64_t iter, double *W, int64_t *n_reinit)
{
    *n_reinit = 0;
    return a->ops->before_step != NULL ? a->ops->before_step(a, iter, W, n_reinit) : OTD_OK;
}

int64_t otd_algo_epoch(otd_algo *a, int64_t iter)
{
    return a->ops->epoch != NULL ? a->ops->epoch(a, iter) : 0;
}

otd_err otd_algo_eval(otd_algo *a, const double *W, double *grad, otd_eval *ev)
{
    if (a->ops->eval != NULL)
        return a->ops->eval(a, W, grad, ev);
    if (a->engine == NULL)
        return OTD_ERROR(OTD_ERR_INTERNAL, "otd_algo_eval before otd_algo_prepare");
    return otd_engine_eval(a->engine, W, grad, ev);
}

int otd_algo_one_shot(const otd_algo *a)
{
    return a->ops->solve != NULL;
}

otd_err otd_algo_solve(otd_algo *a, double *W, otd_status *status)
{
    if (a->ops->solve == NULL)
        return OTD_ERROR(OTD_ERR_INTERNAL, "algorithm %s has no one-shot solve", a->ops->name);
    return a->ops->solve(a, W, status);
}

void otd_algo_describe(const otd_config *cfg, char *buf, size_t n)
{
    const otd_algo_ops *ops = find(cfg->algo.name);
    if (ops == NULL)
        snprintf(buf, n, "unknown algorithm %d", cfg->algo.name);
    else
        (ops->describe != NULL ? ops->describe : gd_describe)(cfg, buf, n);
}

void otd_algo_report_fields(const otd_algo *a, otd_algo_report *rep)
{
    memset(rep, 0, sizeof *rep);
    if (a->ops->report != NULL)
        a->ops->report(a, rep);
}

void otd_algo_report_real(otd_algo_report *rep, const char *name, double v)
{
    if (rep->nreal < OTD_ALGO_REPORT_CAP) {
        rep->real_names[rep->nreal] = name;
        rep->real_vals[rep->nreal++] = v;
    }
}

void otd_algo_report_int(otd_algo_report *rep, const char *name, int64_t v)
{
    if (rep->nint < OTD_ALGO_REPORT_CAP) {
        rep->int_names[rep->nint] = name;
        rep->int_vals[rep->nint++] = v;
    }
}

void otd_algo_report_str(otd_algo_report *rep, const char *name, const char *v)
{
    if (rep->nstr < OTD_ALGO_REPORT_CAP) {
        rep->str_names[rep->nstr] = name;
        rep->str_vals[rep->nstr++] = v;
    }
}

void otd_algo_result(const otd_algo *a, double rel_err, double res, char *buf, size_t n)
{
    if (n > 0)
        buf[0] = '\0';
    if (a->ops->result != NULL)
        a->ops->result(a, rel_err, res, buf, n);
}

double otd_algo_cost(const otd_config *cfg)
{
    const otd_algo_ops *ops = find(cfg->algo.name);
    if (ops != NULL && ops->cost != NULL)
        return ops->cost(cfg);
    /* A stepping algorithm: the step budget (it may converge earlier). */
    return (double)(cfg->algo.max_iters + 1) * otd_engine_step_flops(cfg);
}
