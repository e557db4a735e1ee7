/* comm_mpi.h: internal bridge for the parallel-I/O and ScaLAPACK modules,
 * which need the raw communicator. Everything else uses otd_comm.h. */
#ifndef OTD_COMM_MPI_H
#define OTD_COMM_MPI_H

#include <mpi.h>

#include "otd/otd_comm.h"

MPI_Comm otd_comm_raw(const otd_comm *c);

/* Check an MPI return code; on failure raise OTD_ERR_MPI and goto done. */
#define OTD_MPI(call)                                                                              \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != MPI_SUCCESS) {                                                              \
            char mpi_s_[MPI_MAX_ERROR_STRING];                                                     \
            int mpi_n_ = 0;                                                                        \
            MPI_Error_string(mpi_rc_, mpi_s_, &mpi_n_);                                            \
            OTD_FAIL(OTD_ERR_MPI, "%s failed: %s", #call, mpi_s_);                                 \
        }                                                                                          \
    } while (0)

#endif
