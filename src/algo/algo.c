/* algo.c: gd, bl, tdp and the starts of lazy_gd, lazy_opt (see otd_algo.h). */
#include "otd/otd_algo.h"

#include <math.h>
#include <stdlib.h>

#include "otd/otd_rng.h"

typedef struct {
    const char *name;
    otd_algo_name id;
    int epochs; /* re-initializes at epoch boundaries */
    int sphere; /* initial columns: scaled unit vectors (else Gaussian) */
} algo_ops;

/* One row per algorithm. */
static const algo_ops algos[] = {
    {"gd", OTD_ALGO_GD, 0, 0},
    {"bl", OTD_ALGO_BL, 1, 1},
    {"tdp", OTD_ALGO_TDP, 1, 1},
    /* The lazy regime starts from gd's Gaussian W0 at a large scale; the
     * driver does the rest (otd_lazy.h). */
    {"lazy_gd", OTD_ALGO_LAZY_GD, 0, 0},
    {"lazy_opt", OTD_ALGO_LAZY_OPT, 0, 0},
};

struct otd_algo {
    const algo_ops *ops;
    const otd_config *cfg;
    const otd_layout *lay;
    otd_comm *comm;
    double *sq; /* m column sums of squares (re-initialization test) */
    /* The epoch containing the last iteration asked about, [start, end):
     * the step loop asks every step, and walking the schedule from 0 each
     * time would cost pow() calls per epoch per step. */
    int64_t ep, ep_start, ep_end;
};

otd_err otd_algo_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                        otd_algo **out)
{
    otd_err err = OTD_OK;
    otd_algo *a = NULL;
    *out = NULL;
    OTD_ALLOC(a, 1);
    for (size_t i = 0; i < sizeof algos / sizeof *algos; i++)
        if (algos[i].id == cfg->algo.name)
            a->ops = &algos[i];
    if (a->ops == NULL)
        OTD_FAIL(OTD_ERR_INTERNAL, "algorithm %d has no implementation", (int)cfg->algo.name);
    a->cfg = cfg;
    a->lay = lay;
    a->comm = comm;
    OTD_ALLOC(a->sq, cfg->model.m);
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
    free(a->sq);
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

/* First iteration of epoch s+1 given that epoch s starts at `start`. */
static int64_t epoch_end(const otd_config *cfg, int64_t s, int64_t start)
{
    double h = ceil((double)cfg->algo.epoch_len * pow(1.0 + cfg->algo.epoch_growth, (double)s));
    /* Far beyond any step budget: saturate rather than overflow. */
    if (h > 4e18 || start > INT64_MAX - (int64_t)h)
        return INT64_MAX;
    return start + (int64_t)h;
}

int64_t otd_algo_epoch(otd_algo *a, int64_t iter)
{
    int64_t s = 0, start = 0;
    if (!a->ops->epochs)
        return 0;
    if (iter >= a->ep_start && iter < a->ep_end)
        return a->ep;
    for (;;) {
        int64_t end = epoch_end(a->cfg, s, start);
        if (iter < end) {
            a->ep = s;
            a->ep_start = start;
            a->ep_end = end;
            return s;
        }
        start = end;
        s++;
    }
}

/* Is iter the first step of an epoch s >= 1? */
static int epoch_starts_at(otd_algo *a, int64_t iter, int64_t *epoch)
{
    *epoch = otd_algo_epoch(a, iter);
    return *epoch > 0 && iter == a->ep_start;
}

otd_err otd_algo_before_step(otd_algo *a, int64_t iter, double *W, int64_t *n_reinit)
{
    otd_err err = OTD_OK;
    const otd_layout *lay = a->lay;
    int64_t m = a->cfg->model.m, epoch = 0;
    double thr2 = a->cfg->algo.reinit_threshold * a->cfg->algo.reinit_threshold;
    *n_reinit = 0;
    if (!a->ops->epochs || iter == 0 || !epoch_starts_at(a, iter, &epoch))
        return OTD_OK;
    for (int64_t i = 0; i < m; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < lay->nrows; j++)
            s += W[j + i * lay->nrows] * W[j + i * lay->nrows];
        a->sq[i] = s;
    }
    OTD_CHECK(otd_comm_sum(a->comm, a->sq, (size_t)m));
    uint32_t stream = otd_rng_stream(OTD_RNG_REINIT, (uint32_t)epoch);
    for (int64_t i = 0; i < m; i++) {
        if (a->sq[i] > thr2)
            continue;
        otd_algo_sphere_column(a->cfg, lay, stream, i, a->cfg->model.init_scale,
                               W + i * lay->nrows);
        (*n_reinit)++;
    }
done:
    return err;
}
