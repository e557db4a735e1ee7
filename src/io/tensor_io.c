/* tensor_io.c: the explicit tensor /T read and written slice by slice with
 * parallel HDF5 (see otd_tensor.h).
 *
 * Both directions follow the pattern of results.c: the work that can fail
 * differently on different ranks (argument checks, allocation, the file
 * system), then otd_comm_agree, then the HDF5 calls, then a final agreement,
 * so that every rank returns one verdict and none is left waiting inside a
 * collective.
 *
 * Reading holds, besides the packed slab, at most two unpacked pieces of
 * d^(l-1) values: the mode-1 slice T[i, :, ..., :] of one local row i and
 * the part T[i+1:, i, :, ..., :] of its mode-2 slice. Symmetry is checked on
 * adjacent transpositions, which generate every permutation: modes (1, 2)
 * between those two pieces, modes (q, q+1) for q >= 2 inside the mode-1
 * slice. Each pair is compared once, from the entry whose indices at the two
 * swapped positions increase, so a tie between equal asymmetries is broken
 * by the C order of that entry whatever the rank count. */
#define _GNU_SOURCE /* renameat2(2) and RENAME_NOREPLACE (Linux) */
#include "otd/otd_tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm/comm_mpi.h"
#include "io/h5util.h"
#include "otd/otd_fileio.h"
#include "otd/otd_packed.h"

#define DSET "/T"
/* Names a file being written in messages: "cannot write tensor file ...". */
#define WHAT "tensor file"

/* Room for "[i1, ..., i12]" or "(d, ..., d)" with 20-digit numbers. */
#define INDEX_CAP 320

/* A valid buffer for ranks that select nothing: HDF5 rejects NULL there. */
static const double no_data[1] = {0.0};

/* d^e, or -1 when it does not fit in int64. */
static int64_t ipow64(int64_t d, int e)
{
    int64_t p = 1;
    for (int q = 0; q < e; q++) {
        if (d != 0 && p > INT64_MAX / d)
            return -1;
        p *= d;
    }
    return p;
}

/* Strides of modes 2..l inside one mode-1 slice (C order): d^(k-1-q). */
static void slice_strides(int k, int64_t d, int64_t *stride)
{
    int64_t s = 1;
    for (int q = k - 1; q >= 0; q--) {
        stride[q] = s;
        s *= d;
    }
}

/* "[2, 5, 1]": the index of C-order position pos in a (d, ..., d) array. */
static void format_index(int64_t pos, int order, int64_t d, char *buf, size_t cap)
{
    int64_t idx[OTD_MAX_ORDER];
    size_t len = 0;
    for (int q = order - 1; q >= 0; q--) {
        idx[q] = pos % d;
        pos /= d;
    }
    for (int q = 0; q < order && len < cap; q++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", q == 0 ? "[" : ", ",
                                (long long)idx[q]);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
}

/* "(8, 8, 8)", as h5py prints a shape. */
static void format_dims(const hsize_t *dims, int nd, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int q = 0; q < nd && len < cap; q++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu", q == 0 ? "" : ", ",
                                (unsigned long long)dims[q]);
    if (len < cap)
        snprintf(buf + len, cap - len, nd == 1 ? ",)" : ")");
}

static const char *class_name(H5T_class_t cls)
{
    switch (cls) {
    case H5T_INTEGER:
        return "integer";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    case H5T_ENUM:
        return "enum";
    case H5T_ARRAY:
        return "array";
    case H5T_BITFIELD:
        return "bitfield";
    case H5T_OPAQUE:
        return "opaque";
    case H5T_REFERENCE:
        return "reference";
    case H5T_VLEN:
        return "variable-length";
    case H5T_TIME:
        return "time";
    default:
        return "unknown";
    }
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

typedef struct {
    const char *path, *key;
    int order;     /* l */
    int k;         /* l - 1: modes per slice */
    int64_t d;     /* every mode */
    int64_t slice; /* d^(l-1): values of one mode-1 slice */
    int64_t inner; /* d^(l-2): values of one mode-2 sub-slice */
    int64_t stride[OTD_PACKED_MAX_K];
    hid_t file, dset, fspace;
    double *row; /* T[i, :, ..., :] */
    double *col; /* T[i+1:, i, :, ..., :] */
} tio_reader;

/* What the local rows showed; reduced over the ranks for the verdict. */
typedef struct {
    int64_t bad;    /* C-order position of the first non-finite value, -1 if none */
    double badval;  /* ... and that value */
    double maxabs;  /* max |T| over the finite local values */
    double asym;    /* largest |T[x] - T[y]| over the pairs compared here */
    int64_t ax, ay; /* positions of that x and y */
    double vx, vy;  /* ... and their values */
    double norm2;   /* sum over local packed entries of S^2 / mult */
} tio_scan;

static void reader_close(tio_reader *rd, otd_err *err)
{
    otd_h5_close(&rd->fspace, err);
    otd_h5_close(&rd->dset, err);
    otd_h5_close(&rd->file, err);
    free(rd->row);
    free(rd->col);
    rd->row = rd->col = NULL;
}

/* Local: arguments, then the file as this rank sees it. Every rank looks,
 * because the MPI-IO open below needs the file on every node. */
static otd_err read_check(const tio_reader *rd, double tol, const otd_layout *lay, otd_comm *comm)
{
    otd_err err = OTD_OK;
    htri_t is_h5 = -1;
    OTD_CHECK(otd_h5_quiet());
    if (rd->order < 2 || rd->order > OTD_MAX_ORDER || rd->d < 1 || !(tol >= 0.0))
        OTD_FAIL(OTD_ERR_ARG, "%s: bad tensor request (order %d, dimension %lld, tolerance %g)",
                 rd->key, rd->order, (long long)rd->d, tol);
    if (lay->d != rd->d || lay->nranks != otd_comm_size(comm) || lay->rank != otd_comm_rank(comm))
        OTD_FAIL(OTD_ERR_ARG, "%s: layout of %lld rows over %d ranks does not fit this job",
                 rd->key, (long long)lay->d, lay->nranks);
    if (rd->path == NULL || rd->path[0] == '\0')
        OTD_FAIL(OTD_ERR_FORMAT, "%s is empty: expected an HDF5 file with dataset /T", rd->key);
    if (access(rd->path, R_OK) != 0)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': cannot read the file: %s", rd->key, rd->path,
                 strerror(errno));
    is_h5 = H5Fis_hdf5(rd->path);
    if (is_h5 <= 0) {
        H5Eclear2(H5E_DEFAULT);
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': not an HDF5 file (expected dataset /T of shape (d, ..., d))", rd->key,
                 rd->path);
    }
done:
    return err;
}

/* HDF5 opens a truncated or damaged file only to fail: that is a bad input
 * (exit 2), not an HDF5 malfunction, so re-raise HDF5's reason as FORMAT. */
static otd_err open_failed(const tio_reader *rd)
{
    return OTD_ERROR(OTD_ERR_FORMAT, "%s = '%s': cannot open it as HDF5 (%s)", rd->key, rd->path,
                     otd_error_text());
}

/* Collective (the open): file, /T, its type, rank and shape. The metadata
 * read is the same on every rank, so is the verdict. */
static otd_err read_open(tio_reader *rd, otd_comm *comm)
{
    otd_err err = OTD_OK;
    hid_t obj = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    H5T_class_t cls = H5T_NO_CLASS;
    H5I_type_t kind = H5I_BADID;
    htri_t there = -1;
    int nd = -1;
    char shape[INDEX_CAP];
    if (otd_h5_open_mpio(rd->path, comm, OTD_H5_READ, &rd->file, NULL) != OTD_OK) {
        err = open_failed(rd);
        goto done;
    }
    OTD_H5(there = H5Lexists(rd->file, DSET, H5P_DEFAULT), rd->path);
    if (!there)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': no dataset /T in the file (expected /T of shape (d, ..., d))", rd->key,
                 rd->path);
    /* A link that leads nowhere (a soft link to a missing object, an
     * external link to a missing file) is a bad input like a missing /T. */
    OTD_H5(there = H5Oexists_by_name(rd->file, DSET, H5P_DEFAULT), DSET);
    if (!there)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': /T is a link to nothing (expected a dataset /T)",
                 rd->key, rd->path);
    OTD_H5(obj = H5Oopen(rd->file, DSET, H5P_DEFAULT), DSET);
    OTD_H5(kind = H5Iget_type(obj), DSET);
    if (kind != H5I_DATASET)
        OTD_FAIL(OTD_ERR_FORMAT, "%s = '%s': /T is not a dataset", rd->key, rd->path);
    OTD_H5(rd->dset = H5Dopen2(rd->file, DSET, H5P_DEFAULT), DSET);
    OTD_H5(type = H5Dget_type(rd->dset), DSET);
    OTD_H5(cls = H5Tget_class(type), DSET);
    if (cls != H5T_FLOAT)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': /T is not floating-point (its type is %s; float64 expected)", rd->key,
                 rd->path, class_name(cls));
    OTD_H5(rd->fspace = H5Dget_space(rd->dset), DSET);
    OTD_H5(nd = H5Sget_simple_extent_ndims(rd->fspace), DSET);
    if (nd != rd->order)
        OTD_FAIL(OTD_ERR_CONFIG, "%s = '%s': /T has %d dimensions but problem.order = %d", rd->key,
                 rd->path, nd, rd->order);
    OTD_H5(H5Sget_simple_extent_dims(rd->fspace, dims, NULL), DSET);
    for (int q = 0; q < nd; q++)
        if (dims[q] != (hsize_t)rd->d) {
            format_dims(dims, nd, shape, sizeof shape);
            OTD_FAIL(OTD_ERR_CONFIG, "%s = '%s': /T has shape %s, but problem.dim = %lld", rd->key,
                     rd->path, shape, (long long)rd->d);
        }
done:
    otd_h5_close(&type, &err);
    otd_h5_close(&obj, &err);
    return err;
}

/* Local: sizes, the slab, the two slice buffers. */
static otd_err read_alloc(tio_reader *rd, const otd_layout *lay, otd_slab **slab)
{
    otd_err err = OTD_OK;
    /* Positions in messages are C-order linear indices of the whole tensor. */
    if (ipow64(rd->d, rd->order) < 0)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.dim = %lld, problem.order = %d: d^l overflows 64-bit indices",
                 (long long)rd->d, rd->order);
    rd->k = rd->order - 1;
    rd->slice = ipow64(rd->d, rd->k);
    rd->inner = ipow64(rd->d, rd->k - 1);
    slice_strides(rd->k, rd->d, rd->stride);
    OTD_CHECK(otd_slab_alloc(rd->order, lay, slab));
    OTD_ALLOC(rd->row, rd->slice);
    OTD_ALLOC(rd->col, rd->slice);
done:
    return err;
}

/* Select start/count in the file space and read into buf (n values).
 * Independent transfer (H5P_DEFAULT): no rank waits for another inside the
 * row loop, so ranks with fewer rows simply stop earlier and a failed read
 * on one rank cannot hang the others (they meet at the next agreement). */
static otd_err read_block(const tio_reader *rd, const hsize_t *start, const hsize_t *count,
                          hsize_t n, double *buf)
{
    otd_err err = OTD_OK;
    hid_t mspace = H5I_INVALID_HID;
    OTD_H5(H5Sselect_hyperslab(rd->fspace, H5S_SELECT_SET, start, NULL, count, NULL), DSET);
    OTD_H5(mspace = H5Screate_simple(1, &n, NULL), DSET);
    OTD_H5(H5Dread(rd->dset, H5T_NATIVE_DOUBLE, mspace, rd->fspace, H5P_DEFAULT, buf), rd->path);
done:
    otd_h5_close(&mspace, &err);
    return err;
}

/* T[gi, :, ..., :] into rd->row and T[gi+1:, gi, :, ..., :] into rd->col. */
static otd_err read_row(tio_reader *rd, int64_t gi)
{
    otd_err err = OTD_OK;
    hsize_t start[OTD_MAX_ORDER], count[OTD_MAX_ORDER];
    for (int q = 0; q < rd->order; q++) {
        start[q] = 0;
        count[q] = (hsize_t)rd->d;
    }
    start[0] = (hsize_t)gi;
    count[0] = 1;
    OTD_CHECK(read_block(rd, start, count, (hsize_t)rd->slice, rd->row));
    /* Only the part after the diagonal: the pair (T[i, j, ..], T[j, i, ..])
     * is compared from the row with the smaller index. */
    if (gi + 1 < rd->d) {
        start[0] = (hsize_t)(gi + 1);
        count[0] = (hsize_t)(rd->d - gi - 1);
        start[1] = (hsize_t)gi;
        count[1] = 1;
        OTD_CHECK(read_block(rd, start, count, (hsize_t)((rd->d - gi - 1) * rd->inner), rd->col));
    }
done:
    return err;
}

/* Record |u - v| for entries at positions pu, pv if it is the largest yet
 * (strictly: the first of equal asymmetries wins). Non-finite values are
 * reported as such, not as asymmetry. */
static void compare(tio_scan *sc, double u, double v, int64_t pu, int64_t pv)
{
    double a = fabs(u - v);
    if (!isfinite(v) || !(a > sc->asym))
        return;
    sc->asym = a;
    sc->ax = pu;
    sc->ay = pv;
    sc->vx = u;
    sc->vy = v;
}

/* Finiteness, max |T| and asymmetry over the slice of global row gi. */
static void scan_row(const tio_reader *rd, int64_t gi, tio_scan *sc)
{
    int64_t j[OTD_PACKED_MAX_K] = {0}; /* indices of modes 2..l at off */
    int64_t base = gi * rd->slice;
    for (int64_t off = 0; off < rd->slice; off++) {
        double v = rd->row[off];
        if (!isfinite(v)) {
            if (sc->bad < 0) {
                sc->bad = base + off;
                sc->badval = v;
            }
        } else {
            sc->maxabs = fmax(sc->maxabs, fabs(v));
            if (j[0] > gi) {
                /* Modes 1, 2: T[gi, j2, rest] vs T[j2, gi, rest]. */
                int64_t rest = off - j[0] * rd->inner;
                compare(sc, v, rd->col[(j[0] - gi - 1) * rd->inner + rest], base + off,
                        j[0] * rd->slice + gi * rd->inner + rest);
            }
            for (int t = 0; t + 1 < rd->k; t++)
                if (j[t] < j[t + 1]) {
                    /* Modes t+2, t+3 swapped: the offset moves by
                     * (j[t+1] - j[t]) * (stride[t] - stride[t+1]). */
                    int64_t o2 = off + (j[t + 1] - j[t]) * (rd->stride[t] - rd->stride[t + 1]);
                    compare(sc, v, rd->row[o2], base + off, base + o2);
                }
        }
        for (int t = rd->k - 1; t >= 0 && ++j[t] == rd->d; t--)
            j[t] = 0;
    }
}

/* Local row t of the slab from rd->row: S[t + p*nrows] = mult(J_p) T[gi, J_p]. */
static void pack_row(const tio_reader *rd, int64_t t, otd_slab *s, tio_scan *sc)
{
    int64_t J[OTD_PACKED_MAX_K], p = 0;
    otd_packed_first(rd->k, J);
    do {
        int64_t off = 0;
        for (int q = 0; q < rd->k; q++)
            off += J[q] * rd->stride[q];
        double m = otd_packed_mult(rd->k, J);
        double v = m * rd->row[off];
        s->S[t + p * s->nrows] = v;
        sc->norm2 += v * v / m;
        p++;
    } while (otd_packed_next(rd->k, rd->d, J));
}

/* Not collective: every local row, read, checked and packed. */
static otd_err read_rows(tio_reader *rd, otd_slab *s, tio_scan *sc)
{
    otd_err err = OTD_OK;
    for (int64_t t = 0; t < s->nrows; t++) {
        OTD_CHECK(read_row(rd, s->row0 + t));
        scan_row(rd, s->row0 + t, sc);
        pack_row(rd, t, s, sc);
    }
done:
    return err;
}

/* Collective: the first non-finite value over all ranks (lowest position),
 * then the largest asymmetry against the tolerance, then the norm. Every
 * rank computes the same message from the reduced values. */
static otd_err read_verdict(const tio_reader *rd, double tol, otd_comm *comm, tio_scan *sc,
                            otd_slab *s)
{
    otd_err err = OTD_OK;
    int64_t first = sc->bad >= 0 ? -sc->bad : INT64_MIN, kind = -1, who = INT64_MIN;
    double m[2] = {sc->maxabs, sc->asym}, norm2 = sc->norm2;
    struct {
        int64_t ax, ay;
        double vx, vy;
    } rec = {sc->ax, sc->ay, sc->vx, sc->vy};
    char x[INDEX_CAP], y[INDEX_CAP];
    static const char *const nonfinite[] = {"nan", "inf", "-inf"};
    /* max of -position = min of position; INT64_MIN: none here. */
    OTD_CHECK(otd_comm_max_i64(comm, &first, 1));
    if (first != INT64_MIN) {
        /* Only the rank holding it knows the value: NaN, inf or -inf. */
        if (sc->bad == -first)
            kind = isnan(sc->badval) ? 0 : sc->badval > 0 ? 1 : 2;
        OTD_CHECK(otd_comm_max_i64(comm, &kind, 1));
        format_index(-first, rd->order, rd->d, x, sizeof x);
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': T%s = %s is not finite (the first such value in C order)", rd->key,
                 rd->path, x, nonfinite[kind]);
    }
    OTD_CHECK(otd_comm_max(comm, m, 2));
    if (m[1] > tol * m[0]) {
        /* The lowest rank with the largest asymmetry holds the first one in
         * C order: it tells the others the entries. */
        if (sc->asym == m[1])
            who = -(int64_t)otd_comm_rank(comm);
        OTD_CHECK(otd_comm_max_i64(comm, &who, 1));
        OTD_CHECK(otd_comm_bcast(comm, &rec, sizeof rec, (int)-who));
        format_index(rec.ax, rd->order, rd->d, x, sizeof x);
        format_index(rec.ay, rd->order, rd->d, y, sizeof y);
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': /T is not symmetric: T%s = %.9g vs T%s = %.9g: asymmetry %.1e "
                 "relative to max |T| = %.6g (absolute %.1e), more than problem.symmetry_tol "
                 "= %g",
                 rd->key, rd->path, x, rec.vx, y, rec.vy, m[1] / m[0], m[0], m[1], tol);
    }
    OTD_CHECK(otd_comm_sum(comm, &norm2, 1));
    /* Every relative error divides by ||T||^2: a tensor whose norm is zero
     * or not a finite double defines no problem. Its values are finite and
     * reduced everywhere alike, so is this verdict. */
    if (m[0] == 0.0)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': /T is all zero: a zero tensor defines no problem (errors are "
                 "relative to ||T||)",
                 rd->key, rd->path);
    if (!isfinite(norm2))
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s = '%s': ||T||^2 overflows (max |T| = %g; the squares of its values are "
                 "not finite doubles): scale the tensor down",
                 rd->key, rd->path, m[0]);
    s->norm2 = norm2;
done:
    return err;
}

/* Every phase, each followed by an agreement; the file is closed on every
 * path, all ranks together. */
static otd_err read_all(tio_reader *rd, double tol, const otd_layout *lay, otd_comm *comm,
                        otd_slab **out)
{
    otd_err err = OTD_OK;
    otd_slab *s = NULL;
    tio_scan sc = {.bad = -1, .ax = -1, .ay = -1};
    OTD_CHECK(otd_comm_agree(comm, read_check(rd, tol, lay, comm)));
    OTD_CHECK(otd_comm_agree(comm, read_open(rd, comm)));
    OTD_CHECK(otd_comm_agree(comm, read_alloc(rd, lay, &s)));
    OTD_CHECK(otd_comm_agree(comm, read_rows(rd, s, &sc)));
    OTD_CHECK(otd_comm_agree(comm, read_verdict(rd, tol, comm, &sc, s)));
    *out = s;
    s = NULL;
done:
    reader_close(rd, &err);
    otd_slab_destroy(s);
    return err;
}

otd_err otd_slab_read(const char *path, const char *key, int order, int64_t d, double symmetry_tol,
                      const otd_layout *lay, otd_comm *comm, otd_slab **out)
{
    otd_err err = OTD_OK;
    otd_slab *s = NULL;
    tio_reader rd = {.path = path,
                     .key = key != NULL ? key : "tensor file",
                     .order = order,
                     .d = d,
                     .file = H5I_INVALID_HID,
                     .dset = H5I_INVALID_HID,
                     .fspace = H5I_INVALID_HID};
    *out = NULL;
    err = read_all(&rd, symmetry_tol, lay, comm, &s);
    /* A failed close is local: share it too. */
    OTD_CHECK(otd_comm_agree(comm, err));
    *out = s;
    s = NULL;
done:
    otd_slab_destroy(s);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Next distinct permutation of idx in lexicographic order; 0 after the
 * last. Starting from the sorted multi-index it visits each distinct
 * ordering once (repeated indices are not permuted among themselves). */
static int next_permutation(int k, int64_t *idx)
{
    int i = k - 2, j = k - 1;
    while (i >= 0 && idx[i] >= idx[i + 1])
        i--;
    if (i < 0)
        return 0;
    while (idx[j] <= idx[i])
        j--;
    int64_t tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
    for (int a = i + 1, b = k - 1; a < b; a++, b--) {
        tmp = idx[a];
        idx[a] = idx[b];
        idx[b] = tmp;
    }
    return 1;
}

/* Local row t of the slab unpacked to its full mode-1 slice: every ordering
 * of J_p gets S[t + p*nrows] / mult(J_p), the same double, so the file is
 * exactly symmetric in modes 2..l. Across mode 1 it is symmetric to an ulp:
 * (mult * T) / mult is not always T when mult is not a power of two, and
 * T[i, j, ..] and T[j, i, ..] come from multi-indices of different
 * multiplicity. Work d^(l-1) * (l-1), no search. */
static void unpack_row(const otd_slab *s, int64_t t, const int64_t *stride, double *row)
{
    int k = s->order - 1;
    int64_t J[OTD_PACKED_MAX_K], perm[OTD_PACKED_MAX_K], p = 0;
    otd_packed_first(k, J);
    do {
        double v = s->S[t + p * s->nrows] / otd_packed_mult(k, J);
        memcpy(perm, J, (size_t)k * sizeof *perm);
        do {
            int64_t off = 0;
            for (int q = 0; q < k; q++)
                off += perm[q] * stride[q];
            row[off] = v;
        } while (next_permutation(k, perm));
        p++;
    } while (otd_packed_next(k, s->d, J));
}

/* Local: arguments and the slice buffer. */
static otd_err write_check(const otd_slab *s, const char *path, otd_comm *comm,
                           const char *const *names, const char *const *values, int nattrs,
                           const otd_target *t, double **row)
{
    otd_err err = OTD_OK;
    int64_t r0 = 0, nr = 0, slice = -1;
    *row = NULL;
    OTD_CHECK(otd_h5_quiet());
    if (path == NULL || path[0] == '\0')
        OTD_FAIL(OTD_ERR_ARG, "tensor file name is empty");
    if (s == NULL || s->order < 2 || s->order > OTD_MAX_ORDER || s->d < otd_comm_size(comm) ||
        s->S == NULL || s->np != otd_packed_count(s->d, s->order - 1))
        OTD_FAIL(OTD_ERR_ARG, "'%s': not a valid tensor slab", path);
    otd_layout_range(s->d, otd_comm_size(comm), otd_comm_rank(comm), &r0, &nr);
    if (s->row0 != r0 || s->nrows != nr)
        OTD_FAIL(OTD_ERR_ARG,
                 "'%s': this rank's slab holds rows [%lld, +%lld), the layout of %d ranks "
                 "[%lld, +%lld)",
                 path, (long long)s->row0, (long long)s->nrows, otd_comm_size(comm), (long long)r0,
                 (long long)nr);
    if (nattrs < 0 || (nattrs > 0 && (names == NULL || values == NULL)))
        OTD_FAIL(OTD_ERR_ARG, "'%s': bad attribute list (%d entries)", path, nattrs);
    for (int a = 0; a < nattrs; a++)
        if (names[a] == NULL || names[a][0] == '\0' || values[a] == NULL)
            OTD_FAIL(OTD_ERR_ARG, "'%s': attribute %d has no name or no value", path, a);
    if (t != NULL && (t->d != s->d || t->r < 0 || (t->r > 0 && (t->U == NULL || t->a == NULL))))
        OTD_FAIL(OTD_ERR_ARG, "'%s': bad components (d = %lld, r = %lld) for dimension %lld", path,
                 (long long)t->d, (long long)t->r, (long long)s->d);
    if (ipow64(s->d, s->order) < 0 || (slice = ipow64(s->d, s->order - 1)) < 0)
        OTD_FAIL(OTD_ERR_CONFIG, "problem.dim = %lld, problem.order = %d: d^l overflows 64 bits",
                 (long long)s->d, s->order);
    OTD_ALLOC(*row, slice);
done:
    return err;
}

/* The open objects of a tensor file being written. */
typedef struct {
    const otd_slab *s;
    const char *tmp; /* the temporary file being written */
    otd_comm *comm;
    hid_t file, dxpl, dset, fspace, mrow, mnone;
    double *row; /* one unpacked mode-1 slice */
} tio_writer;

static void writer_close(tio_writer *w, otd_err *err)
{
    otd_h5_close(&w->mnone, err);
    otd_h5_close(&w->mrow, err);
    otd_h5_close(&w->fspace, err);
    otd_h5_close(&w->dset, err);
    otd_h5_close(&w->dxpl, err);
    otd_h5_close(&w->file, err);
}

/* Collective: the root attributes and /T with its space allocated. */
static otd_err write_header(tio_writer *w, const char *const *names, const char *const *values,
                            int nattrs)
{
    otd_err err = OTD_OK;
    hid_t root = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hsize_t dims[OTD_MAX_ORDER], n = 1, one = 1;
    const otd_slab *s = w->s;
    for (int q = 0; q < s->order; q++)
        dims[q] = (hsize_t)s->d;
    for (int q = 1; q < s->order; q++)
        n *= dims[q];
    OTD_H5(root = H5Gopen2(w->file, "/", H5P_DEFAULT), w->tmp);
    for (int a = 0; a < nattrs; a++)
        OTD_CHECK(otd_h5_attr_string(root, names[a], values[a]));
    /* Contiguous, C order: a mode-1 slice is one extent of the file, and
     * h5py or any reader gets T[i, j, ...] directly. Every value is written
     * below, so the fill pass over d^l values is skipped. */
    OTD_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE), w->tmp);
    OTD_H5(H5Pset_layout(dcpl, H5D_CONTIGUOUS), w->tmp);
    OTD_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), w->tmp);
    OTD_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), w->tmp);
    OTD_H5(w->fspace = H5Screate_simple(s->order, dims, NULL), w->tmp);
    OTD_H5(w->dset =
               H5Dcreate2(w->file, DSET, H5T_IEEE_F64LE, w->fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           w->tmp);
    OTD_H5(w->mrow = H5Screate_simple(1, &n, NULL), w->tmp);
    OTD_H5(w->mnone = H5Screate_simple(1, &one, NULL), w->tmp);
    OTD_H5(H5Sselect_none(w->mnone), w->tmp);
done:
    otd_h5_close(&dcpl, &err);
    otd_h5_close(&root, &err);
    return err;
}

/* Collective: row t of every rank's block (local row t, or nothing once
 * this rank's rows are done). */
static otd_err write_row(tio_writer *w, int64_t t, const int64_t *stride)
{
    otd_err err = OTD_OK;
    const otd_slab *s = w->s;
    hsize_t start[OTD_MAX_ORDER], count[OTD_MAX_ORDER];
    for (int q = 0; q < s->order; q++) {
        start[q] = 0;
        count[q] = (hsize_t)s->d;
    }
    count[0] = 1;
    if (t < s->nrows) {
        unpack_row(s, t, stride, w->row);
        start[0] = (hsize_t)(s->row0 + t);
        OTD_H5(H5Sselect_hyperslab(w->fspace, H5S_SELECT_SET, start, NULL, count, NULL), w->tmp);
        OTD_H5(H5Dwrite(w->dset, H5T_NATIVE_DOUBLE, w->mrow, w->fspace, w->dxpl, w->row), w->tmp);
    } else {
        OTD_H5(H5Sselect_none(w->fspace), w->tmp);
        OTD_H5(H5Dwrite(w->dset, H5T_NATIVE_DOUBLE, w->mnone, w->fspace, w->dxpl, no_data), w->tmp);
    }
done:
    return err;
}

/* Collective: the attributes and /T, every row, and the close, each step
 * agreed (h5util.h). Each rank makes the same number of collective writes
 * (that of the largest block), selecting nothing once its rows are done. */
static otd_err write_file(tio_writer *w, const char *const *names, const char *const *values,
                          int nattrs)
{
    otd_err err = OTD_OK;
    int64_t stride[OTD_PACKED_MAX_K], r0 = 0, maxrows = 0;
    slice_strides(w->s->order - 1, w->s->d, stride);
    /* Rank 0 holds the largest block. */
    otd_layout_range(w->s->d, otd_comm_size(w->comm), 0, &r0, &maxrows);
    OTD_CHECK(otd_h5_agree_write(w->comm, write_header(w, names, values, nattrs), WHAT, w->tmp));
    for (int64_t t = 0; t < maxrows; t++)
        OTD_CHECK(otd_h5_agree_write(w->comm, write_row(w, t, stride), WHAT, w->tmp));
    /* Everything out (agreed), then the collective close (agreed). */
    err = H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0
              ? otd_h5_raise("H5Fflush", w->tmp, __FILE__, __LINE__)
              : OTD_OK;
    OTD_CHECK(otd_h5_agree_write(w->comm, err, WHAT, w->tmp));
    writer_close(w, &err);
    OTD_CHECK(otd_h5_agree_write(w->comm, err, WHAT, w->tmp));
done:
    return err;
}

/* One float64 dataset of a serially opened file. */
static otd_err write_array(hid_t file, const char *name, int rank, const hsize_t *dims,
                           const double *buf)
{
    otd_err err = OTD_OK;
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    OTD_H5(space = H5Screate_simple(rank, dims, NULL), name);
    OTD_H5(dset =
               H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           name);
    OTD_H5(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), name);
done:
    otd_h5_close(&dset, &err);
    otd_h5_close(&space, &err);
    return err;
}

/* Rank 0, serial, after the collective close: the components of t as /U
 * (d, r) and /a (r,), the format problem.components_file reads. A failure
 * empties the file before HDF5 closes it, so that the close has room. */
static otd_err write_components(const char *tmp, const otd_target *t)
{
    otd_err err = OTD_OK;
    hid_t file = H5I_INVALID_HID;
    double *rowmajor = NULL;
    hsize_t udims[2] = {(hsize_t)t->d, (hsize_t)t->r}, adims[1] = {(hsize_t)t->r};
    OTD_CHECK(otd_h5_to_row_major(t->U, t->d, t->r, t->d, &rowmajor));
    OTD_H5(file = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT), tmp);
    OTD_CHECK(write_array(file, "/U", 2, udims, rowmajor));
    OTD_CHECK(write_array(file, "/a", 1, adims, t->a));
    OTD_H5(H5Fflush(file, H5F_SCOPE_GLOBAL), tmp);
done:
    if (err != OTD_OK && file >= 0)
        otd_h5_abandon(tmp);
    otd_h5_close(&file, &err);
    free(rowmajor);
    if (err == OTD_ERR_HDF5)
        err = OTD_ERROR(OTD_ERR_IO, "cannot write %s '%s': %s", WHAT, tmp, otd_error_text());
    return err;
}

/* Rank 0: put the complete temporary file in place under its final name,
 * durably, never over a file that appeared there meanwhile (otd never
 * overwrites): data synced, renamed without replacing, directory synced. */
static otd_err commit_new(const char *tmp, const char *path)
{
    otd_err err = OTD_OK;
    char *dir = NULL, *slash = NULL;
    size_t len = strlen(path);
    OTD_CHECK(otd_h5_release(tmp, 1, WHAT));
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        /* A file system without the flag: check, then rename; only a file
         * created in between (a race with another writer) is lost. */
        if (errno != EINVAL && errno != ENOSYS)
            OTD_FAIL(OTD_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        OTD_CHECK(otd_check_new_path(path, WHAT));
        if (rename(tmp, path) != 0)
            OTD_FAIL(OTD_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    }
    OTD_ALLOC(dir, len + 2);
    memcpy(dir, path, len + 1);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        memcpy(dir, ".", 2);
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    OTD_CHECK(otd_fsync_dir(dir, "directory"));
done:
    free(dir);
    return err;
}

/* Bytes the tensor file takes: /T, its attributes, the components, and
 * HDF5's metadata of the collective and the serial writes. */
static int64_t file_bytes(const otd_slab *s, const char *const *values, int nattrs,
                          const otd_target *t)
{
    int64_t n = ipow64(s->d, s->order) * (int64_t)sizeof(double) + 2 * OTD_H5_META_BYTES;
    for (int a = 0; a < nattrs; a++)
        n += 2 * (int64_t)strlen(values[a]) + 256;
    if (t != NULL)
        n += (t->d + 1) * t->r * (int64_t)sizeof(double);
    return n;
}

/* Rank 0: refuse an existing path, then create the temporary file
 * "<path>.tmp.<pid>" next to it, with all its blocks reserved: a full disk
 * fails here, before HDF5 writes anything. */
static otd_err write_start(const char *path, int64_t bytes, char **tmp)
{
    otd_err err = OTD_OK;
    size_t cap = strlen(path) + 32;
    OTD_CHECK(otd_check_new_path(path, WHAT));
    OTD_ALLOC(*tmp, cap);
    snprintf(*tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    OTD_CHECK(otd_h5_reserve(*tmp, bytes, 1, WHAT));
done:
    if (err != OTD_OK) {
        free(*tmp);
        *tmp = NULL;
    }
    return err;
}

otd_err otd_slab_write(const otd_slab *slab, const char *path, otd_comm *comm,
                       const char *const *attr_names, const char *const *attr_values, int nattrs,
                       const otd_target *components)
{
    otd_err err = OTD_OK;
    int root = otd_comm_rank(comm) == 0, created = 0;
    char *tmp = NULL;
    size_t len = 0;
    int64_t bytes = 0;
    tio_writer w = {.s = slab,
                    .comm = comm,
                    .file = H5I_INVALID_HID,
                    .dxpl = H5I_INVALID_HID,
                    .dset = H5I_INVALID_HID,
                    .fspace = H5I_INVALID_HID,
                    .mrow = H5I_INVALID_HID,
                    .mnone = H5I_INVALID_HID};
    err = write_check(slab, path, comm, attr_names, attr_values, nattrs, components, &w.row);
    OTD_CHECK(otd_comm_agree(comm, err));
    bytes = file_bytes(slab, attr_values, nattrs, components);
    /* Rank 0 checks the path and creates the temporary file; every rank
     * returns its verdict and learns the temporary name. */
    OTD_CHECK(otd_comm_agree_share(comm, root ? write_start(path, bytes, &tmp) : OTD_OK));
    created = 1;
    if (root)
        len = strlen(tmp);
    OTD_CHECK(otd_comm_bcast_bytes(comm, &tmp, &len, 0));
    w.tmp = tmp;
    /* TRUNC: over the empty file rank 0 has just created. */
    err = otd_h5_open_mpio(tmp, comm, OTD_H5_CREATE_TR, &w.file, &w.dxpl);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, tmp));
    /* Again, in case HDF5 truncated the reservation with the file. */
    OTD_CHECK(otd_h5_reserve_all(comm, tmp, bytes, 0, WHAT));
    OTD_CHECK(write_file(&w, attr_names, attr_values, nattrs));
    if (root && components != NULL)
        err = write_components(tmp, components);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    if (root)
        err = commit_new(tmp, path);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    created = 0; /* in place: nothing to remove */
done:
    /* Every failure above passed an agreement, so all ranks close here
     * together, after rank 0 has emptied the file given up (its close then
     * has room for what it still writes); then it goes. No partial file is
     * left, under either name. */
    if (err != OTD_OK && created && root && w.file >= 0)
        otd_h5_abandon(tmp);
    writer_close(&w, &err);
    if (err != OTD_OK && created && root && tmp != NULL && unlink(tmp) != 0 && errno != ENOENT)
        otd_warn("cannot remove the temporary tensor file '%s': %s", tmp, strerror(errno));
    free(w.row);
    free(tmp);
    return err;
}
