/* values.c: one written value -> one otd_config field, and back.
 *
 * Numbers go through strtoll/strtod with end-pointer checks against the
 * scalar's full length, so "0.1x", "12abc", "1e3.5", "" and a value cut by
 * an embedded NUL are all rejected; ints reject reals ("3.5") and overflow.
 * Both directions assume the C locale for LC_NUMERIC (otd never calls
 * setlocale), which is what makes "%.17g" and strtod exact inverses. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"

/* Values longer than this are cut in messages: the message buffer must keep
 * room for the key, the range and the trace. */
#define SHOW_MAX 120

int otd_cfg_show_len(const otd_cfg_scalar *s)
{
    return s->len > SHOW_MAX ? SHOW_MAX : (int)s->len;
}

/* Compare by length first: "tru" must not match "true", nor may a value
 * with a NUL after "gd" match "gd". */
static int scalar_is(const otd_cfg_scalar *s, const char *word, int nocase)
{
    size_t n = strlen(word);
    if (s->len != n)
        return 0;
    return nocase ? strncasecmp(s->text, word, n) == 0 : memcmp(s->text, word, n) == 0;
}

int otd_cfg_choice(const char *const *choices, const otd_cfg_scalar *s)
{
    for (int i = 0; choices[i] != NULL; i++)
        if (scalar_is(s, choices[i], 0))
            return i;
    return -1;
}

static void choices_text(const char *const *choices, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; choices[i] != NULL && len < cap; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", i > 0 ? ", " : "", choices[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* Generated from the range fields, so the message, the check and --help
 * cannot disagree. */
void otd_cfg_allowed(const otd_option *opt, char *out, size_t cap)
{
    char list[256];
    if (opt->allowed != NULL) {
        snprintf(out, cap, "%s", opt->allowed);
        return;
    }
    switch (opt->type) {
    case OTD_OPT_INT:
        if (opt->imax == INT64_MAX)
            snprintf(out, cap, "%s%sinteger >= %" PRId64, opt->word ? opt->word : "",
                     opt->word ? " or " : "", opt->imin);
        else
            snprintf(out, cap, "%s%sinteger in [%" PRId64 ", %" PRId64 "]",
                     opt->word ? opt->word : "", opt->word ? " or " : "", opt->imin, opt->imax);
        break;
    case OTD_OPT_REAL:
        if (opt->rmin > -HUGE_VAL && opt->rmax < HUGE_VAL)
            snprintf(out, cap, "real in %c%g, %g%c", opt->rmin_open ? '(' : '[', opt->rmin,
                     opt->rmax, opt->rmax_open ? ')' : ']');
        else if (opt->rmin > -HUGE_VAL)
            snprintf(out, cap, "%s%sreal %s %g", opt->word ? opt->word : "",
                     opt->word ? " or " : "", opt->rmin_open ? ">" : ">=", opt->rmin);
        else if (opt->rmax < HUGE_VAL)
            snprintf(out, cap, "real %s %g", opt->rmax_open ? "<" : "<=", opt->rmax);
        else
            snprintf(out, cap, "finite real");
        break;
    case OTD_OPT_BOOL:
        snprintf(out, cap, "true/false, yes/no, on/off");
        break;
    case OTD_OPT_ENUM:
        choices_text(opt->choices, list, sizeof list);
        snprintf(out, cap, "one of %s", list);
        break;
    case OTD_OPT_STRING:
    case OTD_OPT_WEIGHTS:
        snprintf(out, cap, "any text");
        break;
    }
}

/* A value of the wrong shape: a list or mapping where one value belongs. */
static otd_err need_scalar(const otd_option *opt, const otd_cfg_value *v)
{
    char allowed[256];
    if (v->kind == OTD_VAL_SCALAR)
        return OTD_OK;
    otd_cfg_allowed(opt, allowed, sizeof allowed);
    return OTD_ERROR(OTD_ERR_CONFIG, "%s: expected a single value (allowed: %s), got a %s (in %s)",
                     opt->key, allowed, v->kind == OTD_VAL_LIST ? "list" : "mapping", v->origin);
}

/* "KEY = 'VALUE': PROBLEM (allowed: RANGE) (in ORIGIN)", the one shape of a
 * bad-value message. */
static otd_err bad_value(const otd_option *opt, const char *what, const otd_cfg_scalar *s,
                         const char *problem, const char *origin)
{
    char allowed[256];
    otd_cfg_allowed(opt, allowed, sizeof allowed);
    return OTD_ERROR(OTD_ERR_CONFIG, "%s = '%.*s': %s (allowed: %s) (in %s)", what,
                     otd_cfg_show_len(s), s->text, problem, allowed, origin);
}

/* Out of range: the value parsed, so it is shown as written, unquoted. */
static otd_err out_of_range(const otd_option *opt, const char *what, const otd_cfg_scalar *s,
                            const char *origin)
{
    char allowed[256];
    otd_cfg_allowed(opt, allowed, sizeof allowed);
    return OTD_ERROR(OTD_ERR_CONFIG, "%s = %.*s: out of range (allowed: %s) (in %s)", what,
                     otd_cfg_show_len(s), s->text, allowed, origin);
}

static otd_err parse_int(const otd_option *opt, const otd_cfg_value *v, int64_t *out)
{
    const otd_cfg_scalar *s = &v->scalar;
    char *end = NULL;
    long long x;
    if (opt->word != NULL && strlen(opt->word) == s->len &&
        memcmp(opt->word, s->text, s->len) == 0) {
        *out = opt->word_value;
        return OTD_OK;
    }
    /* strtoll would skip leading blanks; a quoted " 3" is not an integer. */
    if (s->len == 0 || isspace((unsigned char)s->text[0]))
        return bad_value(opt, opt->key, s, "not an integer", v->origin);
    /* Base 10 only: "010" is ten, not eight, and "0x10" is refused. */
    errno = 0;
    x = strtoll(s->text, &end, 10);
    if (end != s->text + s->len)
        return bad_value(opt, opt->key, s, "not an integer", v->origin);
    if (errno == ERANGE)
        return bad_value(opt, opt->key, s, "integer overflow", v->origin);
    if (x < opt->imin || x > opt->imax)
        return out_of_range(opt, opt->key, s, v->origin);
    *out = (int64_t)x;
    return OTD_OK;
}

static int real_in_range(const otd_option *opt, double x)
{
    if (opt->rmin_open ? !(x > opt->rmin) : !(x >= opt->rmin))
        return 0;
    if (opt->rmax_open ? !(x < opt->rmax) : !(x <= opt->rmax))
        return 0;
    return 1;
}

otd_err otd_cfg_parse_real(const otd_option *opt, const char *what, const otd_cfg_scalar *s,
                           const char *origin, double *out)
{
    char *end = NULL;
    double x;
    if (s->len == 0 || isspace((unsigned char)s->text[0]))
        return bad_value(opt, what, s, "not a real number", origin);
    errno = 0;
    x = strtod(s->text, &end);
    if (end != s->text + s->len)
        return bad_value(opt, what, s, "not a real number", origin);
    /* nan, inf and overflow ("1e999"): every real of otd must be finite.
     * Underflow to a subnormal or zero is accepted: the value is as close
     * as a double gets. */
    if (!isfinite(x))
        return bad_value(opt, what, s, "not a finite real number", origin);
    if (opt->type == OTD_OPT_REAL && !real_in_range(opt, x))
        return out_of_range(opt, what, s, origin);
    *out = x;
    return OTD_OK;
}

/* The YAML 1.1 boolean words, in any case; 0/1 are refused because a
 * number where a flag belongs is more likely a misplaced line. */
static otd_err parse_bool(const otd_option *opt, const otd_cfg_value *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (scalar_is(&v->scalar, yes[i], 1)) {
            *out = 1;
            return OTD_OK;
        }
        if (scalar_is(&v->scalar, no[i], 1)) {
            *out = 0;
            return OTD_OK;
        }
    }
    return bad_value(opt, opt->key, &v->scalar, "not a boolean", v->origin);
}

otd_err otd_cfg_parse_enum(const otd_option *opt, const otd_cfg_value *v, int *idx)
{
    otd_err err = OTD_OK;
    char list[256];
    OTD_CHECK(need_scalar(opt, v));
    *idx = otd_cfg_choice(opt->choices, &v->scalar);
    if (*idx < 0) {
        choices_text(opt->choices, list, sizeof list);
        OTD_FAIL(OTD_ERR_CONFIG, "%s = '%.*s': not one of %s (in %s)", opt->key,
                 otd_cfg_show_len(&v->scalar), v->scalar.text, list, v->origin);
    }
done:
    return err;
}

/* The field of opt inside cfg. */
static void *field(const otd_option *opt, otd_config *cfg)
{
    return (char *)cfg + opt->offset;
}

/* Integers, booleans and enums live in int or int64_t slots (run.seed is a
 * uint64_t holding a value <= INT64_MAX, which has the same bytes). */
static void store_int(const otd_option *opt, otd_config *cfg, int64_t x)
{
    if (opt->size == sizeof(int)) {
        int y = (int)x;
        memcpy(field(opt, cfg), &y, sizeof y);
    } else {
        memcpy(field(opt, cfg), &x, sizeof x);
    }
}

static int64_t load_int(const otd_option *opt, const otd_config *cfg)
{
    const char *p = (const char *)cfg + opt->offset;
    if (opt->size == sizeof(int)) {
        int y;
        memcpy(&y, p, sizeof y);
        return y;
    }
    int64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

static otd_err store_string(const otd_option *opt, const otd_cfg_value *v, otd_config *cfg)
{
    otd_err err = OTD_OK;
    char *copy = NULL;
    char **slot = field(opt, cfg);
    /* A C string cannot carry a NUL: it would silently cut the path. */
    if (memchr(v->scalar.text, '\0', v->scalar.len) != NULL)
        OTD_FAIL(OTD_ERR_CONFIG, "%s = '%s...': contains a NUL character (in %s)", opt->key,
                 v->scalar.text, v->origin);
    OTD_ALLOC(copy, v->scalar.len + 1);
    memcpy(copy, v->scalar.text, v->scalar.len);
    free(*slot);
    *slot = copy;
done:
    return err;
}

/* Fields are reached by offset, so adding a plain key needs no code here:
 * its row in options.c is enough. */
otd_err otd_cfg_apply(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b)
{
    otd_err err = OTD_OK;
    int64_t i = 0;
    int k = 0;
    double x = 0.0;
    if (opt->apply != NULL)
        return opt->apply(opt, v, b);
    OTD_CHECK(need_scalar(opt, v));
    switch (opt->type) {
    case OTD_OPT_INT:
        OTD_CHECK(parse_int(opt, v, &i));
        store_int(opt, &b->cfg, i);
        break;
    case OTD_OPT_REAL:
        /* A word ("auto") stands for NaN: config.c's resolve() replaces it
         * by a value that depends on other keys (e.g. algo.name). */
        if (opt->word != NULL && strlen(opt->word) == v->scalar.len &&
            memcmp(opt->word, v->scalar.text, v->scalar.len) == 0)
            x = NAN;
        else
            OTD_CHECK(otd_cfg_parse_real(opt, opt->key, &v->scalar, v->origin, &x));
        memcpy(field(opt, &b->cfg), &x, sizeof x);
        break;
    case OTD_OPT_BOOL:
        OTD_CHECK(parse_bool(opt, v, &k));
        store_int(opt, &b->cfg, k);
        break;
    case OTD_OPT_ENUM:
        OTD_CHECK(otd_cfg_parse_enum(opt, v, &k));
        store_int(opt, &b->cfg, k);
        break;
    case OTD_OPT_STRING:
        OTD_CHECK(store_string(opt, v, &b->cfg));
        break;
    case OTD_OPT_WEIGHTS:
        OTD_FAIL(OTD_ERR_INTERNAL, "%s: weights option without its own apply", opt->key);
    }
done:
    return err;
}

/* The shortest "%.Ng" that reads back to the same double: 0.1 stays "0.1"
 * for the people reading the config, and the round trip stays exact
 * ("%.17g" always is). */
otd_err otd_cfg_format_real(otd_strbuf *out, double x)
{
    char buf[40];
    /* Start with enough digits for the integer part: 300, not 3e+02. */
    int first = fabs(x) >= 1 && fabs(x) < 1e16 ? (int)floor(log10(fabs(x))) + 1 : 1;
    for (int prec = first; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return otd_strbuf_printf(out, "%s", buf);
    }
    return otd_strbuf_printf(out, "%.17g", x);
}

/* A YAML double-quoted string: escapes for the quote, the backslash and
 * control bytes; UTF-8 passes through (YAML reads it as is). */
static otd_err format_string(otd_strbuf *out, const char *s)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_strbuf_printf(out, "\""));
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            OTD_CHECK(otd_strbuf_printf(out, "\\%c", *p));
        else if (*p < 0x20 || *p == 0x7f)
            OTD_CHECK(otd_strbuf_printf(out, "\\x%02x", *p));
        else
            OTD_CHECK(otd_strbuf_printf(out, "%c", *p));
    }
    OTD_CHECK(otd_strbuf_printf(out, "\""));
done:
    return err;
}

otd_err otd_cfg_format(const otd_option *opt, const otd_config *cfg, otd_strbuf *out)
{
    const char *p = (const char *)cfg + opt->offset;
    double x;
    int64_t i;
    const char *s;
    if (opt->format != NULL)
        return opt->format(opt, cfg, out);
    switch (opt->type) {
    case OTD_OPT_INT:
        if (opt->word != NULL && load_int(opt, cfg) == opt->word_value)
            return otd_strbuf_printf(out, "%s", opt->word);
        return otd_strbuf_printf(out, "%" PRId64, load_int(opt, cfg));
    case OTD_OPT_REAL:
        memcpy(&x, p, sizeof x);
        return otd_cfg_format_real(out, x);
    case OTD_OPT_BOOL:
        return otd_strbuf_printf(out, "%s", load_int(opt, cfg) ? "true" : "false");
    case OTD_OPT_ENUM:
        i = load_int(opt, cfg);
        for (int k = 0; opt->choices[k] != NULL; k++)
            if (k == i)
                return otd_strbuf_printf(out, "%s", opt->choices[k]);
        return OTD_ERROR(OTD_ERR_ARG, "%s: invalid enum value %" PRId64, opt->key, i);
    case OTD_OPT_STRING:
        memcpy(&s, p, sizeof s);
        return format_string(out, s);
    case OTD_OPT_WEIGHTS:
        break;
    }
    return OTD_ERROR(OTD_ERR_INTERNAL, "%s: no canonical format", opt->key);
}
