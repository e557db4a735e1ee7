/* test_results.c: results.h5 written at P ranks, read back serially.
 *
 * Every rank writes a distributed matrix, replicated arrays, a history with
 * two flushes (so the datasets are extended twice, the second time across a
 * chunk boundary), a summary and root attributes; rank 0 then reopens the
 * file with the serial driver and checks every value bit for bit. Failure
 * paths: an existing file is refused with OTD_ERR_IO on every rank, and a
 * failing collective (dataset exists) returns the same error everywhere. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "otd/otd_results.h"
#include "otd_test.h"

/* d = 7 is divided by neither 2, 3 nor 4: uneven row blocks. */
#define D 7
#define NCOLS 3
#define R 2
#define N1 5
#define N2 1100 /* rows of the second flush: 5 + 1100 crosses the 1024-row chunk */
#define NSCALAR 3

static char path[256];

static double w_value(int64_t j, int64_t i)
{
    return 1000.0 * (double)j + (double)i + 0.25;
}
static double u_value(int64_t j, int64_t k)
{
    return -((double)j + 0.5 * (double)k);
}
static const double a_values[R] = {1.5, -0.5};

static double hist_scalar(int64_t t, int c)
{
    return c == 0 ? (double)t : c == 1 ? 0.5 * (double)t : (double)t + 0.125;
}
static double hist_vec(int64_t t, int k)
{
    return k == 0 ? 2.0 * (double)t : -(double)t;
}

static const char *config_yaml = "problem:\n  order: 3\n  dim: 7\nalgo:\n  name: bl\n";

/* One path per job: rank 0's pid, so concurrent rank counts do not collide. */
static void make_path(void)
{
    otd_comm *c = otd_test_comm();
    int64_t pid = otd_comm_rank(c) == 0 ? (int64_t)getpid() : 0;
    OTD_TEST_OK(otd_comm_bcast(c, &pid, sizeof pid, 0));
    snprintf(path, sizeof path, "/tmp/otd_test_results_P%d_%lld.h5", otd_comm_size(c),
             (long long)pid);
}

static void test_write(void)
{
    otd_comm *c = otd_test_comm();
    otd_results *res = NULL;
    otd_layout lay;
    double *local = NULL, *u = NULL;
    const otd_attr attrs[] = {{"config", config_yaml},
                              {"config_hash", "0123456789abcdef"},
                              {"otd_version", "test-version"},
                              {"blas", "OpenBLAS test"},
                              {"nranks", "ignored: stored as int64"}};
    const otd_results_column scalars[NSCALAR] = {
        {"iter", "iteration", NULL}, {"loss", "loss", NULL}, {"rel_err", "error", "s"}};
    const otd_results_column vecs[1] = {{"coef", "coefficients", NULL}};
    const otd_results_column undescribed[1] = {{"x", "", NULL}};
    const otd_attr sstr[] = {{"stop_reason", "target reached"}};
    const char *dnames[] = {"final_rel_err", "wall_seconds"};
    const double dvals[] = {1e-3, 12.5};
    const char *inames[] = {"iters"};
    const int64_t ivals[] = {N1 + N2};

    make_path();
    OTD_TEST_OK(otd_layout_init(&lay, D, otd_comm_rank(c), otd_comm_size(c)));
    local = calloc((size_t)(lay.nrows * NCOLS), sizeof *local);
    u = calloc(D * R, sizeof *u);
    CU_ASSERT_PTR_NOT_NULL_FATAL(local);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    for (int64_t i = 0; i < NCOLS; i++)
        for (int64_t jj = 0; jj < lay.nrows; jj++)
            local[i * lay.nrows + jj] = w_value(lay.row0 + jj, i);
    for (int64_t k = 0; k < R; k++)
        for (int64_t j = 0; j < D; j++)
            u[k * D + j] = u_value(j, k);

    OTD_TEST_OK(otd_results_create(path, c, attrs, 5, &res));
    /* Only datasets the file can describe: on every rank, before writing. */
    CU_ASSERT_EQUAL(otd_results_write_rows(res, "/other/W", &lay, local, NCOLS), OTD_ERR_ARG);
    CU_ASSERT_EQUAL(otd_results_history_define(res, undescribed, 1, NULL, 0, 0), OTD_ERR_ARG);
    OTD_TEST_OK(otd_results_write_rows(res, "/final/W", &lay, local, NCOLS));
    OTD_TEST_OK(otd_results_write_replicated(res, "/target/U", u, D, R));
    OTD_TEST_OK(otd_results_write_replicated(res, "/target/a", a_values, R, 0));
    OTD_TEST_OK(otd_results_history_define(res, scalars, NSCALAR, vecs, 1, R));
    for (int64_t t = 0; t < N1 + N2; t++) {
        double s[NSCALAR], v[R];
        for (int q = 0; q < NSCALAR; q++)
            s[q] = hist_scalar(t, q);
        for (int k = 0; k < R; k++)
            v[k] = hist_vec(t, k);
        OTD_TEST_OK(otd_results_history_append(res, s, v));
        if (t == N1 - 1) {
            OTD_TEST_OK(otd_results_history_flush(res));
            /* A flush with nothing buffered is a no-op, not an error. */
            OTD_TEST_OK(otd_results_history_flush(res));
        }
    }
    /* write_summary flushes the second batch. */
    OTD_TEST_OK(
        otd_results_write_summary(res, "converged", sstr, 1, dnames, dvals, 2, inames, ivals, 1));

    /* A failing collective gives the same verdict on every rank: a file
     * that could not be written, naming it and the dataset. */
    CU_ASSERT_EQUAL(otd_results_write_rows(res, "/final/W", &lay, local, NCOLS), OTD_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "/final/W"));
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "results file"));

    OTD_TEST_OK(otd_results_close(res));
    free(local);
    free(u);
}

/* Read a whole float64 dataset, checking its shape. */
static double *read_dataset(hid_t f, const char *name, int rank, const hsize_t *want)
{
    hid_t d = H5I_INVALID_HID, s = H5I_INVALID_HID;
    hsize_t dims[2] = {0, 0};
    double *buf = NULL;
    size_t n = 1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    s = H5Dget_space(d);
    CU_ASSERT_FATAL(s >= 0);
    CU_ASSERT_EQUAL_FATAL(H5Sget_simple_extent_ndims(s), rank);
    CU_ASSERT_FATAL(H5Sget_simple_extent_dims(s, dims, NULL) == rank);
    for (int k = 0; k < rank; k++) {
        CU_ASSERT_EQUAL_FATAL(dims[k], want[k]);
        n *= dims[k];
    }
    buf = calloc(n, sizeof *buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_FATAL(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

static void check_string_attr(hid_t loc, const char *name, const char *want)
{
    char *got = NULL;
    OTD_TEST_OK(otd_h5_attr_read_string(loc, name, &got));
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void check_number_attr(hid_t loc, const char *name, hid_t mtype, const void *want,
                              size_t size)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    char got[8] = {0};
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT(H5Aread(a, mtype, got) >= 0);
    CU_ASSERT(memcmp(got, want, size) == 0);
    H5Aclose(a);
}

/* Rank 0 only: the serial driver reads what the parallel writer wrote. */
static void test_read_back(void)
{
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    double *buf = NULL;
    const int64_t n = N1 + N2;
    if (otd_comm_rank(otd_test_comm()) != 0)
        return;
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);

    buf = read_dataset(f, "/final/W", 2, (hsize_t[]){D, NCOLS});
    for (int64_t j = 0; j < D; j++)
        for (int64_t i = 0; i < NCOLS; i++)
            CU_ASSERT_EQUAL(buf[j * NCOLS + i], w_value(j, i));
    free(buf);
    buf = read_dataset(f, "/target/U", 2, (hsize_t[]){D, R});
    for (int64_t j = 0; j < D; j++)
        for (int64_t k = 0; k < R; k++)
            CU_ASSERT_EQUAL(buf[j * R + k], u_value(j, k));
    free(buf);
    buf = read_dataset(f, "/target/a", 1, (hsize_t[]){R});
    CU_ASSERT(memcmp(buf, a_values, sizeof a_values) == 0);
    free(buf);

    {
        const char *names[NSCALAR] = {"/history/iter", "/history/loss", "/history/rel_err"};
        for (int q = 0; q < NSCALAR; q++) {
            buf = read_dataset(f, names[q], 1, (hsize_t[]){(hsize_t)n});
            for (int64_t t = 0; t < n; t++)
                CU_ASSERT_EQUAL(buf[t], hist_scalar(t, q));
            free(buf);
        }
        buf = read_dataset(f, "/history/coef", 2, (hsize_t[]){(hsize_t)n, R});
        for (int64_t t = 0; t < n; t++)
            for (int k = 0; k < R; k++)
                CU_ASSERT_EQUAL(buf[t * R + k], hist_vec(t, k));
        free(buf);
    }

    {
        hid_t d = H5Dopen2(f, "/history/rel_err", H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0);
        check_string_attr(d, "description", "error");
        check_string_attr(d, "unit", "s");
        H5Dclose(d);
        d = H5Dopen2(f, "/history/iter", H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0);
        CU_ASSERT(H5Aexists(d, "unit") == 0);
        H5Dclose(d);
        d = H5Dopen2(f, "/target/a", H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0);
        check_string_attr(d, "description",
                          "target weights a_k of T* = sum_k a_k u_k^l, after normalization");
        H5Dclose(d);
    }
    {
        int64_t nranks = otd_comm_size(otd_test_comm());
        check_string_attr(f, "config", config_yaml);
        check_string_attr(f, "config_hash", "0123456789abcdef");
        check_string_attr(f, "otd_version", "test-version");
        check_string_attr(f, "blas", "OpenBLAS test");
        check_number_attr(f, "nranks", H5T_NATIVE_INT64, &nranks, sizeof nranks);
    }
    {
        const double rel = 1e-3, wall = 12.5;
        const int64_t iters = n;
        g = H5Gopen2(f, "/summary", H5P_DEFAULT);
        CU_ASSERT_FATAL(g >= 0);
        check_string_attr(g, "status", "converged");
        check_string_attr(g, "stop_reason", "target reached");
        check_number_attr(g, "final_rel_err", H5T_NATIVE_DOUBLE, &rel, sizeof rel);
        check_number_attr(g, "wall_seconds", H5T_NATIVE_DOUBLE, &wall, sizeof wall);
        check_number_attr(g, "iters", H5T_NATIVE_INT64, &iters, sizeof iters);
        H5Gclose(g);
    }
    CU_ASSERT(H5Fclose(f) >= 0);
}

/* Results are never overwritten: the same verdict, naming the path, on all
 * ranks; and the file is intact afterwards. */
static void test_refuse_existing(void)
{
    otd_results *res = NULL;
    const otd_attr attrs[] = {{"config", "x"}};
    otd_err err = otd_results_create(path, otd_test_comm(), attrs, 1, &res);
    CU_ASSERT_EQUAL(err, OTD_ERR_IO);
    CU_ASSERT_PTR_NULL(res);
    /* rank 0 checked the path and says why; the others name rank 0 */
    if (otd_comm_rank(otd_test_comm()) == 0) {
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), path));
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "already exists"));
    } else {
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "rank 0"));
    }
    CU_ASSERT(H5Fis_hdf5(path) > 0);
}

/* A missing directory: an I/O error naming it, again on every rank. */
static void test_missing_directory(void)
{
    otd_results *res = NULL;
    char bad[300];
    snprintf(bad, sizeof bad, "%s.no_such_dir/results.h5", path);
    CU_ASSERT_EQUAL(otd_results_create(bad, otd_test_comm(), NULL, 0, &res), OTD_ERR_IO);
    CU_ASSERT_PTR_NULL(res);
    if (otd_comm_rank(otd_test_comm()) == 0)
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), bad));
}

static void test_cleanup(void)
{
    otd_comm *c = otd_test_comm();
    OTD_TEST_OK(otd_comm_barrier(c));
    if (otd_comm_rank(c) == 0)
        CU_ASSERT_EQUAL(unlink(path), 0);
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("results", NULL, NULL);
    CU_add_test(s, "parallel write", test_write);
    CU_add_test(s, "serial read back", test_read_back);
    CU_add_test(s, "existing file refused", test_refuse_existing);
    CU_add_test(s, "missing directory", test_missing_directory);
    CU_add_test(s, "cleanup", test_cleanup);
}
