/* main.c: the `otd` command: pick the BLAS kernels, start MPI, dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_blas.h"
#include "otd/otd_comm.h"
#include "otd/otd_signal.h"

#ifndef OTD_VERSION_STRING
#define OTD_VERSION_STRING "unknown"
#endif

/* One row per sub-command: dispatch and the command list of --help.
 *
 * `mpi` = 0 for the commands that are plain processes launching MPI jobs
 * (sweep, collect): an Open MPI singleton (MPI_Init without mpirun) starts
 * its own runtime daemon and leaves OMPI_ and PMIX_ variables in the
 * environment, which an mpirun started from it inherits and misreads as
 * being inside a job; and they do not need MPI at all (HDF5 with its serial
 * driver works without MPI_Init).
 *
 * `signals` = 1 for the commands that checkpoint on a stop signal (run,
 * sweep-run):
 * its handlers are installed here, before MPI starts, so that a signal in
 * the first moments of a run (even during MPI_Init) is honoured at its
 * first step instead of killing it. The others keep the default actions. */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    int mpi;
    int signals;
    const char *usage;
    const char *summary;
} commands[] = {
    {"run", otd_cmd_run, 1, 1,
     "mpirun -n P otd run [CONFIG.yaml] [--set KEY=VALUE]... [--out DIR] [--quiet]",
     "run one experiment (gd, bl, tdp, lazy_gd, lazy_opt) over MPI; writes DIR/results.h5"},
    {"tensor", otd_cmd_tensor, 1, 0,
     "mpirun -n P otd tensor [CONFIG.yaml] [--set KEY=VALUE]... --out FILE.h5",
     "write a generated target tensor (with noise) to FILE.h5 for problem.tensor_file"},
    {"bench", otd_cmd_bench, 1, 0, "mpirun -n P otd bench [--case ENGINE:l:d:m[:r]]...",
     "time the engines' steps against this machine's DGEMM rate and bandwidth"},
    {"info", otd_cmd_info, 1, 0, "otd info FILE.h5 [--json]",
     "summarize an otd HDF5 file (config, provenance, datasets, summary)"},
    {"sweep", otd_cmd_sweep, 0, 0,
     "otd sweep FILE --out DIR [--local N | --submit] [--unfinished] [--dry-run] [--quiet]",
     "expand a sweep file into a run per point; run them here or as a Slurm array"},
    {"sweep-run", otd_cmd_sweep_run, 1, 1, "mpirun -n N otd sweep-run DIR [--share FILE]",
     "run a sweep directory's unfinished points inside this one MPI job"},
    {"collect", otd_cmd_collect, 0, 0, "otd collect DIR [--json]",
     "gather a sweep's points into DIR/summary.csv and .h5; print the rerun command"},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *out)
{
    fprintf(out, "otd %s: over-parameterized tensor decomposition experiments on MPI\n\n",
            OTD_VERSION_STRING);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "%s %s\n", i == 0 ? "usage:" : "      ", commands[i].usage);
    fprintf(out, "       otd help [COMMAND] | otd --help\n"
                 "       otd version | otd --version\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "`otd help COMMAND` (= `otd COMMAND --help`) describes a command; `otd help\n"
                 "run` lists every configuration key with its default and allowed values.\n"
                 "\n"
                 "exit status (every command):\n"
                 "    0 finished (sweep, collect: every point done)\n"
                 "    1 runtime failure (sweep, collect: some point not done)\n"
                 "    2 bad usage, configuration or input file (nothing written)\n"
                 "    3 loss or gradient became non-finite (results kept)\n"
                 "   75 checkpointed on a signal (resubmit to continue)\n"
                 "  130 checkpointed on SIGINT (Ctrl-C; run the same command again)\n"
                 "Errors are one line \"otd COMMAND: message\" on stderr; OTD_DEBUG=1 adds the\n"
                 "source locations it passed (for bug reports).\n");
}

int main(int argc, char **argv)
{
    int status;
    size_t c = 0;
    otd_err err = OTD_OK;
    char *help_argv[4];
    /* Held from the first instruction: a stop signal that arrives before the
     * handlers are in place (the re-exec below, MPI_Init) stays pending. */
    otd_signal_hold();
    /* Before anything loads BLAS work or MPI: may re-execute this process. */
    otd_blas_select(argv);
    /* `otd help CMD` is `otd CMD --help`: the command's own help, printed by
     * the command itself (so the two can never differ), MPI and all. */
    if (argc >= 3 && strcmp(argv[1], "help") == 0) {
        help_argv[0] = argv[0];
        help_argv[1] = argv[2];
        help_argv[2] = "--help";
        help_argv[3] = NULL;
        if (argc > 3)
            return otd_cli_finish(NULL, NULL,
                                  OTD_ERROR(OTD_ERR_ARG, "help takes one command (see otd help)"));
        argc = 3;
        argv = help_argv;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? OTD_EXIT_USAGE : OTD_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("otd %s\n", OTD_VERSION_STRING);
        return OTD_EXIT_OK;
    }
    while (c < NCOMMANDS && strcmp(argv[1], commands[c].name) != 0)
        c++;
    if (c == NCOMMANDS)
        return otd_cli_finish(
            NULL, NULL, OTD_ERROR(OTD_ERR_ARG, "unknown command '%s' (see otd --help)", argv[1]));
    otd_cli_begin(commands[c].name);
    if (commands[c].signals && (err = otd_signal_install()) != OTD_OK)
        return otd_cli_finish(NULL, commands[c].name, err);
    otd_signal_release();
    if (!commands[c].mpi)
        return commands[c].fn(argc - 1, argv + 1);
    if ((err = otd_comm_init(&argc, &argv)) != OTD_OK)
        return otd_cli_finish(NULL, commands[c].name,
                              OTD_ERROR(err, "cannot start MPI: %s", otd_error_text()));
    status = commands[c].fn(argc - 1, argv + 1);
    otd_comm_finalize();
    return status;
}
