/* results.c: results.h5 written collectively with parallel HDF5 (see
 * otd_results.h for the layout).
 *
 * Every collective function follows one pattern so that a failure on one rank
 * cannot leave the others waiting inside HDF5: first the local work that can
 * fail differently on different ranks (argument checks, allocation, the file
 * system check), then otd_comm_agree; then each write in the steps of
 * h5util.h: rank 0 reserves the blocks it will take (a full disk fails there,
 * before HDF5 writes anything, so the file stays as the last flush left it
 * and a resumed run can reopen it), the collective HDF5 calls, and an
 * agreement before the next collective call, so that all ranks leave every
 * step with the same verdict. The file is closed on every path by every
 * rank together. */
#include "otd/otd_results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm/comm_mpi.h"
#include "io/h5util.h"
#include "io/prov_h5.h"
#include "otd/otd_fileio.h"

/* History datasets grow by at most this many rows per chunk: a flush every
 * few hundred rows touches one or two chunks, and a long run of 1e6 logged
 * rows stays at ~1000 chunks per column. */
#define HIST_CHUNK_ROWS 1024
/* ...and a vector-column chunk stays below ~1 MiB whatever the width. */
#define HIST_CHUNK_BYTES (1 << 20)

/* Names the file in messages: "cannot write results file '...': ...". */
#define WHAT "results file"

struct otd_results {
    otd_comm *comm;
    char *path;
    hid_t file;
    hid_t dxpl; /* collective transfers */
    /* History: defined once, then rows are buffered and written at flush. */
    int hist_defined;
    int nscalar, nvec;
    int64_t width;
    int ncol;      /* nscalar + nvec datasets */
    char **names;  /* [ncol] column names */
    hid_t *dsets;  /* [ncol] open /history datasets */
    int64_t nfile; /* rows of this run in the file */
    /* Rows in the datasets' extent: more than nfile after a resume, until
     * the resumed run has overwritten the stale rows or closes the file.
     * Writing into rows freed by shrinking an extent lost data in parallel
     * HDF5 1.10 (rows read back as 0), so extents only grow while the file
     * is open, and are cut to nfile once, at close. */
    int64_t extent;
    int64_t nbuf; /* rows buffered in `rows` */
    int64_t cap;  /* capacity of `rows`, in rows */
    double *rows; /* nbuf rows of stride() values each */
};

/* The fixed datasets of the layout (otd_results.h) and what they hold: a
 * reader of the file learns it from the file itself. */
static const otd_results_column fixed_datasets[] = {
    {"/init/W", "W0, the initial factor matrix: W0[j, i] is coordinate j of component w_i", NULL},
    {"/final/W", "the final factor matrix: W[j, i] is coordinate j of component w_i", NULL},
    {"/target/U", "target components: U[j, k] is coordinate j of u_k", NULL},
    {"/target/a", "target weights a_k of T* = sum_k a_k u_k^l, after normalization", NULL},
};

static const otd_results_column *fixed_dataset(const char *name)
{
    for (size_t k = 0; k < sizeof fixed_datasets / sizeof *fixed_datasets; k++)
        if (strcmp(fixed_datasets[k].name, name) == 0)
            return &fixed_datasets[k];
    return NULL;
}

/* Collective: the description and unit attributes of dataset name (an
 * object path relative to loc). */
static otd_err describe(hid_t loc, const char *name, const otd_results_column *doc)
{
    otd_err err = OTD_OK;
    hid_t d = H5I_INVALID_HID;
    OTD_H5(d = H5Dopen2(loc, name, H5P_DEFAULT), name);
    OTD_CHECK(otd_h5_attr_string(d, "description", doc->description));
    if (doc->unit != NULL)
        OTD_CHECK(otd_h5_attr_string(d, "unit", doc->unit));
done:
    otd_h5_close(&d, &err);
    return err;
}

/* Bytes the attributes of describe() may take. */
#define DESCRIBE_BYTES 2048

/* A valid buffer for ranks that select nothing: HDF5 rejects NULL there. */
static const double no_data[1] = {0.0};

static int64_t stride(const otd_results *res)
{
    return res->nscalar + res->nvec * res->width;
}

/* Rows of one chunk of a history column of `width` values per row (0: a
 * scalar column). */
static int64_t chunk_rows(int64_t width)
{
    int64_t r = HIST_CHUNK_BYTES / (8 * (width > 0 ? width : 1));
    if (width == 0)
        return HIST_CHUNK_ROWS;
    return r < 1 ? 1 : r > HIST_CHUNK_ROWS ? HIST_CHUNK_ROWS : r;
}

/* Collective: the first step of every write: rank 0 makes room for `bytes`
 * more bytes of the file, and every rank learns whether there was. */
static otd_err reserve(otd_results *res, int64_t bytes)
{
    return otd_h5_reserve_all(res->comm, res->path, bytes + OTD_H5_META_BYTES, 0, WHAT);
}

/* Collective: the last step of every write (see h5util.h). */
static otd_err agreed(otd_results *res, otd_err local)
{
    return otd_h5_agree_write(res->comm, local, WHAT, res->path);
}

/* Collective: the last step of every write: everything written out
 * (agreed), so that the file on disk is whole between writes and the next
 * reservation counts from its end; then what the reservation did not use
 * goes back, so that the file holds no more space than it needs while the
 * run writes its checkpoints next to it. */
static otd_err finish_write(otd_results *res)
{
    otd_err err = OTD_OK;
    if (H5Fflush(res->file, H5F_SCOPE_GLOBAL) < 0)
        err = otd_h5_raise("H5Fflush", res->path, __FILE__, __LINE__);
    OTD_CHECK(agreed(res, err));
    if (otd_comm_rank(res->comm) == 0)
        err = otd_h5_release(res->path, 0, WHAT);
    OTD_CHECK(otd_comm_agree_share(res->comm, err));
done:
    return err;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Close every HDF5 id and free the handle, recording the first failure in
 * *err. Collective when the file is open (H5Fclose). Does not flush. */
static void results_free(otd_results *res, otd_err *err)
{
    if (res == NULL)
        return;
    for (int k = 0; res->dsets != NULL && k < res->ncol; k++)
        otd_h5_close(&res->dsets[k], err);
    otd_h5_close(&res->dxpl, err);
    otd_h5_close(&res->file, err);
    for (int k = 0; res->names != NULL && k < res->ncol; k++)
        free(res->names[k]);
    free(res->names);
    free(res->dsets);
    free(res->rows);
    free(res->path);
    free(res);
}

/* Local part of create: argument checks and the handle. */
static otd_err create_prepare(const char *path, otd_comm *comm, const otd_attr *attrs, int nattrs,
                              otd_results **out)
{
    otd_err err = OTD_OK;
    otd_results *res = NULL;
    *out = NULL;
    OTD_CHECK(otd_h5_quiet());
    if (path == NULL || path[0] == '\0')
        OTD_FAIL(OTD_ERR_ARG, "results file name is empty");
    if (nattrs < 0 || (nattrs > 0 && attrs == NULL))
        OTD_FAIL(OTD_ERR_ARG, "results attributes: bad list (%d entries)", nattrs);
    for (int k = 0; k < nattrs; k++)
        if (attrs[k].name == NULL || attrs[k].name[0] == '\0' || attrs[k].value == NULL)
            OTD_FAIL(OTD_ERR_ARG, "results attribute %d has no name or no value", k);
    OTD_ALLOC(res, 1);
    res->comm = comm;
    res->file = H5I_INVALID_HID;
    res->dxpl = H5I_INVALID_HID;
    if ((res->path = dup_string(path)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory copying the results path");
    *out = res;
    res = NULL;
done:
    results_free(res, &err);
    return err;
}

/* Bytes the root attributes take: strings live in the global heap. */
static int64_t attrs_bytes(const otd_attr *attrs, int nattrs)
{
    int64_t n = 0;
    for (int k = 0; k < nattrs; k++)
        n += 2 * (int64_t)(strlen(attrs[k].name) + strlen(attrs[k].value)) + 256;
    return n;
}

/* Rank 0: refuse an existing path with a clear message, then create the
 * file, empty, exclusively, with its first blocks reserved. */
static otd_err create_empty(const char *path, int64_t bytes)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_check_new_path(path, WHAT));
    OTD_CHECK(otd_h5_reserve(path, bytes, 1, WHAT));
done:
    return err;
}

/* Collective: the root attributes. */
static otd_err write_attrs(otd_results *res, const otd_attr *attrs, int nattrs)
{
    otd_err err = OTD_OK;
    hid_t root = H5I_INVALID_HID;
    int have_version = 0;
    OTD_H5(root = H5Gopen2(res->file, "/", H5P_DEFAULT), res->path);
    for (int k = 0; k < nattrs; k++) {
        /* nranks is stored as an integer (below), which is what readers
         * compute with; a string of the same name would collide with it. */
        if (strcmp(attrs[k].name, "nranks") == 0)
            continue;
        if (strcmp(attrs[k].name, "otd_version") == 0)
            have_version = 1;
        OTD_CHECK(otd_h5_attr_string(root, attrs[k].name, attrs[k].value));
    }
    OTD_CHECK(otd_h5_attr_int64(root, "nranks", otd_comm_size(res->comm)));
#ifdef OTD_VERSION_STRING
    /* Provenance even when the caller forgot it. */
    if (!have_version)
        OTD_CHECK(otd_h5_attr_string(root, "otd_version", OTD_VERSION_STRING));
#else
    (void)have_version;
#endif
done:
    otd_h5_close(&root, &err);
    return err;
}

otd_err otd_results_create(const char *path, otd_comm *comm, const otd_attr *attrs, int nattrs,
                           otd_results **out)
{
    otd_err err = OTD_OK;
    otd_results *res = NULL;
    int root = otd_comm_rank(comm) == 0, created = 0;
    int64_t bytes = 0;
    *out = NULL;
    err = create_prepare(path, comm, attrs, nattrs, &res);
    OTD_CHECK(otd_comm_agree(comm, err));
    bytes = attrs_bytes(attrs, nattrs);
    /* Rank 0 checks the path and creates the file; every rank returns its
     * verdict (rank 0's message names the path). */
    OTD_CHECK(otd_comm_agree_share(comm, root ? create_empty(res->path, bytes + OTD_H5_META_BYTES)
                                              : OTD_OK));
    created = 1;
    /* TRUNC: over the empty file rank 0 has just created. */
    err = otd_h5_open_mpio(res->path, comm, OTD_H5_CREATE_TR, &res->file, &res->dxpl);
    OTD_CHECK(agreed(res, err));
    /* Again, in case HDF5 truncated the reservation with the file. */
    OTD_CHECK(reserve(res, bytes));
    OTD_CHECK(agreed(res, write_attrs(res, attrs, nattrs)));
    /* From here on the file on disk is a complete results file. */
    OTD_CHECK(finish_write(res));
    *out = res;
    res = NULL;
done:
    /* On failure all ranks arrive here together, after an agreement, so the
     * collective close is safe. A file that could not be created whole is
     * not left behind to pass for a run's results. */
    if (err != OTD_OK && created)
        otd_results_discard(res);
    else
        results_free(res, &err);
    return err;
}

static otd_err check_name(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return OTD_ERROR(OTD_ERR_ARG, "results dataset name is empty");
    /* Only datasets of the layout: each is described in the file. */
    if (fixed_dataset(name) == NULL)
        return OTD_ERROR(OTD_ERR_ARG, "results dataset '%s' is not one of the layout", name);
    return OTD_OK;
}

static otd_err rows_prepare(otd_results *res, const char *name, const otd_layout *lay,
                            const double *local, int64_t ncols, double **buf)
{
    otd_err err = OTD_OK;
    *buf = NULL;
    OTD_CHECK(check_name(name));
    if (ncols < 0 || lay->nrows < 0 || lay->row0 < 0 || lay->row0 + lay->nrows > lay->d ||
        lay->nranks != otd_comm_size(res->comm))
        OTD_FAIL(OTD_ERR_ARG,
                 "%s: bad layout (d = %lld, rows [%lld, +%lld), %d ranks for a %d-rank job, "
                 "%lld columns)",
                 name, (long long)lay->d, (long long)lay->row0, (long long)lay->nrows, lay->nranks,
                 otd_comm_size(res->comm), (long long)ncols);
    if (lay->nrows > 0 && ncols > 0 && local == NULL)
        OTD_FAIL(OTD_ERR_ARG, "%s: no data", name);
    OTD_CHECK(otd_h5_to_row_major(local, lay->nrows, ncols, lay->nrows, buf));
done:
    return err;
}

otd_err otd_results_write_rows(otd_results *res, const char *name, const otd_layout *lay,
                               const double *local, int64_t ncols)
{
    otd_err err = OTD_OK;
    double *buf = NULL;
    hsize_t dims[2], start[2], count[2];
    err = rows_prepare(res, name, lay, local, ncols, &buf);
    OTD_CHECK(otd_comm_agree(res->comm, err));
    OTD_CHECK(reserve(res, lay->d * ncols * (int64_t)sizeof(double) + DESCRIBE_BYTES));
    dims[0] = (hsize_t)lay->d;
    dims[1] = (hsize_t)ncols;
    start[0] = (hsize_t)lay->row0;
    start[1] = 0;
    count[0] = (hsize_t)lay->nrows;
    count[1] = (hsize_t)ncols;
    err = otd_h5_write_block(res->file, res->dxpl, name, 2, dims, start, count, buf);
    if (err == OTD_OK)
        err = describe(res->file, name, fixed_dataset(name));
    OTD_CHECK(agreed(res, err));
    OTD_CHECK(finish_write(res));
done:
    free(buf);
    return err;
}

otd_err otd_results_write_replicated(otd_results *res, const char *name, const double *data,
                                     int64_t rows, int64_t cols)
{
    otd_err err = OTD_OK;
    double *buf = NULL;
    int rank = cols == 0 ? 1 : 2, root = otd_comm_rank(res->comm) == 0;
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols}, start[2] = {0, 0}, count[2] = {0, 0};
    err = check_name(name);
    if (err == OTD_OK && (rows < 0 || cols < 0 || (rows > 0 && data == NULL)))
        err = OTD_ERROR(OTD_ERR_ARG, "%s: bad array (%lld x %lld)", name, (long long)rows,
                        (long long)cols);
    /* Only rank 0 writes, so only rank 0 needs the C-order copy. */
    if (err == OTD_OK && root)
        err = otd_h5_to_row_major(data, rows, cols == 0 ? 1 : cols, rows, &buf);
    OTD_CHECK(otd_comm_agree(res->comm, err));
    OTD_CHECK(
        reserve(res, rows * (cols == 0 ? 1 : cols) * (int64_t)sizeof(double) + DESCRIBE_BYTES));
    if (root) {
        count[0] = dims[0];
        count[1] = dims[1];
    }
    err = otd_h5_write_block(res->file, res->dxpl, name, rank, dims, start, count, buf);
    if (err == OTD_OK)
        err = describe(res->file, name, fixed_dataset(name));
    OTD_CHECK(agreed(res, err));
    OTD_CHECK(finish_write(res));
done:
    free(buf);
    return err;
}

/* Local part of history_define: check names, allocate the column tables. */
static otd_err define_prepare(otd_results *res, const otd_results_column *scalars, int nscalar,
                              const otd_results_column *vecs, int nvec, int64_t width)
{
    otd_err err = OTD_OK;
    int ncol = 0;
    if (res->hist_defined)
        OTD_FAIL(OTD_ERR_ARG, "results history of '%s' is already defined", res->path);
    if (nscalar < 0 || nvec < 0 || nscalar + nvec == 0 || (nvec > 0 && width < 1) ||
        (nscalar > 0 && scalars == NULL) || (nvec > 0 && vecs == NULL))
        OTD_FAIL(OTD_ERR_ARG, "results history: bad columns (%d scalar, %d vector of width %lld)",
                 nscalar, nvec, (long long)width);
    ncol = nscalar + nvec;
    OTD_ALLOC(res->names, ncol);
    OTD_ALLOC(res->dsets, ncol);
    res->ncol = ncol;
    for (int k = 0; k < ncol; k++)
        res->dsets[k] = H5I_INVALID_HID;
    for (int k = 0; k < ncol; k++) {
        const otd_results_column *col = k < nscalar ? &scalars[k] : &vecs[k - nscalar];
        const char *n = col->name;
        /* A slash would silently nest groups; a duplicate would collide. */
        if (n == NULL || n[0] == '\0' || strchr(n, '/') != NULL)
            OTD_FAIL(OTD_ERR_ARG, "results history: bad column name '%s'",
                     n == NULL ? "(null)" : n);
        if (col->description == NULL || col->description[0] == '\0')
            OTD_FAIL(OTD_ERR_ARG, "results history: column '%s' has no description", n);
        for (int q = 0; q < k; q++)
            if (strcmp(res->names[q], n) == 0)
                OTD_FAIL(OTD_ERR_ARG, "results history: column '%s' given twice", n);
        if ((res->names[k] = dup_string(n)) == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory copying history column names");
    }
    res->nscalar = nscalar;
    res->nvec = nvec;
    res->width = nvec > 0 ? width : 0;
done:
    return err;
}

/* One extendible history dataset: (0,) of max (inf,) or (0, w) of max
 * (inf, w), chunked so that extending never rewrites old rows. Collective. */
static otd_err define_column(hid_t group, const char *name, int64_t width, hid_t *out)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    int rank = width > 0 ? 2 : 1;
    hsize_t dims[2] = {0, (hsize_t)width}, maxdims[2] = {H5S_UNLIMITED, (hsize_t)width};
    hsize_t chunk[2] = {(hsize_t)chunk_rows(width), (hsize_t)width};
    OTD_H5(space = H5Screate_simple(rank, dims, maxdims), name);
    OTD_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE), name);
    OTD_H5(H5Pset_chunk(dcpl, rank, chunk), name);
    /* Every row is written before it can be read: no fill pass. */
    OTD_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), name);
    OTD_H5(*out = H5Dcreate2(group, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           name);
done:
    otd_h5_close(&dcpl, &err);
    otd_h5_close(&space, &err);
    return err;
}

otd_err otd_results_history_define(otd_results *res, const otd_results_column *scalars, int nscalar,
                                   const otd_results_column *vecs, int nvec, int64_t width)
{
    otd_err err = OTD_OK;
    hid_t group = H5I_INVALID_HID;
    err = define_prepare(res, scalars, nscalar, vecs, nvec, width);
    OTD_CHECK(otd_comm_agree(res->comm, err));
    /* An object header per column with its attributes, and the group's. */
    OTD_CHECK(reserve(res, (int64_t)(res->ncol + 1) * (4096 + DESCRIBE_BYTES)));
    err = otd_h5_group(res->file, "/history", &group);
    for (int k = 0; err == OTD_OK && k < res->ncol; k++) {
        err =
            define_column(group, res->names[k], k < res->nscalar ? 0 : res->width, &res->dsets[k]);
        if (err == OTD_OK)
            err = describe(group, res->names[k], k < nscalar ? &scalars[k] : &vecs[k - nscalar]);
    }
    otd_h5_close(&group, &err);
    OTD_CHECK(agreed(res, err));
    res->hist_defined = 1;
    OTD_CHECK(finish_write(res));
done:
    otd_h5_close(&group, &err);
    return err;
}

otd_err otd_results_history_append(otd_results *res, const double *scalars, const double *vecs)
{
    otd_err err = OTD_OK;
    int64_t s = 0;
    if (!res->hist_defined)
        OTD_FAIL(OTD_ERR_ARG, "results history of '%s' appended before it was defined", res->path);
    if ((res->nscalar > 0 && scalars == NULL) || (res->nvec > 0 && vecs == NULL))
        OTD_FAIL(OTD_ERR_ARG, "results history: a row without values");
    s = stride(res);
    if (res->nbuf == res->cap) {
        /* Doubling: the buffer lives between flushes, usually short. */
        int64_t cap = res->cap == 0 ? 64 : 2 * res->cap;
        double *p = NULL;
        if ((uint64_t)cap * (uint64_t)s > SIZE_MAX / sizeof(double))
            OTD_FAIL(OTD_ERR_NOMEM, "results history buffer of %lld rows is too large",
                     (long long)cap);
        p = realloc(res->rows, (size_t)(cap * s) * sizeof(double));
        if (p == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory buffering %lld history rows", (long long)cap);
        res->rows = p;
        res->cap = cap;
    }
    if (res->nscalar > 0)
        memcpy(res->rows + res->nbuf * s, scalars, (size_t)res->nscalar * sizeof(double));
    if (res->nvec > 0)
        memcpy(res->rows + res->nbuf * s + res->nscalar, vecs,
               (size_t)(res->nvec * res->width) * sizeof(double));
    res->nbuf++;
done:
    return err;
}

/* Column k of the buffered rows, contiguous (nbuf values, or nbuf x width
 * in C order for a vector column). */
static void gather_column(const otd_results *res, int k, double *out)
{
    int64_t s = stride(res);
    int64_t off = k < res->nscalar ? k : res->nscalar + (k - res->nscalar) * res->width;
    int64_t w = k < res->nscalar ? 1 : res->width;
    for (int64_t r = 0; r < res->nbuf; r++)
        memcpy(out + r * w, res->rows + r * s + off, (size_t)w * sizeof(double));
}

/* Local part of a flush: all ranks must hold the same number of rows (they
 * append identical rows), and rank 0 needs a column buffer. */
static otd_err flush_prepare(otd_results *res, double **col)
{
    otd_err err = OTD_OK;
    int64_t n[2] = {res->nbuf, -res->nbuf};
    *col = NULL;
    OTD_CHECK(otd_comm_max_i64(res->comm, n, 2));
    if (n[0] != res->nbuf || -n[1] != res->nbuf)
        OTD_FAIL(OTD_ERR_INTERNAL,
                 "results history: ranks buffered different numbers of rows (%lld here, %lld to "
                 "%lld overall)",
                 (long long)res->nbuf, (long long)-n[1], (long long)n[0]);
    if (otd_comm_rank(res->comm) == 0 && res->nbuf > 0)
        OTD_ALLOC(*col, res->nbuf * (res->width > 1 ? res->width : 1));
done:
    return err;
}

/* Extend column k by the buffered rows and write them from rank 0 (the
 * others select nothing but join the collective calls). Collective. */
static otd_err flush_column(otd_results *res, int k, double *col)
{
    otd_err err = OTD_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    const char *name = res->names[k];
    int rank = k < res->nscalar ? 1 : 2;
    hsize_t w = k < res->nscalar ? 1 : (hsize_t)res->width;
    int64_t rows = res->nfile + res->nbuf;
    hsize_t dims[2] = {(hsize_t)(rows > res->extent ? rows : res->extent), w};
    hsize_t start[2] = {(hsize_t)res->nfile, 0}, count[2] = {(hsize_t)res->nbuf, w}, one = 1;
    const double *buf = no_data;
    if (rows > res->extent)
        OTD_H5(H5Dset_extent(res->dsets[k], dims), name);
    OTD_H5(fspace = H5Dget_space(res->dsets[k]), name);
    if (col != NULL) {
        gather_column(res, k, col);
        buf = col;
        OTD_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), name);
        OTD_H5(mspace = H5Screate_simple(rank, count, NULL), name);
    } else {
        OTD_H5(H5Sselect_none(fspace), name);
        OTD_H5(mspace = H5Screate_simple(1, &one, NULL), name);
        OTD_H5(H5Sselect_none(mspace), name);
    }
    OTD_H5(H5Dwrite(res->dsets[k], H5T_NATIVE_DOUBLE, mspace, fspace, res->dxpl, buf), name);
done:
    otd_h5_close(&mspace, &err);
    otd_h5_close(&fspace, &err);
    return err;
}

/* Bytes a flush of the buffered rows may add: every chunk the rows touch,
 * as if each were new (HDF5 allocates a whole chunk at its first write),
 * and a B-tree node or object header update per column. */
static int64_t flush_bytes(const otd_results *res)
{
    int64_t n = 0;
    for (int k = 0; res->nbuf > 0 && k < res->ncol; k++) {
        int64_t w = k < res->nscalar ? 0 : res->width, cr = chunk_rows(w);
        int64_t chunks = (res->nfile + res->nbuf - 1) / cr - res->nfile / cr + 1;
        n += chunks * cr * (w > 0 ? w : 1) * (int64_t)sizeof(double) + 4096;
    }
    return n;
}

otd_err otd_results_history_flush(otd_results *res)
{
    otd_err err = OTD_OK;
    double *col = NULL;
    err = flush_prepare(res, &col);
    OTD_CHECK(otd_comm_agree(res->comm, err));
    if (res->nbuf > 0) {
        OTD_CHECK(reserve(res, flush_bytes(res)));
        /* One agreement per column: a rank whose write failed must not be
         * waiting in an agreement while the others write the next column. */
        for (int k = 0; k < res->ncol; k++)
            OTD_CHECK(agreed(res, flush_column(res, k, col)));
        res->nfile += res->nbuf;
        if (res->nfile > res->extent)
            res->extent = res->nfile;
        res->nbuf = 0;
    }
    /* Rows on disk survive a later crash (as far as the file system's own
     * caching allows). */
    OTD_CHECK(finish_write(res));
done:
    free(col);
    return err;
}

static otd_err summary_check(const char *status, const otd_attr *strs, int nstrs,
                             const char *const *dnames, const double *dvals, int nd,
                             const char *const *inames, const int64_t *ivals, int ni)
{
    if (status == NULL || nstrs < 0 || nd < 0 || ni < 0 || (nstrs > 0 && strs == NULL) ||
        (nd > 0 && (dnames == NULL || dvals == NULL)) ||
        (ni > 0 && (inames == NULL || ivals == NULL)))
        return OTD_ERROR(OTD_ERR_ARG, "results summary: bad argument lists");
    for (int k = 0; k < nstrs; k++)
        if (strs[k].name == NULL || strs[k].value == NULL)
            return OTD_ERROR(OTD_ERR_ARG, "results summary: string %d has no name or value", k);
    for (int k = 0; k < nd; k++)
        if (dnames[k] == NULL)
            return OTD_ERROR(OTD_ERR_ARG, "results summary: number %d has no name", k);
    for (int k = 0; k < ni; k++)
        if (inames[k] == NULL)
            return OTD_ERROR(OTD_ERR_ARG, "results summary: integer %d has no name", k);
    return OTD_OK;
}

/* Collective: the /summary group and its attributes. */
static otd_err summary_attrs(otd_results *res, const char *status, const otd_attr *strs, int nstrs,
                             const char *const *dnames, const double *dvals, int nd,
                             const char *const *inames, const int64_t *ivals, int ni)
{
    otd_err err = OTD_OK;
    hid_t group = H5I_INVALID_HID;
    OTD_CHECK(otd_h5_group(res->file, "/summary", &group));
    OTD_CHECK(otd_h5_attr_string(group, "status", status));
    for (int k = 0; k < nstrs; k++)
        OTD_CHECK(otd_h5_attr_string(group, strs[k].name, strs[k].value));
    for (int k = 0; k < nd; k++)
        OTD_CHECK(otd_h5_attr_double(group, dnames[k], dvals[k]));
    for (int k = 0; k < ni; k++)
        OTD_CHECK(otd_h5_attr_int64(group, inames[k], ivals[k]));
done:
    otd_h5_close(&group, &err);
    return err;
}

otd_err otd_results_write_summary(otd_results *res, const char *status, const otd_attr *strs,
                                  int nstrs, const char *const *dnames, const double *dvals, int nd,
                                  const char *const *inames, const int64_t *ivals, int ni)
{
    otd_err err = OTD_OK;
    int64_t bytes = 4096 + 2 * (int64_t)strlen(status);
    /* The arguments are the same on every rank, so is this verdict. */
    OTD_CHECK(summary_check(status, strs, nstrs, dnames, dvals, nd, inames, ivals, ni));
    OTD_CHECK(otd_results_history_flush(res));
    for (int k = 0; k < nstrs; k++)
        bytes += 2 * (int64_t)(strlen(strs[k].name) + strlen(strs[k].value)) + 256;
    bytes += (int64_t)(nd + ni) * 256;
    OTD_CHECK(reserve(res, bytes));
    OTD_CHECK(
        agreed(res, summary_attrs(res, status, strs, nstrs, dnames, dvals, nd, inames, ivals, ni)));
    OTD_CHECK(finish_write(res));
done:
    return err;
}

/* Collective: cut the history columns to the rows of this run, then write
 * the metadata out, each step agreed. */
static otd_err cut_stale_rows(otd_results *res)
{
    otd_err err = OTD_OK;
    OTD_CHECK(reserve(res, (int64_t)res->ncol * 4096));
    for (int k = 0; err == OTD_OK && k < res->ncol; k++) {
        hsize_t dims[2] = {(hsize_t)res->nfile, (hsize_t)res->width};
        if (H5Dset_extent(res->dsets[k], dims) < 0)
            err = otd_h5_raise("H5Dset_extent", res->names[k], __FILE__, __LINE__);
    }
    OTD_CHECK(agreed(res, err));
    OTD_CHECK(finish_write(res));
done:
    return err;
}

otd_err otd_results_close(otd_results *res)
{
    otd_err err = OTD_OK, agreed_err = OTD_OK;
    otd_comm *comm = NULL;
    char *path = NULL;
    const char *name = NULL;
    if (res == NULL)
        return OTD_OK;
    /* The handle and its path go with the close; messages after it need
     * the name (out of memory for it: the bare file name will do). */
    path = dup_string(res->path);
    name = path != NULL ? path : "results.h5";
    comm = res->comm;
    /* Rows still buffered belong in the file; close even if that fails. */
    err = otd_results_history_flush(res);
    /* Stale rows of an interrupted earlier process, beyond what this one
     * wrote, go now (see `extent`). */
    if (err == OTD_OK && res->extent > res->nfile)
        err = cut_stale_rows(res);
    /* Every rank gets here with the same verdict: the collective close,
     * whose own failure is agreed only when nothing failed before. */
    agreed_err = err;
    results_free(res, &err);
    if (agreed_err != OTD_OK)
        goto done;
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, name));
    /* Blocks reserved and not used go back to the file system. */
    if (otd_comm_rank(comm) == 0 && path != NULL)
        err = otd_h5_release(path, 0, WHAT);
    OTD_CHECK(otd_comm_agree_share(comm, err));
done:
    /* After a failure they go back too, quietly: the error stands. */
    if (err != OTD_OK && otd_comm_rank(comm) == 0 && path != NULL)
        otd_h5_release_quiet(path);
    free(path);
    return err;
}

void otd_results_discard(otd_results *res)
{
    /* Already failed: closing records nothing, and the message that says
     * why stays the current one. */
    otd_err err = OTD_ERR_IO;
    char *path = NULL;
    int root = 0;
    if (res == NULL)
        return;
    root = otd_comm_rank(res->comm) == 0;
    path = dup_string(res->path);
    /* Nothing in it is wanted: rank 0 empties it first, so that the
     * collective close has room for what it still writes. */
    if (root)
        otd_h5_abandon(res->path);
    results_free(res, &err);
    if (root && path != NULL && unlink(path) != 0 && errno != ENOENT)
        otd_warn("cannot remove the incomplete results file '%s': %s", path, strerror(errno));
    free(path);
}

int64_t otd_results_history_rows(const otd_results *res)
{
    return res->nfile + res->nbuf;
}

/* Collective part of reopen: the file, its history columns cut back to
 * keep_rows, and no /final/W left from an end that did not complete. */
static otd_err reopen_file(otd_results *res, int64_t keep_rows)
{
    otd_err err = OTD_OK;
    hid_t group = H5I_INVALID_HID, space = H5I_INVALID_HID;
    OTD_CHECK(otd_h5_open_mpio(res->path, res->comm, OTD_H5_RDWR, &res->file, &res->dxpl));
    OTD_H5(group = H5Gopen2(res->file, "/history", H5P_DEFAULT), res->path);
    for (int k = 0; k < res->ncol; k++) {
        const char *name = res->names[k];
        hsize_t dims[2] = {0, 0};
        if (H5Lexists(group, name, H5P_DEFAULT) <= 0)
            OTD_FAIL(OTD_ERR_FORMAT, "%s: /history/%s is missing: not this run's results",
                     res->path, name);
        OTD_H5(res->dsets[k] = H5Dopen2(group, name, H5P_DEFAULT), name);
        OTD_H5(space = H5Dget_space(res->dsets[k]), name);
        OTD_H5(H5Sget_simple_extent_dims(space, dims, NULL), name);
        otd_h5_close(&space, &err);
        if ((int64_t)dims[0] < keep_rows)
            OTD_FAIL(OTD_ERR_FORMAT,
                     "%s: /history/%s has %llu rows but the checkpoint needs %lld: the results "
                     "file is older than the checkpoint",
                     res->path, name, (unsigned long long)dims[0], (long long)keep_rows);
        /* Rows logged after the checkpoint are computed again: they are
         * overwritten in place and any left over are cut at close. */
        if ((int64_t)dims[0] > res->extent)
            res->extent = (int64_t)dims[0];
    }
    if (H5Lexists(res->file, "/final", H5P_DEFAULT) > 0 &&
        H5Lexists(res->file, "/final/W", H5P_DEFAULT) > 0)
        OTD_H5(H5Ldelete(res->file, "/final/W", H5P_DEFAULT), "/final/W");
    res->nfile = keep_rows;
    res->hist_defined = 1;
done:
    otd_h5_close(&space, &err);
    otd_h5_close(&group, &err);
    return err;
}

otd_err otd_results_reopen(const char *path, otd_comm *comm, const otd_results_column *scalars,
                           int nscalar, const otd_results_column *vecs, int nvec, int64_t width,
                           int64_t keep_rows, otd_results **out)
{
    otd_err err = OTD_OK;
    otd_results *res = NULL;
    *out = NULL;
    err = create_prepare(path, comm, NULL, 0, &res);
    if (err == OTD_OK)
        err = define_prepare(res, scalars, nscalar, vecs, nvec, width);
    OTD_CHECK(otd_comm_agree(comm, err));
    err = reopen_file(res, keep_rows);
    OTD_CHECK(otd_comm_agree(comm, err));
    *out = res;
    res = NULL;
done:
    results_free(res, &err);
    return err;
}

/* --- /provenance: metadata, in the same agreed steps as every write --- */

otd_err otd_results_set_provenance(otd_results *res, const otd_attr *attrs, int nattrs)
{
    otd_err err = OTD_OK;
    for (int k = 0; k < nattrs; k++)
        if (attrs[k].name == NULL || attrs[k].name[0] == '\0' || attrs[k].value == NULL)
            OTD_FAIL(OTD_ERR_ARG, "provenance attribute %d has no name or no value", k);
    OTD_CHECK(reserve(res, attrs_bytes(attrs, nattrs) + 4096));
    OTD_CHECK(agreed(res, otd_h5_prov_attrs(res->file, attrs, nattrs)));
    OTD_CHECK(finish_write(res));
done:
    return err;
}

otd_err otd_results_add_resume(otd_results *res, const otd_results_resume *r)
{
    otd_err err = OTD_OK;
    if (r == NULL || r->utc == NULL || r->hosts == NULL)
        OTD_FAIL(OTD_ERR_ARG, "a resume record without time or hosts");
    /* The record is rewritten whole: count every earlier row as new. */
    OTD_CHECK(reserve(res, 4096 + 64 * (int64_t)(strlen(r->hosts) + 64)));
    OTD_CHECK(
        agreed(res, otd_h5_prov_resume(res->file, res->dxpl, otd_comm_rank(res->comm) == 0, r)));
    OTD_CHECK(finish_write(res));
done:
    return err;
}
