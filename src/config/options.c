/* options.c: the one options table of otd.
 *
 * Every configuration key is one row here: its name, type, default (as
 * text, parsed by the same code as a user's value), allowed range or
 * choices, where it lands in otd_config, and its help line. The parser,
 * --set, the defaults, validation, `otd run --help` and the canonical YAML
 * all walk this table, so adding a key means adding one row (plus its field
 * in otd_config). Rows of one section must stay together: the canonical
 * YAML nests them under one "section:" line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "otd/otd_algo.h"

/* Enum fields are stored through an int-sized slot (see values.c). */
_Static_assert(sizeof(otd_target_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(otd_engine_name) == sizeof(int), "enum size");
_Static_assert(sizeof(otd_param) == sizeof(int), "enum size");
_Static_assert(sizeof(otd_lazy_solver) == sizeof(int), "enum size");

/* Names in enum order: index i is the enum value i. */
static const char *const target_choices[] = {"orthonormal", "basis", "gaussian", NULL};
static const char *const engine_choices[] = {"implicit", "dense", NULL};
static const char *const lazy_solver_choices[] = {"auto", "dense", "cg", NULL};
/* model.param: "auto" comes first, so enum value p is choice p + 1. */
const char *const otd_cfg_param_choices[] = {"auto", "plain", "homogeneous", NULL};
/* problem.weights as a word: index is the otd_weights_kind. */
static const char *const weights_words[] = {"equal", "geometric", NULL};

#define FIELD(m) .offset = offsetof(otd_config, m), .size = sizeof(((otd_config *)0)->m)
#define INT_RANGE(lo, hi) .type = OTD_OPT_INT, .imin = (lo), .imax = (hi)
#define REAL_RANGE(lo, lo_open, hi, hi_open)                                                       \
    .type = OTD_OPT_REAL, .rmin = (lo), .rmin_open = (lo_open), .rmax = (hi), .rmax_open = (hi_open)
#define ENUM_OF(c) .type = OTD_OPT_ENUM, .choices = (c)

/* 2^40: far beyond any d otd can hold, yet small enough that d^2, r*d and
 * friends stay well inside int64 arithmetic. */
#define SIZE_MAX_KEY ((int64_t)1 << 40)

static otd_err param_apply(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b);
static otd_err param_format(const otd_option *opt, const otd_config *cfg, otd_strbuf *out);
static otd_err weights_apply(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b);
static otd_err weights_format(const otd_option *opt, const otd_config *cfg, otd_strbuf *out);

const otd_option otd_cfg_options[] = {
    /* --- the target tensor T* = sum_k a_k u_k^{(x)l} --- */
    {.key = "problem.order",
     INT_RANGE(2, OTD_MAX_ORDER),
     .def = "3",
     FIELD(problem.order),
     .help = "Order l of the symmetric target tensor T* = sum_k a_k u_k^{(x)l} and of the model."},
    {.key = "problem.dim",
     INT_RANGE(1, SIZE_MAX_KEY),
     .def = "10",
     FIELD(problem.dim),
     .help = "Dimension d: every target component u_k and model component w_i is in R^d."},
    {.key = "problem.rank",
     INT_RANGE(1, SIZE_MAX_KEY),
     .def = "3",
     FIELD(problem.rank),
     .help = "Rank r: number of target components (at most problem.dim for orthonormal and "
             "basis)."},
    {.key = "problem.target",
     ENUM_OF(target_choices),
     .def = "orthonormal",
     FIELD(problem.target),
     .help = "Target components: orthonormal = first r columns of a Haar-random orthogonal "
             "matrix, basis = e_1..e_r, gaussian = u_k ~ N(0, I/d)."},
    {.key = "problem.weights",
     .type = OTD_OPT_WEIGHTS,
     .def = "equal",
     .allowed = "equal, geometric, or a list of problem.rank finite nonzero reals",
     .apply = weights_apply,
     .format = weights_format,
     .help = "Target weights a_k: equal (all 1), geometric (a_k = weight_ratio^k, k = 0..r-1) "
             "or a list such as [1, 0.8, 0.6]; written back as the resolved list."},
    {.key = "problem.weight_ratio",
     REAL_RANGE(0.0, 1, 1.0, 0),
     .def = "0.5",
     FIELD(problem.weight_ratio),
     .help = "Ratio of geometric weights, a_k = ratio^k (used when problem.weights = "
             "geometric)."},
    {.key = "problem.normalize",
     .type = OTD_OPT_BOOL,
     .def = "true",
     FIELD(problem.normalize),
     .help = "Scale the weights so that ||T*||_F = 1 (the relative error is unaffected)."},
    {.key = "problem.components_file",
     .type = OTD_OPT_STRING,
     .def = "",
     .allowed = "an HDF5 file path, or \"\" to generate the target",
     FIELD(problem.components_file),
     .help = "Read the target from this HDF5 file (/U of shape (d, r), /a of shape (r,)) "
             "instead of generating it."},

    {.key = "problem.noise",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "0",
     FIELD(problem.noise),
     .help = "engine dense: add a symmetric Gaussian noise tensor of this Frobenius norm to "
             "T* (after normalization; drawn from run.seed, the same for any rank count)."},
    {.key = "problem.tensor_file",
     .type = OTD_OPT_STRING,
     .def = "",
     .allowed = "an HDF5 file path, or \"\" to generate T*",
     FIELD(problem.tensor_file),
     .help = "engine dense: read T* from this HDF5 file (dataset /T of shape (d, ..., d), "
             "float64, symmetric), each rank only its mode-1 slices; problem.dim and "
             "problem.order must match it. Written by `otd tensor`."},
    {.key = "problem.symmetry_tol",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "1e-10",
     FIELD(problem.symmetry_tol),
     .help = "problem.tensor_file: largest allowed |T[..i..j..] - T[..j..i..]| relative to "
             "max |T|; a less symmetric tensor is refused."},

    /* --- the model T(W), W = [w_1 .. w_m] --- */
    {.key = "model.m",
     INT_RANGE(1, INT64_MAX),
     .def = "12",
     FIELD(model.m),
     .help = "Number m of model components w_i (columns of W); over-parameterized when m > r."},
    {.key = "model.param",
     ENUM_OF(otd_cfg_param_choices),
     .def = "auto",
     FIELD(model.param),
     .apply = param_apply,
     .format = param_format,
     .help = "Model: plain = sum_i w_i^{(x)l}; homogeneous = sum_i ||w_i||^2 "
             "(w_i/||w_i||)^{(x)l}; auto = homogeneous for bl and tdp, plain for gd."},
    {.key = "model.init_scale",
     REAL_RANGE(0.0, 1, HUGE_VAL, 1),
     .word = "auto",
     .def = "auto",
     FIELD(model.init_scale),
     .help = "Initial scale: sigma of w_i ~ N(0, sigma^2 I/d) for gd, lazy_gd and lazy_opt; "
             "delta_0, the norm of every initial and re-initialized w_i, for bl and tdp. auto = "
             "1e-3 for bl and tdp (a small initialization), 1 for gd, lazy_gd and lazy_opt (gd "
             "from a small one sits at the saddle W = 0; the lazy regime starts large)."},
    {.key = "model.init_file",
     .type = OTD_OPT_STRING,
     .def = "",
     .allowed = "an HDF5 file path, or \"\" to generate W0",
     FIELD(model.init_file),
     .help = "Start from W0 read from this HDF5 file (/W of shape (d, m)) instead of a random "
             "one."},

    /* --- the algorithm --- */
    {.key = "algo.name",
     ENUM_OF(otd_algo_names),
     .def = "bl",
     FIELD(algo.name),
     .help = "gd = plain gradient descent; bl = beyond-lazy GD (small init, re-initialization "
             "of small components, regularizer); tdp = bl read as tensor deflation; lazy_gd = "
             "GD on the linearization T(W0) + J(W0)[W - W0] (or, with algo.lazy_alpha > 0, on "
             "the Chizat-scaled model); lazy_opt = the best any lazy method can do: the normal "
             "equations of the linearization solved once with distributed ScaLAPACK."},
    {.key = "algo.lr",
     REAL_RANGE(0.0, 1, HUGE_VAL, 1),
     .def = "0.01",
     FIELD(algo.lr),
     .help = "Step size eta of every gradient step."},
    {.key = "algo.max_iters",
     .resume_ok = 1,
     INT_RANGE(0, INT64_MAX),
     .def = "20000",
     FIELD(algo.max_iters),
     .help = "Step budget: stop after this many gradient steps (0 = only evaluate W0)."},
    {.key = "algo.lambda",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .word = "auto",
     .def = "auto",
     FIELD(algo.lambda),
     .help = "Regularizer lambda in L(W) = 1/2 ||T(W) - T*||_F^2 + lambda/2 ||W||_F^2 (lazy "
             "methods: of the linearized model at W = W0 + Delta). auto: bl and tdp 0.2 eps "
             "||T*|| / sqrt(r) (eps = algo.target_rel_err, 1e-3 if 0; ||T*|| = 1 normalized), "
             "which puts the error floor sqrt(r) lambda / (2 ||T*||) that lambda causes at "
             "eps/10; gd 1e-3; lazy_gd and lazy_opt 0 (their error is the NTK regime's, "
             "unregularized)."},
    {.key = "algo.reinit_threshold",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "1e-3",
     FIELD(algo.reinit_threshold),
     .help = "delta_1: at the start of each bl/tdp epoch every w_i with ||w_i|| <= delta_1 is "
             "re-initialized to norm delta_0."},
    {.key = "algo.epoch_len",
     INT_RANGE(1, INT64_MAX),
     .def = "2000",
     FIELD(algo.epoch_len),
     .help = "H_0: steps of the first bl epoch; epoch s lasts ceil(H_0 (1+gamma)^s)."},
    {.key = "algo.epoch_growth",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "0.5",
     FIELD(algo.epoch_growth),
     .help = "gamma: growth of the bl/tdp epoch length, H_s = ceil(H_0 (1+gamma)^s); 0 keeps "
             "epochs equal."},
    {.key = "algo.target_rel_err",
     .resume_ok = 1,
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "1e-3",
     FIELD(algo.target_rel_err),
     .help = "epsilon: stop once ||T(W) - T*||_F / ||T*||_F <= epsilon; 0 runs the whole step "
             "budget."},

    {.key = "algo.lazy_alpha",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "0",
     FIELD(algo.lazy_alpha),
     .help = "lazy_gd: 0 = gradient descent on the exact linearization around W0; alpha > 0 = "
             "on the Chizat-scaled model 1/(2 alpha^2) ||alpha (T(W) - T(W0)) - T*||^2, which "
             "is lazy for large alpha (rel_err is then that of alpha (T(W) - T(W0)))."},
    {.key = "algo.lazy_ridge",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "1e-12",
     FIELD(algo.lazy_ridge),
     .help = "lazy_opt: ridge rho added to the normal equations, relative to their mean "
             "diagonal: (J^T J + (lambda + rho mean diag) I) Delta = J^T b - lambda W0. J^T J is "
             "singular once m d > C(d+l-1, l); the ridge keeps the Cholesky factorization "
             "defined while changing the residual by a relative O(rho cond). If Cholesky still "
             "fails, an eigendecomposition (pseudo-inverse) solves it."},
    {.key = "algo.lazy_block",
     INT_RANGE(1, 4096),
     .def = "64",
     FIELD(algo.lazy_block),
     .help = "lazy_opt: ScaLAPACK block size of the 2-D block-cyclic normal equations."},
    {.key = "algo.lazy_solver",
     ENUM_OF(lazy_solver_choices),
     .def = "auto",
     FIELD(algo.lazy_solver),
     .help = "lazy_opt: dense = form J^T J (order m d, distributed) and factor it (Cholesky); "
             "cg = conjugate gradients on the same equations without forming J^T J (O(m^2 d) "
             "per product, memory O(m d + m^2)); auto = dense up to m d = 8192 (exact and "
             "fast there), cg beyond."},
    {.key = "algo.lazy_tol",
     REAL_RANGE(0.0, 1, 1.0, 1),
     .def = "1e-10",
     FIELD(algo.lazy_tol),
     .help = "lazy_opt with cg: stop once the normal equations' relative residual "
             "||rhs - (J^T J + shift I) Delta|| / ||rhs|| is at most this."},
    {.key = "algo.lazy_max_iters",
     INT_RANGE(1, INT64_MAX),
     .def = "10000",
     FIELD(algo.lazy_max_iters),
     .help = "lazy_opt with cg: products with J^T J at most. An unconverged solve reports its "
             "error as what it is, an upper bound on the lazy optimum (summary lazy_converged = "
             "0)."},
    /* --- the run --- */
    {.key = "run.seed",
     INT_RANGE(0, INT64_MAX),
     .def = "0",
     FIELD(run.seed),
     .allowed = "integer in [0, 2^63-1]",
     .help = "Seed of every random number (target, W0, re-initializations): the same seed "
             "gives the same run on any rank count."},
    {.key = "run.log_every",
     INT_RANGE(1, INT64_MAX),
     .def = "100",
     FIELD(run.log_every),
     .help = "Record one history row of metrics every this many iterations."},
    {.key = "run.progress_seconds",
     .unit = "s",
     .resume_ok = 1,
     REAL_RANGE(0.0, 1, HUGE_VAL, 1),
     .def = "2.0",
     FIELD(run.progress_seconds),
     .help = "Wall-clock seconds between progress lines printed by rank 0."},

    {.key = "run.checkpoint_every",
     .resume_ok = 1,
     INT_RANGE(1, INT64_MAX),
     .word = "auto",
     .word_value = OTD_CKPT_AUTO,
     .def = "auto",
     FIELD(run.checkpoint_every),
     .help = "Write a checkpoint (OUT/checkpoints/) every this many steps; auto = about every "
             "run.checkpoint_seconds of wall time (so tiny fast runs do not spend their time "
             "writing). Signals SIGUSR1/SIGUSR2/SIGTERM always checkpoint at the next step."},
    {.key = "run.checkpoint_seconds",
     .unit = "s",
     .resume_ok = 1,
     REAL_RANGE(0.0, 1, HUGE_VAL, 1),
     .def = "300",
     FIELD(run.checkpoint_seconds),
     .help = "With run.checkpoint_every = auto: wall-clock seconds between checkpoints (rank "
             "0's clock, agreed at logged steps)."},
    {.key = "run.keep_checkpoints",
     .resume_ok = 1,
     INT_RANGE(1, 1000),
     .def = "3",
     FIELD(run.keep_checkpoints),
     .help = "Committed checkpoints kept; older ones are removed only after a newer one is "
             "safely on disk."},

    /* --- diagnostics --- */
    {.key = "metrics.large_fraction",
     REAL_RANGE(0.0, 1, HUGE_VAL, 1),
     .def = "0.1",
     FIELD(metrics.large_fraction),
     .help = "A component counts as large (n_large, best correlation, out-of-span mass) when "
             "its coefficient in T(W) (||w||^2 homogeneous, ||w||^l plain) is at least this "
             "fraction of the smallest |a_k|."},
    {.key = "metrics.fit_corr",
     REAL_RANGE(0.0, 1, 1.0, 0),
     .def = "0.99",
     FIELD(metrics.fit_corr),
     .help = "n_fitted: target k counts as fitted when a large component whose best-correlated "
             "target is u_k has |cos(w_i, u_k)| >= this and k's target_mass is within "
             "metrics.fit_mass_tol of 1."},
    {.key = "metrics.fit_mass_tol",
     REAL_RANGE(0.0, 0, HUGE_VAL, 1),
     .def = "0.01",
     FIELD(metrics.fit_mass_tol),
     .help = "n_fitted: largest |target_mass_k - 1| of a fitted target (target_mass = <T(W), "
             "u_k^l> / (a_k ||u_k||^{2l}), 1 when target k is fitted exactly)."},

    /* --- top level --- */
    {.key = "engine",
     ENUM_OF(engine_choices),
     .def = "implicit",
     FIELD(engine),
     .help = "Loss and gradient evaluation: implicit = from the target's components through "
             "Gram matrices, nothing of size d^l is formed; dense = against the explicit "
             "tensor, sharded by mode-1 slices over the ranks, symmetric-packed."},
};

const size_t otd_cfg_noptions = sizeof otd_cfg_options / sizeof otd_cfg_options[0];

/* model.param: remember the choice, "auto" included; config.c resolves it
 * once algo.name is final (a later --set algo.name must still count). */
static otd_err param_apply(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b)
{
    otd_err err = OTD_OK;
    int idx = -1;
    OTD_CHECK(otd_cfg_parse_enum(opt, v, &idx));
    b->param_choice = idx;
done:
    return err;
}

static otd_err param_format(const otd_option *opt, const otd_config *cfg, otd_strbuf *out)
{
    (void)opt;
    return otd_strbuf_printf(out, "%s", otd_param_name(cfg->model.param));
}

/* problem.weights: a word (equal, geometric) or a list of finite nonzero
 * reals. The list's length is checked against problem.rank at resolution,
 * when both are final. */
static otd_err weights_apply(const otd_option *opt, const otd_cfg_value *v, otd_cfg_build *b)
{
    otd_err err = OTD_OK;
    double *list = NULL;
    char what[64];
    if (v->kind == OTD_VAL_MAP)
        OTD_FAIL(OTD_ERR_CONFIG, "%s: expected %s, got a mapping (in %s)", opt->key, opt->allowed,
                 v->origin);
    if (v->kind == OTD_VAL_SCALAR) {
        int k = otd_cfg_choice(weights_words, &v->scalar);
        if (k < 0)
            OTD_FAIL(OTD_ERR_CONFIG, "%s = '%.*s': not a known form (allowed: %s) (in %s)",
                     opt->key, otd_cfg_show_len(&v->scalar), v->scalar.text, opt->allowed,
                     v->origin);
        b->weights_kind = (otd_weights_kind)k;
        free(b->weights_list);
        b->weights_list = NULL;
        b->nweights = 0;
        goto done;
    }
    OTD_ALLOC(list, v->nitems);
    for (int64_t k = 0; k < v->nitems; k++) {
        snprintf(what, sizeof what, "%s[%lld]", opt->key, (long long)k);
        OTD_CHECK(otd_cfg_parse_real(opt, what, &v->items[k], v->origin, &list[k]));
        if (list[k] == 0.0)
            OTD_FAIL(OTD_ERR_CONFIG, "%s = %.*s: a weight must be nonzero (allowed: %s) (in %s)",
                     what, otd_cfg_show_len(&v->items[k]), v->items[k].text, opt->allowed,
                     v->origin);
    }
    free(b->weights_list);
    b->weights_list = list;
    b->nweights = v->nitems;
    b->weights_kind = OTD_WEIGHTS_LIST;
    list = NULL;
done:
    free(list);
    return err;
}

/* Always the resolved list, so the canonical form does not depend on how
 * the weights were written. */
static otd_err weights_format(const otd_option *opt, const otd_config *cfg, otd_strbuf *out)
{
    otd_err err = OTD_OK;
    if (cfg->problem.weights == NULL && cfg->problem.rank > 0)
        OTD_FAIL(OTD_ERR_ARG,
                 "%s: not resolved (the config did not come from "
                 "otd_config_parse)",
                 opt->key);
    OTD_CHECK(otd_strbuf_printf(out, "["));
    for (int64_t k = 0; k < cfg->problem.rank; k++) {
        if (k > 0)
            OTD_CHECK(otd_strbuf_printf(out, ", "));
        OTD_CHECK(otd_cfg_format_real(out, cfg->problem.weights[k]));
    }
    OTD_CHECK(otd_strbuf_printf(out, "]"));
done:
    return err;
}

/* Name of enum value v from a NULL-terminated list; never NULL, so that a
 * corrupted value still prints. */
static const char *choice_name(const char *const *choices, int v)
{
    for (int i = 0; choices[i] != NULL; i++)
        if (i == v)
            return choices[i];
    return "unknown";
}

const char *otd_target_kind_name(otd_target_kind k)
{
    return choice_name(target_choices, (int)k);
}

const char *otd_param_name(otd_param p)
{
    return choice_name(otd_cfg_param_choices + 1, (int)p);
}

const char *otd_algo_name_str(int a)
{
    return choice_name(otd_algo_names, a);
}

const char *otd_engine_name_str(otd_engine_name e)
{
    return choice_name(engine_choices, (int)e);
}
