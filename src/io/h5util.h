/* h5util.h: small HDF5 helpers shared by the I/O modules and `otd info`.
 *
 * HDF5 reports failure by a negative return and, unless told otherwise,
 * prints its whole error stack to stderr from every rank. otd silences that
 * (otd_h5_quiet) and turns a failure into one OTD_ERR_HDF5 message that names
 * the call, the object path and HDF5's innermost reason. */
#ifndef OTD_H5UTIL_H
#define OTD_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "otd/otd_error.h"

/* Turn off HDF5's automatic error-stack printing for this thread. Not
 * collective; idempotent. Returns OTD_ERR_HDF5 if HDF5 refuses. */
otd_err otd_h5_quiet(void);

/* Raise OTD_ERR_HDF5: "<function> failed on '<path>': <HDF5's reason>".
 * `call` is a function name or a call's source text ("id = H5Dopen2(...)"),
 * of which only the function name is kept. Reads (and clears) the current
 * HDF5 error stack. Not collective. */
otd_err otd_h5_raise(const char *call, const char *path, const char *file, int line);

/* Evaluate an HDF5 call (hid_t, herr_t or htri_t); a negative result raises
 * OTD_ERR_HDF5 naming the call and `path` and jumps to `done`. Use as
 * OTD_H5(id = H5Dopen2(f, name, H5P_DEFAULT), name). */
#define OTD_H5(call, path)                                                                         \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            err = otd_h5_raise(#call, (path), __FILE__, __LINE__);                                 \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Close any HDF5 id (file, group, dataset, dataspace, datatype, attribute,
 * property list) if it is valid and set it to H5I_INVALID_HID. A failure is
 * recorded in *err only when *err is still OTD_OK: the first error wins.
 * Closing a file id is collective when the file was opened in parallel. */
void otd_h5_close(hid_t *id, otd_err *err);

/* Open group `path` (absolute or relative to loc), creating it and any
 * missing parents. Collective in a parallel file. *out must be closed. */
otd_err otd_h5_group(hid_t loc, const char *path, hid_t *out);

/* Write a scalar attribute on object loc, replacing one of the same name.
 * Strings are variable-length UTF-8 (h5py reads them as str). Collective in a
 * parallel file: every rank passes identical arguments. */
otd_err otd_h5_attr_string(hid_t loc, const char *name, const char *value);
otd_err otd_h5_attr_double(hid_t loc, const char *name, double value);
otd_err otd_h5_attr_int64(hid_t loc, const char *name, int64_t value);

/* Read a string attribute (fixed- or variable-length) into a malloc'd
 * NUL-terminated copy owned by the caller. Not collective. */
otd_err otd_h5_attr_read_string(hid_t loc, const char *name, char **out);

#endif
