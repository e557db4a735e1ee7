/* otd_sweep.h: a sweep file expanded into points, and the sweep directory.
 *
 * A sweep file (format: docs/file-formats.md) names a base config, fixed
 * overrides, a grid and explicit points. Each point is the base file's keys,
 * then `set`, then its grid values or point entries (later wins), written as
 * one config file and validated by otd's own config parser: the file written
 * is exactly what was validated, so `otd run` on it reaches the same verdict.
 * Points are named stably from the resolved config hash; duplicates merge.
 *
 * Nothing here uses MPI: `otd sweep` and `otd collect` are single processes
 * that launch MPI jobs (mpirun, sbatch) as children. */
#ifndef OTD_SWEEP_H
#define OTD_SWEEP_H

#include <stdint.h>

#include "otd/otd_error.h"

typedef struct otd_sweep otd_sweep;

/* At most this many points per sweep, counted as listed (grid combinations
 * plus entries of `points`, before duplicates merge). */
#define OTD_SWEEP_MAX_POINTS 100000

typedef struct {
    const char *name;          /* "<readable>-<10 hex digits>"; unique in the sweep */
    int valid;                 /* 0: the configuration is invalid, see error */
    const char *error;         /* invalid: the config error (key, value, allowed), one line */
    const char *config;        /* text of configs/<name>.yaml: the resolved canonical YAML, or
                                * for an invalid point the merged keys as written */
    const char *const *values; /* per swept key: its value as written ("" if not set) */
    int ranks;                 /* MPI ranks it runs on: its own `ranks`, else the sweep's */
    double cost;               /* estimated flops (otd_algo_cost; 0 for an invalid point) */
} otd_sweep_point;

/* The key of a grid axis or a points entry that sets a point's rank count
 * (not a configuration key), and its largest value. */
#define OTD_SWEEP_POINT_RANKS "ranks"
#define OTD_SWEEP_MAX_RANKS 65536

/* Slurm and launch settings of the sweep file, with their defaults. */
typedef struct {
    int ranks;          /* MPI ranks per point, >= 1 (default 1) */
    int nodes;          /* nodes per job (0: not set; default 1) */
    int ntasks;         /* MPI ranks per job (0: not set; default the largest point's ranks) */
    int time_seconds;   /* time limit per job (0: not set; default OTD_SWEEP_TIME_DEFAULT) */
    int jobs;           /* jobs sharing the points (0: as many as the estimate needs) */
    double gflops;      /* assumed GFLOP/s per rank (default OTD_SWEEP_GFLOPS_DEFAULT) */
    int signal_seconds; /* --signal=B:USR1@N (default 60) */
    int max_requeues;   /* (default 3) */
    int nsbatch;
    char **sbatch; /* extra #SBATCH options, in file order */
    int nsetup;
    char **setup; /* `setup`: shell lines for every batch script, as written */
} otd_sweep_slurm;

/* The defaults of a job's time limit (seconds) and of the assumed rate
 * that turns a point's estimated flops into seconds: conservative, several
 * times below what otd's steps reach on one core of a current CPU (about
 * 8 to 14 GFLOP/s measured by the step-flops model at d = 20, m = 12 ...
 * 400), so that an estimate errs on the long side. */
#define OTD_SWEEP_TIME_DEFAULT 3600
#define OTD_SWEEP_GFLOPS_DEFAULT 1.0
/* Seconds a point costs besides its flops (its files, its setup), and a
 * job besides its points (start, MPI, the last checkpoint): estimates. */
#define OTD_SWEEP_POINT_OVERHEAD 0.1
#define OTD_SWEEP_JOB_OVERHEAD 60

/* Read and expand the sweep file at path. Fatal errors (OTD_ERR_CONFIG,
 * message naming file, line and key): a missing or unreadable sweep file, a
 * YAML error, an unknown sweep key, a missing base file, an unknown
 * configuration key, an empty grid list, a bad sbatch option, more than
 * OTD_SWEEP_MAX_POINTS points (refused before any point is built). An
 * invalid point is not fatal: it is kept with valid = 0.
 * Free with otd_sweep_destroy (accepts NULL). Not collective. */
otd_err otd_sweep_load(const char *path, otd_sweep **out);
void otd_sweep_destroy(otd_sweep *s);

/* The one rule for an extra #SBATCH option, from the sweep file's `sbatch`
 * or from --sbatch: one word starting with '-', its value after '='
 * (--mem=4G), no control character, no backslash (Slurm's script parser
 * reads it as an escape), and none of the options otd sets per job from
 * its packing (--time, --nodes, --ntasks, --array and their short forms:
 * the keys time, nodes, ntasks say them). The value may hold spaces: the
 * option is written as one quoted word. OTD_ERR_CONFIG naming `what` (where it came
 * from, e.g. "--sbatch") and the option otherwise. Not collective. */
otd_err otd_sweep_check_sbatch_option(const char *opt, const char *what);

const char *otd_sweep_name(const otd_sweep *s);
/* The sweep file's bytes, for DIR/sweep.yaml. */
const char *otd_sweep_text(const otd_sweep *s);
int64_t otd_sweep_npoints(const otd_sweep *s);
const otd_sweep_point *otd_sweep_point_at(const otd_sweep *s, int64_t i);
/* Points dropped because their resolved configuration equals an earlier one's. */
int64_t otd_sweep_nmerged(const otd_sweep *s);
/* The swept keys (grid keys in file order, then new keys of `points`). */
int otd_sweep_nkeys(const otd_sweep *s);
const char *otd_sweep_key(const otd_sweep *s, int k);
const otd_sweep_slurm *otd_sweep_slurm_settings(const otd_sweep *s);

/* How the sweep directory and its batch scripts are written. */
typedef struct {
    const char *source;   /* absolute path of the sweep file, recorded for the rerun command */
    const char *otd_bin;  /* absolute path of the otd binary, for the batch scripts */
    const char *jobs_dir; /* jobs/ (holds slurm/task.sh) */
    int nsbatch;          /* extra #SBATCH options after the file's */
    const char *const *sbatch;
    int replace; /* write even if dir holds another sweep (otd_sweep_check_dir) */
} otd_sweep_write_opts;

/* Whether dir may take this sweep: OTD_OK if it holds no sweep, or this one
 * (the same name and the same base configuration and `set`, as recorded in
 * dir/sweep.id; grid and points may have changed: the manifest follows
 * them). A directory with a manifest but no sweep.id (written by an older
 * otd) is this sweep's if its sweep.yaml is this sweep file. Otherwise
 * OTD_ERR_ARG naming dir and what differs (the name, the first differing
 * keys with both values); OTD_ERR_IO if sweep.id cannot be read. Not
 * collective. */
otd_err otd_sweep_check_dir(const otd_sweep *s, const char *dir);

/* Whether dir can go into a batch script: OTD_ERR_ARG for a newline (it
 * would end a line) or a backslash (Slurm's #SBATCH parser takes it as an
 * escape, which breaks the --output path). Not collective. */
otd_err otd_sweep_check_script_path(const char *dir);

/* Write the sweep into dir (absolute): sweep.id, sweep.yaml, manifest.tsv,
 * configs/<name>.yaml, sweep.source, and the folders runs/, tasks/, logs/,
 * jobs/. Refused, with nothing written, when dir holds another sweep
 * (otd_sweep_check_dir, unless o->replace) or cannot go into a batch script
 * (otd_sweep_check_script_path). Idempotent: a file whose content would not
 * change is not rewritten; changed files are replaced atomically (temp,
 * fsync, rename). Never touches runs/<name>/, tasks/ or jobs/. Not
 * collective. */
otd_err otd_sweep_write(const otd_sweep *s, const char *dir, const otd_sweep_write_opts *o);

/* A Slurm time limit ("minutes", "minutes:seconds", "hours:minutes:seconds",
 * "days-hours", "days-hours:minutes", "days-hours:minutes:seconds") in
 * seconds, > 0 and at most 365 days. OTD_ERR_CONFIG naming `what` and the
 * text otherwise. Not collective. */
otd_err otd_sweep_parse_time(const char *text, const char *what, int *seconds);
/* seconds as Slurm's "[days-]hours:minutes:seconds" (cap >= 24 bytes). */
void otd_sweep_format_time(int seconds, char *buf, size_t cap);

/* Job settings given on the command line (0: the sweep file's). */
typedef struct {
    int nodes, ntasks, time_seconds, jobs;
} otd_sweep_job_opts;

/* The job settings of o and the sweep file together: OTD_ERR_CONFIG if a
 * job would have fewer tasks (ntasks) than nodes. Not collective. */
otd_err otd_sweep_check_job_opts(const otd_sweep *s, const otd_sweep_job_opts *o);

/* One Slurm job of a packed sweep: its points and its size. */
typedef struct {
    int nodes, ntasks, seconds; /* its --nodes, --ntasks, --time */
    int own;                    /* a point too large to share: a job of its own */
    double estimate;            /* estimated seconds until its points are done */
    int64_t n;                  /* its points ... */
    int64_t *idx;               /* ... as indices of the sweep's points, ascending */
} otd_sweep_job;

typedef struct {
    int64_t njobs, nshared; /* jobs[0..nshared) share points; each later one holds one */
    otd_sweep_job *jobs;
    int nodes, ntasks, seconds; /* the settings of a shared job */
    double usable;              /* seconds of a job its points may fill (the estimate's bound) */
    double gflops;              /* the assumed rate */
} otd_sweep_plan;

/* A point's estimated wall seconds on its ranks: cost / (ranks x gflops x
 * 1e9) + OTD_SWEEP_POINT_OVERHEAD. */
double otd_sweep_point_seconds(const otd_sweep_point *p, double gflops);

/* Pack the n points idx[] (indices of s's points) into Slurm jobs (the
 * rules: docs/file-formats.md, "Packed jobs"). Per job: nodes, ntasks and
 * time from o, else the sweep file's, else the defaults. A point that
 * needs more ranks than a job's ntasks, or more than a job's usable time
 * (its time limit less signal_seconds and OTD_SWEEP_JOB_OVERHEAD, at least
 * half of it), gets a job of its own sized from its estimate. The others
 * are balanced by estimated rank-seconds, largest first into the least
 * loaded job, over o->jobs (else the sweep file's `jobs`) jobs, or by
 * default over the fewest jobs whose estimated time (per class of ranks:
 * its load over its groups plus its longest point) fits the usable time.
 * Free with otd_sweep_plan_free. Not collective. */
otd_err otd_sweep_pack(const otd_sweep *s, const otd_sweep_job_opts *o, const int64_t *idx,
                       int64_t n, otd_sweep_plan *plan);
void otd_sweep_plan_free(otd_sweep_plan *plan);

/* The batch script of one job (docs/file-formats.md), malloc'd; stem names
 * its files DIR/jobs/<stem>.points (its share), .out (Slurm's log), .exit
 * (one line per attempt). Every path and option in it one shell-quoted word
 * (otd_strbuf_shell_word), the --output path with '%' written '%%', the
 * sweep file's `setup` lines as written. OTD_ERR_ARG for a path it cannot
 * hold (otd_sweep_check_script_path), OTD_ERR_CONFIG for a bad option. */
otd_err otd_sweep_job_text(const otd_sweep *s, const char *dir, const char *stem,
                           const otd_sweep_job *job, const otd_sweep_write_opts *o, char **text);

/* The names of the job's points, one per line: its share file. malloc'd. */
otd_err otd_sweep_share_text(const otd_sweep *s, const otd_sweep_job *job, char **text);

/* The number of the next submission into dir: one more than the largest
 * B of dir/jobs/job-B-K.* (1 when there is none). Not collective. */
otd_err otd_sweep_next_batch(const char *dir, int *batch);

/* Append one attempt line "<unix_time> <exit_code> <host> <jobid|local>" to
 * dir/tasks/<name>.exit (otd_append_line: one write, O_APPEND, fsynced).
 * Not collective. */
otd_err otd_sweep_record_exit(const char *dir, const char *name, int code, const char *jobid);

/* One line of dir/manifest.tsv. */
typedef struct {
    int64_t index;
    char *name, *status, *config, *rundir;
    int ranks; /* MPI ranks of the point (1 in manifests written before the column) */
} otd_manifest_row;

typedef struct {
    int64_t n;
    otd_manifest_row *rows;
    int nkeys;
    char **keys;   /* the swept keys (the columns after rundir) */
    char **values; /* n * nkeys values, row-major */
} otd_manifest;

/* Read dir/manifest.tsv into a zeroed *m (free with otd_manifest_free).
 * OTD_ERR_FORMAT if it is missing or unreadable (dir is not a sweep
 * directory), or naming the line if it is malformed. */
otd_err otd_manifest_read(const char *dir, otd_manifest *m);
void otd_manifest_free(otd_manifest *m);

/* The sweep file path recorded by otd_sweep_write (malloc'd), or NULL. */
char *otd_sweep_source(const char *dir);

/* Called by otd_sweep_run_local as each point ends: k indexes names[],
 * code is its exit status (128 + signal if killed). */
typedef void (*otd_local_done_fn)(void *ctx, int64_t k, int code);

/* Run the n points names[] (each `MPIEXEC -n ranks OTD_BIN run
 * configs/<name>.yaml --out runs/<name>`, in dir, output appended to
 * dir/logs/local-<name>.out), at most `parallel` at a time, appending each
 * attempt to tasks/<name>.exit and calling done(ctx, k, code). mpiexec is
 * looked up in PATH unless it holds a '/'. Fails (OTD_ERR_IO) only if a
 * process cannot be started; a point that fails is reported through done.
 * Not collective; this process must not be an MPI rank (see main.c). */
/* Run the sweep directory's points in ONE MPI job: `mpiexec -n nranks
 * otd_bin sweep-run dir` (fork/exec, no shell; its output goes to ours).
 * *code gets its exit status. OTD_ERR_IO if it cannot be started. Not
 * collective. */
otd_err otd_sweep_run_job(const char *dir, const char *otd_bin, const char *mpiexec, int nranks,
                          int *code);

otd_err otd_sweep_run_local(const char *dir, const char *otd_bin, const char *mpiexec,
                            const char *const *names, int64_t n, int ranks, int parallel,
                            otd_local_done_fn done, void *ctx);

#endif
