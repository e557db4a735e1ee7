/* sweep.c: read a sweep file and expand it into named, validated points
 * (see otd_sweep.h).
 *
 * Every value of the file is kept as YAML text. A point's config file is
 * the base file's keys (flattened to dotted names), then `set`, then the
 * point's own grid values or entries, later keys replacing earlier ones,
 * one "key: value" line each. That text is handed to otd_config_parse, the
 * same parser `otd run` uses: a valid point is written as its resolved
 * canonical YAML, an invalid one as that merged text, so its task fails with
 * the very message `otd sweep` printed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_algo.h"
#include "otd/otd_config.h"
#include "otd/otd_sweep.h"
#include "sweep/sweep_internal.h"

/* More points than this is a typo in a grid, not an experiment (and far
 * beyond any Slurm array). Counted as listed, before duplicates merge, so
 * that a huge file is refused before any point is built. */
#define MAX_POINTS OTD_SWEEP_MAX_POINTS
/* Length cap of the readable part of a point name. */
#define READABLE_MAX 80

/* key: value-as-YAML-text, both owned. */
typedef struct {
    char *key, *text;
} kv;

typedef struct {
    kv *v;
    size_t n, cap;
} kvlist;

typedef struct {
    char *key;
    int n;
    char **vals;
} grid_axis;

struct otd_sweep {
    char *path, *text, *name;
    kvlist base, set;
    grid_axis *grid;
    int ngrid;
    kvlist *points;
    int npoint_entries;
    char **keys; /* swept keys */
    int nkeys;
    otd_sweep_point *pts;
    int64_t n, merged;
    /* Open addressing on point names: slot = point index + 1, 0 empty; a
     * power of two at least twice the listed points, so that telling a
     * duplicate costs one hash and a probe or two, not a scan of all
     * earlier points. */
    int64_t *slots;
    uint64_t nslots;
    otd_sweep_slurm slurm;
};

static void kvlist_free(kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].text);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Set key to text (copies), replacing an earlier value of the same key. */
static otd_err kvlist_set(kvlist *l, const char *key, const char *text)
{
    char *t = strdup(text), *k = NULL;
    if (t == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory expanding a sweep");
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, key) == 0) {
            free(l->v[i].text);
            l->v[i].text = t;
            return OTD_OK;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        kv *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            free(t);
            return OTD_ERROR(OTD_ERR_NOMEM, "out of memory expanding a sweep");
        }
        l->v = v;
        l->cap = cap;
    }
    if ((k = strdup(key)) == NULL) {
        free(t);
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory expanding a sweep");
    }
    l->v[l->n++] = (kv){k, t};
    return OTD_OK;
}

static const char *kvlist_get(const kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, key) == 0)
            return l->v[i].text;
    return NULL;
}

/* Flatten a mapping node into l, each value as flow text. */
static otd_err leaves_to_kv(yaml_document_t *doc, yaml_node_t *map, const char *source,
                            int point_keys, kvlist *l)
{
    otd_err err = OTD_OK;
    otd_yaml_leaves leaves = {0};
    otd_strbuf t = {0};
    OTD_CHECK(otd_yaml_flatten(doc, map, source, point_keys, &leaves));
    for (size_t i = 0; i < leaves.n; i++) {
        t.len = 0;
        OTD_CHECK(otd_strbuf_printf(&t, "%s", ""));
        OTD_CHECK(otd_yaml_flow(doc, leaves.v[i].node, &t));
        OTD_CHECK(kvlist_set(l, leaves.v[i].key, t.data));
    }
done:
    otd_yaml_leaves_free(&leaves);
    otd_strbuf_free(&t);
    return err;
}

/* ------------------------------------------------------------ the file */

static const char *const sweep_keys[] = {
    "name",         "base",  "set",    "grid", "points", "ranks",  "sbatch", "signal_seconds",
    "max_requeues", "nodes", "ntasks", "time", "jobs",   "gflops", "setup"};
#define NSWEEP_KEYS (sizeof sweep_keys / sizeof *sweep_keys)

typedef struct {
    otd_sweep *s;
    yaml_document_t *doc;
    const char *path;
    char origin[600];
} reader;

static otd_err read_int(reader *r, yaml_node_t *v, const char *key, int lo, int *out)
{
    const char *s;
    char *end = NULL;
    long x;
    if (v->type != YAML_SCALAR_NODE)
        return OTD_ERROR(OTD_ERR_CONFIG, "%s: %s must be an integer >= %d", r->origin, key, lo);
    s = (const char *)v->data.scalar.value;
    errno = 0;
    x = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || x < lo || x > INT_MAX)
        return OTD_ERROR(OTD_ERR_CONFIG, "%s: %s = '%s': expected an integer >= %d", r->origin, key,
                         s, lo);
    *out = (int)x;
    return OTD_OK;
}

/* gflops: a positive, finite number. */
static otd_err read_rate(reader *r, yaml_node_t *v, const char *key, double *out)
{
    const char *s = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "";
    char *end = NULL;
    double x;
    errno = 0;
    x = strtod(s, &end);
    if (v->type != YAML_SCALAR_NODE || errno != 0 || end == s || *end != '\0' || !(x > 0) ||
        x > 1e9)
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "%s: %s = '%s': expected the assumed GFLOP/s per rank, a number > 0",
                         r->origin, key, s);
    *out = x;
    return OTD_OK;
}

/* time: a Slurm time limit. */
static otd_err read_time(reader *r, yaml_node_t *v, int *out)
{
    if (v->type != YAML_SCALAR_NODE)
        return OTD_ERROR(OTD_ERR_CONFIG, "%s: time must be a Slurm time limit (\"01:00:00\")",
                         r->origin);
    return otd_sweep_parse_time((const char *)v->data.scalar.value, r->origin, out);
}

/* #SBATCH options that otd writes for each job it packs. */
static const struct {
    const char *opt, *why;
} per_job[] = {
    {"--time", "otd sets each job's --time: use the sweep key `time` or --time"},
    {"-t", "otd sets each job's --time: use the sweep key `time` or --time"},
    {"--nodes", "otd sets each job's --nodes: use the sweep key `nodes` or --nodes"},
    {"-N", "otd sets each job's --nodes: use the sweep key `nodes` or --nodes"},
    {"--ntasks", "otd sets each job's --ntasks: use the sweep key `ntasks` or --ntasks"},
    {"-n", "otd sets each job's --ntasks: use the sweep key `ntasks` or --ntasks"},
    {"--array", "otd packs points into jobs, not array tasks (see the sweep key `jobs`)"},
    {"-a", "otd packs points into jobs, not array tasks (see the sweep key `jobs`)"},
};

otd_err otd_sweep_check_sbatch_option(const char *opt, const char *what)
{
    const char *eq = strchr(opt, '=');
    size_t word = eq ? (size_t)(eq - opt) : strlen(opt);
    const char *why = NULL;
    char shown[160];
    size_t k = 0;
    if (opt[0] != '-')
        why = "an option starts with '-'";
    for (const unsigned char *c = (const unsigned char *)opt; why == NULL && *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            why = "a control character (a newline would end the #SBATCH line)";
        else if (*c == '\\')
            why = "a backslash (Slurm's script parser reads it as an escape)";
    }
    if (why == NULL && strcspn(opt, " ") < word)
        why = "write the option and its value as one word";
    /* What otd sets per job from its packing: one value, one place. */
    for (size_t j = 0; why == NULL && j < sizeof per_job / sizeof *per_job; j++) {
        size_t n = strlen(per_job[j].opt);
        if (per_job[j].opt[1] == '-' ? word == n && strncmp(opt, per_job[j].opt, n) == 0
                                     : strncmp(opt, per_job[j].opt, n) == 0)
            return OTD_ERROR(OTD_ERR_CONFIG, "%s '%.100s': %s", what, opt, per_job[j].why);
    }
    if (why == NULL)
        return OTD_OK;
    /* The option as printable text on the one line of the message. */
    for (const unsigned char *c = (const unsigned char *)opt; *c && k + 5 < sizeof shown; c++) {
        if (*c < 0x20 || *c == 0x7f)
            k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", *c);
        else
            shown[k++] = (char)*c;
    }
    shown[k] = '\0';
    return OTD_ERROR(OTD_ERR_CONFIG,
                     "%s '%s': %s; each sbatch option is one word starting with '-', its value "
                     "after '=' (e.g. --mem=4G or -pshort, not -p short)",
                     what, shown, why);
}

/* One sbatch option of the file (a NULL or non-scalar item is refused). */
static otd_err add_sbatch(reader *r, yaml_node_t *item)
{
    otd_err err = OTD_OK;
    otd_sweep_slurm *sl = &r->s->slurm;
    char what[700];
    const char *opt;
    if (item == NULL || item->type != YAML_SCALAR_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: every sbatch entry must be a single option", r->origin);
    opt = (const char *)item->data.scalar.value;
    snprintf(what, sizeof what, "%s:%zu:%zu: sbatch option", r->path, item->start_mark.line + 1,
             item->start_mark.column + 1);
    /* The same rule as --sbatch on the command line. */
    OTD_CHECK(otd_sweep_check_sbatch_option(opt, what));
    if ((sl->sbatch[sl->nsbatch++] = strdup(opt)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
done:
    return err;
}

/* One `setup` line: a string that is one line, run as written. */
static otd_err add_setup(reader *r, yaml_node_t *item)
{
    otd_err err = OTD_OK;
    otd_sweep_slurm *sl = &r->s->slurm;
    const char *line;
    if (item == NULL || item->type != YAML_SCALAR_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: every setup entry must be one shell line (a string)",
                 r->origin);
    line = (const char *)item->data.scalar.value;
    if (strlen(line) != item->data.scalar.length || strpbrk(line, "\n\r") != NULL)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "%s:%zu:%zu: setup line '%.60s': a line break or NUL; write one entry per line",
                 r->path, item->start_mark.line + 1, item->start_mark.column + 1, line);
    if ((sl->setup[sl->nsetup++] = strdup(line)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
done:
    return err;
}

static otd_err read_setup(reader *r, yaml_node_t *v)
{
    otd_err err = OTD_OK;
    otd_sweep_slurm *sl = &r->s->slurm;
    if (v->type == YAML_SCALAR_NODE) {
        OTD_ALLOC(sl->setup, 1);
        OTD_CHECK(add_setup(r, v));
        goto done;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: setup must be a list of shell lines (\"module load x\")",
                 r->origin);
    OTD_ALLOC(sl->setup, v->data.sequence.items.top - v->data.sequence.items.start);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
        OTD_CHECK(add_setup(r, yaml_document_get_node(r->doc, *it)));
done:
    return err;
}

static otd_err read_sbatch(reader *r, yaml_node_t *v)
{
    otd_err err = OTD_OK;
    otd_sweep_slurm *sl = &r->s->slurm;
    /* A single option may be written without the list brackets. */
    if (v->type == YAML_SCALAR_NODE) {
        OTD_ALLOC(sl->sbatch, 1);
        OTD_CHECK(add_sbatch(r, v));
        goto done;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: sbatch must be a list of options (\"--time=00:30:00\")",
                 r->origin);
    OTD_ALLOC(sl->sbatch, v->data.sequence.items.top - v->data.sequence.items.start);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
        OTD_CHECK(add_sbatch(r, yaml_document_get_node(r->doc, *it)));
done:
    return err;
}

/* The sweep name goes into file names and the Slurm job name. */
static otd_err check_name(reader *r, const char *name)
{
    if (name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789._+-") != strlen(name))
        return OTD_ERROR(OTD_ERR_CONFIG,
                         "%s: name '%s': use letters, digits and . _ + - only (it names the "
                         "Slurm job)",
                         r->origin, name);
    return OTD_OK;
}

/* base: relative to the sweep file's directory. */
static otd_err read_base(reader *r, yaml_node_t *v)
{
    otd_err err = OTD_OK;
    char *path = NULL, *text = NULL;
    size_t len = 0;
    yaml_document_t doc;
    int loaded = 0;
    const char *b, *slash;
    if (v->type != YAML_SCALAR_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: base must be a path to a config file", r->origin);
    b = (const char *)v->data.scalar.value;
    slash = strrchr(r->path, '/');
    if (b[0] == '/' || slash == NULL) {
        path = strdup(b);
    } else {
        size_t n = (size_t)(slash - r->path) + 1 + strlen(b) + 1;
        if ((path = malloc(n)) != NULL)
            snprintf(path, n, "%.*s/%s", (int)(slash - r->path), r->path, b);
    }
    if (path == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    if (otd_read_text_file(path, "base config", OTD_ERR_IO, &text, &len) != OTD_OK)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: base '%s': %s", r->origin, b, otd_error_text());
    OTD_CHECK(otd_yaml_load(text, len, path, &doc, &loaded));
    if (yaml_document_get_root_node(&doc) != NULL)
        OTD_CHECK(leaves_to_kv(&doc, yaml_document_get_root_node(&doc), path, 0, &r->s->base));
done:
    if (loaded)
        yaml_document_delete(&doc);
    free(text);
    free(path);
    return err;
}

static otd_err read_grid(reader *r, yaml_node_t *v)
{
    otd_err err = OTD_OK;
    otd_yaml_leaves leaves = {0};
    otd_strbuf t = {0};
    otd_sweep *s = r->s;
    if (v->type != YAML_MAPPING_NODE || v->data.mapping.pairs.top == v->data.mapping.pairs.start)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: grid must map configuration keys to lists of values",
                 r->origin);
    OTD_CHECK(otd_yaml_flatten(r->doc, v, r->path, 1, &leaves));
    OTD_ALLOC(s->grid, leaves.n);
    for (size_t i = 0; i < leaves.n; i++) {
        yaml_node_t *list = leaves.v[i].node;
        grid_axis *ax = &s->grid[s->ngrid++];
        yaml_node_item_t *it;
        ax->key = leaves.v[i].key;
        leaves.v[i].key = NULL;
        if (list->type != YAML_SEQUENCE_NODE ||
            list->data.sequence.items.top == list->data.sequence.items.start)
            OTD_FAIL(OTD_ERR_CONFIG,
                     "%s:%d:%d: grid key %s: expected a non-empty list of values, e.g. [6, 12]",
                     r->path, leaves.v[i].line, leaves.v[i].col, ax->key);
        OTD_ALLOC(ax->vals, list->data.sequence.items.top - list->data.sequence.items.start);
        for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(r->doc, *it);
            if (item == NULL)
                OTD_FAIL(OTD_ERR_INTERNAL, "libyaml returned a list item without a node");
            t.len = 0;
            OTD_CHECK(otd_strbuf_printf(&t, "%s", ""));
            OTD_CHECK(otd_yaml_flow(r->doc, item, &t));
            ax->vals[ax->n++] = t.data;
            memset(&t, 0, sizeof t);
        }
    }
done:
    otd_yaml_leaves_free(&leaves);
    otd_strbuf_free(&t);
    return err;
}

static otd_err read_points(reader *r, yaml_node_t *v)
{
    otd_err err = OTD_OK;
    otd_sweep *s = r->s;
    if (v->type != YAML_SEQUENCE_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: points must be a list of mappings ({model.m: 30})",
                 r->origin);
    /* Before building any entry: a huge list is refused at once. */
    if (v->data.sequence.items.top - v->data.sequence.items.start > MAX_POINTS)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: points lists %lld entries: more than %d points per sweep",
                 r->origin, (long long)(v->data.sequence.items.top - v->data.sequence.items.start),
                 MAX_POINTS);
    OTD_ALLOC(s->points, v->data.sequence.items.top - v->data.sequence.items.start);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(r->doc, *it);
        if (item == NULL || item->type != YAML_MAPPING_NODE)
            OTD_FAIL(OTD_ERR_CONFIG, "%s:%zu: every entry of points must be a mapping of keys",
                     r->path, item ? item->start_mark.line + 1 : 0);
        OTD_CHECK(leaves_to_kv(r->doc, item, r->path, 1, &s->points[s->npoint_entries++]));
    }
done:
    return err;
}

static otd_err read_top(reader *r, yaml_node_t *root)
{
    otd_err err = OTD_OK;
    otd_sweep *s = r->s;
    if (root == NULL)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: empty sweep file", r->path);
    if (root->type != YAML_MAPPING_NODE)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: the top level must be a mapping (name, base, set, grid, ...)",
                 r->path);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *key;
        size_t w = 0;
        if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
            OTD_FAIL(OTD_ERR_CONFIG, "%s: keys must be plain names", r->path);
        key = (const char *)k->data.scalar.value;
        snprintf(r->origin, sizeof r->origin, "%s:%zu:%zu", r->path, k->start_mark.line + 1,
                 k->start_mark.column + 1);
        while (w < NSWEEP_KEYS && strcmp(key, sweep_keys[w]) != 0)
            w++;
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(r->doc, q->key);
            if (k2 != NULL && k2->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k2->data.scalar.value, key) == 0)
                OTD_FAIL(OTD_ERR_CONFIG, "%s: duplicate sweep key '%s'", r->origin, key);
        }
        switch (w) {
        case 0:
            if (v->type != YAML_SCALAR_NODE)
                OTD_FAIL(OTD_ERR_CONFIG, "%s: name must be a word", r->origin);
            OTD_CHECK(check_name(r, (const char *)v->data.scalar.value));
            free(s->name);
            if ((s->name = strdup((const char *)v->data.scalar.value)) == NULL)
                OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
            break;
        case 1:
            OTD_CHECK(read_base(r, v));
            break;
        case 2:
            if (v->type != YAML_MAPPING_NODE)
                OTD_FAIL(OTD_ERR_CONFIG, "%s: set must be a mapping of configuration keys",
                         r->origin);
            OTD_CHECK(leaves_to_kv(r->doc, v, r->path, 0, &s->set));
            break;
        case 3:
            OTD_CHECK(read_grid(r, v));
            break;
        case 4:
            OTD_CHECK(read_points(r, v));
            break;
        case 5:
            OTD_CHECK(read_int(r, v, key, 1, &s->slurm.ranks));
            break;
        case 6:
            OTD_CHECK(read_sbatch(r, v));
            break;
        case 7:
            OTD_CHECK(read_int(r, v, key, 0, &s->slurm.signal_seconds));
            break;
        case 8:
            OTD_CHECK(read_int(r, v, key, 0, &s->slurm.max_requeues));
            break;
        case 9:
            OTD_CHECK(read_int(r, v, key, 1, &s->slurm.nodes));
            break;
        case 10:
            OTD_CHECK(read_int(r, v, key, 1, &s->slurm.ntasks));
            break;
        case 11:
            OTD_CHECK(read_time(r, v, &s->slurm.time_seconds));
            break;
        case 12:
            OTD_CHECK(read_int(r, v, key, 1, &s->slurm.jobs));
            break;
        case 13:
            OTD_CHECK(read_rate(r, v, key, &s->slurm.gflops));
            break;
        case 14:
            OTD_CHECK(read_setup(r, v));
            break;
        default:
            OTD_FAIL(OTD_ERR_CONFIG,
                     "%s: unknown sweep key '%s' (known: name, base, set, grid, points, ranks, "
                     "nodes, ntasks, time, jobs, gflops, setup, sbatch, signal_seconds, "
                     "max_requeues)%s",
                     r->origin, key,
                     strcmp(key, "throttle") == 0
                         ? "; throttle is gone: points are packed into a few jobs (see jobs)"
                         : "");
        }
    }
done:
    return err;
}

/* Default name: the file's basename without .yaml/.yml. */
static otd_err default_name(reader *r)
{
    const char *b = strrchr(r->path, '/');
    size_t n;
    b = b ? b + 1 : r->path;
    n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(b + n - 4, ".yml") == 0)
        n -= 4;
    if ((r->s->name = strndup(b, n)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    for (char *c = r->s->name; *c; c++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *c) ==
            NULL)
            *c = '_';
    return OTD_OK;
}

/* ------------------------------------------------------------ expansion */

static otd_err add_swept_key(otd_sweep *s, const char *key)
{
    for (int k = 0; k < s->nkeys; k++)
        if (strcmp(s->keys[k], key) == 0)
            return OTD_OK;
    char **keys = realloc(s->keys, (size_t)(s->nkeys + 1) * sizeof *keys);
    if (keys == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    s->keys = keys;
    if ((s->keys[s->nkeys] = strdup(key)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    s->nkeys++;
    return OTD_OK;
}

/* The label of swept key k in names: its last part ("m" of model.m),
 * or the whole key with '_' for '.' when another swept key ends the same. */
static void key_label(const otd_sweep *s, int k, char *out, size_t cap)
{
    const char *last = strrchr(s->keys[k], '.');
    last = last ? last + 1 : s->keys[k];
    for (int j = 0; j < s->nkeys; j++) {
        const char *o = strrchr(s->keys[j], '.');
        o = o ? o + 1 : s->keys[j];
        if (j != k && strcmp(o, last) == 0) {
            snprintf(out, cap, "%s", s->keys[k]);
            for (char *c = out; *c; c++)
                if (*c == '.')
                    *c = '_';
            return;
        }
    }
    snprintf(out, cap, "%s", last);
}

/* "dim10-m12-seed0-gd": numbers after their key's label, words alone. */
static otd_err readable_part(const otd_sweep *s, const char *const *values, otd_strbuf *out)
{
    otd_err err = OTD_OK;
    char label[128];
    for (int k = 0; k < s->nkeys; k++) {
        const char *v = values[k];
        if (v[0] == '\0')
            continue;
        key_label(s, k, label, sizeof label);
        if (out->len > 0)
            OTD_CHECK(otd_strbuf_printf(out, "-"));
        if (strchr("0123456789+-.[", v[0]) != NULL)
            OTD_CHECK(otd_strbuf_printf(out, "%s", label));
        /* One '_' per run of separators, and none before the first
         * character: the buffer is empty (its data NULL) until something is
         * written, as for a first value that is quoted text starting with a
         * space or a comma ("\" plain\""). Names that never met that case
         * are unchanged, so existing sweep directories keep their points. */
        for (const char *c = v; *c; c++) {
            if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *c))
                OTD_CHECK(otd_strbuf_printf(out, "%c", *c));
            else if ((*c == ',' || *c == ' ') && out->len > 0 && out->data[out->len - 1] != '_')
                OTD_CHECK(otd_strbuf_printf(out, "_"));
        }
    }
    if (out->len > READABLE_MAX) {
        out->len = READABLE_MAX;
        out->data[out->len] = '\0';
    }
done:
    return err;
}

static otd_err add_point(otd_sweep *s, const kvlist *own)
{
    otd_err err = OTD_OK;
    kvlist merged = {0};
    otd_strbuf text = {0}, name = {0};
    otd_config cfg;
    char **values = NULL, src[512];
    unsigned long long hash;
    uint64_t slot;
    int valid, ranks = s->slurm.ranks;
    const char *rk = kvlist_get(own, OTD_SWEEP_POINT_RANKS);
    memset(&cfg, 0, sizeof cfg);
    if (rk != NULL) {
        char *end = NULL;
        long v = strtol(rk, &end, 10);
        if (end == rk || *end != '\0' || v < 1 || v > OTD_SWEEP_MAX_RANKS)
            OTD_FAIL(OTD_ERR_CONFIG,
                     "%s: a point's ranks = '%s': out of range (allowed: integer in [1, %d])",
                     s->path, rk, OTD_SWEEP_MAX_RANKS);
        ranks = (int)v;
    }
    for (size_t i = 0; i < s->base.n; i++)
        OTD_CHECK(kvlist_set(&merged, s->base.v[i].key, s->base.v[i].text));
    for (size_t i = 0; i < s->set.n; i++)
        OTD_CHECK(kvlist_set(&merged, s->set.v[i].key, s->set.v[i].text));
    /* A point's ranks are how it runs, not part of its configuration. */
    for (size_t i = 0; i < own->n; i++)
        if (strcmp(own->v[i].key, OTD_SWEEP_POINT_RANKS) != 0)
            OTD_CHECK(kvlist_set(&merged, own->v[i].key, own->v[i].text));
    OTD_CHECK(otd_strbuf_printf(&text, "%s", ""));
    for (size_t i = 0; i < merged.n; i++)
        OTD_CHECK(otd_strbuf_printf(&text, "%s: %s\n", merged.v[i].key, merged.v[i].text));
    OTD_ALLOC(values, s->nkeys);
    for (int k = 0; k < s->nkeys; k++) {
        const char *v = kvlist_get(own, s->keys[k]);
        if ((values[k] = strdup(v ? v : "")) == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    }
    valid = otd_config_parse(text.data, text.len, "<point>", NULL, 0, &cfg) == OTD_OK;
    hash = valid ? otd_config_hash(&cfg) : otd_fnv1a(text.data);
    /* The same configuration at another rank count is another point (its
     * last bits differ); at the sweep's own count the name stays what it
     * was before points could choose. */
    if (ranks != s->slurm.ranks)
        hash = (hash ^ (unsigned long long)ranks) * 0x100000001b3ULL;
    OTD_CHECK(readable_part(s, (const char *const *)values, &name));
    OTD_CHECK(otd_strbuf_printf(&name, "%s%010llx", name.len ? "-" : "", hash >> 24));
    slot = otd_fnv1a(name.data) & (s->nslots - 1);
    for (; s->slots[slot] != 0; slot = (slot + 1) & (s->nslots - 1)) {
        if (strcmp(s->pts[s->slots[slot] - 1].name, name.data) == 0) {
            s->merged++;
            goto done;
        }
    }
    if (s->n >= MAX_POINTS)
        OTD_FAIL(OTD_ERR_INTERNAL, "%s: more than %d points after the count", s->path, MAX_POINTS);
    otd_sweep_point *p = &s->pts[s->n];
    memset(p, 0, sizeof *p);
    p->valid = valid;
    p->ranks = ranks;
    /* The runner orders a job's points by the same estimate. */
    p->cost = valid ? otd_algo_cost(&cfg) : 0.0;
    if (valid) {
        char *yaml = NULL;
        OTD_CHECK(otd_config_to_yaml(&cfg, &yaml));
        p->config = yaml;
    } else {
        /* Parse again under the name `otd run` will see, so that the message
         * printed now is the one its task prints. */
        snprintf(src, sizeof src, "configs/%s.yaml", name.data);
        otd_config_free(&cfg);
        if (otd_config_parse(text.data, text.len, src, NULL, 0, &cfg) == OTD_OK)
            OTD_FAIL(OTD_ERR_INTERNAL, "point %s: the configuration parser changed its verdict",
                     name.data);
        if ((p->error = strdup(otd_error_text())) == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
        p->config = text.data;
        text.data = NULL;
    }
    p->name = name.data;
    name.data = NULL;
    p->values = (const char *const *)values;
    values = NULL;
    s->slots[slot] = ++s->n;
done:
    if (values != NULL)
        for (int k = 0; k < s->nkeys; k++)
            free(values[k]);
    free(values);
    otd_config_free(&cfg);
    kvlist_free(&merged);
    otd_strbuf_free(&text);
    otd_strbuf_free(&name);
    return err;
}

static otd_err expand(otd_sweep *s)
{
    otd_err err = OTD_OK;
    int64_t ngrid = 1, total;
    kvlist own = {0};
    otd_strbuf sizes = {0};
    /* The product saturates: it is only compared with the limit. */
    for (int a = 0; a < s->ngrid; a++) {
        OTD_CHECK(otd_strbuf_printf(&sizes, "%s%d", a ? " x " : "", s->grid[a].n));
        ngrid = ngrid > INT64_MAX / s->grid[a].n ? INT64_MAX : ngrid * s->grid[a].n;
    }
    if (ngrid == INT64_MAX)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: the grid has %s points, past 2^63: more than %d per sweep",
                 s->path, sizes.data, MAX_POINTS);
    if (ngrid > MAX_POINTS)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: the grid has %s = %lld points: more than %d per sweep",
                 s->path, sizes.data, (long long)ngrid, MAX_POINTS);
    total = ngrid + s->npoint_entries;
    if (s->ngrid == 0 && s->npoint_entries > 0)
        total = s->npoint_entries; /* points only: no grid point of base + set */
    if (total > MAX_POINTS)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "%s: %lld points (%lld of the grid, %d listed): more than %d per sweep", s->path,
                 (long long)total, (long long)ngrid, s->npoint_entries, MAX_POINTS);
    for (s->nslots = 16; s->nslots < 2 * (uint64_t)total;)
        s->nslots *= 2;
    OTD_ALLOC(s->slots, s->nslots);
    for (int a = 0; a < s->ngrid; a++)
        OTD_CHECK(add_swept_key(s, s->grid[a].key));
    for (int p = 0; p < s->npoint_entries; p++)
        for (size_t i = 0; i < s->points[p].n; i++)
            OTD_CHECK(add_swept_key(s, s->points[p].v[i].key));
    OTD_ALLOC(s->pts, total);
    if (!(s->ngrid == 0 && s->npoint_entries > 0)) {
        for (int64_t c = 0; c < ngrid; c++) {
            int64_t stride = ngrid;
            kvlist_free(&own);
            /* The last grid key varies fastest. */
            for (int a = 0; a < s->ngrid; a++) {
                stride /= s->grid[a].n;
                OTD_CHECK(
                    kvlist_set(&own, s->grid[a].key, s->grid[a].vals[(c / stride) % s->grid[a].n]));
            }
            OTD_CHECK(add_point(s, &own));
        }
    }
    for (int p = 0; p < s->npoint_entries; p++)
        OTD_CHECK(add_point(s, &s->points[p]));
done:
    kvlist_free(&own);
    otd_strbuf_free(&sizes);
    return err;
}

otd_err otd_sweep_load(const char *path, otd_sweep **out)
{
    otd_err err = OTD_OK;
    otd_sweep *s = NULL;
    yaml_document_t doc;
    int loaded = 0;
    size_t len = 0;
    reader r;
    *out = NULL;
    OTD_ALLOC(s, 1);
    s->slurm = (otd_sweep_slurm){
        .ranks = 1, .gflops = OTD_SWEEP_GFLOPS_DEFAULT, .signal_seconds = 60, .max_requeues = 3};
    if ((s->path = strdup(path)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
    /* The file named on the command line: missing is bad usage, like a
     * missing configuration file for `otd run`. */
    OTD_CHECK(otd_read_text_file(path, "sweep file", OTD_ERR_CONFIG, &s->text, &len));
    OTD_CHECK(otd_yaml_load(s->text, len, path, &doc, &loaded));
    r = (reader){.s = s, .doc = &doc, .path = path};
    OTD_CHECK(read_top(&r, yaml_document_get_root_node(&doc)));
    if (s->name == NULL)
        OTD_CHECK(default_name(&r));
    OTD_CHECK(expand(s));
    *out = s;
    s = NULL;
done:
    if (loaded)
        yaml_document_delete(&doc);
    otd_sweep_destroy(s);
    return err;
}

void otd_sweep_destroy(otd_sweep *s)
{
    if (s == NULL)
        return;
    for (int64_t i = 0; i < s->n; i++) {
        free((char *)s->pts[i].name);
        free((char *)s->pts[i].error);
        free((char *)s->pts[i].config);
        for (int k = 0; k < s->nkeys; k++)
            free((char *)s->pts[i].values[k]);
        free((char **)s->pts[i].values);
    }
    free(s->pts);
    free(s->slots);
    for (int a = 0; a < s->ngrid; a++) {
        free(s->grid[a].key);
        for (int v = 0; v < s->grid[a].n; v++)
            free(s->grid[a].vals[v]);
        free(s->grid[a].vals);
    }
    free(s->grid);
    for (int p = 0; p < s->npoint_entries; p++)
        kvlist_free(&s->points[p]);
    free(s->points);
    for (int k = 0; k < s->nkeys; k++)
        free(s->keys[k]);
    free(s->keys);
    for (int k = 0; k < s->slurm.nsbatch; k++)
        free(s->slurm.sbatch[k]);
    free(s->slurm.sbatch);
    for (int k = 0; k < s->slurm.nsetup; k++)
        free(s->slurm.setup[k]);
    free(s->slurm.setup);
    kvlist_free(&s->base);
    kvlist_free(&s->set);
    free(s->path);
    free(s->text);
    free(s->name);
    free(s);
}

otd_err otd_sweep_identity_text(const otd_sweep *s, char **text)
{
    otd_err err = OTD_OK;
    kvlist common = {0};
    otd_strbuf b = {0};
    *text = NULL;
    for (size_t i = 0; i < s->base.n; i++)
        OTD_CHECK(kvlist_set(&common, s->base.v[i].key, s->base.v[i].text));
    for (size_t i = 0; i < s->set.n; i++)
        OTD_CHECK(kvlist_set(&common, s->set.v[i].key, s->set.v[i].text));
    OTD_CHECK(otd_strbuf_printf(&b, "name\t%s\n", s->name));
    for (size_t i = 0; i < common.n; i++)
        OTD_CHECK(otd_strbuf_printf(&b, "%s\t%s\n", common.v[i].key, common.v[i].text));
    *text = b.data;
    b.data = NULL;
done:
    kvlist_free(&common);
    otd_strbuf_free(&b);
    return err;
}

const char *otd_sweep_name(const otd_sweep *s)
{
    return s->name;
}

const char *otd_sweep_text(const otd_sweep *s)
{
    return s->text;
}

int64_t otd_sweep_npoints(const otd_sweep *s)
{
    return s->n;
}

const otd_sweep_point *otd_sweep_point_at(const otd_sweep *s, int64_t i)
{
    return i >= 0 && i < s->n ? &s->pts[i] : NULL;
}

int64_t otd_sweep_nmerged(const otd_sweep *s)
{
    return s->merged;
}

int otd_sweep_nkeys(const otd_sweep *s)
{
    return s->nkeys;
}

const char *otd_sweep_key(const otd_sweep *s, int k)
{
    return k >= 0 && k < s->nkeys ? s->keys[k] : NULL;
}

const otd_sweep_slurm *otd_sweep_slurm_settings(const otd_sweep *s)
{
    return &s->slurm;
}
