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
} otd_sweep_point;

/* The key of a grid axis or a points entry that sets a point's rank count
 * (not a configuration key), and its largest value. */
#define OTD_SWEEP_POINT_RANKS "ranks"
#define OTD_SWEEP_MAX_RANKS 65536

/* Slurm and launch settings of the sweep file, with their defaults. */
typedef struct {
    int ranks;          /* MPI ranks per point, >= 1 (default 1) */
    int throttle;       /* array concurrency %K, >= 1 (default 8) */
    int signal_seconds; /* --signal=B:USR1@N (default 60) */
    int max_requeues;   /* (default 3) */
    int nsbatch;
    char **sbatch; /* extra #SBATCH options, in file order */
} otd_sweep_slurm;

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
 * (--time=00:30:00), no control character, no backslash (Slurm's script
 * parser reads it as an escape). The value may hold spaces: the option is
 * written as one quoted word. OTD_ERR_CONFIG naming `what` (where it came
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

/* How the sweep directory is written (otd_sweep_write). */
typedef struct {
    const char *source;   /* absolute path of the sweep file, recorded for the rerun command */
    const char *otd_bin;  /* absolute path of the otd binary, for sweep.sbatch */
    const char *jobs_dir; /* jobs/ (holds slurm/sweep_task.sh) */
    int throttle;         /* > 0: overrides the file's */
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

/* Write the sweep into dir (absolute): sweep.id, sweep.yaml, manifest.tsv,
 * configs/<name>.yaml, sweep.sbatch, sweep.source, and the folders runs/,
 * tasks/, logs/. Refused, with nothing written, when dir holds another
 * sweep (otd_sweep_check_dir, unless o->replace) or a path cannot go into
 * sweep.sbatch (a newline; a backslash in dir: OTD_ERR_ARG). Idempotent: a
 * file whose content would not change is not rewritten; changed files are
 * replaced atomically (temp, fsync, rename). Never touches runs/<name>/ or
 * tasks/. Not collective. */
otd_err otd_sweep_write(const otd_sweep *s, const char *dir, const otd_sweep_write_opts *o);

/* The text of sweep.sbatch (docs/file-formats.md), malloc'd: every path and
 * option in it one shell-quoted word (otd_strbuf_shell_word), the --output
 * path with '%' written '%%'. OTD_ERR_ARG for a path it cannot hold (see
 * otd_sweep_write), OTD_ERR_CONFIG for a bad option. */
otd_err otd_sweep_sbatch_text(const otd_sweep *s, const char *dir, const otd_sweep_write_opts *o,
                              char **text);

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
