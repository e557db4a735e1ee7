/* collect.c: one table of every point of a sweep (see otd_collect.h).
 *
 * Columns: index, name, status, reason, rundir, iters, wall_seconds,
 * restarts, final_rel_err, final_loss; then hosts, started_utc,
 * finished_utc (the point's /provenance, text); then every other numeric /summary
 * attribute found in any point (by name, sorted); then every configuration
 * key with the point's resolved value. The table is built as text cells;
 * the CSV writes them as they are, summary.h5 writes a column as float64
 * (NaN for an empty cell) when every cell of it reads as a number, else as
 * strings. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otd/otd_collect.h"
#include "otd/otd_config.h"
#include "otd/otd_fileio.h"
#include "otd/otd_h5table.h"
#include "otd/otd_runfile.h"
#include "sweep/sweep_internal.h"

static const char *const fixed_cols[] = {"index",         "name",      "status",       "reason",
                                         "rundir",        "iters",     "wall_seconds", "restarts",
                                         "final_rel_err", "final_loss"};
#define NFIXED ((int)(sizeof fixed_cols / sizeof *fixed_cols))
/* From each point's /provenance: text columns after the fixed ones. */
static const char *const prov_cols[] = {"hosts", "started_utc", "finished_utc"};
#define NPROV ((int)(sizeof prov_cols / sizeof *prov_cols))
/* Fixed columns that are text, whatever they hold. */
#define FIRST_NUMERIC_FIXED 5

typedef struct {
    int ncols;
    char **cols; /* names */
    int64_t nrows;
    char **cells; /* nrows * ncols, row-major, malloc'd ("" = unknown) */
} table;

static void table_free(table *t)
{
    for (int64_t i = 0; t->cells != NULL && i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    for (int c = 0; c < t->ncols; c++)
        free(t->cols[c]);
    free(t->cells);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

static int col_index(const table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c], name) == 0)
            return c;
    return -1;
}

static otd_err add_col(table *t, const char *name)
{
    char **cols;
    if (col_index(t, name) >= 0)
        return OTD_OK;
    cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *cols);
    if (cols == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    t->cols = cols;
    if ((cols[t->ncols] = strdup(name)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    t->ncols++;
    return OTD_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Set cell (row, column name) to a copy of text; unknown columns ignored. */
static otd_err set_cell(table *t, int64_t row, const char *col, const char *text)
{
    int c = col_index(t, col);
    char **cell;
    if (c < 0)
        return OTD_OK;
    cell = &t->cells[row * t->ncols + c];
    free(*cell);
    if ((*cell = strdup(text)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    return OTD_OK;
}

static otd_err set_num(table *t, int64_t row, const char *col, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return set_cell(t, row, col, buf);
}

/* The columns: fixed, then the union of numeric summary names, sorted. */
static otd_err make_columns(table *t, const otd_collection *c)
{
    otd_err err = OTD_OK;
    char **extra = NULL;
    int nextra = 0, cap = 0;
    for (int k = 0; k < NFIXED; k++)
        OTD_CHECK(add_col(t, fixed_cols[k]));
    for (int k = 0; k < NPROV; k++)
        OTD_CHECK(add_col(t, prov_cols[k]));
    for (int64_t i = 0; i < c->manifest.n; i++) {
        for (int k = 0; k < c->info[i].nnum; k++) {
            const char *n = c->info[i].num_names[k];
            int seen = col_index(t, n) >= 0;
            for (int j = 0; j < nextra && !seen; j++)
                seen = strcmp(extra[j], n) == 0;
            if (seen)
                continue;
            if (nextra == cap) {
                char **e = realloc(extra, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *e);
                if (e == NULL)
                    OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
                extra = e;
            }
            extra[nextra++] = (char *)n;
        }
    }
    if (nextra > 0)
        qsort(extra, (size_t)nextra, sizeof *extra, cmp_str);
    for (int j = 0; j < nextra; j++)
        OTD_CHECK(add_col(t, extra[j]));
    for (size_t k = 0; k < otd_config_nkeys(); k++)
        OTD_CHECK(add_col(t, otd_config_key(k)));
done:
    free(extra);
    return err;
}

/* The point's resolved configuration, one cell per key (left empty when
 * its config does not parse: an invalid point has no resolved values). */
static otd_err config_cells(table *t, int64_t row, const char *dir, const otd_manifest_row *r)
{
    otd_err err = OTD_OK;
    char path[4200], *text = NULL, *v = NULL;
    size_t len = 0;
    otd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(path, sizeof path, "%s/%s", dir, r->config);
    if (otd_read_text_file(path, "config", OTD_ERR_IO, &text, &len) != OTD_OK ||
        otd_config_parse(text, len, r->config, NULL, 0, &cfg) != OTD_OK) {
        otd_error_clear();
        goto done;
    }
    for (size_t k = 0; k < otd_config_nkeys(); k++) {
        OTD_CHECK(otd_config_value_text(&cfg, k, &v));
        OTD_CHECK(set_cell(t, row, otd_config_key(k), v));
        free(v);
        v = NULL;
    }
done:
    free(v);
    free(text);
    otd_config_free(&cfg);
    return err;
}

/* Where and when the point ran, from its results.h5's /provenance (left
 * empty without one: a point that never started, or a file of an otd
 * before provenance; a file that cannot be read is status's business). */
static otd_err provenance_cells(table *t, int64_t row, const char *dir, const otd_manifest_row *r)
{
    otd_err err = OTD_OK;
    char path[4300], *vals[NPROV] = {NULL};
    snprintf(path, sizeof path, "%s/%s/results.h5", dir, r->rundir);
    if (access(path, F_OK) != 0 ||
        otd_runfile_read_provenance(path, prov_cols, NPROV, vals) != OTD_OK) {
        otd_error_clear();
        goto done;
    }
    for (int k = 0; k < NPROV; k++)
        OTD_CHECK(set_cell(t, row, prov_cols[k], vals[k]));
done:
    for (int k = 0; k < NPROV; k++)
        free(vals[k]);
    return err;
}

static otd_err fill_row(table *t, int64_t i, const char *dir, const otd_collection *c)
{
    otd_err err = OTD_OK;
    const otd_manifest_row *r = &c->manifest.rows[i];
    const otd_point_info *info = &c->info[i];
    OTD_CHECK(set_num(t, i, "index", (double)r->index));
    OTD_CHECK(set_cell(t, i, "name", r->name));
    OTD_CHECK(set_cell(t, i, "status", otd_point_status_name(info->status)));
    OTD_CHECK(set_cell(t, i, "reason", info->reason));
    OTD_CHECK(set_cell(t, i, "rundir", r->rundir));
    if (info->iters >= 0)
        OTD_CHECK(set_num(t, i, "iters", (double)info->iters));
    /* Attempts after the first: requeues after a signal, reruns. */
    OTD_CHECK(set_num(t, i, "restarts", (double)(info->attempts > 1 ? info->attempts - 1 : 0)));
    for (int k = 0; k < info->nnum; k++)
        OTD_CHECK(set_num(t, i, info->num_names[k], info->num_vals[k]));
    OTD_CHECK(config_cells(t, i, dir, r));
    OTD_CHECK(provenance_cells(t, i, dir, r));
done:
    return err;
}

static otd_err csv_cell(otd_strbuf *b, const char *s)
{
    otd_err err = OTD_OK;
    if (strpbrk(s, ",\"\n\r") == NULL)
        return otd_strbuf_printf(b, "%s", s);
    OTD_CHECK(otd_strbuf_printf(b, "\""));
    for (const char *p = s; *p; p++)
        OTD_CHECK(*p == '"' ? otd_strbuf_printf(b, "\"\"") : otd_strbuf_printf(b, "%c", *p));
    OTD_CHECK(otd_strbuf_printf(b, "\""));
done:
    return err;
}

static otd_err write_csv(const table *t, const char *dir)
{
    otd_err err = OTD_OK;
    otd_strbuf b = {0};
    char path[4200];
    for (int c = 0; c < t->ncols; c++) {
        OTD_CHECK(otd_strbuf_printf(&b, "%s", c ? "," : ""));
        OTD_CHECK(csv_cell(&b, t->cols[c]));
    }
    OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    for (int64_t i = 0; i < t->nrows; i++) {
        for (int c = 0; c < t->ncols; c++) {
            OTD_CHECK(otd_strbuf_printf(&b, "%s", c ? "," : ""));
            OTD_CHECK(csv_cell(&b, t->cells[i * t->ncols + c]));
        }
        OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    }
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    OTD_CHECK(otd_write_file_atomic(path, b.data, b.len));
done:
    otd_strbuf_free(&b);
    return err;
}

/* Does every non-empty cell of column c read fully as a number? */
static int numeric_column(const table *t, int c, double *vals)
{
    if (c < FIRST_NUMERIC_FIXED)
        return 0;
    /* A host named by digits alone is still a name. */
    for (int k = 0; k < NPROV; k++)
        if (strcmp(t->cols[c], prov_cols[k]) == 0)
            return 0;
    for (int64_t i = 0; i < t->nrows; i++) {
        const char *s = t->cells[i * t->ncols + c];
        char *end = NULL;
        if (s[0] == '\0') {
            vals[i] = NAN;
            continue;
        }
        errno = 0;
        vals[i] = strtod(s, &end);
        if (end == s || *end != '\0')
            return 0;
    }
    return 1;
}

static otd_err write_h5(const table *t, const char *dir)
{
    otd_err err = OTD_OK;
    char path[4200];
    otd_h5table_column *cols = NULL;
    double *vals = NULL;
    const char **strs = NULL;
    snprintf(path, sizeof path, "%s/summary.h5", dir);
    OTD_ALLOC(cols, t->ncols + 1);
    /* A column of numbers or of strings each, in one block per kind. */
    OTD_ALLOC(vals, (t->nrows + 1) * t->ncols);
    OTD_ALLOC(strs, (t->nrows + 1) * t->ncols);
    for (int c = 0; c < t->ncols; c++) {
        double *v = vals + (size_t)c * (size_t)(t->nrows + 1);
        const char **s = strs + (size_t)c * (size_t)(t->nrows + 1);
        cols[c].name = t->cols[c];
        if (numeric_column(t, c, v)) {
            cols[c].numbers = v;
        } else {
            for (int64_t i = 0; i < t->nrows; i++)
                s[i] = t->cells[i * t->ncols + c];
            cols[c].text = s;
        }
    }
    OTD_CHECK(otd_h5table_write(path, t->nrows, cols, t->ncols));
done:
    free(cols);
    free(vals);
    free(strs);
    return err;
}

otd_err otd_collect(const char *dir, otd_collection *c)
{
    otd_err err = OTD_OK;
    table t = {0};
    memset(c, 0, sizeof *c);
    OTD_CHECK(otd_manifest_read(dir, &c->manifest));
    OTD_ALLOC(c->info, c->manifest.n);
    for (int64_t i = 0; i < c->manifest.n; i++) {
        OTD_CHECK(otd_point_inspect(dir, &c->manifest.rows[i], &c->info[i]));
        c->count[c->info[i].status]++;
    }
    OTD_CHECK(make_columns(&t, c));
    t.nrows = c->manifest.n;
    OTD_ALLOC(t.cells, t.nrows * t.ncols + 1);
    for (int64_t i = 0; i < t.nrows * t.ncols; i++)
        if ((t.cells[i] = strdup("")) == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < t.nrows; i++)
        OTD_CHECK(fill_row(&t, i, dir, c));
    OTD_CHECK(write_csv(&t, dir));
    OTD_CHECK(write_h5(&t, dir));
done:
    table_free(&t);
    return err;
}

void otd_collection_free(otd_collection *c)
{
    if (c->info != NULL)
        for (int64_t i = 0; i < c->manifest.n; i++)
            otd_point_info_free(&c->info[i]);
    free(c->info);
    otd_manifest_free(&c->manifest);
    memset(c, 0, sizeof *c);
}
