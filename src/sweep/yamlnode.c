/* yamlnode.c: sweep-file YAML nodes -> the text otd's config parser reads.
 *
 * A sweep point is written out as a config file of "key: value" lines, so
 * each value of the sweep file is turned back into YAML text: flow style on
 * one line, plain where that is unambiguous, double-quoted otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_config.h"
#include "otd/otd_sweep.h"
#include "sweep/sweep_internal.h"

/* Deeper than any sane sweep file; bounds recursion (aliases can loop). */
#define MAX_DEPTH 16

/* Plain text that no YAML reader takes for anything but itself in a block
 * or flow context: numbers, words, dotted names. */
static int plain_safe(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '+' || c == '-'))
            return 0;
    }
    return 1;
}

static otd_err emit_scalar(const yaml_node_t *n, otd_strbuf *out)
{
    otd_err err = OTD_OK;
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && plain_safe(s, len))
        return otd_strbuf_printf(out, "%.*s", (int)len, s);
    /* Quoted, the text is taken as written: config values are compared as
     * text, so "3" and 3 mean the same to otd. */
    OTD_CHECK(otd_strbuf_printf(out, "\""));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            OTD_CHECK(otd_strbuf_printf(out, "\\%c", c));
        else if (c < 0x20 || c == 0x7f)
            OTD_CHECK(otd_strbuf_printf(out, "\\x%02x", c));
        else
            OTD_CHECK(otd_strbuf_printf(out, "%c", c));
    }
    OTD_CHECK(otd_strbuf_printf(out, "\""));
done:
    return err;
}

static otd_err emit(yaml_document_t *doc, yaml_node_t *n, otd_strbuf *out, int depth)
{
    otd_err err = OTD_OK;
    if (depth > MAX_DEPTH)
        OTD_FAIL(OTD_ERR_CONFIG, "value nested too deep (line %zu)", n->start_mark.line + 1);
    if (n->type == YAML_SCALAR_NODE) {
        OTD_CHECK(emit_scalar(n, out));
    } else if (n->type == YAML_SEQUENCE_NODE) {
        OTD_CHECK(otd_strbuf_printf(out, "["));
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            if (item == NULL)
                OTD_FAIL(OTD_ERR_INTERNAL, "libyaml returned a list item without a node");
            OTD_CHECK(otd_strbuf_printf(out, "%s", it > n->data.sequence.items.start ? ", " : ""));
            OTD_CHECK(emit(doc, item, out, depth + 1));
        }
        OTD_CHECK(otd_strbuf_printf(out, "]"));
    } else {
        OTD_CHECK(otd_strbuf_printf(out, "{"));
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            yaml_node_t *v = yaml_document_get_node(doc, p->value);
            if (k == NULL || v == NULL)
                OTD_FAIL(OTD_ERR_INTERNAL, "libyaml returned a pair without nodes");
            OTD_CHECK(otd_strbuf_printf(out, "%s", p > n->data.mapping.pairs.start ? ", " : ""));
            OTD_CHECK(emit(doc, k, out, depth + 1));
            OTD_CHECK(otd_strbuf_printf(out, ": "));
            OTD_CHECK(emit(doc, v, out, depth + 1));
        }
        OTD_CHECK(otd_strbuf_printf(out, "}"));
    }
done:
    return err;
}

otd_err otd_yaml_flow(yaml_document_t *doc, yaml_node_t *node, otd_strbuf *out)
{
    if (node == NULL)
        return otd_strbuf_printf(out, "\"\"");
    return emit(doc, node, out, 0);
}

void otd_yaml_leaves_free(otd_yaml_leaves *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].key);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static otd_err add_leaf(otd_yaml_leaves *l, char *key, yaml_node_t *node, int line, int col)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        otd_yaml_leaf *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return OTD_ERROR(OTD_ERR_NOMEM, "out of memory reading a sweep file");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (otd_yaml_leaf){key, node, line, col};
    return OTD_OK;
}

static otd_err flatten(yaml_document_t *doc, yaml_node_t *map, const char *prefix,
                       const char *source, int point_keys, otd_yaml_leaves *out, int depth)
{
    otd_err err = OTD_OK;
    char *key = NULL, origin[512];
    if (depth > MAX_DEPTH)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: mappings nested too deep", source);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        int line, col;
        if (k == NULL || v == NULL)
            OTD_FAIL(OTD_ERR_INTERNAL, "%s: libyaml returned a pair without nodes", source);
        line = (int)k->start_mark.line + 1;
        col = (int)k->start_mark.column + 1;
        snprintf(origin, sizeof origin, "%s:%d:%d", source, line, col);
        if (k->type != YAML_SCALAR_NODE)
            OTD_FAIL(OTD_ERR_CONFIG, "%s: a key must be a plain name", origin);
        if (prefix != NULL) {
            size_t n = strlen(prefix) + 1 + k->data.scalar.length + 1;
            key = malloc(n);
            if (key != NULL)
                snprintf(key, n, "%s.%s", prefix, (const char *)k->data.scalar.value);
        } else {
            key = strdup((const char *)k->data.scalar.value);
        }
        if (key == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory reading %s", source);
        if (v->type == YAML_MAPPING_NODE && otd_config_check_key(key, origin) != OTD_OK) {
            OTD_CHECK(flatten(doc, v, key, source, point_keys, out, depth + 1));
            free(key);
            key = NULL;
            continue;
        }
        if (!(point_keys && prefix == NULL && strcmp(key, OTD_SWEEP_POINT_RANKS) == 0))
            OTD_CHECK(otd_config_check_key(key, origin));
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->v[i].key, key) == 0)
                OTD_FAIL(OTD_ERR_CONFIG, "duplicate key '%s' (in %s; first at line %d)", key,
                         origin, out->v[i].line);
        OTD_CHECK(add_leaf(out, key, v, line, col));
        key = NULL;
    }
done:
    free(key);
    return err;
}

otd_err otd_yaml_flatten(yaml_document_t *doc, yaml_node_t *map, const char *source, int point_keys,
                         otd_yaml_leaves *out)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return OTD_ERROR(OTD_ERR_CONFIG, "%s:%zu: expected a mapping of configuration keys", source,
                         map ? map->start_mark.line + 1 : 0);
    return flatten(doc, map, NULL, source, point_keys, out, 0);
}
