/* test_ckpt.c: checkpoints written at P ranks, loaded back, and damaged.
 *
 * Every test uses its own subdirectory of /tmp/otd_tck_<P>_<pid>/ (rank 0's
 * pid, so concurrent rank counts do not collide), removed at the end. The
 * damage is done by rank 0 between collective calls: truncation, a flipped
 * byte inside the data of W, a rewritten format version; each must be
 * reported, quarantined as .bad, and the older checkpoint used. The
 * checksum is checked against a serial recomputation and by loading at
 * fewer ranks than wrote it. The test hook is exercised in forked children
 * of rank 0 (the crash of a real write is an integration test). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/h5util.h"
#include "otd/otd_ckpt.h"
#include "otd/otd_text.h"
#include "otd_test.h"

/* d = 7 is divided by neither 2, 3 nor 4: uneven row blocks. */
#define D 7
#define M 3
#define M_BIG 64 /* the bit-flip test: a data block large enough to aim at */

static const char *config_yaml = "problem:\n  order: 3\n  dim: 7\nalgo:\n  name: bl\n";

static char base[200];
static int64_t nwrites; /* otd_ckpt_write calls in this process: the hook's N */

static int is_root(void)
{
    return otd_comm_rank(otd_test_comm()) == 0;
}

/* Recognizable values: the iteration, the global row and the column. */
static double w_value(int64_t iter, int64_t j, int64_t i)
{
    return 1e6 * (double)iter + 1e3 * (double)j + (double)i + 0.25;
}
static double w0_value(int64_t iter, int64_t j, int64_t i)
{
    return -w_value(iter, j, i) / 3.0;
}

static void make_layout(otd_layout *lay)
{
    otd_comm *c = otd_test_comm();
    OTD_TEST_OK(otd_layout_init(lay, D, otd_comm_rank(c), otd_comm_size(c)));
}

static void sub(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", base, name);
}

static void ckpt_name(const char *dir, int64_t iter, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/ckpt-%012lld.h5%s", dir, (long long)iter, suffix);
}

static otd_ckpt_meta make_meta(int64_t iter)
{
    otd_ckpt_meta meta = {.iter = iter,
                          .n_reinit = 2 * iter + 1,
                          .history_rows = 3 * iter,
                          .wall_offset = (double)iter + 0.125,
                          .config_hash = 0x0123456789abcdefULL ^ (uint64_t)iter,
                          .config_yaml = (char *)config_yaml,
                          .nranks = 0};
    return meta;
}

/* Column-major local rows of W and W0 for iteration iter (caller frees). */
static void fill(const otd_layout *lay, int64_t m, int64_t iter, double **w, double **w0)
{
    *w = calloc((size_t)(lay->nrows * m), sizeof **w);
    *w0 = calloc((size_t)(lay->nrows * m), sizeof **w0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*w0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < lay->nrows; r++) {
            (*w)[i * lay->nrows + r] = w_value(iter, lay->row0 + r, i);
            (*w0)[i * lay->nrows + r] = w0_value(iter, lay->row0 + r, i);
        }
}

static otd_err write_iter(const char *dir, otd_comm *c, const otd_layout *lay, int64_t m,
                          int64_t iter, int keep)
{
    double *w = NULL, *w0 = NULL;
    otd_ckpt_meta meta = make_meta(iter);
    otd_err err;
    fill(lay, m, iter, &w, &w0);
    nwrites++;
    err = otd_ckpt_write(dir, c, lay, m, w, w0, &meta, keep);
    free(w);
    free(w0);
    return err;
}

/* Load dir on c and check that it is exactly iteration `iter`. */
static void load_expect(const char *dir, otd_comm *c, const otd_layout *lay, int64_t m,
                        int64_t iter)
{
    double *w = NULL, *w0 = NULL, *want = NULL, *want0 = NULL;
    otd_ckpt_meta meta, ref = make_meta(iter);
    int found = -1;
    size_t n = (size_t)(lay->nrows * m);
    memset(&meta, 0, sizeof meta);
    fill(lay, m, iter, &want, &want0);
    w = calloc(n, sizeof *w);
    w0 = calloc(n, sizeof *w0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
    OTD_TEST_OK(otd_ckpt_load(dir, c, lay, m, w, w0, &meta, &found));
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT(memcmp(w, want, n * sizeof *w) == 0);
    CU_ASSERT(memcmp(w0, want0, n * sizeof *w0) == 0);
    CU_ASSERT_EQUAL(meta.iter, ref.iter);
    CU_ASSERT_EQUAL(meta.n_reinit, ref.n_reinit);
    CU_ASSERT_EQUAL(meta.history_rows, ref.history_rows);
    CU_ASSERT(memcmp(&meta.wall_offset, &ref.wall_offset, sizeof ref.wall_offset) == 0);
    CU_ASSERT_EQUAL(meta.config_hash, ref.config_hash);
    CU_ASSERT_PTR_NOT_NULL(meta.config_yaml);
    if (meta.config_yaml != NULL)
        CU_ASSERT_STRING_EQUAL(meta.config_yaml, config_yaml);
    CU_ASSERT_EQUAL(meta.nranks, otd_comm_size(otd_test_comm()));
    free(meta.config_yaml);
    free(w);
    free(w0);
    free(want);
    free(want0);
}

/* The warnings (otd_warn) while a load reports damage, one per line: the
 * library hands them to the process's sink rather than printing them. */
static otd_strbuf captured;

static void capture_sink(const char *text)
{
    CU_ASSERT_EQUAL(otd_strbuf_printf(&captured, "%s\n", text), OTD_OK);
}

static void capture_begin(void)
{
    otd_strbuf_free(&captured);
    otd_warn_set_sink(capture_sink);
}

/* What rank 0 warned (malloc'd), echoed to stderr; NULL elsewhere. */
static char *capture_end(void)
{
    char *text = NULL;
    otd_warn_set_sink(NULL);
    if (is_root()) {
        text = captured.data != NULL ? captured.data : strdup("");
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        captured.data = NULL;
        fputs(text, stderr);
    }
    otd_strbuf_free(&captured);
    return text;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Rank 0: the names in dir, sorted, joined by spaces (caller frees). */
static char *listing(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    size_t cap = 1, at = 0;
    char *out = NULL;
    CU_ASSERT_FATAL(n >= 0);
    for (int k = 0; k < n; k++)
        cap += strlen(names[k]->d_name) + 1;
    out = calloc(cap, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    for (int k = 0; k < n; k++) {
        if (strcmp(names[k]->d_name, ".") != 0 && strcmp(names[k]->d_name, "..") != 0)
            at += (size_t)sprintf(out + at, "%s%s", at > 0 ? " " : "", names[k]->d_name);
        free(names[k]);
    }
    free(names);
    return out;
}

/* Two checkpoints (1 and 2) in dir, then rank 0 damages the newest with
 * `damage`, then the load must report it, quarantine it and use 1. */
static void damaged_newest(const char *name, int64_t m, void (*damage)(const char *path),
                           const char *reason)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    char dir[256], newest[300], bad[300];
    char *text = NULL;
    make_layout(&lay);
    sub(name, dir, sizeof dir);
    OTD_TEST_OK(write_iter(dir, c, &lay, m, 1, 3));
    OTD_TEST_OK(write_iter(dir, c, &lay, m, 2, 3));
    ckpt_name(dir, 2, "", newest, sizeof newest);
    ckpt_name(dir, 2, ".bad", bad, sizeof bad);
    if (is_root())
        damage(newest);
    OTD_TEST_OK(otd_comm_barrier(c));
    capture_begin();
    load_expect(dir, c, &lay, m, 1);
    text = capture_end();
    if (is_root()) {
        char line[700];
        snprintf(line, sizeof line, "checkpoint %s is damaged (", newest);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
        snprintf(line, sizeof line, "): renamed to %s, trying an older one\n", bad);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
        CU_ASSERT_PTR_NOT_NULL(strstr(text, reason));
        CU_ASSERT(exists(bad));
        CU_ASSERT(!exists(newest));
    }
    free(text);
    OTD_TEST_OK(otd_comm_barrier(c));
}

static void truncate_half(const char *path)
{
    struct stat st;
    CU_ASSERT_FATAL(stat(path, &st) == 0);
    CU_ASSERT(truncate(path, st.st_size / 2) == 0);
}

/* One byte in the middle of W's raw data, found with a serial open. */
static void flip_data_byte(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5I_INVALID_HID;
    haddr_t off = HADDR_UNDEF;
    hsize_t size = 0;
    unsigned char byte = 0;
    int fd = -1;
    CU_ASSERT_FATAL(f >= 0);
    d = H5Dopen2(f, "W", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    off = H5Dget_offset(d);
    size = H5Dget_storage_size(d);
    CU_ASSERT(H5Dclose(d) >= 0);
    CU_ASSERT(H5Fclose(f) >= 0);
    CU_ASSERT_FATAL(off != HADDR_UNDEF && size == (hsize_t)D * M_BIG * sizeof(double));
    off += size / 2;
    fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(pread(fd, &byte, 1, (off_t)off) == 1);
    byte ^= 0xff;
    CU_ASSERT(pwrite(fd, &byte, 1, (off_t)off) == 1);
    CU_ASSERT(close(fd) == 0);
}

static void set_version_999(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), a = H5I_INVALID_HID;
    int64_t v = 999;
    CU_ASSERT_FATAL(f >= 0);
    a = H5Aopen(f, "format_version", H5P_DEFAULT);
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT(H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    CU_ASSERT(H5Aclose(a) >= 0);
    CU_ASSERT(H5Fclose(f) >= 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int suite_init(void)
{
    otd_comm *c = otd_test_comm();
    int64_t pid = is_root() ? (int64_t)getpid() : 0;
    int ok = 1;
    if (otd_comm_bcast(c, &pid, sizeof pid, 0) != OTD_OK)
        return 1;
    snprintf(base, sizeof base, "/tmp/otd_tck_%d_%lld", otd_comm_size(c), (long long)pid);
    if (is_root() && mkdir(base, 0755) != 0)
        ok = 0;
    if (otd_comm_bcast(c, &ok, sizeof ok, 0) != OTD_OK || !ok)
        return 1;
    return 0;
}

static int suite_clean(void)
{
    otd_comm *c = otd_test_comm();
    if (otd_comm_barrier(c) != OTD_OK)
        return 1;
    if (is_root() && nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return 1;
    return 0;
}

/* Write then load: the same rows bit for bit, the same metadata. */
static void test_roundtrip(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    char dir[256], path[300];
    make_layout(&lay);
    sub("roundtrip/nested", dir, sizeof dir); /* created with its parent */
    OTD_TEST_OK(write_iter(dir, c, &lay, M, 7, 3));
    load_expect(dir, c, &lay, M, 7);
    if (is_root()) {
        char *got = NULL;
        hid_t f = H5I_INVALID_HID;
        int64_t v = 0;
        ckpt_name(dir, 7, "", path, sizeof path);
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        CU_ASSERT_FATAL(f >= 0);
        OTD_TEST_OK(otd_h5_attr_read_int64(f, "format_version", &v));
        CU_ASSERT_EQUAL(v, OTD_CKPT_FORMAT);
        OTD_TEST_OK(otd_h5_attr_read_int64(f, "nranks", &v));
        CU_ASSERT_EQUAL(v, otd_comm_size(c));
        OTD_TEST_OK(otd_h5_attr_read_string(f, "config_hash", &got));
        CU_ASSERT_STRING_EQUAL(got, "0123456789abcde8");
        free(got);
        OTD_TEST_OK(otd_h5_attr_read_string(f, "otd_version", &got));
        CU_ASSERT(strlen(got) > 0);
        free(got);
        OTD_TEST_OK(otd_h5_attr_read_string(f, "created", &got));
        CU_ASSERT_EQUAL(strlen(got), 20); /* 2024-01-02T03:04:05Z */
        free(got);
        CU_ASSERT(H5Fclose(f) >= 0);
        CU_ASSERT(!exists(strcat(path, ".tmp")));
    }
}

/* keep = 3 after 5 writes leaves the newest 3; a stale temporary file of
 * the iteration being written is replaced; .tmp and .bad files are never
 * candidates; the load picks the newest. */
static void test_keep(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    char dir[256], junk[300];
    make_layout(&lay);
    sub("keep", dir, sizeof dir);
    OTD_TEST_OK(write_iter(dir, c, &lay, M, 10, 3));
    if (is_root()) {
        FILE *f = NULL;
        ckpt_name(dir, 30, ".tmp", junk, sizeof junk); /* a crash while writing 30 */
        CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(junk, "w"));
        fputs("partial", f);
        fclose(f);
        ckpt_name(dir, 99, ".tmp", junk, sizeof junk);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(junk, "w"));
        fclose(f);
        ckpt_name(dir, 98, ".bad", junk, sizeof junk);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(junk, "w"));
        fclose(f);
    }
    for (int64_t it = 20; it <= 50; it += 10)
        OTD_TEST_OK(write_iter(dir, c, &lay, M, it, 3));
    if (is_root()) {
        char *names = listing(dir);
        CU_ASSERT_STRING_EQUAL(names, "ckpt-000000000030.h5 ckpt-000000000040.h5 "
                                      "ckpt-000000000050.h5 ckpt-000000000098.h5.bad "
                                      "ckpt-000000000099.h5.tmp");
        free(names);
    }
    load_expect(dir, c, &lay, M, 50);
}

static void test_truncated(void)
{
    damaged_newest("truncated", M, truncate_half, "");
}

static void test_bitflip(void)
{
    damaged_newest("bitflip", M_BIG, flip_data_byte, "checksum mismatch in W");
}

static void test_version(void)
{
    damaged_newest("version", M, set_version_999, "wrong format version 999, this otd reads 1");
}

/* Only damaged checkpoints: OTD_ERR_FORMAT everywhere, found = 0, and no
 * silent start from scratch. */
static void test_only_damaged(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    otd_ckpt_meta meta;
    char dir[256], path[300];
    double w[D * M], w0[D * M];
    int found = -1;
    char *text = NULL;
    memset(&meta, 0, sizeof meta);
    make_layout(&lay);
    sub("only_damaged", dir, sizeof dir);
    OTD_TEST_OK(write_iter(dir, c, &lay, M, 3, 3));
    ckpt_name(dir, 3, "", path, sizeof path);
    if (is_root())
        truncate_half(path);
    OTD_TEST_OK(otd_comm_barrier(c));
    capture_begin();
    CU_ASSERT_EQUAL(otd_ckpt_load(dir, c, &lay, M, w, w0, &meta, &found), OTD_ERR_FORMAT);
    text = capture_end();
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(meta.config_yaml);
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "1 checkpoint was rejected"));
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), dir));
    if (is_root()) {
        CU_ASSERT_PTR_NOT_NULL(strstr(text, "is damaged"));
        CU_ASSERT(exists(strcat(path, ".bad")));
    }
    free(text);
    OTD_TEST_OK(otd_comm_barrier(c));
}

/* No checkpoints: found = 0 and no error, for an empty and a missing dir. */
static void test_empty(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    otd_ckpt_meta meta;
    char dir[256];
    double w[D * M], w0[D * M];
    int found = -1;
    memset(&meta, 0, sizeof meta);
    make_layout(&lay);
    sub("empty", dir, sizeof dir);
    if (is_root())
        CU_ASSERT(mkdir(dir, 0755) == 0);
    OTD_TEST_OK(otd_comm_barrier(c));
    OTD_TEST_OK(otd_ckpt_load(dir, c, &lay, M, w, w0, &meta, &found));
    CU_ASSERT_EQUAL(found, 0);
    found = -1;
    sub("no_such_dir", dir, sizeof dir);
    OTD_TEST_OK(otd_ckpt_load(dir, c, &lay, M, w, w0, &meta, &found));
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(meta.config_yaml);
}

/* A checkpoint of another shape (d or m changed): OTD_ERR_CONFIG on every
 * rank naming the shapes, its configuration returned for a diff, and the
 * file left in place (loading with the right shape still works). */
static void test_other_shape(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay, bigger;
    char dir[256];
    double w[(D + 1) * (M + 1)], w0[(D + 1) * (M + 1)];
    make_layout(&lay);
    OTD_TEST_OK(otd_layout_init(&bigger, D + 1, otd_comm_rank(c), otd_comm_size(c)));
    sub("shape", dir, sizeof dir);
    OTD_TEST_OK(write_iter(dir, c, &lay, M, 8, 3));
    for (int k = 0; k < 2; k++) {
        otd_ckpt_meta meta;
        int found = -1;
        memset(&meta, 0, sizeof meta);
        CU_ASSERT_EQUAL(otd_ckpt_load(dir, c, k == 0 ? &lay : &bigger, k == 0 ? M + 1 : M, w, w0,
                                      &meta, &found),
                        OTD_ERR_CONFIG);
        CU_ASSERT_EQUAL(found, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "of shape (7, 3)"));
        CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), "another configuration"));
        CU_ASSERT_PTR_NOT_NULL_FATAL(meta.config_yaml);
        CU_ASSERT_STRING_EQUAL(meta.config_yaml, config_yaml);
        CU_ASSERT_EQUAL(meta.iter, 8);
        free(meta.config_yaml);
    }
    if (is_root()) {
        char *names = listing(dir);
        CU_ASSERT_STRING_EQUAL(names, "ckpt-000000000008.h5");
        free(names);
    }
    load_expect(dir, c, &lay, M, 8);
}

/* A directory that cannot be created (a regular file in its path: as root,
 * permissions would not stop the write): OTD_ERR_IO naming it on every
 * rank, and a checkpoint committed elsewhere is untouched. */
static void test_unwritable(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    char safe[256], plain[256], dir[300];
    make_layout(&lay);
    sub("safe", safe, sizeof safe);
    sub("plain_file", plain, sizeof plain);
    snprintf(dir, sizeof dir, "%s/sub", plain);
    OTD_TEST_OK(write_iter(safe, c, &lay, M, 4, 1));
    if (is_root()) {
        FILE *f = fopen(plain, "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fclose(f);
    }
    OTD_TEST_OK(otd_comm_barrier(c));
    CU_ASSERT_EQUAL(write_iter(dir, c, &lay, M, 5, 1), OTD_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), dir));
    CU_ASSERT_EQUAL(write_iter(plain, c, &lay, M, 5, 1), OTD_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(otd_error_message(), plain));
    load_expect(safe, c, &lay, M, 4);
}

/* Load dir on the first n ranks only and check iteration iter's W. */
static void load_on_fewer(const char *dir, int n, int64_t iter)
{
    otd_comm *part = NULL;
    otd_layout pl;
    otd_ckpt_meta meta;
    double *w = NULL, *w0 = NULL;
    int found = 0;
    memset(&meta, 0, sizeof meta);
    OTD_TEST_OK(otd_comm_subset(otd_test_comm(), n, &part));
    if (part == NULL)
        return;
    OTD_TEST_OK(otd_layout_init(&pl, D, otd_comm_rank(part), n));
    w = calloc((size_t)(pl.nrows * M), sizeof *w);
    w0 = calloc((size_t)(pl.nrows * M), sizeof *w0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
    OTD_TEST_OK(otd_ckpt_load(dir, part, &pl, M, w, w0, &meta, &found));
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(meta.nranks, otd_comm_size(otd_test_comm())); /* the writer's P */
    for (int64_t i = 0; i < M; i++)
        for (int64_t r = 0; r < pl.nrows; r++) {
            CU_ASSERT_EQUAL(w[i * pl.nrows + r], w_value(iter, pl.row0 + r, i));
            CU_ASSERT_EQUAL(w0[i * pl.nrows + r], w0_value(iter, pl.row0 + r, i));
        }
    free(meta.config_yaml);
    free(w);
    free(w0);
    otd_comm_destroy(part);
}

/* The stored checksums equal a serial recomputation over the whole
 * matrices, and a file written at P verifies when loaded at every smaller
 * rank count. */
static void test_checksum(void)
{
    otd_comm *c = otd_test_comm();
    otd_layout lay;
    char dir[256], path[300];
    make_layout(&lay);
    sub("checksum", dir, sizeof dir);
    OTD_TEST_OK(write_iter(dir, c, &lay, M, 5, 3));
    if (is_root()) {
        const char *names[2] = {"W", "W0"}, *attrs[2] = {"checksum_W", "checksum_W0"};
        hid_t f = H5I_INVALID_HID, d = H5I_INVALID_HID;
        double buf[D * M];
        ckpt_name(dir, 5, "", path, sizeof path);
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        CU_ASSERT_FATAL(f >= 0);
        for (int k = 0; k < 2; k++) {
            uint64_t sum = 0;
            char want[17], *got = NULL;
            d = H5Dopen2(f, names[k], H5P_DEFAULT);
            CU_ASSERT_FATAL(d >= 0);
            CU_ASSERT(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
            CU_ASSERT(H5Dclose(d) >= 0);
            for (int64_t j = 0; j < D; j++)
                for (int64_t i = 0; i < M; i++) {
                    double v = k == 0 ? w_value(5, j, i) : w0_value(5, j, i);
                    CU_ASSERT(memcmp(&buf[j * M + i], &v, sizeof v) == 0);
                    sum += otd_ckpt_mix(j, i, M, buf[j * M + i]);
                }
            snprintf(want, sizeof want, "%016llx", (unsigned long long)sum);
            OTD_TEST_OK(otd_h5_attr_read_string(f, attrs[k], &got));
            CU_ASSERT_STRING_EQUAL(got, want);
            free(got);
        }
        CU_ASSERT(H5Fclose(f) >= 0);
    }
    for (int n = 1; n < otd_comm_size(c); n++)
        load_on_fewer(dir, n, 5);
    OTD_TEST_OK(otd_comm_barrier(c));
}

/* Run the hook in a child with the given settings: 1 if it was killed. */
static int hook_kills(const char *at, const char *only, const char *phase)
{
    int status = 0;
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        /* The child touches no MPI: the hook reads the handle's rank only. */
        if (at != NULL)
            setenv("OTD_TEST_CRASH_AT", at, 1);
        else
            unsetenv("OTD_TEST_CRASH_AT");
        if (only != NULL)
            setenv("OTD_TEST_CRASH_RANK", only, 1);
        else
            unsetenv("OTD_TEST_CRASH_RANK");
        otd_ckpt_test_hook(phase, otd_test_comm());
        _exit(0);
    }
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
        return WTERMSIG(status) == SIGKILL;
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

/* The test hook, on rank 0, against this process's write count. */
static void test_hook(void)
{
    char at[64];
    if (!is_root())
        return;
    CU_ASSERT(nwrites > 1);
    snprintf(at, sizeof at, "rename:%lld", (long long)nwrites);
    CU_ASSERT(hook_kills(at, NULL, "rename"));
    CU_ASSERT(hook_kills(at, "0", "rename"));
    CU_ASSERT(!hook_kills(at, "1", "rename"));        /* another rank's crash */
    CU_ASSERT(!hook_kills(at, NULL, "fsync"));        /* another phase */
    CU_ASSERT(!hook_kills(at, NULL, "renam"));        /* a prefix is not the phase */
    CU_ASSERT(!hook_kills("rename", NULL, "rename")); /* N = 1: the first write only */
    CU_ASSERT(!hook_kills("rename:x", NULL, "rename"));
    CU_ASSERT(!hook_kills(NULL, NULL, "rename"));
    snprintf(at, sizeof at, "rename:%lld", (long long)nwrites - 1);
    CU_ASSERT(!hook_kills(at, NULL, "rename"));
}

void otd_test_register(void)
{
    CU_pSuite s = CU_add_suite("ckpt", suite_init, suite_clean);
    CU_add_test(s, "write then load", test_roundtrip);
    CU_add_test(s, "keep the newest", test_keep);
    CU_add_test(s, "truncated newest", test_truncated);
    CU_add_test(s, "bit flip in W", test_bitflip);
    CU_add_test(s, "wrong format version", test_version);
    CU_add_test(s, "only damaged", test_only_damaged);
    CU_add_test(s, "no checkpoints", test_empty);
    CU_add_test(s, "another shape", test_other_shape);
    CU_add_test(s, "unwritable directory", test_unwritable);
    CU_add_test(s, "P-independent checksum", test_checksum);
    CU_add_test(s, "test hook", test_hook);
}
