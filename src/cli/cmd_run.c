/* cmd_run.c: `otd run`: read the configuration on rank 0, agree on it
 * everywhere, and make the one run call (otd_run.h). Running the same
 * command again resumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_run.h"
#include "otd/otd_text.h"

void otd_cmd_run_usage(FILE *out)
{
    fprintf(
        out,
        "usage: mpirun -n P otd run [CONFIG.yaml] [--set KEY=VALUE]... [--out DIR] [--restart]\n"
        "                          [--quiet]\n"
        "       otd run --print-config [CONFIG.yaml] [--set KEY=VALUE]...\n"
        "\n"
        "Run one experiment. CONFIG.yaml holds any of the keys below, nested\n"
        "(problem:\\n  order: 3) or dotted (problem.order: 3); --set overrides them,\n"
        "later ones win. Every rank reads the same configuration (rank 0 reads the\n"
        "file); a bad key or value stops all ranks before anything is written.\n"
        "\n"
        "  --set KEY=VALUE   override one key (VALUE in YAML: 0.01, bl, [1, 0.5])\n"
        "  --out DIR         run directory (created; default otd-run-<config hash>)\n"
        "  --restart         set an earlier run in DIR aside (DIR/previous-N) and start over\n"
        "  --print-config    print the resolved configuration (YAML, every key, defaults\n"
        "                    filled in; `otd run` of it is the same run) and exit 0:\n"
        "                    nothing is created, no DIR, no lock\n"
        "  -q, --quiet       no banner or progress lines: errors (stderr) and the final\n"
        "                    line(s) only (done: ..., or why it stopped)\n"
        "  -h, --help        this help\n"
        "\n"
        "Output: DIR/results.h5 (resolved config, /history/<metric>, /target,\n"
        "/init/W, /final/W, /summary, and /provenance: hosts, start and finish times,\n"
        "this command line and its --set list, MPI/HDF5/BLAS/ScaLAPACK versions, Slurm\n"
        "job ids, one /provenance/resumes row per resume); see `otd info DIR/results.h5`.\n"
        "DIR/checkpoints/ holds the newest run.keep_checkpoints checkpoints.\n"
        "\n"
        "Running the same command again continues an unfinished run from its newest\n"
        "valid checkpoint (bit for bit at the same rank count; damaged checkpoints are\n"
        "renamed *.bad and an older one is used), refuses a checkpoint of another\n"
        "configuration (listing the keys that differ), and does nothing for a finished\n"
        "run of the same configuration (and refuses one of another). On resume,\n"
        "results.h5's /init/W and /target are checked bit for bit against the\n"
        "checkpoint and the regenerated target and rewritten if damaged; a results file\n"
        "whose HDF5 metadata is damaged is reported (exit 2). The stopping keys\n"
        "(algo.max_iters, algo.target_rel_err) may change on resume: the run stores the\n"
        "configuration it goes on under and records each change. A second run on\n"
        "DIR while one is running is refused, and so is a DIR whose .lock, results.h5,\n"
        "checkpoints/ or checkpoints/* is a symbolic link (otd never writes through\n"
        "one). SIGUSR1, SIGUSR2 and SIGTERM make every rank checkpoint at the next\n"
        "step and exit 75; SIGINT (Ctrl-C) does the same and exits 130 (a second\n"
        "Ctrl-C ends the process at once; the last committed checkpoint stays valid).\n"
        "The memory a run needs per rank is estimated and checked before anything\n"
        "large is allocated. Errors found while the run is set up (input files,\n"
        "memory) leave DIR as it was: no .lock, and no DIR if otd created it.\n"
        "\n"
        "algo.name = lazy_opt does not step: it solves the lazy model's normal\n"
        "equations (order m d, distributed ScaLAPACK Cholesky; the memory they need is\n"
        "checked first) and records W0 and W0 + Delta, /summary status \"solved\" with\n"
        "the optimal lazy error and lazy_* numbers of the solve.\n"
        "\n"
        "Exit status: 0 finished, 1 runtime failure, 2 bad usage, configuration or\n"
        "input file, 3 loss or gradient became non-finite (last good checkpoint\n"
        "kept), 75 checkpointed on a signal: resubmit to continue, 130 checkpointed\n"
        "on SIGINT: run the same command again to continue.\n"
        "\n"
        "");
    otd_config_print_help(out);
}

/* The command as typed, for /provenance: "otd" and every word of argv
 * (argv[0] is "run"), each quoted as a shell reads it back. */
static otd_err command_line(int argc, char **argv, otd_strbuf *b)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_strbuf_printf(b, "otd"));
    for (int k = 0; k < argc; k++) {
        OTD_CHECK(otd_strbuf_printf(b, " "));
        OTD_CHECK(otd_strbuf_shell_word(b, argv[k]));
    }
done:
    return err;
}

/* Collective: --print-config: rank 0 prints the canonical YAML of the
 * resolved configuration, what results.h5 stores as `config`. */
static otd_err print_config(otd_comm *comm, const otd_config *cfg)
{
    otd_err err = OTD_OK;
    char *yaml = NULL;
    if (otd_comm_rank(comm) == 0) {
        err = otd_config_to_yaml(cfg, &yaml);
        if (err == OTD_OK && (fputs(yaml, stdout) == EOF || fflush(stdout) != 0))
            err = OTD_ERROR(OTD_ERR_IO, "cannot write the configuration to standard output");
    }
    /* Every rank ends with rank 0's verdict. */
    err = otd_comm_agree(comm, err);
    free(yaml);
    return err;
}

int otd_cmd_run(int argc, char **argv)
{
    otd_err err = OTD_OK;
    otd_comm *comm = NULL;
    otd_config cfg;
    otd_cli_args args = {0};
    char outbuf[64];
    otd_run_summary sum;
    otd_strbuf command = {0};
    memset(&cfg, 0, sizeof cfg);
    memset(&sum, 0, sizeof sum);

    /* The stop signals' handlers are main()'s, installed before MPI started:
     * a signal that arrives while the run is being set up is honoured at its
     * first step, not lost or fatal. */
    if ((err = otd_comm_create(&comm)) != OTD_OK)
        return otd_cli_finish(NULL, "run", err);
    /* argv is the same on every rank, so is this verdict. */
    OTD_CHECK(otd_cli_parse_args(argc, argv, "run", &args));
    if (args.help) {
        if (otd_comm_rank(comm) == 0)
            otd_cmd_run_usage(stdout);
        goto done;
    }
    /* argv again: the same verdict on every rank, before anything is read. */
    if (args.out != NULL && args.out[0] == '\0')
        OTD_FAIL(OTD_ERR_ARG, "--out needs a directory name (it was given an empty one)");
    OTD_CHECK(otd_cli_load_config(comm, &args, &cfg));
    if (args.print_config) {
        OTD_CHECK(print_config(comm, &cfg));
        goto done;
    }
    if (args.out == NULL) {
        snprintf(outbuf, sizeof outbuf, "otd-run-%016llx",
                 (unsigned long long)otd_config_hash(&cfg));
        args.out = outbuf;
    }
    OTD_CHECK(command_line(argc, argv, &command));
    otd_run_opts opts = {.restart = args.restart,
                         .quiet = args.quiet,
                         .command = command.data,
                         .overrides = args.sets,
                         .noverrides = args.nsets};
    OTD_CHECK(otd_run(&cfg, comm, args.out, &opts, &sum));
done:
    otd_strbuf_free(&command);
    otd_cli_fail(comm, "run", err);
    otd_cli_args_free(&args);
    otd_config_free(&cfg);
    otd_comm_destroy(comm);
    /* Success ends with the run's status (0, or 75 after a checkpoint on a
     * signal, 130 on SIGINT); a failure with the error's. */
    return err == OTD_OK && !args.help && !args.print_config
               ? otd_status_exit_after(sum.status, sum.interrupted)
               : otd_exit_for_error(err);
}
