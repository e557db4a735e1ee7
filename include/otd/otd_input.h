/* otd_input.h: reading users' input arrays from HDF5 files.
 *
 * Input files name dataset paths (/U, /a, /W) whose shapes are part of the
 * configuration contract. Every problem is reported in one message naming the
 * config key, the file, the dataset and what was expected, before any output
 * is written, with the same verdict on every rank. */
#ifndef OTD_INPUT_H
#define OTD_INPUT_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

/* Collective. Read float dataset `name` of file `path` into `out` on every
 * rank. Expected shape (rows, cols), or (rows,) when cols == 0; `out` is
 * column-major: out[j + i*rows] = dataset[j][i]. Rank 0 reads and checks
 * (HDF5 file, dataset present, floating-point type, shape, every value
 * finite: the first bad index is reported), then broadcasts. Errors:
 * OTD_ERR_FORMAT on every rank, the message (on rank 0) naming `key`. Small arrays only: every rank
 * holds the whole thing. */
otd_err otd_input_read(otd_comm *comm, const char *path, const char *name, const char *key,
                       int64_t rows, int64_t cols, double *out);

#endif
