/* engine.c: the engine table and the dispatch around it. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine_impl.h"
#include "otd/otd_packed.h"

/* One row per engine. */
static const otd_engine_ops *const engines[] = {&otd_engine_implicit, &otd_engine_dense};

struct otd_engine {
    const otd_engine_ops *ops;
    void *state;
};

static otd_err find(const otd_config *cfg, const otd_engine_ops **ops)
{
    *ops = NULL;
    for (size_t i = 0; i < sizeof engines / sizeof *engines; i++)
        if (engines[i]->id == cfg->engine)
            *ops = engines[i];
    if (*ops == NULL)
        return OTD_ERROR(OTD_ERR_INTERNAL, "engine %d has no implementation", (int)cfg->engine);
    return OTD_OK;
}

otd_err otd_engine_memory(const otd_config *cfg, const otd_layout *lay, int64_t r, double *bytes)
{
    otd_err err = OTD_OK;
    const otd_engine_ops *ops = NULL;
    OTD_CHECK(find(cfg, &ops));
    OTD_CHECK(ops->memory(cfg, lay, r, bytes));
done:
    return err;
}

otd_err otd_engine_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                          const otd_target *target, otd_engine **out)
{
    otd_err err = OTD_OK;
    otd_engine *e = NULL;
    *out = NULL;
    OTD_ALLOC(e, 1);
    OTD_CHECK(find(cfg, &e->ops));
    OTD_CHECK(e->ops->create(cfg, lay, comm, target, &e->state));
    *out = e;
    e = NULL;
done:
    otd_engine_destroy(e);
    return err;
}

otd_err otd_engine_eval(otd_engine *e, const double *W_loc, double *grad_loc, otd_eval *ev)
{
    return e->ops->eval(e->state, W_loc, grad_loc, ev);
}

double otd_engine_step_flops(const otd_config *cfg)
{
    double d = (double)cfg->problem.dim, m = (double)cfg->model.m, r = (double)cfg->problem.rank;
    /* implicit: W^T W, W^T U, W B, U A; dense: the packed slab against
     * panels of W, plus the same Gram work. */
    double f = 3.0 * d * m * m + 4.0 * d * m * r;
    if (cfg->engine == OTD_ENGINE_DENSE)
        f += 2.0 * m * d * (double)otd_packed_count(cfg->problem.dim, cfg->problem.order - 1);
    return f;
}

void otd_engine_destroy(otd_engine *e)
{
    if (e == NULL)
        return;
    if (e->ops != NULL && e->state != NULL)
        e->ops->destroy(e->state);
    free(e);
}

void otd_engine_describe(const otd_engine *e, char *buf, size_t n)
{
    if (e->ops->describe != NULL)
        e->ops->describe(e->state, buf, n);
    else
        snprintf(buf, n, "%s", e->ops->name);
}

const char *otd_engine_label(const otd_engine *e)
{
    return e->ops->name;
}

void otd_engine_fill_eval(otd_eval *ev, double tt, double ts, double t2, double reg, double mag,
                          int l, int64_t d, const double *norms, const double *WtU)
{
    otd_ksum fit = {0, 0};
    otd_ksum_add(&fit, tt);
    otd_ksum_add(&fit, -2.0 * ts);
    otd_ksum_add(&fit, t2);
    ev->fit = 0.5 * otd_ksum_value(&fit);
    ev->reg = reg;
    ev->loss = ev->fit + reg;
    /* fmax would turn a NaN fit into a perfect 0: keep it NaN. */
    ev->rel_err = isnan(ev->fit) ? NAN : sqrt(fmax(0.0, 2.0 * ev->fit) / t2);
    ev->rel_err_res = otd_rel_err_resolution(mag + t2, t2, l, d);
    ev->t_norm2 = t2;
    ev->norms = norms;
    ev->WtU = WtU;
}

double otd_rel_err_resolution(double mag, double t2, int l, int64_t d)
{
    /* fit = 1/2 (sum of terms) is correct to about gamma eps mag / 2; the
     * error sqrt(2 fit / t2) can be told from zero only above
     * sqrt(2 d_fit / t2). */
    double gamma = 4.0 + (double)l * sqrt((double)d);
    return sqrt(gamma * DBL_EPSILON * mag / t2);
}

void otd_format_rel_err(char *buf, size_t n, double rel_err, double res)
{
    if (rel_err < res)
        snprintf(buf, n, "< %.2g", res);
    else
        snprintf(buf, n, "%.4e", rel_err);
}
