/* engine.c: the engine table and the dispatch around it. */
#include <stdlib.h>

#include "engine/engine_impl.h"

/* One row per engine. */
static const otd_engine_ops *const engines[] = {&otd_engine_implicit};

struct otd_engine {
    const otd_engine_ops *ops;
    void *state;
};

otd_err otd_engine_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                          const otd_target *target, otd_engine **out)
{
    otd_err err = OTD_OK;
    otd_engine *e = NULL;
    *out = NULL;
    OTD_ALLOC(e, 1);
    for (size_t i = 0; i < sizeof engines / sizeof *engines; i++)
        if (engines[i]->id == cfg->engine)
            e->ops = engines[i];
    if (e->ops == NULL)
        OTD_FAIL(OTD_ERR_INTERNAL, "engine %d has no implementation", (int)cfg->engine);
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

void otd_engine_destroy(otd_engine *e)
{
    if (e == NULL)
        return;
    if (e->ops != NULL && e->state != NULL)
        e->ops->destroy(e->state);
    free(e);
}

const char *otd_engine_label(const otd_engine *e)
{
    return e->ops->name;
}
