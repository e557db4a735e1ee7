/* cmd_sweep.c: `otd sweep FILE --out DIR`: expand a sweep file into DIR,
 * then optionally run its points here (--local N) or pack them into a few
 * Slurm jobs and submit those (--submit). A single process, without MPI
 * (main.c): it launches mpirun and sbatch as children, which an MPI
 * singleton could not do reliably. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/jobsdir.h"
#include "otd/otd_collect.h"
#include "otd/otd_fileio.h"
#include "otd/otd_sweep.h"
#include "otd/otd_text.h"

typedef struct {
    const char *file, *out;
    int local; /* --local N (0: not given) */
    int submit, unfinished, dry_run, help, replace;
    int quiet;              /* --quiet: errors and the final line only */
    int launch_each;        /* --launch-each: --local starts one mpirun per point (the old way) */
    otd_sweep_job_opts job; /* --nodes, --ntasks, --time, --jobs (0: the file's) */
    const char **sbatch;
    int nsbatch;
    const char **given; /* the job options as given (words), for the rerun command */
    int ngiven;
} sweep_args;

void otd_cmd_sweep_usage(FILE *out)
{
    fprintf(out,
            "usage: otd sweep FILE --out DIR [--local N | --submit] [--unfinished]\n"
            "                 [--nodes N] [--ntasks N] [--time T] [--jobs K] [--sbatch OPT]...\n"
            "                 [--replace] [--dry-run] [--quiet]\n"
            "\n"
            "Expand the sweep file FILE into DIR: one point per grid combination (last\n"
            "grid key fastest) and per entry of `points`, each the base config + `set` +\n"
            "its own values, validated by otd's config parser and named stably from its\n"
            "resolved config hash (duplicates merge). Writes DIR/sweep.yaml, manifest.tsv,\n"
            "configs/<name>.yaml and runs/, tasks/, logs/, jobs/. Rerunning with the same\n"
            "file changes nothing; with an edited grid or points the manifest follows the\n"
            "new points, and existing runs/<name>/ are never touched. DIR holds one sweep\n"
            "(DIR/sweep.id): a sweep with another name, base configuration or `set` is\n"
            "refused (exit 2, naming what differs) unless --replace is given. An invalid\n"
            "point is reported and kept (status invalid): its run fails at once with the\n"
            "same message. At most 100000 points (grid combinations plus entries of\n"
            "points). Without --local or --submit it prints how the points would be packed\n"
            "into Slurm jobs and the command that submits them.\n"
            "\n"
            "Sweep file keys: name, base (config path, relative to FILE), set (KEY: VALUE),\n"
            "grid (KEY: [values]), points (list of {KEY: VALUE}), ranks (per point, 1;\n"
            "a grid axis or a points entry may set `ranks` too); for Slurm: nodes (per\n"
            "job, 1), ntasks (MPI ranks per job, the largest point's ranks), time (per\n"
            "job, 01:00:00), jobs (default: enough, see below), gflops (assumed GFLOP/s\n"
            "per rank, 1), setup (shell lines run as written in every batch script, e.g.\n"
            "[\"module load openmpi\"]), sbatch (more #SBATCH options), signal_seconds\n"
            "(60), max_requeues (3).\n"
            "\n"
            "  --out DIR       the sweep directory (created)\n"
            "  --local N       run the points here in ONE MPI job of N ranks: `mpirun -n N\n"
            "                  otd sweep-run DIR` ($OTD_MPIEXEC instead of mpirun if set);\n"
            "                  its ranks form groups of each point's `ranks` and run the\n"
            "                  points in-process, largest first (see otd sweep-run --help);\n"
            "                  each point's output in DIR/logs/run-<name>.out\n"
            "  --launch-each   with --local: the fallback, one `mpirun -n <ranks> otd run\n"
            "                  configs/<name>.yaml --out runs/<name>` per point, N at a time,\n"
            "                  output in DIR/logs/local-<name>.out\n"
            "  --submit        pack the points into a few Slurm jobs and submit them: each\n"
            "                  job runs `srun otd sweep-run DIR --share DIR/jobs/job-B-K.points`\n"
            "                  over its allocation (B: this submission, K: the job); its\n"
            "                  script DIR/jobs/job-B-K.sbatch, its log job-B-K.out, its\n"
            "                  attempts job-B-K.exit; the job ids go to DIR/submissions.txt.\n"
            "                  The shares are balanced by estimated cost (flops of the step\n"
            "                  budget at `gflops` per rank), largest first into the least\n"
            "                  loaded job; by default there are as many jobs as keep each\n"
            "                  one's estimate within its time limit (less signal_seconds\n"
            "                  and 60 s). A point needing more ranks than --ntasks, or\n"
            "                  longer than a job, gets a job of its own sized from it.\n"
            "                  A job warned before its time limit checkpoints every point\n"
            "                  it runs, exits 75 and requeues itself (max_requeues).\n"
            "  --nodes N       nodes per job (overrides the file's `nodes`)\n"
            "  --ntasks N      MPI ranks per job (overrides `ntasks`)\n"
            "  --time T        time limit per job, as Slurm writes it (01:30:00, 2-00:00:00;\n"
            "                  overrides `time`)\n"
            "  --jobs K        K jobs share the points (overrides `jobs`)\n"
            "  --unfinished    only points not done (failed or never run; not running):\n"
            "                  the rerun command `otd collect` prints\n"
            "  --sbatch OPT    one more #SBATCH option, after the file's (repeatable); one\n"
            "                  word, its value after '=' (--mem=4G), as in the file; not\n"
            "                  --time, --nodes, --ntasks or --array (set per job)\n"
            "  --replace       DIR holds another sweep: make it this one's (its sweep.yaml,\n"
            "                  manifest and configs are rewritten; runs/, tasks/ are kept)\n"
            "  --dry-run       print the points, the jobs and the commands; write nothing\n"
            "  -q, --quiet     errors and the final line only (\"K of N points done\",\n"
            "                  \"submitted ...\", the submit or run command): no plan, no\n"
            "                  per-point or progress lines (--local: the job's own lines go\n"
            "                  to DIR/logs/sweep-run.out)\n"
            "  -h, --help      this help\n"
            "\n"
            "Exit status: 0 expanded (and, with --local, every point done; with --submit,\n"
            "submitted), 1 a point did not end done, or sbatch/mpirun/file system failed,\n"
            "2 bad usage, a missing or bad sweep file, or DIR holds another sweep\n"
            "(nothing written). Commands printed (submit:, the rerun) are shell-quoted.\n"
            "--local prints nothing about Slurm. The last of --local N (recorded in\n"
            "DIR/local.args) and --submit (DIR/submit.args, submissions.txt) is what the\n"
            "rerun command of `otd collect` repeats.\n");
}

static otd_err parse_args(int argc, char **argv, sweep_args *a)
{
    otd_err err = OTD_OK;
    OTD_ALLOC(a->sbatch, argc);
    OTD_ALLOC(a->given, 2 * argc);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *val = NULL;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            a->help = 1;
            continue;
        }
        if (strcmp(s, "--submit") == 0) {
            a->submit = 1;
            continue;
        }
        if (strcmp(s, "--unfinished") == 0) {
            a->unfinished = 1;
            continue;
        }
        if (strcmp(s, "--dry-run") == 0) {
            a->dry_run = 1;
            continue;
        }
        if (strcmp(s, "--replace") == 0) {
            a->replace = 1;
            continue;
        }
        if (strcmp(s, "--launch-each") == 0) {
            a->launch_each = 1;
            continue;
        }
        if (strcmp(s, "--quiet") == 0 || strcmp(s, "-q") == 0) {
            a->quiet = 1;
            continue;
        }
        if (s[0] != '-') {
            if (a->file != NULL)
                OTD_FAIL(OTD_ERR_ARG, "one sweep file at a time ('%s' and '%s')", a->file, s);
            a->file = s;
            continue;
        }
        /* The options with a value, as "--opt VALUE" or "--opt=VALUE". */
        static const char *const with_value[] = {"--out",    "--local", "--sbatch", "--nodes",
                                                 "--ntasks", "--time",  "--jobs"};
        enum { NWITH = sizeof with_value / sizeof *with_value };
        size_t w = 0, n = 0;
        for (; w < NWITH; w++) {
            n = strlen(with_value[w]);
            if (strncmp(s, with_value[w], n) == 0 && (s[n] == '\0' || s[n] == '='))
                break;
        }
        if (w == NWITH)
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd sweep --help)%s", s,
                     strncmp(s, "--throttle", 10) == 0
                         ? "; --throttle is gone: points are packed into a few jobs (--jobs)"
                         : "");
        if (s[n] == '=')
            val = s + n + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            OTD_FAIL(OTD_ERR_ARG, "%s needs a value", s);
        if (w >= 2) {
            /* As given, for the command that submits again. */
            a->given[a->ngiven++] = with_value[w];
            a->given[a->ngiven++] = val;
        }
        if (w == 0) {
            a->out = val;
        } else if (w == 2) {
            /* The rule the sweep file's sbatch options follow. */
            OTD_CHECK(otd_sweep_check_sbatch_option(val, "--sbatch"));
            a->sbatch[a->nsbatch++] = val;
        } else if (w == 5) {
            OTD_CHECK(otd_sweep_parse_time(val, "--time", &a->job.time_seconds));
        } else {
            char *end = NULL;
            long x;
            errno = 0;
            x = strtol(val, &end, 10);
            if (errno != 0 || end == val || *end != '\0' || x < 1 || x > INT_MAX)
                OTD_FAIL(OTD_ERR_ARG, "%s %s: expected an integer >= 1", with_value[w], val);
            if (w == 1)
                a->local = (int)x;
            else if (w == 3)
                a->job.nodes = (int)x;
            else if (w == 4)
                a->job.ntasks = (int)x;
            else
                a->job.jobs = (int)x;
        }
    }
    if (a->help)
        goto done;
    if (a->file == NULL)
        OTD_FAIL(OTD_ERR_ARG, "no sweep file given (see otd sweep --help)");
    if (a->out == NULL)
        OTD_FAIL(OTD_ERR_ARG, "--out DIR is required");
    if (a->local > 0 && a->submit)
        OTD_FAIL(OTD_ERR_ARG, "--local and --submit exclude each other");
    if (a->launch_each && a->local == 0)
        OTD_FAIL(OTD_ERR_ARG, "--launch-each goes with --local N");
    if (a->local > 0 && a->ngiven > 0)
        OTD_FAIL(OTD_ERR_ARG, "%s sizes Slurm jobs: it goes with --submit, not --local",
                 a->given[0]);
done:
    return err;
}

/* path made absolute against the working directory, without resolving
 * links (DIR may not exist yet). malloc'd. */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX], *out;
    size_t n;
    if (path[0] == '/')
        return strdup(path);
    if (getcwd(cwd, sizeof cwd) == NULL)
        return NULL;
    n = strlen(cwd) + 1 + strlen(path) + 1;
    if ((out = malloc(n)) != NULL)
        snprintf(out, n, "%s/%s", cwd, path);
    /* Trailing slashes would double up in paths built from it. */
    for (size_t k = strlen(out); out != NULL && k > 1 && out[k - 1] == '/'; k--)
        out[k - 1] = '\0';
    return out;
}

/* This otd, for the batch script and the commands printed. */
static void self_path(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        snprintf(buf, cap, "otd");
    else
        buf[n] = '\0';
}

/* Which points select_points picks. */
enum { SELECT_ALL, SELECT_UNFINISHED, SELECT_NOT_DONE };

/* The points to run or submit: all, or (--unfinished) those failed or
 * missing (a running point is left to its live run), or all not done. */
static otd_err select_points(const otd_sweep *s, const char *dir, int mode, int64_t *idx,
                             int64_t *n)
{
    otd_err err = OTD_OK;
    otd_point_info info;
    char config[1100], rundir[1100];
    memset(&info, 0, sizeof info);
    *n = 0;
    for (int64_t i = 0; i < otd_sweep_npoints(s); i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, i);
        otd_manifest_row row = {i,      (char *)p->name, p->valid ? "ok" : "invalid",
                                config, rundir,          p->ranks};
        snprintf(config, sizeof config, "configs/%s.yaml", p->name);
        snprintf(rundir, sizeof rundir, "runs/%s", p->name);
        if (mode != SELECT_ALL) {
            OTD_CHECK(otd_point_inspect(dir, &row, &info));
            int skip = info.status == OTD_POINT_DONE ||
                       (mode == SELECT_UNFINISHED && info.status == OTD_POINT_RUNNING);
            otd_point_info_free(&info);
            if (skip)
                continue;
        }
        idx[(*n)++] = i;
    }
done:
    otd_point_info_free(&info);
    return err;
}

/* Run sbatch (fork/exec, no shell), echo its output, take the job id from
 * "Submitted batch job N". */
static otd_err submit(char *const argv[], int quiet, char *jobid, size_t cap)
{
    otd_err err = OTD_OK;
    int fds[2] = {-1, -1}, st = 0;
    pid_t pid;
    char out[4096];
    size_t len = 0;
    ssize_t k;
    const char *p;
    jobid[0] = '\0';
    if (pipe(fds) != 0)
        OTD_FAIL(OTD_ERR_IO, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot start sbatch: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    fds[1] = -1;
    while ((k = read(fds[0], out + len, sizeof out - 1 - len)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0)
            len += (size_t)k;
    out[len] = '\0';
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!quiet)
        fputs(out, stdout);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        OTD_FAIL(OTD_ERR_IO, "sbatch failed (%s %d)%s", WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is Slurm installed?" : "");
    if ((p = strstr(out, "Submitted batch job ")) == NULL)
        OTD_FAIL(OTD_ERR_IO, "sbatch said nothing about a job id: '%s'", out);
    p += strlen("Submitted batch job ");
    snprintf(jobid, cap, "%.*s", (int)strspn(p, "0123456789"), p);
done:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return err;
}

/* One line of DIR/submissions.txt: "<time> <job id> jobs/<stem>.sbatch <points>". */
static otd_err record_submission(const char *dir, const char *jobid, const char *stem, int64_t n)
{
    otd_err err = OTD_OK;
    char path[4200];
    otd_strbuf line = {0};
    snprintf(path, sizeof path, "%s/submissions.txt", dir);
    OTD_CHECK(otd_strbuf_printf(&line, "%lld %s jobs/%s.sbatch %lld\n", (long long)time(NULL),
                                jobid, stem, (long long)n));
    OTD_CHECK(otd_append_line(path, line.data));
done:
    otd_strbuf_free(&line);
    return err;
}

/* The plan: one line for all, one per job (the first few). */
static void print_plan(const otd_sweep_plan *p, int64_t npoints)
{
    char t[32];
    int64_t shown = p->njobs <= 24 ? p->njobs : 20;
    otd_sweep_format_time(p->seconds, t, sizeof t);
    printf("slurm: %lld point%s in %lld job%s of %d node%s, %d task%s, --time=%s",
           (long long)npoints, npoints == 1 ? "" : "s", (long long)p->njobs,
           p->njobs == 1 ? "" : "s", p->nodes, p->nodes == 1 ? "" : "s", p->ntasks,
           p->ntasks == 1 ? "" : "s", t);
    if (p->njobs > p->nshared)
        printf(" (%lld of them a point's own)", (long long)(p->njobs - p->nshared));
    printf("; estimates at %.3g GFLOP/s per rank, at most %.0f s of a job\n", p->gflops, p->usable);
    for (int64_t k = 0; k < shown; k++) {
        const otd_sweep_job *j = &p->jobs[k];
        otd_sweep_format_time(j->seconds, t, sizeof t);
        printf("  job %lld: %lld point%s, %d node%s, %d task%s, --time=%s, estimated %.3g s%s\n",
               (long long)k, (long long)j->n, j->n == 1 ? "" : "s", j->nodes,
               j->nodes == 1 ? "" : "s", j->ntasks, j->ntasks == 1 ? "" : "s", t, j->estimate,
               j->own ? " (too large to share)" : "");
    }
    if (shown < p->njobs)
        printf("  ... and %lld more jobs\n", (long long)(p->njobs - shown));
}

/* `SELF sweep SOURCE --out DIR [--unfinished] --submit [the job options]`,
 * every word quoted. */
static otd_err submit_command(const char *self, const char *source, const char *dir,
                              const sweep_args *a, otd_strbuf *line)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_strbuf_shell_word(line, self));
    OTD_CHECK(otd_strbuf_printf(line, " sweep "));
    OTD_CHECK(otd_strbuf_shell_word(line, source));
    OTD_CHECK(otd_strbuf_printf(line, " --out "));
    OTD_CHECK(otd_strbuf_shell_word(line, dir));
    OTD_CHECK(otd_strbuf_printf(line, "%s --submit", a->unfinished ? " --unfinished" : ""));
    for (int k = 0; k < a->ngiven; k++) {
        OTD_CHECK(otd_strbuf_printf(line, " "));
        OTD_CHECK(otd_strbuf_shell_word(line, a->given[k]));
    }
done:
    return err;
}

/* Write each job's share and script (unless dry), print its sbatch
 * command, and submit it (unless dry), recording each submission. */
static otd_err submit_jobs(const otd_sweep *s, const char *dir, const otd_sweep_write_opts *o,
                           const otd_sweep_plan *plan, const sweep_args *a)
{
    otd_err err = OTD_OK;
    char stem[64], path[4300], jobid[64];
    char *share = NULL, *script = NULL;
    otd_strbuf line = {0}, args = {0}, ids = {0};
    int batch = 1;
    OTD_CHECK(otd_sweep_next_batch(dir, &batch));
    /* Every script and share first: a job that starts finds its share. */
    for (int64_t k = 0; k < plan->njobs; k++) {
        snprintf(stem, sizeof stem, "job-%d-%lld", batch, (long long)k);
        OTD_CHECK(otd_sweep_share_text(s, &plan->jobs[k], &share));
        OTD_CHECK(otd_sweep_job_text(s, dir, stem, &plan->jobs[k], o, &script));
        if (!a->dry_run) {
            snprintf(path, sizeof path, "%s/jobs/%s.points", dir, stem);
            OTD_CHECK(otd_write_file_atomic(path, share, strlen(share)));
            snprintf(path, sizeof path, "%s/jobs/%s.sbatch", dir, stem);
            OTD_CHECK(otd_write_file_atomic(path, script, strlen(script)));
        }
        free(share);
        free(script);
        share = script = NULL;
    }
    /* The job options, for the rerun command of `otd collect`. */
    OTD_CHECK(otd_strbuf_printf(&args, "%s", ""));
    for (int k = 0; k < a->ngiven; k++)
        OTD_CHECK(otd_strbuf_printf(&args, "%s\n", a->given[k]));
    if (!a->dry_run) {
        snprintf(path, sizeof path, "%s/submit.args", dir);
        OTD_CHECK(otd_write_file_atomic(path, args.data, args.len));
        /* --submit is now the last choice: the rerun command submits. */
        snprintf(path, sizeof path, "%s/local.args", dir);
        if (unlink(path) != 0 && errno != ENOENT)
            OTD_FAIL(OTD_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
    }
    OTD_CHECK(otd_strbuf_printf(&ids, "%s", ""));
    for (int64_t k = 0; k < plan->njobs; k++) {
        snprintf(stem, sizeof stem, "job-%d-%lld", batch, (long long)k);
        snprintf(path, sizeof path, "%s/jobs/%s.sbatch", dir, stem);
        line.len = 0;
        OTD_CHECK(otd_strbuf_printf(&line, "sbatch "));
        OTD_CHECK(otd_strbuf_shell_word(&line, path));
        if (!a->quiet || a->dry_run)
            printf("submit: %s\n", line.data);
        if (a->dry_run)
            continue;
        char *sargv[3] = {"sbatch", path, NULL};
        OTD_CHECK(submit(sargv, a->quiet, jobid, sizeof jobid));
        OTD_CHECK(record_submission(dir, jobid, stem, plan->jobs[k].n));
        OTD_CHECK(otd_strbuf_printf(&ids, "%s%s", k ? " " : "", jobid));
    }
    if (!a->dry_run) {
        line.len = 0;
        OTD_CHECK(otd_strbuf_printf(&line, "otd collect "));
        OTD_CHECK(otd_strbuf_shell_word(&line, dir));
        printf("submitted %lld job%s (%s); `%s` shows progress\n", (long long)plan->njobs,
               plan->njobs == 1 ? "" : "s", ids.data, line.data);
    }
done:
    free(share);
    free(script);
    otd_strbuf_free(&line);
    otd_strbuf_free(&args);
    otd_strbuf_free(&ids);
    return err;
}

/* DIR/local.args: how this sweep was last run here (one word a line,
 * "--local", N and "--launch-each" if given), for the rerun command of
 * `otd collect`, which would otherwise have to guess N. */
static otd_err record_local(const char *dir, const sweep_args *a)
{
    otd_err err = OTD_OK;
    char path[4200];
    otd_strbuf words = {0};
    OTD_CHECK(otd_strbuf_printf(&words, "--local\n%d\n%s", a->local,
                                a->launch_each ? "--launch-each\n" : ""));
    snprintf(path, sizeof path, "%s/local.args", dir);
    OTD_CHECK(otd_write_file_atomic(path, words.data, words.len));
done:
    otd_strbuf_free(&words);
    return err;
}

/* otd_sweep_run_job; with quiet, the job's stdout (progress lines, its
 * summary) goes to DIR/logs/sweep-run.out rather than this terminal, and
 * its stderr (errors) still here. The redirection is of this process's
 * stdout for the while: the launcher inherits it. */
static otd_err run_job(const char *dir, const char *self, const char *mpiexec, int nranks,
                       int quiet, int *code)
{
    otd_err err = OTD_OK;
    char path[4200];
    int fd = -1, saved = -1;
    if (!quiet)
        return otd_sweep_run_job(dir, self, mpiexec, nranks, code);
    snprintf(path, sizeof path, "%s/logs/sweep-run.out", dir);
    /* Never through a symbolic link, like every file otd writes in DIR. */
    if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fflush(stdout);
    if ((saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)) < 0 || dup2(fd, STDOUT_FILENO) < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot redirect the output to '%s': %s", path, strerror(errno));
    err = otd_sweep_run_job(dir, self, mpiexec, nranks, code);
done:
    if (saved >= 0) {
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
    if (fd >= 0)
        close(fd);
    return err;
}

typedef struct {
    const otd_sweep *s;
    const char *dir;
    const int64_t *idx;
    int64_t n, finished, not_done;
    int quiet;
} local_ctx;

/* One line per finished point: its state as `otd collect` will see it. */
static void point_done(void *vctx, int64_t k, int code)
{
    local_ctx *c = vctx;
    const otd_sweep_point *p = otd_sweep_point_at(c->s, c->idx[k]);
    char config[1100], rundir[1100];
    otd_manifest_row row = {c->idx[k], (char *)p->name, p->valid ? "ok" : "invalid",
                            config,    rundir,          p->ranks};
    otd_point_info info;
    snprintf(config, sizeof config, "configs/%s.yaml", p->name);
    snprintf(rundir, sizeof rundir, "runs/%s", p->name);
    c->finished++;
    if (otd_point_inspect(c->dir, &row, &info) != OTD_OK)
        info.status = OTD_POINT_FAILED;
    if (info.status != OTD_POINT_DONE)
        c->not_done++;
    if (!c->quiet)
        printf("[%lld/%lld] %s: %s (exit %d)%s%s\n", (long long)c->finished, (long long)c->n,
               p->name, otd_point_status_name(info.status), code,
               info.reason && info.reason[0] ? ": " : "", info.reason ? info.reason : "");
    fflush(stdout);
    otd_point_info_free(&info);
}

int otd_cmd_sweep(int argc, char **argv)
{
    otd_err err = OTD_OK;
    sweep_args a;
    otd_sweep *s = NULL;
    char *dir = NULL, *source = NULL, *jobs = NULL;
    otd_strbuf line = {0};
    const char **names = NULL;
    int64_t *idx = NULL, nsel = 0, ninvalid = 0;
    otd_sweep_plan plan;
    otd_sweep_write_opts o;
    char self[PATH_MAX];
    int status = OTD_EXIT_OK;
    memset(&a, 0, sizeof a);
    memset(&plan, 0, sizeof plan);
    memset(&o, 0, sizeof o);
    OTD_CHECK(parse_args(argc, argv, &a));
    if (a.help) {
        otd_cmd_sweep_usage(stdout);
        goto done;
    }
    OTD_CHECK(otd_sweep_load(a.file, &s));
    for (int64_t i = 0; i < otd_sweep_npoints(s); i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, i);
        if (!p->valid) {
            ninvalid++;
            otd_warn("point %lld %s is invalid: %s", (long long)i, p->name, p->error);
        }
    }
    if ((dir = absolute(a.out)) == NULL || (source = realpath(a.file, NULL)) == NULL)
        OTD_FAIL(OTD_ERR_IO, "cannot resolve the paths '%s' and '%s': %s", a.out, a.file,
                 strerror(errno));
    self_path(self, sizeof self);
    /* Refused before anything is written, like a bad sweep file. */
    OTD_CHECK(otd_sweep_check_job_opts(s, &a.job));
    OTD_CHECK(otd_jobs_dir(self, &jobs));
    o = (otd_sweep_write_opts){source, self, jobs, a.nsbatch, a.sbatch, a.replace};
    if (!a.dry_run) {
        OTD_CHECK(otd_sweep_write(s, dir, &o));
    } else {
        /* A dry run refuses what the real one would. */
        OTD_CHECK(otd_sweep_check_script_path(dir));
        if (!a.replace)
            OTD_CHECK(otd_sweep_check_dir(s, dir));
    }
    if (!a.quiet)
        printf("%s: %lld points (%lld duplicates merged, %lld invalid) in %s\n", otd_sweep_name(s),
               (long long)otd_sweep_npoints(s), (long long)otd_sweep_nmerged(s),
               (long long)ninvalid, dir);
    if (a.local > 0 && !a.dry_run)
        OTD_CHECK(record_local(dir, &a));
    if (a.dry_run && !a.quiet)
        for (int64_t i = 0; i < otd_sweep_npoints(s); i++)
            printf("  %lld %s%s\n", (long long)i, otd_sweep_point_at(s, i)->name,
                   otd_sweep_point_at(s, i)->valid ? "" : " (invalid)");
    OTD_ALLOC(idx, otd_sweep_npoints(s) + 1);
    OTD_CHECK(select_points(s, dir, a.unfinished ? SELECT_UNFINISHED : SELECT_ALL, idx, &nsel));
    if (a.unfinished && !a.quiet)
        printf("%lld of them not done\n", (long long)nsel);
    /* Slurm: how the points go into jobs. Never with --local: nothing of
     * it applies there. */
    if (a.local == 0) {
        OTD_CHECK(otd_sweep_pack(s, &a.job, idx, nsel, &plan));
        if (!a.quiet)
            print_plan(&plan, nsel);
    }
    if (nsel == 0) {
        if (a.submit || a.local)
            printf("nothing to do\n");
        goto done;
    }
    if (a.submit) {
        OTD_CHECK(submit_jobs(s, dir, &o, &plan, &a));
    } else if (a.local == 0) {
        OTD_CHECK(submit_command(self, source, dir, &a, &line));
        printf("submit: %s\n", line.data);
    } else if (a.dry_run) {
        const char *mpiexec = getenv("OTD_MPIEXEC");
        OTD_CHECK(otd_strbuf_shell_word(&line, mpiexec && mpiexec[0] ? mpiexec : "mpirun"));
        OTD_CHECK(otd_strbuf_printf(&line, " -n %d ", a.local));
        OTD_CHECK(otd_strbuf_shell_word(&line, self));
        OTD_CHECK(otd_strbuf_printf(&line, " sweep-run "));
        OTD_CHECK(otd_strbuf_shell_word(&line, dir));
        printf("run: %s\n", line.data);
    } else if (!a.launch_each) {
        const char *mpiexec = getenv("OTD_MPIEXEC");
        int code = 0;
        OTD_CHECK(run_job(dir, self, mpiexec && mpiexec[0] ? mpiexec : "mpirun", a.local, a.quiet,
                          &code));
        if (code == OTD_EXIT_REQUEUE || code == OTD_EXIT_INTERRUPTED)
            status = code;
        OTD_CHECK(select_points(s, dir, SELECT_NOT_DONE, idx, &nsel));
        printf("%lld of %lld points done\n", (long long)(otd_sweep_npoints(s) - nsel),
               (long long)otd_sweep_npoints(s));
        if (nsel > 0 && status == OTD_EXIT_OK)
            status = OTD_EXIT_FAILURE;
    } else {
        const char *mpiexec = getenv("OTD_MPIEXEC");
        local_ctx ctx = {s, dir, idx, nsel, 0, 0, a.quiet};
        OTD_ALLOC(names, nsel);
        for (int64_t k = 0; k < nsel; k++)
            names[k] = otd_sweep_point_at(s, idx[k])->name;
        OTD_CHECK(otd_sweep_run_local(dir, self, mpiexec && mpiexec[0] ? mpiexec : "mpirun", names,
                                      nsel, otd_sweep_slurm_settings(s)->ranks, a.local, point_done,
                                      &ctx));
        /* Every point of the sweep, not only those run now, must be done. */
        OTD_CHECK(select_points(s, dir, SELECT_NOT_DONE, idx, &nsel));
        printf("%lld of %lld points done\n", (long long)(otd_sweep_npoints(s) - nsel),
               (long long)otd_sweep_npoints(s));
        if (nsel > 0)
            status = OTD_EXIT_FAILURE;
    }
done:
    otd_sweep_plan_free(&plan);
    free(names);
    free(idx);
    otd_strbuf_free(&line);
    free(dir);
    free(source);
    free(jobs);
    free(a.sbatch);
    free(a.given);
    otd_sweep_destroy(s);
    return err != OTD_OK ? otd_cli_finish(NULL, "sweep", err) : status;
}
