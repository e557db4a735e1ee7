/* otd_algo.h: the training algorithms of docs/science.md section 4.
 *
 * An algorithm decides the initial W and what happens at the start of each
 * step (bl's epoch re-initializations); the driver does the gradient steps.
 * Implementations are rows of a table (algo.c):
 *   gd   w_i ~ N(0, sigma^2 I/d), sigma = model.init_scale; plain gradient descent
 *   bl   w_i = delta_0 * (random unit vector); at the start of epoch s >= 1
 *        every w_i with ||w_i|| <= delta_1 is redrawn the same way; epoch s
 *        lasts H_s = ceil(H_0 (1 + gamma)^s) steps
 *   tdp  the same loop as bl, read as the deflation schedule of the follow-up
 *        paper (same keys and defaults)
 *   lazy_gd, lazy_opt  gd's Gaussian start (at scale 1 by default); what
 *        they do with it is the linearized model of otd_lazy.h, which the
 *        driver evaluates or solves
 * Every random draw is keyed by (seed, purpose, epoch, component, row), so W
 * is bitwise the same for any rank count, and the epoch is a pure function
 * of the iteration (nothing to checkpoint beyond W and the iteration). */
#ifndef OTD_ALGO_H
#define OTD_ALGO_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"

typedef struct otd_algo otd_algo;

/* Not collective. */
otd_err otd_algo_create(const otd_config *cfg, const otd_layout *lay, otd_comm *comm,
                        otd_algo **out);
void otd_algo_destroy(otd_algo *a);

/* Collective. Write this rank's rows of the initial W (nrows x m). */
otd_err otd_algo_init(otd_algo *a, double *W_loc);

/* Collective. Called before evaluating step `iter`: re-initializes at epoch
 * boundaries. *n_reinit receives how many components were redrawn now. */
otd_err otd_algo_before_step(otd_algo *a, int64_t iter, double *W_loc, int64_t *n_reinit);

/* Epoch of iteration iter (0 for algorithms without epochs). Not collective. */
int64_t otd_algo_epoch(otd_algo *a, int64_t iter);

/* Fill one column of this rank's rows with scale * (random unit vector),
 * the unit vector drawn from (seed, stream, component i) over all d rows, its
 * norm computed from every row in a fixed order on every rank. Shared by
 * initialization and re-initialization. Not collective. */
void otd_algo_sphere_column(const otd_config *cfg, const otd_layout *lay, uint32_t stream,
                            int64_t i, double scale, double *col);

#endif
