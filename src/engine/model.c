/* model.c: model-side terms shared by the engines (see model.h). */
#include "engine/model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "otd/otd_engine.h"
#include "otd/otd_target.h"

/* Below this many rows per component, W B runs as (B W^T)^T: BLAS kernels
 * are tuned for tall operands, and with nrows much smaller than m the
 * transposed product (m rows) is the faster shape even after the transpose
 * (docs/performance.md, "The implicit step"). */
static int apply_transposed(int64_t nrows, int64_t m)
{
    return 4 * nrows <= m;
}

/* Up to this many multiply-adds (m^2 nrows), W^T W is formed as (W^T) W from
 * a transposed copy of W: BLAS libraries run small products through kernels
 * that pack nothing (OpenBLAS: for its plain "NN" shape), which dsyrk never
 * uses; past it dsyrk's half of the flops wins. */
static int gram_small(int64_t nrows, int64_t m)
{
    return (double)m * (double)m * (double)nrows <= 524288.0;
}

/* The m x nrows scratch: W^T for a small Gram, B W^T for a transposed W B. */
static int need_scratch(int64_t nrows, int64_t m)
{
    return apply_transposed(nrows, m) || gram_small(nrows, m);
}

double otd_model_bytes(const otd_config *cfg, const otd_layout *lay)
{
    int64_t m = cfg->model.m, rows = (lay->d + lay->nranks - 1) / lay->nranks;
    double scratch = need_scratch(rows, m) ? (double)m * (double)rows : 0.0;
    return 8.0 * (13.0 * (double)m + (double)m * (double)m + scratch);
}

otd_err otd_model_init(otd_model *md, const otd_config *cfg, int64_t nrows)
{
    otd_err err = OTD_OK;
    int64_t m = cfg->model.m;
    md->l = cfg->problem.order;
    md->m = (int)m;
    md->nrows = (int)nrows;
    md->homogeneous = cfg->model.param == OTD_PARAM_HOMOGENEOUS;
    md->lambda = cfg->algo.lambda;
    OTD_ALLOC(md->norms, m);
    OTD_ALLOC(md->inv_t, m);
    OTD_ALLOC(md->s, m);
    OTD_ALLOC(md->h, m);
    OTD_ALLOC(md->rho, m);
    OTD_ALLOC(md->B, m * m);
    OTD_ALLOC(md->P, 8 * m);
    md->transposed = apply_transposed(nrows, m);
    md->small_gram = gram_small(nrows, m);
    if (need_scratch(nrows, m) && nrows > 0)
        OTD_ALLOC(md->scratch, m * nrows);
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
    free(md->P);
    free(md->scratch);
}

/* Column j of the Gram matrix as the engine left it (otd_model_pack_gram). */
static inline size_t gram_col(const otd_model *md, int64_t j)
{
    return md->packed ? (size_t)j * (size_t)(j + 1) / 2 : (size_t)j * (size_t)md->m;
}

size_t otd_model_pack_gram(otd_model *md, double *buf, size_t extra, int pack)
{
    const int64_t m = md->m;
    md->packed = 0;
    if (!pack)
        return (size_t)(m * m);
    md->packed = 1;
    /* Column j moves from j m down to j (j+1)/2 <= j m: in column order
     * nothing is overwritten before it is read (memmove for the overlap of
     * a column with itself). */
    for (int64_t j = 1; j < m; j++)
        memmove(buf + gram_col(md, j), buf + (size_t)(j * m), (size_t)(j + 1) * sizeof *buf);
    memmove(buf + gram_col(md, m), buf + (size_t)(m * m), extra * sizeof *buf);
    return gram_col(md, m);
}

double otd_model_components(otd_model *md, const double *Gp)
{
    double ss = 0.0;
    for (int i = 0; i < md->m; i++) {
        double g = Gp[gram_col(md, i) + (size_t)i], n = sqrt(g > 0 ? g : 0);
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

/* b[j + i ldb] = a[i + j lda] for the rows x cols matrix a: 8 x 8 blocks in
 * registers, the ragged edges one by one. */
OTD_INLINE void transpose(const double *a, int64_t lda, int64_t rows, int64_t cols, double *b,
                          int64_t ldb)
{
    for (int64_t j0 = 0; j0 < cols; j0 += 8)
        for (int64_t i0 = 0; i0 < rows; i0 += 8) {
            if (i0 + 8 <= rows && j0 + 8 <= cols) {
                otd_v8_transpose8(a + i0 + j0 * lda, lda, b + j0 + i0 * ldb, ldb);
                continue;
            }
            for (int64_t j = j0; j < j0 + 8 && j < cols; j++)
                for (int64_t i = i0; i < i0 + 8 && i < rows; i++)
                    b[j + i * ldb] = a[i + j * lda];
        }
}

/* Rows i0..i0+7 of the upper triangle, columns j >= i0, one column per
 * iteration (l is a constant at each call, so the powers unroll):
 *   - B_ij (for i > j too, inside the diagonal block: the lower triangle is
 *     overwritten by finish_B's mirror, so nothing masks them);
 *   - the terms s_i s_j G_ij^l into tt, twice for i < j (each pair counts
 *     twice in sum_ij), once for i = j;
 *   - rho_i -= sum_{j >= i} s_j G_ij^l, accumulated in a register and
 *     returned; the column part, s_i G_ij^l for i < j, into the eight lanes
 *     P[8 j .. 8 j + 7], summed later.
 * Inside the diagonal block, rows i > j of column j are read and discarded:
 * the lower triangle, or in a packed G the next column's first entries. nr <
 * 8 rows (the last block): loads padded with zeros, partial stores. The
 * masks keep i > j out of the sums exactly: the bits of gl are cleared, not
 * multiplied by 0. */
OTD_INLINE void row_block(otd_model *md, const double *G, int64_t i0, int nr, int l, otd_lsum *tt,
                          otd_v8 *rrow)
{
    const int64_t m = md->m;
    const otd_v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
    /* local copies: the stores below could alias md's fields otherwise */
    const double *const it = md->inv_t, *const s = md->s, *const h = md->h;
    double *const B = md->B, *const P = md->P;
    otd_v8 iv, sv, hv, acc = OTD_V8(0.0);
    otd_v8_load(&iv, it + i0, nr);
    otd_v8_load(&sv, s + i0, nr);
    otd_v8_load(&hv, h + i0, nr);
    for (int64_t j = i0; j < m; j++) {
        const double *Gj = G + gram_col(md, j) + i0;
        double *Bj = B + i0 + j * m, *Pj = P + 8 * j;
        const double sj = s[j];
        otd_v8 g, g1, gl, b, p, y;
        otd_v8_load(&g, Gj, nr);
        g = g * iv * it[j];
        otd_v8_pow(&g1, &g, l - 1);
        gl = g1 * g;
        b = (l * h[j]) * hv * g1;
        otd_v8_store(Bj, &b, nr);
        otd_v8 glr = gl, glc = gl;
        if (j < i0 + 8) {
            /* the diagonal block: rows i <= j into rho's row part, i < j
             * into the column part */
            otd_v8i k = lane + i0;
            glr = (otd_v8)((otd_v8i)gl & (k <= j));
            glc = (otd_v8)((otd_v8i)gl & (k < j));
        }
        acc += sj * glr;
        memcpy(&p, Pj, sizeof p);
        p += sv * glc;
        memcpy(Pj, &p, sizeof p);
        y = sj * (sv * (glr + glc));
        otd_lsum_add(tt, &y);
    }
    *rrow = acc;
}

OTD_VECTOR_CLONES
double otd_model_terms(otd_model *md, const double *Gp, double *mag)
{
    const int m = md->m, l = md->l;
    otd_lsum tt;
    otd_lsum_zero(&tt);
    memset(md->P, 0, (size_t)m * 8 * sizeof *md->P);
    for (int i0 = 0; i0 < m; i0 += 8) {
        int nr = m - i0 < 8 ? m - i0 : 8;
        otd_v8 rrow;
        /* constants where they matter: whole blocks, l = 3 and 4 */
        if (nr == 8 && l == 3)
            row_block(md, Gp, i0, 8, 3, &tt, &rrow);
        else if (nr == 8 && l == 4)
            row_block(md, Gp, i0, 8, 4, &tt, &rrow);
        else
            row_block(md, Gp, i0, nr, l, &tt, &rrow);
        rrow = -rrow;
        otd_v8_store(md->rho + i0, &rrow, nr);
    }
    /* rho_j -= the column part: the eight lanes of P[j], in a fixed order,
     * eight columns at a time. */
    for (int j0 = 0; j0 < m; j0 += 8) {
        int nc = m - j0 < 8 ? m - j0 : 8;
        double T[64];
        otd_v8 sum = OTD_V8(0.0), rv;
        memset(T, 0, sizeof T);
        memcpy(T, md->P + 8 * j0, (size_t)nc * 8 * sizeof *T);
        /* T column c (8 lanes of column j0 + c) -> row c of the transpose */
        double Tt[64];
        otd_v8_transpose8(T, 8, Tt, 8);
        for (int q = 0; q < 8; q++) {
            otd_v8 r;
            memcpy(&r, Tt + 8 * q, sizeof r);
            sum += r;
        }
        otd_v8_load(&rv, md->rho + j0, nc);
        rv -= sum;
        otd_v8_store(md->rho + j0, &rv, nc);
    }
    return otd_lsum_value(&tt, mag);
}

OTD_VECTOR_CLONES
void otd_model_finish_B(otd_model *md)
{
    const int m = md->m;
    double *B = md->B;
    /* The lower triangle from the upper: for each block of eight columns,
     * the rectangle above its diagonal block, then that block itself. */
    for (int j0 = 0; j0 < m; j0 += 8) {
        int nc = m - j0 < 8 ? m - j0 : 8;
        transpose(B + (size_t)j0 * m, m, j0, nc, B + j0, m);
        for (int j = j0; j < j0 + nc; j++)
            for (int i = j0; i < j; i++)
                B[j + (size_t)i * m] = B[i + (size_t)j * m];
    }
    for (int i = 0; i < m; i++) {
        double e = md->homogeneous ? (md->l - 2) * md->rho[i] : 0.0;
        B[i + (size_t)i * m] += e + md->lambda;
    }
}

OTD_VECTOR_CLONES
void otd_model_gram(otd_model *md, const double *W, const double *U, int64_t ldu, int r, double *G,
                    double *C)
{
    const int m = md->m, n = md->nrows;
    if (md->small_gram && md->scratch != NULL) {
        double *Wt = md->scratch;
        transpose(W, n, n, m, Wt, m);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, m, n, 1.0, Wt, m, W, n, 0.0, G,
                    m);
        if (r > 0)
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, r, n, 1.0, Wt, m, U, (int)ldu,
                        0.0, C, m);
        return;
    }
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, m, n, 1.0, W, n, 0.0, G, m);
    if (r > 0)
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, r, n, 1.0, W, n, U, (int)ldu, 0.0,
                    C, m);
}

OTD_VECTOR_CLONES
void otd_model_apply(otd_model *md, const double *W, double *grad)
{
    const int m = md->m, n = md->nrows;
    if (!md->transposed || md->scratch == NULL) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, m, m, 1.0, W, n, md->B, m, 0.0,
                    grad, n);
        return;
    }
    /* B is symmetric: (W B)^T = B W^T. */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, n, m, 1.0, md->B, m, W, n, 0.0,
                md->scratch, m);
    transpose(md->scratch, m, m, n, grad, n);
}
