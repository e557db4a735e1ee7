/* algo_impl.h: what makes an algorithm that algorithm, as one row of the
 * table in algo.c. Private to src/algo/.
 *
 * The driver calls the public otd_algo_* functions (otd_algo.h) in a fixed
 * order; each dispatches to the row's hook, or to the shared default when the
 * hook is NULL:
 *   resolve_defaults what "auto" means for this configuration (NULL: the
 *                    row's constant defaults)
 *   check_config     cross-key rules of the resolved configuration
 *   check_resources  before anything is allocated: the memory the algorithm
 *                    holds per rank (added to the run's estimate), its limits
 *   (initial W)      Gaussian N(0, sigma^2 I/d), or `sphere`: scaled unit vectors
 *   prepare          once W0 is known (start or resume): what it builds from W0
 *   before_step      before each step (epochs: re-initialization)
 *   epoch            the epoch of an iteration (default 0)
 *   eval             the objective it descends (default: the engine's loss)
 *   solve            a one-shot solve instead of stepping (NULL: steps)
 *   describe         its banner line
 *   report           its /summary fields
 *   result           a line on how its one-shot solve went
 * Adding an algorithm: a row here, its hooks in a file of src/algo/, its name
 * in otd_algo_names (algo.c, the choices of algo.name) and its docs. */
#ifndef OTD_ALGO_IMPL_H
#define OTD_ALGO_IMPL_H

#include <stddef.h>

#include "otd/otd_algo.h"

typedef struct {
    const char *name;
    otd_algo_defaults defaults;
    void (*resolve_defaults)(const otd_config *cfg, otd_algo_defaults *d);
    int sphere; /* initial columns: init_scale * (random unit vector) */
    int scaled; /* takes algo.lazy_alpha (the Chizat-scaled model) */
    otd_err (*check_config)(const otd_config *cfg);
    otd_err (*check_resources)(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                               double *bytes);
    otd_err (*create_state)(otd_algo *a);
    void (*destroy_state)(otd_algo *a);
    otd_err (*prepare)(otd_algo *a, const double *W0, double *work);
    otd_err (*before_step)(otd_algo *a, int64_t iter, double *W, int64_t *n_reinit);
    int64_t (*epoch)(otd_algo *a, int64_t iter);
    otd_err (*eval)(otd_algo *a, const double *W, double *grad, otd_eval *ev);
    otd_err (*solve)(otd_algo *a, double *W, otd_status *status);
    void (*describe)(const otd_config *cfg, char *buf, size_t n);
    void (*report)(const otd_algo *a, otd_algo_report *rep);
    void (*result)(const otd_algo *a, double rel_err, double res, char *buf, size_t n);
    double (*cost)(const otd_config *cfg); /* flops of a run (NULL: max_iters steps) */
} otd_algo_ops;

struct otd_algo {
    const otd_algo_ops *ops;
    const otd_config *cfg;
    const otd_layout *lay;
    otd_comm *comm;
    otd_engine *engine;       /* the run's engine (not owned); NULL until prepare */
    const otd_target *target; /* the run's target (not owned); NULL until prepare */
    void *state;              /* the row's own state (create_state/destroy_state) */
};

/* Append one field to a report (names and string values are not copied:
 * they must outlive the report). */
void otd_algo_report_real(otd_algo_report *rep, const char *name, double v);
void otd_algo_report_int(otd_algo_report *rep, const char *name, int64_t v);
void otd_algo_report_str(otd_algo_report *rep, const char *name, const char *v);

/* epochs.c: bl and tdp (epochs of growing length, re-initialization of small
 * components at each epoch start). */
otd_err otd_epochs_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                   double *bytes);
otd_err otd_epochs_create(otd_algo *a);
void otd_epochs_destroy(otd_algo *a);
otd_err otd_epochs_before_step(otd_algo *a, int64_t iter, double *W, int64_t *n_reinit);
int64_t otd_epochs_epoch(otd_algo *a, int64_t iter);
void otd_epochs_describe(const otd_config *cfg, char *buf, size_t n);

/* lazy_algo.c: lazy_gd and lazy_opt on the linearization of otd_lazy.h. */
otd_err otd_lazy_algo_check_config(const otd_config *cfg);
otd_err otd_lazy_gd_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                    double *bytes);
otd_err otd_lazy_opt_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                     double *bytes);
otd_err otd_lazy_algo_create(otd_algo *a);
void otd_lazy_algo_destroy(otd_algo *a);
otd_err otd_lazy_algo_prepare(otd_algo *a, const double *W0, double *work);
otd_err otd_lazy_algo_eval(otd_algo *a, const double *W, double *grad, otd_eval *ev);
otd_err otd_lazy_opt_solve(otd_algo *a, double *W, otd_status *status);
void otd_lazy_gd_describe(const otd_config *cfg, char *buf, size_t n);
void otd_lazy_opt_describe(const otd_config *cfg, char *buf, size_t n);
void otd_lazy_opt_report(const otd_algo *a, otd_algo_report *rep);
double otd_lazy_opt_cost(const otd_config *cfg);
void otd_lazy_opt_result(const otd_algo *a, double rel_err, double res, char *buf, size_t n);

#endif
