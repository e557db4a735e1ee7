/* dense_ref.c: brute-force loss over all d^l tensor entries. */
#include "dense_ref.h"

#include <math.h>

/* Entry idx[0..l-1] of sum_i coef_i x_i^{(x)l}, x_i columns of X (ld d). */
static double entry(int l, const int64_t *idx, int64_t d, int64_t n, const double *X,
                    const double *coef)
{
    double t = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p = coef[i];
        for (int q = 0; q < l; q++)
            p *= X[idx[q] + i * d];
        t += p;
    }
    return t;
}

double otd_dense_ref_loss(int l, int homogeneous, double lambda, int64_t d, int64_t m,
                          const double *W, int64_t r, const double *U, const double *a)
{
    double V[64 * 64], s[64], fit = 0.0, reg = 0.0;
    int64_t idx[16] = {0};
    if (d * m > 64 * 64 || m > 64 || l > 16)
        return NAN; /* tiny sizes only */
    for (int64_t i = 0; i < m; i++) {
        double n2 = 0.0;
        for (int64_t j = 0; j < d; j++)
            n2 += W[j + i * d] * W[j + i * d];
        reg += n2;
        double n = sqrt(n2);
        s[i] = homogeneous ? n2 : 1.0;
        for (int64_t j = 0; j < d; j++)
            V[j + i * d] = !homogeneous ? W[j + i * d] : (n > 0 ? W[j + i * d] / n : 0.0);
    }
    /* Odometer over all d^l multi-indices. */
    for (;;) {
        double diff = entry(l, idx, d, m, V, s) - entry(l, idx, d, r, U, a);
        fit += diff * diff;
        int q = 0;
        while (q < l && ++idx[q] == d)
            idx[q++] = 0;
        if (q == l)
            break;
    }
    return 0.5 * fit + 0.5 * lambda * reg;
}
