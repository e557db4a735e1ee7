/* cli_common.c: arguments, configuration and failure handling shared by the
 * collective sub-commands (see cli_common.h). */
#include "cli/cli_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "otd/otd_text.h"

otd_err otd_cli_parse_args(int argc, char **argv, const char *cmd, otd_cli_args *a)
{
    otd_err err = OTD_OK;
    OTD_ALLOC(a->sets, argc);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            a->help = 1;
        } else if (strcmp(s, "--restart") == 0 && strcmp(cmd, "run") == 0) {
            a->restart = 1;
        } else if (strcmp(s, "--print-config") == 0 && strcmp(cmd, "run") == 0) {
            a->print_config = 1;
        } else if ((strcmp(s, "--quiet") == 0 || strcmp(s, "-q") == 0) && strcmp(cmd, "run") == 0) {
            a->quiet = 1;
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
            OTD_FAIL(OTD_ERR_ARG, "unknown option '%s' (see otd %s --help)", s, cmd);
        } else if (a->config == NULL) {
            a->config = s;
        } else {
            OTD_FAIL(OTD_ERR_ARG, "more than one configuration file ('%s' and '%s')", a->config, s);
        }
    }
done:
    return err;
}

void otd_cli_args_free(otd_cli_args *a)
{
    free(a->sets);
    a->sets = NULL;
    a->nsets = 0;
}

otd_err otd_cli_load_config(otd_comm *comm, const otd_cli_args *a, otd_config *cfg)
{
    otd_err err = OTD_OK, local = OTD_OK;
    char *text = NULL;
    size_t len = 0;
    if (a->config != NULL && otd_comm_rank(comm) == 0)
        local = otd_read_text_file(a->config, "configuration file", OTD_ERR_CONFIG, &text, &len);
    OTD_CHECK(otd_comm_agree(comm, local));
    if (a->config != NULL)
        OTD_CHECK(otd_comm_bcast_bytes(comm, &text, &len, 0));
    /* Every rank parses the same bytes: the same config or the same error. */
    OTD_CHECK(
        otd_config_parse(text, len, a->config ? a->config : "<defaults>", a->sets, a->nsets, cfg));
done:
    free(text);
    return err;
}

/* Errors every rank reaches by itself from the same inputs (argv, the
 * broadcast configuration, an agreed non-finite loss): never a hang. */
static int shared_by_construction(otd_err err)
{
    return err == OTD_ERR_CONFIG || err == OTD_ERR_ARG || err == OTD_ERR_NUMERIC;
}

/* The sub-command named in warnings (otd_cli_begin). */
static const char *warn_cmd;

/* The trail is for developers: a user gets the message alone. */
static int debug_trail(void)
{
    const char *v = getenv("OTD_DEBUG");
    return v != NULL && strcmp(v, "1") == 0;
}

/* One fprintf per line: ranks sharing a stderr do not interleave inside it.
 * stdout first, so that the line follows what the command printed. */
static void print_line(const char *cmd, const char *what, const char *text)
{
    fflush(stdout);
    fprintf(stderr, "otd%s%s: %s%s\n", cmd != NULL ? " " : "", cmd != NULL ? cmd : "", what, text);
    fflush(stderr);
}

static void print_warning(const char *text)
{
    print_line(warn_cmd, "warning: ", text);
}

void otd_cli_begin(const char *cmd)
{
    warn_cmd = cmd;
    otd_warn_set_sink(print_warning);
}

void otd_cli_fail(otd_comm *comm, const char *cmd, otd_err err)
{
    int rank = 0, failed = -1, size = 1, speak;
    char who[32] = "";
    const char *msg;
    if (err == OTD_OK)
        return;
    if (comm != NULL) {
        rank = otd_comm_rank(comm);
        failed = otd_comm_failed_rank(comm);
        size = otd_comm_size(comm);
    }
    /* After an agreement the failing rank has the message itself (the
     * others only "rank N: ..." or a pointer to it): it speaks alone. */
    if (failed >= 0)
        speak = rank == failed;
    else
        speak = rank == 0 || !shared_by_construction(err);
    if (speak) {
        msg = debug_trail() ? otd_error_message() : otd_error_text();
        if (msg[0] == '\0')
            msg = otd_strerror(err);
        if (rank != 0)
            snprintf(who, sizeof who, "rank %d: ", rank);
        print_line(cmd, who, msg);
    }
    /* An error not known to be shared may leave other ranks waiting in a
     * collective: end the whole job rather than hang it. */
    if (comm != NULL && !shared_by_construction(err) && failed < 0 && size > 1)
        otd_comm_abort(comm, OTD_EXIT_FAILURE);
}

int otd_cli_finish(otd_comm *comm, const char *cmd, otd_err err)
{
    otd_cli_fail(comm, cmd, err);
    return otd_exit_for_error(err);
}

void otd_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void otd_json_number(FILE *out, double v)
{
    if (!isfinite(v))
        fputs("null", out);
    else if (fabs(v) < 1e15 && v == (double)(long long)v)
        fprintf(out, "%lld", (long long)v); /* integral values as integers: 3, not 3.0 */
    else
        fprintf(out, "%.17g", v);
}
