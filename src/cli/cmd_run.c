/* cmd_run.c: `otd run`: read the configuration on rank 0, agree on it
 * everywhere, prepare the output directory, hand over to the driver. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_driver.h"

typedef struct {
    const char *config; /* NULL: defaults only */
    const char *out;    /* NULL: derived from the config hash */
    const char **sets;
    int nsets;
    int help;
} run_args;

void otd_cmd_run_usage(FILE *out)
{
    fprintf(out, "usage: mpirun -n P otd run [CONFIG.yaml] [--set KEY=VALUE]... [--out DIR]\n"
                 "\n"
                 "Run one experiment. CONFIG.yaml holds any of the keys below, nested\n"
                 "(problem:\\n  order: 3) or dotted (problem.order: 3); --set overrides them,\n"
                 "later ones win. Every rank reads the same configuration (rank 0 reads the\n"
                 "file); a bad key or value stops all ranks before anything is written.\n"
                 "\n"
                 "  --set KEY=VALUE   override one key (VALUE in YAML: 0.01, bl, [1, 0.5])\n"
                 "  --out DIR         output directory (created; default otd-run-<config hash>);\n"
                 "                    DIR/results.h5 must not exist yet\n"
                 "  -h, --help        this help\n"
                 "\n"
                 "Output: DIR/results.h5 (resolved config, provenance, /history/<metric>,\n"
                 "/target, /init/W, /final/W, /summary); see `otd info DIR/results.h5`.\n"
                 "Exit status: 0 finished, 1 runtime failure, 2 bad usage or configuration,\n"
                 "3 loss or gradient became non-finite.\n"
                 "\n"
                 "Configuration keys:\n");
    otd_config_print_help(out);
}

static otd_err parse_args(int argc, char **argv, run_args *a)
{
    otd_err err = OTD_OK;
    OTD_ALLOC(a->sets, argc);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            a->help = 1;
        } else if (strcmp(s, "--set") == 0 || strcmp(s, "--out") == 0) {
            if (i + 1 >= argc)
                OTD_FAIL(OTD_ERR_ARG, "%s needs a value", s);
            if (s[2] == 's')
                a->sets[a->nsets++] = argv[++i];
            else
                a->out = argv[++i];
        } else if (strncmp(s, "--set=", 6) == 0) {
            a->sets[a->nsets++] = s + 6;
        } else if (strncmp(s, "--out=", 6) == 0) {
            a->out = s + 6;
        } else if (s[0] == '-') {
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd run --help)", s);
        } else if (a->config == NULL) {
            a->config = s;
        } else {
            OTD_FAIL(OTD_ERR_ARG, "more than one configuration file ('%s' and '%s')", a->config, s);
        }
    }
done:
    return err;
}

/* Rank 0 only: the whole file, NUL-terminated. */
static otd_err read_file(const char *path, char **text, size_t *len)
{
    otd_err err = OTD_OK;
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        OTD_FAIL(OTD_ERR_CONFIG, "cannot open configuration file '%s': %s", path, strerror(errno));
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 8192);
            if (nb == NULL)
                OTD_FAIL(OTD_ERR_NOMEM, "out of memory reading '%s'", path);
            buf = nb;
        }
        size_t k = fread(buf + n, 1, 4096, f);
        n += k;
        if (k < 4096) {
            if (ferror(f))
                OTD_FAIL(OTD_ERR_CONFIG, "cannot read configuration file '%s'", path);
            break;
        }
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    buf = NULL;
done:
    if (f != NULL)
        fclose(f);
    free(buf);
    return err;
}

/* Rank 0 only: create dir and its parents (mkdir -p). */
static otd_err make_dirs(const char *dir)
{
    otd_err err = OTD_OK;
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        OTD_FAIL(OTD_ERR_IO, "output directory name too long: '%s'", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            OTD_FAIL(OTD_ERR_IO, "cannot create output directory '%s': %s", path, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        OTD_FAIL(OTD_ERR_IO, "output path '%s' exists and is not a directory", dir);
done:
    return err;
}

/* Print a failure: a verdict shared by all ranks once (rank 0, which names
 * the failing rank if it is another), a local one by the rank that has it. */
static void report_error(otd_comm *comm, otd_err err)
{
    int rank = otd_comm_rank(comm), failed = otd_comm_failed_rank(comm);
    if (rank == 0 || rank == failed)
        fprintf(stderr, "otd run: %s: %s\n", otd_strerror(err), otd_error_message());
    else if (failed < 0 && err != OTD_ERR_CONFIG && err != OTD_ERR_ARG && err != OTD_ERR_NUMERIC)
        fprintf(stderr, "otd run [rank %d]: %s: %s\n", rank, otd_strerror(err),
                otd_error_message());
}

static int exit_status(otd_err err)
{
    switch (err) {
    case OTD_OK:
        return OTD_EXIT_OK;
    case OTD_ERR_CONFIG:
    case OTD_ERR_ARG:
    case OTD_ERR_FORMAT:
        return OTD_EXIT_USAGE;
    case OTD_ERR_NUMERIC:
        return OTD_EXIT_NONFINITE;
    default:
        return OTD_EXIT_FAILURE;
    }
}

int otd_cmd_run(int argc, char **argv)
{
    otd_err err = OTD_OK, local = OTD_OK;
    otd_comm *comm = NULL;
    otd_config cfg;
    run_args args = {0};
    char *text = NULL, outbuf[64];
    size_t len = 0;
    otd_run_summary sum;
    memset(&cfg, 0, sizeof cfg);

    if (otd_comm_create(&comm) != OTD_OK) {
        fprintf(stderr, "otd run: %s\n", otd_error_message());
        return OTD_EXIT_FAILURE;
    }
    /* argv is the same on every rank, so is this verdict. */
    OTD_CHECK(parse_args(argc, argv, &args));
    if (args.help) {
        if (otd_comm_rank(comm) == 0)
            otd_cmd_run_usage(stdout);
        goto done;
    }
    if (args.config != NULL && otd_comm_rank(comm) == 0)
        local = read_file(args.config, &text, &len);
    OTD_CHECK(otd_comm_agree(comm, local));
    if (args.config != NULL)
        OTD_CHECK(otd_comm_bcast_bytes(comm, &text, &len, 0));
    /* Every rank parses the same bytes: the same config or the same error. */
    OTD_CHECK(otd_config_parse(text, len, args.config ? args.config : "<defaults>", args.sets,
                               args.nsets, &cfg));
    if (args.out == NULL) {
        snprintf(outbuf, sizeof outbuf, "otd-run-%016llx",
                 (unsigned long long)otd_config_hash(&cfg));
        args.out = outbuf;
    }
    local = otd_comm_rank(comm) == 0 ? make_dirs(args.out) : OTD_OK;
    OTD_CHECK(otd_comm_agree(comm, local));
    OTD_CHECK(otd_driver_run(&cfg, comm, args.out, &sum));
done:
    if (err != OTD_OK)
        report_error(comm, err);
    /* An error not known to be shared may leave other ranks waiting in a
     * collective: end the whole job rather than hang it. */
    if (err != OTD_OK && err != OTD_ERR_CONFIG && err != OTD_ERR_ARG && err != OTD_ERR_NUMERIC &&
        otd_comm_failed_rank(comm) < 0 && otd_comm_size(comm) > 1) {
        fflush(stderr);
        otd_comm_abort(comm, OTD_EXIT_FAILURE);
    }
    free(text);
    free(args.sets);
    otd_config_free(&cfg);
    otd_comm_destroy(comm);
    return exit_status(err);
}
