/* h5table.c: a table as an HDF5 file (see otd_h5table.h). */
#include "otd/otd_h5table.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "otd/otd_fileio.h"
#include "otd/otd_text.h"

otd_err otd_h5table_write(const char *path, int64_t nrows, const otd_h5table_column *cols,
                          int ncols)
{
    otd_err err = OTD_OK;
    char tmp[4300];
    hid_t f = H5I_INVALID_HID;
    hsize_t dims = (hsize_t)nrows, start = 0;
    otd_strbuf order = {0};
    int created = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        OTD_FAIL(OTD_ERR_IO, "path too long: '%s'", path);
    OTD_CHECK(otd_h5_quiet());
    created = 1; /* or half created: removed on failure either way */
    OTD_H5(f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), tmp);
    for (int c = 0; c < ncols; c++) {
        OTD_CHECK(otd_strbuf_printf(&order, "%s%s", c ? "," : "", cols[c].name));
        if (cols[c].numbers != NULL)
            OTD_CHECK(otd_h5_write_block(f, H5P_DEFAULT, cols[c].name, 1, &dims, &start, &dims,
                                         cols[c].numbers));
        else
            OTD_CHECK(otd_h5_write_strings(f, cols[c].name, nrows, cols[c].text));
    }
    OTD_CHECK(otd_h5_attr_string(f, "columns", order.data ? order.data : ""));
    OTD_CHECK(otd_h5_attr_int64(f, "nrows", nrows));
    OTD_H5(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp);
    otd_h5_close(&f, &err);
    if (err != OTD_OK)
        goto done;
    OTD_CHECK(otd_file_commit(tmp, path));
    created = 0; /* renamed: nothing left to remove */
done:
    otd_h5_close(&f, &err);
    if (created && unlink(tmp) != 0 && errno != ENOENT)
        otd_warn("cannot remove temporary file '%s': %s", tmp, strerror(errno));
    otd_strbuf_free(&order);
    return err;
}
