/* cmd_collect.c: `otd collect DIR`: the state of every point of a sweep in
 * DIR/summary.csv and DIR/summary.h5, an overview on stdout, and the command
 * that reruns the points that are not done. A single process without MPI,
 * like `otd sweep`; it only reads the run directories. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_collect.h"
#include "otd/otd_text.h"

void otd_cmd_collect_usage(FILE *out)
{
    fprintf(out, "usage: otd collect DIR\n"
                 "\n"
                 "Gather every point of the sweep directory DIR (written by `otd sweep`) into\n"
                 "DIR/summary.csv and DIR/summary.h5 (one row per point: index, name, status,\n"
                 "reason, rundir, iters, wall_seconds, restarts, final_rel_err, final_loss,\n"
                 "every other numeric /summary attribute, then every configuration key with\n"
                 "its resolved value; summary.h5 has one dataset per column). Run directories\n"
                 "are only read. A point is\n"
                 "  done     its results.h5 says converged, max_iters or solved (lazy_opt)\n"
                 "  running  its run directory is locked by a live run\n"
                 "  failed   nonfinite; interrupted (results still `running`, no live run:\n"
                 "           resumable); invalid configuration; or its last task exited nonzero\n"
                 "  missing  not run yet\n"
                 "Failed and missing points are listed with the reason and the command that\n"
                 "reruns only them, with the same seeds.\n"
                 "\n"
                 "Exit status: 0 every point done, 1 some point not done (or a summary file\n"
                 "could not be written), 2 bad usage, or DIR missing or not a sweep directory.\n");
}

/* Points per `otd sweep --local` rerun: the cores here over the ranks of
 * a point (most sweeps use one or two), at least one. */
static long local_parallel(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 1 ? cores / 2 : 1;
}

/* The command that reruns the failed and missing points, every word
 * shell-quoted: pasted, it runs exactly this otd on exactly this sweep,
 * whatever the paths hold (spaces, quotes, $( ), non-ASCII). */
static otd_err print_rerun(const char *dir)
{
    otd_err err = OTD_OK;
    char self[PATH_MAX], sub[PATH_MAX + 32];
    char *source = otd_sweep_source(dir), *args = NULL;
    size_t len = 0;
    otd_strbuf cmd = {0};
    struct stat st;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        snprintf(self, sizeof self, "otd");
    else
        self[n] = '\0';
    snprintf(sub, sizeof sub, "%s/submissions.txt", dir);
    OTD_CHECK(otd_strbuf_shell_word(&cmd, self));
    OTD_CHECK(otd_strbuf_printf(&cmd, " sweep "));
    /* No record of the sweep file: a placeholder to fill in. */
    OTD_CHECK(source ? otd_strbuf_shell_word(&cmd, source) : otd_strbuf_printf(&cmd, "SWEEP.yaml"));
    OTD_CHECK(otd_strbuf_printf(&cmd, " --out "));
    OTD_CHECK(otd_strbuf_shell_word(&cmd, dir));
    /* Slurm if the sweep was ever submitted there, with the job options of
     * the last submission (DIR/submit.args, one word a line), else here. */
    if (stat(sub, &st) == 0) {
        OTD_CHECK(otd_strbuf_printf(&cmd, " --unfinished --submit"));
        snprintf(sub, sizeof sub, "%s/submit.args", dir);
        if (otd_read_text_file(sub, "submit.args", OTD_ERR_IO, &args, &len) != OTD_OK)
            otd_error_clear();
        for (char *w = args, *nl; w != NULL && *w; w = nl) {
            if ((nl = strchr(w, '\n')) != NULL)
                *nl++ = '\0';
            OTD_CHECK(otd_strbuf_printf(&cmd, " "));
            OTD_CHECK(otd_strbuf_shell_word(&cmd, w));
        }
    } else {
        OTD_CHECK(otd_strbuf_printf(&cmd, " --unfinished --local %ld", local_parallel()));
    }
    printf("rerun the failed and missing points (same seeds, done points untouched):\n  %s\n",
           cmd.data);
done:
    free(source);
    free(args);
    otd_strbuf_free(&cmd);
    return err;
}

/* While points are running: the rate since the first recorded outcome and
 * the time the rest would take at it, as `otd sweep-run` prints them. */
static void print_progress(const otd_collection *c)
{
    int64_t first = 0, ended = 0, left;
    for (int64_t i = 0; i < c->manifest.n; i++) {
        const otd_point_info *in = &c->info[i];
        if (in->attempts == 0)
            continue;
        first = first == 0 || in->first_time < first ? in->first_time : first;
        ended += in->status == OTD_POINT_DONE || in->status == OTD_POINT_FAILED;
    }
    left = c->manifest.n - ended;
    if (c->count[OTD_POINT_RUNNING] == 0 || ended == 0)
        return;
    double el = (double)(time(NULL) - first), rate = el > 0 ? (double)ended / el : 0.0;
    printf("progress: %lld of %lld points ended, %lld running, %.3g points/s, ETA %.0f s\n",
           (long long)ended, (long long)c->manifest.n, (long long)c->count[OTD_POINT_RUNNING], rate,
           rate > 0 ? (double)left / rate : 0.0);
}

int otd_cmd_collect(int argc, char **argv)
{
    otd_err err = OTD_OK;
    otd_collection c;
    const char *dirarg = NULL;
    char *dir = NULL;
    int status = OTD_EXIT_OK;
    memset(&c, 0, sizeof c);
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            otd_cmd_collect_usage(stdout);
            return OTD_EXIT_OK;
        }
        if (argv[k][0] == '-')
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd collect --help)", argv[k]);
        if (dirarg != NULL)
            OTD_FAIL(OTD_ERR_ARG, "one sweep directory at a time ('%s' and '%s' given)", dirarg,
                     argv[k]);
        dirarg = argv[k];
    }
    if (dirarg == NULL)
        OTD_FAIL(OTD_ERR_ARG, "no sweep directory given (see otd collect --help)");
    if ((dir = realpath(dirarg, NULL)) == NULL)
        OTD_FAIL(OTD_ERR_ARG, "cannot open sweep directory '%s': %s", dirarg, strerror(errno));
    OTD_CHECK(otd_collect(dir, &c));
    printf("%s: %lld points: %lld done, %lld running, %lld failed, %lld missing\n", dir,
           (long long)c.manifest.n, (long long)c.count[OTD_POINT_DONE],
           (long long)c.count[OTD_POINT_RUNNING], (long long)c.count[OTD_POINT_FAILED],
           (long long)c.count[OTD_POINT_MISSING]);
    printf("summary: %s/summary.csv, %s/summary.h5\n", dir, dir);
    print_progress(&c);
    for (int64_t i = 0; i < c.manifest.n; i++) {
        const otd_point_info *in = &c.info[i];
        if (in->status == OTD_POINT_DONE)
            continue;
        printf("  %-7s %lld %s%s%s\n", otd_point_status_name(in->status),
               (long long)c.manifest.rows[i].index, c.manifest.rows[i].name,
               in->reason[0] ? ": " : "", in->reason);
    }
    if (c.count[OTD_POINT_FAILED] + c.count[OTD_POINT_MISSING] > 0)
        OTD_CHECK(print_rerun(dir));
    /* Not an error, but not finished either: a script waiting on the sweep
     * tells the two apart by the status. */
    if (c.count[OTD_POINT_DONE] != c.manifest.n)
        status = OTD_EXIT_FAILURE;
done:
    otd_collection_free(&c);
    free(dir);
    return err != OTD_OK ? otd_cli_finish(NULL, "collect", err) : status;
}
