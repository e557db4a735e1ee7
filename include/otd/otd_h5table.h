/* otd_h5table.h: a table as an HDF5 file, one 1-D dataset per column at
 * the root, named as the column (h5py: f["model.m"][()]), with root
 * attributes `columns` (the names, comma-separated, in order) and `nrows`.
 * The sweep summary (DIR/summary.h5, otd_collect.h) is one.
 *
 * Written with HDF5's default (serial) driver: not collective, no MPI. */
#ifndef OTD_H5TABLE_H
#define OTD_H5TABLE_H

#include <stdint.h>

#include "otd/otd_error.h"

/* One column: numbers (float64; NaN for a missing value) if `numbers` is
 * not NULL, else text (variable-length UTF-8 strings; h5py reads bytes). */
typedef struct {
    const char *name;
    const double *numbers;
    const char *const *text;
} otd_h5table_column;

/* Write the table of nrows rows and the ncols columns cols to path,
 * replacing it atomically (a temporary file in the same directory, synced
 * and renamed: otd_fileio.h): a reader sees the old table or the new one.
 * OTD_ERR_HDF5 / OTD_ERR_IO naming the file. Not collective. */
otd_err otd_h5table_write(const char *path, int64_t nrows, const otd_h5table_column *cols,
                          int ncols);

#endif
