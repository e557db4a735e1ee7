/* test_counter.c: the shared counters of the comm module at P ranks, kept
 * both ways: MPI one-sided atomics (what ranks on one node get, and
 * OTD_COUNTER=mpi) and files (what ranks on several nodes get, and
 * OTD_COUNTER=files; test_multinode.py runs them across nodes). Every rank adds 1 many times at
 * once: the values handed out must be 0 .. P*K-1, each exactly once, and a read afterwards P*K;
 * counters nobody touched stay 0. The files' directory is gone afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "otd_test.h"

#define K 200 /* adds per rank */

static char parent[200];

/* Suite set-up: a parent directory name per job (rank 0's pid), so that
 * concurrent rank counts do not collide. */
static int make_parent(void)
{
    otd_comm *c = otd_test_comm();
    int64_t pid = otd_comm_rank(c) == 0 ? (int64_t)getpid() : 0;
    if (otd_comm_bcast(c, &pid, sizeof pid, 0) != OTD_OK)
        return 1;
    snprintf(parent, sizeof parent, "/tmp/otd_counter_P%d_%lld", otd_comm_size(c), (long long)pid);
    return 0;
}

/* files: 0 the default (one node: MPI), 1 OTD_COUNTER=files, 2 =mpi. */
static void check_counts(int files)
{
    otd_comm *c = otd_test_comm();
    const int P = otd_comm_size(c);
    otd_counter *ct = NULL;
    uint64_t *hist = NULL;
    int64_t v = -1;
    struct stat st;
    if (files == 0)
        unsetenv("OTD_COUNTER");
    else
        setenv("OTD_COUNTER", files == 1 ? "files" : "mpi", 1);
    OTD_TEST_OK(otd_counter_create(c, 3, parent, &ct));
    if (files == 1) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(otd_counter_dir(ct));
        CU_ASSERT_EQUAL(strncmp(otd_counter_dir(ct), parent, strlen(parent)), 0);
        CU_ASSERT_EQUAL(stat(otd_counter_dir(ct), &st), 0);
    } else {
        CU_ASSERT_PTR_NULL(otd_counter_dir(ct)); /* one node: MPI's own */
    }
    hist = calloc((size_t)P * K, sizeof *hist);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hist);
    for (int i = 0; i < K; i++) {
        OTD_TEST_OK(otd_counter_add(ct, 1, 1, &v));
        CU_ASSERT_FATAL(v >= 0 && v < (int64_t)P * K);
        hist[v]++;
    }
    OTD_TEST_OK(otd_counter_add(ct, 2, 1, NULL));
    OTD_TEST_OK(otd_comm_sum_u64(c, hist, (size_t)P * K));
    for (int64_t i = 0; i < (int64_t)P * K; i++)
        if (hist[i] != 1) {
            fprintf(stderr, "value %lld handed out %llu times\n", (long long)i,
                    (unsigned long long)hist[i]);
            CU_FAIL("a value handed out other than once");
            break;
        }
    OTD_TEST_OK(otd_comm_barrier(c));
    OTD_TEST_OK(otd_counter_add(ct, 1, 0, &v));
    CU_ASSERT_EQUAL(v, (int64_t)P * K);
    OTD_TEST_OK(otd_counter_add(ct, 2, 0, &v));
    CU_ASSERT_EQUAL(v, P);
    OTD_TEST_OK(otd_counter_add(ct, 0, 0, &v));
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(otd_counter_add(ct, 3, 1, NULL), OTD_ERR_INTERNAL);
    otd_error_clear();
    if (files == 1) {
        CU_ASSERT_EQUAL(otd_counter_add(ct, 1, 2, NULL), OTD_ERR_INTERNAL);
        otd_error_clear();
    }
    otd_counter_destroy(ct);
    OTD_TEST_OK(otd_comm_barrier(c));
    CU_ASSERT_NOT_EQUAL(stat(parent, &st), 0); /* nothing left: not even the parent */
    OTD_TEST_OK(otd_comm_barrier(c));          /* before the next test makes it again */
    unsetenv("OTD_COUNTER");
    free(hist);
}

static void test_default(void)
{
    check_counts(0);
}

static void test_mpi(void)
{
    check_counts(2);
}

static void test_files(void)
{
    check_counts(1);
}

static void test_bad_choice(void)
{
    otd_counter *ct = NULL;
    setenv("OTD_COUNTER", "disk", 1);
    CU_ASSERT_EQUAL(otd_counter_create(otd_test_comm(), 1, parent, &ct), OTD_ERR_ARG);
    CU_ASSERT_PTR_NULL(ct);
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "OTD_COUNTER='disk'"));
    otd_error_clear();
    unsetenv("OTD_COUNTER");
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("counter", make_parent, NULL);
    CU_add_test(s, "one node: MPI one-sided", test_default);
    CU_add_test(s, "OTD_COUNTER=mpi", test_mpi);
    CU_add_test(s, "files", test_files);
    CU_add_test(s, "bad OTD_COUNTER", test_bad_choice);
}
