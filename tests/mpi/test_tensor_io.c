/* test_tensor_io.c: /T read into packed slabs and written back, at P ranks.
 *
 * Rank 0 writes a test tensor with the serial HDF5 driver as one d^l array;
 * every rank reads its slices with otd_slab_read and compares every packed
 * value with mult * T, and the norm with a brute-force sum; the slab written
 * with otd_slab_write is read back serially and compared entry by entry.
 * d = 7 gives uneven row blocks at 2, 3 and 4 ranks. Every validation error
 * is provoked with a small file: the code must be the same on every rank and
 * rank 0's message must say what is wrong and where. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "otd/otd_packed.h"
#include "otd/otd_tensor.h"
#include "otd_test.h"

#define D 7
#define KEY "problem.tensor_file"
#define NCOMP 3

static char prefix[200];

/* Suite set-up: one prefix per job, rank 0's pid, so that concurrent rank
 * counts do not collide. */
static int make_prefix(void)
{
    otd_comm *c = otd_test_comm();
    int64_t pid = otd_comm_rank(c) == 0 ? (int64_t)getpid() : 0;
    if (otd_comm_bcast(c, &pid, sizeof pid, 0) != OTD_OK)
        return 1;
    snprintf(prefix, sizeof prefix, "/tmp/otd_tio_P%d_%lld", otd_comm_size(c), (long long)pid);
    return 0;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s_%s.h5", prefix, name);
}

static int is_root(void)
{
    return otd_comm_rank(otd_test_comm()) == 0;
}

/* Rank 0 removes a file once every rank is done with it. */
static void remove_file(const char *path)
{
    OTD_TEST_OK(otd_comm_barrier(otd_test_comm()));
    if (is_root())
        unlink(path);
}

static int64_t ipow(int64_t d, int e)
{
    int64_t p = 1;
    for (int q = 0; q < e; q++)
        p *= d;
    return p;
}

/* A uniform value in [-1, 1) from a 64-bit key (splitmix64): no rand(). */
static double hash_uniform(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return (double)(x >> 11) / 4503599627370496.0 - 1.0;
}

/* Index of C-order position pos, and its sorted copy. */
static void unravel(int64_t pos, int l, int64_t d, int64_t *idx)
{
    for (int q = l - 1; q >= 0; q--) {
        idx[q] = pos % d;
        pos /= d;
    }
}

/* T = sum_k a_k u_k^{(x)l} + a symmetric pseudo-random tensor, as a full C
 * order array. Each value is computed from the sorted index alone (products
 * in sorted order, noise keyed by it), so T is symmetric bit for bit. */
static double *make_tensor(int l)
{
    int64_t n = ipow(D, l), idx[OTD_MAX_ORDER];
    double *T = malloc((size_t)n * sizeof *T);
    const double a[NCOMP] = {1.5, -0.75, 0.5};
    if (T == NULL)
        return NULL;
    for (int64_t pos = 0; pos < n; pos++) {
        uint64_t key = 0;
        double v = 0.0;
        unravel(pos, l, D, idx);
        otd_packed_sort(l, idx);
        for (int k = 0; k < NCOMP; k++) {
            double p = a[k];
            for (int q = 0; q < l; q++)
                p *= cos(0.7 * (double)(idx[q] + 1) * (double)(k + 1));
            v += p;
        }
        for (int q = 0; q < l; q++)
            key = key * D + (uint64_t)idx[q];
        T[pos] = v + 0.1 * hash_uniform(key ^ ((uint64_t)l << 56));
    }
    return T;
}

/* Rank 0: a new file with one dataset `name` of the given file type and
 * shape, written from `buf` (memory type mtype); NULL buf writes nothing
 * (only when ftype is a group marker, see below). Returns 1 on success. */
static int write_serial(const char *path, const char *name, hid_t ftype, int rank,
                        const hsize_t *dims, hid_t mtype, const void *buf)
{
    hid_t f = H5I_INVALID_HID, s = H5I_INVALID_HID, d = H5I_INVALID_HID;
    int ok = 0;
    unlink(path);
    if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return 0;
    if ((s = H5Screate_simple(rank, dims, NULL)) >= 0 &&
        (d = H5Dcreate2(f, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
        H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)
        ok = 1;
    if (d >= 0)
        H5Dclose(d);
    if (s >= 0)
        H5Sclose(s);
    return H5Fclose(f) >= 0 && ok;
}

/* Every rank learns whether rank 0's preparation worked (so that no rank
 * stops alone before a collective). */
static void shared_ok(int ok)
{
    int64_t v = ok;
    OTD_TEST_OK(otd_comm_bcast(otd_test_comm(), &v, sizeof v, 0));
    CU_ASSERT_FATAL(v == 1);
}

/* The tensor of order l as /T of shape (D,)*l, float64. */
static void write_tensor(const char *path, int l, const double *T)
{
    hsize_t dims[OTD_MAX_ORDER];
    int ok = 1;
    for (int q = 0; q < l; q++)
        dims[q] = D;
    if (is_root())
        ok = write_serial(path, "/T", H5T_IEEE_F64LE, l, dims, H5T_NATIVE_DOUBLE, T);
    shared_ok(ok);
}

/* The same error code on every rank. */
static void check_same_code(otd_err err)
{
    int64_t v[2] = {(int64_t)err, -(int64_t)err};
    OTD_TEST_OK(otd_comm_max_i64(otd_test_comm(), v, 2));
    CU_ASSERT_EQUAL(v[0], -v[1]);
}

/* otd_slab_read must fail with `want` everywhere, and rank 0's message hold
 * each of the NULL-terminated words. */
static void expect_read_error(const char *path, int l, double tol, otd_err want,
                              const char *const *words)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    otd_slab *s = NULL;
    otd_err err;
    OTD_TEST_OK(otd_layout_init(&lay, D, otd_comm_rank(c), otd_comm_size(c)));
    err = otd_slab_read(path, KEY, l, D, tol, &lay, c, &s);
    CU_ASSERT_EQUAL(err, want);
    CU_ASSERT_PTR_NULL(s);
    otd_slab_destroy(s);
    check_same_code(err);
    if (!is_root())
        return;
    for (int w = 0; words[w] != NULL; w++)
        if (strstr(otd_error_message(), words[w]) == NULL) {
            fprintf(stderr, "message lacks '%s':\n%s\n", words[w], otd_error_message());
            CU_FAIL("error message");
        }
}

/* Every packed value against mult * T; the norm against sum T^2. */
static void check_slab(const otd_slab *s, int l, const double *T)
{
    int k = l - 1;
    int64_t J[OTD_PACKED_MAX_K], p = 0, slice = ipow(D, k), bad = 0;
    double brute = 0.0;
    CU_ASSERT_EQUAL(s->order, l);
    CU_ASSERT_EQUAL(s->d, D);
    CU_ASSERT_EQUAL(s->np, otd_packed_count(D, k));
    otd_packed_first(k, J);
    do {
        int64_t off = 0;
        for (int q = 0; q < k; q++)
            off = off * D + J[q];
        double m = otd_packed_mult(k, J);
        for (int64_t i = 0; i < s->nrows; i++)
            if (s->S[i + p * s->nrows] != m * T[(s->row0 + i) * slice + off])
                bad++;
        p++;
    } while (otd_packed_next(k, D, J));
    CU_ASSERT_EQUAL(p, s->np);
    CU_ASSERT_EQUAL(bad, 0);
    for (int64_t q = 0; q < ipow(D, l); q++)
        brute += T[q] * T[q];
    CU_ASSERT(otd_test_reldiff(s->norm2, brute) <= 1e-13);
}

/* Rank 0: the written /T equals T, up to the rounding of packing: a value
 * is stored as mult * T and written back as (mult * T) / mult, which is T
 * itself when mult is a power of two and within half an ulp otherwise. */
static void check_written(const char *path, int l, const double *T)
{
    int64_t n = ipow(D, l), idx[OTD_MAX_ORDER], bad = 0, inexact = 0;
    double *got = malloc((size_t)n * sizeof *got);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5I_INVALID_HID;
    hid_t sp = H5I_INVALID_HID;
    hsize_t dims[OTD_MAX_ORDER];
    char *cfg = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_FATAL(f >= 0);
    d = H5Dopen2(f, "/T", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    sp = H5Dget_space(d);
    CU_ASSERT_EQUAL(H5Sget_simple_extent_ndims(sp), l);
    CU_ASSERT(H5Sget_simple_extent_dims(sp, dims, NULL) == l);
    for (int q = 0; q < l; q++)
        CU_ASSERT_EQUAL(dims[q], D);
    CU_ASSERT(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    for (int64_t pos = 0; pos < n; pos++) {
        unravel(pos, l, D, idx);
        otd_packed_sort(l - 1, idx + 1);
        double m = otd_packed_mult(l - 1, idx + 1);
        double want = (m * T[pos]) / m;
        if (got[pos] != want)
            bad++;
        if (got[pos] != T[pos])
            inexact++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* mult is 1 or 2 at l <= 3: the file is T exactly. */
    if (l <= 3)
        CU_ASSERT_EQUAL(inexact, 0);
    OTD_TEST_OK(otd_h5_attr_read_string(f, "config", &cfg));
    CU_ASSERT_STRING_EQUAL(cfg, "problem:\n  order: test\n");
    free(cfg);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    free(got);
}

/* Read, check, write back, check, refuse to overwrite: order l. */
static void round_trip(int l)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    otd_slab *s = NULL, *back = NULL;
    char in[256], out[256], name[32];
    const char *names[] = {"config", "otd_version"};
    const char *values[] = {"problem:\n  order: test\n", "test-version"};
    double *T = make_tensor(l);
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    snprintf(name, sizeof name, "in_l%d", l);
    tmp_path(in, sizeof in, name);
    snprintf(name, sizeof name, "out_l%d", l);
    tmp_path(out, sizeof out, name);
    write_tensor(in, l, T);
    OTD_TEST_OK(otd_layout_init(&lay, D, otd_comm_rank(c), otd_comm_size(c)));
    /* Exactly symmetric: accepted even at tolerance 0. */
    OTD_TEST_OK(otd_slab_read(in, KEY, l, D, 0.0, &lay, c, &s));
    check_slab(s, l, T);

    if (is_root())
        unlink(out);
    OTD_TEST_OK(otd_slab_write(s, out, c, names, values, 2, NULL));
    if (is_root())
        check_written(out, l, T);
    /* An existing file is refused on every rank, rank 0 naming it. */
    CU_ASSERT_EQUAL(otd_slab_write(s, out, c, names, values, 2, NULL), OTD_ERR_IO);
    if (is_root()) {
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), out));
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "already exists"));
    }
    /* What otd_slab_write wrote reads back as the same slab, up to the
     * rounding of (mult * T) / mult, which differs between rows: T[2, 4, 4, 4]
     * comes from mult 1, T[4, 2, 4, 4] from mult 3, so the file is symmetric
     * across mode 1 to an ulp, not bit for bit. */
    OTD_TEST_OK(otd_slab_read(out, KEY, l, D, 1e-15, &lay, c, &back));
    CU_ASSERT(otd_test_maxreldiff(back->S, s->S, (size_t)(s->nrows * s->np)) <= 1e-15);
    CU_ASSERT(otd_test_reldiff(back->norm2, s->norm2) <= 1e-14);
    otd_slab_destroy(back);
    otd_slab_destroy(s);
    remove_file(in);
    remove_file(out);
    free(T);
}

static void test_round_trip_l2(void)
{
    round_trip(2);
}
static void test_round_trip_l3(void)
{
    round_trip(3);
}
static void test_round_trip_l4(void)
{
    round_trip(4);
}

/* A float32 dataset is converted, not refused. */
static void test_float32(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    otd_slab *s = NULL;
    char path[256];
    hsize_t dims[3] = {D, D, D};
    double *T = make_tensor(3);
    int ok = 1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    tmp_path(path, sizeof path, "f32");
    if (is_root())
        ok = write_serial(path, "/T", H5T_IEEE_F32LE, 3, dims, H5T_NATIVE_DOUBLE, T);
    shared_ok(ok);
    for (int64_t q = 0; q < D * D * D; q++)
        T[q] = (double)(float)T[q];
    OTD_TEST_OK(otd_layout_init(&lay, D, otd_comm_rank(c), otd_comm_size(c)));
    OTD_TEST_OK(otd_slab_read(path, KEY, 3, D, 0.0, &lay, c, &s));
    check_slab(s, 3, T);
    otd_slab_destroy(s);
    remove_file(path);
    free(T);
}

static void test_missing_file(void)
{
    char path[256];
    tmp_path(path, sizeof path, "never_written");
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT,
                      (const char *[]){KEY, path, "cannot read", NULL});
}

static void test_not_hdf5(void)
{
    char path[256];
    int ok = 1;
    tmp_path(path, sizeof path, "text");
    if (is_root()) {
        FILE *f = fopen(path, "w");
        ok = f != NULL && fputs("this is not an HDF5 file\n", f) >= 0;
        if (f != NULL)
            ok = fclose(f) == 0 && ok;
    }
    shared_ok(ok);
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT,
                      (const char *[]){KEY, path, "not an HDF5 file", NULL});
    remove_file(path);
}

static void test_missing_dataset(void)
{
    char path[256];
    hsize_t dims[3] = {D, D, D};
    double *T = make_tensor(3);
    int ok = 1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    tmp_path(path, sizeof path, "no_T");
    if (is_root())
        ok = write_serial(path, "/X", H5T_IEEE_F64LE, 3, dims, H5T_NATIVE_DOUBLE, T);
    shared_ok(ok);
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT,
                      (const char *[]){KEY, path, "no dataset /T", NULL});
    remove_file(path);
    free(T);
}

/* Order 4 in the file, problem.order = 3: a contradiction of the
 * configuration, so OTD_ERR_CONFIG. */
static void test_wrong_order(void)
{
    char path[256];
    double *T = make_tensor(4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    tmp_path(path, sizeof path, "order4");
    write_tensor(path, 4, T);
    expect_read_error(
        path, 3, 1e-10, OTD_ERR_CONFIG,
        (const char *[]){KEY, path, "/T has 4 dimensions but problem.order = 3", NULL});
    remove_file(path);
    free(T);
}

static void test_wrong_shape(void)
{
    char path[256];
    hsize_t dims[3] = {D, D, D + 1};
    double *buf = calloc(D * D * (D + 1), sizeof *buf);
    int ok = 1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    tmp_path(path, sizeof path, "shape");
    if (is_root())
        ok = write_serial(path, "/T", H5T_IEEE_F64LE, 3, dims, H5T_NATIVE_DOUBLE, buf);
    shared_ok(ok);
    expect_read_error(
        path, 3, 1e-10, OTD_ERR_CONFIG,
        (const char *[]){KEY, path, "/T has shape (7, 7, 8), but problem.dim = 7", NULL});
    remove_file(path);
    free(buf);
}

/* Integers are refused rather than silently converted: a tensor file is
 * written by a program that knows it holds reals. */
static void test_integer_type(void)
{
    char path[256];
    hsize_t dims[3] = {D, D, D};
    int *buf = calloc(D * D * D, sizeof *buf);
    int ok = 1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    tmp_path(path, sizeof path, "int");
    if (is_root())
        ok = write_serial(path, "/T", H5T_STD_I32LE, 3, dims, H5T_NATIVE_INT, buf);
    shared_ok(ok);
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT,
                      (const char *[]){KEY, path, "not floating-point", "integer", NULL});
    remove_file(path);
    free(buf);
}

/* NaN at [2, 5, 1], and later non-finite values in the same row and in a
 * row of another rank: the first in C order is reported. */
static void test_nonfinite(void)
{
    char path[256];
    double *T = make_tensor(3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    tmp_path(path, sizeof path, "nan");
    T[(2 * D + 5) * D + 1] = NAN;
    T[(2 * D + 6) * D + 0] = INFINITY;
    T[(5 * D + 1) * D + 1] = -INFINITY;
    T[(6 * D + 0) * D + 0] = NAN;
    write_tensor(path, 3, T);
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT,
                      (const char *[]){KEY, path, "T[2, 5, 1] = nan", "not finite", NULL});
    remove_file(path);
    /* An infinity alone, in the last rank's rows. */
    T[(2 * D + 5) * D + 1] = 0.0;
    T[(2 * D + 6) * D + 0] = 0.0;
    T[(6 * D + 0) * D + 0] = 0.0;
    write_tensor(path, 3, T);
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT, (const char *[]){"T[5, 1, 1] = -inf", NULL});
    remove_file(path);
    free(T);
}

/* One entry off by 1e-3: refused at the default tolerance with the pair
 * that shows it (either partner of T[1, 4, 2]), accepted at 1e-2. */
static void test_asymmetric(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    otd_slab *s = NULL;
    char path[256];
    double *T = make_tensor(3), maxabs = 0.0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    tmp_path(path, sizeof path, "asym");
    T[(1 * D + 4) * D + 2] += 1e-3;
    for (int64_t q = 0; q < D * D * D; q++)
        maxabs = fmax(maxabs, fabs(T[q]));
    /* The test needs 1e-3 / max|T| between the two tolerances. */
    CU_ASSERT_FATAL(1e-3 / maxabs > 1e-10 && 1e-3 / maxabs < 1e-2);
    write_tensor(path, 3, T);
    expect_read_error(path, 3, 1e-10, OTD_ERR_FORMAT,
                      (const char *[]){KEY, path, "not symmetric", "T[1, 4, 2]", "vs T[",
                                       "relative to max |T|", NULL});
    OTD_TEST_OK(otd_layout_init(&lay, D, otd_comm_rank(c), otd_comm_size(c)));
    OTD_TEST_OK(otd_slab_read(path, KEY, 3, D, 1e-2, &lay, c, &s));
    otd_slab_destroy(s);
    remove_file(path);
    free(T);
}

/* Suite clean-up: whatever a failed test left behind. */
static int remove_all(void)
{
    static const char *const names[] = {"in_l2",  "out_l2", "in_l3", "out_l3", "in_l4",
                                        "out_l4", "f32",    "text",  "no_T",   "order4",
                                        "shape",  "int",    "nan",   "asym"};
    char path[256];
    if (otd_comm_barrier(otd_test_comm()) != OTD_OK)
        return 1;
    for (size_t q = 0; is_root() && q < sizeof names / sizeof *names; q++) {
        tmp_path(path, sizeof path, names[q]);
        unlink(path);
    }
    return 0;
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("tensor_io", make_prefix, remove_all);
    CU_add_test(s, "round trip l = 2", test_round_trip_l2);
    CU_add_test(s, "round trip l = 3", test_round_trip_l3);
    CU_add_test(s, "round trip l = 4", test_round_trip_l4);
    CU_add_test(s, "float32 converted", test_float32);
    CU_add_test(s, "missing file", test_missing_file);
    CU_add_test(s, "not HDF5", test_not_hdf5);
    CU_add_test(s, "missing /T", test_missing_dataset);
    CU_add_test(s, "wrong order", test_wrong_order);
    CU_add_test(s, "wrong shape", test_wrong_shape);
    CU_add_test(s, "integer type", test_integer_type);
    CU_add_test(s, "non-finite value", test_nonfinite);
    CU_add_test(s, "asymmetry", test_asymmetric);
}
