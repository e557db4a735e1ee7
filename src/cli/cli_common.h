/* cli_common.h: what the collective sub-commands (run, tensor) share: the
 * arguments [CONFIG.yaml] [--set KEY=VALUE]... [--out PATH], the
 * configuration read on rank 0 and parsed everywhere, and the way a failure
 * is reported and turned into an exit status. */
#ifndef OTD_CLI_COMMON_H
#define OTD_CLI_COMMON_H

#include "otd/otd_comm.h"
#include "otd/otd_config.h"
#include "otd/otd_error.h"

typedef struct {
    const char *config; /* NULL: defaults only */
    const char *out;    /* NULL: not given */
    const char **sets;  /* nsets "KEY=VALUE" strings (argv's, not copies) */
    int nsets;
    int help;
    int restart; /* --restart: set an earlier run in --out aside and start over */
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

/* Not collective: end of a failed command (err != OTD_OK). Prints the
 * message once for a verdict shared by all ranks (rank 0, naming the failing
 * rank if it is another), on the rank that has it for a local one; then, if
 * the error may not be known to every rank (another rank could be waiting in
 * a collective), ends the whole job with status 1 rather than hang it. */
void otd_cli_fail(otd_comm *comm, const char *cmd, otd_err err);


#endif
