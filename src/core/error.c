/* error.c: the per-thread error message behind otd_err (see otd_error.h). */
#include "otd/otd_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for a config message plus a dozen trace lines. */
#define MSG_CAP 4096

static _Thread_local char msg[MSG_CAP];

static const char *const names[OTD_ERR_COUNT_] = {
    [OTD_OK] = "success",
    [OTD_ERR_NOMEM] = "out of memory",
    [OTD_ERR_CONFIG] = "configuration error",
    [OTD_ERR_ARG] = "usage error",
    [OTD_ERR_IO] = "I/O error",
    [OTD_ERR_HDF5] = "HDF5 error",
    [OTD_ERR_FORMAT] = "bad input file",
    [OTD_ERR_MPI] = "MPI error",
    [OTD_ERR_LAPACK] = "linear algebra error",
    [OTD_ERR_NUMERIC] = "numerical failure",
    [OTD_ERR_INTERNAL] = "internal error",
};

const char *otd_strerror(otd_err code)
{
    if ((int)code < 0 || code >= OTD_ERR_COUNT_)
        return "unknown error";
    return names[code];
}

otd_err otd_error_raise(otd_err code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, "\n  at %s:%d", file, line);
    return code;
}

void otd_error_trace(const char *file, int line)
{
    size_t len = strlen(msg);
    if (len + 1 < sizeof msg)
        snprintf(msg + len, sizeof msg - len, "\n  from %s:%d", file, line);
}

const char *otd_error_message(void)
{
    return msg;
}

void otd_error_clear(void)
{
    msg[0] = '\0';
}

void *otd_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        return NULL;
    return calloc(n, size);
}
