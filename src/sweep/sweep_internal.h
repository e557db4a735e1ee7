/* sweep_internal.h: what the files of the sweep module share.
 *
 * yamlnode.c turns nodes of the sweep file into the text otd's config
 * parser reads; sweep.c expands the file into points; sweepdir.c writes
 * and reads the sweep directory; status.c classifies one point; collect.c
 * builds the summary table; local.c runs points on this machine. Nothing
 * here is public. */
#ifndef OTD_SWEEP_INTERNAL_H
#define OTD_SWEEP_INTERNAL_H

#include <stddef.h>
#include <yaml.h>

#include "otd/otd_error.h"
#include "otd/otd_text.h"
#include "otd/otd_yaml.h"

/* One "key: value" leaf of a mapping, nested names joined with dots. */
typedef struct {
    char *key;
    yaml_node_t *node;
    int line, col; /* 1-based, of the key */
} otd_yaml_leaf;

typedef struct {
    otd_yaml_leaf *v;
    size_t n, cap;
} otd_yaml_leaves;

/* Flatten mapping `map` of doc into dotted leaves appended to *out: a
 * mapping under a name that is not a configuration key is descended into
 * ("problem: {dim: 6}" is problem.dim), so sweep files accept the nested and
 * dotted forms exactly as config files do. Every leaf must be a
 * configuration key (OTD_ERR_CONFIG naming source:line:col and the nearest
 * key otherwise), except, with point_keys (grid and points entries), the
 * top-level key OTD_SWEEP_POINT_RANKS; a key given twice is an error. */
otd_err otd_yaml_flatten(yaml_document_t *doc, yaml_node_t *map, const char *source, int point_keys,
                         otd_yaml_leaves *out);
void otd_yaml_leaves_free(otd_yaml_leaves *l);

/* The node as one line of YAML flow text that parses back to the same
 * value ("12", "bl", "[1, 0.5]", "\"a b\""): what a config file or
 * --set would contain. Appended to out. */
otd_err otd_yaml_flow(yaml_document_t *doc, yaml_node_t *node, otd_strbuf *out);

/* What DIR/sweep.id holds (docs/file-formats.md): "name\t<name>", then
 * "<key>\t<value>" for each key of the configuration every point starts
 * from (the base file's keys, then `set`), one line each; values are
 * otd_yaml_flow text, so never hold a tab or a newline. malloc'd. */
struct otd_sweep;
otd_err otd_sweep_identity_text(const struct otd_sweep *s, char **text);

#endif
