/* otd_test.c: main() for every CUnit test executable (see otd_test.h). */
#include "otd_test.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>

static otd_comm *test_comm;

otd_comm *otd_test_comm(void)
{
    return test_comm;
}

double otd_test_reldiff(double a, double b)
{
    double s = fmax(fabs(a), fabs(b));
    return s < 1e-300 ? 0.0 : fabs(a - b) / s;
}

double otd_test_maxreldiff(const double *a, const double *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - b[i]));
        den = fmax(den, fmax(fabs(a[i]), fabs(b[i])));
    }
    return den < 1e-300 ? num : num / den;
}

int main(int argc, char **argv)
{
    double failures = 0.0;
    int rank;
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 2;
    if (otd_comm_create(&test_comm) != OTD_OK) {
        fprintf(stderr, "otd_comm_create: %s\n", otd_error_message());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    rank = otd_comm_rank(test_comm);
    if (CU_initialize_registry() != CUE_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, 2);
    otd_test_register();
    CU_basic_set_mode(rank == 0 ? CU_BRM_VERBOSE : CU_BRM_SILENT);
    CU_basic_run_tests();
    failures = (double)CU_get_number_of_failures();
    /* Other ranks run silently: name their failures here. */
    if (rank != 0)
        for (CU_pFailureRecord f = CU_get_failure_list(); f != NULL; f = f->pNext)
            fprintf(stderr, "rank %d: %s:%u: %s: %s\n", rank, f->strFileName, f->uiLineNumber,
                    f->pTest ? f->pTest->pName : "?", f->strCondition);
    CU_cleanup_registry();
    /* A failure on any rank fails the test on every rank. */
    if (otd_comm_max(test_comm, &failures, 1) != OTD_OK)
        MPI_Abort(MPI_COMM_WORLD, 2);
    otd_comm_destroy(test_comm);
    MPI_Finalize();
    return failures > 0 ? 1 : 0;
}
