/* sweepdir.c: the sweep directory on disk (see otd_sweep.h, docs/file-formats.md):
 * writing it idempotently, the manifest both ways, and the per-attempt
 * exit records. The Slurm jobs are jobs.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "otd/otd_fileio.h"
#include "otd/otd_sweep.h"
#include "sweep/sweep_internal.h"

/* dir/rel := text, unless it already holds exactly that: re-running
 * `otd sweep` leaves unchanged files (and their mtimes) alone. A change is
 * written to a temporary name, fsynced and renamed, so a reader (a running
 * job reading the manifest) sees the old or the new file, never half. */
static otd_err write_if_changed(const char *dir, const char *rel, const char *text)
{
    otd_err err = OTD_OK;
    char path[4096];
    char *old = NULL;
    size_t oldlen = 0, len = strlen(text);
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        OTD_FAIL(OTD_ERR_IO, "path too long: '%s/%s'", dir, rel);
    if (otd_read_text_file(path, "file", OTD_ERR_IO, &old, &oldlen) == OTD_OK && oldlen == len &&
        memcmp(old, text, len) == 0)
        goto done;
    otd_error_clear();
    OTD_CHECK(otd_write_file_atomic(path, text, len));
done:
    free(old);
    return err;
}

otd_err otd_sweep_check_script_path(const char *dir)
{
    if (strpbrk(dir, "\n\r") != NULL)
        return OTD_ERROR(OTD_ERR_ARG,
                         "sweep directory '%s': a path with a line break cannot go into a batch "
                         "script; choose another --out",
                         dir);
    /* Slurm's #SBATCH parser takes a backslash as an escape, and one in an
     * --output path turns off its patterns: the log name would be wrong
     * whatever the quoting. */
    if (strchr(dir, '\\') != NULL)
        return OTD_ERROR(OTD_ERR_ARG,
                         "sweep directory '%s': a path with a backslash cannot be Slurm's "
                         "--output; choose another --out",
                         dir);
    return OTD_OK;
}

static otd_err manifest_text(const otd_sweep *s, char **text)
{
    otd_err err = OTD_OK;
    otd_strbuf b = {0};
    OTD_CHECK(otd_strbuf_printf(&b, "index\tname\tstatus\tconfig\trundir\tranks"));
    /* A swept `ranks` is the ranks column already. */
    for (int k = 0; k < otd_sweep_nkeys(s); k++)
        if (strcmp(otd_sweep_key(s, k), OTD_SWEEP_POINT_RANKS) != 0)
            OTD_CHECK(otd_strbuf_printf(&b, "\t%s", otd_sweep_key(s, k)));
    OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    for (int64_t i = 0; i < otd_sweep_npoints(s); i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, i);
        OTD_CHECK(otd_strbuf_printf(&b, "%lld\t%s\t%s\tconfigs/%s.yaml\truns/%s\t%d", (long long)i,
                                    p->name, p->valid ? "ok" : "invalid", p->name, p->name,
                                    p->ranks));
        for (int k = 0; k < otd_sweep_nkeys(s); k++)
            if (strcmp(otd_sweep_key(s, k), OTD_SWEEP_POINT_RANKS) != 0)
                OTD_CHECK(otd_strbuf_printf(&b, "\t%s", p->values[k]));
        OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    }
    *text = b.data;
    b.data = NULL;
done:
    otd_strbuf_free(&b);
    return err;
}

/* A sweep.id text cut in place into its "key\tvalue" lines. */
typedef struct {
    size_t n;
    const char **key, **value;
} id_lines;

static otd_err id_parse(char *text, id_lines *l)
{
    otd_err err = OTD_OK;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == '\n';
    OTD_ALLOC(l->key, cap);
    OTD_ALLOC(l->value, cap);
    for (char *line = text, *next; line != NULL && *line; line = next) {
        char *tab;
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        tab = strchr(line, '\t');
        if (tab)
            *tab = '\0';
        l->key[l->n] = line;
        l->value[l->n++] = tab ? tab + 1 : "";
    }
done:
    return err;
}

static const char *id_get(const id_lines *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->key[i], key) == 0)
            return l->value[i];
    return NULL;
}

/* Append "KEY 'A' there, 'B' here" for each key whose value differs
 * (unset on one side included), the first few of them; count them all. */
static otd_err id_diff(const id_lines *there, const id_lines *here, otd_strbuf *out, int *ndiff)
{
    otd_err err = OTD_OK;
    for (int side = 0; side < 2; side++) {
        const id_lines *a = side == 0 ? there : here, *b = side == 0 ? here : there;
        for (size_t i = 0; i < a->n; i++) {
            const char *other = id_get(b, a->key[i]);
            /* A key of both sides is compared once, from the old side. */
            if (other != NULL && (side == 1 || strcmp(other, a->value[i]) == 0))
                continue;
            if (*ndiff < 4) {
                const char *t = side == 0 ? a->value[i] : other,
                           *h = side == 0 ? other : a->value[i];
                OTD_CHECK(otd_strbuf_printf(out, "%s%s %s%s%s there, %s%s%s here",
                                            *ndiff ? "; " : "", a->key[i], t ? "'" : "",
                                            t ? t : "unset", t ? "'" : "", h ? "'" : "",
                                            h ? h : "unset", h ? "'" : ""));
            }
            (*ndiff)++;
        }
    }
done:
    return err;
}

otd_err otd_sweep_check_dir(const otd_sweep *s, const char *dir)
{
    otd_err err = OTD_OK;
    char path[4200];
    char *old = NULL, *now = NULL;
    size_t oldlen = 0;
    otd_strbuf diff = {0};
    id_lines there = {0}, here = {0};
    int ndiff = 0;
    struct stat st;
    snprintf(path, sizeof path, "%s/sweep.id", dir);
    if (lstat(path, &st) != 0) {
        /* Not there, or a part of dir is no directory: then no sweep is
         * there either, and creating dir says what is wrong. */
        if (errno != ENOENT && errno != ENOTDIR)
            OTD_FAIL(OTD_ERR_IO, "cannot check '%s': %s", path, strerror(errno));
        /* No sweep.id: a new directory, or one written before otd recorded
         * it. A sweep directory of the latter kind is this sweep's only if
         * it holds this very sweep file. */
        snprintf(path, sizeof path, "%s/manifest.tsv", dir);
        if (lstat(path, &st) != 0)
            goto done;
        snprintf(path, sizeof path, "%s/sweep.yaml", dir);
        if (otd_read_text_file(path, "sweep file", OTD_ERR_IO, &old, &oldlen) == OTD_OK &&
            strcmp(old, otd_sweep_text(s)) == 0)
            goto done;
        otd_error_clear();
        OTD_FAIL(OTD_ERR_ARG,
                 "sweep directory '%s' holds another sweep: its sweep.yaml differs from this "
                 "sweep file (and it has no sweep.id, the record of the sweep's name and base "
                 "configuration); give a new --out directory, or --replace to make it this "
                 "sweep's (runs/ and tasks/ are kept)",
                 dir);
    }
    OTD_CHECK(otd_read_text_file(path, "sweep identity", OTD_ERR_IO, &old, &oldlen));
    OTD_CHECK(otd_sweep_identity_text(s, &now));
    if (strcmp(old, now) == 0)
        goto done;
    /* The sweep's own file, so small: a linear search per key will do. */
    OTD_CHECK(id_parse(old, &there));
    OTD_CHECK(id_parse(now, &here));
    OTD_CHECK(id_diff(&there, &here, &diff, &ndiff));
    /* Reordered lines only: the same keys and values. */
    if (ndiff == 0)
        goto done;
    OTD_FAIL(OTD_ERR_ARG,
             "sweep directory '%s' holds another sweep: %s%s (sweep.id: the sweep's name and the "
             "base configuration and set its points share); give a new --out directory, or "
             "--replace to make it this sweep's (runs/ and tasks/ are kept)",
             dir, diff.data, ndiff > 4 ? "; and more" : "");
done:
    free(there.key);
    free(there.value);
    free(here.key);
    free(here.value);
    free(old);
    free(now);
    otd_strbuf_free(&diff);
    return err;
}

otd_err otd_sweep_write(const otd_sweep *s, const char *dir, const otd_sweep_write_opts *o)
{
    otd_err err = OTD_OK;
    char sub[4200], rel[1024];
    char *manifest = NULL, *id = NULL;
    otd_strbuf src = {0};
    static const char *const subdirs[] = {"configs", "runs", "tasks", "logs", "jobs"};
    /* Everything that can be refused is refused before anything is written. */
    OTD_CHECK(manifest_text(s, &manifest));
    OTD_CHECK(otd_sweep_check_script_path(dir));
    for (int k = 0; k < o->nsbatch; k++)
        OTD_CHECK(otd_sweep_check_sbatch_option(o->sbatch[k], "--sbatch"));
    OTD_CHECK(otd_sweep_identity_text(s, &id));
    OTD_CHECK(otd_strbuf_printf(&src, "%s\n", o->source));
    if (!o->replace)
        OTD_CHECK(otd_sweep_check_dir(s, dir));
    /* sweep.id first: from then on the directory is this sweep's, even if
     * the rest is cut short (a rerun completes it). */
    OTD_CHECK(otd_make_dirs(dir, "sweep directory"));
    OTD_CHECK(write_if_changed(dir, "sweep.id", id));
    for (size_t k = 0; k < sizeof subdirs / sizeof *subdirs; k++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, subdirs[k]);
        OTD_CHECK(otd_make_dirs(sub, "sweep directory"));
    }
    /* Configs before the manifest: a task that finds its line in the
     * manifest finds its config. */
    for (int64_t i = 0; i < otd_sweep_npoints(s); i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, i);
        snprintf(rel, sizeof rel, "configs/%s.yaml", p->name);
        OTD_CHECK(write_if_changed(dir, rel, p->config));
    }
    OTD_CHECK(write_if_changed(dir, "sweep.yaml", otd_sweep_text(s)));
    OTD_CHECK(write_if_changed(dir, "sweep.source", src.data));
    OTD_CHECK(write_if_changed(dir, "manifest.tsv", manifest));
done:
    free(manifest);
    free(id);
    otd_strbuf_free(&src);
    return err;
}

otd_err otd_sweep_record_exit(const char *dir, const char *name, int code, const char *jobid)
{
    otd_err err = OTD_OK;
    char path[4200], host[256] = "unknown";
    otd_strbuf line = {0};
    snprintf(path, sizeof path, "%s/tasks/%s.exit", dir, name);
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    OTD_CHECK(
        otd_strbuf_printf(&line, "%lld %d %s %s\n", (long long)time(NULL), code, host, jobid));
    OTD_CHECK(otd_append_line(path, line.data));
done:
    otd_strbuf_free(&line);
    return err;
}

char *otd_sweep_source(const char *dir)
{
    char path[4200], *text = NULL, *nl;
    size_t len;
    snprintf(path, sizeof path, "%s/sweep.source", dir);
    if (otd_read_text_file(path, "sweep.source", OTD_ERR_IO, &text, &len) != OTD_OK) {
        otd_error_clear();
        return NULL;
    }
    if ((nl = strchr(text, '\n')) != NULL)
        *nl = '\0';
    return text;
}

/* Split line at tabs in place: up to cap fields; returns the count. */
static int split_tabs(char *line, char **f, int cap)
{
    int n = 0;
    f[n++] = line;
    for (char *c = line; *c && n < cap; c++) {
        if (*c == '\t') {
            *c = '\0';
            f[n++] = c + 1;
        }
    }
    return n;
}

void otd_manifest_free(otd_manifest *m)
{
    for (int64_t i = 0; i < m->n; i++) {
        free(m->rows[i].name);
        free(m->rows[i].status);
        free(m->rows[i].config);
        free(m->rows[i].rundir);
        for (int k = 0; k < m->nkeys; k++)
            free(m->values[i * m->nkeys + k]);
    }
    for (int k = 0; k < m->nkeys; k++)
        free(m->keys[k]);
    free(m->rows);
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

static otd_err dup_to(char **dst, const char *s)
{
    if ((*dst = strdup(s)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory reading the manifest");
    return OTD_OK;
}

otd_err otd_manifest_read(const char *dir, otd_manifest *m)
{
    otd_err err = OTD_OK;
    char path[4200], *text = NULL, *line, *next;
    char **f = NULL;
    size_t len = 0;
    int64_t nlines = 0, lineno = 1;
    int cols, first_key;
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    err = otd_read_text_file(path, "sweep manifest", OTD_ERR_FORMAT, &text, &len);
    if (err == OTD_ERR_FORMAT)
        OTD_FAIL(OTD_ERR_FORMAT, "'%s' is not a sweep directory: %s", dir, otd_error_text());
    OTD_CHECK(err);
    for (char *c = text; *c; c++)
        nlines += *c == '\n';
    if ((next = strchr(text, '\n')) == NULL)
        OTD_FAIL(OTD_ERR_FORMAT, "%s: no header line", path);
    *next++ = '\0';
    OTD_ALLOC(f, len + 1);
    cols = split_tabs(text, f, (int)len + 1);
    if (cols < 5 || strcmp(f[0], "index") != 0 || strcmp(f[1], "name") != 0 ||
        strcmp(f[2], "status") != 0 || strcmp(f[3], "config") != 0 || strcmp(f[4], "rundir") != 0)
        OTD_FAIL(OTD_ERR_FORMAT, "%s:1: not an otd manifest header", path);
    /* The ranks column came later: a manifest without it runs on 1 rank. */
    first_key = cols > 5 && strcmp(f[5], "ranks") == 0 ? 6 : 5;
    m->nkeys = cols - first_key;
    OTD_ALLOC(m->keys, m->nkeys);
    for (int k = 0; k < m->nkeys; k++)
        OTD_CHECK(dup_to(&m->keys[k], f[first_key + k]));
    OTD_ALLOC(m->rows, nlines);
    OTD_ALLOC(m->values, nlines * (m->nkeys > 0 ? m->nkeys : 1));
    for (line = next; line != NULL && *line; line = next) {
        otd_manifest_row *r = &m->rows[m->n];
        char *end = NULL;
        lineno++;
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        if (split_tabs(line, f, (int)len + 1) != cols)
            OTD_FAIL(OTD_ERR_FORMAT, "%s:%lld: expected %d tab-separated fields", path,
                     (long long)lineno, cols);
        r->index = strtoll(f[0], &end, 10);
        if (end == f[0] || *end != '\0' || r->index != m->n)
            OTD_FAIL(OTD_ERR_FORMAT, "%s:%lld: index '%s', expected %lld", path, (long long)lineno,
                     f[0], (long long)m->n);
        m->n++;
        OTD_CHECK(dup_to(&r->name, f[1]));
        OTD_CHECK(dup_to(&r->status, f[2]));
        OTD_CHECK(dup_to(&r->config, f[3]));
        OTD_CHECK(dup_to(&r->rundir, f[4]));
        r->ranks = 1;
        if (first_key == 6) {
            long v = strtol(f[5], &end, 10);
            if (end == f[5] || *end != '\0' || v < 1 || v > OTD_SWEEP_MAX_RANKS)
                OTD_FAIL(OTD_ERR_FORMAT, "%s:%lld: ranks '%s' is not a rank count", path,
                         (long long)lineno, f[5]);
            r->ranks = (int)v;
        }
        for (int k = 0; k < m->nkeys; k++)
            OTD_CHECK(dup_to(&m->values[r->index * m->nkeys + k], f[first_key + k]));
    }
done:
    if (err != OTD_OK)
        otd_manifest_free(m);
    free(f);
    free(text);
    return err;
}
