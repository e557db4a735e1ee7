/* otd_test.h: the CUnit harness shared by unit and MPI tests.
 *
 * A test file defines `void otd_test_register(void)` adding its suites with
 * CU_add_suite/CU_add_test, and calls nothing else: otd_test_main() (the
 * main() in otd_test.c) initializes MPI, runs the registry on every rank
 * (verbose on rank 0, silent elsewhere), and fails the process if any rank
 * saw a failure. Tests reach the communicator through otd_test_comm(). */
#ifndef OTD_TEST_H
#define OTD_TEST_H

#include <CUnit/CUnit.h>

#include "otd/otd_comm.h"

void otd_test_register(void);

/* The job's communicator (valid while tests run). */
otd_comm *otd_test_comm(void);

/* Relative difference |a-b| / max(|a|,|b|,tiny). */
double otd_test_reldiff(double a, double b);

/* Max relative difference of two arrays, scaled by the larger max-norm. */
double otd_test_maxreldiff(const double *a, const double *b, size_t n);

/* Assert an otd call succeeded, printing the error message if not. */
#define OTD_TEST_OK(call)                                                                          \
    do {                                                                                           \
        otd_err t_err_ = (call);                                                                   \
        if (t_err_ != OTD_OK)                                                                      \
            fprintf(stderr, "%s:%d: %s -> %s\n%s\n", __FILE__, __LINE__, #call,                    \
                    otd_strerror(t_err_), otd_error_message());                                    \
        CU_ASSERT_EQUAL_FATAL(t_err_, OTD_OK);                                                     \
    } while (0)

#endif
