/* cmd_run.c: `otd run`: read the configuration on rank 0, agree on it
 * everywhere, prepare the output directory, hand over to the driver. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_driver.h"

void otd_cmd_run_usage(FILE *out)
{
    fprintf(out, "usage: mpirun -n P otd run [CONFIG.yaml] [--set KEY=VALUE]... [--out DIR]\n"
                 "\n"
                 "Run one experiment. CONFIG.yaml holds any of the keys below, nested\n"
                 "(problem:\\n  order: 3) or dotted (problem.order: 3); --set overrides them,\n"
                 "later ones win. Every rank reads the same configuration (rank 0 reads the\n"
                 "file); a bad key or value stops all ranks before anything is written.\n"
                 "\n"
                 "  --set KEY=VALUE   override one key (VALUE in YAML: 0.01, bl, [1, 0.5])\n"
                 "  --out DIR         output directory (created; default otd-run-<config hash>);\n"
                 "                    DIR/results.h5 must not exist yet\n"
                 "  -h, --help        this help\n"
                 "\n"
                 "Output: DIR/results.h5 (resolved config, provenance, /history/<metric>,\n"
                 "/target, /init/W, /final/W, /summary); see `otd info DIR/results.h5`.\n"
                 "Exit status: 0 finished, 1 runtime failure, 2 bad usage or configuration,\n"
                 "3 loss or gradient became non-finite.\n"
                 "\n"
                 "Configuration keys:\n");
    otd_config_print_help(out);
}

/* Rank 0 only: create dir and its parents (mkdir -p). */
static otd_err make_dirs(const char *dir)
{
    otd_err err = OTD_OK;
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        OTD_FAIL(OTD_ERR_IO, "output directory name too long: '%s'", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            OTD_FAIL(OTD_ERR_IO, "cannot create output directory '%s': %s", path, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        OTD_FAIL(OTD_ERR_IO, "output path '%s' exists and is not a directory", dir);
done:
    return err;
}

int otd_cmd_run(int argc, char **argv)
{
    otd_err err = OTD_OK, local = OTD_OK;
    otd_comm *comm = NULL;
    otd_config cfg;
    otd_cli_args args = {0};
    char outbuf[64];
    otd_run_summary sum;
    memset(&cfg, 0, sizeof cfg);

    if (otd_comm_create(&comm) != OTD_OK) {
        fprintf(stderr, "otd run: %s\n", otd_error_message());
        return OTD_EXIT_FAILURE;
    }
    /* argv is the same on every rank, so is this verdict. */
    OTD_CHECK(otd_cli_parse_args(argc, argv, "run", &args));
    if (args.help) {
        if (otd_comm_rank(comm) == 0)
            otd_cmd_run_usage(stdout);
        goto done;
    }
    OTD_CHECK(otd_cli_load_config(comm, &args, &cfg));
    if (args.out == NULL) {
        snprintf(outbuf, sizeof outbuf, "otd-run-%016llx",
                 (unsigned long long)otd_config_hash(&cfg));
        args.out = outbuf;
    }
    local = otd_comm_rank(comm) == 0 ? make_dirs(args.out) : OTD_OK;
    OTD_CHECK(otd_comm_agree(comm, local));
    OTD_CHECK(otd_driver_run(&cfg, comm, args.out, &sum));
done:
    otd_cli_fail(comm, "run", err);
    otd_cli_args_free(&args);
    otd_config_free(&cfg);
    otd_comm_destroy(comm);
    return otd_cli_exit_status(err);
}
