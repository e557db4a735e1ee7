/* otd_h5table.h: a table as an HDF5 file, one 1-D dataset per column at
 * the root, named as the column (h5py: f["model.m"][()]), with root
 * attributes `columns` (the names, comma-separated, in order) and `nrows`.
 * The sweep summary (DIR/summary.h5, otd_collect.h) is one.
 *
 * Each column has one type, fixed by what it holds rather than by the
 * values of the moment, so that a reader's code does not change with the
 * data: float64, int64, bool (HDF5 has none: h5py's convention, an 8-bit
 * enum FALSE = 0, TRUE = 1, which h5py reads as numpy bool) or
 * variable-length UTF-8 strings (h5py: .asstr()). Every column dataset has
 * a `description` attribute and, when its values have one, a `unit`.
 *
 * A cell without a value (a point that never ran has no final_rel_err)
 * holds a placeholder: NaN, INT64_MIN, false or "". Only NaN is
 * unmistakable, and even NaN can be a value (a diverged run's error), so a
 * column with such cells also gets /missing/<column>, a bool dataset of
 * nrows, true where the cell has no value; a column without is complete.
 *
 * Written with HDF5's default (serial) driver: not collective, no MPI. */
#ifndef OTD_H5TABLE_H
#define OTD_H5TABLE_H

#include <stdint.h>

#include "otd/otd_error.h"

typedef enum {
    OTD_H5TABLE_FLOAT64,
    OTD_H5TABLE_INT64,
    OTD_H5TABLE_BOOL,
    OTD_H5TABLE_STRING,
} otd_h5table_type;

/* One column: its nrows values in the member of its type. */
typedef struct {
    const char *name;
    otd_h5table_type type;
    const double *f64;            /* OTD_H5TABLE_FLOAT64 */
    const int64_t *i64;           /* OTD_H5TABLE_INT64 */
    const int8_t *flags;          /* OTD_H5TABLE_BOOL: 0 or 1 */
    const char *const *text;      /* OTD_H5TABLE_STRING */
    const unsigned char *missing; /* nrows flags, 1 = no value; NULL: every cell has one */
    const char *description;      /* non-empty */
    const char *unit;             /* NULL: dimensionless, or not a quantity */
} otd_h5table_column;

/* Write the table of nrows rows and the ncols columns cols to path,
 * replacing it atomically (a temporary file in the same directory, synced
 * and renamed: otd_fileio.h): a reader sees the old table or the new one.
 * OTD_ERR_ARG for a column without a description; OTD_ERR_HDF5 /
 * OTD_ERR_IO naming the file. Not collective. */
otd_err otd_h5table_write(const char *path, int64_t nrows, const otd_h5table_column *cols,
                          int ncols);

#endif
