/* fuzz_sweep.c: the sweep-file reader and the point name/config builder on
 * random and adversarial text, under AddressSanitizer and UBSan.
 *
 *   fuzz_sweep [CASES [SEED]]      (default 3000 cases, a fixed seed)
 *
 * FUZZ_VERBOSE=1 prints each refusal's message (to see what the cases
 * reach).
 *
 * Built by tests/CMakeLists.txt with the sweep, config and text sources
 * compiled into it with -fsanitize=address,undefined (the rest of otd comes
 * from otdlib unsanitized), so the normal suite runs it without a second,
 * sanitized build of otd. Each case writes a sweep file and calls
 * otd_sweep_load, the function `otd sweep` uses, then, if it was accepted,
 * what `otd sweep` does with the points: their names, configs and values,
 * the sweep.id text, the packing into Slurm jobs and a job's batch script,
 * and for some cases the whole sweep
 * directory (otd_sweep_write, otd_manifest_read, otd_sweep_check_dir).
 *
 * Checked for every case: no crash and no sanitizer report (either aborts
 * the process: the test fails with the report), and the input is either
 * accepted or refused with OTD_ERR_CONFIG and a message. For an accepted
 * one: every point name is "<readable>-<10 hex>" of the characters
 * [A-Za-z0-9._+-] and unique, every point has a config and a valid flag
 * that agrees with its error, the points are packed into jobs that hold
 * each exactly once, the batch script has exactly its lines (no value
 * starts a line of its own; the setup lines as written), and a sweep
 * directory written from it
 * reads back. Also: otd_strbuf_shell_word round-trips through a POSIX
 * single-quote reading, and otd_sweep_check_sbatch_option accepts or
 * refuses with a message. A failing case is printed (escaped) with its
 * number and the seed. */
/* nftw, for removing the scratch directory. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "otd/otd_fileio.h"
#include "otd/otd_sweep.h"
#include "otd/otd_text.h"
#include "sweep/sweep_internal.h"

static uint64_t rng_state;

/* splitmix64: a fixed seed gives the same cases everywhere. */
static uint64_t next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t pick(size_t n)
{
    return (size_t)(next() % n);
}

static char tmpdir[256];
static long case_no;
static unsigned long long seed;
static const char *case_text = "";

/* Print s with control and non-ASCII bytes escaped. */
static void print_escaped(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '\n')
            fputs("\\n", stderr);
        else if (*c < 0x20 || *c >= 0x7f || *c == '\\')
            fprintf(stderr, "\\x%02x", *c);
        else
            fputc(*c, stderr);
    }
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_sweep: case %ld (seed %llu): %s: ", case_no, seed, what);
    print_escaped(detail ? detail : "");
    fprintf(stderr, "\n--- sweep file ---\n");
    print_escaped(case_text);
    fprintf(stderr, "\n---\n");
    exit(1);
}

static void append(otd_strbuf *b, const char *s)
{
    if (otd_strbuf_printf(b, "%s", s) != OTD_OK)
        fail("out of memory", "");
}

/* Pieces adversarial for YAML, for the name builder, for a shell, for
 * Slurm: separators first (the original crash), quotes, brackets, command
 * substitution, Slurm patterns, line breaks, YAML syntax, non-ASCII. */
static const char *const tokens[] = {
    " ",
    ",",
    ", ",
    " ,",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "$(touch y)",
    "`id`",
    "%",
    "%j",
    "%%",
    "\n",
    "\t",
    "\r",
    "#",
    ": ",
    ":",
    "- ",
    "&a",
    "*a",
    "!!str",
    "\\",
    "\\n",
    "ü",
    "ünï",
    "€",
    "\xf0\x9f\x98\x80",
    "\xff",
    "\xc3",
    "0",
    "1",
    "-1",
    "1e9",
    "nan",
    "inf",
    "~",
    "null",
    "true",
    "gd",
    "plain",
    "a b",
    ".",
    "..",
    "/",
    "-",
    "+",
    "_",
    "=",
    "?",
    "|",
    ">",
    "@",
    "!",
    "*",
    "&",
    ";",
    "(",
    ")",
    "<",
};
#define NTOKENS (sizeof tokens / sizeof *tokens)

/* A random string: a few tokens or random NUL-free bytes, sometimes long. */
static void random_string(otd_strbuf *b)
{
    int kind = (int)pick(10);
    if (kind < 6) {
        for (size_t n = 1 + pick(6); n > 0; n--)
            append(b, tokens[pick(NTOKENS)]);
    } else if (kind < 8) {
        char c[2] = {0, 0};
        for (size_t n = 1 + pick(12); n > 0; n--) {
            c[0] = (char)(1 + pick(255));
            append(b, c);
        }
    } else if (kind == 8) {
        /* Long: past the 80 characters of a readable name, past the fixed
         * buffers of messages and paths. */
        size_t n = 80 + pick(pick(4) == 0 ? 20000 : 400);
        for (size_t k = 0; k < n; k++)
            append(b, pick(8) == 0 ? tokens[pick(NTOKENS)] : "x");
    } else {
        append(b, "");
    }
}

/* Bytes of the UTF-8 character at c (2 to 4), 1 for ASCII, 0 for a byte
 * that starts no well-formed character. */
static size_t utf8_len(const unsigned char *c)
{
    size_t n = c[0] < 0x80                   ? 1
               : c[0] >= 0xc2 && c[0] < 0xe0 ? 2
               : c[0] >= 0xe0 && c[0] < 0xf0 ? 3
               : c[0] >= 0xf0 && c[0] < 0xf5 ? 4
                                             : 0;
    for (size_t k = 1; k < n; k++)
        if ((c[k] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* s as a YAML scalar: double-quoted with escapes (most often),
 * single-quoted, or plain (as is: may not even be YAML). */
static void yaml_scalar(otd_strbuf *b, const char *s)
{
    int style = (int)pick(10);
    otd_strbuf t = {0};
    append(&t, s);
    /* Mostly well-formed UTF-8 outside double quotes (else the case is only
     * a YAML error), sometimes not. */
    if (style >= 7 && pick(4) != 0)
        for (unsigned char *c = (unsigned char *)t.data; *c; c++) {
            size_t u = utf8_len(c);
            if (u == 0)
                *c = 'x';
            else
                c += u - 1;
        }
    if (style < 7) {
        append(b, "\"");
        for (const unsigned char *c = (const unsigned char *)t.data; *c; c++) {
            char e[8];
            size_t u = utf8_len(c);
            if (u > 1) {
                /* A whole UTF-8 character, as is. */
                snprintf(e, sizeof e, "%.*s", (int)u, (const char *)c);
                c += u - 1;
            } else if (*c == '"' || *c == '\\') {
                snprintf(e, sizeof e, "\\%c", *c);
            } else if (*c < 0x20 || *c >= 0x7f) {
                /* Control characters, and bytes that are no UTF-8 (YAML
                 * text is Unicode): the escape is the character U+00NN. */
                snprintf(e, sizeof e, "\\x%02x", *c);
            } else {
                snprintf(e, sizeof e, "%c", *c);
            }
            append(b, e);
        }
        append(b, "\"");
    } else if (style < 9) {
        append(b, "'");
        for (const char *c = t.data; *c; c++)
            append(b, *c == '\'' ? "''" : (char[2]){*c, 0});
        append(b, "'");
    } else {
        append(b, t.data);
    }
    otd_strbuf_free(&t);
}

static void adversarial_scalar(otd_strbuf *b)
{
    otd_strbuf s = {0};
    append(&s, "");
    random_string(&s);
    yaml_scalar(b, s.data);
    otd_strbuf_free(&s);
}

static const char *const keys[] = {"algo.name",       "model.m", "problem.dim",
                                   "run.seed",        "algo.lr", "problem.tensor_file",
                                   "model.init_scale"};
#define NKEYS (sizeof keys / sizeof *keys)

/* A sweep file: a valid skeleton with adversarial text in one or more
 * places, or a mutation of a valid file, or random bytes. */
static void make_case(otd_strbuf *b)
{
    int kind = (int)pick(12);
    append(b, "");
    if (kind == 0) {
        /* Random bytes, NUL-free. */
        char c[2] = {0, 0};
        for (size_t n = pick(300); n > 0; n--) {
            c[0] = (char)(1 + pick(255));
            append(b, c);
        }
        return;
    }
    if (kind == 1 || kind == 2) {
        /* A valid file, then a few bytes flipped, inserted or deleted. */
        otd_strbuf v = {0};
        append(&v, "name: fz\nbase: base.yaml\nset: {run.seed: 3}\ngrid:\n  model.m: [4, 5]\n"
                   "  algo.name: [gd, bl]\npoints:\n  - {model.m: 6, problem.dim: 7}\n"
                   "sbatch: [\"--mem=1G\"]\ntime: 10\njobs: 2\n"
                   "setup: [\"module load x\", \"echo ok\"]\n");
        for (size_t n = 1 + pick(4); n > 0; n--) {
            size_t at = pick(v.len);
            int op = (int)pick(3);
            if (op == 0) {
                v.data[at] = (char)(1 + pick(255));
            } else if (op == 1) {
                otd_strbuf w = {0};
                append(&w, "");
                if (otd_strbuf_printf(&w, "%.*s", (int)at, v.data) != OTD_OK)
                    fail("out of memory", "");
                append(&w, tokens[pick(NTOKENS)]);
                append(&w, v.data + at);
                otd_strbuf_free(&v);
                v = w;
            } else {
                memmove(v.data + at, v.data + at + 1, v.len - at);
                v.len--;
            }
        }
        append(b, v.data);
        otd_strbuf_free(&v);
        return;
    }
    if (pick(3) == 0) {
        append(b, "name: ");
        adversarial_scalar(b);
        append(b, "\n");
    }
    append(b, pick(8) == 0 ? "base: " : "base: base.yaml\n");
    if (b->data[b->len - 1] == ' ') {
        adversarial_scalar(b);
        append(b, "\n");
    }
    if (pick(3) == 0) {
        append(b, "set:\n  ");
        append(b, pick(6) == 0 ? "" : keys[pick(NKEYS)]);
        if (pick(6) == 0)
            adversarial_scalar(b);
        append(b, ": ");
        adversarial_scalar(b);
        append(b, "\n");
    }
    if (pick(4) != 0) {
        append(b, "grid:\n");
        for (size_t a = 1 + pick(2); a > 0; a--) {
            append(b, "  ");
            append(b, keys[pick(NKEYS)]);
            if (pick(10) == 0)
                adversarial_scalar(b);
            append(b, ": [");
            for (size_t n = 1 + pick(3); n > 0; n--) {
                adversarial_scalar(b);
                append(b, n > 1 ? ", " : "");
            }
            append(b, "]\n");
        }
    }
    if (pick(3) == 0) {
        append(b, "points:\n");
        for (size_t n = 1 + pick(3); n > 0; n--) {
            append(b, "  - {");
            append(b, keys[pick(NKEYS)]);
            append(b, ": ");
            adversarial_scalar(b);
            if (pick(2) == 0) {
                append(b, ", ");
                append(b, keys[pick(NKEYS)]);
                append(b, ": ");
                adversarial_scalar(b);
            }
            append(b, "}\n");
        }
    }
    if (pick(3) == 0) {
        append(b, "sbatch: [");
        for (size_t n = 1 + pick(2); n > 0; n--) {
            otd_strbuf s = {0};
            append(&s, pick(2) ? "--comment=" : "");
            random_string(&s);
            yaml_scalar(b, s.data);
            otd_strbuf_free(&s);
            append(b, n > 1 ? ", " : "");
        }
        append(b, "]\n");
    }
    if (pick(3) == 0) {
        append(b, "setup: [");
        for (size_t n = 1 + pick(2); n > 0; n--) {
            otd_strbuf s = {0};
            append(&s, "");
            random_string(&s);
            yaml_scalar(b, s.data);
            otd_strbuf_free(&s);
            append(b, n > 1 ? ", " : "");
        }
        append(b, "]\n");
    }
    if (pick(4) == 0) {
        static const char *const ints[] = {"ranks",  "signal_seconds", "max_requeues", "nodes",
                                           "ntasks", "jobs",           "time",         "gflops"};
        append(b, ints[pick(sizeof ints / sizeof *ints)]);
        append(b, ": ");
        adversarial_scalar(b);
        append(b, "\n");
    }
}

static int name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 10 ||
        strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != len)
        return 0;
    if (strspn(n + len - 10, "0123456789abcdef") != 10)
        return 0;
    return len == 10 || n[len - 11] == '-';
}

/* The packing and a job's batch script: every point in exactly one job,
 * and the script exactly its lines, each of a known kind, the setup lines
 * as written. */
static void check_jobs(const otd_sweep *s)
{
    int64_t n = otd_sweep_npoints(s), *idx = NULL, *seen = NULL, total = 0;
    otd_sweep_job_opts none = {0, 0, 0, 0};
    otd_sweep_plan plan;
    otd_sweep_write_opts o = {
        .source = "/fz/sweep.yaml", .otd_bin = "/fz/otd", .jobs_dir = "/fz/jobs"};
    const otd_sweep_slurm *sl = otd_sweep_slurm_settings(s);
    char *text = NULL;
    int lines = 0, setup = 0;
    idx = calloc((size_t)n, sizeof *idx);
    seen = calloc((size_t)n, sizeof *seen);
    if (idx == NULL || seen == NULL)
        fail("out of memory", "");
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    if (otd_sweep_pack(s, &none, idx, n, &plan) != OTD_OK) {
        /* Only a job of fewer tasks than nodes is refused. */
        if (sl->ntasks == 0 || sl->ntasks >= sl->nodes)
            fail("otd_sweep_pack failed", otd_error_text());
        otd_error_clear();
        free(idx);
        free(seen);
        return;
    }
    for (int64_t k = 0; k < plan.njobs; k++) {
        const otd_sweep_job *j = &plan.jobs[k];
        if (j->n < 1 || j->ntasks < 1 || j->nodes < 1 || j->nodes > j->ntasks || j->seconds < 1)
            fail("a packed job is empty or of no size", otd_sweep_name(s));
        for (int64_t q = 0; q < j->n; q++) {
            if (j->idx[q] < 0 || j->idx[q] >= n || seen[j->idx[q]]++)
                fail("a point packed twice or out of range", otd_sweep_name(s));
            if (otd_sweep_point_at(s, j->idx[q])->ranks > j->ntasks)
                fail("a point packed into a job of fewer ranks", otd_sweep_name(s));
            total++;
        }
    }
    if (total != n)
        fail("a point packed into no job", otd_sweep_name(s));
    if (otd_sweep_job_text(s, "/fz/dir with space/%j", "job-1-0", &plan.jobs[0], &o, &text) !=
        OTD_OK)
        fail("otd_sweep_job_text failed", otd_error_text());
    for (const char *l = text; *l; lines++) {
        const char *nl = strchr(l, '\n');
        size_t len;
        if (nl == NULL)
            fail("batch script: last line without a newline", text);
        len = (size_t)(nl - l);
        if (setup > 0 && setup <= sl->nsetup) {
            if (len != strlen(sl->setup[setup - 1]) || memcmp(l, sl->setup[setup - 1], len) != 0)
                fail("batch script: a setup line not as written", text);
            setup++;
        } else if (strncmp(l, "# setup: ", 9) == 0) {
            setup = 1;
        } else if (strncmp(l, "#!/bin/bash\n", 12) != 0 && strncmp(l, "#SBATCH ", 8) != 0 &&
                   strncmp(l, "export OTD_", 11) != 0 && strncmp(l, ". ", 2) != 0 &&
                   strncmp(l, "otd_slurm_step ", 15) != 0) {
            fail("batch script: a line of an unknown kind", text);
        }
        l = nl + 1;
    }
    if (lines != 13 + sl->nsbatch + (sl->nsetup > 0 ? 1 + sl->nsetup : 0))
        fail("batch script: unexpected number of lines", text);
    free(text);
    free(idx);
    free(seen);
    otd_sweep_plan_free(&plan);
}

/* The sweep directory: written, read back, and the same sweep accepted
 * into it again. */
static void check_dir(const otd_sweep *s)
{
    char dir[512];
    otd_manifest m;
    otd_sweep_write_opts o = {
        .source = "/fz/sweep.yaml", .otd_bin = "/fz/otd", .jobs_dir = "/fz/jobs"};
    snprintf(dir, sizeof dir, "%s/dir %ld $(x) '%%j ü", tmpdir, case_no);
    if (otd_sweep_write(s, dir, &o) != OTD_OK)
        fail("otd_sweep_write of an accepted sweep failed", otd_error_text());
    if (otd_manifest_read(dir, &m) != OTD_OK)
        fail("otd_manifest_read of a written sweep failed", otd_error_text());
    if (m.n != otd_sweep_npoints(s) || m.nkeys != otd_sweep_nkeys(s))
        fail("manifest: wrong shape", dir);
    for (int64_t i = 0; i < m.n; i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, i);
        if (strcmp(m.rows[i].name, p->name) != 0)
            fail("manifest: a name does not read back", p->name);
        for (int k = 0; k < m.nkeys; k++)
            if (strcmp(m.values[i * m.nkeys + k], p->values[k]) != 0)
                fail("manifest: a value does not read back", p->values[k]);
    }
    otd_manifest_free(&m);
    if (otd_sweep_check_dir(s, dir) != OTD_OK)
        fail("the same sweep refused in its own directory", otd_error_text());
}

static void check_accepted(const otd_sweep *s, int write_dir)
{
    int64_t n = otd_sweep_npoints(s);
    char *text = NULL;
    if (n < 1)
        fail("accepted with no point", "");
    for (int64_t i = 0; i < n; i++) {
        const otd_sweep_point *p = otd_sweep_point_at(s, i);
        if (p == NULL || p->name == NULL || !name_ok(p->name))
            fail("bad point name", p && p->name ? p->name : "(null)");
        for (int64_t j = 0; j < i; j++)
            if (strcmp(otd_sweep_point_at(s, j)->name, p->name) == 0)
                fail("two points with one name", p->name);
        if (p->config == NULL || (p->valid ? p->error != NULL : p->error == NULL))
            fail("point without config, or valid flag and error disagree", p->name);
        if (!p->valid && p->error[0] == '\0')
            fail("invalid point with an empty error", p->name);
        for (int k = 0; k < otd_sweep_nkeys(s); k++)
            if (p->values[k] == NULL || strpbrk(p->values[k], "\t\n") != NULL)
                fail("a manifest value with a tab or newline", p->values[k] ? p->values[k] : "");
    }
    if (otd_sweep_identity_text(s, &text) != OTD_OK)
        fail("otd_sweep_identity_text failed", otd_error_text());
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n'), *tab = strchr(l, '\t');
        if (nl == NULL || tab == NULL || tab > nl || memchr(tab + 1, '\t', (size_t)(nl - tab - 1)))
            fail("sweep.id: a line that is not KEY<tab>VALUE", text);
        l = nl + 1;
    }
    free(text);
    text = NULL;
    check_jobs(s);
    if (write_dir)
        check_dir(s);
}

/* POSIX reading of one shell word of single quotes and bare characters. */
static int unquote(const char *q, otd_strbuf *out)
{
    int in = 0;
    append(out, "");
    for (; *q; q++) {
        if (*q == '\'') {
            in = !in;
        } else if (*q == '\\' && !in) {
            if (*++q == '\0')
                return 0;
            append(out, (char[2]){*q, 0});
        } else if (!in && strchr(" \t\n\"$`;&|<>()*?[]#~{}!", *q) != NULL) {
            return 0; /* a character a shell would act on, bare */
        } else {
            append(out, (char[2]){*q, 0});
        }
    }
    return !in;
}

static void check_shell_word(void)
{
    otd_strbuf s = {0}, q = {0}, back = {0};
    append(&s, "");
    random_string(&s);
    append(&q, "");
    if (otd_strbuf_shell_word(&q, s.data) != OTD_OK)
        fail("otd_strbuf_shell_word failed", otd_error_text());
    if (!unquote(q.data, &back) || strcmp(back.data, s.data) != 0 || q.data[0] == '=')
        fail("a shell word does not read back", q.data);
    otd_error_clear();
    if (otd_sweep_check_sbatch_option(s.data, "--sbatch") != OTD_OK &&
        strstr(otd_error_text(), "--sbatch '") == NULL)
        fail("a refused sbatch option without its message", otd_error_text());
    otd_strbuf_free(&s);
    otd_strbuf_free(&q);
    otd_strbuf_free(&back);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)type;
    (void)f;
    return remove(path);
}

int main(int argc, char **argv)
{
    long cases = argc > 1 ? atol(argv[1]) : 3000;
    char path[600], base[600];
    long accepted = 0, refused = 0, dirs = 0;
    seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20240611ULL;
    rng_state = seed;
    snprintf(tmpdir, sizeof tmpdir, "%s/otd-fuzz-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "fuzz_sweep: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    /* A sanitizer report ends the process at once: the case that caused it
     * is then the sweep.yaml left here. */
    printf("fuzz_sweep: scratch directory %s (kept on failure: sweep.yaml is the last case)\n",
           tmpdir);
    fflush(stdout);
    snprintf(base, sizeof base, "%s/base.yaml", tmpdir);
    snprintf(path, sizeof path, "%s/sweep.yaml", tmpdir);
    {
        static const char b[] = "problem: {order: 3, rank: 2, dim: 6}\nmodel.m: 4\n"
                                "algo: {name: gd, max_iters: 10}\n";
        if (otd_write_file_atomic(base, b, sizeof b - 1) != OTD_OK) {
            fprintf(stderr, "fuzz_sweep: %s\n", otd_error_text());
            return 1;
        }
    }
    for (case_no = 0; case_no < cases; case_no++) {
        otd_strbuf text = {0};
        otd_sweep *s = NULL;
        otd_err err;
        make_case(&text);
        case_text = text.data;
        if (otd_write_file_atomic(path, text.data, text.len) != OTD_OK)
            fail("cannot write the sweep file", otd_error_text());
        otd_error_clear();
        err = otd_sweep_load(path, &s);
        if (err == OTD_OK) {
            /* A whole directory for a few: each costs fsyncs. */
            int write_dir = dirs < 25 && pick(20) == 0;
            accepted++;
            dirs += write_dir;
            check_accepted(s, write_dir);
        } else {
            refused++;
            if (getenv("FUZZ_VERBOSE"))
                fprintf(stderr, "%.200s\n", otd_error_text());
            if (err != OTD_ERR_CONFIG)
                fail("refused with another code than OTD_ERR_CONFIG", otd_error_text());
            if (otd_error_text()[0] == '\0')
                fail("refused without a message", "");
            if (s != NULL)
                fail("refused but returned a sweep", "");
        }
        otd_sweep_destroy(s);
        check_shell_word();
        otd_strbuf_free(&text);
        case_text = "";
    }
    printf("fuzz_sweep: %ld cases (seed %llu): %ld accepted (%ld written out), %ld refused with "
           "OTD_ERR_CONFIG\n",
           cases, seed, accepted, dirs, refused);
    /* The scratch directory goes; it stays for a look when a case failed
     * (fail exits before this). */
    if (nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "fuzz_sweep: cannot remove %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    return 0;
}
