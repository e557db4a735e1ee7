/* otd_tensor.h: an explicit symmetric tensor, sharded by mode-1 slices.
 *
 * Rank p holds the slices T[i, :, ..., :] of its row block I_p (the same
 * contiguous blocks as the rows of W, otd_comm.h), modes 2..l packed to
 * sorted multi-indices with multiplicities folded in (otd_packed.h). The
 * whole tensor never exists on one rank: generation, file input and file
 * output all work slice by slice. */
#ifndef OTD_TENSOR_H
#define OTD_TENSOR_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"
#include "otd/otd_target.h"

typedef struct {
    int order;     /* l */
    int64_t d;     /* every mode has size d */
    int64_t np;    /* packed count per slice: C(d + l - 2, l - 1) */
    int64_t row0;  /* first global row held here */
    int64_t nrows; /* rows held here */
    double *S;     /* nrows x np column-major, S[i + p*nrows] = mult(J_p) T[row0+i, J_p] */
    double norm2;  /* ||T||_F^2 of the whole tensor (reduced over all ranks) */
} otd_slab;

/* Bytes of packed storage per rank for d rows over nranks at order l (the
 * largest block), or -1 on overflow. Not collective. */
int64_t otd_slab_bytes(int64_t d, int order, int nranks);

/* Collective. Materialize this rank's slices of the generated target
 * T* = sum_k a_k u_k^{(x)l}, plus, when cfg->problem.noise > 0, a symmetric
 * Gaussian tensor of that Frobenius norm (entries keyed by their sorted
 * multi-index and run.seed: the same tensor for any rank count). */
otd_err otd_slab_generate(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                          const otd_target *target, otd_slab **out);

/* Collective. Read this rank's slices of dataset /T from HDF5 file `path`
 * (named by config key `key` in messages), validating before anything else
 * happens: an HDF5 file; /T present; float64 (any floating type is
 * converted); rank l and shape (d, ..., d) matching problem.order and
 * problem.dim; every value finite (the first bad index is reported);
 * symmetric: the largest |T[..i..j..] - T[..j..i..]| relative to max |T|
 * at most `symmetry_tol` (the largest asymmetry and its index are
 * reported); not all zero, and ||T||^2 a finite double (every relative
 * error divides by it). Each rank reads only its own slices (plus, for the
 * symmetry check, the mode-2 slices of the same rows). The same verdict on every
 * rank; errors are OTD_ERR_FORMAT (or OTD_ERR_CONFIG for a shape that
 * contradicts problem.order/problem.dim). */
otd_err otd_slab_read(const char *path, const char *key, int order, int64_t d, double symmetry_tol,
                      const otd_layout *lay, otd_comm *comm, otd_slab **out);

/* Collective. Write the whole tensor as dataset /T of shape (d, ..., d),
 * float64, into a new HDF5 file `path` (refused if it exists), each rank
 * writing its own slices (unpacked), with parallel HDF5. String attributes
 * attrs (may be NULL) go on the root group. With components (not NULL: the
 * target the tensor was generated from), rank 0 adds them as /U (d, r),
 * U[j, k] = coordinate j of u_k, and /a (r,), float64: the format
 * problem.components_file reads (otd_input.h), so the file describes where
 * its /T came from.
 *
 * The file is written as "<path>.tmp.<pid>" (pid of rank 0) in the same
 * directory, its blocks reserved before HDF5 writes anything, and renamed to
 * `path` (never over a file that appeared meanwhile) only once complete and
 * synced: a failure, a full disk included, leaves no file under `path` and
 * removes the temporary one. Every rank returns the same code: OTD_ERR_IO
 * (the path exists, a full disk: the message names the file and the
 * reason), OTD_ERR_ARG, OTD_ERR_NOMEM, OTD_ERR_CONFIG (d^l overflows). */
otd_err otd_slab_write(const otd_slab *slab, const char *path, otd_comm *comm,
                       const char *const *attr_names, const char *const *attr_values, int nattrs,
                       const otd_target *components);

/* Accepts NULL. */
void otd_slab_destroy(otd_slab *slab);

/* Allocate an empty slab (S zeroed) for the rows of lay. Not collective.
 * Fails with OTD_ERR_CONFIG naming problem.dim/problem.order when the
 * packed size overflows or cannot be allocated (saying how much is needed). */
otd_err otd_slab_alloc(int order, const otd_layout *lay, otd_slab **out);

#endif
