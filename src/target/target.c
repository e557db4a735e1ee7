/* target.c: generate or read T* (see otd_target.h). */
#include "otd/otd_target.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_input.h"
#include "otd/otd_linalg.h"
#include "otd/otd_rng.h"

void otd_gram_exact(int64_t n, int64_t p, int64_t q, const double *A, const double *B, double *G)
{
    for (int64_t k = 0; k < q; k++)
        for (int64_t i = 0; i < p; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < n; j++)
                s += A[j + i * n] * B[j + k * n];
            G[i + k * p] = s;
        }
}

/* u_k ~ N(0, I/d) (gaussian) or the raw Gaussian matrix to orthonormalize:
 * entry (j, k) is draw (k, j) of the target stream, whoever computes it. */
static void gaussian_components(const otd_config *cfg, double scale, double *U)
{
    int64_t d = cfg->problem.dim, r = cfg->problem.rank;
    uint32_t st = otd_rng_stream(OTD_RNG_TARGET, 0);
    for (int64_t k = 0; k < r; k++)
        for (int64_t j = 0; j < d; j++)
            U[j + k * d] = scale * otd_rng_normal(cfg->run.seed, st, (uint32_t)k, (uint64_t)j);
}

static otd_err components(const otd_config *cfg, otd_comm *comm, otd_target *t)
{
    otd_err err = OTD_OK;
    int64_t d = t->d, r = t->r;
    if (cfg->problem.components_file[0] != '\0') {
        OTD_CHECK(otd_input_read(comm, cfg->problem.components_file, "/U",
                                 "problem.components_file", d, r, t->U));
        OTD_CHECK(otd_input_read(comm, cfg->problem.components_file, "/a",
                                 "problem.components_file", r, 0, t->a));
        return OTD_OK;
    }
    memcpy(t->a, cfg->problem.weights, (size_t)r * sizeof *t->a);
    switch (cfg->problem.target) {
    case OTD_TARGET_BASIS:
        for (int64_t k = 0; k < r; k++)
            t->U[k + k * d] = 1.0;
        break;
    case OTD_TARGET_GAUSSIAN:
        gaussian_components(cfg, 1.0 / sqrt((double)d), t->U);
        break;
    case OTD_TARGET_ORTHONORMAL:
        gaussian_components(cfg, 1.0, t->U);
        OTD_CHECK(otd_linalg_orthonormalize(comm, d, r, t->U));
        break;
    }
done:
    return err;
}

/* ||T*||^2 = sum_kk' a_k a_k' <u_k, u_k'>^l */
static double target_norm2(const otd_target *t)
{
    double s = 0.0;
    for (int64_t k = 0; k < t->r; k++)
        for (int64_t q = 0; q < t->r; q++)
            s += t->a[k] * t->a[q] * otd_ipow(t->UtU[k + q * t->r], t->order);
    return s;
}

/* ||T*||^2 must be a positive finite double: every relative error divides
 * by it, and normalization by its root. The weights and components are
 * finite (the configuration and input files are checked), so a value that
 * is not finite is an overflow of the sum or its products (its NaN is
 * inf * 0 or inf - inf), and one that is not positive a T* that is zero
 * (weights that cancel). The message names what the user can change. */
static otd_err check_norm(const otd_config *cfg, const otd_target *t)
{
    const char *file = cfg->problem.components_file;
    double amax = 0.0;
    if (isfinite(t->norm2) && t->norm2 > 0.0)
        return OTD_OK;
    for (int64_t k = 0; k < t->r; k++)
        amax = fmax(amax, fabs(t->a[k]));
    if (!isfinite(t->norm2) && file[0] != '\0')
        return OTD_ERROR(OTD_ERR_FORMAT,
                         "problem.components_file = '%s': ||T*||^2 = sum_kk' a_k a_k' <u_k, "
                         "u_k'>^%d overflows (the largest |a_k| is %g): /U or /a is too large; "
                         "scale them down (problem.normalize rescales T* to norm 1)",
                         file, t->order, amax);
    if (!isfinite(t->norm2))
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "problem.weights: ||T*||^2 = sum_kk' a_k a_k' <u_k, u_k'>^%d overflows "
                         "(the largest weight is %g): scale the weights down (problem.normalize "
                         "rescales T* to norm 1)",
                         t->order, amax);
    if (file[0] != '\0')
        return OTD_ERROR(OTD_ERR_FORMAT,
                         "problem.components_file = '%s': T* = sum_k a_k u_k^(x)%d is zero "
                         "(||T*||^2 = %g): its /a and /U define no target",
                         file, t->order, t->norm2);
    return OTD_ERROR(OTD_ERR_CONFIG,
                     "problem.weights: T* = sum_k a_k u_k^(x)%d is zero (||T*||^2 = %g): the "
                     "weights cancel; a target must have a nonzero norm",
                     t->order, t->norm2);
}

otd_err otd_target_create(const otd_config *cfg, otd_comm *comm, otd_target **out)
{
    otd_err err = OTD_OK;
    otd_target *t = NULL;
    int64_t d = cfg->problem.dim, r = cfg->problem.rank;
    *out = NULL;
    OTD_ALLOC(t, 1);
    t->order = cfg->problem.order;
    t->d = d;
    /* A tensor read from a file has no known components: r = 0, and the
     * dense engine supplies ||T*||. */
    if (cfg->problem.tensor_file[0] != '\0') {
        t->norm2 = NAN;
        *out = t;
        return OTD_OK;
    }
    t->r = r;
    OTD_ALLOC(t->U, d * r);
    OTD_ALLOC(t->a, r);
    OTD_ALLOC(t->UtU, r * r);
    OTD_CHECK(components(cfg, comm, t));
    otd_gram_exact(d, r, r, t->U, t->U, t->UtU);
    t->norm2 = target_norm2(t);
    OTD_CHECK(check_norm(cfg, t));
    if (cfg->problem.normalize) {
        double s = 1.0 / sqrt(t->norm2);
        for (int64_t k = 0; k < r; k++)
            t->a[k] *= s;
        t->norm2 = target_norm2(t);
    }
    *out = t;
    t = NULL;
done:
    otd_target_destroy(t);
    return err;
}

otd_err otd_target_from_components(int order, int64_t d, int64_t r, const double *U,
                                   const double *a, otd_target **out)
{
    otd_err err = OTD_OK;
    otd_target *t = NULL;
    *out = NULL;
    OTD_ALLOC(t, 1);
    t->order = order;
    t->d = d;
    t->r = r;
    OTD_ALLOC(t->U, d * r);
    OTD_ALLOC(t->a, r);
    OTD_ALLOC(t->UtU, r * r);
    memcpy(t->U, U, (size_t)(d * r) * sizeof *U);
    memcpy(t->a, a, (size_t)r * sizeof *a);
    otd_gram_exact(d, r, r, t->U, t->U, t->UtU);
    t->norm2 = target_norm2(t);
    *out = t;
    t = NULL;
done:
    otd_target_destroy(t);
    return err;
}

void otd_target_destroy(otd_target *t)
{
    if (t == NULL)
        return;
    free(t->U);
    free(t->a);
    free(t->UtU);
    free(t);
}
