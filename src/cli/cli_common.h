/* cli_common.h: what the sub-commands share: for the collective ones (run,
 * tensor) the arguments [CONFIG.yaml] [--set KEY=VALUE]... [--out PATH] and
 * the configuration read on rank 0 and parsed everywhere; for all of them
 * the way a warning or failure is reported and turned into an exit
 * status. */
#ifndef OTD_CLI_COMMON_H
#define OTD_CLI_COMMON_H

#include <stdio.h>

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"

typedef struct {
    const char *config; /* NULL: defaults only */
    const char *out;    /* NULL: not given */
    const char **sets;  /* nsets "KEY=VALUE" strings (argv's, not copies) */
    int nsets;
    int help;
    int restart;      /* --restart: set an earlier run in --out aside and start over */
    int print_config; /* run --print-config: print the resolved YAML, run nothing */
    int quiet;        /* --quiet (run): errors and the final line only */
} otd_cli_args;

/* Parse argv[1..argc) of sub-command `cmd` ("run", named in messages) into
 * a zeroed *a. Not collective; argv is the same on every rank, so is the
 * verdict (OTD_ERR_ARG). Free with otd_cli_args_free. */
otd_err otd_cli_parse_args(int argc, char **argv, const char *cmd, otd_cli_args *a);
void otd_cli_args_free(otd_cli_args *a);

/* Collective: rank 0 reads a->config (if any), every rank receives the same
 * bytes and parses them with a->sets into *cfg: the same configuration or
 * the same OTD_ERR_CONFIG everywhere. *cfg must be zeroed; free it with
 * otd_config_free whatever the result. */
otd_err otd_cli_load_config(otd_comm *comm, const otd_cli_args *a, otd_config *cfg);

/* Not collective. Start of sub-command `cmd` ("run"): warnings of the
 * library and of the command (otd_warn) go to stderr from here on, one line
 * each, "otd CMD: warning: TEXT". cmd NULL: the otd command itself. */
void otd_cli_begin(const char *cmd);

/* Not collective: the one way a failed command (err != OTD_OK) reports.
 * Prints "otd CMD: MESSAGE" on stderr once (cmd NULL: "otd: MESSAGE"): on
 * the lowest failing rank after an agreement (prefixed "rank N: " where that
 * is not rank 0), on rank 0 for an error every rank reached by itself
 * (usage, configuration, non-finite), else on every rank that has one. The
 * source trail of the message ("  at file:line" lines) follows only when
 * the environment has OTD_DEBUG=1. Then, if the error may not be known to
 * every rank (another rank could be waiting in a collective), ends the
 * whole job with status OTD_EXIT_FAILURE rather than hang it. comm NULL:
 * a single process (sweep, collect, info, or before MPI is up). */
void otd_cli_fail(otd_comm *comm, const char *cmd, otd_err err);

/* otd_cli_fail, then otd_exit_for_error (otd_status.h, the one exit-status
 * policy): the last line of a command. */
int otd_cli_finish(otd_comm *comm, const char *cmd, otd_err err);

/* JSON output (`otd info --json`, `otd collect --json`), written straight
 * to a stream so that a document of any size needs no buffer. Strings are
 * escaped per RFC 8259 (quotes, backslashes, control characters; bytes of
 * 0x80 and up pass through: otd's strings are UTF-8 or ASCII). JSON has no
 * NaN or infinity: otd_json_number writes them as null, and every finite
 * double with the 17 digits that read back to the same value. */
void otd_json_string(FILE *out, const char *s);
void otd_json_number(FILE *out, double v);

#endif
