/* model.h: the model side of the loss and gradient, shared by every engine.
 *
 * With v_i the direction of component i (w_i for plain, w_i/||w_i|| for
 * homogeneous) and s_i its coefficient (1, or ||w_i||^2), T(W) = sum_i s_i
 * v_i^{(x)l}. Everything about T(W) alone follows from the raw Gram matrix
 * W^T W: the norms, ||T(W)||^2 = sum_ij s_i s_j G_ij^l, and the model part
 * of the gradient. An engine adds the target side, which is where engines
 * differ: g_i = T*(v_i^{(x)(l-1)}) - sum_j s_j G_ij^{l-1} v_j, and
 *   plain:       grad_i = -l g_i + lambda w_i
 *   homogeneous: grad_i = -n_i (l g_i - (l-2) rho_i v_i) + lambda w_i,
 *                rho_i = <v_i, g_i>.
 * Both are grad = W B - (target part), with B (m x m) from the Gram matrix
 * plus a diagonal that needs rho (so the engine finishes it). B is symmetric:
 * off the diagonal B_ij = l h_i h_j g_ij^{l-1}, g_ij = G_ij / (t_i t_j), with
 * h_i = s_i / t_i (1, or n_i).
 *
 * Speed (docs/performance.md, "The implicit step"): the O(m^2) work runs
 * over the upper triangle in blocks of eight rows (one vector, core/vec8.h)
 * swept across the columns, with rho's row sums in a register, and the loss
 * is summed in eight independent compensated lanes, so the compensation
 * does not serialize the loop. The BLAS calls around it (the Gram matrix,
 * W B) take the shape that is fastest for this rank's rows (model.c). */
#ifndef OTD_ENGINE_MODEL_H
#define OTD_ENGINE_MODEL_H

#include "core/vec8.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_engine.h"
#include "otd/otd_error.h"

/* A compensated sum in eight independent lanes. Each lane accumulates its
 * own running sum s and the exact rounding error of every addition (Knuth's
 * TwoSum: branch-free, unlike Neumaier's comparison) in c, so a loop adding a
 * vector per step has a dependency chain of one addition per eight terms
 * instead of one per term. otd_lsum_value combines the lanes compensated:
 * the result is as accurate as one Neumaier sum (error about 2 eps sum |x|).
 * a sums |x| (the magnitude that sets the loss's resolution). */
typedef struct {
    otd_v8 s, c, a;
} otd_lsum;

OTD_INLINE void otd_lsum_zero(otd_lsum *k)
{
    k->s = k->c = k->a = OTD_V8(0.0);
}

/* Add the eight lanes of y (zero lanes add nothing, exactly). */
OTD_INLINE void otd_lsum_add(otd_lsum *k, const otd_v8 *y)
{
    otd_v8 t = k->s + *y, z = t - k->s, ay;
    k->c += (k->s - (t - z)) + (*y - z);
    k->s = t;
    otd_v8_abs(&ay, y);
    k->a += ay;
}

/* The compensated total; *mag gets sum |x|. */
OTD_INLINE double otd_lsum_value(const otd_lsum *k, double *mag)
{
    double s[8], c[8];
    otd_ksum t = {0, 0};
    memcpy(s, &k->s, sizeof s);
    memcpy(c, &k->c, sizeof c);
    for (int q = 0; q < 8; q++)
        otd_ksum_add(&t, s[q]);
    for (int q = 0; q < 8; q++)
        otd_ksum_add(&t, c[q]);
    *mag = otd_v8_sum(&k->a);
    return otd_ksum_value(&t);
}

typedef struct {
    int l, m, homogeneous;
    double lambda;
    double *norms; /* ||w_i|| */
    double *inv_t; /* 1 / (norm used to form v_i): 1 (plain), 1/n_i, 0 for a zero column */
    double *s;     /* coefficients s_i */
    double *h;     /* gradient scale: 1 (plain) or n_i (homogeneous) */
    double *rho;   /* <v_i, g_i>: model part here, the engine adds the target part */
    double *B;     /* m x m, symmetric */
    double *P;     /* 8 x m: lanes of rho's column parts (scratch) */
    /* The BLAS shapes that suit this rank's nrows (model.c), and their
     * m x nrows scratch (NULL when neither is used). */
    int nrows, transposed, small_gram;
    int packed; /* G's layout (otd_model_pack_gram) */
    double *scratch;
} otd_model;

/* Bytes otd_model_init holds on the largest rank of lay. */
double otd_model_bytes(const otd_config *cfg, const otd_layout *lay);

/* nrows: this rank's rows of W (otd_model_apply's shapes). */
otd_err otd_model_init(otd_model *md, const otd_config *cfg, int64_t nrows);
void otd_model_free(otd_model *md);

/* When pack is set (more than one rank), pack the upper triangle of the
 * m x m Gram matrix at buf (leading dimension m) in place, column after
 * column (column j at j (j+1) / 2), and move the `extra` numbers that
 * followed the square (at buf + m^2) right behind it: one contiguous block
 * of m (m+1) / 2 + extra numbers for the allreduce, about half the square
 * (half the bytes, and at m = 1000 a fraction of the time). Without pack
 * nothing moves (one rank reduces nothing). Returns where the extra numbers
 * now start; the model reads G in the layout chosen here. */
size_t otd_model_pack_gram(otd_model *md, double *buf, size_t extra, int pack);

/* From the reduced raw Gram W^T W (as otd_model_pack_gram left it): norms, inv_t, s, h; returns
 * lambda/2 ||W||_F^2. */
double otd_model_components(otd_model *md, const double *Gp);

/* ||T(W)||^2 (compensated sum), the model part of rho, and the upper
 * triangle of B without its diagonal correction, from the Gram matrix as
 * otd_model_pack_gram left it. *mag gets the sum of the magnitudes of the terms summed into
 * ||T(W)||^2 (for the resolution of the error). */
double otd_model_terms(otd_model *md, const double *Gp, double *mag);

/* After the engine added the target part of rho: B_ii += (l-2) rho_i
 * (homogeneous) + lambda, and the lower triangle of B from the upper. */
void otd_model_finish_B(otd_model *md);

/* This rank's partial Gram matrices: G = W^T W (at least its upper
 * triangle; leading dimension m) and, when r > 0, C = W^T U (m x r, leading
 * dimension m) for U with leading dimension ldu. */
void otd_model_gram(otd_model *md, const double *W, const double *U, int64_t ldu, int r, double *G,
                    double *C);

/* grad = W B for this rank's nrows x m block of W (leading dimension nrows). */
void otd_model_apply(otd_model *md, const double *W, double *grad);

#endif
