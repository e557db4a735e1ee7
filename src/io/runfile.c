/* runfile.c: reading back a run's results.h5 (see otd_runfile.h). */
#include "otd/otd_runfile.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5util.h"

otd_err otd_runfile_read_status(const char *path, char **status)
{
    otd_err err = OTD_OK;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    struct stat st;
    *status = NULL;
    OTD_CHECK(otd_h5_quiet());
    if (stat(path, &st) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot open results file '%s': %s", path, strerror(errno));
    /* HDF5's reason (a bad signature, a truncated superblock) says less
     * than this: the file is there but is no HDF5 that HDF5 can open. */
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        OTD_FAIL(OTD_ERR_FORMAT, "'%s' exists but cannot be opened as HDF5", path);
    }
    /* A file without them is a run that has not finished: not an error. */
    if (H5Lexists(f, "summary", H5P_DEFAULT) > 0) {
        OTD_H5(g = H5Gopen2(f, "summary", H5P_DEFAULT), "/summary");
        if (H5Aexists(g, "status") > 0)
            OTD_CHECK(otd_h5_attr_read_string(g, "status", status));
    }
done:
    otd_h5_close(&g, &err);
    otd_h5_close(&f, &err);
    return err;
}

static otd_err add_num(otd_runfile_summary *s, const char *name, double v, int is_int)
{
    char **names = realloc(s->num_names, (size_t)(s->nnum + 1) * sizeof *names);
    double *vals;
    unsigned char *ints;
    if (names == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    s->num_names = names;
    vals = realloc(s->num_vals, (size_t)(s->nnum + 1) * sizeof *vals);
    if (vals == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    s->num_vals = vals;
    ints = realloc(s->num_is_int, (size_t)(s->nnum + 1) * sizeof *ints);
    if (ints == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    s->num_is_int = ints;
    if ((names[s->nnum] = strdup(name)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    ints[s->nnum] = (unsigned char)(is_int != 0);
    vals[s->nnum++] = v;
    return OTD_OK;
}

/* Every single-valued integer or float attribute of /summary. */
static herr_t num_attr_cb(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data)
{
    otd_runfile_summary *s = data;
    otd_err err = OTD_OK;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    H5T_class_t cls;
    (void)ainfo;
    OTD_H5(attr = H5Aopen(loc, name, H5P_DEFAULT), name);
    OTD_H5(type = H5Aget_type(attr), name);
    OTD_H5(space = H5Aget_space(attr), name);
    cls = H5Tget_class(type);
    if (H5Sget_simple_extent_npoints(space) == 1 && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        double v = NAN;
        if (cls == H5T_INTEGER) {
            int64_t i = 0;
            OTD_CHECK(otd_h5_attr_read_int64(loc, name, &i));
            v = (double)i;
        } else {
            OTD_CHECK(otd_h5_attr_read_double(loc, name, &v));
        }
        OTD_CHECK(add_num(s, name, v, cls == H5T_INTEGER));
    }
done:
    otd_h5_close(&space, &err);
    otd_h5_close(&type, &err);
    otd_h5_close(&attr, &err);
    return err == OTD_OK ? 0 : -1;
}

otd_err otd_runfile_read_summary(const char *path, otd_runfile_summary *s)
{
    otd_err err = OTD_OK;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    htri_t there = -1;
    double last = 0;
    int found = 0;
    memset(s, 0, sizeof *s);
    s->iters = -1;
    OTD_CHECK(otd_h5_quiet());
    OTD_H5(fapl = H5Pcreate(H5P_FILE_ACCESS), path);
    /* A live run holds its results open: read past HDF5's file lock. */
    OTD_H5(H5Pset_file_locking(fapl, 0, 1), path);
    OTD_H5(f = H5Fopen(path, H5F_ACC_RDONLY, fapl), path);
    OTD_H5(there = H5Lexists(f, "summary", H5P_DEFAULT), "/summary");
    if (there > 0) {
        OTD_H5(g = H5Gopen2(f, "summary", H5P_DEFAULT), "/summary");
        OTD_H5(there = H5Aexists(g, "status"), "/summary/status");
        if (there > 0)
            OTD_CHECK(otd_h5_attr_read_string(g, "status", &s->status));
        if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, num_attr_cb, s) < 0)
            OTD_FAIL(OTD_ERR_HDF5, "cannot read the /summary attributes of '%s'", path);
    }
    for (int k = 0; k < s->nnum; k++)
        if (strcmp(s->num_names[k], "iters") == 0)
            s->iters = (int64_t)s->num_vals[k];
    if (s->iters < 0) {
        OTD_CHECK(otd_h5_read_last(f, "/history/iter", &last, &found));
        if (found)
            s->iters = (int64_t)last;
    }
done:
    otd_h5_close(&g, &err);
    otd_h5_close(&f, &err);
    otd_h5_close(&fapl, &err);
    return err;
}

void otd_runfile_summary_free(otd_runfile_summary *s)
{
    free(s->status);
    for (int k = 0; k < s->nnum; k++)
        free(s->num_names[k]);
    free(s->num_names);
    free(s->num_vals);
    free(s->num_is_int);
    memset(s, 0, sizeof *s);
}
