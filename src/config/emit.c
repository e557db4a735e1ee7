/* emit.c: the canonical YAML of a config, its hash, and the help text.
 *
 * The canonical YAML is the config's identity: it goes into results files,
 * and its FNV-1a hash into checkpoints, so a resumed run can refuse a
 * checkpoint of another configuration. It lists every key, in table order,
 * nested by section, with reals in the shortest "%.Ng" that parsing back gives
 * the same doubles bit for bit. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* Length of the section part of key ("problem" in "problem.order"); 0 for
 * a top-level key. */
static size_t section_len(const char *key)
{
    const char *dot = strchr(key, '.');
    return dot ? (size_t)(dot - key) : 0;
}

static int same_section(const char *a, const char *b, size_t n)
{
    return section_len(b) == n && strncmp(a, b, n) == 0;
}

/* Emit all keys of the section of option i: one "section:" line, then
 * "  name: value" for each of its keys in table order. */
static otd_err emit_section(const otd_config *cfg, size_t i, otd_strbuf *out)
{
    otd_err err = OTD_OK;
    const char *key = otd_cfg_options[i].key;
    size_t n = section_len(key);
    OTD_CHECK(otd_strbuf_printf(out, "%.*s:\n", (int)n, key));
    for (size_t j = i; j < otd_cfg_noptions; j++) {
        if (!same_section(key, otd_cfg_options[j].key, n))
            continue;
        OTD_CHECK(otd_strbuf_printf(out, "  %s: ", otd_cfg_options[j].key + n + 1));
        OTD_CHECK(otd_cfg_format(&otd_cfg_options[j], cfg, out));
        OTD_CHECK(otd_strbuf_printf(out, "\n"));
    }
done:
    return err;
}

otd_err otd_config_to_yaml(const otd_config *cfg, char **yaml)
{
    otd_err err = OTD_OK;
    otd_strbuf out = {0};
    if (yaml != NULL)
        *yaml = NULL;
    if (yaml == NULL || cfg == NULL)
        OTD_FAIL(OTD_ERR_ARG, "otd_config_to_yaml: NULL argument");
    for (size_t i = 0; i < otd_cfg_noptions; i++) {
        const char *key = otd_cfg_options[i].key;
        size_t n = section_len(key);
        int done_before = 0;
        if (n == 0) {
            OTD_CHECK(otd_strbuf_printf(&out, "%s: ", key));
            OTD_CHECK(otd_cfg_format(&otd_cfg_options[i], cfg, &out));
            OTD_CHECK(otd_strbuf_printf(&out, "\n"));
            continue;
        }
        /* A section is written whole at its first key, so even a table
         * whose rows of one section got separated stays valid YAML. */
        for (size_t j = 0; j < i && !done_before; j++)
            done_before = same_section(key, otd_cfg_options[j].key, n);
        if (!done_before)
            OTD_CHECK(emit_section(cfg, i, &out));
    }
    *yaml = out.data;
    out.data = NULL;
done:
    otd_strbuf_free(&out);
    return err;
}

/* Hashing the canonical text rather than the struct makes the hash
 * independent of padding, pointers and field order in memory, and lets
 * anyone recompute it from the YAML stored in a results file. */
uint64_t otd_config_hash(const otd_config *cfg)
{
    char *yaml = NULL;
    uint64_t h;
    if (otd_config_to_yaml(cfg, &yaml) != OTD_OK)
        return 0;
    h = otd_fnv1a(yaml);
    free(yaml);
    return h;
}

static const char *type_name(otd_opt_type t)
{
    switch (t) {
    case OTD_OPT_INT:
        return "integer";
    case OTD_OPT_REAL:
        return "real";
    case OTD_OPT_BOOL:
        return "boolean";
    case OTD_OPT_ENUM:
        return "choice";
    case OTD_OPT_STRING:
        return "string";
    case OTD_OPT_WEIGHTS:
        return "weights";
    }
    return "?";
}

/* Print text word-wrapped to WRAP_COLS columns, each line indented. */
#define WRAP_COLS 79
static void print_wrapped(FILE *out, const char *text, int indent)
{
    const char *p = text;
    while (*p) {
        const char *end = p, *brk = NULL;
        /* Take words while they fit; a word longer than the line goes alone. */
        while (*end && end - p < WRAP_COLS - indent) {
            if (*end == ' ')
                brk = end;
            end++;
        }
        if (*end && brk != NULL)
            end = brk;
        else if (*end)
            while (*end && *end != ' ')
                end++;
        fprintf(out, "%*s%.*s\n", indent, "", (int)(end - p), p);
        p = end;
        while (*p == ' ')
            p++;
    }
}

void otd_config_print_help(FILE *out)
{
    char allowed[256];
    fprintf(out, "Configuration keys. Write them in the YAML file nested or dotted (the same\n"
                 "key: \"problem:\" with \"  order: 4\" under it, or \"problem.order: 4\"), or\n"
                 "give --set KEY=VALUE, applied after the file in order (the last one wins).\n");
    for (size_t i = 0; i < otd_cfg_noptions; i++) {
        const otd_option *o = &otd_cfg_options[i];
        otd_cfg_allowed(o, allowed, sizeof allowed);
        fprintf(out, "\n  %s  (%s, default: %s)\n", o->key, type_name(o->type),
                o->def[0] ? o->def : "\"\"");
        fprintf(out, "      allowed: %s\n", allowed);
        print_wrapped(out, o->help, 6);
    }
}

/* The keys whose values differ between cfg and the stored YAML: those that
 * must not change on resume (changes = 0), or those that may (changes = 1). */
static otd_err stored_diff(const otd_config *cfg, const char *stored_yaml, int changes, char **diff)
{
    otd_err err = OTD_OK;
    otd_config old;
    otd_strbuf a = {0}, b = {0}, out = {0};
    memset(&old, 0, sizeof old);
    *diff = NULL;
    if (otd_config_parse(stored_yaml, strlen(stored_yaml), "<stored config>", NULL, 0, &old) !=
        OTD_OK)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "the stored configuration (of a checkpoint or results file) does not parse: %s",
                 otd_error_text());
    for (size_t i = 0; i < otd_cfg_noptions; i++) {
        const otd_option *opt = &otd_cfg_options[i];
        a.len = b.len = 0;
        OTD_CHECK(otd_cfg_format(opt, &old, &a));
        OTD_CHECK(otd_cfg_format(opt, cfg, &b));
        if (!opt->resume_ok != !changes || (a.len == b.len && memcmp(a.data, b.data, a.len) == 0))
            continue;
        OTD_CHECK(otd_strbuf_printf(&out, "%s%s (%.*s -> %.*s)", out.len ? ", " : "", opt->key,
                                    (int)a.len, a.data, (int)b.len, b.data));
    }
    if (out.len > 0) {
        *diff = out.data;
        out.data = NULL;
    }
done:
    otd_config_free(&old);
    otd_strbuf_free(&a);
    otd_strbuf_free(&b);
    otd_strbuf_free(&out);
    return err;
}

otd_err otd_config_resume_diff(const otd_config *cfg, const char *stored_yaml, char **diff)
{
    return stored_diff(cfg, stored_yaml, 0, diff);
}

otd_err otd_config_resume_changes(const otd_config *cfg, const char *stored_yaml, char **changes)
{
    return stored_diff(cfg, stored_yaml, 1, changes);
}

size_t otd_config_nkeys(void)
{
    return otd_cfg_noptions;
}

const char *otd_config_key(size_t i)
{
    return i < otd_cfg_noptions ? otd_cfg_options[i].key : NULL;
}

otd_err otd_config_key_describe(size_t i, otd_config_key_info *info)
{
    const otd_option *o;
    memset(info, 0, sizeof *info);
    if (i >= otd_cfg_noptions)
        return OTD_ERROR(OTD_ERR_ARG, "otd_config_key_describe: key %zu of %zu", i,
                         otd_cfg_noptions);
    o = &otd_cfg_options[i];
    info->key = o->key;
    info->help = o->help;
    info->unit = o->unit;
    switch (o->type) {
    case OTD_OPT_INT:
        /* The word survives resolution (otd_cfg_format writes it back). */
        info->type = o->word != NULL ? OTD_KEY_INT_OR_WORD : OTD_KEY_INT;
        break;
    case OTD_OPT_REAL:
        info->type = OTD_KEY_REAL; /* a word is resolved to a number */
        break;
    case OTD_OPT_BOOL:
        info->type = OTD_KEY_BOOL;
        break;
    case OTD_OPT_ENUM:
        info->type = OTD_KEY_ENUM;
        break;
    case OTD_OPT_STRING:
        info->type = OTD_KEY_STRING;
        break;
    case OTD_OPT_WEIGHTS:
        info->type = OTD_KEY_LIST;
        break;
    }
    return OTD_OK;
}

otd_err otd_config_value_text(const otd_config *cfg, size_t i, char **text)
{
    otd_err err = OTD_OK;
    otd_strbuf out = {0};
    const char *s;
    *text = NULL;
    if (i >= otd_cfg_noptions)
        OTD_FAIL(OTD_ERR_ARG, "otd_config_value_text: key %zu of %zu", i, otd_cfg_noptions);
    /* A string's canonical form is quoted and escaped for YAML; a table
     * cell wants the value itself. */
    if (otd_cfg_options[i].type == OTD_OPT_STRING && otd_cfg_options[i].format == NULL) {
        memcpy(&s, (const char *)cfg + otd_cfg_options[i].offset, sizeof s);
        OTD_CHECK(otd_strbuf_printf(&out, "%s", s ? s : ""));
    } else {
        OTD_CHECK(otd_cfg_format(&otd_cfg_options[i], cfg, &out));
    }
    *text = out.data;
    out.data = NULL;
done:
    otd_strbuf_free(&out);
    return err;
}
