/* error.c: the per-thread error message behind otd_err, and the warning
 * sink (see otd_error.h). */
#include "otd/otd_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for a config message plus a dozen trace lines. */
#define MSG_CAP 4096

/* The text alone and the text with its trail, kept side by side so that
 * neither reader has to cut the other apart. */
static _Thread_local char text[MSG_CAP];
static _Thread_local char full[MSG_CAP];

/* Set once at startup by the program (otd_warn_set_sink). */
static otd_warn_sink warn_sink;

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
    /* Formatted aside first: an argument may be the current message itself
     * (otd_error_text() wrapped in a new context). */
    char buf[MSG_CAP];
    size_t n;
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
        snprintf(buf, sizeof buf, "(unformattable message: %s)", fmt);
    va_end(ap);
    memcpy(text, buf, sizeof text);
    memcpy(full, buf, sizeof full);
    n = strlen(full);
    snprintf(full + n, sizeof full - n, "\n  at %s:%d", file, line);
    return code;
}

void otd_error_trace(const char *file, int line)
{
    size_t len = strlen(full);
    if (len + 1 < sizeof full)
        snprintf(full + len, sizeof full - len, "\n  from %s:%d", file, line);
}

const char *otd_error_message(void)
{
    return full;
}

const char *otd_error_text(void)
{
    return text;
}

void otd_error_clear(void)
{
    text[0] = '\0';
    full[0] = '\0';
}

otd_warn_sink otd_warn_set_sink(otd_warn_sink sink)
{
    otd_warn_sink old = warn_sink;
    warn_sink = sink;
    return old;
}

void otd_warn(const char *fmt, ...)
{
    char buf[MSG_CAP];
    va_list ap;
    if (warn_sink == NULL)
        return;
    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
        snprintf(buf, sizeof buf, "(unformattable warning: %s)", fmt);
    va_end(ap);
    warn_sink(buf);
}

void *otd_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        return NULL;
    return calloc(n, size);
}
