/* status.c: the one mapping of run statuses (see otd_status.h). */
#include "otd/otd_status.h"

#include <string.h>

static const struct {
    const char *name;
    otd_outcome outcome;
    int exit_status;
} rows[OTD_STATUS_COUNT_] = {
    [OTD_STATUS_RUNNING] = {"running", OTD_OUTCOME_UNFINISHED, OTD_EXIT_REQUEUE},
    [OTD_STATUS_CONVERGED] = {"converged", OTD_OUTCOME_DONE, OTD_EXIT_OK},
    [OTD_STATUS_MAX_ITERS] = {"max_iters", OTD_OUTCOME_DONE, OTD_EXIT_OK},
    [OTD_STATUS_SOLVED] = {"solved", OTD_OUTCOME_DONE, OTD_EXIT_OK},
    [OTD_STATUS_NONFINITE] = {"nonfinite", OTD_OUTCOME_FAILED, OTD_EXIT_NONFINITE},
};

static int valid(otd_status s)
{
    return (int)s >= 0 && s < OTD_STATUS_COUNT_;
}

const char *otd_status_name(otd_status s)
{
    return valid(s) ? rows[s].name : "unknown";
}

otd_err otd_status_parse(const char *name, const char *where, otd_status *s)
{
    for (int k = 0; k < OTD_STATUS_COUNT_; k++)
        if (strcmp(name, rows[k].name) == 0) {
            *s = (otd_status)k;
            return OTD_OK;
        }
    return OTD_ERROR(OTD_ERR_FORMAT,
                     "%s: unknown run status '%s' (known: running, converged, max_iters, "
                     "solved, nonfinite)",
                     where, name);
}

otd_outcome otd_status_outcome(otd_status s)
{
    return valid(s) ? rows[s].outcome : OTD_OUTCOME_FAILED;
}

const char *otd_outcome_name(otd_outcome o)
{
    switch (o) {
    case OTD_OUTCOME_UNFINISHED:
        return "unfinished";
    case OTD_OUTCOME_DONE:
        return "done";
    case OTD_OUTCOME_FAILED:
        return "failed";
    }
    return "failed";
}

int otd_status_exit(otd_status s)
{
    return valid(s) ? rows[s].exit_status : OTD_EXIT_FAILURE;
}

int otd_status_exit_after(otd_status s, int interrupted)
{
    if (s == OTD_STATUS_RUNNING && interrupted)
        return OTD_EXIT_INTERRUPTED;
    return otd_status_exit(s);
}

int otd_exit_for_error(otd_err err)
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
