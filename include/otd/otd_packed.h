/* otd_packed.h: symmetric-packed storage of mode-1 slices.
 *
 * A symmetric order-l tensor is stored by mode-1 slices: rank p holds the
 * rows i in its block I_p, and for each row the values over modes 2..l at
 * the sorted multi-indices j_1 <= ... <= j_k (k = l-1) only, in
 * lexicographic order, with the number of distinct permutations of the
 * multi-index (its multiplicity) folded into the stored value:
 *
 *   S[i_loc + p * nrows] = mult(J_p) * T[row0 + i_loc, J_p]
 *
 * so that for any vector w, (T w^{(x)k})_i = sum_p S[i, p] * prod_{q in J_p} w_q,
 * one GEMM against a panel built from W. Storage and flops drop by about
 * k! and every slice has the same size C(d + k - 1, k): the mode-1 sharding
 * stays balanced. Column-major: the values of one multi-index over the local
 * rows are contiguous. All indices are 64-bit. Not collective; no errors
 * except overflow (count returns -1). */
#ifndef OTD_PACKED_H
#define OTD_PACKED_H

#include <stdint.h>

/* Largest k handled (l = OTD_MAX_ORDER). */
#define OTD_PACKED_MAX_K 16

/* Number of sorted multi-indices of size k over [0, d): C(d + k - 1, k);
 * -1 if it does not fit in int64. */
int64_t otd_packed_count(int64_t d, int k);

/* Iterate in storage order: first sets idx = (0, ..., 0); next advances and
 * returns 0 after the last (d-1, ..., d-1). */
void otd_packed_first(int k, int64_t *idx);
int otd_packed_next(int k, int64_t d, int64_t *idx);

/* Storage position of the sorted multi-index idx (inverse of iteration). */
int64_t otd_packed_rank(int k, int64_t d, const int64_t *idx);

/* Number of distinct orderings of idx (sorted): k! / prod(count!). */
double otd_packed_mult(int k, const int64_t *idx);

/* Sort k indices ascending in place (insertion sort: k is small). */
void otd_packed_sort(int k, int64_t *idx);

/* The multi-indices of positions [0, count) as a table of int32 (k per row,
 * d < 2^31): idx[p*k + q]. *out is malloc'd; NULL on allocation failure. */
int32_t *otd_packed_table(int k, int64_t d, int64_t count);

/* Multiplicity of table row p (otd_packed_mult of idx[p*k .. p*k+k-1]). */
double otd_packed_mult_at(int k, const int32_t *idx, int64_t p);

/* Panel of the Khatri-Rao-like matrix: K[p + c*ldk] = prod_q X[idx[(p0+p)*k + q] + c*ldx]
 * for p in [0, npan), c in [0, n). X is column-major with leading dimension
 * ldx; K column-major with leading dimension ldk >= npan. Built panel by
 * panel so the full count x n matrix (d^{l-1}/(l-1)! x m) never exists. */
void otd_packed_panel(int k, int64_t d, const int32_t *idx, int64_t p0, int64_t npan,
                      const double *X, int64_t ldx, int64_t n, double *K, int64_t ldk);

#endif
