/* test_config.c: the config module (YAML, --set, validation, canonical form).
 *
 * Every error test checks the code (OTD_ERR_CONFIG), that the message names
 * the key and the offending value, and that the config was left zeroed and
 * freeable: a failure must never hand back half a config. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd/otd_config.h"
#include "otd_test.h"

/* ------------------------------------------------------------ helpers */

static otd_err parse(const char *text, const char *const *sets, int nsets, otd_config *cfg)
{
    return otd_config_parse(text, text ? strlen(text) : 0, "test.yaml", sets, nsets, cfg);
}

static int is_zeroed(const otd_config *cfg)
{
    static const otd_config zero;
    return memcmp(cfg, &zero, sizeof zero) == 0;
}

/* Parse text (and one optional --set) expecting a config error whose
 * message contains every needle; report at the caller's line. */
static void expect_fail_at(int line, const char *text, const char *set, const char *const *needles)
{
    otd_config cfg;
    const char *sets[1] = {set};
    otd_err e;
    const char *msg;
    int ok;
    memset(&cfg, 0xab, sizeof cfg); /* garbage in: it must come back zeroed */
    e = parse(text, set ? sets : NULL, set ? 1 : 0, &cfg);
    msg = otd_error_message();
    ok = e == OTD_ERR_CONFIG && is_zeroed(&cfg);
    for (int i = 0; needles[i] != NULL; i++)
        if (strstr(msg, needles[i]) == NULL) {
            fprintf(stderr, "line %d: message lacks \"%s\"\n", line, needles[i]);
            ok = 0;
        }
    if (!ok)
        fprintf(stderr, "line %d: code %d (%s), message:\n%s\n", line, (int)e, otd_strerror(e),
                msg);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, "expected config error",
                            __FILE__, "", CU_FALSE);
    otd_config_free(&cfg);
    otd_config_free(&cfg); /* twice: free leaves a zeroed config */
}

#define EXPECT_FAIL(text, set, ...)                                                                \
    expect_fail_at(__LINE__, (text), (set), (const char *const[]){__VA_ARGS__, NULL})

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Field-by-field equality, doubles bitwise. */
static int config_equal(const otd_config *a, const otd_config *b)
{
    if (a->problem.order != b->problem.order || a->problem.dim != b->problem.dim ||
        a->problem.rank != b->problem.rank || a->problem.target != b->problem.target ||
        !same_bits(a->problem.weight_ratio, b->problem.weight_ratio) ||
        a->problem.normalize != b->problem.normalize ||
        strcmp(a->problem.components_file, b->problem.components_file) != 0 ||
        !same_bits(a->problem.noise, b->problem.noise) ||
        strcmp(a->problem.tensor_file, b->problem.tensor_file) != 0 ||
        !same_bits(a->problem.symmetry_tol, b->problem.symmetry_tol))
        return 0;
    for (int64_t k = 0; k < a->problem.rank; k++)
        if (!same_bits(a->problem.weights[k], b->problem.weights[k]))
            return 0;
    if (a->model.m != b->model.m || a->model.param != b->model.param ||
        !same_bits(a->model.init_scale, b->model.init_scale) ||
        strcmp(a->model.init_file, b->model.init_file) != 0)
        return 0;
    if (a->algo.name != b->algo.name || !same_bits(a->algo.lr, b->algo.lr) ||
        a->algo.max_iters != b->algo.max_iters || !same_bits(a->algo.lambda, b->algo.lambda) ||
        !same_bits(a->algo.reinit_threshold, b->algo.reinit_threshold) ||
        a->algo.epoch_len != b->algo.epoch_len ||
        !same_bits(a->algo.epoch_growth, b->algo.epoch_growth) ||
        !same_bits(a->algo.target_rel_err, b->algo.target_rel_err))
        return 0;
    return a->run.seed == b->run.seed && a->run.log_every == b->run.log_every &&
           same_bits(a->run.progress_seconds, b->run.progress_seconds) &&
           same_bits(a->metrics.large_fraction, b->metrics.large_fraction) &&
           same_bits(a->metrics.fit_corr, b->metrics.fit_corr) &&
           same_bits(a->metrics.fit_mass_tol, b->metrics.fit_mass_tol) &&
           a->run.checkpoint_every == b->run.checkpoint_every &&
           same_bits(a->run.checkpoint_seconds, b->run.checkpoint_seconds) &&
           a->run.keep_checkpoints == b->run.keep_checkpoints && a->engine == b->engine;
}

/* parse(to_yaml(cfg)) must give cfg back, and the same YAML again. */
static void check_round_trip(const otd_config *cfg)
{
    char *y1 = NULL, *y2 = NULL;
    otd_config back;
    OTD_TEST_OK(otd_config_to_yaml(cfg, &y1));
    OTD_TEST_OK(parse(y1, NULL, 0, &back));
    CU_ASSERT_TRUE(config_equal(cfg, &back));
    OTD_TEST_OK(otd_config_to_yaml(&back, &y2));
    CU_ASSERT_STRING_EQUAL(y1, y2);
    CU_ASSERT_EQUAL(otd_config_hash(cfg), otd_config_hash(&back));
    free(y1);
    free(y2);
    otd_config_free(&back);
}

/* ------------------------------------------------------------ tests */

static void test_defaults(void)
{
    otd_config c;
    OTD_TEST_OK(parse(NULL, NULL, 0, &c));
    CU_ASSERT_EQUAL(c.problem.order, 3);
    CU_ASSERT_EQUAL(c.problem.dim, 10);
    CU_ASSERT_EQUAL(c.problem.rank, 3);
    CU_ASSERT_EQUAL(c.problem.target, OTD_TARGET_ORTHONORMAL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.problem.weights);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(c.problem.weights[k], 1.0);
    CU_ASSERT_EQUAL(c.problem.weight_ratio, 0.5);
    CU_ASSERT_EQUAL(c.problem.normalize, 1);
    CU_ASSERT_STRING_EQUAL(c.problem.components_file, "");
    CU_ASSERT_EQUAL(c.model.m, 12);
    CU_ASSERT_EQUAL(c.model.param, OTD_PARAM_HOMOGENEOUS); /* auto with bl */
    CU_ASSERT_EQUAL(c.model.init_scale, 1e-3);
    CU_ASSERT_STRING_EQUAL(c.model.init_file, "");
    CU_ASSERT_STRING_EQUAL(otd_algo_name_str(c.algo.name), "bl");
    CU_ASSERT_EQUAL(c.algo.lr, 0.01);
    CU_ASSERT_EQUAL(c.algo.max_iters, 20000);
    /* bl's auto lambda: its error floor at a tenth of epsilon (r = 3) */
    CU_ASSERT_EQUAL(c.algo.lambda, 0.1 * 2.0 * 1e-3 / sqrt(3.0));
    CU_ASSERT_EQUAL(c.algo.reinit_threshold, 1e-3);
    CU_ASSERT_EQUAL(c.algo.epoch_len, 2000);
    CU_ASSERT_EQUAL(c.algo.epoch_growth, 0.5);
    CU_ASSERT_EQUAL(c.algo.target_rel_err, 1e-3);
    CU_ASSERT_EQUAL(c.run.seed, 0);
    CU_ASSERT_EQUAL(c.run.log_every, 100);
    CU_ASSERT_EQUAL(c.run.progress_seconds, 2.0);
    CU_ASSERT_EQUAL(c.metrics.fit_corr, 0.99);
    CU_ASSERT_EQUAL(c.metrics.fit_mass_tol, 0.01);
    CU_ASSERT_EQUAL(c.engine, OTD_ENGINE_IMPLICIT);
    otd_config_free(&c);
    CU_ASSERT_TRUE(is_zeroed(&c));
    otd_config_free(&c);
    otd_config_free(NULL);
}

/* An empty file, comments only, an empty document or a null document all
 * mean "defaults"; the result equals the no-text parse. */
static void test_empty_documents(void)
{
    const char *texts[] = {"", "# just a comment\n", "---\n", "---\n...\n", "~\n", "\n\n"};
    otd_config ref, c;
    OTD_TEST_OK(parse(NULL, NULL, 0, &ref));
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        OTD_TEST_OK(parse(texts[i], NULL, 0, &c));
        CU_ASSERT_TRUE(config_equal(&ref, &c));
        otd_config_free(&c);
    }
    /* An empty section is no error either. */
    OTD_TEST_OK(parse("problem:\nalgo: {}\n", NULL, 0, &c));
    CU_ASSERT_TRUE(config_equal(&ref, &c));
    otd_config_free(&c);
    otd_config_free(&ref);
}

static void test_nested_equals_dotted(void)
{
    const char *nested = "problem:\n  order: 4\n  dim: 20\n  target: basis\n"
                         "algo:\n  name: tdp\n  lr: 0.05\nrun:\n  seed: 7\nengine: implicit\n";
    const char *dotted = "problem.order: 4\nproblem.dim: 20\nproblem.target: basis\n"
                         "algo.name: tdp\nalgo.lr: 0.05\nrun.seed: 7\nengine: implicit\n";
    const char *flow = "{problem: {order: 4, dim: 20, target: basis}, algo: {name: tdp, "
                       "lr: 0.05}, run.seed: 7}\n";
    const char *mixed = "problem:\n  order: 4\n  problem.dim: 20\nproblem.target: basis\n"
                        "algo:\n  name: tdp\nalgo.lr: 0.05\nrun: {seed: 7}\n";
    otd_config a, b, c, d;
    OTD_TEST_OK(parse(nested, NULL, 0, &a));
    CU_ASSERT_EQUAL(a.problem.order, 4);
    CU_ASSERT_EQUAL(a.problem.dim, 20);
    CU_ASSERT_EQUAL(a.problem.target, OTD_TARGET_BASIS);
    CU_ASSERT_STRING_EQUAL(otd_algo_name_str(a.algo.name), "tdp");
    CU_ASSERT_EQUAL(a.algo.lr, 0.05);
    CU_ASSERT_EQUAL(a.run.seed, 7);
    OTD_TEST_OK(parse(dotted, NULL, 0, &b));
    OTD_TEST_OK(parse(flow, NULL, 0, &c));
    CU_ASSERT_TRUE(config_equal(&a, &b));
    CU_ASSERT_TRUE(config_equal(&a, &c));
    /* "problem.dim" inside "problem:" is "problem.problem.dim": unknown. */
    CU_ASSERT_EQUAL(parse(mixed, NULL, 0, &d), OTD_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "problem.problem.dim"));
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "did you mean 'problem.dim'"));
    CU_ASSERT_EQUAL(otd_config_hash(&a), otd_config_hash(&b));
    otd_config_free(&a);
    otd_config_free(&b);
    otd_config_free(&c);
    otd_config_free(&d);
}

static void test_set_overrides(void)
{
    const char *text = "algo:\n  lr: 0.05\n  max_iters: 10\nproblem.rank: 2\n";
    const char *sets[] = {"algo.lr=0.2",
                          "algo.max_iters=500",
                          "algo.lr=0.3",
                          "problem.weights=[1, 0.5, 0.25]",
                          "problem.rank=3",
                          "model.init_file=\"my file: w0.h5\"",
                          " run.seed = 42",
                          "problem.normalize=off",
                          "problem.components_file="};
    otd_config c;
    OTD_TEST_OK(parse(text, sets, (int)(sizeof sets / sizeof sets[0]), &c));
    CU_ASSERT_EQUAL(c.algo.lr, 0.3); /* the later --set wins */
    CU_ASSERT_EQUAL(c.algo.max_iters, 500);
    CU_ASSERT_EQUAL(c.problem.rank, 3);
    CU_ASSERT_EQUAL(c.problem.weights[0], 1.0);
    CU_ASSERT_EQUAL(c.problem.weights[1], 0.5);
    CU_ASSERT_EQUAL(c.problem.weights[2], 0.25);
    CU_ASSERT_STRING_EQUAL(c.model.init_file, "my file: w0.h5");
    CU_ASSERT_EQUAL(c.run.seed, 42);
    CU_ASSERT_EQUAL(c.problem.normalize, 0);
    CU_ASSERT_STRING_EQUAL(c.problem.components_file, "");
    otd_config_free(&c);
    /* A --set may undo a list with a word. */
    {
        const char *s2[] = {"problem.weights=[2, 3]", "problem.weights=geometric"};
        OTD_TEST_OK(parse(NULL, s2, 2, &c));
        CU_ASSERT_EQUAL(c.problem.weights[2], 0.25);
        otd_config_free(&c);
    }
}

static void test_weights(void)
{
    otd_config c;
    OTD_TEST_OK(parse("problem:\n  rank: 4\n  weights: equal\n", NULL, 0, &c));
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(c.problem.weights[k], 1.0);
    otd_config_free(&c);

    OTD_TEST_OK(
        parse("problem:\n  rank: 4\n  weights: geometric\n  weight_ratio: 0.25\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.problem.weights[0], 1.0);
    CU_ASSERT_EQUAL(c.problem.weights[1], 0.25);
    CU_ASSERT_EQUAL(c.problem.weights[2], 0.0625);
    CU_ASSERT_EQUAL(c.problem.weights[3], 0.015625);
    CU_ASSERT_EQUAL(c.problem.weight_ratio, 0.25);
    otd_config_free(&c);

    OTD_TEST_OK(parse("problem:\n  order: 4\n  dim: 10\n  rank: 5\n  target: basis\n"
                      "  weights: [1.0, 0.8, 0.6, 0.4, 0.2]\n",
                      NULL, 0, &c));
    CU_ASSERT_EQUAL(c.problem.weights[1], 0.8);
    CU_ASSERT_EQUAL(c.problem.weights[4], 0.2);
    otd_config_free(&c);

    /* Block-style list, negative weight with an odd order is fine. */
    OTD_TEST_OK(parse("problem:\n  rank: 2\n  weights:\n    - 1\n    - -0.5\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.problem.weights[1], -0.5);
    otd_config_free(&c);

    /* Even order with a plain model may have negative weights. */
    OTD_TEST_OK(parse("problem: {order: 4, rank: 2, weights: [1, -0.5]}\nmodel.param: plain\n",
                      NULL, 0, &c));
    CU_ASSERT_EQUAL(c.problem.weights[1], -0.5);
    otd_config_free(&c);
}

static void test_param_auto(void)
{
    static const struct {
        const char *text;
        otd_param want;
    } cases[] = {
        {"algo.name: bl\n", OTD_PARAM_HOMOGENEOUS},
        {"algo.name: tdp\n", OTD_PARAM_HOMOGENEOUS},
        {"algo.name: gd\n", OTD_PARAM_PLAIN},
        {"algo.name: gd\nmodel.param: auto\n", OTD_PARAM_PLAIN},
        {"algo.name: bl\nmodel.param: plain\n", OTD_PARAM_PLAIN},
        {"algo.name: gd\nmodel.param: homogeneous\n", OTD_PARAM_HOMOGENEOUS},
        {"algo.name: lazy_gd\n", OTD_PARAM_PLAIN},
        {"algo.name: lazy_opt\n", OTD_PARAM_PLAIN},
    };
    otd_config c;
    char *y = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OTD_TEST_OK(parse(cases[i].text, NULL, 0, &c));
        CU_ASSERT_EQUAL(c.model.param, cases[i].want);
        check_round_trip(&c);
        otd_config_free(&c);
    }
    /* auto follows a --set of algo.name, and the YAML holds the resolved value. */
    {
        const char *s[] = {"algo.name=gd"};
        OTD_TEST_OK(parse("algo.name: bl\n", s, 1, &c));
        CU_ASSERT_EQUAL(c.model.param, OTD_PARAM_PLAIN);
        OTD_TEST_OK(otd_config_to_yaml(&c, &y));
        CU_ASSERT_PTR_NOT_NULL(strstr(y, "  param: plain\n"));
        CU_ASSERT_PTR_NULL(strstr(y, "param: auto"));
        free(y);
        otd_config_free(&c);
    }
}

static void test_canonical_yaml(void)
{
    otd_config c;
    char *y = NULL;
    OTD_TEST_OK(parse(NULL, NULL, 0, &c));
    OTD_TEST_OK(otd_config_to_yaml(&c, &y));
    CU_ASSERT_STRING_EQUAL(y, "problem:\n"
                              "  order: 3\n"
                              "  dim: 10\n"
                              "  rank: 3\n"
                              "  target: orthonormal\n"
                              "  weights: [1, 1, 1]\n"
                              "  weight_ratio: 0.5\n"
                              "  normalize: true\n"
                              "  components_file: \"\"\n"
                              "  noise: 0\n"
                              "  tensor_file: \"\"\n"
                              "  symmetry_tol: 1e-10\n"
                              "model:\n"
                              "  m: 12\n"
                              "  param: homogeneous\n"
                              "  init_scale: 0.001\n"
                              "  init_file: \"\"\n"
                              "algo:\n"
                              "  name: bl\n"
                              "  lr: 0.01\n"
                              "  max_iters: 20000\n"
                              "  lambda: 0.00011547005383792517\n"
                              "  reinit_threshold: 0.001\n"
                              "  epoch_len: 2000\n"
                              "  epoch_growth: 0.5\n"
                              "  target_rel_err: 0.001\n"
                              "  lazy_alpha: 0\n"
                              "  lazy_ridge: 1e-12\n"
                              "  lazy_block: 64\n"
                              "  lazy_solver: auto\n"
                              "  lazy_tol: 1e-10\n"
                              "  lazy_max_iters: 10000\n"
                              "run:\n"
                              "  seed: 0\n"
                              "  log_every: 100\n"
                              "  progress_seconds: 2\n"
                              "  checkpoint_every: auto\n"
                              "  checkpoint_seconds: 300\n"
                              "  keep_checkpoints: 3\n"
                              "metrics:\n"
                              "  large_fraction: 0.1\n"
                              "  fit_corr: 0.99\n"
                              "  fit_mass_tol: 0.01\n"
                              "engine: implicit\n");
    free(y);
    check_round_trip(&c);
    otd_config_free(&c);
}

static void test_round_trip(void)
{
    /* Values chosen so that a lossy printer ("%g", "%.15g") would change
     * them: 0.1, 1/3, 1e-300, a subnormal, the largest seed and dimension,
     * and strings that need escaping. */
    const char *text =
        "problem:\n"
        "  order: 5\n"
        "  dim: 1099511627776\n"
        "  rank: 3\n"
        "  target: gaussian\n"
        "  weights: [0.1, -0.33333333333333331, 4.9406564584124654e-324]\n"
        "  weight_ratio: 0.70000000000000007\n"
        "  normalize: no\n"
        "  components_file: \"dir with space/\\\"q\\\" \\\\ tab\\tnl\\n\xc3\xa9.h5\"\n"
        "model: {m: 1600, param: plain, init_scale: 0.33333333333333331, "
        "init_file: 'w0: x.h5'}\n"
        "algo:\n"
        "  name: gd\n"
        "  lr: 0.1\n"
        "  max_iters: 0\n"
        "  lambda: 1e-300\n"
        "  reinit_threshold: 0\n"
        "  epoch_len: 1\n"
        "  epoch_growth: 2.5e-7\n"
        "  target_rel_err: 0\n"
        "run: {seed: 9223372036854775807, log_every: 1, progress_seconds: 1e-9}\n";
    otd_config c;
    OTD_TEST_OK(parse(text, NULL, 0, &c));
    CU_ASSERT_TRUE(same_bits(c.algo.lr, 0.1));
    CU_ASSERT_TRUE(same_bits(c.algo.lambda, 1e-300));
    CU_ASSERT_TRUE(c.problem.weights[2] > 0.0 && c.problem.weights[2] < 1e-323);
    CU_ASSERT_EQUAL(c.run.seed, UINT64_C(9223372036854775807));
    CU_ASSERT_EQUAL(c.problem.dim, INT64_C(1) << 40);
    CU_ASSERT_STRING_EQUAL(c.problem.components_file,
                           "dir with space/\"q\" \\ tab\tnl\n\xc3\xa9.h5");
    CU_ASSERT_STRING_EQUAL(c.model.init_file, "w0: x.h5");
    check_round_trip(&c);
    otd_config_free(&c);
}

/* FNV-1a 64, written out again here so that the test pins the algorithm. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static void test_hash(void)
{
    otd_config a, b, c;
    char *y = NULL;
    const char *s[] = {"algo.lr=0.010000000000000002"}; /* one ulp away from 0.01 */
    CU_ASSERT_EQUAL(fnv1a(""), UINT64_C(0xcbf29ce484222325));
    CU_ASSERT_EQUAL(fnv1a("a"), UINT64_C(0xaf63dc4c8601ec8c));
    OTD_TEST_OK(parse(NULL, NULL, 0, &a));
    OTD_TEST_OK(parse("algo:\n  lr: 0.01\n", NULL, 0, &b));
    OTD_TEST_OK(parse(NULL, s, 1, &c));
    OTD_TEST_OK(otd_config_to_yaml(&a, &y));
    CU_ASSERT_EQUAL(otd_config_hash(&a), fnv1a(y));
    CU_ASSERT_EQUAL(otd_config_hash(&a), otd_config_hash(&a));
    CU_ASSERT_EQUAL(otd_config_hash(&a), otd_config_hash(&b));
    CU_ASSERT_NOT_EQUAL(otd_config_hash(&a), otd_config_hash(&c));
    CU_ASSERT_NOT_EQUAL(otd_config_hash(&a), 0);
    free(y);
    otd_config_free(&a);
    otd_config_free(&b);
    otd_config_free(&c);
}

static void test_unknown_keys(void)
{
    EXPECT_FAIL("algo:\n  lrr: 0.1\n", NULL, "unknown key 'algo.lrr'", "test.yaml:2",
                "did you mean 'algo.lr'?");
    EXPECT_FAIL("algo.lrr: 0.1\n", NULL, "unknown key 'algo.lrr'", "did you mean 'algo.lr'?");
    EXPECT_FAIL(NULL, "algo.lrr=0.1", "unknown key 'algo.lrr'", "--set 'algo.lrr=0.1'",
                "did you mean 'algo.lr'?");
    EXPECT_FAIL("probem:\n  order: 3\n", NULL, "unknown key 'probem.order'",
                "did you mean 'problem.order'?");
    EXPECT_FAIL("algo.order: 3\n", NULL, "unknown key 'algo.order'",
                "did you mean 'problem.order'?");
    EXPECT_FAIL("seed: 3\n", NULL, "unknown key 'seed'", "did you mean 'run.seed'?");
    EXPECT_FAIL("algo.epoch_length: 3\n", NULL, "did you mean 'algo.epoch_len'?");
    EXPECT_FAIL("problem:\n  weight: [1]\n", NULL, "did you mean 'problem.weights'?");
    EXPECT_FAIL("nonsense: {}\n", NULL, "unknown key 'nonsense'");
    /* Nothing close: no suggestion. */
    {
        otd_config c;
        CU_ASSERT_EQUAL(parse("zzzzzzzz: 1\n", NULL, 0, &c), OTD_ERR_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "unknown key 'zzzzzzzz'"));
        CU_ASSERT_PTR_NULL(strstr(otd_error_message(), "did you mean"));
        CU_ASSERT_TRUE(is_zeroed(&c));
    }
}

static void test_bad_numbers(void)
{
    EXPECT_FAIL("algo.lr: abc\n", NULL, "algo.lr = 'abc': not a real number (allowed: real > 0)");
    EXPECT_FAIL(NULL, "algo.lr=abc", "algo.lr = 'abc': not a real number (allowed: real > 0)",
                "--set 'algo.lr=abc'");
    EXPECT_FAIL("algo.lr: 0.1x\n", NULL, "algo.lr = '0.1x'", "not a real number");
    EXPECT_FAIL("algo.lr: 1e3.5\n", NULL, "algo.lr = '1e3.5'", "not a real number");
    EXPECT_FAIL("algo.lr: ''\n", NULL, "algo.lr = ''", "not a real number");
    EXPECT_FAIL("algo.lr:\n", NULL, "algo.lr = ''", "not a real number");
    EXPECT_FAIL("algo.lr: ' 0.1'\n", NULL, "algo.lr = ' 0.1'", "not a real number");
    EXPECT_FAIL("algo.lr: \"0.1\\x00\"\n", NULL, "algo.lr = '0.1", "not a real number");
    EXPECT_FAIL("algo.lr: nan\n", NULL, "algo.lr = 'nan'", "not a finite real number");
    EXPECT_FAIL("algo.lambda: inf\n", NULL, "algo.lambda = 'inf'", "not a finite real number",
                "real >= 0");
    EXPECT_FAIL("run.progress_seconds: -inf\n", NULL, "run.progress_seconds = '-inf'",
                "not a finite");
    EXPECT_FAIL("model.init_scale: 1e999\n", NULL, "model.init_scale = '1e999'", "not a finite");
    EXPECT_FAIL("problem.dim: 12abc\n", NULL, "problem.dim = '12abc'", "not an integer",
                "integer in [1, 1099511627776]");
    EXPECT_FAIL("problem.order: 3.5\n", NULL, "problem.order = '3.5'", "not an integer",
                "integer in [2, 12]");
    EXPECT_FAIL("model.m: 1e3\n", NULL, "model.m = '1e3'", "not an integer", "integer >= 1");
    EXPECT_FAIL("model.m: 0x10\n", NULL, "model.m = '0x10'", "not an integer");
    EXPECT_FAIL("model.m: ''\n", NULL, "model.m = ''", "not an integer");
    EXPECT_FAIL("run.seed: 99999999999999999999\n", NULL, "run.seed = '99999999999999999999'",
                "overflow", "integer in [0, 2^63-1]");
    EXPECT_FAIL("algo.max_iters: -99999999999999999999\n", NULL, "algo.max_iters", "overflow");
}

static void test_ranges(void)
{
    EXPECT_FAIL("problem.order: 1\n", NULL,
                "problem.order = 1: out of range (allowed: integer in [2, 12])");
    EXPECT_FAIL("problem.order: 13\n", NULL, "problem.order = 13: out of range");
    EXPECT_FAIL("problem.dim: 0\n", NULL, "problem.dim = 0: out of range");
    EXPECT_FAIL("problem.dim: 1099511627777\n", NULL, "problem.dim = 1099511627777: out of range");
    EXPECT_FAIL("problem.rank: 0\n", NULL, "problem.rank = 0: out of range");
    EXPECT_FAIL("model.m: -3\n", NULL, "model.m = -3: out of range (allowed: integer >= 1)");
    EXPECT_FAIL("algo.lr: 0\n", NULL, "algo.lr = 0: out of range (allowed: real > 0)");
    EXPECT_FAIL("algo.lr: -1\n", NULL, "algo.lr = -1: out of range (allowed: real > 0)");
    EXPECT_FAIL("algo.max_iters: -1\n", NULL, "algo.max_iters = -1: out of range");
    EXPECT_FAIL("algo.lambda: -1e-9\n", NULL, "algo.lambda = -1e-9: out of range", "real >= 0");
    EXPECT_FAIL("algo.reinit_threshold: -1\n", NULL, "algo.reinit_threshold = -1");
    EXPECT_FAIL("algo.epoch_len: 0\n", NULL, "algo.epoch_len = 0: out of range");
    EXPECT_FAIL("algo.epoch_growth: -0.5\n", NULL, "algo.epoch_growth = -0.5: out of range");
    EXPECT_FAIL("algo.target_rel_err: -1\n", NULL, "algo.target_rel_err = -1: out of range");
    EXPECT_FAIL("problem.weight_ratio: 0\n", NULL, "problem.weight_ratio = 0: out of range",
                "real in (0, 1]");
    EXPECT_FAIL("problem.weight_ratio: 1.5\n", NULL, "problem.weight_ratio = 1.5");
    EXPECT_FAIL("model.init_scale: 0\n", NULL, "model.init_scale = 0: out of range");
    EXPECT_FAIL("run.seed: -1\n", NULL, "run.seed = -1: out of range", "integer in [0, 2^63-1]");
    EXPECT_FAIL("run.log_every: 0\n", NULL, "run.log_every = 0: out of range");
    EXPECT_FAIL("run.progress_seconds: 0\n", NULL, "run.progress_seconds = 0: out of range");
    EXPECT_FAIL("metrics.fit_corr: 0\n", NULL, "metrics.fit_corr = 0: out of range",
                "real in (0, 1]");
    EXPECT_FAIL("metrics.fit_corr: 1.01\n", NULL, "metrics.fit_corr = 1.01: out of range");
    EXPECT_FAIL("metrics.fit_mass_tol: -0.01\n", NULL, "metrics.fit_mass_tol = -0.01: out of range",
                "real >= 0");
    /* The edges themselves are allowed. */
    {
        otd_config c;
        OTD_TEST_OK(parse("problem: {order: 12, weight_ratio: 1, dim: 1099511627776}\n"
                          "algo: {max_iters: 0, lambda: 0, epoch_growth: 0}\n"
                          "metrics: {fit_corr: 1, fit_mass_tol: 0}\n",
                          NULL, 0, &c));
        CU_ASSERT_EQUAL(c.problem.order, 12);
        otd_config_free(&c);
        OTD_TEST_OK(parse("problem.order: 2\n", NULL, 0, &c));
        otd_config_free(&c);
    }
}

static void test_enums_and_bools(void)
{
    const char *yes[] = {"true", "True", "YES", "on", "On"};
    const char *no[] = {"false", "FALSE", "no", "No", "off", "OFF"};
    char text[64];
    otd_config c;
    EXPECT_FAIL("problem.target: orthogonal\n", NULL,
                "problem.target = 'orthogonal': not one of orthonormal, basis, gaussian");
    EXPECT_FAIL("algo.name: sgd\n", NULL, "algo.name = 'sgd': not one of gd, bl, tdp");
    EXPECT_FAIL("engine: sparse\n", NULL, "engine = 'sparse': not one of implicit, dense");
    /* an integer key with a named value: auto or >= 1, never 0 */
    EXPECT_FAIL("run.checkpoint_every: 0\n", NULL, "run.checkpoint_every = 0",
                "auto or integer >= 1");
    EXPECT_FAIL("run.checkpoint_every: never\n", NULL, "run.checkpoint_every = 'never'");
    OTD_TEST_OK(parse("run.checkpoint_every: 250\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.run.checkpoint_every, 250);
    otd_config_free(&c);
    OTD_TEST_OK(parse("run.checkpoint_every: auto\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.run.checkpoint_every, OTD_CKPT_AUTO);
    otd_config_free(&c);
    /* keys that only the dense engine can honour */
    EXPECT_FAIL("problem.noise: 0.1\n", NULL, "problem.noise = 0.1", "engine = dense");
    EXPECT_FAIL("problem.tensor_file: t.h5\n", NULL, "problem.tensor_file = 't.h5'",
                "engine = dense");
    EXPECT_FAIL("engine: dense\nproblem.tensor_file: t.h5\nproblem.components_file: c.h5\n", NULL,
                "problem.tensor_file and problem.components_file");
    EXPECT_FAIL("problem.noise: -1\n", NULL, "problem.noise = -1");
    EXPECT_FAIL("model.param: automatic\n", NULL,
                "model.param = 'automatic': not one of auto, plain, homogeneous");
    EXPECT_FAIL("problem.normalize: maybe\n", NULL, "problem.normalize = 'maybe'", "not a boolean");
    EXPECT_FAIL("problem.normalize: 1\n", NULL, "problem.normalize = '1'", "not a boolean");
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        snprintf(text, sizeof text, "problem.normalize: %s\n", yes[i]);
        OTD_TEST_OK(parse(text, NULL, 0, &c));
        CU_ASSERT_EQUAL(c.problem.normalize, 1);
        otd_config_free(&c);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        snprintf(text, sizeof text, "problem.normalize: %s\n", no[i]);
        OTD_TEST_OK(parse(text, NULL, 0, &c));
        CU_ASSERT_EQUAL(c.problem.normalize, 0);
        otd_config_free(&c);
    }
}

static void test_shapes(void)
{
    EXPECT_FAIL("algo:\n  lr:\n    x: 1\n", NULL, "algo.lr", "mapping");
    EXPECT_FAIL("algo.lr: [0.1, 0.2]\n", NULL, "algo.lr", "got a list");
    EXPECT_FAIL("algo.name: {a: b}\n", NULL, "algo.name", "mapping");
    EXPECT_FAIL(NULL, "algo.lr=[1]", "algo.lr", "got a list");
    EXPECT_FAIL(NULL, "algo.lr={a: 1}", "algo.lr", "mapping");
    EXPECT_FAIL("problem: 3\n", NULL, "problem", "expected a mapping", "got a scalar");
    EXPECT_FAIL("problem: [1, 2]\n", NULL, "problem", "expected a mapping", "got a list");
    EXPECT_FAIL("problem.weights: {a: 1}\n", NULL, "problem.weights", "mapping");
    EXPECT_FAIL("problem.weights: [[1], 2, 3]\n", NULL, "problem.weights[0]", "got a list");
    EXPECT_FAIL("problem.weights: [1, {a: 2}, 3]\n", NULL, "problem.weights[1]", "mapping");
    EXPECT_FAIL("42\n", NULL, "top level must be a mapping", "scalar");
    EXPECT_FAIL("- algo.lr: 1\n", NULL, "top level must be a mapping", "list");
    EXPECT_FAIL("? [a, b]\n: 1\n", NULL, "key must be a plain name");
    EXPECT_FAIL("problem.components_file: [a.h5]\n", NULL, "problem.components_file", "list");
}

static void test_yaml_syntax(void)
{
    EXPECT_FAIL("algo:\n  lr: [0.1, 0.2\nrun: 1\n", NULL, "test.yaml:", "YAML syntax error");
    EXPECT_FAIL("algo:\n  lr: 0.1\n name: gd\n", NULL, "test.yaml:3:2: YAML syntax error");
    EXPECT_FAIL("algo:\n\tlr: 0.1\n", NULL, "test.yaml:2:1: YAML syntax error");
    EXPECT_FAIL("a: b: c\n", NULL, "test.yaml:1:5: YAML syntax error");
    EXPECT_FAIL("algo: \"unterminated\n", NULL, "test.yaml:", "YAML syntax error");
    EXPECT_FAIL("algo.lr: 0.1\n\xff\n", NULL, "test.yaml:2:1: YAML syntax error");
    EXPECT_FAIL(NULL, "problem.weights=[1, 2", "--set 'problem.weights=[1, 2'",
                "YAML syntax error");
    EXPECT_FAIL("algo.lr: 0.1\n---\nalgo.lr: 0.2\n", NULL, "test.yaml:2", "second YAML document");
}

static void test_duplicates(void)
{
    EXPECT_FAIL("algo:\n  lr: 0.1\n  lr: 0.2\n", NULL, "duplicate key 'algo.lr'", "test.yaml:3");
    EXPECT_FAIL("algo.lr: 0.1\nalgo:\n  lr: 0.2\n", NULL, "duplicate key 'algo.lr'",
                "first set at line 1");
    EXPECT_FAIL("problem:\n  order: 3\nproblem:\n  dim: 4\n", NULL, "duplicate key 'problem'");
    EXPECT_FAIL("engine: implicit\nengine: implicit\n", NULL, "duplicate key 'engine'");
}

static void test_set_errors(void)
{
    EXPECT_FAIL(NULL, "algo.lr", "--set 'algo.lr'", "KEY=VALUE");
    EXPECT_FAIL(NULL, "=3", "--set '=3'", "empty key");
    EXPECT_FAIL(NULL, "  =3", "--set '  =3'", "empty key");
    EXPECT_FAIL(NULL, "problem=3", "--set 'problem=3'", "section");
    EXPECT_FAIL(NULL, "problem=", "--set 'problem='", "section");
    EXPECT_FAIL(NULL, "algo.lr=", "algo.lr = ''", "not a real number");
    /* A bad file value is reported even if a --set would replace it. */
    EXPECT_FAIL("algo.lr: abc\n", "algo.lr=0.1", "algo.lr = 'abc'");
}

/* model.init_scale and algo.lambda: auto depends on algo.name (large and
 * unregularized for the lazy regime), the YAML holds the resolved value,
 * and an explicit value always wins. */
static void test_lazy_auto(void)
{
    otd_config c;
    char *y = NULL;
    OTD_TEST_OK(parse("algo.name: lazy_opt\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.model.init_scale, 1.0);
    CU_ASSERT_EQUAL(c.algo.lambda, 0.0);
    OTD_TEST_OK(otd_config_to_yaml(&c, &y));
    CU_ASSERT_PTR_NOT_NULL(strstr(y, "  init_scale: 1\n"));
    CU_ASSERT_PTR_NULL(strstr(y, "auto\n  init_file"));
    free(y);
    check_round_trip(&c);
    otd_config_free(&c);
    OTD_TEST_OK(parse("algo.name: bl\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.model.init_scale, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(c.algo.lambda, 0.2e-3 / sqrt(3.0), 1e-18);
    otd_config_free(&c);
    OTD_TEST_OK(parse("algo.name: gd\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.model.init_scale, 1.0);
    CU_ASSERT_EQUAL(c.algo.lambda, 1e-3);
    otd_config_free(&c);
    {
        const char *s[] = {"model.init_scale=auto"};
        OTD_TEST_OK(parse("algo: {name: lazy_gd, lambda: 0.5}\nmodel.init_scale: 3\n", s, 1, &c));
        CU_ASSERT_EQUAL(c.model.init_scale, 1.0);
        CU_ASSERT_EQUAL(c.algo.lambda, 0.5);
        otd_config_free(&c);
    }
    EXPECT_FAIL("model.init_scale: -1\n", NULL, "model.init_scale = -1", "auto or real > 0");
    EXPECT_FAIL("algo.lazy_alpha: 10\n", NULL, "algo.lazy_alpha = 10", "lazy_gd");
    EXPECT_FAIL("algo: {name: lazy_gd, lazy_alpha: 10}\nengine: dense\nproblem.noise: 0.1\n", NULL,
                "algo.lazy_alpha = 10", "engine = dense");
    EXPECT_FAIL("algo.lazy_block: 0\n", NULL, "algo.lazy_block = 0", "[1, 4096]");
    EXPECT_FAIL("algo.lazy_solver: lu\n", NULL, "algo.lazy_solver", "auto, dense, cg");
    EXPECT_FAIL("algo.lazy_tol: 0\n", NULL, "algo.lazy_tol = 0", "(0, 1)");
    EXPECT_FAIL("algo.lazy_max_iters: 0\n", NULL, "algo.lazy_max_iters = 0", ">= 1");
}

static void test_cross_rules(void)
{
    otd_config c;
    EXPECT_FAIL("problem: {dim: 10, rank: 11}\n", NULL, "problem.rank = 11", "problem.dim = 10");
    EXPECT_FAIL("problem: {dim: 4, rank: 5, target: basis}\n", NULL, "problem.rank = 5",
                "problem.dim = 4");
    /* gaussian components need not be orthogonal. */
    OTD_TEST_OK(parse("problem: {dim: 4, rank: 5, target: gaussian}\n", NULL, 0, &c));
    CU_ASSERT_EQUAL(c.problem.rank, 5);
    otd_config_free(&c);
    EXPECT_FAIL("problem.weights: [1, 0.5]\n", NULL, "problem.weights has 2 values",
                "problem.rank = 3");
    {
        const char *s[] = {"problem.rank=2"};
        EXPECT_FAIL("problem.weights: [1, 0.5, 0.2]\n", s[0], "problem.weights has 3 values",
                    "problem.rank = 2");
    }
    EXPECT_FAIL("problem: {order: 4, rank: 2, weights: [1, -0.5]}\n", NULL,
                "problem.weights[1] = -0.5", "problem.order = 4", "homogeneous");
    EXPECT_FAIL("problem: {order: 4, rank: 2, weights: [1, -0.5]}\nalgo.name: tdp\n", NULL,
                "problem.weights", "problem.order = 4");
    EXPECT_FAIL("problem: {rank: 2, weights: [1, 0]}\n", NULL, "problem.weights[1] = 0", "nonzero");
    EXPECT_FAIL("problem: {rank: 2, weights: [1, nan]}\n", NULL, "problem.weights[1] = 'nan'",
                "not a finite");
    EXPECT_FAIL("problem: {rank: 2, weights: [1, 2x]}\n", NULL, "problem.weights[1] = '2x'",
                "not a real number");
    EXPECT_FAIL("problem.weights: equall\n", NULL, "problem.weights = 'equall'", "geometric");
    EXPECT_FAIL("problem: {target: gaussian, dim: 10, rank: 2000, weights: geometric}\n", NULL,
                "problem.weights", "problem.weight_ratio = 0.5", "underflows");
}

static void test_strings(void)
{
    otd_config c;
    EXPECT_FAIL("model.init_file: \"a\\0b\"\n", NULL, "model.init_file", "NUL");
    OTD_TEST_OK(parse("model.init_file: 'runs/w0.h5'\nproblem.components_file: ~\n", NULL, 0, &c));
    CU_ASSERT_STRING_EQUAL(c.model.init_file, "runs/w0.h5");
    CU_ASSERT_STRING_EQUAL(c.problem.components_file, "~");
    otd_config_free(&c);
}

static void test_bad_api_use(void)
{
    otd_config c;
    char *y = (char *)&c;
    CU_ASSERT_EQUAL(otd_config_parse(NULL, 0, NULL, NULL, -1, &c), OTD_ERR_ARG);
    CU_ASSERT_EQUAL(otd_config_parse(NULL, 0, NULL, NULL, 0, NULL), OTD_ERR_ARG);
    /* A zeroed config was never resolved: no canonical form, hash 0. */
    memset(&c, 0, sizeof c);
    c.problem.rank = 2;
    CU_ASSERT_EQUAL(otd_config_to_yaml(&c, &y), OTD_ERR_ARG);
    CU_ASSERT_PTR_NULL(y);
    CU_ASSERT_EQUAL(otd_config_hash(&c), 0);
}

static void test_help(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    otd_config_print_help(f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "problem.order  (integer, default: 3)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "allowed: integer in [2, 12]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "H_0: steps of the first bl epoch"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "one of orthonormal, basis, gaussian"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "model.param  (choice, default: auto)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "problem.components_file  (string, default: \"\")"));
    {
        static const char *const keys[] = {"problem.order",
                                           "problem.dim",
                                           "problem.rank",
                                           "problem.target",
                                           "problem.weights",
                                           "problem.weight_ratio",
                                           "problem.normalize",
                                           "problem.components_file",
                                           "model.m",
                                           "model.param",
                                           "model.init_scale",
                                           "model.init_file",
                                           "algo.name",
                                           "algo.lr",
                                           "algo.max_iters",
                                           "algo.lambda",
                                           "algo.reinit_threshold",
                                           "algo.epoch_len",
                                           "algo.epoch_growth",
                                           "algo.target_rel_err",
                                           "run.seed",
                                           "run.log_every",
                                           "run.progress_seconds",
                                           "metrics.fit_corr",
                                           "metrics.fit_mass_tol",
                                           "engine"};
        char want[64];
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            snprintf(want, sizeof want, "\n  %s  (", keys[i]);
            CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
        }
    }
    free(text);
}

/* bl and tdp's auto lambda puts the error floor sqrt(r) lambda / (2 ||T*||)
 * at a tenth of epsilon: lambda = 0.2 epsilon ||T*|| / sqrt(r), a pure
 * function of the configuration (docs/science.md section 4). */
static void test_bl_auto_lambda(void)
{
    otd_config c;
    struct {
        const char *text;
        double lambda;
    } cases[] = {
        /* r and epsilon; ||T*|| = 1 when normalized, whatever the weights */
        {"problem: {rank: 1}\n", 0.2e-3},
        {"problem: {rank: 5, dim: 20}\n", 0.2e-3 / sqrt(5.0)},
        {"problem: {rank: 8, dim: 20, weights: geometric}\n", 0.2e-3 / sqrt(8.0)},
        {"problem: {rank: 4}\nalgo: {target_rel_err: 1e-2}\n", 0.2e-2 / 2.0},
        {"problem: {rank: 4}\nalgo: {name: tdp, target_rel_err: 1e-5}\n", 0.2e-5 / 2.0},
        /* epsilon = 0 (run the whole budget): as with the default 1e-3 */
        {"problem: {rank: 4}\nalgo: {target_rel_err: 0}\n", 0.2e-3 / 2.0},
        /* not normalized: ||T*|| = sqrt(sum a_k^2) of the configured weights */
        {"problem: {rank: 2, weights: [3, -4], normalize: false}\n", 0.2e-3 * 5.0 / sqrt(2.0)},
        {"problem: {rank: 2, weights: [1e300, 1e300], normalize: false}\n",
         0.2e-3 * 1e300 * sqrt(2.0) / sqrt(2.0)},
        /* weights from a file the configuration cannot read: ||T*|| = 1 */
        {"problem: {rank: 2, weights: [3, 4], normalize: false, components_file: x.h5}\n",
         0.2e-3 / sqrt(2.0)},
        /* an explicit value wins; gd keeps its constant */
        {"problem: {rank: 5}\nalgo: {lambda: 0.001}\n", 1e-3},
        {"problem: {rank: 5}\nalgo: {name: gd}\n", 1e-3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OTD_TEST_OK(parse(cases[i].text, NULL, 0, &c));
        if (!(fabs(c.algo.lambda - cases[i].lambda) <= 1e-15 * cases[i].lambda)) {
            fprintf(stderr, "\nauto lambda %.17g, want %.17g for %s", c.algo.lambda,
                    cases[i].lambda, cases[i].text);
            CU_FAIL("auto lambda differs from 0.2 eps ||T*|| / sqrt(r)");
        }
        check_round_trip(&c);
        otd_config_free(&c);
    }
    /* A later --set of the keys it depends on counts (resolved last). */
    {
        const char *s[] = {"problem.rank=9"};
        OTD_TEST_OK(parse("problem: {rank: 4, dim: 20}\n", s, 1, &c));
        CU_ASSERT_DOUBLE_EQUAL(c.algo.lambda, 0.2e-3 / 3.0, 1e-18);
        otd_config_free(&c);
    }
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(otd_target_kind_name(OTD_TARGET_BASIS), "basis");
    CU_ASSERT_STRING_EQUAL(otd_target_kind_name(OTD_TARGET_GAUSSIAN), "gaussian");
    CU_ASSERT_STRING_EQUAL(otd_param_name(OTD_PARAM_PLAIN), "plain");
    CU_ASSERT_STRING_EQUAL(otd_param_name(OTD_PARAM_HOMOGENEOUS), "homogeneous");
    CU_ASSERT_STRING_EQUAL(otd_algo_name_str(2), "tdp");
    CU_ASSERT_STRING_EQUAL(otd_engine_name_str(OTD_ENGINE_IMPLICIT), "implicit");
    CU_ASSERT_STRING_EQUAL(otd_algo_name_str(17), "unknown");
    CU_ASSERT_STRING_EQUAL(otd_param_name((otd_param)2), "unknown");
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "empty documents", test_empty_documents);
    CU_add_test(s, "nested equals dotted", test_nested_equals_dotted);
    CU_add_test(s, "--set overrides", test_set_overrides);
    CU_add_test(s, "weights resolution", test_weights);
    CU_add_test(s, "model.param auto", test_param_auto);
    CU_add_test(s, "canonical yaml", test_canonical_yaml);
    CU_add_test(s, "round trip", test_round_trip);
    CU_add_test(s, "hash", test_hash);
    CU_add_test(s, "unknown keys", test_unknown_keys);
    CU_add_test(s, "bad numbers", test_bad_numbers);
    CU_add_test(s, "ranges", test_ranges);
    CU_add_test(s, "enums and bools", test_enums_and_bools);
    CU_add_test(s, "shapes", test_shapes);
    CU_add_test(s, "yaml syntax", test_yaml_syntax);
    CU_add_test(s, "duplicates", test_duplicates);
    CU_add_test(s, "--set errors", test_set_errors);
    CU_add_test(s, "cross-key rules", test_cross_rules);
    CU_add_test(s, "lazy auto defaults", test_lazy_auto);
    CU_add_test(s, "bl auto lambda", test_bl_auto_lambda);
    CU_add_test(s, "strings", test_strings);
    CU_add_test(s, "bad API use", test_bad_api_use);
    CU_add_test(s, "help", test_help);
    CU_add_test(s, "enum names", test_names);
}
