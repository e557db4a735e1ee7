/* otd_engine.h: loss and gradient of L(W) = 1/2 ||T(W) - T*||^2 + lambda/2 ||W||^2.
 *
 * An engine evaluates L and this rank's rows of grad L at this rank's rows
 * of W. Implementations are chosen by name from a table (engine.c), so
 * adding one is one file and one table row:
 *   implicit  the target known by its components: everything from the Gram
 *             matrices W^T W (m x m) and W^T U (m x r), one allreduce per step.
 *
 * Layout: W_loc and grad_loc are column-major nrows x m with leading
 * dimension nrows (this rank's rows of the d x m matrix W). */
#ifndef OTD_ENGINE_H
#define OTD_ENGINE_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"
#include "otd/otd_target.h"

/* Small numbers every evaluation also sums over the ranks, riding on the
 * step's one allreduce: how the driver agrees on signals and on time-based
 * checkpoints without a collective of its own in the step loop. */
#define OTD_EVAL_NFLAGS 3

typedef struct {
    /* In: this rank's values; out: their sums over all ranks. */
    double flags[OTD_EVAL_NFLAGS];
    double loss;    /* fit + reg */
    double fit;     /* 1/2 ||T(W) - T*||_F^2 */
    double reg;     /* lambda/2 ||W||_F^2 */
    double rel_err; /* ||T(W) - T*||_F / ||T*||_F */
    /* The resolution of rel_err: below it rounding in the (cancelling) sum
     * that gives the fit dominates, so a smaller rel_err is only known to be
     * at most this (otd_rel_err_resolution). */
    double rel_err_res;
    double t_norm2; /* ||T*||_F^2 as this engine sees it (noise included) */
    /* Valid until the next evaluation, the same on every rank: */
    const double *norms; /* m column norms ||w_i|| */
    const double *WtU;   /* m x r column-major <w_i, u_k> (raw); NULL when r = 0 */
} otd_eval;

typedef struct otd_engine otd_engine;

/* Not collective. The resolution of a relative error sqrt(2 fit / t2) whose
 * fit was computed as half a sum of terms of total magnitude mag (sum of
 * |term|), each an l-th power of Gram entries of length-d vectors:
 * sqrt(gamma eps mag / t2) with gamma = 4 + l sqrt(d) rounding steps per
 * term (a dot product of length d rounds like sqrt(d) eps in practice, the
 * power multiplies that by l, a few products and the compensated sum add
 * the rest). Checked against explicit residuals in tests/mpi/test_lazy.c
 * and test_engine.c. */
double otd_rel_err_resolution(double mag, double t2, int l, int64_t d);

/* Not collective. rel_err as text for people: "1.2345e-03", or "< 2.1e-07"
 * when it is below its resolution res (not resolved: only a bound). */
void otd_format_rel_err(char *buf, size_t n, double rel_err, double res);

/* Collective. The engine keeps pointers to lay, comm and target (which must
 * outlive it) and owns its work buffers: evaluation allocates nothing. */
otd_err otd_engine_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                          const otd_target *target, otd_engine **out);

/* Not collective. Before anything is allocated: add to *bytes what engine
 * cfg->engine will hold per rank (the largest rank of lay) for a target of
 * r known components (0: a tensor file), its work buffers and its tensor;
 * OTD_ERR_CONFIG naming the keys for sizes that overflow (what BLAS's int
 * dimensions cannot take, create refuses). The driver checks the total
 * (otd_memory.h). */
otd_err otd_engine_memory(const otd_config *cfg, const otd_layout *lay, int64_t r, double *bytes);

/* Not collective. Floating-point operations of one evaluation with its
 * gradient over all ranks, from the configuration alone (for estimates:
 * the sweep runner orders points by cost). */
double otd_engine_step_flops(const otd_config *cfg);

/* Collective. Evaluate at W_loc; when grad_loc is not NULL also write this
 * rank's rows of the gradient. The loss terms are reduced over all ranks,
 * so every rank gets the same *ev. */
otd_err otd_engine_eval(otd_engine *e, const double *W_loc, double *grad_loc, otd_eval *ev);

/* Collective. Accepts NULL. */
void otd_engine_destroy(otd_engine *e);

/* One line for the banner: storage format, rows and bytes per rank. */
void otd_engine_describe(const otd_engine *e, char *buf, size_t n);

/* The engine's name ("implicit"). */
const char *otd_engine_label(const otd_engine *e);

/* Neumaier-compensated sum: the loss is a difference of sums that cancel when
 * the fit is good, so its pieces are accumulated with error compensation. */
typedef struct {
    double s, c;
} otd_ksum;

static inline void otd_ksum_add(otd_ksum *k, double x)
{
    double t = k->s + x;
    if (__builtin_fabs(k->s) >= __builtin_fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}

static inline double otd_ksum_value(const otd_ksum *k)
{
    return k->s + k->c;
}

#endif
