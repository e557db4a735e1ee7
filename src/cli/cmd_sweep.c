/* cmd_sweep.c: `otd sweep FILE --out DIR`: expand a sweep file into DIR,
 * then optionally run its points here (--local N) or submit the Slurm array
 * (--submit). A single process, without MPI (main.c): it launches mpirun
 * and sbatch as children, which an MPI singleton could not do reliably. */
#include <errno.h>
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

/* Slurm's default MaxArraySize: task ids 0..1000. */
#define SLURM_MAX_ARRAY_INDEX 1000

typedef struct {
    const char *file, *out;
    int local; /* --local N (0: not given) */
    int submit, unfinished, dry_run, help, replace;
    int throttle; /* --throttle K (0: the file's) */
    const char **sbatch;
    int nsbatch;
} sweep_args;

void otd_cmd_sweep_usage(FILE *out)
{
    fprintf(out,
            "usage: otd sweep FILE --out DIR [--local N | --submit] [--unfinished]\n"
            "                 [--sbatch OPT]... [--throttle K] [--replace] [--dry-run]\n"
            "\n"
            "Expand the sweep file FILE into DIR: one point per grid combination (last\n"
            "grid key fastest) and per entry of `points`, each the base config + `set` +\n"
            "its own values, validated by otd's config parser and named stably from its\n"
            "resolved config hash (duplicates merge). Writes DIR/sweep.yaml, manifest.tsv,\n"
            "configs/<name>.yaml, sweep.sbatch (the Slurm array) and runs/, tasks/, logs/.\n"
            "Rerunning with the same file changes nothing; with an edited grid or points\n"
            "the manifest and sbatch script follow the new points, and existing\n"
            "runs/<name>/ are never touched. DIR holds one sweep (DIR/sweep.id): a sweep\n"
            "with another name, base configuration or `set` is refused (exit 2, naming\n"
            "what differs) unless --replace is given. An invalid point is reported and\n"
            "kept (status invalid): its task fails at once with the same message. At\n"
            "most 100000 points (grid combinations plus entries of points).\n"
            "\n"
            "Sweep file keys: name, base (config path, relative to FILE), set (KEY: VALUE),\n"
            "grid (KEY: [values]), points (list of {KEY: VALUE}), ranks (per point, 1),\n"
            "throttle (8), sbatch ([\"--time=...\"]), signal_seconds (60), max_requeues (3).\n"
            "\n"
            "  --out DIR       the sweep directory (created)\n"
            "  --local N       run the points here, N at a time: `mpirun -n <ranks> otd run\n"
            "                  configs/<name>.yaml --out runs/<name>` in DIR ($OTD_MPIEXEC\n"
            "                  instead of mpirun if set), output in DIR/logs/local-<name>.out\n"
            "  --submit        submit DIR/sweep.sbatch with sbatch; the job id goes to\n"
            "                  DIR/submissions.txt\n"
            "  --unfinished    only points not done (failed or never run; not running):\n"
            "                  the rerun command `otd collect` prints\n"
            "  --sbatch OPT    one more #SBATCH option, after the file's (repeatable); one\n"
            "                  word, its value after '=' (--time=00:30:00), as in the file\n"
            "  --throttle K    at most K array tasks at once (overrides the file's)\n"
            "  --replace       DIR holds another sweep: make it this one's (its sweep.yaml,\n"
            "                  manifest and configs are rewritten; runs/, tasks/ are kept)\n"
            "  --dry-run       print the points and the command; write nothing\n"
            "  -h, --help      this help\n"
            "\n"
            "Exit status: 0 expanded (and, with --local, every point done; with --submit,\n"
            "submitted), 1 a point did not end done, or sbatch/mpirun/file system failed,\n"
            "2 bad usage, a missing or bad sweep file, or DIR holds another sweep\n"
            "(nothing written). Commands printed (submit:, the rerun) are shell-quoted.\n");
}

static otd_err parse_args(int argc, char **argv, sweep_args *a)
{
    otd_err err = OTD_OK;
    OTD_ALLOC(a->sbatch, argc);
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
        if (s[0] != '-') {
            if (a->file != NULL)
                OTD_FAIL(OTD_ERR_ARG, "one sweep file at a time ('%s' and '%s')", a->file, s);
            a->file = s;
            continue;
        }
        /* The options with a value, as "--opt VALUE" or "--opt=VALUE". */
        static const char *const with_value[] = {"--out", "--local", "--sbatch", "--throttle"};
        size_t w = 0, n = 0;
        for (; w < 4; w++) {
            n = strlen(with_value[w]);
            if (strncmp(s, with_value[w], n) == 0 && (s[n] == '\0' || s[n] == '='))
                break;
        }
        if (w == 4)
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd sweep --help)", s);
        if (s[n] == '=')
            val = s + n + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            OTD_FAIL(OTD_ERR_ARG, "%s needs a value", s);
        if (w == 0) {
            a->out = val;
        } else if (w == 2) {
            /* The rule the sweep file's sbatch options follow. */
            OTD_CHECK(otd_sweep_check_sbatch_option(val, "--sbatch"));
            a->sbatch[a->nsbatch++] = val;
        } else {
            char *end = NULL;
            long x;
            errno = 0;
            x = strtol(val, &end, 10);
            if (errno != 0 || end == val || *end != '\0' || x < 1 || x > INT_MAX)
                OTD_FAIL(OTD_ERR_ARG, "%s %s: expected an integer >= 1", with_value[w], val);
            if (w == 1)
                a->local = (int)x;
            else
                a->throttle = (int)x;
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
        otd_manifest_row row = {i, (char *)p->name, p->valid ? "ok" : "invalid", config, rundir};
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

/* "sbatch [--array=3,5%8] DIR/sweep.sbatch" as argv (and printable). */
static otd_err sbatch_argv(const otd_sweep *s, const char *dir, const sweep_args *a,
                           const int64_t *idx, int64_t n, char **arr, char *script, size_t cap)
{
    otd_err err = OTD_OK;
    size_t len = 0, acap = (size_t)n * 24 + 32;
    int throttle = a->throttle > 0 ? a->throttle : otd_sweep_slurm_settings(s)->throttle;
    *arr = NULL;
    snprintf(script, cap, "%s/sweep.sbatch", dir);
    if (!a->unfinished || n == otd_sweep_npoints(s))
        goto done;
    OTD_ALLOC(*arr, acap);
    len = (size_t)snprintf(*arr, acap, "--array=");
    for (int64_t k = 0; k < n; k++)
        len += (size_t)snprintf(*arr + len, acap - len, "%s%lld", k ? "," : "", (long long)idx[k]);
    snprintf(*arr + len, acap - len, "%%%d", throttle);
done:
    return err;
}

/* Run sbatch (fork/exec, no shell), echo its output, take the job id from
 * "Submitted batch job N". */
static otd_err submit(char *const argv[], char *jobid, size_t cap)
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

static otd_err record_submission(const char *dir, const char *jobid, const char *arr)
{
    otd_err err = OTD_OK;
    char path[4200];
    otd_strbuf line = {0};
    snprintf(path, sizeof path, "%s/submissions.txt", dir);
    OTD_CHECK(otd_strbuf_printf(&line, "%lld %s %s\n", (long long)time(NULL), jobid,
                                arr ? arr : "--array=all"));
    OTD_CHECK(otd_append_line(path, line.data));
done:
    otd_strbuf_free(&line);
    return err;
}

typedef struct {
    const otd_sweep *s;
    const char *dir;
    const int64_t *idx;
    int64_t n, finished, not_done;
} local_ctx;

/* One line per finished point: its state as `otd collect` will see it. */
static void point_done(void *vctx, int64_t k, int code)
{
    local_ctx *c = vctx;
    const otd_sweep_point *p = otd_sweep_point_at(c->s, c->idx[k]);
    char config[1100], rundir[1100];
    otd_manifest_row row = {c->idx[k], (char *)p->name, p->valid ? "ok" : "invalid", config,
                            rundir};
    otd_point_info info;
    snprintf(config, sizeof config, "configs/%s.yaml", p->name);
    snprintf(rundir, sizeof rundir, "runs/%s", p->name);
    c->finished++;
    if (otd_point_inspect(c->dir, &row, &info) != OTD_OK)
        info.status = OTD_POINT_FAILED;
    if (info.status != OTD_POINT_DONE)
        c->not_done++;
    printf("[%lld/%lld] %s: %s (exit %d)%s%s\n", (long long)c->finished, (long long)c->n, p->name,
           otd_point_status_name(info.status), code, info.reason && info.reason[0] ? ": " : "",
           info.reason ? info.reason : "");
    fflush(stdout);
    otd_point_info_free(&info);
}

int otd_cmd_sweep(int argc, char **argv)
{
    otd_err err = OTD_OK;
    sweep_args a;
    otd_sweep *s = NULL;
    char *dir = NULL, *source = NULL, *arr = NULL, *text = NULL, *jobs = NULL;
    otd_strbuf line = {0};
    const char **names = NULL;
    int64_t *idx = NULL, nsel = 0, ninvalid = 0;
    char self[PATH_MAX], script[4200], jobid[64];
    int status = OTD_EXIT_OK;
    memset(&a, 0, sizeof a);
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
    OTD_CHECK(otd_jobs_dir(self, &jobs));
    {
        otd_sweep_write_opts o = {source, self, jobs, a.throttle, a.nsbatch, a.sbatch, a.replace};
        if (!a.dry_run) {
            OTD_CHECK(otd_sweep_write(s, dir, &o));
        } else {
            /* A dry run refuses what the real one would. */
            OTD_CHECK(otd_sweep_sbatch_text(s, dir, &o, &text));
            if (!a.replace)
                OTD_CHECK(otd_sweep_check_dir(s, dir));
        }
    }
    printf("%s: %lld points (%lld duplicates merged, %lld invalid) in %s\n", otd_sweep_name(s),
           (long long)otd_sweep_npoints(s), (long long)otd_sweep_nmerged(s), (long long)ninvalid,
           dir);
    if (a.dry_run)
        for (int64_t i = 0; i < otd_sweep_npoints(s); i++)
            printf("  %lld %s%s\n", (long long)i, otd_sweep_point_at(s, i)->name,
                   otd_sweep_point_at(s, i)->valid ? "" : " (invalid)");
    OTD_ALLOC(idx, otd_sweep_npoints(s) + 1);
    OTD_CHECK(select_points(s, dir, a.unfinished ? SELECT_UNFINISHED : SELECT_ALL, idx, &nsel));
    if (a.unfinished)
        printf("%lld of them not done\n", (long long)nsel);
    OTD_CHECK(sbatch_argv(s, dir, &a, idx, nsel, &arr, script, sizeof script));
    if (nsel > 0 && idx[nsel - 1] > SLURM_MAX_ARRAY_INDEX)
        otd_warn("array index %lld exceeds Slurm's default MaxArraySize (%d); split the sweep "
                 "or raise MaxArraySize",
                 (long long)idx[nsel - 1], SLURM_MAX_ARRAY_INDEX + 1);
    OTD_CHECK(otd_strbuf_printf(&line, "sbatch "));
    if (arr != NULL) {
        OTD_CHECK(otd_strbuf_shell_word(&line, arr));
        OTD_CHECK(otd_strbuf_printf(&line, " "));
    }
    OTD_CHECK(otd_strbuf_shell_word(&line, script));
    printf("submit: %s\n", line.data);
    if (a.dry_run || nsel == 0) {
        if (nsel == 0 && (a.submit || a.local))
            printf("nothing to do\n");
        goto done;
    }
    if (a.submit) {
        char *sargv[4] = {"sbatch", NULL, NULL, NULL};
        sargv[1] = arr ? arr : script;
        sargv[2] = arr ? script : NULL;
        OTD_CHECK(submit(sargv, jobid, sizeof jobid));
        OTD_CHECK(record_submission(dir, jobid, arr));
        line.len = 0;
        OTD_CHECK(otd_strbuf_printf(&line, "otd collect "));
        OTD_CHECK(otd_strbuf_shell_word(&line, dir));
        printf("submitted job %s; `%s` shows progress\n", jobid, line.data);
    } else if (a.local > 0) {
        const char *mpiexec = getenv("OTD_MPIEXEC");
        local_ctx ctx = {s, dir, idx, nsel, 0, 0};
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
    free(names);
    free(idx);
    free(arr);
    free(text);
    otd_strbuf_free(&line);
    free(dir);
    free(source);
    free(jobs);
    free(a.sbatch);
    otd_sweep_destroy(s);
    return err != OTD_OK ? otd_cli_finish(NULL, "sweep", err) : status;
}
