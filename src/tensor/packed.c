/* packed.c: sorted multi-index arithmetic (see otd_packed.h). */
#include "otd/otd_packed.h"

#include <string.h>

#include "core/vec8.h"
#include "otd/otd_error.h"

/* otd_packed_panel builds the dense engine's K once per step: np x m
 * products, about one for every 2 n flops of the product that reads them
 * (n = d / P rows), so at l = 4 or at P > 1 a scalar loop would cost a
 * tenth of the step. The release build targets any x86-64 (SSE2 only), and
 * -O2 does not vectorize a loop of run-time length; so the runs are scaled
 * eight at a time (core/vec8.h), and the function is compiled once per
 * instruction set, the best one chosen when the program loads. Each entry is
 * the same single product in every version: K's bits do not depend on the
 * CPU. */

/* C(n, k) for the small k used here, -1 on overflow. The running product
 * C(n-k+i, i) stays an integer at every step. */
static int64_t binom(int64_t n, int k)
{
    if (k < 0 || n < k)
        return 0;
    int64_t c = 1;
    for (int i = 1; i <= k; i++) {
        int64_t f = n - k + i;
        if (c > INT64_MAX / f)
            return -1;
        c = c * f / i;
    }
    return c;
}

int64_t otd_packed_count(int64_t d, int k)
{
    return binom(d + k - 1, k);
}

void otd_packed_first(int k, int64_t *idx)
{
    for (int q = 0; q < k; q++)
        idx[q] = 0;
}

int otd_packed_next(int k, int64_t d, int64_t *idx)
{
    int q = k - 1;
    while (q >= 0 && idx[q] == d - 1)
        q--;
    if (q < 0)
        return 0;
    idx[q]++;
    for (int t = q + 1; t < k; t++)
        idx[t] = idx[q];
    return 1;
}

/* Position = number of sorted tuples before idx. Tuples with first element
 * a < idx[0] number C(d - a + k - 2, k - 1) each; then recurse on the tail
 * over [idx[0], d). */
int64_t otd_packed_rank(int k, int64_t d, const int64_t *idx)
{
    int64_t pos = 0, lo = 0;
    for (int q = 0; q < k; q++) {
        int rest = k - q - 1;
        for (int64_t a = lo; a < idx[q]; a++)
            pos += binom(d - a + rest - 1, rest);
        lo = idx[q];
    }
    return pos;
}

double otd_packed_mult(int k, const int64_t *idx)
{
    double m = 1.0;
    int run = 1;
    for (int q = 1; q <= k; q++)
        m *= q;
    for (int q = 1; q < k; q++) {
        if (idx[q] == idx[q - 1]) {
            run++;
            m /= run;
        } else {
            run = 1;
        }
    }
    return m;
}

void otd_packed_sort(int k, int64_t *idx)
{
    for (int q = 1; q < k; q++) {
        int64_t v = idx[q];
        int t = q - 1;
        while (t >= 0 && idx[t] > v) {
            idx[t + 1] = idx[t];
            t--;
        }
        idx[t + 1] = v;
    }
}

int32_t *otd_packed_table(int k, int64_t d, int64_t count)
{
    int64_t idx[OTD_PACKED_MAX_K];
    int32_t *t = otd_calloc((size_t)(count * k), sizeof *t);
    if (t == NULL)
        return NULL;
    otd_packed_first(k, idx);
    for (int64_t p = 0; p < count; p++) {
        for (int q = 0; q < k; q++)
            t[p * k + q] = (int32_t)idx[q];
        otd_packed_next(k, d, idx);
    }
    return t;
}

/* out[t] = pre * xs[t] for t < len. */
OTD_INLINE void scale_run(double pre, const double *xs, double *out, int64_t len)
{
    int64_t t = 0;
    for (; t + 8 <= len; t += 8) {
        otd_v8 v;
        memcpy(&v, xs + t, sizeof v);
        v *= pre;
        memcpy(out + t, &v, sizeof v);
    }
    for (; t < len; t++)
        out[t] = pre * xs[t];
}

OTD_VECTOR_CLONES
void otd_packed_panel(int k, int64_t d, const int32_t *idx, int64_t p0, int64_t npan,
                      const double *X, int64_t ldx, int64_t n, double *K, int64_t ldk)
{
    const int32_t *ip = idx + p0 * k;
    /* In storage order the last index runs through [j_{k-1}, d) while the
     * others stay fixed: each such run is one prefix product times a
     * contiguous piece of x, a vector loop, instead of k gathers per entry.
     * The columns are the inner loop, so that consecutive runs have the same
     * length (measured a little faster at l = 4, whose runs are short). */
    for (int64_t p = 0; p < npan;) {
        const int32_t *row = ip + p * k;
        int64_t last = row[k - 1], len = d - last;
        if (len > npan - p)
            len = npan - p;
        for (int64_t c = 0; c < n; c++) {
            const double *x = X + c * ldx;
            double pre = 1.0;
            for (int q = 0; q < k - 1; q++)
                pre *= x[row[q]];
            scale_run(pre, x + last, K + c * ldk + p, len);
        }
        p += len;
    }
}

double otd_packed_mult_at(int k, const int32_t *idx, int64_t p)
{
    int64_t J[OTD_PACKED_MAX_K];
    for (int q = 0; q < k; q++)
        J[q] = idx[p * k + q];
    return otd_packed_mult(k, J);
}
