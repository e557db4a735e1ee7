/* otd_algo.h: the training algorithms (docs/science.md section 4), each one
 * row of a table of operations (src/algo/algo_impl.h):
 *   gd       w_i ~ N(0, sigma^2 I/d), sigma = model.init_scale; plain gradient
 *            descent on the engine's loss
 *   bl       w_i = delta_0 * (random unit vector); at the start of epoch s >= 1
 *            every w_i with ||w_i|| <= delta_1 is redrawn the same way; epoch s
 *            lasts H_s = ceil(H_0 (1 + gamma)^s) steps
 *   tdp      the same loop as bl, read as the deflation schedule of the
 *            follow-up paper (same keys and defaults)
 *   lazy_gd  gd's Gaussian start, then gradient descent on the model
 *            linearized at W0 (otd_lazy.h), or on the Chizat-scaled model
 *   lazy_opt the same start, then one solve of the linearized model's
 *            normal equations (a one-shot algorithm: it does not step)
 * The driver names no algorithm: it calls these functions in order (check,
 * create, init, prepare, then before_step + eval per step or one solve) and
 * prints and stores what describe and report give.
 *
 * Every random draw is keyed by (seed, purpose, epoch, component, row), so W
 * is bitwise the same for any rank count, and the epoch is a pure function
 * of the iteration (nothing to checkpoint beyond W and the iteration). */
#ifndef OTD_ALGO_H
#define OTD_ALGO_H

#include <stddef.h>
#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_error.h"
#include "otd/otd_status.h"
#include "otd/otd_target.h"

typedef struct otd_algo otd_algo;

/* The algorithm names, NULL-terminated, in the order of algo.name's values
 * (the options table's choices): cfg->algo.name indexes it. */
extern const char *const otd_algo_names[];

/* What "auto" resolves to for an algorithm. */
typedef struct {
    otd_param param;   /* model.param */
    double init_scale; /* model.init_scale */
    double lambda;     /* algo.lambda */
} otd_algo_defaults;

/* Not collective. What "auto" resolves to for cfg's algorithm
 * (cfg->algo.name, an index of otd_algo_names), given the rest of cfg: a
 * pure function of the configuration, so every rank resolves the same. The
 * problem section must be final (problem.weights holds its r values); bl's
 * lambda depends on it. OTD_ERR_INTERNAL if the algorithm has no row. */
otd_err otd_algo_get_defaults(const otd_config *cfg, otd_algo_defaults *d);

/* Not collective. The algorithm's rules across keys of a resolved
 * configuration: OTD_ERR_CONFIG naming key, value and why. */
otd_err otd_algo_check_config(const otd_config *cfg);

/* Collective. Before anything is allocated: add to *bytes what the
 * algorithm itself will hold on the largest rank of lay (bl/tdp: norms;
 * lazy_gd: the linearization or the scaled model's target and engine;
 * lazy_opt: the linearization, the gathered vectors of its solve and its
 * share of the distributed matrix) and check its own limits (lazy_opt: the
 * matrix in 75% of a node's available memory); OTD_ERR_CONFIG naming the
 * keys and the GiB otherwise. The driver checks the total, with the
 * engine's and its own (otd_memory.h). */
otd_err otd_algo_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                 double *bytes);

/* Not collective. A run's estimated floating-point operations, from its
 * configuration alone: an upper estimate for stepping algorithms (the whole
 * step budget), the solve for one-shot ones. For ordering work by cost. */
double otd_algo_cost(const otd_config *cfg);

/* Not collective. cfg, lay and comm must outlive the handle. */
otd_err otd_algo_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                        otd_algo **out);
void otd_algo_destroy(otd_algo *a);

/* Not collective. Write this rank's rows of the initial W (nrows x m). */
otd_err otd_algo_init(otd_algo *a, double *W_loc);

/* Collective. Once W0 is known (a fresh start or a resume): what the
 * algorithm builds from it. engine and target (the run's; they must outlive
 * the handle) are what it evaluates against; work is nrows x m scratch. */
otd_err otd_algo_prepare(otd_algo *a, otd_engine *engine, const otd_target *target,
                         const double *W0, double *work);

/* Collective. Called before evaluating step `iter`: re-initializes at epoch
 * boundaries. *n_reinit receives how many components were redrawn now. */
otd_err otd_algo_before_step(otd_algo *a, int64_t iter, double *W_loc, int64_t *n_reinit);

/* Epoch of iteration iter (0 for algorithms without epochs). Not collective. */
int64_t otd_algo_epoch(otd_algo *a, int64_t iter);

/* Collective. The objective the algorithm descends, at W (this rank's rows),
 * and its gradient unless grad is NULL; as otd_engine_eval. */
otd_err otd_algo_eval(otd_algo *a, const double *W_loc, double *grad_loc, otd_eval *ev);

/* 1 for a one-shot algorithm (it solves once with otd_algo_solve instead of
 * stepping). Not collective. */
int otd_algo_one_shot(const otd_algo *a);

/* Collective. A one-shot algorithm's solve from W = W0: W gets its answer,
 * *status how it ended. */
otd_err otd_algo_solve(otd_algo *a, double *W_loc, otd_status *status);

/* Not collective. The algorithm's line of the run banner: its settings
 * ("lr 0.01, lambda 0.001, ..."), only those it uses. */
void otd_algo_describe(const otd_config *cfg, char *buf, size_t n);

/* Not collective. After otd_algo_solve: how the solve went (solver, grid,
 * time, rate) and what its relative error rel_err (of resolution res)
 * means, "" for algorithms that say nothing. */
void otd_algo_result(const otd_algo *a, double rel_err, double res, char *buf, size_t n);

/* The algorithm's own /summary fields (numbers of a solve), in order. */
#define OTD_ALGO_REPORT_CAP 8
typedef struct {
    int nreal, nint, nstr;
    const char *real_names[OTD_ALGO_REPORT_CAP];
    double real_vals[OTD_ALGO_REPORT_CAP];
    const char *int_names[OTD_ALGO_REPORT_CAP];
    int64_t int_vals[OTD_ALGO_REPORT_CAP];
    const char *str_names[OTD_ALGO_REPORT_CAP];
    const char *str_vals[OTD_ALGO_REPORT_CAP];
} otd_algo_report;

/* Not collective. Fill *rep (zeroed first); strings point into the handle
 * and live as long as it. */
void otd_algo_report_fields(const otd_algo *a, otd_algo_report *rep);

/* Fill one column of this rank's rows with scale * (random unit vector),
 * the unit vector drawn from (seed, stream, component i) over all d rows, its
 * norm computed from every row in a fixed order on every rank. Shared by
 * initialization and re-initialization. Not collective. */
void otd_algo_sphere_column(const otd_config *cfg, const otd_layout *lay, uint32_t stream,
                            int64_t i, double scale, double *col);

#endif
