/* collect.c: one table of every point of a sweep (see otd_collect.h).
 *
 * Columns: index, name, status, reason, rundir, iters, wall_seconds,
 * restarts, final_rel_err, final_loss; then hosts, started_utc,
 * finished_utc (the point's /provenance, text); then every other numeric /summary
 * attribute found in any point (by name, sorted); then every configuration
 * key with the point's resolved value. The table is built as text cells
 * (NULL: no value); the CSV writes them as they are. Each column's type in
 * summary.h5 comes from where the column comes from, never from the values
 * of the moment (a column of integers that happen to be absent today must
 * not turn into strings): the fixed columns' own, a /summary attribute's
 * HDF5 class, a configuration key's type in the options table. */
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

/* What a column holds, for summary.h5's type, description and unit. */
typedef struct {
    const char *name;
    otd_h5table_type type;
    const char *description;
    const char *unit;
} col_doc;

#define F64 OTD_H5TABLE_FLOAT64
#define I64 OTD_H5TABLE_INT64
#define STR OTD_H5TABLE_STRING

static const col_doc fixed_cols[] = {
    {"index", I64, "position of the point in the manifest, from 0", NULL},
    {"name", STR, "name of the point (manifest): its varied keys and its configuration hash", NULL},
    {"status", STR, "done, running, failed or missing (docs/file-formats.md, Run status)", NULL},
    {"reason", STR, "why a running or failed point is not done; empty for the others", NULL},
    {"rundir", STR, "run directory of the point, relative to the sweep directory", NULL},
    {"iters", I64,
     "gradient steps taken: /summary iters, or the last /history/iter of a run "
     "not finished",
     NULL},
    {"wall_seconds", F64, "wall time of the step loop, earlier processes of a resumed run included",
     "s"},
    {"restarts", I64, "attempts after the first (requeues after a signal, reruns)", NULL},
    {"final_rel_err", F64, "relative error ||T(W) - T*||_F / ||T*||_F of the final W", NULL},
    {"final_loss", F64, "objective (fit + regularizer) at the final W", NULL},
};
#define NFIXED ((int)(sizeof fixed_cols / sizeof *fixed_cols))
/* From each point's /provenance: text columns after the fixed ones. */
static const col_doc prov_cols[] = {
    {"hosts", STR, "distinct host names of the point's ranks (results.h5 /provenance)", NULL},
    {"started_utc", STR, "when the point's run started, UTC, ISO 8601", NULL},
    {"finished_utc", STR, "when it finished, UTC, ISO 8601 (empty while unfinished)", NULL},
};
#define NPROV ((int)(sizeof prov_cols / sizeof *prov_cols))

/* The other /summary attributes otd writes (docs/file-formats.md, /summary);
 * their type is the one each file stores, so it is not repeated here. */
static const col_doc summary_docs[] = {
    {"final_rel_err_resolution", F64,
     "resolution of final_rel_err: below it, final_rel_err is only an upper bound", NULL},
    {"steps_per_s", F64, "gradient steps per second of wall time of the last process", "1/s"},
    {"dim_count", F64, "dimension count sqrt(max(0, 1 - m d / C(d+l-1, l)))", NULL},
    {"n_fitted", I64, "targets fitted by the final W (docs/science.md section 6)", NULL},
    {"max_iters", I64, "algo.max_iters the run ended under (it may change on resume)", NULL},
    {"target_rel_err", F64, "algo.target_rel_err the run ended under", NULL},
    {"lazy_n", I64, "lazy_opt: order of the normal equations, m d", NULL},
    {"lazy_rank_deficiency", I64, "lazy_opt cholesky/eigen: eigenvalues treated as zero", NULL},
    {"lazy_iters", I64, "lazy_opt cg: products with J^T J", NULL},
    {"lazy_residual", F64, "lazy_opt cg: relative residual of the normal equations at the answer",
     NULL},
    {"lazy_converged", I64, "lazy_opt cg: 1 if the residual reached algo.lazy_tol, else 0", NULL},
    {"lazy_ridge", F64, "lazy_opt: algo.lazy_ridge", NULL},
    {"lazy_shift", F64, "lazy_opt: what was added to the diagonal, lambda + ridge x mean diagonal",
     NULL},
    {"lazy_bytes_per_rank", F64, "lazy_opt: bytes of the distributed matrix on the largest rank",
     "bytes"},
    {"lazy_seconds", F64, "lazy_opt: wall time of the factorization and solve, slowest rank", "s"},
    {"lazy_gflops", F64, "lazy_opt: rate of the factorization and solve", "GFLOP/s"},
};
#define NSUMMARY_DOCS ((int)(sizeof summary_docs / sizeof *summary_docs))

typedef struct {
    char *name;
    otd_h5table_type type;
    char *description; /* malloc'd */
    const char *unit;  /* static, or NULL */
} column;

typedef struct {
    int ncols;
    column *cols;
    int64_t nrows;
    char **cells; /* nrows * ncols, row-major, malloc'd; NULL = no value */
} table;

static void table_free(table *t)
{
    for (int64_t i = 0; t->cells != NULL && i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    for (int c = 0; c < t->ncols; c++) {
        free(t->cols[c].name);
        free(t->cols[c].description);
    }
    free(t->cells);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

static int col_index(const table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c].name, name) == 0)
            return c;
    return -1;
}

/* Add a column (nothing if one of that name exists: the first wins). The
 * description is copied up to its first sentence's end, if any: a
 * configuration key's help goes on for details a column does not need. */
static otd_err add_col(table *t, const char *name, otd_h5table_type type, const char *desc,
                       const char *unit)
{
    column *cols;
    const char *end = strstr(desc, ". ");
    size_t n = end != NULL ? (size_t)(end - desc) + 1 : strlen(desc);
    if (col_index(t, name) >= 0)
        return OTD_OK;
    cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *cols);
    if (cols == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    t->cols = cols;
    memset(&cols[t->ncols], 0, sizeof *cols);
    cols[t->ncols].type = type;
    cols[t->ncols].unit = unit;
    cols[t->ncols].name = strdup(name);
    cols[t->ncols].description = strndup(desc, n);
    t->ncols++;
    if (cols[t->ncols - 1].name == NULL || cols[t->ncols - 1].description == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
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

/* A number as its column's type writes it: an integer without ".0" (the
 * values come as doubles, exact for any count otd reaches), a real with
 * 17 significant digits. */
static otd_err set_num(table *t, int64_t row, const char *col, double v)
{
    char buf[64];
    int c = col_index(t, col);
    if (c >= 0 && t->cols[c].type == OTD_H5TABLE_INT64 && v == nearbyint(v) && fabs(v) < 9.2e18)
        snprintf(buf, sizeof buf, "%lld", (long long)v);
    else
        snprintf(buf, sizeof buf, "%.17g", v);
    return set_cell(t, row, col, buf);
}

/* The HDF5 column type of a configuration key: lists and words stay text. */
static otd_h5table_type key_column_type(otd_config_key_type k)
{
    switch (k) {
    case OTD_KEY_INT:
        return OTD_H5TABLE_INT64;
    case OTD_KEY_REAL:
        return OTD_H5TABLE_FLOAT64;
    case OTD_KEY_BOOL:
        return OTD_H5TABLE_BOOL;
    case OTD_KEY_ENUM:
    case OTD_KEY_STRING:
    case OTD_KEY_LIST:
    case OTD_KEY_INT_OR_WORD:
        break;
    }
    return OTD_H5TABLE_STRING;
}

/* A /summary attribute otd does not know (a newer otd's): still described. */
static otd_err add_summary_col(table *t, const char *name, int is_int)
{
    char desc[300];
    for (int k = 0; k < NSUMMARY_DOCS; k++)
        if (strcmp(summary_docs[k].name, name) == 0)
            return add_col(t, name, is_int ? I64 : F64, summary_docs[k].description,
                           summary_docs[k].unit);
    snprintf(desc, sizeof desc, "the /summary attribute %s of the point's results.h5", name);
    return add_col(t, name, is_int ? I64 : F64, desc, NULL);
}

/* The columns: fixed, then the union of numeric summary names, sorted. */
static otd_err make_columns(table *t, const otd_collection *c)
{
    otd_err err = OTD_OK;
    char **extra = NULL;
    unsigned char *extra_int = NULL;
    int nextra = 0, cap = 0;
    for (int k = 0; k < NFIXED; k++)
        OTD_CHECK(add_col(t, fixed_cols[k].name, fixed_cols[k].type, fixed_cols[k].description,
                          fixed_cols[k].unit));
    for (int k = 0; k < NPROV; k++)
        OTD_CHECK(add_col(t, prov_cols[k].name, prov_cols[k].type, prov_cols[k].description,
                          prov_cols[k].unit));
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
    OTD_ALLOC(extra_int, nextra + 1);
    /* An integer column only if every point stores the attribute as an
     * integer: one float among them makes it float64, losing nothing. */
    for (int j = 0; j < nextra; j++) {
        extra_int[j] = 1;
        for (int64_t i = 0; i < c->manifest.n; i++)
            for (int k = 0; k < c->info[i].nnum; k++)
                if (strcmp(c->info[i].num_names[k], extra[j]) == 0 && !c->info[i].num_is_int[k])
                    extra_int[j] = 0;
    }
    for (int j = 0; j < nextra; j++)
        OTD_CHECK(add_summary_col(t, extra[j], extra_int[j]));
    for (size_t k = 0; k < otd_config_nkeys(); k++) {
        otd_config_key_info info;
        OTD_CHECK(otd_config_key_describe(k, &info));
        OTD_CHECK(add_col(t, info.key, key_column_type(info.type), info.help, info.unit));
    }
done:
    free(extra);
    free(extra_int);
    return err;
}

/* The point's resolved configuration, one cell per key (left without a
 * value when its config does not parse: an invalid point has none). */
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
    const char *names[NPROV];
    for (int k = 0; k < NPROV; k++)
        names[k] = prov_cols[k].name;
    snprintf(path, sizeof path, "%s/%s/results.h5", dir, r->rundir);
    if (access(path, F_OK) != 0 ||
        otd_runfile_read_provenance(path, names, NPROV, vals) != OTD_OK) {
        otd_error_clear();
        goto done;
    }
    for (int k = 0; k < NPROV; k++)
        OTD_CHECK(set_cell(t, row, prov_cols[k].name, vals[k]));
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
        OTD_CHECK(csv_cell(&b, t->cols[c].name));
    }
    OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    for (int64_t i = 0; i < t->nrows; i++) {
        for (int c = 0; c < t->ncols; c++) {
            OTD_CHECK(otd_strbuf_printf(&b, "%s", c ? "," : ""));
            const char *cell = t->cells[i * t->ncols + c];
            OTD_CHECK(csv_cell(&b, cell != NULL ? cell : ""));
        }
        OTD_CHECK(otd_strbuf_printf(&b, "\n"));
    }
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    OTD_CHECK(otd_write_file_atomic(path, b.data, b.len));
done:
    otd_strbuf_free(&b);
    return err;
}

/* Column c's cells in the array of its type, placeholders (NaN,
 * INT64_MIN, false, "") and missing[i] = 1 where a cell has no value. A
 * cell that does not read as its type is a bug here (every value comes from
 * otd's own formatting), reported rather than stored as something else. */
static otd_err convert_column(const table *t, int c, otd_h5table_column *out, double *f64,
                              int64_t *i64, int8_t *flags, const char **text,
                              unsigned char *missing)
{
    const column *col = &t->cols[c];
    out->name = col->name;
    out->type = col->type;
    out->description = col->description;
    out->unit = col->unit;
    out->missing = missing;
    out->f64 = f64;
    out->i64 = i64;
    out->flags = flags;
    out->text = text;
    for (int64_t i = 0; i < t->nrows; i++) {
        const char *s = t->cells[i * t->ncols + c];
        char *end = NULL;
        int ok = 1;
        missing[i] = s == NULL;
        switch (col->type) {
        case OTD_H5TABLE_FLOAT64:
            f64[i] = s == NULL ? NAN : strtod(s, &end);
            ok = s == NULL || (end != s && *end == '\0');
            break;
        case OTD_H5TABLE_INT64:
            errno = 0;
            i64[i] = s == NULL ? INT64_MIN : (int64_t)strtoll(s, &end, 10);
            ok = s == NULL || (end != s && *end == '\0' && errno == 0);
            break;
        case OTD_H5TABLE_BOOL:
            flags[i] = s != NULL && strcmp(s, "true") == 0;
            ok = s == NULL || flags[i] || strcmp(s, "false") == 0;
            break;
        case OTD_H5TABLE_STRING:
            text[i] = s != NULL ? s : "";
            break;
        }
        if (!ok)
            return OTD_ERROR(OTD_ERR_INTERNAL,
                             "summary.h5: column %s, row %lld: '%s' is not of "
                             "the column's type",
                             col->name, (long long)i, s);
    }
    return OTD_OK;
}

static otd_err write_h5(const table *t, const char *dir)
{
    otd_err err = OTD_OK;
    char path[4200];
    otd_h5table_column *cols = NULL;
    double *f64 = NULL;
    int64_t *i64 = NULL;
    int8_t *flags = NULL;
    const char **text = NULL;
    unsigned char *missing = NULL;
    size_t stride = (size_t)t->nrows + 1;
    snprintf(path, sizeof path, "%s/summary.h5", dir);
    OTD_ALLOC(cols, t->ncols + 1);
    /* One block per kind, a slice of it per column. */
    OTD_ALLOC(f64, (t->nrows + 1) * t->ncols);
    OTD_ALLOC(i64, (t->nrows + 1) * t->ncols);
    OTD_ALLOC(flags, (t->nrows + 1) * t->ncols);
    OTD_ALLOC(text, (t->nrows + 1) * t->ncols);
    OTD_ALLOC(missing, (t->nrows + 1) * t->ncols);
    for (int c = 0; c < t->ncols; c++) {
        size_t o = (size_t)c * stride;
        OTD_CHECK(
            convert_column(t, c, &cols[c], f64 + o, i64 + o, flags + o, text + o, missing + o));
    }
    OTD_CHECK(otd_h5table_write(path, t->nrows, cols, t->ncols));
done:
    free(cols);
    free(f64);
    free(i64);
    free(flags);
    free(text);
    free(missing);
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
