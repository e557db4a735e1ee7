/* cmd_collect.c: `otd collect DIR`: the state of every point of a sweep in
 * DIR/summary.csv and DIR/summary.h5, an overview on stdout, and the command
 * that reruns the points that are not done. A single process without MPI,
 * like `otd sweep`; it only reads the run directories. */
#include <errno.h>
#include <limits.h>
#include <math.h>
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
    fprintf(out,
            "usage: otd collect [--json] DIR\n"
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
            "reruns only them, with the same seeds: `otd sweep ... --unfinished` with the\n"
            "last way the sweep was run, --local N [--launch-each] (DIR/local.args) or\n"
            "--submit with its job options (DIR/submit.args); if neither is recorded,\n"
            "--local with half the cores here.\n"
            "\n"
            "  --json    print one JSON document instead of the text (the summary files\n"
            "            are written all the same):\n"
            "              {\"dir\", \"n_points\", \"counts\": {\"done\", \"running\",\n"
            "               \"failed\", \"missing\"}, \"complete\": bool,\n"
            "               \"summary\": {\"csv\", \"h5\"}, \"points\": [{\"index\", \"name\",\n"
            "               \"status\", \"reason\", \"config\", \"rundir\", \"ranks\", \"iters\",\n"
            "               \"attempts\", \"last_exit\", \"results\": {numeric /summary\n"
            "               attributes}}], \"rerun\": the command or null}\n"
            "            unknown numbers (and NaN, infinity) are null\n"
            "  -h, --help  this help\n"
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

/* The words of a one-word-a-line file (DIR/submit.args, local.args),
 * each appended to cmd as " WORD", shell-quoted. A file that cannot be read
 * adds nothing: *found says whether it was read. */
static otd_err append_words(otd_strbuf *cmd, const char *path, const char *what, int *found)
{
    otd_err err = OTD_OK;
    char *text = NULL;
    size_t len = 0;
    *found = otd_read_text_file(path, what, OTD_ERR_IO, &text, &len) == OTD_OK;
    if (!*found)
        otd_error_clear();
    for (char *w = text, *nl; w != NULL && *w; w = nl) {
        if ((nl = strchr(w, '\n')) != NULL)
            *nl++ = '\0';
        OTD_CHECK(otd_strbuf_printf(cmd, " "));
        OTD_CHECK(otd_strbuf_shell_word(cmd, w));
    }
done:
    free(text);
    return err;
}

/* The command that reruns the failed and missing points, every word
 * shell-quoted: pasted, it runs exactly this otd on exactly this sweep,
 * whatever the paths hold (spaces, quotes, $( ), non-ASCII). It repeats
 * the last way the sweep was run: DIR/local.args (written by --local N,
 * removed by --submit) or, after a submission, --submit with the job
 * options of the last one; with neither, --local with half the cores. */
static otd_err rerun_command(const char *dir, otd_strbuf *cmd)
{
    otd_err err = OTD_OK;
    char self[PATH_MAX], path[PATH_MAX + 32];
    char *source = otd_sweep_source(dir);
    struct stat st;
    int found = 0;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        snprintf(self, sizeof self, "otd");
    else
        self[n] = '\0';
    OTD_CHECK(otd_strbuf_shell_word(cmd, self));
    OTD_CHECK(otd_strbuf_printf(cmd, " sweep "));
    /* No record of the sweep file: a placeholder to fill in. */
    OTD_CHECK(source ? otd_strbuf_shell_word(cmd, source) : otd_strbuf_printf(cmd, "SWEEP.yaml"));
    OTD_CHECK(otd_strbuf_printf(cmd, " --out "));
    OTD_CHECK(otd_strbuf_shell_word(cmd, dir));
    OTD_CHECK(otd_strbuf_printf(cmd, " --unfinished"));
    snprintf(path, sizeof path, "%s/local.args", dir);
    OTD_CHECK(append_words(cmd, path, "local.args", &found));
    if (found)
        goto done;
    snprintf(path, sizeof path, "%s/submissions.txt", dir);
    if (stat(path, &st) == 0) {
        OTD_CHECK(otd_strbuf_printf(cmd, " --submit"));
        snprintf(path, sizeof path, "%s/submit.args", dir);
        OTD_CHECK(append_words(cmd, path, "submit.args", &found));
    } else {
        OTD_CHECK(otd_strbuf_printf(cmd, " --local %ld", local_parallel()));
    }
done:
    free(source);
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

/* `otd collect --json`: the collection as one JSON document (see the
 * usage). rerun: the command, or NULL when every point is done or
 * running. */
static void print_json(const char *dir, const otd_collection *c, const char *rerun)
{
    char path[PATH_MAX + 32];
    printf("{\"dir\": ");
    otd_json_string(stdout, dir);
    printf(", \"n_points\": %lld, \"counts\": {", (long long)c->manifest.n);
    for (int k = 0; k < OTD_POINT_NSTATUS_; k++) {
        printf("%s", k > 0 ? ", " : "");
        otd_json_string(stdout, otd_point_status_name((otd_point_status)k));
        printf(": %lld", (long long)c->count[k]);
    }
    printf("}, \"complete\": %s, \"summary\": {\"csv\": ",
           c->count[OTD_POINT_DONE] == c->manifest.n ? "true" : "false");
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    otd_json_string(stdout, path);
    printf(", \"h5\": ");
    snprintf(path, sizeof path, "%s/summary.h5", dir);
    otd_json_string(stdout, path);
    printf("},\n \"points\": [");
    for (int64_t i = 0; i < c->manifest.n; i++) {
        const otd_manifest_row *row = &c->manifest.rows[i];
        const otd_point_info *in = &c->info[i];
        printf("%s\n  {\"index\": %lld, \"name\": ", i > 0 ? "," : "", (long long)row->index);
        otd_json_string(stdout, row->name);
        printf(", \"status\": ");
        otd_json_string(stdout, otd_point_status_name(in->status));
        printf(", \"reason\": ");
        otd_json_string(stdout, in->reason);
        printf(", \"config\": ");
        otd_json_string(stdout, row->config);
        printf(", \"rundir\": ");
        otd_json_string(stdout, row->rundir);
        printf(", \"ranks\": %d, \"iters\": ", row->ranks);
        otd_json_number(stdout, in->iters >= 0 ? (double)in->iters : NAN);
        printf(", \"attempts\": %lld, \"last_exit\": ", (long long)in->attempts);
        otd_json_number(stdout, in->attempts > 0 ? in->last_code : NAN);
        printf(", \"results\": {");
        for (int k = 0; k < in->nnum; k++) {
            printf("%s", k > 0 ? ", " : "");
            otd_json_string(stdout, in->num_names[k]);
            printf(": ");
            otd_json_number(stdout, in->num_vals[k]);
        }
        printf("}}");
    }
    printf("],\n \"rerun\": ");
    if (rerun != NULL)
        otd_json_string(stdout, rerun);
    else
        printf("null");
    printf("}\n");
}

int otd_cmd_collect(int argc, char **argv)
{
    otd_err err = OTD_OK;
    otd_collection c;
    const char *dirarg = NULL;
    char *dir = NULL;
    int status = OTD_EXIT_OK, json = 0;
    otd_strbuf rerun = {0};
    memset(&c, 0, sizeof c);
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            otd_cmd_collect_usage(stdout);
            return OTD_EXIT_OK;
        }
        if (strcmp(argv[k], "--json") == 0) {
            json = 1;
            continue;
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
    if (c.count[OTD_POINT_FAILED] + c.count[OTD_POINT_MISSING] > 0)
        OTD_CHECK(rerun_command(dir, &rerun));
    /* Not an error, but not finished either: a script waiting on the sweep
     * tells the two apart by the status. */
    if (c.count[OTD_POINT_DONE] != c.manifest.n)
        status = OTD_EXIT_FAILURE;
    if (json) {
        print_json(dir, &c, rerun.data);
        goto done;
    }
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
    if (rerun.data != NULL)
        printf("rerun the failed and missing points (same seeds, done points untouched):\n  %s\n",
               rerun.data);
done:
    otd_strbuf_free(&rerun);
    otd_collection_free(&c);
    free(dir);
    return err != OTD_OK ? otd_cli_finish(NULL, "collect", err) : status;
}
