/* cmd_info.c: `otd info FILE.h5`, a human summary of any otd HDF5 file.
 *
 * It reads with HDF5's default (serial) driver, so it needs no MPI collective
 * and works on a results file, a checkpoint or an input tensor alike: what it
 * does not recognise it still lists generically (attributes, datasets).
 * Reading is otd_h5info's; this file only formats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "otd/otd_config.h"
#include "otd/otd_h5info.h"

/* Root attributes shown first, in this order; the rest follow by name. */
static const char *const known_root[] = {"config", "otd_version", "nranks", "blas", "config_hash"};
#define NKNOWN_ROOT (sizeof known_root / sizeof *known_root)

/* History columns whose last value is shown, when present. */
static const char *const last_row_cols[] = {"iter", "loss", "rel_err", "grad_norm", "n_large"};
#define NLAST_ROW (sizeof last_row_cols / sizeof *last_row_cols)

/* Numeric arrays longer than this are shown by their first values only. */
#define SHOW_VALUES 8

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: otd info [--json] FILE.h5\n"
        "       otd info [--json] RUN_DIR      (reads RUN_DIR/results.h5)\n"
        "\n"
        "Summarize an otd HDF5 file (results, checkpoint, tensor): the root attributes\n"
        "(configuration, version, ranks, BLAS, config hash), every dataset with its\n"
        "shape, the /summary attributes, and the number of /history rows with the\n"
        "last row's iter, loss, rel_err, grad_norm and n_large.\n"
        "The file is read in a child process first: HDF5 can crash on damaged\n"
        "metadata, which is then reported as \"damaged (HDF5 could not read it)\".\n"
        "\n"
        "  --json      print one JSON document instead:\n"
        "                {\"file\", \"attrs\": {root attributes but config},\n"
        "                 \"config\": {\"yaml\": the stored YAML, \"keys\": {\"problem.order\":\n"
        "                 3, ...} (every key resolved; null if it does not parse)} or\n"
        "                 null, \"datasets\": [{\"path\": \"/final/W\", \"shape\": [...],\n"
        "                 \"type\"}],\n"
        "                 \"summary\": {attributes} or null, \"history\": {\"rows\",\n"
        "                 \"last\": {column: value}} or null, \"provenance\": {attributes}\n"
        "                 or null, \"groups\": {\"/summary\": {attributes}, ...} (every group "
        "with\n"
        "                 attributes)}\n"
        "              an attribute is a string, a number, an array of numbers, or\n"
        "              {\"hdf5_type_class\", \"n\"}; NaN and infinity are null\n"
        "  -h, --help  this help\n"
        "\n"
        "Exit status: 0 ok, 1 the file cannot be read (HDF5 failure), 2 usage error,\n"
        "or FILE missing, unreadable, not an HDF5 file, or damaged.\n");
}

/* Print a multi-line string with every line indented. */
static void print_block(const char *text, const char *indent)
{
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        printf("%s%.*s\n", indent, (int)n, p);
        p += n + (nl != NULL ? 1 : 0);
    }
}

static void print_doubles(const double *v, int64_t n)
{
    if (n == 1) {
        printf("%.10g\n", v[0]);
        return;
    }
    printf("[");
    for (int64_t k = 0; k < n && k < SHOW_VALUES; k++)
        printf("%s%.10g", k > 0 ? ", " : "", v[k]);
    printf(n > SHOW_VALUES ? ", ...] (%lld values)\n" : "]\n", (long long)n);
}

static void print_ints(const int64_t *v, int64_t n)
{
    if (n == 1) {
        printf("%lld\n", (long long)v[0]);
        return;
    }
    printf("[");
    for (int64_t k = 0; k < n && k < SHOW_VALUES; k++)
        printf("%s%lld", k > 0 ? ", " : "", (long long)v[k]);
    printf(n > SHOW_VALUES ? ", ...] (%lld values)\n" : "]\n", (long long)n);
}

/* One attribute as "indent name: value"; strings with newlines (the YAML
 * config) as an indented block below the name. */
static void print_attr(const otd_h5info_attr *a, const char *indent)
{
    if (a->kind == OTD_VALUE_STRING) {
        if (strchr(a->text, '\n') != NULL) {
            char deeper[64];
            snprintf(deeper, sizeof deeper, "%s    ", indent);
            printf("%s%s:\n", indent, a->name);
            print_block(a->text, deeper);
        } else {
            printf("%s%-14s %s\n", indent, a->name, a->text);
        }
        return;
    }
    printf("%s%-14s", indent, a->name);
    if (a->kind == OTD_VALUE_INT) {
        printf(" ");
        print_ints(a->ints, a->n);
    } else if (a->kind == OTD_VALUE_FLOAT) {
        printf(" ");
        print_doubles(a->reals, a->n);
    } else {
        printf(" (%lld values of HDF5 type class %d)\n", (long long)a->n, a->type_class);
    }
}

/* Every attribute, by name; with skip_known, not the known root ones. */
static void print_attrs(const otd_h5info_attrs *a, const char *indent, int skip_known)
{
    for (int64_t i = 0; i < a->n; i++) {
        int known = 0;
        for (size_t k = 0; skip_known && k < NKNOWN_ROOT; k++)
            known |= strcmp(a->v[i].name, known_root[k]) == 0;
        if (!known)
            print_attr(&a->v[i], indent);
    }
}

static void print_root_attrs(const otd_h5info *info)
{
    for (size_t k = 0; k < NKNOWN_ROOT; k++) {
        const otd_h5info_attr *a = otd_h5info_attr_find(&info->root, known_root[k]);
        if (a != NULL)
            print_attr(a, "  ");
    }
    print_attrs(&info->root, "  ", 1);
}

/* "(7, 3)" for a simple dataspace, "(7,)" for one dimension, "()" for a
 * scalar. */
static void shape_string(const otd_h5info_dataset *d, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int k = 0; k < d->rank && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu", k > 0 ? ", " : "",
                                (unsigned long long)d->dims[k]);
    if (len < cap)
        snprintf(buf + len, cap - len, d->rank == 1 ? ",)" : ")");
}

static void print_datasets(const otd_h5info *info)
{
    char shape[256];
    printf("datasets:\n");
    for (int64_t k = 0; k < info->ndsets; k++) {
        const otd_h5info_dataset *d = &info->dsets[k];
        shape_string(d, shape, sizeof shape);
        printf("  /%-30s %-16s %s\n", d->path, shape, d->type);
    }
}

/* "history: N rows" and the last row's main columns. The row count is that
 * of the first known column present (all columns have the same length). */
static otd_err print_history(const otd_h5info *info)
{
    uint64_t rows = 0;
    int have_rows = 0;
    char path[64];
    printf("history:");
    for (size_t k = 0; k < NLAST_ROW; k++) {
        const otd_h5info_dataset *d;
        snprintf(path, sizeof path, "history/%s", last_row_cols[k]);
        if ((d = otd_h5info_dataset_find(info, path)) == NULL)
            continue;
        if (!have_rows) {
            if (d->rank < 1)
                return OTD_ERROR(OTD_ERR_FORMAT, "history column '/%s' is not an array", path);
            rows = d->dims[0];
            have_rows = 1;
            printf(" %llu rows%s", (unsigned long long)rows, rows > 0 ? "; last:" : "");
        }
        if (rows > 0 && d->has_last)
            printf(" %s=%.8g", last_row_cols[k], d->last);
    }
    printf("%s\n", have_rows ? "" : " (no iter/loss/rel_err columns)");
    return OTD_OK;
}

/* ------------------------------------------------------------ --json */

static void json_attr_value(const otd_h5info_attr *a)
{
    if (a->kind == OTD_VALUE_STRING) {
        otd_json_string(stdout, a->text);
    } else if (a->kind == OTD_VALUE_INT || a->kind == OTD_VALUE_FLOAT) {
        printf("%s", a->n == 1 ? "" : "[");
        for (int64_t k = 0; k < a->n; k++) {
            printf("%s", k > 0 ? ", " : "");
            if (a->kind == OTD_VALUE_INT)
                printf("%lld", (long long)a->ints[k]);
            else
                otd_json_number(stdout, a->reals[k]);
        }
        printf("%s", a->n == 1 ? "" : "]");
    } else {
        printf("{\"hdf5_type_class\": %d, \"n\": %lld}", a->type_class, (long long)a->n);
    }
}

/* {name: value, ...}; skip: a name left out (NULL: none). */
static void json_attrs(const otd_h5info_attrs *a, const char *skip)
{
    int first = 1;
    printf("{");
    for (int64_t i = 0; i < a->n; i++) {
        if (skip != NULL && strcmp(a->v[i].name, skip) == 0)
            continue;
        printf("%s", first ? "" : ", ");
        first = 0;
        otd_json_string(stdout, a->v[i].name);
        printf(": ");
        json_attr_value(&a->v[i]);
    }
    printf("}");
}

/* A resolved value as otd_config_value_text gives it (YAML) as JSON: a
 * number, true/false, a flow sequence of numbers as an array; anything
 * else (names, paths) as a string. */
static void json_yaml_scalar(const char *t, size_t n)
{
    char buf[128], *end = NULL;
    double v;
    if (n > 0 && n < sizeof buf) {
        memcpy(buf, t, n);
        buf[n] = '\0';
        v = strtod(buf, &end);
        if (end == buf + n) {
            otd_json_number(stdout, v);
            return;
        }
        if (strcmp(buf, "true") == 0 || strcmp(buf, "false") == 0) {
            printf("%s", buf);
            return;
        }
    }
    char *copy = strndup(t, n);
    otd_json_string(stdout, copy != NULL ? copy : "");
    free(copy);
}

static void json_config_value(const char *text)
{
    size_t n = strlen(text);
    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        const char *p = text + 1, *stop = text + n - 1;
        printf("[");
        while (p < stop) {
            const char *comma = memchr(p, ',', (size_t)(stop - p)), *e = comma ? comma : stop;
            while (p < e && *p == ' ')
                p++;
            size_t len = (size_t)(e - p);
            while (len > 0 && p[len - 1] == ' ')
                len--;
            if (len > 0 || comma != NULL) {
                json_yaml_scalar(p, len);
                printf("%s", comma ? ", " : "");
            }
            p = comma ? comma + 1 : stop;
        }
        printf("]");
        return;
    }
    json_yaml_scalar(text, n);
}

/* "config": the stored YAML and every key resolved from it. A YAML this
 * otd cannot parse (another version's keys) keeps its text: keys null. */
static otd_err json_config(const otd_h5info_attr *a)
{
    otd_err err = OTD_OK;
    otd_config cfg;
    char *text = NULL;
    memset(&cfg, 0, sizeof cfg);
    printf("{\"yaml\": ");
    otd_json_string(stdout, a->text);
    printf(", \"keys\": ");
    if (otd_config_parse(a->text, strlen(a->text), "config attribute", NULL, 0, &cfg) != OTD_OK) {
        otd_error_clear();
        printf("null}");
        goto done;
    }
    printf("{");
    for (size_t i = 0; i < otd_config_nkeys(); i++) {
        OTD_CHECK(otd_config_value_text(&cfg, i, &text));
        printf("%s", i > 0 ? ", " : "");
        otd_json_string(stdout, otd_config_key(i));
        printf(": ");
        json_config_value(text);
        free(text);
        text = NULL;
    }
    printf("}}");
done:
    free(text);
    otd_config_free(&cfg);
    return err;
}

static void json_history(const otd_h5info *info)
{
    char path[64];
    int have_rows = 0;
    for (size_t k = 0; k < NLAST_ROW; k++) {
        const otd_h5info_dataset *d;
        snprintf(path, sizeof path, "history/%s", last_row_cols[k]);
        if ((d = otd_h5info_dataset_find(info, path)) == NULL || d->rank < 1)
            continue;
        if (!have_rows)
            printf("{\"rows\": %llu, \"last\": {", (unsigned long long)d->dims[0]);
        if (d->dims[0] > 0 && d->has_last) {
            printf("%s\"%s\": ", have_rows ? ", " : "", last_row_cols[k]);
            otd_json_number(stdout, d->last);
        }
        have_rows = 1;
    }
    printf("%s", have_rows ? "}}" : "null");
}

/* The whole file as one JSON document (the usage lists its fields). */
static otd_err json_file(const otd_h5info *info)
{
    otd_err err = OTD_OK;
    const otd_h5info_attr *config = otd_h5info_attr_find(&info->root, "config");
    const otd_h5info_group *prov = otd_h5info_group_find(info, "provenance");
    char name[1100];
    printf("{\"file\": ");
    otd_json_string(stdout, info->path);
    printf(",\n \"attrs\": ");
    json_attrs(&info->root, "config");
    printf(",\n \"config\": ");
    if (config != NULL && config->kind == OTD_VALUE_STRING)
        OTD_CHECK(json_config(config));
    else
        printf("null");
    printf(",\n \"datasets\": [");
    for (int64_t k = 0; k < info->ndsets; k++) {
        const otd_h5info_dataset *d = &info->dsets[k];
        snprintf(name, sizeof name, "/%s", d->path);
        printf("%s\n  {\"path\": ", k > 0 ? "," : "");
        otd_json_string(stdout, name);
        printf(", \"shape\": [");
        for (int r = 0; r < d->rank; r++)
            printf("%s%llu", r > 0 ? ", " : "", (unsigned long long)d->dims[r]);
        printf("], \"type\": ");
        otd_json_string(stdout, d->type);
        printf("}");
    }
    printf("],\n \"summary\": ");
    if (info->has_summary)
        json_attrs(&info->summary, NULL);
    else
        printf("null");
    printf(",\n \"history\": ");
    if (info->has_history)
        json_history(info);
    else
        printf("null");
    printf(",\n \"provenance\": ");
    if (prov != NULL)
        json_attrs(&prov->attrs, NULL);
    else
        printf("null");
    printf(",\n \"groups\": {");
    for (int64_t k = 0; k < info->ngroups; k++) {
        printf("%s", k > 0 ? ", " : "");
        snprintf(name, sizeof name, "/%s", info->groups[k].path);
        otd_json_string(stdout, name);
        printf(": ");
        json_attrs(&info->groups[k].attrs, NULL);
    }
    printf("}}\n");
done:
    return err;
}

static otd_err info_file(const char *arg, int json)
{
    otd_err err = OTD_OK;
    otd_h5info info;
    OTD_CHECK(otd_h5info_read(arg, &info));
    if (json) {
        OTD_CHECK(json_file(&info));
        goto done;
    }
    printf("file: %s\n", info.path);
    print_root_attrs(&info);
    print_datasets(&info);
    if (info.has_summary) {
        printf("summary:\n");
        print_attrs(&info.summary, "  ", 0);
    }
    if (info.has_provenance) {
        printf("provenance:\n");
        print_attrs(&info.provenance, "  ", 0);
    }
    if (info.has_history)
        OTD_CHECK(print_history(&info));
done:
    otd_h5info_free(&info);
    return err;
}

int otd_cmd_info(int argc, char **argv)
{
    const char *file = NULL;
    otd_err err = OTD_OK;
    int json = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            usage(stdout);
            return OTD_EXIT_OK;
        }
        if (strcmp(argv[k], "--json") == 0) {
            json = 1;
            continue;
        }
        if (argv[k][0] == '-' && argv[k][1] != '\0')
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd info --help)", argv[k]);
        if (file != NULL)
            OTD_FAIL(OTD_ERR_ARG, "one file at a time ('%s' and '%s' given)", file, argv[k]);
        file = argv[k];
    }
    if (file == NULL)
        OTD_FAIL(OTD_ERR_ARG, "no file given (see otd info --help)");
    OTD_CHECK(info_file(file, json));
done:
    return otd_cli_finish(NULL, "info", err);
}
