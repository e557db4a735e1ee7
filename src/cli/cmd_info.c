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
    fprintf(out, "usage: otd info FILE.h5\n"
                 "       otd info RUN_DIR      (reads RUN_DIR/results.h5)\n"
                 "\n"
                 "Summarize an otd HDF5 file (results, checkpoint, tensor): the root attributes\n"
                 "(configuration, version, ranks, BLAS, config hash), every dataset with its\n"
                 "shape, the /summary attributes, and the number of /history rows with the\n"
                 "last row's iter, loss, rel_err, grad_norm and n_large.\n"
                 "The file is read in a child process first: HDF5 can crash on damaged\n"
                 "metadata, which is then reported as \"damaged (HDF5 could not read it)\".\n"
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

static otd_err info_file(const char *arg)
{
    otd_err err = OTD_OK;
    otd_h5info info;
    OTD_CHECK(otd_h5info_read(arg, &info));
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
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            usage(stdout);
            return OTD_EXIT_OK;
        }
        if (argv[k][0] == '-' && argv[k][1] != '\0')
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd info --help)", argv[k]);
        if (file != NULL)
            OTD_FAIL(OTD_ERR_ARG, "one file at a time ('%s' and '%s' given)", file, argv[k]);
        file = argv[k];
    }
    if (file == NULL)
        OTD_FAIL(OTD_ERR_ARG, "no file given (see otd info --help)");
    OTD_CHECK(info_file(file));
done:
    return otd_cli_finish(NULL, "info", err);
}
