/* cmd_info.c: `otd info FILE.h5`, a human summary of any otd HDF5 file.
 *
 * It reads with HDF5's default (serial) driver, so it needs no MPI collective
 * and works on a results file, a checkpoint or an input tensor alike: what it
 * does not recognise it still lists generically (attributes, datasets). */
#include <errno.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli_common.h"
#include <sys/stat.h>

#include "cli/commands.h"
#include "io/h5util.h"

/* Root attributes shown first, in this order; the rest follow by name. */
static const char *const known_root[] = {"config", "otd_version", "nranks", "blas", "config_hash"};
#define NKNOWN_ROOT (sizeof known_root / sizeof *known_root)

/* History columns whose last value is shown, when present. */
static const char *const last_row_cols[] = {"iter", "loss", "rel_err", "grad_norm", "n_large"};
#define NLAST_ROW (sizeof last_row_cols / sizeof *last_row_cols)

/* Numeric arrays longer than this are shown by their first values only. */
#define SHOW_VALUES 8

static void usage(FILE *out)
{
    fprintf(out, "usage: otd info FILE.h5\n"
                 "       otd info RUN_DIR      (reads RUN_DIR/results.h5)\n"
                 "\n"
                 "Summarize an otd HDF5 file (results, checkpoint, tensor): the root attributes\n"
                 "(configuration, version, ranks, BLAS, config hash), every dataset with its\n"
                 "shape, the /summary attributes, and the number of /history rows with the\n"
                 "last row's iter, loss, rel_err, grad_norm and n_large.\n"
                 "Exit status: 0 ok, 1 the file cannot be read, 2 usage error.\n");
}

/* Print a multi-line string with every line indented. */
static void print_block(const char *text, const char *indent)
{
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        printf("%s%.*s\n", indent, (int)n, p);
        p += n + (nl != NULL ? 1 : 0);
    }
}

static void print_doubles(const double *v, hssize_t n)
{
    if (n == 1) {
        printf("%.10g\n", v[0]);
        return;
    }
    printf("[");
    for (hssize_t k = 0; k < n && k < SHOW_VALUES; k++)
        printf("%s%.10g", k > 0 ? ", " : "", v[k]);
    printf(n > SHOW_VALUES ? ", ...] (%lld values)\n" : "]\n", (long long)n);
}

static void print_ints(const int64_t *v, hssize_t n)
{
    if (n == 1) {
        printf("%lld\n", (long long)v[0]);
        return;
    }
    printf("[");
    for (hssize_t k = 0; k < n && k < SHOW_VALUES; k++)
        printf("%s%lld", k > 0 ? ", " : "", (long long)v[k]);
    printf(n > SHOW_VALUES ? ", ...] (%lld values)\n" : "]\n", (long long)n);
}

/* Print attribute `name` of loc as "indent name: value"; strings with
 * newlines (the YAML config) as an indented block below the name. */
static otd_err print_attr(hid_t loc, const char *name, const char *indent)
{
    otd_err err = OTD_OK;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    H5T_class_t cls = H5T_NO_CLASS;
    hssize_t n = -1;
    char *s = NULL;
    double *dv = NULL;
    int64_t *iv = NULL;
    OTD_H5(attr = H5Aopen(loc, name, H5P_DEFAULT), name);
    OTD_H5(type = H5Aget_type(attr), name);
    OTD_H5(space = H5Aget_space(attr), name);
    OTD_H5(n = H5Sget_simple_extent_npoints(space), name);
    OTD_H5(cls = H5Tget_class(type), name);
    if (cls == H5T_STRING && n == 1) {
        OTD_CHECK(otd_h5_attr_read_string(loc, name, &s));
        if (strchr(s, '\n') != NULL) {
            char deeper[64];
            snprintf(deeper, sizeof deeper, "%s    ", indent);
            printf("%s%s:\n", indent, name);
            print_block(s, deeper);
        } else {
            printf("%s%-14s %s\n", indent, name, s);
        }
        goto done;
    }
    printf("%s%-14s", indent, name);
    if (cls == H5T_INTEGER && n > 0) {
        OTD_ALLOC(iv, n);
        OTD_H5(H5Aread(attr, H5T_NATIVE_INT64, iv), name);
        printf(" ");
        print_ints(iv, n);
    } else if (cls == H5T_FLOAT && n > 0) {
        OTD_ALLOC(dv, n);
        OTD_H5(H5Aread(attr, H5T_NATIVE_DOUBLE, dv), name);
        printf(" ");
        print_doubles(dv, n);
    } else {
        printf(" (%lld values of HDF5 type class %d)\n", (long long)n, (int)cls);
    }
done:
    free(s);
    free(dv);
    free(iv);
    otd_h5_close(&space, &err);
    otd_h5_close(&type, &err);
    otd_h5_close(&attr, &err);
    return err;
}

typedef struct {
    otd_err err;
    const char *indent;
    int skip_known; /* skip the known root attributes, already printed */
} attr_walk;

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    attr_walk *w = data;
    (void)info;
    if (w->skip_known)
        for (size_t k = 0; k < NKNOWN_ROOT; k++)
            if (strcmp(name, known_root[k]) == 0)
                return 0;
    w->err = print_attr(loc, name, w->indent);
    return w->err == OTD_OK ? 0 : -1;
}

/* Every attribute of loc, by name. */
static otd_err print_attrs(hid_t loc, const char *what, const char *indent, int skip_known)
{
    otd_err err = OTD_OK;
    attr_walk w = {OTD_OK, indent, skip_known};
    if (H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb, &w) < 0) {
        if (w.err != OTD_OK)
            return w.err;
        err = otd_h5_raise("H5Aiterate2", what, __FILE__, __LINE__);
    }
    return err;
}

static otd_err print_root_attrs(hid_t file)
{
    otd_err err = OTD_OK;
    for (size_t k = 0; k < NKNOWN_ROOT; k++) {
        htri_t there = -1;
        OTD_H5(there = H5Aexists(file, known_root[k]), known_root[k]);
        if (there)
            OTD_CHECK(print_attr(file, known_root[k], "  "));
    }
    OTD_CHECK(print_attrs(file, "/", "  ", 1));
done:
    return err;
}

/* "float64", "int32", "string", ... for a dataset's stored type. */
static const char *type_name(hid_t type, char *buf, size_t cap)
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
    default:
        snprintf(buf, cap, "type class %d", (int)cls);
        break;
    }
    return buf;
}

/* "(7, 3)" for a simple dataspace, "()" for a scalar. */
static otd_err shape_string(hid_t space, const char *name, char *buf, size_t cap)
{
    otd_err err = OTD_OK;
    hsize_t dims[H5S_MAX_RANK];
    int rank = -1;
    size_t len = 0;
    OTD_H5(rank = H5Sget_simple_extent_dims(space, dims, NULL), name);
    len += (size_t)snprintf(buf, cap, "(");
    for (int k = 0; k < rank && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu", k > 0 ? ", " : "",
                                (unsigned long long)dims[k]);
    if (len < cap)
        snprintf(buf + len, cap - len, rank == 1 ? ",)" : ")");
done:
    return err;
}

static otd_err print_dataset(hid_t dset, const char *name)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    char shape[256], tname[64];
    OTD_H5(space = H5Dget_space(dset), name);
    OTD_H5(type = H5Dget_type(dset), name);
    OTD_CHECK(shape_string(space, name, shape, sizeof shape));
    printf("  /%-30s %-16s %s\n", name, shape, type_name(type, tname, sizeof tname));
done:
    otd_h5_close(&type, &err);
    otd_h5_close(&space, &err);
    return err;
}

static herr_t link_cb(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    otd_err *perr = data;
    otd_err err = OTD_OK;
    hid_t obj = H5I_INVALID_HID;
    /* Soft and external links may dangle: list what is really there. */
    if (info->type != H5L_TYPE_HARD)
        return 0;
    OTD_H5(obj = H5Oopen(group, name, H5P_DEFAULT), name);
    if (H5Iget_type(obj) == H5I_DATASET)
        OTD_CHECK(print_dataset(obj, name));
done:
    otd_h5_close(&obj, &err);
    *perr = err;
    return err == OTD_OK ? 0 : -1;
}

static otd_err print_datasets(hid_t file)
{
    otd_err err = OTD_OK, cb_err = OTD_OK;
    printf("datasets:\n");
    if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, link_cb, &cb_err) < 0) {
        if (cb_err != OTD_OK)
            return cb_err;
        err = otd_h5_raise("H5Lvisit", "/", __FILE__, __LINE__);
    }
    return err;
}

/* Rows of a history dataset (its first dimension). */
static otd_err dataset_rows(hid_t dset, const char *name, hsize_t *rows)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    int rank = -1;
    *rows = 0;
    OTD_H5(space = H5Dget_space(dset), name);
    OTD_H5(rank = H5Sget_simple_extent_dims(space, dims, NULL), name);
    if (rank < 1)
        OTD_FAIL(OTD_ERR_FORMAT, "history column '%s' is not an array", name);
    *rows = dims[0];
done:
    otd_h5_close(&space, &err);
    return err;
}

/* Element `row` of a 1-D history column, as a double. */
static otd_err read_element(hid_t dset, const char *name, hsize_t row, double *out)
{
    otd_err err = OTD_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t one = 1;
    OTD_H5(fspace = H5Dget_space(dset), name);
    OTD_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &row, NULL, &one, NULL), name);
    OTD_H5(mspace = H5Screate_simple(1, &one, NULL), name);
    OTD_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, out), name);
done:
    otd_h5_close(&mspace, &err);
    otd_h5_close(&fspace, &err);
    return err;
}

/* "history: N rows" and the last row's main columns. The row count is that
 * of the first known column present (all columns have the same length). */
static otd_err print_history(hid_t file)
{
    otd_err err = OTD_OK;
    hid_t dset = H5I_INVALID_HID;
    hsize_t rows = 0;
    int have_rows = 0;
    char path[64];
    printf("history:");
    for (size_t k = 0; k < NLAST_ROW; k++) {
        htri_t there = -1;
        double v = 0.0;
        snprintf(path, sizeof path, "/history/%s", last_row_cols[k]);
        OTD_H5(there = H5Lexists(file, path, H5P_DEFAULT), path);
        if (!there)
            continue;
        OTD_H5(dset = H5Dopen2(file, path, H5P_DEFAULT), path);
        if (!have_rows) {
            OTD_CHECK(dataset_rows(dset, path, &rows));
            have_rows = 1;
            printf(" %llu rows%s", (unsigned long long)rows, rows > 0 ? "; last:" : "");
        }
        if (rows > 0) {
            OTD_CHECK(read_element(dset, path, rows - 1, &v));
            printf(" %s=%.8g", last_row_cols[k], v);
        }
        otd_h5_close(&dset, &err);
        if (err != OTD_OK)
            goto done;
    }
    printf("%s\n", have_rows ? "" : " (no iter/loss/rel_err columns)");
done:
    otd_h5_close(&dset, &err);
    return err;
}

/* `otd info` accepts a run directory for its results.h5; anything else
 * must be an existing HDF5 file. */
static otd_err resolve_path(const char *arg, char *path, size_t cap)
{
    struct stat st;
    htri_t is_h5 = -1;
    if (stat(arg, &st) != 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot open '%s': %s", arg, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        snprintf(path, cap, "%s/results.h5", arg);
        if (stat(path, &st) != 0)
            return OTD_ERROR(OTD_ERR_IO, "cannot open '%s': a directory without results.h5", arg);
    } else {
        snprintf(path, cap, "%s", arg);
    }
    is_h5 = H5Fis_hdf5(path);
    if (is_h5 == 0)
        return OTD_ERROR(OTD_ERR_FORMAT, "cannot open '%s': not an HDF5 file", path);
    if (is_h5 < 0)
        return otd_h5_raise("H5Fis_hdf5", path, __FILE__, __LINE__);
    return OTD_OK;
}

static otd_err info_file(const char *arg)
{
    otd_err err = OTD_OK;
    hid_t file = H5I_INVALID_HID, group = H5I_INVALID_HID;
    htri_t there = -1;
    char path[4096];
    OTD_CHECK(otd_h5_quiet());
    OTD_CHECK(resolve_path(arg, path, sizeof path));
    OTD_H5(file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), path);
    printf("file: %s\n", path);
    OTD_CHECK(print_root_attrs(file));
    OTD_CHECK(print_datasets(file));
    OTD_H5(there = H5Lexists(file, "/summary", H5P_DEFAULT), "/summary");
    if (there) {
        printf("summary:\n");
        OTD_H5(group = H5Gopen2(file, "/summary", H5P_DEFAULT), "/summary");
        OTD_CHECK(print_attrs(group, "/summary", "  ", 0));
    }
    OTD_H5(there = H5Lexists(file, "/history", H5P_DEFAULT), "/history");
    if (there)
        OTD_CHECK(print_history(file));
done:
    otd_h5_close(&group, &err);
    otd_h5_close(&file, &err);
    return err;
}

int otd_cmd_info(int argc, char **argv)
{
    const char *file = NULL;
    otd_err err = OTD_OK;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            usage(stdout);
            return OTD_EXIT_OK;
        }
        if (argv[k][0] == '-' && argv[k][1] != '\0')
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd info --help)", argv[k]);
        if (file != NULL)
            OTD_FAIL(OTD_ERR_ARG, "one file at a time ('%s' and '%s' given)", file, argv[k]);
        file = argv[k];
    }
    if (file == NULL)
        OTD_FAIL(OTD_ERR_ARG, "no file given (see otd info --help)");
    OTD_CHECK(info_file(file));
done:
    return otd_cli_finish(NULL, "info", err);
}
