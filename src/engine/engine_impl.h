/* engine_impl.h: what an engine implementation provides (see engine.c). */
#ifndef OTD_ENGINE_IMPL_H
#define OTD_ENGINE_IMPL_H

#include "otd/otd_engine.h"

typedef struct {
    const char *name;
    otd_engine_name id;
    otd_err (*create)(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                      const otd_target *target, void **state);
    otd_err (*eval)(void *state, const double *W_loc, double *grad_loc, otd_eval *ev);
    void (*destroy)(void *state);
} otd_engine_ops;

extern const otd_engine_ops otd_engine_implicit;

#endif
