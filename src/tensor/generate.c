/* generate.c: this rank's slices of the generated target tensor (see
 * otd_tensor.h).
 *
 * Clean part: T*[i, J] = sum_k a_k u_k[i] prod_{q in J} u_k[q], all packed
 * positions of a panel at once as one GEMM, (U_loc diag(a)) K_U^T, with K_U
 * the panel of the Khatri-Rao-like matrix of U. Noise: one standard normal
 * per sorted full multi-index M of size l, keyed by M itself (the same entry
 * whichever slice holds it and whichever rank holds that slice), scaled to
 * the requested Frobenius norm. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "otd/otd_packed.h"
#include "otd/otd_rng.h"
#include "otd/otd_tensor.h"

/* Panel height: K_U (npan x r) and the GEMM's output block stay in cache. */
#define GEN_PANEL 2048

/* Standard normal of the sorted multi-index M (size l < 16) over [0, d):
 * M read as a base-d number keys the counter (120 bits hold d^l for any
 * tensor that fits in memory). */
static double noise_entry(uint64_t seed, int l, int64_t d, const int64_t *M)
{
    unsigned __int128 key = 0;
    for (int q = l - 1; q >= 0; q--)
        key = key * (unsigned __int128)d + (unsigned __int128)M[q];
    uint64_t lo = (uint64_t)key;
    uint32_t mid = (uint32_t)(key >> 64), hi = (uint32_t)(key >> 96);
    return otd_rng_normal(seed, otd_rng_stream(OTD_RNG_NOISE, hi), mid, lo);
}

/* S <- unfolded noise z(sorted({i} u J)); returns the local part of
 * ||Z||_F^2 = sum over local (i, J) of mult(J) z^2. */
static double fill_noise(const otd_config *cfg, otd_slab *s, const int32_t *idx)
{
    const int l = s->order, k = l - 1;
    double ss = 0.0;
    int64_t M[OTD_PACKED_MAX_K + 1];
    for (int64_t p = 0; p < s->np; p++) {
        int64_t J[OTD_PACKED_MAX_K];
        for (int q = 0; q < k; q++)
            J[q] = idx[p * k + q];
        double mult = otd_packed_mult(k, J);
        for (int64_t i = 0; i < s->nrows; i++) {
            /* insert the row index into the sorted J */
            int64_t g = s->row0 + i;
            int q = 0, t = 0;
            while (q < k && J[q] < g)
                M[t++] = J[q++];
            M[t++] = g;
            while (q < k)
                M[t++] = J[q++];
            double z = noise_entry(cfg->run.seed, l, s->d, M);
            s->S[i + p * s->nrows] = z;
            ss += mult * z * z;
        }
    }
    return ss;
}

/* S <- beta S + clean target, then fold multiplicities in. */
static otd_err add_clean(const otd_target *t, otd_slab *s, const int32_t *idx, double beta)
{
    otd_err err = OTD_OK;
    const int k = s->order - 1;
    const int64_t r = t->r, n = s->nrows;
    double *Ua = NULL, *KU = NULL;
    OTD_ALLOC(Ua, n * r);
    OTD_ALLOC(KU, (int64_t)GEN_PANEL * r);
    for (int64_t c = 0; c < r; c++)
        for (int64_t i = 0; i < n; i++)
            Ua[i + c * n] = t->a[c] * t->U[s->row0 + i + c * t->d];
    for (int64_t p0 = 0; p0 < s->np; p0 += GEN_PANEL) {
        int64_t npan = s->np - p0 < GEN_PANEL ? s->np - p0 : GEN_PANEL;
        otd_packed_panel(k, s->d, idx, p0, npan, t->U, t->d, r, KU, npan);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)npan, (int)r, 1.0, Ua,
                    (int)n, KU, (int)npan, beta, s->S + p0 * n, (int)n);
    }
    for (int64_t p = 0; p < s->np; p++) {
        double mult = otd_packed_mult_at(k, idx, p);
        for (int64_t i = 0; i < n; i++)
            s->S[i + p * n] *= mult;
    }
done:
    free(Ua);
    free(KU);
    return err;
}

otd_err otd_slab_generate(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                          const otd_target *target, otd_slab **out)
{
    otd_err err = OTD_OK;
    otd_slab *s = NULL;
    int32_t *idx = NULL;
    double beta = 0.0, norm2 = 0.0;
    *out = NULL;
    OTD_CHECK(otd_slab_alloc(cfg->problem.order, lay, &s));
    idx = otd_packed_table(s->order - 1, s->d, s->np);
    if (idx == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory for the packed index table (%lld entries)",
                 (long long)s->np);
    if (cfg->problem.noise > 0) {
        double zz = fill_noise(cfg, s, idx);
        OTD_CHECK(otd_comm_sum(comm, &zz, 1));
        beta = cfg->problem.noise / sqrt(zz);
    }
    OTD_CHECK(add_clean(target, s, idx, beta));
    /* ||T||^2: each packed value stands for mult(J) equal entries. */
    for (int64_t p = 0; p < s->np; p++) {
        double mult = otd_packed_mult_at(s->order - 1, idx, p);
        for (int64_t i = 0; i < s->nrows; i++)
            norm2 += s->S[i + p * s->nrows] * s->S[i + p * s->nrows] / mult;
    }
    OTD_CHECK(otd_comm_sum(comm, &norm2, 1));
    /* T* is checked (otd_target_create); only the noise can push the sum
     * past the largest double. The same reduced value everywhere. */
    if (!isfinite(norm2))
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.noise = %g: ||T* + noise||^2 overflows (it is not a finite double): "
                 "give a smaller noise",
                 cfg->problem.noise);
    s->norm2 = norm2;
    *out = s;
    s = NULL;
done:
    free(idx);
    otd_slab_destroy(s);
    return err;
}
