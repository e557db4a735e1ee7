/* otd_text.h: growable text and its hash, shared by the configuration
 * (canonical YAML, messages) and the sweeps (point files, manifests). */
#ifndef OTD_TEXT_H
#define OTD_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "otd/otd_error.h"

/* NUL-terminated text that grows as it is appended to; zero-initialize. */
typedef struct {
    char *data;
    size_t len, cap;
} otd_strbuf;

/* Append printf-style text. Formats straight into the free space and only
 * on overflow grows and formats again: most appends are a few bytes. */
otd_err otd_strbuf_printf(otd_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append w as one word of a POSIX shell command line: as it is when it is
 * non-empty and holds only characters no shell reads specially (letters,
 * digits and _ . / + - , : @ %, and = after the first character), else in
 * single quotes, each ' inside written '\''. A command otd prints for the
 * user to paste, or writes into a script, passes exactly w whatever w holds
 * (spaces, $( ), quotes, newlines, non-ASCII bytes). The one quoting rule
 * of otd: Slurm's #SBATCH parser reads such a word the same way, except
 * that it takes a backslash as an escape (callers writing #SBATCH lines
 * refuse those). */
otd_err otd_strbuf_shell_word(otd_strbuf *b, const char *w);

/* Release the text; b is empty (and reusable) afterwards. */
void otd_strbuf_free(otd_strbuf *b);

/* The whole file at path as NUL-terminated text (*len without the NUL).
 * A file that cannot be opened or read, or holds a NUL byte, fails with
 * `code` and a message naming `what` and the path. */
otd_err otd_read_text_file(const char *path, const char *what, otd_err code, char **text,
                           size_t *len);

/* 64-bit FNV-1a of a NUL-terminated text: the configuration hash, and the
 * name of a sweep point whose configuration does not resolve. */
uint64_t otd_fnv1a(const char *text);

#endif
