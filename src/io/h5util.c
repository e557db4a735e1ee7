/* h5util.c: HDF5 helpers (see h5util.h). */
#define _GNU_SOURCE /* fallocate(2) and FALLOC_FL_KEEP_SIZE (Linux) */
#include "io/h5util.h"

#include "comm/comm_mpi.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

otd_err otd_h5_quiet(void)
{
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
        return OTD_ERROR(OTD_ERR_HDF5, "H5Eset_auto2 failed: cannot silence HDF5 error printing");
    return OTD_OK;
}

/* The outermost entry says what the API call was doing ("unable to create
 * file"), the innermost why (often with errno text): keep both. */
typedef struct {
    char outer[256];
    char inner[256];
    int n;
} stack_summary;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    stack_summary *s = data;
    (void)n;
    if (e->desc == NULL || e->desc[0] == '\0')
        return 0;
    if (s->n == 0)
        snprintf(s->outer, sizeof s->outer, "%s", e->desc);
    snprintf(s->inner, sizeof s->inner, "%s", e->desc);
    s->n++;
    return 0;
}

/* "id = H5Dopen2(f, name, H5P_DEFAULT)" -> "H5Dopen2": the function name is
 * what a reader needs next to the path. Writes at most cap bytes. */
static void call_name(const char *call, char *out, size_t cap)
{
    const char *paren = strchr(call, '(');
    const char *start = paren != NULL ? paren : call + strlen(call);
    while (start > call && (start[-1] == '_' || isalnum((unsigned char)start[-1])))
        start--;
    if (paren == NULL || paren == start)
        snprintf(out, cap, "%s", call);
    else
        snprintf(out, cap, "%.*s", (int)(paren - start), start);
}

otd_err otd_h5_raise(const char *call_text, const char *path, const char *file, int line)
{
    stack_summary s = {.n = 0};
    char call[64];
    call_name(call_text, call, sizeof call);
    /* H5E functions do not clear the stack on entry, so this still sees the
     * failure being reported. A walk failure only loses the detail. */
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &s) < 0)
        s.n = 0;
    H5Eclear2(H5E_DEFAULT);
    if (s.n == 0)
        return otd_error_raise(OTD_ERR_HDF5, file, line, "%s failed on '%s'", call, path);
    if (s.n == 1 || strcmp(s.outer, s.inner) == 0)
        return otd_error_raise(OTD_ERR_HDF5, file, line, "%s failed on '%s': %s", call, path,
                               s.outer);
    return otd_error_raise(OTD_ERR_HDF5, file, line, "%s failed on '%s': %s (%s)", call, path,
                           s.outer, s.inner);
}

void otd_h5_close(hid_t *id, otd_err *err)
{
    herr_t rc = 0;
    if (*id < 0)
        return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE:
        rc = H5Fclose(*id);
        break;
    case H5I_GROUP:
        rc = H5Gclose(*id);
        break;
    case H5I_DATASET:
        rc = H5Dclose(*id);
        break;
    case H5I_DATASPACE:
        rc = H5Sclose(*id);
        break;
    case H5I_DATATYPE:
        rc = H5Tclose(*id);
        break;
    case H5I_ATTR:
        rc = H5Aclose(*id);
        break;
    case H5I_GENPROP_LST:
        rc = H5Pclose(*id);
        break;
    default:
        rc = -1;
        break;
    }
    if (rc < 0 && *err == OTD_OK)
        *err = otd_h5_raise("closing an HDF5 object", "(id)", __FILE__, __LINE__);
    else if (rc < 0)
        H5Eclear2(H5E_DEFAULT);
    *id = H5I_INVALID_HID;
}

otd_err otd_h5_group(hid_t loc, const char *path, hid_t *out)
{
    otd_err err = OTD_OK;
    hid_t g = H5I_INVALID_HID;
    char *prefix = NULL;
    size_t len = strlen(path);
    *out = H5I_INVALID_HID;
    OTD_ALLOC(prefix, len + 1);
    /* H5Lexists needs every parent to exist, so walk the path one component
     * at a time, creating what is missing. */
    for (size_t i = 1; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        if (path[i - 1] == '/')
            continue; /* leading or doubled slash */
        htri_t there = -1;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        OTD_H5(there = H5Lexists(loc, prefix, H5P_DEFAULT), prefix);
        if (!there) {
            OTD_H5(g = H5Gcreate2(loc, prefix, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), prefix);
            otd_h5_close(&g, &err);
            if (err != OTD_OK)
                goto done;
        }
    }
    OTD_H5(*out = H5Gopen2(loc, path, H5P_DEFAULT), path);
done:
    otd_h5_close(&g, &err);
    free(prefix);
    return err;
}

/* Shared by the scalar attribute writers: replace, create, write. ftype is
 * the stored type, mtype the type of *buf in memory. */
static otd_err attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *buf)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    htri_t there = -1;
    /* Replacing rather than failing lets a summary be rewritten. */
    OTD_H5(there = H5Aexists(loc, name), name);
    if (there)
        OTD_H5(H5Adelete(loc, name), name);
    OTD_H5(space = H5Screate(H5S_SCALAR), name);
    OTD_H5(attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT), name);
    OTD_H5(H5Awrite(attr, mtype, buf), name);
done:
    otd_h5_close(&attr, &err);
    otd_h5_close(&space, &err);
    return err;
}

otd_err otd_h5_attr_string(hid_t loc, const char *name, const char *value)
{
    otd_err err = OTD_OK;
    hid_t type = H5I_INVALID_HID;
    /* Variable-length so that any length fits in the object header (the
     * text lives in the global heap) and h5py returns a str, not bytes. */
    OTD_H5(type = H5Tcopy(H5T_C_S1), name);
    OTD_H5(H5Tset_size(type, H5T_VARIABLE), name);
    OTD_H5(H5Tset_cset(type, H5T_CSET_UTF8), name);
    OTD_CHECK(attr_write(loc, name, type, type, &value));
done:
    otd_h5_close(&type, &err);
    return err;
}

otd_err otd_h5_attr_string_fixed(hid_t loc, const char *name, const char *value)
{
    otd_err err = OTD_OK;
    hid_t type = H5I_INVALID_HID;
    size_t len = strlen(value);
    /* HDF5 refuses a zero-size type: an empty string is one NUL byte. */
    OTD_H5(type = H5Tcopy(H5T_C_S1), name);
    OTD_H5(H5Tset_size(type, len > 0 ? len : 1), name);
    OTD_H5(H5Tset_strpad(type, H5T_STR_NULLPAD), name);
    OTD_H5(H5Tset_cset(type, H5T_CSET_UTF8), name);
    OTD_CHECK(attr_write(loc, name, type, type, value)); /* "" still has its NUL */
done:
    otd_h5_close(&type, &err);
    return err;
}

/* Numbers are stored little-endian whatever the host, like h5py does. */
otd_err otd_h5_attr_double(hid_t loc, const char *name, double value)
{
    return attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

otd_err otd_h5_attr_int64(hid_t loc, const char *name, int64_t value)
{
    return attr_write(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

otd_err otd_h5_attr_read_string(hid_t loc, const char *name, char **out)
{
    otd_err err = OTD_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID;
    hssize_t npoints = -1;
    htri_t vlen = -1;
    char *vbuf = NULL, *copy = NULL;
    size_t size = 0;
    H5T_class_t cls = H5T_NO_CLASS;
    H5T_cset_t cset = H5T_CSET_ERROR;
    *out = NULL;
    OTD_H5(attr = H5Aopen(loc, name, H5P_DEFAULT), name);
    OTD_H5(ftype = H5Aget_type(attr), name);
    OTD_H5(space = H5Aget_space(attr), name);
    OTD_H5(npoints = H5Sget_simple_extent_npoints(space), name);
    OTD_H5(cls = H5Tget_class(ftype), name);
    if (cls != H5T_STRING || npoints != 1)
        OTD_FAIL(OTD_ERR_FORMAT, "attribute '%s' is not a single string", name);
    OTD_H5(vlen = H5Tis_variable_str(ftype), name);
    OTD_H5(cset = H5Tget_cset(ftype), name);
    OTD_H5(mtype = H5Tcopy(H5T_C_S1), name);
    OTD_H5(H5Tset_cset(mtype, cset), name);
    if (vlen) {
        OTD_H5(H5Tset_size(mtype, H5T_VARIABLE), name);
        OTD_H5(H5Aread(attr, mtype, &vbuf), name);
        size = vbuf == NULL ? 0 : strlen(vbuf);
        OTD_ALLOC(copy, size + 1);
        if (size > 0)
            memcpy(copy, vbuf, size);
    } else {
        /* H5Tget_size signals failure by 0, not a negative value. */
        if ((size = H5Tget_size(ftype)) == 0) {
            err = otd_h5_raise("H5Tget_size(ftype)", name, __FILE__, __LINE__);
            goto done;
        }
        /* One extra byte: a NULLPAD/SPACEPAD string may fill its width. */
        OTD_ALLOC(copy, size + 1);
        OTD_H5(H5Tset_size(mtype, size), name);
        OTD_H5(H5Tset_strpad(mtype, H5T_STR_NULLPAD), name);
        OTD_H5(H5Aread(attr, mtype, copy), name);
    }
    *out = copy;
    copy = NULL;
done:
    if (vbuf != NULL)
        H5free_memory(vbuf);
    free(copy);
    otd_h5_close(&mtype, &err);
    otd_h5_close(&space, &err);
    otd_h5_close(&ftype, &err);
    otd_h5_close(&attr, &err);
    return err;
}

/* Shared by the scalar attribute readers: one value of class cls, converted
 * to mtype by HDF5 (which fails on overflow rather than wrapping). */
static otd_err attr_read_scalar(hid_t loc, const char *name, H5T_class_t want, hid_t mtype,
                                void *buf)
{
    otd_err err = OTD_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hssize_t npoints = -1;
    H5T_class_t cls = H5T_NO_CLASS;
    OTD_H5(attr = H5Aopen(loc, name, H5P_DEFAULT), name);
    OTD_H5(ftype = H5Aget_type(attr), name);
    OTD_H5(space = H5Aget_space(attr), name);
    OTD_H5(npoints = H5Sget_simple_extent_npoints(space), name);
    OTD_H5(cls = H5Tget_class(ftype), name);
    if (cls != want || npoints != 1)
        OTD_FAIL(OTD_ERR_FORMAT, "attribute '%s' is not a single %s", name,
                 want == H5T_INTEGER ? "integer" : "number");
    OTD_H5(H5Aread(attr, mtype, buf), name);
done:
    otd_h5_close(&space, &err);
    otd_h5_close(&ftype, &err);
    otd_h5_close(&attr, &err);
    return err;
}

otd_err otd_h5_attr_read_int64(hid_t loc, const char *name, int64_t *out)
{
    return attr_read_scalar(loc, name, H5T_INTEGER, H5T_NATIVE_INT64, out);
}

otd_err otd_h5_attr_read_double(hid_t loc, const char *name, double *out)
{
    return attr_read_scalar(loc, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, out);
}

otd_err otd_h5_to_row_major(const double *a, int64_t rows, int64_t cols, int64_t ld, double **out)
{
    otd_err err = OTD_OK;
    double *b = NULL;
    *out = NULL;
    if (rows > 0 && cols > INT64_MAX / rows)
        OTD_FAIL(OTD_ERR_NOMEM, "a %lld x %lld matrix is too large", (long long)rows,
                 (long long)cols);
    OTD_ALLOC(b, rows * cols);
    for (int64_t j = 0; j < rows; j++)
        for (int64_t i = 0; i < cols; i++)
            b[j * cols + i] = a[i * ld + j];
    *out = b;
done:
    return err;
}

void otd_h5_from_row_major(const double *b, int64_t rows, int64_t cols, int64_t ld, double *a)
{
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < rows; j++)
            a[i * ld + j] = b[j * cols + i];
}

/* Select the block start/count in fspace and create the matching memory
 * space. A rank with nothing to transfer selects none in both: HDF5 still
 * needs it inside a collective transfer, with a memory space of its own. */
static otd_err select_block(hid_t fspace, const char *name, int rank, const hsize_t *start,
                            const hsize_t *count, hid_t *mspace, int *empty)
{
    otd_err err = OTD_OK;
    hsize_t mine = 1, one = 1;
    for (int k = 0; k < rank; k++)
        mine *= count[k];
    *empty = mine == 0;
    if (!*empty) {
        OTD_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), name);
        OTD_H5(*mspace = H5Screate_simple(rank, count, NULL), name);
    } else {
        OTD_H5(H5Sselect_none(fspace), name);
        OTD_H5(*mspace = H5Screate_simple(1, &one, NULL), name);
        OTD_H5(H5Sselect_none(*mspace), name);
    }
done:
    return err;
}

/* A valid buffer for ranks that write nothing: HDF5 rejects NULL there. */
static const double no_data[1] = {0.0};

/* "(3, 4)": a shape for messages, truncated to cap bytes. */
static void shape_text(int rank, const hsize_t *dims, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "(");
    for (int k = 0; k < rank && n < cap; k++)
        n += (size_t)snprintf(out + n, cap - n, "%s%llu", k > 0 ? ", " : "",
                              (unsigned long long)dims[k]);
    if (n < cap)
        snprintf(out + n, cap - n, ")");
}

otd_err otd_h5_write_block(hid_t file, hid_t dxpl, const char *name, int rank, const hsize_t *dims,
                           const hsize_t *start, const hsize_t *count, const double *buf)
{
    otd_err err = OTD_OK;
    hid_t lcpl = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hid_t dset = H5I_INVALID_HID;
    hsize_t total = 1;
    int empty = 0;
    for (int k = 0; k < rank; k++)
        total *= dims[k];
    OTD_H5(lcpl = H5Pcreate(H5P_LINK_CREATE), name);
    OTD_H5(H5Pset_create_intermediate_group(lcpl, 1), name);
    OTD_H5(fspace = H5Screate_simple(rank, dims, NULL), name);
    OTD_H5(dset = H5Dcreate2(file, name, H5T_IEEE_F64LE, fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT),
           name);
    /* An empty dataset has nothing to write; every rank sees the same dims. */
    if (total == 0)
        goto done;
    OTD_CHECK(select_block(fspace, name, rank, start, count, &mspace, &empty));
    OTD_H5(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, empty ? no_data : buf), name);
done:
    otd_h5_close(&dset, &err);
    otd_h5_close(&mspace, &err);
    otd_h5_close(&fspace, &err);
    otd_h5_close(&lcpl, &err);
    return err;
}

otd_err otd_h5_read_block(hid_t file, hid_t dxpl, const char *name, int rank, const hsize_t *dims,
                          const hsize_t *start, const hsize_t *count, double *buf)
{
    otd_err err = OTD_OK;
    hid_t dset = H5I_INVALID_HID, ftype = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
    hid_t mspace = H5I_INVALID_HID;
    hsize_t have[H5S_MAX_RANK];
    int ndims = -1, same = 1, empty = 0;
    H5T_class_t cls = H5T_NO_CLASS;
    double none = 0.0; /* the target of an empty selection: HDF5 rejects NULL */
    OTD_H5(dset = H5Dopen2(file, name, H5P_DEFAULT), name);
    OTD_H5(ftype = H5Dget_type(dset), name);
    OTD_H5(cls = H5Tget_class(ftype), name);
    OTD_H5(fspace = H5Dget_space(dset), name);
    OTD_H5(ndims = H5Sget_simple_extent_ndims(fspace), name);
    if (ndims < 0 || ndims > H5S_MAX_RANK)
        OTD_FAIL(OTD_ERR_FORMAT, "dataset '%s' has %d dimensions", name, ndims);
    OTD_H5(H5Sget_simple_extent_dims(fspace, have, NULL), name);
    same = ndims == rank;
    for (int k = 0; same && k < rank; k++)
        same = have[k] == dims[k];
    if (cls != H5T_FLOAT || !same) {
        char want_s[96], have_s[96];
        shape_text(rank, dims, want_s, sizeof want_s);
        shape_text(ndims, have, have_s, sizeof have_s);
        OTD_FAIL(OTD_ERR_FORMAT, "dataset '%s' is %s of shape %s, expected floats of shape %s",
                 name, cls == H5T_FLOAT ? "floats" : "not floating point", have_s, want_s);
    }
    OTD_CHECK(select_block(fspace, name, rank, start, count, &mspace, &empty));
    OTD_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, empty ? &none : buf), name);
done:
    otd_h5_close(&mspace, &err);
    otd_h5_close(&fspace, &err);
    otd_h5_close(&ftype, &err);
    otd_h5_close(&dset, &err);
    return err;
}

otd_err otd_h5_open_mpio(const char *path, otd_comm *comm, otd_h5_mode mode, hid_t *file,
                         hid_t *dxpl)
{
    otd_err err = OTD_OK;
    hid_t fapl = H5I_INVALID_HID;
    OTD_H5(fapl = H5Pcreate(H5P_FILE_ACCESS), path);
    OTD_H5(H5Pset_fapl_mpio(fapl, otd_comm_raw(comm), MPI_INFO_NULL), path);
    OTD_H5(H5Pset_coll_metadata_write(fapl, 1), path);
    if (mode == OTD_H5_READ || mode == OTD_H5_RDWR) {
        *file = H5Fopen(path, mode == OTD_H5_READ ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl);
        if (*file < 0) {
            err = otd_h5_raise("H5Fopen", path, __FILE__, __LINE__);
            goto done;
        }
    } else {
        OTD_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST), path);
        /* EXCL even after rank 0's check: a file created in between is
         * still never overwritten. */
        *file = H5Fcreate(path, mode == OTD_H5_CREATE ? H5F_ACC_EXCL : H5F_ACC_TRUNC, H5P_DEFAULT,
                          fapl);
        if (*file < 0) {
            err = otd_h5_raise("H5Fcreate", path, __FILE__, __LINE__);
            goto done;
        }
    }
    if (dxpl != NULL) {
        OTD_H5(*dxpl = H5Pcreate(H5P_DATASET_XFER), path);
        OTD_H5(H5Pset_dxpl_mpio(*dxpl, H5FD_MPIO_COLLECTIVE), path);
    }
done:
    otd_h5_close(&fapl, &err);
    return err;
}

otd_err otd_h5_read_last(hid_t file, const char *path, double *out, int *found)
{
    otd_err err = OTD_OK;
    hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK], one = 1, last;
    htri_t there = -1;
    int rank = -1;
    *found = 0;
    /* H5Lexists fails, rather than says no, when a parent group is missing. */
    OTD_H5(there = H5Lexists(file, path, H5P_DEFAULT), path);
    if (!there)
        goto done;
    OTD_H5(dset = H5Dopen2(file, path, H5P_DEFAULT), path);
    OTD_H5(fspace = H5Dget_space(dset), path);
    OTD_H5(rank = H5Sget_simple_extent_dims(fspace, dims, NULL), path);
    if (rank != 1 || dims[0] == 0)
        goto done;
    last = dims[0] - 1;
    OTD_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &last, NULL, &one, NULL), path);
    OTD_H5(mspace = H5Screate_simple(1, &one, NULL), path);
    OTD_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, out), path);
    *found = 1;
done:
    otd_h5_close(&mspace, &err);
    otd_h5_close(&fspace, &err);
    otd_h5_close(&dset, &err);
    return err;
}

otd_err otd_h5_write_strings(hid_t loc, const char *name, int64_t n, const char *const *v)
{
    otd_err err = OTD_OK;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    hsize_t dims = (hsize_t)n;
    OTD_H5(type = H5Tcopy(H5T_C_S1), name);
    OTD_H5(H5Tset_size(type, H5T_VARIABLE), name);
    OTD_H5(H5Tset_cset(type, H5T_CSET_UTF8), name);
    OTD_H5(space = H5Screate_simple(1, &dims, NULL), name);
    OTD_H5(dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), name);
    if (n > 0)
        OTD_H5(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
done:
    otd_h5_close(&dset, &err);
    otd_h5_close(&space, &err);
    otd_h5_close(&type, &err);
    return err;
}

otd_err otd_h5_reserve(const char *path, int64_t bytes, int create, const char *what)
{
    otd_err err = OTD_OK;
    int fd = -1;
    struct stat st;
    struct statvfs vfs;
    if (bytes < 0)
        OTD_FAIL(OTD_ERR_ARG, "%s '%s': negative reservation (%lld bytes)", what, path,
                 (long long)bytes);
    fd = open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0666);
    if (fd < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot %s %s '%s': %s", create ? "create" : "open", what, path,
                 strerror(errno));
    if (fstat(fd, &st) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot write %s '%s': %s", what, path, strerror(errno));
#ifdef FALLOC_FL_KEEP_SIZE
    for (;;) {
        if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)(st.st_size + bytes)) == 0)
            goto done;
        if (errno == EINTR)
            continue;
        if (errno == EOPNOTSUPP || errno == ENOSYS)
            break;
        OTD_FAIL(OTD_ERR_IO, "cannot write %s '%s': reserving %lld bytes: %s", what, path,
                 (long long)bytes, strerror(errno));
    }
#endif
    /* A file system that cannot reserve (ext2, NFS before 4.2): at least
     * the free space must suffice, or HDF5 would find the disk full in the
     * middle of a collective write. Another writer may still take the space
     * first. */
    if (fstatvfs(fd, &vfs) == 0 && vfs.f_frsize > 0 &&
        (uint64_t)vfs.f_bavail < ((uint64_t)bytes + vfs.f_frsize - 1) / vfs.f_frsize)
        OTD_FAIL(OTD_ERR_IO, "cannot write %s '%s': %lld bytes needed, %llu free: %s", what, path,
                 (long long)bytes, (unsigned long long)vfs.f_bavail * vfs.f_frsize,
                 strerror(ENOSPC));
done:
    if (fd >= 0 && close(fd) != 0 && err == OTD_OK)
        err = OTD_ERROR(OTD_ERR_IO, "cannot close %s '%s': %s", what, path, strerror(errno));
    /* A file created here and not reserved is empty and ours (O_EXCL). */
    if (err != OTD_OK && create && fd >= 0)
        (void)unlink(path);
    return err;
}

otd_err otd_h5_reserve_all(otd_comm *comm, const char *path, int64_t bytes, int create,
                           const char *what)
{
    otd_err local = OTD_OK;
    if (otd_comm_rank(comm) == 0)
        local = otd_h5_reserve(path, bytes, create, what);
    return otd_comm_agree_share(comm, local);
}

otd_err otd_h5_release(const char *path, int sync, const char *what)
{
    otd_err err = OTD_OK;
    struct stat st;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    /* Truncating to its own size frees the blocks past the end of file. */
    if (fstat(fd, &st) != 0 || ftruncate(fd, st.st_size) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot write %s '%s': %s", what, path, strerror(errno));
    if (sync && fsync(fd) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot sync %s '%s': %s", what, path, strerror(errno));
done:
    if (fd >= 0 && close(fd) != 0 && err == OTD_OK)
        err = OTD_ERROR(OTD_ERR_IO, "cannot close %s '%s': %s", what, path, strerror(errno));
    return err;
}

void otd_h5_release_quiet(const char *path)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size) != 0) {
        /* Best effort: the failure that led here is the one reported. */
    }
    (void)close(fd);
}

otd_err otd_h5_agree_write(otd_comm *comm, otd_err local, const char *what, const char *path)
{
    struct statvfs vfs;
    /* HDF5 says "file write failed" without errno: a file system with no
     * room left is the likely reason, and worth naming. */
    if (local == OTD_ERR_HDF5 && statvfs(path, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)OTD_H5_META_BYTES)
        local = OTD_ERROR(OTD_ERR_IO, "cannot write %s '%s': %s; %s (%llu bytes free)", what, path,
                          otd_error_text(), strerror(ENOSPC),
                          (unsigned long long)vfs.f_bavail * vfs.f_frsize);
    else if (local == OTD_ERR_HDF5)
        local = OTD_ERROR(OTD_ERR_IO, "cannot write %s '%s': %s", what, path, otd_error_text());
    return otd_comm_agree_share(comm, local);
}

void otd_h5_abandon(const char *path)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd >= 0)
        (void)close(fd);
}
