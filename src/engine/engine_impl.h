/* engine_impl.h: what an engine implementation provides (see engine.c). */
#ifndef OTD_ENGINE_IMPL_H
#define OTD_ENGINE_IMPL_H

#include "otd/otd_engine.h"

typedef struct {
    const char *name;
    otd_engine_name id;
    /* Before anything is allocated: add to *bytes what create and eval will
     * hold on the largest rank for a target of r known components; refuse
     * (OTD_ERR_CONFIG naming the keys) only sizes that overflow. */
    otd_err (*memory)(const otd_config *cfg, const otd_layout *lay, int64_t r, double *bytes);
    otd_err (*create)(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                      const otd_target *target, void **state);
    otd_err (*eval)(void *state, const double *W_loc, double *grad_loc, otd_eval *ev);
    void (*destroy)(void *state);
    /* One banner line on storage (rank 0's view); may be NULL. */
    void (*describe)(const void *state, char *buf, size_t n);
} otd_engine_ops;

extern const otd_engine_ops otd_engine_implicit;
extern const otd_engine_ops otd_engine_dense;

/* Fill the loss fields of ev from ||T(W)||^2 (tt), <T(W), T*> (ts) and
 * ||T*||^2 (t2): fit = (tt - 2 ts + t2)/2 with compensated summation.
 * mag is the sum of the magnitudes of every term summed into tt - 2 ts
 * (each |term| once; t2 is added here): rel_err's resolution follows from it
 * (otd_rel_err_resolution). */
void otd_engine_fill_eval(otd_eval *ev, double tt, double ts, double t2, double reg, double mag,
                          int l, int64_t d, const double *norms, const double *WtU);

#endif
