/* dense_ref.h: test-only brute force. Forms T(W) and T* entry by entry
 * (d^l of them) to check the engines on tiny sizes, independently of the
 * Gram-matrix algebra they use. */
#ifndef OTD_DENSE_REF_H
#define OTD_DENSE_REF_H

#include <stdint.h>

/* L(W) = 1/2 ||T(W) - T*||_F^2 + lambda/2 ||W||_F^2 with T(W) = sum_i s_i
 * v_i^{(x)l} (plain: v = w, s = 1; homogeneous: v = w/||w||, s = ||w||^2,
 * zero columns contribute nothing) and T* = sum_k a_k u_k^{(x)l}.
 * W is column-major d x m, U column-major d x r. */
double otd_dense_ref_loss(int l, int homogeneous, double lambda, int64_t d, int64_t m,
                          const double *W, int64_t r, const double *U, const double *a);

#endif
