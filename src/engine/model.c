/* model.c: model-side terms shared by the engines (see model.h). */
#include "engine/model.h"

#include <math.h>
#include <stdlib.h>

#include "otd/otd_engine.h"
#include "otd/otd_target.h"

otd_err otd_model_init(otd_model *md, const otd_config *cfg)
{
    otd_err err = OTD_OK;
    int64_t m = cfg->model.m;
    md->l = cfg->problem.order;
    md->m = (int)m;
    md->homogeneous = cfg->model.param == OTD_PARAM_HOMOGENEOUS;
    md->lambda = cfg->algo.lambda;
    OTD_ALLOC(md->norms, m);
    OTD_ALLOC(md->inv_t, m);
    OTD_ALLOC(md->s, m);
    OTD_ALLOC(md->h, m);
    OTD_ALLOC(md->rho, m);
    OTD_ALLOC(md->B, m * m);
done:
    return err;
}

void otd_model_free(otd_model *md)
{
    free(md->norms);
    free(md->inv_t);
    free(md->s);
    free(md->h);
    free(md->rho);
    free(md->B);
}

double otd_model_components(otd_model *md, const double *Graw)
{
    double ss = 0.0;
    for (int i = 0; i < md->m; i++) {
        double g = Graw[i + (size_t)i * md->m], n = sqrt(g > 0 ? g : 0);
        md->norms[i] = n;
        ss += g;
        if (md->homogeneous) {
            md->inv_t[i] = n > 0 ? 1.0 / n : 0.0;
            md->s[i] = n * n;
            md->h[i] = n;
        } else {
            md->inv_t[i] = 1.0;
            md->s[i] = 1.0;
            md->h[i] = 1.0;
        }
    }
    return 0.5 * md->lambda * ss;
}

double otd_model_terms(otd_model *md, const double *Graw, double *mag)
{
    const int m = md->m, l = md->l;
    otd_ksum tt = {0, 0};
    double abs_sum = 0.0;
    for (int i = 0; i < m; i++)
        md->rho[i] = 0.0;
    for (int j = 0; j < m; j++) {
        for (int i = 0; i <= j; i++) {
            /* dsyrk filled the upper triangle: Graw[i + j m] with i <= j. */
            double g = Graw[i + (size_t)j * m] * md->inv_t[i] * md->inv_t[j];
            double g1 = otd_ipow(g, l - 1), gl = g1 * g;
            double term = (i == j ? 1.0 : 2.0) * md->s[i] * md->s[j] * gl;
            otd_ksum_add(&tt, term);
            abs_sum += fabs(term);
            md->rho[i] -= md->s[j] * gl;
            md->B[j + (size_t)i * m] = l * md->h[i] * md->s[j] * g1 * md->inv_t[j];
            if (i != j) {
                md->rho[j] -= md->s[i] * gl;
                md->B[i + (size_t)j * m] = l * md->h[j] * md->s[i] * g1 * md->inv_t[i];
            }
        }
    }
    *mag = abs_sum;
    return otd_ksum_value(&tt);
}

void otd_model_finish_B(otd_model *md)
{
    for (int i = 0; i < md->m; i++) {
        double e = md->homogeneous ? (md->l - 2) * md->rho[i] : 0.0;
        md->B[i + (size_t)i * md->m] += e + md->lambda;
    }
}
