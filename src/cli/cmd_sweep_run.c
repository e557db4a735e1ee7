/* cmd_sweep_run.c: `otd sweep-run DIR [--share FILE]`: the in-allocation
 * runner (otd_runner.h) as an MPI command. `otd sweep --local N` starts it
 * as one `mpirun -n N`; a Slurm job of `otd sweep --submit` runs it with
 * srun over its allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_comm.h"
#include "otd/otd_runner.h"

void otd_cmd_sweep_run_usage(FILE *out)
{
    fprintf(out, "usage: mpirun -n N otd sweep-run DIR [--share FILE] [--progress S]\n"
                 "\n"
                 "Run the points of the sweep directory DIR (written by `otd sweep`) that are\n"
                 "not done, all in this one MPI job: its N ranks form groups of each point's\n"
                 "`ranks` (1 unless the sweep file says otherwise), which take points from one\n"
                 "list, largest estimated cost first, and run them through the same run call\n"
                 "as `otd run` (results bitwise equal at the same rank count). Each outcome is\n"
                 "recorded as it happens (DIR/tasks/<name>.exit, DIR/logs/run-<name>.out); a\n"
                 "failing point is recorded and its group goes on. Points running in another\n"
                 "job are left alone; points of more ranks than N are recorded as failed.\n"
                 "\n"
                 "  --share FILE   only the points named in FILE (one per line): a Slurm job's\n"
                 "                 share of a packed sweep\n"
                 "  --progress S   a progress line every S seconds (default 5; 0: none)\n"
                 "  -h, --help     this help\n"
                 "\n"
                 "Signals (SIGUSR1, SIGUSR2, SIGTERM; SIGINT): every group checkpoints its\n"
                 "point at the next step, no new point starts, and the job exits 75 (130\n"
                 "after SIGINT): run it again to continue. Exit status: 0 every point done,\n"
                 "1 a point did not end done (or a runtime failure), 2 bad usage or sweep\n"
                 "directory.\n");
}

int otd_cmd_sweep_run(int argc, char **argv)
{
    otd_err err = OTD_OK;
    otd_comm *comm = NULL;
    otd_runner_opts o = {.jobid = "local", .progress_seconds = 5.0};
    otd_runner_result res;
    const char *slurm = getenv("SLURM_JOB_ID");
    int help = 0, status;
    memset(&res, 0, sizeof res);
    otd_cli_begin("sweep-run");
    /* The stop-signal handlers are main()'s (before MPI starts). */
    if ((err = otd_comm_create(&comm)) != OTD_OK)
        return otd_cli_finish(NULL, "sweep-run", err);
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help = 1;
        } else if (strcmp(argv[i], "--share") == 0 && i + 1 < argc) {
            o.share = argv[++i];
        } else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc) {
            o.progress_seconds = strtod(argv[++i], &end);
            if (*end != '\0' || !(o.progress_seconds >= 0))
                OTD_FAIL(OTD_ERR_ARG, "--progress '%s': seconds >= 0", argv[i]);
        } else if (argv[i][0] == '-') {
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd sweep-run --help)", argv[i]);
        } else if (o.dir == NULL) {
            o.dir = argv[i];
        } else {
            OTD_FAIL(OTD_ERR_ARG, "one sweep directory ('%s' and '%s' given)", o.dir, argv[i]);
        }
    }
    if (help) {
        if (otd_comm_rank(comm) == 0)
            otd_cmd_sweep_run_usage(stdout);
        goto done;
    }
    if (o.dir == NULL)
        OTD_FAIL(OTD_ERR_ARG, "no sweep directory (usage: otd sweep-run DIR)");
    if (slurm != NULL && slurm[0] != '\0')
        o.jobid = slurm;
    OTD_CHECK(otd_sweep_runner(comm, &o, &res));
    if (otd_comm_rank(comm) == 0) {
        printf("sweep-run: %lld points in %.3g s: %lld done, %lld failed%s\n", (long long)res.total,
               res.seconds, (long long)res.done, (long long)res.failed,
               res.signalled ? "; stopped by a signal: run again to continue" : "");
        fflush(stdout);
    }
done:
    status = otd_cli_finish(comm, "sweep-run", err);
    if (err == OTD_OK && !help) {
        if (res.signalled)
            status = res.interrupted ? OTD_EXIT_INTERRUPTED : OTD_EXIT_REQUEUE;
        else if (res.failed > 0 || res.done < res.total)
            status = OTD_EXIT_FAILURE;
    }
    otd_comm_destroy(comm);
    return status;
}
