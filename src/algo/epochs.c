/* epochs.c: the epochs of bl and tdp (docs/science.md section 4): epoch s
 * lasts H_s = ceil(H_0 (1 + gamma)^s) steps, and at the start of every epoch
 * s >= 1 each component with ||w_i|| <= delta_1 is redrawn as delta_0 times
 * a fresh random unit vector. The epoch is a pure function of the
 * iteration, so a checkpoint needs nothing beyond W and the iteration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algo/algo_impl.h"
#include "otd/otd_rng.h"

typedef struct {
    double *sq; /* m column sums of squares (the re-initialization test) */
    /* The epoch containing the last iteration asked about, [start, end):
     * the step loop asks every step, and walking the schedule from 0 each
     * time would cost pow() calls per epoch per step. */
    int64_t ep, ep_start, ep_end;
} epochs;

otd_err otd_epochs_check_resources(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                                   double *bytes)
{
    (void)lay;
    (void)comm;
    *bytes += 8.0 * (double)cfg->model.m;
    return OTD_OK;
}

otd_err otd_epochs_create(otd_algo *a)
{
    otd_err err = OTD_OK;
    epochs *e = NULL;
    OTD_ALLOC(e, 1);
    OTD_ALLOC(e->sq, a->cfg->model.m);
    a->state = e;
    e = NULL;
done:
    if (e != NULL)
        free(e->sq);
    free(e);
    return err;
}

void otd_epochs_destroy(otd_algo *a)
{
    epochs *e = a->state;
    if (e == NULL)
        return;
    free(e->sq);
    free(e);
    a->state = NULL;
}

/* First iteration of epoch s+1 given that epoch s starts at `start`. */
static int64_t epoch_end(const otd_config *cfg, int64_t s, int64_t start)
{
    double h = ceil((double)cfg->algo.epoch_len * pow(1.0 + cfg->algo.epoch_growth, (double)s));
    /* Far beyond any step budget: saturate rather than overflow. */
    if (h > 4e18 || start > INT64_MAX - (int64_t)h)
        return INT64_MAX;
    return start + (int64_t)h;
}

int64_t otd_epochs_epoch(otd_algo *a, int64_t iter)
{
    epochs *e = a->state;
    int64_t s = 0, start = 0;
    if (iter >= e->ep_start && iter < e->ep_end)
        return e->ep;
    for (;;) {
        int64_t end = epoch_end(a->cfg, s, start);
        if (iter < end) {
            e->ep = s;
            e->ep_start = start;
            e->ep_end = end;
            return s;
        }
        start = end;
        s++;
    }
}

otd_err otd_epochs_before_step(otd_algo *a, int64_t iter, double *W, int64_t *n_reinit)
{
    otd_err err = OTD_OK;
    epochs *e = a->state;
    const otd_layout *lay = a->lay;
    int64_t m = a->cfg->model.m, epoch = otd_epochs_epoch(a, iter);
    double thr2 = a->cfg->algo.reinit_threshold * a->cfg->algo.reinit_threshold;
    /* Only the first step of an epoch s >= 1 re-initializes. */
    if (epoch == 0 || iter != e->ep_start)
        return OTD_OK;
    for (int64_t i = 0; i < m; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < lay->nrows; j++)
            s += W[j + i * lay->nrows] * W[j + i * lay->nrows];
        e->sq[i] = s;
    }
    OTD_CHECK(otd_comm_sum(a->comm, e->sq, (size_t)m));
    uint32_t stream = otd_rng_stream(OTD_RNG_REINIT, (uint32_t)epoch);
    for (int64_t i = 0; i < m; i++) {
        if (e->sq[i] > thr2)
            continue;
        otd_algo_sphere_column(a->cfg, lay, stream, i, a->cfg->model.init_scale,
                               W + i * lay->nrows);
        (*n_reinit)++;
    }
done:
    return err;
}

void otd_epochs_describe(const otd_config *cfg, char *buf, size_t n)
{
    snprintf(buf, n,
             "lr %.3g, lambda %.3g, max_iters %lld, target rel_err %.3g, epochs H0 = %lld growth "
             "%.3g, reinit <= %.3g",
             cfg->algo.lr, cfg->algo.lambda, (long long)cfg->algo.max_iters,
             cfg->algo.target_rel_err, (long long)cfg->algo.epoch_len, cfg->algo.epoch_growth,
             cfg->algo.reinit_threshold);
}
