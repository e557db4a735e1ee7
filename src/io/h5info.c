/* h5info.c: the contents of any HDF5 file as plain values (see
 * otd_h5info.h). */
#include "otd/otd_h5info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/h5util.h"
#include "otd/otd_runfile.h"

_Static_assert(OTD_INFO_MAX_RANK >= H5S_MAX_RANK, "otd_h5info_dataset.dims holds any HDF5 shape");

/* v, an array of n elements of size bytes, one element longer (the new one
 * zeroed); NULL when out of memory (v is then unchanged). Files list tens
 * of objects: growing one at a time costs nothing. */
static void *grow(void *v, int64_t n, size_t size)
{
    char *p = realloc(v, (size_t)(n + 1) * size);
    if (p != NULL)
        memset(p + (size_t)n * size, 0, size);
    return p;
}

static void attr_free(otd_h5info_attr *a)
{
    free(a->name);
    free(a->text);
    free(a->ints);
    free(a->reals);
}

static void attrs_free(otd_h5info_attrs *a)
{
    for (int64_t k = 0; k < a->n; k++)
        attr_free(&a->v[k]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Attribute `name` of loc into a zeroed *a: a single string as text,
 * integers and floats as numbers, anything else by its class. */
static otd_err read_attr(hid_t loc, const char *name, otd_h5info_attr *a)
{
    otd_err err = OTD_OK;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    H5T_class_t cls = H5T_NO_CLASS;
    hssize_t n = -1;
    if ((a->name = strdup(name)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    OTD_H5(attr = H5Aopen(loc, name, H5P_DEFAULT), name);
    OTD_H5(type = H5Aget_type(attr), name);
    OTD_H5(space = H5Aget_space(attr), name);
    OTD_H5(n = H5Sget_simple_extent_npoints(space), name);
    OTD_H5(cls = H5Tget_class(type), name);
    a->n = n;
    a->type_class = (int)cls;
    if (cls == H5T_STRING && n == 1) {
        a->kind = OTD_VALUE_STRING;
        OTD_CHECK(otd_h5_attr_read_string(loc, name, &a->text));
    } else if (cls == H5T_INTEGER && n > 0) {
        a->kind = OTD_VALUE_INT;
        OTD_ALLOC(a->ints, n);
        OTD_H5(H5Aread(attr, H5T_NATIVE_INT64, a->ints), name);
    } else if (cls == H5T_FLOAT && n > 0) {
        a->kind = OTD_VALUE_FLOAT;
        OTD_ALLOC(a->reals, n);
        OTD_H5(H5Aread(attr, H5T_NATIVE_DOUBLE, a->reals), name);
    } else {
        a->kind = OTD_VALUE_OTHER;
    }
done:
    otd_h5_close(&space, &err);
    otd_h5_close(&type, &err);
    otd_h5_close(&attr, &err);
    return err;
}

typedef struct {
    otd_err err; /* of the callback that stopped the walk */
    otd_h5info_attrs *attrs;
} attr_walk;

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    attr_walk *w = data;
    otd_h5info_attrs *a = w->attrs;
    otd_err err = OTD_OK;
    (void)info;
    otd_h5info_attr *v = grow(a->v, a->n, sizeof *a->v);
    if (v == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory listing attributes");
    a->v = v;
    a->n++; /* counted now: freed with the others whatever happens */
    OTD_CHECK(read_attr(loc, name, &a->v[a->n - 1]));
done:
    w->err = err;
    return err == OTD_OK ? 0 : -1;
}

/* Every attribute of loc (named `what` in messages), by name. */
static otd_err read_attrs(hid_t loc, const char *what, otd_h5info_attrs *a)
{
    attr_walk w = {OTD_OK, a};
    if (H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb, &w) < 0) {
        if (w.err != OTD_OK)
            return w.err; /* the callback's own message */
        return otd_h5_raise("H5Aiterate2", what, __FILE__, __LINE__);
    }
    return OTD_OK;
}

/* "float64", "int32", "string", ... for a dataset's stored type. */
static void type_name(hid_t type, char *buf, size_t cap)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    switch (cls) {
    case H5T_FLOAT:
        snprintf(buf, cap, "float%zu", 8 * size);
        break;
    case H5T_INTEGER:
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size);
        break;
    case H5T_STRING:
        snprintf(buf, cap, "string");
        break;
    case H5T_ENUM:
        /* summary.h5's booleans: h5py's FALSE/TRUE enum (otd_h5table.h). */
        snprintf(buf, cap, "%s", H5Tget_nmembers(type) == 2 ? "bool" : "enum");
        break;
    default:
        snprintf(buf, cap, "type class %d", (int)cls);
        break;
    }
}

static otd_err read_dataset(hid_t file, hid_t dset, const char *name, otd_h5info_dataset *d)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    H5T_class_t cls = H5T_NO_CLASS;
    int found = 0;
    if ((d->path = strdup(name)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    OTD_H5(space = H5Dget_space(dset), name);
    OTD_H5(type = H5Dget_type(dset), name);
    OTD_H5(d->rank = H5Sget_simple_extent_dims(space, dims, NULL), name);
    for (int k = 0; k < d->rank; k++)
        d->dims[k] = dims[k];
    type_name(type, d->type, sizeof d->type);
    OTD_H5(cls = H5Tget_class(type), name);
    if (d->rank == 1 && dims[0] > 0 && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        OTD_CHECK(otd_h5_read_last(file, name, &d->last, &found));
        d->has_last = found;
    }
done:
    otd_h5_close(&type, &err);
    otd_h5_close(&space, &err);
    return err;
}

typedef struct {
    otd_err err; /* of the callback that stopped the walk */
    hid_t file;
    otd_h5info *info;
} link_walk;

static herr_t link_cb(hid_t group, const char *name, const H5L_info_t *linfo, void *data)
{
    link_walk *w = data;
    otd_h5info *info = w->info;
    otd_err err = OTD_OK;
    hid_t obj = H5I_INVALID_HID;
    /* Soft and external links may dangle: list what is really there. */
    if (linfo->type != H5L_TYPE_HARD)
        return 0;
    OTD_H5(obj = H5Oopen(group, name, H5P_DEFAULT), name);
    if (H5Iget_type(obj) == H5I_DATASET) {
        otd_h5info_dataset *v = grow(info->dsets, info->ndsets, sizeof *info->dsets);
        if (v == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory listing datasets");
        info->dsets = v;
        info->ndsets++;
        OTD_CHECK(read_dataset(w->file, obj, name, &info->dsets[info->ndsets - 1]));
    } else if (H5Iget_type(obj) == H5I_GROUP) {
        otd_h5info_attrs a = {0};
        otd_h5info_group *g;
        err = read_attrs(obj, name, &a);
        if (err == OTD_OK && a.n > 0 &&
            (g = grow(info->groups, info->ngroups, sizeof *info->groups)) != NULL) {
            info->groups = g;
            g[info->ngroups].attrs = a;
            if ((g[info->ngroups++].path = strdup(name)) == NULL)
                err = OTD_ERROR(OTD_ERR_NOMEM, "out of memory listing groups");
            a = (otd_h5info_attrs){0};
        } else if (err == OTD_OK && a.n > 0) {
            err = OTD_ERROR(OTD_ERR_NOMEM, "out of memory listing groups");
        }
        attrs_free(&a);
        OTD_CHECK(err);
    }
done:
    otd_h5_close(&obj, &err);
    w->err = err;
    return err == OTD_OK ? 0 : -1;
}

/* An HDF5 file or a run directory's results.h5, to path. */
static otd_err resolve_path(const char *arg, char *path, size_t cap)
{
    struct stat st;
    htri_t is_h5 = -1;
    if (stat(arg, &st) != 0)
        return OTD_ERROR(OTD_ERR_ARG, "cannot open '%s': %s", arg, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if (snprintf(path, cap, "%s/results.h5", arg) >= (int)cap)
            return OTD_ERROR(OTD_ERR_ARG, "path too long: '%s'", arg);
        if (stat(path, &st) != 0)
            return OTD_ERROR(OTD_ERR_ARG, "cannot open '%s': a directory without results.h5", arg);
    } else if (snprintf(path, cap, "%s", arg) >= (int)cap) {
        return OTD_ERROR(OTD_ERR_ARG, "path too long: '%s'", arg);
    }
    if (access(path, R_OK) != 0)
        return OTD_ERROR(OTD_ERR_ARG, "cannot read '%s': %s", path, strerror(errno));
    is_h5 = H5Fis_hdf5(path);
    if (is_h5 == 0)
        return OTD_ERROR(OTD_ERR_FORMAT, "cannot open '%s': not an HDF5 file", path);
    if (is_h5 < 0)
        return otd_h5_raise("H5Fis_hdf5", path, __FILE__, __LINE__);
    return OTD_OK;
}

otd_err otd_h5info_read(const char *arg, otd_h5info *info)
{
    otd_err err = OTD_OK;
    hid_t file = H5I_INVALID_HID, group = H5I_INVALID_HID;
    htri_t there = -1;
    char path[4096];
    link_walk w = {OTD_OK, H5I_INVALID_HID, info};
    memset(info, 0, sizeof *info);
    OTD_CHECK(otd_h5_quiet());
    OTD_CHECK(resolve_path(arg, path, sizeof path));
    /* Damaged metadata can crash HDF5 itself: look in a process of its own
     * first, and say "damaged" rather than die. */
    OTD_CHECK(otd_runfile_probe(path));
    if ((info->path = strdup(path)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    /* HDF5 opens a truncated or damaged file only to fail: a bad input. */
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        otd_h5_raise("H5Fopen", path, __FILE__, __LINE__);
        OTD_FAIL(OTD_ERR_FORMAT, "cannot open '%s' as HDF5 (%s)", path, otd_error_text());
    }
    OTD_CHECK(read_attrs(file, "/", &info->root));
    w.file = file;
    if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, link_cb, &w) < 0) {
        err = w.err != OTD_OK ? w.err : otd_h5_raise("H5Lvisit", "/", __FILE__, __LINE__);
        goto done;
    }
    OTD_H5(there = H5Lexists(file, "/summary", H5P_DEFAULT), "/summary");
    if (there) {
        info->has_summary = 1;
        OTD_H5(group = H5Gopen2(file, "/summary", H5P_DEFAULT), "/summary");
        OTD_CHECK(read_attrs(group, "/summary", &info->summary));
    }
    OTD_H5(there = H5Lexists(file, "/provenance", H5P_DEFAULT), "/provenance");
    if (there) {
        info->has_provenance = 1;
        otd_h5_close(&group, &err);
        OTD_H5(group = H5Gopen2(file, "/provenance", H5P_DEFAULT), "/provenance");
        OTD_CHECK(read_attrs(group, "/provenance", &info->provenance));
    }
    OTD_H5(there = H5Lexists(file, "/history", H5P_DEFAULT), "/history");
    info->has_history = there > 0;
done:
    otd_h5_close(&group, &err);
    otd_h5_close(&file, &err);
    return err;
}

void otd_h5info_free(otd_h5info *info)
{
    attrs_free(&info->root);
    attrs_free(&info->summary);
    attrs_free(&info->provenance);
    for (int64_t k = 0; k < info->ngroups; k++) {
        attrs_free(&info->groups[k].attrs);
        free(info->groups[k].path);
    }
    free(info->groups);
    for (int64_t k = 0; k < info->ndsets; k++)
        free(info->dsets[k].path);
    free(info->dsets);
    free(info->path);
    memset(info, 0, sizeof *info);
}

const otd_h5info_attr *otd_h5info_attr_find(const otd_h5info_attrs *a, const char *name)
{
    for (int64_t k = 0; k < a->n; k++)
        if (strcmp(a->v[k].name, name) == 0)
            return &a->v[k];
    return NULL;
}

const otd_h5info_dataset *otd_h5info_dataset_find(const otd_h5info *info, const char *path)
{
    for (int64_t k = 0; k < info->ndsets; k++)
        if (strcmp(info->dsets[k].path, path) == 0)
            return &info->dsets[k];
    return NULL;
}

const otd_h5info_group *otd_h5info_group_find(const otd_h5info *info, const char *path)
{
    for (int64_t k = 0; k < info->ngroups; k++)
        if (strcmp(info->groups[k].path, path) == 0)
            return &info->groups[k];
    return NULL;
}
