/* prov_h5.c: the /provenance group of results.h5 (docs/file-formats.md):
 * its string attributes, the /provenance/resumes record, and reading them
 * back for `otd collect`. The collective writers are called by results.c
 * inside its agreed write steps (otd_results_set_provenance,
 * otd_results_add_resume). */
#include "io/prov_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "otd/otd_results.h"
#include "otd/otd_runfile.h"

#define GROUP "/provenance"
#define RESUMES "/provenance/resumes"
/* "2026-11-30T10:46:39Z": ISO 8601 in UTC, to the second. */
#define UTC_LEN 20

otd_err otd_h5_prov_attrs(hid_t file, const otd_attr *attrs, int nattrs)
{
    otd_err err = OTD_OK;
    hid_t g = H5I_INVALID_HID;
    OTD_CHECK(otd_h5_group(file, GROUP, &g));
    for (int k = 0; k < nattrs; k++)
        OTD_CHECK(otd_h5_attr_string(g, attrs[k].name, attrs[k].value));
done:
    otd_h5_close(&g, &err);
    return err;
}

/* The record's type, packed: utc, iteration, nranks, hosts (fixed-length,
 * NUL-padded strings: parallel HDF5 cannot write variable-length data). */
static otd_err resume_type(size_t hosts_len, hid_t *out)
{
    otd_err err = OTD_OK;
    hid_t t = H5I_INVALID_HID, su = H5I_INVALID_HID, sh = H5I_INVALID_HID;
    *out = H5I_INVALID_HID;
    OTD_H5(su = H5Tcopy(H5T_C_S1), RESUMES);
    OTD_H5(H5Tset_size(su, UTC_LEN), RESUMES);
    OTD_H5(H5Tset_strpad(su, H5T_STR_NULLPAD), RESUMES);
    OTD_H5(sh = H5Tcopy(H5T_C_S1), RESUMES);
    OTD_H5(H5Tset_size(sh, hosts_len), RESUMES);
    OTD_H5(H5Tset_strpad(sh, H5T_STR_NULLPAD), RESUMES);
    OTD_H5(t = H5Tcreate(H5T_COMPOUND, UTC_LEN + 16 + hosts_len), RESUMES);
    OTD_H5(H5Tinsert(t, "utc", 0, su), RESUMES);
    OTD_H5(H5Tinsert(t, "iteration", UTC_LEN, H5T_NATIVE_INT64), RESUMES);
    OTD_H5(H5Tinsert(t, "nranks", UTC_LEN + 8, H5T_NATIVE_INT64), RESUMES);
    OTD_H5(H5Tinsert(t, "hosts", UTC_LEN + 16, sh), RESUMES);
    *out = t;
    t = H5I_INVALID_HID;
done:
    otd_h5_close(&t, &err);
    otd_h5_close(&sh, &err);
    otd_h5_close(&su, &err);
    return err;
}

/* Of an existing record: its rows and the width of its hosts field. */
static otd_err resume_shape(hid_t dset, hsize_t *rows, size_t *hosts_len)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, t = H5I_INVALID_HID, m = H5I_INVALID_HID;
    int idx = -1;
    OTD_H5(space = H5Dget_space(dset), RESUMES);
    if (H5Sget_simple_extent_ndims(space) != 1)
        OTD_FAIL(OTD_ERR_FORMAT, "%s is not a 1-D record", RESUMES);
    OTD_H5(H5Sget_simple_extent_dims(space, rows, NULL), RESUMES);
    OTD_H5(t = H5Dget_type(dset), RESUMES);
    if (H5Tget_class(t) != H5T_COMPOUND || (idx = H5Tget_member_index(t, "hosts")) < 0)
        OTD_FAIL(OTD_ERR_FORMAT, "%s is not a record of resumes (no hosts field)", RESUMES);
    OTD_H5(m = H5Tget_member_type(t, (unsigned)idx), RESUMES);
    *hosts_len = H5Tget_size(m);
done:
    otd_h5_close(&m, &err);
    otd_h5_close(&t, &err);
    otd_h5_close(&space, &err);
    return err;
}

otd_err otd_h5_prov_resume(hid_t file, hid_t dxpl, int writer, const otd_results_resume *r)
{
    otd_err err = OTD_OK;
    hid_t g = H5I_INVALID_HID, dset = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    htri_t there = -1;
    hsize_t rows = 0, one = 1;
    size_t old_len = 1, len, row;
    char *buf = NULL, *last;
    static const char none[1] = {0}; /* HDF5 rejects a NULL buffer */
    OTD_CHECK(otd_h5_group(file, GROUP, &g));
    OTD_H5(there = H5Lexists(g, "resumes", H5P_DEFAULT), RESUMES);
    if (there > 0) {
        OTD_H5(dset = H5Dopen2(g, "resumes", H5P_DEFAULT), RESUMES);
        OTD_CHECK(resume_shape(dset, &rows, &old_len));
    }
    /* Fixed widths: the record is rewritten whole, as wide as its widest
     * hosts (a resume is rare; the record stays small). */
    len = strlen(r->hosts) > old_len ? strlen(r->hosts) : old_len;
    if (len == 0)
        len = 1;
    row = UTC_LEN + 16 + len;
    OTD_CHECK(resume_type(len, &type));
    OTD_ALLOC(buf, (rows + 1) * row);
    /* Every rank reads the old rows (the same bytes everywhere), widened
     * to the new type by HDF5's conversion. */
    if (rows > 0)
        OTD_H5(H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), RESUMES);
    otd_h5_close(&dset, &err);
    if (err != OTD_OK)
        goto done;
    if (there > 0)
        OTD_H5(H5Ldelete(g, "resumes", H5P_DEFAULT), RESUMES);
    last = buf + rows * row;
    /* NUL-padded fields of a zeroed row. */
    memset(last, 0, row);
    memcpy(last, r->utc, strlen(r->utc) < UTC_LEN ? strlen(r->utc) : UTC_LEN);
    memcpy(last + UTC_LEN, &r->iteration, 8);
    memcpy(last + UTC_LEN + 8, &r->nranks, 8);
    memcpy(last + UTC_LEN + 16, r->hosts, strlen(r->hosts));
    rows++;
    OTD_H5(space = H5Screate_simple(1, &rows, NULL), RESUMES);
    OTD_H5(dset = H5Dcreate2(g, "resumes", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           RESUMES);
    /* Like every dataset otd writes: what it holds (docs/file-formats.md). */
    OTD_CHECK(otd_h5_attr_string(dset, "description",
                                 "one row per resume: utc (when), iteration (resumed at), "
                                 "nranks and hosts (of the resuming process)"));
    /* One writer, the other ranks join with an empty selection. */
    if (writer) {
        OTD_H5(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, dxpl, buf), RESUMES);
    } else {
        OTD_H5(H5Sselect_none(space), RESUMES);
        OTD_H5(mspace = H5Screate_simple(1, &one, NULL), RESUMES);
        OTD_H5(H5Sselect_none(mspace), RESUMES);
        OTD_H5(H5Dwrite(dset, type, mspace, space, dxpl, none), RESUMES);
    }
done:
    free(buf);
    otd_h5_close(&mspace, &err);
    otd_h5_close(&space, &err);
    otd_h5_close(&dset, &err);
    otd_h5_close(&type, &err);
    otd_h5_close(&g, &err);
    return err;
}

void otd_results_hdf5_version(char *buf, size_t n)
{
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) < 0)
        snprintf(buf, n, "unknown");
    else
        snprintf(buf, n, "%u.%u.%u", maj, min, rel);
}

otd_err otd_runfile_read_provenance(const char *path, const char *const *names, int n, char **vals)
{
    otd_err err = OTD_OK;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    htri_t there = -1;
    for (int k = 0; k < n; k++)
        vals[k] = NULL;
    OTD_CHECK(otd_h5_quiet());
    OTD_H5(fapl = H5Pcreate(H5P_FILE_ACCESS), path);
    /* A live run holds its results open: read past HDF5's file lock. */
    OTD_H5(H5Pset_file_locking(fapl, 0, 1), path);
    OTD_H5(f = H5Fopen(path, H5F_ACC_RDONLY, fapl), path);
    OTD_H5(there = H5Lexists(f, "provenance", H5P_DEFAULT), GROUP);
    if (there > 0)
        OTD_H5(g = H5Gopen2(f, "provenance", H5P_DEFAULT), GROUP);
    for (int k = 0; k < n; k++) {
        there = 0;
        if (g >= 0)
            OTD_H5(there = H5Aexists(g, names[k]), names[k]);
        if (there > 0)
            OTD_CHECK(otd_h5_attr_read_string(g, names[k], &vals[k]));
        else if ((vals[k] = strdup("")) == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    }
done:
    if (err != OTD_OK)
        for (int k = 0; k < n; k++) {
            free(vals[k]);
            vals[k] = NULL;
        }
    otd_h5_close(&g, &err);
    otd_h5_close(&f, &err);
    otd_h5_close(&fapl, &err);
    return err;
}
