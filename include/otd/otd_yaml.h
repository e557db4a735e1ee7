/* otd_yaml.h: loading one YAML document, shared by the configuration and
 * the sweep files so both report syntax errors the same way. */
#ifndef OTD_YAML_H
#define OTD_YAML_H

#include <stddef.h>
#include <yaml.h>

#include "otd/otd_error.h"

/* Load the single YAML document of text into *doc (to be deleted by the
 * caller when *loaded). A stream without any document gives a document
 * without a root node; a second document is an error, since it would
 * otherwise be silently ignored. Syntax errors: OTD_ERR_CONFIG
 * "SOURCE:LINE:COL: YAML syntax error: ...". */
otd_err otd_yaml_load(const char *text, size_t len, const char *source, yaml_document_t *doc,
                      int *loaded);

#endif
