/* otd_error.h: the one error type of otd.
 *
 * Every fallible function returns an otd_err. On failure it also leaves a
 * human-readable message (with file:line of where it was raised) in a
 * per-thread buffer, like errno: this is the only mutable global state of the
 * library besides signal flags. Callers propagate with OTD_CHECK, which jumps
 * to the function's single `done:` label. Nothing in the library calls exit():
 * main() decides what an error means for the process and the MPI job. */
#ifndef OTD_ERROR_H
#define OTD_ERROR_H

#include <stddef.h>

typedef enum {
    OTD_OK = 0,
    OTD_ERR_NOMEM,    /* allocation failed or a size overflowed */
    OTD_ERR_CONFIG,   /* bad configuration value: message names key, value, range */
    OTD_ERR_ARG,      /* bad command-line usage or API argument */
    OTD_ERR_IO,       /* file system: open/write/fsync/rename failed */
    OTD_ERR_HDF5,     /* an HDF5 call failed */
    OTD_ERR_FORMAT,   /* an input file has the wrong content or shape */
    OTD_ERR_MPI,      /* an MPI call failed */
    OTD_ERR_LAPACK,   /* BLACS/ScaLAPACK/LAPACK returned info != 0 */
    OTD_ERR_NUMERIC,  /* non-finite loss or gradient, divergence */
    OTD_ERR_INTERNAL, /* a broken invariant: a bug in otd */
    OTD_ERR_COUNT_
} otd_err;

/* Short name of a code ("config error", ...). Never NULL. Not collective. */
const char *otd_strerror(otd_err code);

/* Record an error message and return code. The message replaces any earlier
 * one. fmt is printf-style. Not collective. */
otd_err otd_error_raise(otd_err code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Append "  from file:line" to the current message: the propagation trail. */
void otd_error_trace(const char *file, int line);

/* The current message and its trail ("" if none): the text, then a line
 * "  at file:line" where it was raised and one "  from file:line" per
 * OTD_CHECK it passed. For developers (the CLI shows it with OTD_DEBUG=1).
 * Valid until the next raise/clear. Not collective. */
const char *otd_error_message(void);

/* The current message without the trail ("" if none): what a user reads,
 * and what goes into another message or a report. Valid until the next
 * raise/clear. Not collective. */
const char *otd_error_text(void);
void otd_error_clear(void);

/* Warnings: something the user should know that is not an error (a damaged
 * checkpoint set aside, a record that could not be written). The library
 * never writes to stderr itself: otd_warn formats the text (one line, no
 * prefix) and hands it to the process's warning sink, which the program
 * sets (the otd command prints "otd CMD: warning: TEXT" on stderr). With no
 * sink set, the default, warnings are dropped: a library user that wants
 * them sets one. otd_warn leaves the current error message alone. */
typedef void (*otd_warn_sink)(const char *text);

/* Set the sink (NULL: drop warnings); returns the previous one. Process
 * wide, not per thread: set it once at startup, before any thread warns.
 * Not collective. */
otd_warn_sink otd_warn_set_sink(otd_warn_sink sink);

/* Format a warning and hand it to the sink. Not collective: it reaches the
 * sink of the process that calls it (in an MPI job, usually rank 0). */
void otd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define OTD_ERROR(code, ...) otd_error_raise((code), __FILE__, __LINE__, __VA_ARGS__)

/* Call, and on failure record the trail and jump to `done` with `err` set.
 * The enclosing function must declare `otd_err err` and a `done:` label. */
#define OTD_CHECK(call)                                                                            \
    do {                                                                                           \
        err = (call);                                                                              \
        if (err != OTD_OK) {                                                                       \
            otd_error_trace(__FILE__, __LINE__);                                                   \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Raise and jump to `done` in one statement. */
#define OTD_FAIL(code, ...)                                                                        \
    do {                                                                                           \
        err = OTD_ERROR((code), __VA_ARGS__);                                                      \
        goto done;                                                                                 \
    } while (0)

/* Allocation of n elements of *p, overflow-checked, zero-filled; fails to done. */
#define OTD_ALLOC(p, n)                                                                            \
    do {                                                                                           \
        (p) = otd_calloc((size_t)(n), sizeof *(p));                                                \
        if ((p) == NULL && (n) != 0)                                                               \
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", (size_t)(n),       \
                     sizeof *(p));                                                                 \
    } while (0)

/* calloc that returns NULL on count*size overflow (calloc does too, but this
 * also accepts n == 0 by returning NULL without error). */
void *otd_calloc(size_t n, size_t size);

#endif
