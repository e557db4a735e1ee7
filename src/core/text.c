/* text.c: growable text and FNV-1a (see otd_text.h). */
#include "otd/otd_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

otd_err otd_strbuf_printf(otd_strbuf *b, const char *fmt, ...)
{
    otd_err err = OTD_OK;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        OTD_FAIL(OTD_ERR_INTERNAL, "vsnprintf failed formatting text");
    if (b->data == NULL || b->len + (size_t)n >= b->cap) {
        /* Too small (or nothing yet): grow geometrically and format again. */
        size_t cap = b->cap ? b->cap : 1024;
        char *p;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory formatting text (%zu bytes)", cap);
        b->data = p;
        b->cap = cap;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
done:
    return err;
}

otd_err otd_strbuf_shell_word(otd_strbuf *b, const char *w)
{
    otd_err err = OTD_OK;
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_./+-,:@%=";
    /* '=' first would be zsh's =command expansion; '~' and the rest are
     * never left bare. */
    if (w[0] != '\0' && w[0] != '=' && strspn(w, safe) == strlen(w))
        return otd_strbuf_printf(b, "%s", w);
    OTD_CHECK(otd_strbuf_printf(b, "'"));
    for (const char *c = w; *c; c++) {
        const char *q = strchr(c, '\'');
        size_t n = q ? (size_t)(q - c) : strlen(c);
        if (n > 0)
            OTD_CHECK(otd_strbuf_printf(b, "%.*s", (int)n, c));
        if (q == NULL)
            break;
        /* Close the quotes, an escaped quote, open them again. */
        OTD_CHECK(otd_strbuf_printf(b, "'\\''"));
        c = q;
    }
    OTD_CHECK(otd_strbuf_printf(b, "'"));
done:
    return err;
}

void otd_strbuf_free(otd_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

otd_err otd_read_text_file(const char *path, const char *what, otd_err code, char **text,
                           size_t *len)
{
    otd_err err = OTD_OK;
    otd_strbuf b = {0};
    char chunk[4096];
    size_t k;
    FILE *f = fopen(path, "rb");
    *text = NULL;
    *len = 0;
    if (f == NULL)
        OTD_FAIL(code, "cannot open %s '%s': %s", what, path, strerror(errno));
    OTD_CHECK(otd_strbuf_printf(&b, "%s", ""));
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (memchr(chunk, '\0', k) != NULL)
            OTD_FAIL(code, "%s '%s' contains a NUL byte: not a text file", what, path);
        OTD_CHECK(otd_strbuf_printf(&b, "%.*s", (int)k, chunk));
    }
    if (ferror(f))
        OTD_FAIL(code, "cannot read %s '%s': %s", what, path, strerror(errno));
    *text = b.data;
    *len = b.len;
    b.data = NULL;
done:
    if (f != NULL)
        fclose(f);
    otd_strbuf_free(&b);
    return err;
}

uint64_t otd_fnv1a(const char *text)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 offset basis */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL; /* FNV-1a 64 prime */
    }
    return h;
}
