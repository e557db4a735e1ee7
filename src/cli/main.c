/* main.c: the `otd` command: pick the BLAS kernels, start MPI, dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "otd/otd_blas.h"
#include "otd/otd_comm.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "otd %s: over-parameterized tensor decomposition experiments on MPI\n"
            "\n"
            "usage: mpirun -n P otd run [CONFIG.yaml] [--set KEY=VALUE]... [--out DIR]\n"
            "       otd info FILE.h5\n"
            "       otd --help | --version\n"
            "\n"
            "commands:\n"
            "  run    run one experiment (gd, bl, tdp) over MPI; writes DIR/results.h5\n"
            "  info   summarize an otd HDF5 file (config, provenance, datasets, summary)\n"
            "\n"
            "`otd COMMAND --help` describes a command; `otd run --help` lists every\n"
            "configuration key with its default and allowed values.\n"
            "\n"
            "exit status: 0 finished, 1 runtime failure, 2 bad usage or configuration\n"
            "(nothing written), 3 loss or gradient became non-finite (results kept).\n",
            OTD_VERSION_STRING);
}

int main(int argc, char **argv)
{
    int status;
    /* Before anything loads BLAS work or MPI: may re-execute this process. */
    otd_blas_select(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? OTD_EXIT_USAGE : OTD_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("otd %s\n", OTD_VERSION_STRING);
        return OTD_EXIT_OK;
    }
    if (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "info") != 0) {
        fprintf(stderr, "otd: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return OTD_EXIT_USAGE;
    }
    if (otd_comm_init(&argc, &argv) != OTD_OK) {
        fprintf(stderr, "otd: cannot start MPI: %s\n", otd_error_message());
        return OTD_EXIT_FAILURE;
    }
    if (strcmp(argv[1], "run") == 0)
        status = otd_cmd_run(argc - 1, argv + 1);
    else
        status = otd_cmd_info(argc - 1, argv + 1);
    otd_comm_finalize();
    return status;
}
