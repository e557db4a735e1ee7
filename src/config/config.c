/* config.c: YAML text and --set arguments -> a validated otd_config.
 *
 * libyaml loads the document; nested mappings are flattened to dotted keys
 * ("problem:\n  order: 3" is the key "problem.order", and so is a literal
 * "problem.order: 3" at any level). Each value is converted as soon as it
 * is read (values.c), defaults first, then the file, then every --set in
 * order, so that a bad value is reported even when something later would
 * override it. Cross-key rules are checked last, on the final values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config_internal.h"
#include "otd/otd_algo.h"
#include "otd/otd_yaml.h"

/* Deeper nesting than any real config; bounds the recursion (YAML aliases
 * can even make a mapping contain itself). */
#define MAX_DEPTH 16
/* Longest key compared when suggesting a spelling. */
#define SUGGEST_MAX 128

/* A linear search: the table has a few dozen rows and a config a few dozen
 * keys, so anything cleverer would only add code. */
static const otd_option *find_option(const char *key)
{
    for (size_t i = 0; i < otd_cfg_noptions; i++)
        if (strcmp(otd_cfg_options[i].key, key) == 0)
            return &otd_cfg_options[i];
    return NULL;
}

/* Is key a section, i.e. the part before the dot of some option? */
static const otd_option *section_example(const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < otd_cfg_noptions; i++)
        if (strncmp(otd_cfg_options[i].key, key, n) == 0 && otd_cfg_options[i].key[n] == '.')
            return &otd_cfg_options[i];
    return NULL;
}

/* Edit distance between a (any length) and b (at most SUGGEST_MAX), with
 * two rows over b so that nothing is allocated. */
static size_t levenshtein(const char *a, const char *b)
{
    size_t nb = strlen(b);
    size_t prev[SUGGEST_MAX + 1], cur[SUGGEST_MAX + 1];
    if (nb > SUGGEST_MAX)
        return (size_t)-1;
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 0; a[i]; i++) {
        cur[0] = i + 1;
        for (size_t j = 1; j <= nb; j++) {
            size_t sub = prev[j - 1] + (a[i] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (nb + 1) * sizeof prev[0]);
    }
    return prev[nb];
}

static const char *last_part(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

/* The known key nearest to a misspelled one, or NULL when none is close.
 * Whole keys are compared, and last components too, so that "algo.order"
 * or a bare "seed" still point at "problem.order" and "run.seed". "Close"
 * allows one edit per three letters of the candidate, so that short names
 * ("m", "lr") are only suggested when they match exactly. */
static const char *suggest(const char *key)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    if (strlen(key) > SUGGEST_MAX)
        return NULL;
    for (size_t i = 0; i < otd_cfg_noptions; i++) {
        const char *cand[2] = {otd_cfg_options[i].key, last_part(otd_cfg_options[i].key)};
        const char *mine[2] = {key, last_part(key)};
        for (int t = 0; t < 2; t++) {
            size_t d = levenshtein(mine[t], cand[t]);
            if (d <= strlen(cand[t]) / 3 && d < best_d) {
                best_d = d;
                best = otd_cfg_options[i].key;
            }
        }
    }
    return best;
}

static otd_err unknown_key(const char *key, const char *origin)
{
    const char *near = suggest(key);
    if (near != NULL)
        return OTD_ERROR(OTD_ERR_CONFIG, "unknown key '%.*s' (in %s); did you mean '%s'?",
                         SUGGEST_MAX, key, origin, near);
    return OTD_ERROR(OTD_ERR_CONFIG,
                     "unknown key '%.*s' (in %s); `otd run --help` lists the known keys",
                     SUGGEST_MAX, key, origin);
}

/* "problem:" with nothing under it reads as a null scalar; take it as an
 * empty section rather than an error. */
static int is_null_scalar(const yaml_node_t *n)
{
    const char *s;
    if (n == NULL)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = (const char *)n->data.scalar.value;
    return strcmp(s, "") == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *node_kind(const yaml_node_t *n)
{
    if (n == NULL)
        return "nothing";
    return n->type == YAML_SCALAR_NODE     ? "a scalar"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a mapping";
}

/* Line and column (1-based) of byte offset off in text, for reader errors,
 * which libyaml reports by offset only. */
static void offset_to_mark(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static otd_err syntax_error(const yaml_parser_t *p, const char *text, size_t len,
                            const char *source)
{
    size_t line, col;
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR)
        return OTD_ERROR(OTD_ERR_NOMEM, "%s: out of memory while parsing YAML", source);
    if (p->error == YAML_READER_ERROR) {
        offset_to_mark(text, len, p->problem_offset, &line, &col);
    } else {
        line = p->problem_mark.line + 1;
        col = p->problem_mark.column + 1;
    }
    /* libyaml's context ("while parsing a flow sequence") points at where
     * the broken construct began, often the line the user must fix. */
    if (p->context != NULL)
        return OTD_ERROR(OTD_ERR_CONFIG, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)",
                         source, line, col, problem, p->context, p->context_mark.line + 1);
    return OTD_ERROR(OTD_ERR_CONFIG, "%s:%zu:%zu: YAML syntax error: %s", source, line, col,
                     problem);
}

otd_err otd_yaml_load(const char *text, size_t len, const char *source, yaml_document_t *doc,
                      int *loaded)
{
    otd_err err = OTD_OK;
    yaml_parser_t parser;
    yaml_document_t extra;
    int have_parser = 0;
    *loaded = 0;
    if (!yaml_parser_initialize(&parser))
        OTD_FAIL(OTD_ERR_NOMEM, "%s: cannot initialize the YAML parser", source);
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    /* On failure yaml_parser_load has already freed the document. */
    if (!yaml_parser_load(&parser, doc)) {
        err = syntax_error(&parser, text, len, source);
        goto done;
    }
    *loaded = 1;
    if (yaml_document_get_root_node(doc) == NULL)
        goto done;
    if (!yaml_parser_load(&parser, &extra)) {
        err = syntax_error(&parser, text, len, source);
        goto done;
    }
    if (yaml_document_get_root_node(&extra) != NULL) {
        size_t line = extra.start_mark.line + 1;
        yaml_document_delete(&extra);
        OTD_FAIL(OTD_ERR_CONFIG, "%s:%zu: a second YAML document; a config is one document", source,
                 line);
    }
    yaml_document_delete(&extra);
done:
    if (have_parser)
        yaml_parser_delete(&parser);
    return err;
}

/* Build the value for a node: a scalar, or a list of scalars (items is
 * allocated here and freed by the caller), or a mapping marker. No node
 * (an empty --set value) is the empty string. */
static otd_err node_value(yaml_document_t *doc, yaml_node_t *node, const char *key,
                          const char *origin, otd_cfg_value *v, otd_cfg_scalar **items)
{
    otd_err err = OTD_OK;
    memset(v, 0, sizeof *v);
    *items = NULL;
    v->origin = origin;
    if (node == NULL) {
        v->kind = OTD_VAL_SCALAR;
        v->scalar.text = "";
    } else if (node->type == YAML_SCALAR_NODE) {
        v->kind = OTD_VAL_SCALAR;
        v->scalar.text = (const char *)node->data.scalar.value;
        v->scalar.len = node->data.scalar.length;
    } else if (node->type == YAML_MAPPING_NODE) {
        v->kind = OTD_VAL_MAP;
    } else {
        /* Only flat lists of scalars are values (problem.weights); the
         * items point into the document, which outlives the value. */
        yaml_node_item_t *it = node->data.sequence.items.start;
        int64_t n = (int64_t)(node->data.sequence.items.top - it);
        v->kind = OTD_VAL_LIST;
        OTD_ALLOC(*items, n);
        for (int64_t k = 0; k < n; k++) {
            yaml_node_t *item = yaml_document_get_node(doc, it[k]);
            if (item == NULL || item->type != YAML_SCALAR_NODE)
                OTD_FAIL(OTD_ERR_CONFIG, "%s[%lld]: expected a single value, got %s (in %s)", key,
                         (long long)k, item ? node_kind(item) : "nothing", origin);
            (*items)[k].text = (const char *)item->data.scalar.value;
            (*items)[k].len = item->data.scalar.length;
        }
        v->items = *items;
        v->nitems = n;
    }
done:
    return err;
}

/* Set key from a YAML node (NULL: empty). line > 0: the key comes from the
 * file at that line, and must not have been set by the file before. */
static otd_err set_key(otd_cfg_build *b, const char *key, yaml_document_t *doc, yaml_node_t *node,
                       const char *origin, int line)
{
    otd_err err = OTD_OK;
    otd_cfg_scalar *items = NULL;
    otd_cfg_value v;
    const otd_option *opt = find_option(key);
    const otd_option *ex;
    /* A section name given a value: "problem: 3" or "--set problem=3". */
    if (opt == NULL && (ex = section_example(key)) != NULL) {
        if (line > 0 && is_null_scalar(node))
            goto done;
        OTD_FAIL(OTD_ERR_CONFIG,
                 "%s: is a section, expected a mapping of its keys (e.g. %s), got %s (in %s)", key,
                 ex->key, node_kind(node), origin);
    }
    if (opt == NULL)
        OTD_CHECK(unknown_key(key, origin));
    if (line > 0) {
        size_t idx = (size_t)(opt - otd_cfg_options);
        if (b->seen_line[idx] > 0)
            OTD_FAIL(OTD_ERR_CONFIG, "duplicate key '%s' (in %s; first set at line %d)", key,
                     origin, b->seen_line[idx]);
        b->seen_line[idx] = line;
    }
    OTD_CHECK(node_value(doc, node, key, origin, &v, &items));
    OTD_CHECK(otd_cfg_apply(opt, &v, b));
done:
    free(items);
    return err;
}

/* key = prefix + "." + name (or name alone at the top), malloc'd. */
static char *join_key(const char *prefix, const char *name, size_t len)
{
    size_t np = prefix ? strlen(prefix) : 0;
    char *s = malloc(np + 1 + len + 1);
    if (s == NULL)
        return NULL;
    if (np > 0) {
        memcpy(s, prefix, np);
        s[np++] = '.';
    }
    memcpy(s + np, name, len);
    s[np + len] = '\0';
    return s;
}

typedef struct {
    otd_cfg_build *b;
    yaml_document_t *doc;
    const char *source;
} walker;

static otd_err walk_mapping(walker *w, yaml_node_t *map, const char *prefix, int depth);

/* One "key: value" of the file, key already joined with its prefix. */
static otd_err walk_value(walker *w, const char *key, yaml_node_t *keynode, yaml_node_t *node,
                          int depth)
{
    otd_err err = OTD_OK;
    char origin[512];
    int line = (int)keynode->start_mark.line + 1;
    snprintf(origin, sizeof origin, "%s:%d:%d", w->source, line,
             (int)keynode->start_mark.column + 1);
    /* A mapping under a name that is not a key is descended into: either it
     * is a section, or its leaves are reported as unknown keys (with the
     * full dotted name, which gives the best suggestion). */
    if (node->type == YAML_MAPPING_NODE && find_option(key) == NULL) {
        if (node->data.mapping.pairs.top == node->data.mapping.pairs.start &&
            section_example(key) == NULL)
            OTD_CHECK(unknown_key(key, origin));
        if (depth >= MAX_DEPTH)
            OTD_FAIL(OTD_ERR_CONFIG, "%s: mappings nested too deep under '%.64s'", origin, key);
        OTD_CHECK(walk_mapping(w, node, key, depth + 1));
        goto done;
    }
    OTD_CHECK(set_key(w->b, key, w->doc, node, origin, line));
done:
    return err;
}

/* Is the scalar key of pair p equal to that of some earlier pair? */
static int duplicate_in_mapping(yaml_document_t *doc, yaml_node_pair_t *start, yaml_node_pair_t *p,
                                const yaml_node_t *key)
{
    for (yaml_node_pair_t *q = start; q < p; q++) {
        yaml_node_t *k = yaml_document_get_node(doc, q->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            k->data.scalar.length == key->data.scalar.length &&
            memcmp(k->data.scalar.value, key->data.scalar.value, key->data.scalar.length) == 0)
            return 1;
    }
    return 0;
}

static otd_err walk_mapping(walker *w, yaml_node_t *map, const char *prefix, int depth)
{
    otd_err err = OTD_OK;
    char *key = NULL;
    yaml_node_pair_t *start = map->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        const char *name;
        size_t len;
        if (k == NULL || v == NULL)
            OTD_FAIL(OTD_ERR_INTERNAL, "%s: libyaml returned a pair without nodes", w->source);
        if (k->type != YAML_SCALAR_NODE)
            OTD_FAIL(OTD_ERR_CONFIG, "%s:%zu:%zu: a key must be a plain name, got %s", w->source,
                     k->start_mark.line + 1, k->start_mark.column + 1, node_kind(k));
        name = (const char *)k->data.scalar.value;
        len = k->data.scalar.length;
        if (memchr(name, '\0', len) != NULL)
            OTD_FAIL(OTD_ERR_CONFIG, "%s:%zu:%zu: key '%s...' contains a NUL character", w->source,
                     k->start_mark.line + 1, k->start_mark.column + 1, name);
        /* Keys are joined as written, so "a.b" inside "x:" is "x.a.b":
         * dotted and nested forms mix freely. */
        key = join_key(prefix, name, len);
        if (key == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory reading %s", w->source);
        /* Two "problem:" sections are a duplicate even if their keys are
         * disjoint: YAML forbids it and it is most likely a paste error. */
        if (duplicate_in_mapping(w->doc, start, p, k))
            OTD_FAIL(OTD_ERR_CONFIG, "duplicate key '%.*s' (in %s:%zu:%zu)", SUGGEST_MAX, key,
                     w->source, k->start_mark.line + 1, k->start_mark.column + 1);
        OTD_CHECK(walk_value(w, key, k, v, depth));
        free(key);
        key = NULL;
    }
done:
    free(key);
    return err;
}

/* The file: one mapping at the top (or nothing at all). */
static otd_err apply_text(otd_cfg_build *b, const char *text, size_t len, const char *source)
{
    otd_err err = OTD_OK;
    yaml_document_t doc;
    int loaded = 0;
    yaml_node_t *root;
    walker w = {b, &doc, source};
    OTD_CHECK(otd_yaml_load(text, len, source, &doc, &loaded));
    root = yaml_document_get_root_node(&doc);
    if (root == NULL || is_null_scalar(root))
        goto done;
    if (root->type != YAML_MAPPING_NODE)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "%s:%zu:%zu: the top level must be a mapping of keys (key: value), got %s", source,
                 root->start_mark.line + 1, root->start_mark.column + 1, node_kind(root));
    OTD_CHECK(walk_mapping(&w, root, NULL, 0));
done:
    if (loaded)
        yaml_document_delete(&doc);
    return err;
}

/* One "--set KEY=VALUE": VALUE is read as a YAML scalar or flow sequence,
 * so quoting and lists work as in the file. */
static otd_err apply_set(otd_cfg_build *b, const char *arg)
{
    otd_err err = OTD_OK;
    const char *eq = strchr(arg, '=');
    const char *k0 = arg, *k1 = eq;
    char *key = NULL;
    char origin[512];
    yaml_document_t doc;
    int loaded = 0;
    yaml_node_t *root;
    snprintf(origin, sizeof origin, "--set '%s'", arg);
    if (eq == NULL)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: expected KEY=VALUE, e.g. --set algo.lr=0.05", origin);
    /* "--set 'algo.lr = 0.1'" is forgiven: blanks around the key go. */
    while (k0 < k1 && (*k0 == ' ' || *k0 == '\t'))
        k0++;
    while (k1 > k0 && (k1[-1] == ' ' || k1[-1] == '\t'))
        k1--;
    if (k0 == k1)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: empty key, expected KEY=VALUE", origin);
    key = join_key(NULL, k0, (size_t)(k1 - k0));
    if (key == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory reading %s", origin);
    OTD_CHECK(otd_yaml_load(eq + 1, strlen(eq + 1), origin, &doc, &loaded));
    root = yaml_document_get_root_node(&doc);
    /* "--set model.init_file=a: b" reads as a mapping: say how to quote. */
    if (root != NULL && root->type == YAML_MAPPING_NODE && find_option(key) != NULL)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "%s: the value reads as a YAML mapping, but %s takes a single value or a "
                 "[list]; quote it: --set '%s=\"...\"'",
                 origin, key, key);
    OTD_CHECK(set_key(b, key, &doc, root, origin, 0));
done:
    if (loaded)
        yaml_document_delete(&doc);
    free(key);
    return err;
}

/* Defaults are text parsed by the same code as user values: the table
 * shows them verbatim in --help, and a default that violates its own range
 * fails every parse (and so the unit tests) instead of slipping through. */
static otd_err apply_defaults(otd_cfg_build *b)
{
    otd_err err = OTD_OK;
    for (size_t i = 0; i < otd_cfg_noptions; i++) {
        const otd_option *o = &otd_cfg_options[i];
        otd_cfg_value v = {.kind = OTD_VAL_SCALAR,
                           .scalar = {o->def, strlen(o->def)},
                           .origin = "the built-in defaults"};
        OTD_CHECK(otd_cfg_apply(o, &v, b));
    }
done:
    return err;
}

/* problem.weights -> r values, now that rank and ratio are final. */
static otd_err resolve_weights(otd_cfg_build *b)
{
    otd_err err = OTD_OK;
    otd_config *c = &b->cfg;
    int64_t r = c->problem.rank;
    if (b->weights_kind == OTD_WEIGHTS_LIST && b->nweights != r)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.weights has %lld values but problem.rank = %lld: they must match",
                 (long long)b->nweights, (long long)r);
    OTD_ALLOC(c->problem.weights, r);
    for (int64_t k = 0; k < r; k++) {
        switch (b->weights_kind) {
        case OTD_WEIGHTS_EQUAL:
            c->problem.weights[k] = 1.0;
            break;
        case OTD_WEIGHTS_GEOMETRIC:
            c->problem.weights[k] = pow(c->problem.weight_ratio, (double)k);
            /* A zero weight is a component that is not there: say so
             * rather than run a rank-deficient target. */
            if (c->problem.weights[k] == 0.0)
                OTD_FAIL(OTD_ERR_CONFIG,
                         "problem.weights = geometric: problem.weight_ratio = %g to the power "
                         "%lld underflows to 0 (problem.rank = %lld is too large for this ratio)",
                         c->problem.weight_ratio, (long long)k, (long long)r);
            break;
        case OTD_WEIGHTS_LIST:
            c->problem.weights[k] = b->weights_list[k];
            break;
        }
    }
done:
    return err;
}

/* The rules that involve more than one key, on the final values. */
static otd_err resolve(otd_cfg_build *b)
{
    otd_err err = OTD_OK;
    otd_config *c = &b->cfg;
    otd_algo_defaults def;
    if ((c->problem.target == OTD_TARGET_ORTHONORMAL || c->problem.target == OTD_TARGET_BASIS) &&
        c->problem.rank > c->problem.dim)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.rank = %lld is larger than problem.dim = %lld: problem.target = %s "
                 "has at most d orthonormal components",
                 (long long)c->problem.rank, (long long)c->problem.dim,
                 otd_target_kind_name(c->problem.target));
    if (c->engine != OTD_ENGINE_DENSE && c->problem.noise > 0)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.noise = %g needs engine = dense (the implicit engine knows T* only "
                 "by its components)",
                 c->problem.noise);
    if (c->engine != OTD_ENGINE_DENSE && c->problem.tensor_file[0] != '\0')
        OTD_FAIL(OTD_ERR_CONFIG, "problem.tensor_file = '%s' needs engine = dense",
                 c->problem.tensor_file);
    if (c->problem.tensor_file[0] != '\0' && c->problem.components_file[0] != '\0')
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.tensor_file and problem.components_file are both set: give one target");
    OTD_CHECK(resolve_weights(b));
    /* auto: what the algorithm's row says (src/algo/algo.c, and why there),
     * once the problem is final: bl's lambda depends on r and the weights. */
    OTD_CHECK(otd_algo_get_defaults(c, &def));
    c->model.param = b->param_choice == 0 ? def.param : (otd_param)(b->param_choice - 1);
    if (isnan(c->model.init_scale))
        c->model.init_scale = def.init_scale;
    if (isnan(c->algo.lambda))
        c->algo.lambda = def.lambda;
    OTD_CHECK(otd_algo_check_config(c));
    /* Even order: every homogeneous component adds ||w||^2 w_bar^{(x)l}, a
     * non-negative multiple of an even power, so a_k <= 0 can never be fit. */
    if (c->problem.order % 2 == 0 && c->model.param == OTD_PARAM_HOMOGENEOUS)
        for (int64_t k = 0; k < c->problem.rank; k++)
            if (!(c->problem.weights[k] > 0.0))
                OTD_FAIL(OTD_ERR_CONFIG,
                         "problem.weights[%lld] = %g: with even problem.order = %d and "
                         "model.param = homogeneous%s the model only makes non-negative "
                         "coefficients; use positive weights or model.param: plain",
                         (long long)k, c->problem.weights[k], c->problem.order,
                         b->param_choice == 0 ? " (auto, from algo.name)" : "");
done:
    return err;
}

otd_err otd_config_parse(const char *text, size_t len, const char *source, const char *const *sets,
                         int nsets, otd_config *cfg)
{
    otd_err err = OTD_OK;
    otd_cfg_build b;
    memset(&b, 0, sizeof b);
    if (cfg == NULL || nsets < 0 || (nsets > 0 && sets == NULL))
        OTD_FAIL(OTD_ERR_ARG, "otd_config_parse: bad arguments (cfg %p, nsets %d)", (void *)cfg,
                 nsets);
    /* Zero first: whatever happens below, the caller gets either a full
     * config or a zeroed one that otd_config_free accepts. */
    memset(cfg, 0, sizeof *cfg);
    if (source == NULL)
        source = "<config>";
    OTD_ALLOC(b.seen_line, otd_cfg_noptions);
    OTD_CHECK(apply_defaults(&b));
    if (text != NULL && len > 0)
        OTD_CHECK(apply_text(&b, text, len, source));
    for (int i = 0; i < nsets; i++) {
        if (sets[i] == NULL)
            OTD_FAIL(OTD_ERR_ARG, "otd_config_parse: sets[%d] is NULL", i);
        OTD_CHECK(apply_set(&b, sets[i]));
    }
    OTD_CHECK(resolve(&b));
    /* Hand the owned strings and weights over; b.cfg is then empty. */
    *cfg = b.cfg;
    memset(&b.cfg, 0, sizeof b.cfg);
done:
    otd_config_free(&b.cfg);
    free(b.weights_list);
    free(b.seen_line);
    return err;
}

void otd_config_free(otd_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->problem.weights);
    /* Strings are found through the table, so a new string key needs no
     * change here. */
    for (size_t i = 0; i < otd_cfg_noptions; i++) {
        if (otd_cfg_options[i].type == OTD_OPT_STRING) {
            char *s;
            memcpy(&s, (char *)cfg + otd_cfg_options[i].offset, sizeof s);
            free(s);
        }
    }
    memset(cfg, 0, sizeof *cfg);
}

otd_err otd_config_check_key(const char *key, const char *origin)
{
    const otd_option *ex;
    if (find_option(key) != NULL)
        return OTD_OK;
    if ((ex = section_example(key)) != NULL)
        return OTD_ERROR(OTD_ERR_CONFIG, "%s: is a section, not a key (e.g. %s) (in %s)", key,
                         ex->key, origin);
    return unknown_key(key, origin);
}
