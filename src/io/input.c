/* input.c: validated reads of small replicated arrays (see otd_input.h). */
#include "otd/otd_input.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"

/* Rank 0: open, check, read into column-major out. */
static otd_err read_local(const char *path, const char *name, const char *key, int64_t rows,
                          int64_t cols, double *out)
{
    otd_err err = OTD_OK;
    hid_t f = H5I_INVALID_HID, ds = H5I_INVALID_HID, sp = H5I_INVALID_HID, ty = H5I_INVALID_HID;
    double *buf = NULL;
    hsize_t dims[2] = {0, 0};
    int want = cols == 0 ? 1 : 2, nd;
    int64_t n = rows * (cols == 0 ? 1 : cols);

    if (access(path, R_OK) != 0)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': cannot read the file: %s", key, path, strerror(errno));
    OTD_CHECK(otd_h5_quiet());
    if (H5Fis_hdf5(path) <= 0)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': not an HDF5 file", key, path);
    OTD_H5(f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), path);
    /* A link to nothing (dangling soft or external link) counts as missing. */
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0 || H5Oexists_by_name(f, name, H5P_DEFAULT) <= 0)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': no dataset '%s' in the file (or a link to nothing)",
                 key, path, name);
    OTD_H5(ds = H5Dopen2(f, name, H5P_DEFAULT), name);
    OTD_H5(ty = H5Dget_type(ds), name);
    if (H5Tget_class(ty) != H5T_FLOAT)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': dataset '%s' is not floating-point (float64 expected)",
                 key, path, name);
    OTD_H5(sp = H5Dget_space(ds), name);
    OTD_H5(nd = H5Sget_simple_extent_ndims(sp), name);
    if (nd != want)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': dataset '%s' has %d dimensions, expected %d", key,
                 path, name, nd, want);
    OTD_H5(H5Sget_simple_extent_dims(sp, dims, NULL), name);
    if ((int64_t)dims[0] != rows || (want == 2 && (int64_t)dims[1] != cols)) {
        if (want == 1)
            OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': dataset '%s' has shape (%llu,), expected (%lld,)",
                     key, path, name, (unsigned long long)dims[0], (long long)rows);
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': dataset '%s' has shape (%llu, %llu), expected "
                 "(%lld, %lld)",
                 key, path, name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                 (long long)rows, (long long)cols);
    }
    OTD_ALLOC(buf, n);
    OTD_H5(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), name);
    for (int64_t q = 0; q < n; q++) {
        if (isfinite(buf[q]))
            continue;
        if (want == 1)
            OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': %s[%lld] = %g is not finite", key, path, name,
                     (long long)q, buf[q]);
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': %s[%lld, %lld] = %g is not finite", key, path, name,
                 (long long)(q / cols), (long long)(q % cols), buf[q]);
    }
    /* dataset[j][i] (C order) -> out[j + i*rows] (column-major) */
    if (want == 1)
        memcpy(out, buf, (size_t)n * sizeof *out);
    else
        for (int64_t j = 0; j < rows; j++)
            for (int64_t i = 0; i < cols; i++)
                out[j + i * rows] = buf[j * cols + i];
done:
    free(buf);
    otd_h5_close(&sp, &err);
    otd_h5_close(&ty, &err);
    otd_h5_close(&ds, &err);
    otd_h5_close(&f, &err);
    return err;
}

otd_err otd_input_read(otd_comm *comm, const char *path, const char *name, const char *key,
                       int64_t rows, int64_t cols, double *out)
{
    otd_err err = OTD_OK, local = OTD_OK;
    if (otd_comm_rank(comm) == 0)
        local = read_local(path, name, key, rows, cols, out);
    OTD_CHECK(otd_comm_agree(comm, local));
    OTD_CHECK(otd_comm_bcast(comm, out, (size_t)(rows * (cols == 0 ? 1 : cols)) * sizeof *out, 0));
done:
    return err;
}
