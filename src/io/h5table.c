/* h5table.c: a table as an HDF5 file (see otd_h5table.h). */
#include "otd/otd_h5table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "otd/otd_fileio.h"
#include "otd/otd_text.h"

/* h5py's bool: an enum over a signed 8-bit integer with exactly these two
 * members, which it maps to numpy.bool_ (and back). */
static otd_err bool_type(hid_t *out)
{
    otd_err err = OTD_OK;
    int8_t no = 0, yes = 1;
    OTD_H5(*out = H5Tenum_create(H5T_NATIVE_INT8), "bool type");
    OTD_H5(H5Tenum_insert(*out, "FALSE", &no), "bool type");
    OTD_H5(H5Tenum_insert(*out, "TRUE", &yes), "bool type");
done:
    return err;
}

/* Create dataset path (a 1-D array of n elements of type) in f, write buf
 * (memory layout of type, or NULL when n = 0), and leave it open in *dset
 * for its attributes. */
static otd_err write_array(hid_t f, const char *path, hid_t type, int64_t n, const void *buf,
                           hid_t *dset)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    hsize_t dims = (hsize_t)n;
    OTD_H5(space = H5Screate_simple(1, &dims, NULL), path);
    OTD_H5(lcpl = H5Pcreate(H5P_LINK_CREATE), path);
    OTD_H5(H5Pset_create_intermediate_group(lcpl, 1), path); /* /missing/... */
    OTD_H5(*dset = H5Dcreate2(f, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT), path);
    if (n > 0)
        OTD_H5(H5Dwrite(*dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), path);
done:
    otd_h5_close(&lcpl, &err);
    otd_h5_close(&space, &err);
    return err;
}

static otd_err write_column(hid_t f, hid_t boolt, int64_t nrows, const otd_h5table_column *c)
{
    otd_err err = OTD_OK;
    hid_t dset = H5I_INVALID_HID, strt = H5I_INVALID_HID;
    int8_t *mask = NULL;
    int any = 0;
    char mpath[4200], mdesc[4400];
    switch (c->type) {
    case OTD_H5TABLE_FLOAT64:
        OTD_CHECK(write_array(f, c->name, H5T_NATIVE_DOUBLE, nrows, c->f64, &dset));
        break;
    case OTD_H5TABLE_INT64:
        OTD_CHECK(write_array(f, c->name, H5T_NATIVE_INT64, nrows, c->i64, &dset));
        break;
    case OTD_H5TABLE_BOOL:
        OTD_CHECK(write_array(f, c->name, boolt, nrows, c->flags, &dset));
        break;
    case OTD_H5TABLE_STRING:
        OTD_H5(strt = H5Tcopy(H5T_C_S1), c->name);
        OTD_H5(H5Tset_size(strt, H5T_VARIABLE), c->name);
        OTD_H5(H5Tset_cset(strt, H5T_CSET_UTF8), c->name);
        OTD_CHECK(write_array(f, c->name, strt, nrows, c->text, &dset));
        break;
    }
    OTD_CHECK(otd_h5_attr_string(dset, "description", c->description));
    if (c->unit != NULL)
        OTD_CHECK(otd_h5_attr_string(dset, "unit", c->unit));
    otd_h5_close(&dset, &err);
    for (int64_t i = 0; c->missing != NULL && i < nrows; i++)
        any |= c->missing[i] != 0;
    if (!any)
        goto done;
    OTD_ALLOC(mask, nrows);
    for (int64_t i = 0; i < nrows; i++)
        mask[i] = c->missing[i] != 0;
    snprintf(mpath, sizeof mpath, "/missing/%s", c->name);
    snprintf(mdesc, sizeof mdesc,
             "true where column %s has no value (it holds a placeholder there)", c->name);
    OTD_CHECK(write_array(f, mpath, boolt, nrows, mask, &dset));
    OTD_CHECK(otd_h5_attr_string(dset, "description", mdesc));
done:
    free(mask);
    otd_h5_close(&dset, &err);
    otd_h5_close(&strt, &err);
    return err;
}

otd_err otd_h5table_write(const char *path, int64_t nrows, const otd_h5table_column *cols,
                          int ncols)
{
    otd_err err = OTD_OK;
    char tmp[4300];
    hid_t f = H5I_INVALID_HID, boolt = H5I_INVALID_HID, g = H5I_INVALID_HID;
    otd_strbuf order = {0};
    int created = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        OTD_FAIL(OTD_ERR_IO, "path too long: '%s'", path);
    /* A column nobody can interpret is a bug of the caller, found before
     * anything is written. */
    for (int c = 0; c < ncols; c++)
        if (cols[c].description == NULL || cols[c].description[0] == '\0')
            OTD_FAIL(OTD_ERR_ARG, "%s: column '%s' has no description", path, cols[c].name);
    OTD_CHECK(otd_h5_quiet());
    OTD_CHECK(bool_type(&boolt));
    created = 1; /* or half created: removed on failure either way */
    OTD_H5(f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), tmp);
    for (int c = 0; c < ncols; c++) {
        OTD_CHECK(otd_strbuf_printf(&order, "%s%s", c ? "," : "", cols[c].name));
        OTD_CHECK(write_column(f, boolt, nrows, &cols[c]));
    }
    OTD_CHECK(otd_h5_attr_string(f, "columns", order.data ? order.data : ""));
    OTD_CHECK(otd_h5_attr_int64(f, "nrows", nrows));
    if (H5Lexists(f, "missing", H5P_DEFAULT) > 0) {
        OTD_H5(g = H5Gopen2(f, "missing", H5P_DEFAULT), "/missing");
        OTD_CHECK(otd_h5_attr_string(g, "description",
                                     "one bool dataset per column that has cells without a value"));
    }
    otd_h5_close(&g, &err);
    OTD_H5(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp);
    otd_h5_close(&f, &err);
    if (err != OTD_OK)
        goto done;
    OTD_CHECK(otd_file_commit(tmp, path));
    created = 0; /* renamed: nothing left to remove */
done:
    otd_h5_close(&g, &err);
    otd_h5_close(&f, &err);
    otd_h5_close(&boolt, &err);
    if (created && unlink(tmp) != 0 && errno != ENOENT)
        otd_warn("cannot remove temporary file '%s': %s", tmp, strerror(errno));
    otd_strbuf_free(&order);
    return err;
}
