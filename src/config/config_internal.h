/* config_internal.h: what the files of the config module share.
 *
 * options.c holds the one options table; values.c turns a written value
 * into a field of otd_config (and back into canonical text); config.c reads
 * YAML and --set arguments and resolves the cross-key rules; emit.c writes
 * the canonical YAML, the hash and the help text. Nothing here is public. */
#ifndef OTD_CONFIG_INTERNAL_H
#define OTD_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "otd/otd_config.h"
#include "otd/otd_text.h"

typedef enum {
    OTD_OPT_INT,     /* int or int64_t field (size tells which) */
    OTD_OPT_REAL,    /* double field */
    OTD_OPT_BOOL,    /* int field, 0 or 1 */
    OTD_OPT_ENUM,    /* enum field; the value is the index into choices */
    OTD_OPT_STRING,  /* char * field, owned by the config */
    OTD_OPT_WEIGHTS, /* problem.weights: a word or a list of reals */
} otd_opt_type;

/* One scalar as written: text is NUL-terminated, but len is authoritative
 * (a YAML scalar may contain "\0", which must not end the value early). */
typedef struct {
    const char *text;
    size_t len;
} otd_cfg_scalar;

typedef enum { OTD_VAL_SCALAR, OTD_VAL_LIST, OTD_VAL_MAP } otd_val_kind;

/* A value on its way to an option, with where it was written. */
typedef struct {
    otd_val_kind kind;
    otd_cfg_scalar scalar;       /* OTD_VAL_SCALAR */
    const otd_cfg_scalar *items; /* OTD_VAL_LIST */
    int64_t nitems;
    const char *origin; /* "file.yaml:3:5", "--set 'k=v'" or "defaults" */
} otd_cfg_value;

/* Weights as written, before problem.rank and weight_ratio are known. */
typedef enum { OTD_WEIGHTS_EQUAL, OTD_WEIGHTS_GEOMETRIC, OTD_WEIGHTS_LIST } otd_weights_kind;

/* The state of one parse: the config under construction plus the options
 * whose written form is not yet their resolved value. */
typedef struct {
    otd_config cfg;
    int param_choice; /* index into model.param's choices: 0 = auto */
    otd_weights_kind weights_kind;
    double *weights_list; /* OTD_WEIGHTS_LIST: the values as given */
    int64_t nweights;
    int *seen_line; /* per option: line where the current file set it, 0 = not yet */
} otd_cfg_build;

typedef struct otd_option otd_option;

struct otd_option {
    const char *key; /* dotted name; the part before the first dot is its section */
    otd_opt_type type;
    const char *def;            /* default, written as it would be in YAML */
    int64_t imin, imax;         /* OTD_OPT_INT: closed range */
    const char *word;           /* OTD_OPT_INT/REAL: a name also accepted ("auto"), or NULL */
    int64_t word_value;         /* ... standing for this int (outside [imin, imax]); a REAL
                                 * word stands for NaN, which resolve() replaces */
    double rmin, rmax;          /* OTD_OPT_REAL: bounds, +-HUGE_VAL = none */
    int rmin_open, rmax_open;   /* 1: bound excluded */
    const char *const *choices; /* OTD_OPT_ENUM: NULL-terminated names */
    const char *allowed;        /* overrides the generated "allowed" text */
    size_t offset, size;        /* the field in otd_config */
    /* Keys whose written value is not simply stored (model.param, weights)
     * bring their own conversion and canonical formatting. */
    otd_err (*apply)(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b);
    otd_err (*format)(const otd_option *opt, const otd_config *cfg, otd_strbuf *out);
    const char *help;
    const char *unit; /* "s" for seconds (summary.h5's unit attribute); NULL: none */
    /* May differ between a checkpoint and the run resuming from it: the key
     * changes when or how visibly a run stops, not its trajectory. */
    int resume_ok;
};

/* options.c */
extern const otd_option otd_cfg_options[];
extern const size_t otd_cfg_noptions;
extern const char *const otd_cfg_param_choices[]; /* auto, plain, homogeneous */

/* values.c */
/* Convert v for opt and store it in b (eagerly: a bad value is reported
 * even when a later --set overrides it). */
otd_err otd_cfg_apply(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b);
/* Parse one real for opt, with the range of opt; what names the value in
 * messages (the key, or "problem.weights[2]"). */
otd_err otd_cfg_parse_real(const otd_option *opt, const char *what, const otd_cfg_scalar *s,
                           const char *origin, double *out);
/* Check that v is a scalar and one of opt->choices; *idx is its index. */
otd_err otd_cfg_parse_enum(const otd_option *opt, const otd_cfg_value *v, int *idx);
/* How many bytes of s to show in a message ("%.*s"): long values are cut. */
int otd_cfg_show_len(const otd_cfg_scalar *s);
/* Index of s among choices, or -1. */
int otd_cfg_choice(const char *const *choices, const otd_cfg_scalar *s);
/* "integer in [2, 12]", "real > 0", ...: the allowed values of opt. */
void otd_cfg_allowed(const otd_option *opt, char *out, size_t cap);
/* Append the canonical text of opt's value in cfg. */
otd_err otd_cfg_format(const otd_option *opt, const otd_config *cfg, otd_strbuf *out);
/* The canonical text of a real: "%.17g", which strtod reads back exactly. */
otd_err otd_cfg_format_real(otd_strbuf *out, double x);

/* emit.c */

#endif
