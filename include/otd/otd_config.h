/* otd_config.h: the validated configuration of one run.
 *
 * One options table (src/config/options.c) drives everything: YAML parsing,
 * `--set KEY=VALUE` overrides, defaults, range checks, `otd run --help` and
 * the canonical resolved YAML written into results. Parsing is a pure function
 * of bytes: rank 0 reads the file and broadcasts it, every rank parses the
 * same bytes and so reaches the same verdict without further communication.
 *
 * Error messages name the key, the offending value and the allowed range,
 * e.g. "algo.lr = -1: out of range (allowed: real > 0)". Unknown keys get the
 * nearest known key suggested. YAML syntax errors give line and column. */
#ifndef OTD_CONFIG_H
#define OTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "otd/otd_error.h"

typedef enum { OTD_TARGET_ORTHONORMAL, OTD_TARGET_BASIS, OTD_TARGET_GAUSSIAN } otd_target_kind;
typedef enum { OTD_PARAM_PLAIN, OTD_PARAM_HOMOGENEOUS } otd_param;
typedef enum { OTD_ENGINE_IMPLICIT, OTD_ENGINE_DENSE } otd_engine_name;
typedef enum { OTD_LAZY_SOLVER_AUTO, OTD_LAZY_SOLVER_DENSE, OTD_LAZY_SOLVER_CG } otd_lazy_solver;

/* run.checkpoint_every = auto: checkpoint by wall time, not step count. */
#define OTD_CKPT_AUTO 0

/* Largest supported order l: d^l and the powers in the engine stay sane. */
#define OTD_MAX_ORDER 12

typedef struct {
    struct {
        int order;    /* l >= 2 */
        int64_t dim;  /* d >= 1 */
        int64_t rank; /* r >= 1 */
        otd_target_kind target;
        /* Weights a_k, always resolved to r values (equal -> all 1, geometric
         * -> ratio^k, list -> as given); scaled by the target module when
         * normalize is set. Owned by the config. */
        double *weights;
        double weight_ratio;   /* ratio of `geometric` weights, in (0, 1]; kept
                                * for the canonical YAML once weights are resolved */
        int normalize;         /* scale so that ||T*||_F = 1 */
        char *components_file; /* "" = generate; else HDF5 with /U (d,r), /a (r,) */
        double noise;          /* Frobenius norm of added symmetric noise (dense only) */
        char *tensor_file;     /* "" = generate; else HDF5 with /T (d,...,d) (dense only) */
        double symmetry_tol;   /* tensor_file: allowed asymmetry, relative to max |T| */
    } problem;
    struct {
        int64_t m;         /* components, >= 1 */
        otd_param param;   /* resolved: "auto" becomes plain or homogeneous */
        double init_scale; /* sigma for gd and lazy, delta_0 for bl/tdp (resolved) */
        char *init_file;   /* "" = generate; else HDF5 with /W (d,m) */
    } model;
    struct {
        int name;                    /* index of otd_algo_names (otd_algo.h) */
        double lr;                   /* eta > 0 */
        int64_t max_iters;           /* >= 0 */
        double lambda;               /* >= 0 (resolved from auto) */
        double reinit_threshold;     /* delta_1 >= 0 */
        int64_t epoch_len;           /* H_0 >= 1 */
        double epoch_growth;         /* gamma >= 0 */
        double target_rel_err;       /* epsilon >= 0; 0 disables the test */
        double lazy_alpha;           /* lazy_gd: 0 = linearization, > 0 = Chizat scaling */
        double lazy_ridge;           /* lazy_opt: ridge relative to the mean diagonal */
        int64_t lazy_block;          /* lazy_opt: ScaLAPACK block size */
        otd_lazy_solver lazy_solver; /* lazy_opt: dense Cholesky, CG, or auto by size */
        double lazy_tol;             /* lazy_opt cg: relative residual to stop at */
        int64_t lazy_max_iters;      /* lazy_opt cg: products with J^T J at most */
    } algo;
    struct {
        uint64_t seed;
        int64_t log_every;         /* >= 1 */
        double progress_seconds;   /* > 0: wall time between progress lines */
        int64_t checkpoint_every;  /* steps between checkpoints; OTD_CKPT_AUTO: by time */
        double checkpoint_seconds; /* OTD_CKPT_AUTO: wall time between checkpoints */
        int64_t keep_checkpoints;  /* committed checkpoints kept (>= 1) */
    } run;
    struct {
        /* A component is "large" when its coefficient in T(W) (||w||^2
         * homogeneous, ||w||^l plain) is at least this fraction of the
         * smallest |a_k|. */
        double large_fraction;
        /* n_fitted: a target is fitted when a large component has it as
         * its best-correlated target with |cos| >= fit_corr and its
         * target_mass is within fit_mass_tol of 1. */
        double fit_corr;
        double fit_mass_tol;
    } metrics;
    otd_engine_name engine;
} otd_config;

/* Parse and validate a configuration.
 *   text/len: YAML document (may be NULL/0 for "defaults only"); source names it
 *             in messages (a file name, or "<defaults>").
 *   sets:     nsets strings "KEY=VALUE" applied after the file, in order; VALUE
 *             is read as a YAML scalar or flow sequence ("[1, 0.5]").
 * On success *cfg is fully resolved and owns its strings/arrays (free with
 * otd_config_free). On failure returns OTD_ERR_CONFIG with a message, and *cfg
 * is left zeroed. Not collective; deterministic in its inputs. */
otd_err otd_config_parse(const char *text, size_t len, const char *source, const char *const *sets,
                         int nsets, otd_config *cfg);

/* Release what otd_config_parse allocated; accepts a zeroed config. */
void otd_config_free(otd_config *cfg);

/* The resolved configuration as canonical YAML (every key, fixed order, full
 * precision so that parsing it gives back the same config). *yaml is malloc'd
 * and owned by the caller. */
otd_err otd_config_to_yaml(const otd_config *cfg, char **yaml);

/* Compare cfg with a configuration stored as canonical YAML (a checkpoint's)
 * for resuming: keys whose values differ, except those that only decide when
 * a run stops or how it reports (algo.max_iters, algo.target_rel_err,
 * run.progress_seconds, run.checkpoint_*, run.keep_checkpoints). *diff is
 * a malloc'd "key (stored -> now), ..." list, or NULL when none differ.
 * OTD_ERR_CONFIG if the stored YAML does not parse. Not collective. */
otd_err otd_config_resume_diff(const otd_config *cfg, const char *stored_yaml, char **diff);

/* The other half: the keys a resume may change (algo.max_iters,
 * algo.target_rel_err, run.progress_seconds, run.checkpoint_*,
 * run.keep_checkpoints) whose values differ, as a malloc'd "key (stored ->
 * now), ..." list in *changes, or NULL when none do: what a resumed run
 * records about the configuration that governed it. Errors as
 * otd_config_resume_diff. Not collective. */
otd_err otd_config_resume_changes(const otd_config *cfg, const char *stored_yaml, char **changes);

/* 64-bit FNV-1a hash of the canonical YAML, for provenance and checkpoints.
 * Returns 0 if the YAML cannot be built (out of memory, or a config that did
 * not come from otd_config_parse). Not collective. */
uint64_t otd_config_hash(const otd_config *cfg);

/* OTD_OK if key is a configuration key ("model.m"); otherwise
 * OTD_ERR_CONFIG with the message `otd run` gives for it (the nearest known
 * key suggested; "is a section" for "model"), naming origin ("sweep.yaml:4:3").
 * For tools that take keys apart from a config file (`otd sweep`). Not
 * collective. */
otd_err otd_config_check_key(const char *key, const char *origin);

/* The configuration keys in table order, for tables with one column per key
 * (`otd collect`): otd_config_nkeys() of them, otd_config_key(i) the dotted
 * name (NULL past the end). Not collective. */
size_t otd_config_nkeys(void);
const char *otd_config_key(size_t i);

/* What a key's resolved value is, for typed tables (summary.h5): */
typedef enum {
    OTD_KEY_INT,         /* an integer */
    OTD_KEY_REAL,        /* a real ("auto" words are resolved to a number) */
    OTD_KEY_BOOL,        /* true or false */
    OTD_KEY_ENUM,        /* one of a few names */
    OTD_KEY_STRING,      /* free text (a file path) */
    OTD_KEY_LIST,        /* a list of reals (problem.weights), as its YAML flow text */
    OTD_KEY_INT_OR_WORD, /* an integer or a word kept as such (run.checkpoint_every: auto) */
} otd_config_key_type;

typedef struct {
    const char *key;
    otd_config_key_type type;
    const char *help; /* the help text of `otd run --help` */
    const char *unit; /* "s" for a number of seconds; NULL when dimensionless */
} otd_config_key_info;

/* Key i's type, help and unit (table order, as otd_config_key). OTD_ERR_ARG
 * for i out of range. Not collective. */
otd_err otd_config_key_describe(size_t i, otd_config_key_info *info);

/* Key i's resolved value in cfg as text: its canonical YAML, except that a
 * string is given as itself, unquoted. *text is malloc'd, owned by the
 * caller. OTD_ERR_ARG for i out of range. Not collective. */
otd_err otd_config_value_text(const otd_config *cfg, size_t i, char **text);

/* Print the options table (key, type, default, allowed values, help) for
 * `otd run --help`. */
void otd_config_print_help(FILE *out);

/* Names of enum values, for banners: never NULL. */
const char *otd_target_kind_name(otd_target_kind k);
const char *otd_param_name(otd_param p);
const char *otd_algo_name_str(int a);
const char *otd_engine_name_str(otd_engine_name e);

#endif
