/* ckpt.c: checkpoints written and verified collectively (see otd_ckpt.h).
 *
 * Every collective function follows the pattern of results.c: each step
 * that can fail on one rank only (a local check, a file-system call on rank
 * 0, an HDF5 transfer) is followed by an agreement, so a failure ends every
 * rank's work at the same point and a damaged file never leaves a rank
 * waiting inside HDF5. The agreement used here (otd_comm_agree_share) also
 * hands the failing rank's message to the others, so every rank can name
 * the path that failed.
 *
 * Loading checks a candidate twice: rank 0 first opens it serially and
 * reads its header (a truncated or corrupted file fails there, on one rank,
 * with no collective HDF5 state to unwind); only then do all ranks open it
 * with MPI-IO and read their rows, and the checksums decide. The file is
 * created with the 1.8 format, whose metadata (superblock, object headers,
 * attribute heaps) carries checksums, and its strings are fixed-length
 * attributes: variable-length ones live in HDF5's global heap, which has no
 * checksum, and a flipped byte there can send HDF5 into an endless loop. So
 * a flipped bit in the metadata is caught by HDF5 and one in the data by
 * our checksums.
 *
 * A full disk must not hang the job: when a write fails on one rank inside
 * HDF5 (say, while it flushes metadata at close), the ranks leave HDF5 at
 * different collective calls and wait for each other forever. So the write
 * goes in the steps of h5util.h: rank 0 creates the temporary file and
 * reserves all its blocks before HDF5 opens it (a full disk fails there, on
 * one rank, with nothing of HDF5's to unwind, and once reserved, HDF5's
 * writes cannot run out of space), and every collective step is agreed
 * before the next. A write given up is emptied before the collective close,
 * which then has room for what it still writes. */
#include "otd/otd_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm_mpi.h"
#include "io/h5util.h"
#include "otd/otd_fileio.h"

/* Names the file in messages: "cannot write checkpoint '...': ...". */
#define WHAT "checkpoint"
#define PREFIX "ckpt-"
#define SUFFIX ".h5"

/* otd_ckpt_write calls in this process: the N of OTD_TEST_CRASH_AT. The one
 * piece of mutable global state here, and only the test hook reads it. */
static int64_t write_calls;

/* The header of a checkpoint: what rank 0 reads before the collective open
 * and broadcasts (a plain struct: every rank runs the same build). */
typedef struct {
    int64_t iter, n_reinit, history_rows, nranks;
    double wall_offset;
    uint64_t config_hash, sum_w, sum_w0;
} header;

/* A checkpoint found in the directory listing. */
typedef struct {
    int64_t iter;
    char name[40];
} entry;

uint64_t otd_ckpt_mix(int64_t row, int64_t col, int64_t m, double value)
{
    uint64_t bits = 0, x = 0;
    memcpy(&bits, &value, sizeof bits);
    /* splitmix64's finalizer, twice: first the position, then the position's
     * hash combined with the bits. Both rounds are bijections, so for a
     * fixed position no two values collide. */
    x = (uint64_t)row * (uint64_t)m + (uint64_t)col;
    for (int round = 0; round < 2; round++) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        x ^= x >> 31;
        if (round == 0)
            x ^= bits;
    }
    return x;
}

/* This rank's part of a checksum, from its rows in C order (row0 + r, i). */
static uint64_t local_sum(const double *rm, int64_t row0, int64_t nrows, int64_t m)
{
    uint64_t s = 0;
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t i = 0; i < m; i++)
            s += otd_ckpt_mix(row0 + r, i, m, rm[r * m + i]);
    return s;
}

/* Collective: the checksums of W and W0 from every rank's C-order rows. */
static otd_err checksums(otd_comm *comm, const otd_layout *lay, int64_t m, const double *w_rm,
                         const double *w0_rm, uint64_t sums[2])
{
    sums[0] = local_sum(w_rm, lay->row0, lay->nrows, m);
    sums[1] = local_sum(w0_rm, lay->row0, lay->nrows, m);
    return otd_comm_sum_u64(comm, sums, 2);
}

void otd_ckpt_test_hook(const char *phase, otd_comm *comm)
{
    const char *at = getenv("OTD_TEST_CRASH_AT"), *only = getenv("OTD_TEST_CRASH_RANK");
    char *end = NULL;
    long long n = 1, r = 0;
    size_t len = 0;
    if (at == NULL || at[0] == '\0' || phase == NULL)
        return;
    len = strlen(phase);
    if (strncmp(at, phase, len) != 0 || (at[len] != '\0' && at[len] != ':'))
        return;
    /* A malformed count or rank leaves the hook inert: it is a test aid,
     * and a crash that was not asked for would be worse than none. */
    if (at[len] == ':') {
        errno = 0;
        n = strtoll(at + len + 1, &end, 10);
        if (errno != 0 || end == at + len + 1 || *end != '\0')
            return;
    }
    if (n != write_calls)
        return;
    if (only != NULL && only[0] != '\0') {
        errno = 0;
        r = strtoll(only, &end, 10);
        if (errno != 0 || end == only || *end != '\0' || comm == NULL || r != otd_comm_rank(comm))
            return;
    }
    raise(SIGKILL);
}

/* A malloc'd "dir/name" + suffix. */
static otd_err join_path(const char *dir, const char *name, const char *suffix, char **out)
{
    otd_err err = OTD_OK;
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    *out = NULL;
    OTD_ALLOC(*out, n);
    snprintf(*out, n, "%s/%s%s", dir, name, suffix);
done:
    return err;
}

/* "ckpt-<digits>.h5" -> its iteration; 0 for any other name (.tmp, .bad). */
static int parse_name(const char *name, int64_t *iter)
{
    size_t lp = strlen(PREFIX), ls = strlen(SUFFIX), len = strlen(name), nd = 0;
    char *end = NULL;
    long long v = 0;
    if (len <= lp + ls || len >= sizeof(((entry *)0)->name))
        return 0;
    if (strncmp(name, PREFIX, lp) != 0 || strcmp(name + len - ls, SUFFIX) != 0)
        return 0;
    for (nd = lp; nd < len - ls; nd++)
        if (name[nd] < '0' || name[nd] > '9')
            return 0;
    errno = 0;
    v = strtoll(name + lp, &end, 10);
    if (errno != 0 || end != name + len - ls)
        return 0;
    *iter = v;
    return 1;
}

static int newest_first(const void *a, const void *b)
{
    int64_t x = ((const entry *)a)->iter, y = ((const entry *)b)->iter;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Not collective: the committed checkpoints of dir, newest first (*list
 * malloc'd). A missing directory holds none. */
static otd_err list_dir(const char *dir, entry **list, int64_t *n)
{
    otd_err err = OTD_OK;
    DIR *dp = NULL;
    struct dirent *de = NULL;
    entry *v = NULL;
    int64_t cap = 0, k = 0;
    *list = NULL;
    *n = 0;
    if ((dp = opendir(dir)) == NULL) {
        if (errno == ENOENT)
            return OTD_OK;
        return OTD_ERROR(OTD_ERR_IO, "cannot list checkpoint directory '%s': %s", dir,
                         strerror(errno));
    }
    for (;;) {
        int64_t iter = 0;
        errno = 0;
        if ((de = readdir(dp)) == NULL)
            break;
        if (!parse_name(de->d_name, &iter))
            continue;
        if (k == cap) {
            entry *p = NULL;
            cap = cap == 0 ? 16 : 2 * cap;
            if ((p = realloc(v, (size_t)cap * sizeof *v)) == NULL)
                OTD_FAIL(OTD_ERR_NOMEM, "out of memory listing '%s'", dir);
            v = p;
        }
        v[k].iter = iter;
        /* parse_name accepted it, so it fits. */
        memcpy(v[k].name, de->d_name, strlen(de->d_name) + 1);
        k++;
    }
    if (errno != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot list checkpoint directory '%s': %s", dir, strerror(errno));
    if (k > 0)
        qsort(v, (size_t)k, sizeof *v, newest_first);
    *list = v;
    *n = k;
    v = NULL;
done:
    if (dp != NULL && closedir(dp) != 0 && err == OTD_OK)
        err = OTD_ERROR(OTD_ERR_IO, "cannot close directory '%s': %s", dir, strerror(errno));
    if (err != OTD_OK && *list != NULL) {
        free(*list);
        *list = NULL;
        *n = 0;
    }
    free(v);
    return err;
}

static otd_err check_layout(otd_comm *comm, const otd_layout *lay, int64_t m)
{
    if (lay == NULL || m < 1 || lay->nranks != otd_comm_size(comm) ||
        lay->rank != otd_comm_rank(comm) || lay->row0 < 0 || lay->nrows < 0 ||
        lay->row0 + lay->nrows > lay->d)
        return OTD_ERROR(OTD_ERR_ARG, "checkpoint: bad layout or column count (m = %lld)",
                         (long long)m);
    return OTD_OK;
}

/* Local part of a write: arguments, the two paths, the C-order copies. */
static otd_err write_prepare(const char *dir, otd_comm *comm, const otd_layout *lay, int64_t m,
                             const double *W_loc, const double *W0_loc, const otd_ckpt_meta *meta,
                             int keep, char **final, char **tmp, double **w_rm, double **w0_rm)
{
    otd_err err = OTD_OK;
    char name[40];
    OTD_CHECK(otd_h5_quiet());
    if (dir == NULL || dir[0] == '\0')
        OTD_FAIL(OTD_ERR_ARG, "checkpoint directory name is empty");
    OTD_CHECK(check_layout(comm, lay, m));
    if (meta == NULL || meta->config_yaml == NULL || meta->iter < 0 || keep < 1)
        OTD_FAIL(OTD_ERR_ARG, "checkpoint: bad metadata or keep = %d", keep);
    if (lay->nrows > 0 && (W_loc == NULL || W0_loc == NULL))
        OTD_FAIL(OTD_ERR_ARG, "checkpoint: no data");
    snprintf(name, sizeof name, PREFIX "%012lld" SUFFIX, (long long)meta->iter);
    OTD_CHECK(join_path(dir, name, "", final));
    OTD_CHECK(join_path(dir, name, ".tmp", tmp));
    OTD_CHECK(otd_h5_to_row_major(W_loc, lay->nrows, m, lay->nrows, w_rm));
    OTD_CHECK(otd_h5_to_row_major(W0_loc, lay->nrows, m, lay->nrows, w0_rm));
done:
    return err;
}

/* Bytes to reserve for a checkpoint: the two matrices, the configuration
 * (it may also appear in HDF5's free-space bookkeeping), and a margin for
 * the metadata, which is a few KiB. Generous on purpose: the unused part
 * is released at the "fsync" phase. */
static int64_t reserve_bytes(int64_t d, int64_t m, const char *config)
{
    return 2 * d * m * (int64_t)sizeof(double) + 2 * (int64_t)strlen(config) + OTD_H5_META_BYTES;
}

/* Rank 0: the directory, no stale temporary file of this iteration (a
 * crash during an earlier attempt), and a new one with its space reserved:
 * a full disk fails here, before HDF5 writes anything. */
static otd_err write_dir(const char *dir, const char *tmp, int64_t bytes)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_make_dirs(dir, "checkpoint directory"));
    if (unlink(tmp) != 0 && errno != ENOENT)
        OTD_FAIL(OTD_ERR_IO, "cannot remove stale temporary checkpoint '%s': %s", tmp,
                 strerror(errno));
    OTD_CHECK(otd_h5_reserve(tmp, bytes, 1, WHAT));
done:
    return err;
}

/* The (d, m) block of this rank's rows: dims, start and count for h5util. */
static void rows_block(const otd_layout *lay, int64_t m, hsize_t dims[2], hsize_t start[2],
                       hsize_t count[2])
{
    dims[0] = (hsize_t)lay->d;
    dims[1] = (hsize_t)m;
    start[0] = (hsize_t)lay->row0;
    start[1] = 0;
    count[0] = (hsize_t)lay->nrows;
    count[1] = (hsize_t)m;
}

static void hex16(uint64_t v, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)v);
}

/* Exactly 16 hex digits, as hex16 writes them. */
static int parse_hex16(const char *s, uint64_t *v)
{
    char *end = NULL;
    if (strlen(s) != 16 || s[0] == '-' || s[0] == '+')
        return 0;
    errno = 0;
    *v = (uint64_t)strtoull(s, &end, 16);
    return errno == 0 && end == s + 16;
}

/* Collective: the root attributes. Every rank passes identical values:
 * `created` comes from rank 0. */
static otd_err write_header(hid_t file, otd_comm *comm, const otd_ckpt_meta *meta,
                            const uint64_t sums[2], const char *path)
{
    otd_err err = OTD_OK;
    hid_t root = H5I_INVALID_HID;
    char created[32] = "", hash[17], sw[17], sw0[17];
    if (otd_comm_rank(comm) == 0) {
        time_t now = time(NULL);
        struct tm tm;
        if (now != (time_t)-1 && gmtime_r(&now, &tm) != NULL &&
            strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            created[0] = '\0'; /* informational only */
    }
    OTD_CHECK(otd_comm_bcast(comm, created, sizeof created, 0));
    hex16(meta->config_hash, hash);
    hex16(sums[0], sw);
    hex16(sums[1], sw0);
    OTD_H5(root = H5Gopen2(file, "/", H5P_DEFAULT), path);
    OTD_CHECK(otd_h5_attr_int64(root, "format_version", OTD_CKPT_FORMAT));
    OTD_CHECK(otd_h5_attr_int64(root, "iter", meta->iter));
    OTD_CHECK(otd_h5_attr_int64(root, "n_reinit", meta->n_reinit));
    OTD_CHECK(otd_h5_attr_int64(root, "history_rows", meta->history_rows));
    OTD_CHECK(otd_h5_attr_double(root, "wall_offset", meta->wall_offset));
    OTD_CHECK(otd_h5_attr_string_fixed(root, "config_hash", hash));
    OTD_CHECK(otd_h5_attr_string_fixed(root, "config", meta->config_yaml));
    OTD_CHECK(otd_h5_attr_int64(root, "nranks", otd_comm_size(comm)));
#ifdef OTD_VERSION_STRING
    OTD_CHECK(otd_h5_attr_string_fixed(root, "otd_version", OTD_VERSION_STRING));
#endif
    OTD_CHECK(otd_h5_attr_string_fixed(root, "checksum_W", sw));
    OTD_CHECK(otd_h5_attr_string_fixed(root, "checksum_W0", sw0));
    OTD_CHECK(otd_h5_attr_string_fixed(root, "created", created));
done:
    otd_h5_close(&root, &err);
    return err;
}

/* Collective: flush (MPI_File_sync on every rank: the data has left every
 * writer), agreed; then close, agreed. The ids are invalid afterwards
 * whatever happens. */
static otd_err close_file(otd_comm *comm, hid_t *file, hid_t *dxpl, const char *path)
{
    otd_err err = OTD_OK;
    if (H5Fflush(*file, H5F_SCOPE_GLOBAL) < 0)
        err = otd_h5_raise("H5Fflush", path, __FILE__, __LINE__);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, path));
    otd_h5_close(dxpl, &err);
    otd_h5_close(file, &err);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, path));
done:
    return err;
}

/* Rank 0: rename into place (*renamed = 1: no temporary file is left to
 * remove), then make the new name durable. */
static otd_err commit(const char *dir, const char *tmp, const char *final, int *renamed)
{
    if (rename(tmp, final) != 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot rename checkpoint '%s' to '%s': %s", tmp, final,
                         strerror(errno));
    *renamed = 1;
    return otd_fsync_dir(dir, "checkpoint directory");
}

/* Rank 0: remove all but the newest `keep` committed checkpoints. The one
 * just written is never removed, even if stale newer ones exist. */
static otd_err prune(const char *dir, int keep, const char *final)
{
    otd_err err = OTD_OK;
    entry *list = NULL;
    int64_t n = 0, removed = 0;
    char *path = NULL;
    OTD_CHECK(list_dir(dir, &list, &n));
    for (int64_t k = keep; k < n; k++) {
        OTD_CHECK(join_path(dir, list[k].name, "", &path));
        if (strcmp(path, final) != 0) {
            if (unlink(path) != 0 && errno != ENOENT)
                OTD_FAIL(OTD_ERR_IO, "cannot remove old checkpoint '%s': %s", path,
                         strerror(errno));
            removed++;
        }
        free(path);
        path = NULL;
    }
    if (removed > 0)
        OTD_CHECK(otd_fsync_dir(dir, "checkpoint directory"));
done:
    free(path);
    free(list);
    return err;
}

otd_err otd_ckpt_write(const char *dir, otd_comm *comm, const otd_layout *lay, int64_t m,
                       const double *W_loc, const double *W0_loc, const otd_ckpt_meta *meta,
                       int keep)
{
    otd_err err = OTD_OK;
    int root = otd_comm_rank(comm) == 0, tmp_exists = 0, renamed = 0;
    char *final = NULL, *tmp = NULL;
    double *w_rm = NULL, *w0_rm = NULL;
    hid_t file = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    hsize_t dims[2], start[2], count[2];
    uint64_t sums[2] = {0, 0};
    int64_t reserve = 0;

    write_calls++;
    err = write_prepare(dir, comm, lay, m, W_loc, W0_loc, meta, keep, &final, &tmp, &w_rm, &w0_rm);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    rows_block(lay, m, dims, start, count);
    reserve = reserve_bytes(lay->d, m, meta->config_yaml);

    otd_ckpt_test_hook("create", comm);
    if (root)
        err = write_dir(dir, tmp, reserve);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    tmp_exists = 1; /* from here on, a failure removes it */
    /* TRUNC: rank 0 has just created (and reserved) the empty file. */
    err = otd_h5_open_mpio(tmp, comm, OTD_H5_CREATE_TR, &file, &dxpl);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, tmp));
    /* Again, in case this HDF5 truncated the file it created (1.10 does
     * not truncate an empty one): a no-op where the blocks are still held. */
    OTD_CHECK(otd_h5_reserve_all(comm, tmp, reserve, 0, WHAT));

    otd_ckpt_test_hook("data", comm);
    err = otd_h5_write_block(file, dxpl, "W", 2, dims, start, count, w_rm);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, tmp));
    err = otd_h5_write_block(file, dxpl, "W0", 2, dims, start, count, w0_rm);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, tmp));

    otd_ckpt_test_hook("checksum", comm);
    OTD_CHECK(checksums(comm, lay, m, w_rm, w0_rm, sums));
    err = write_header(file, comm, meta, sums, tmp);
    OTD_CHECK(otd_h5_agree_write(comm, err, WHAT, tmp));

    otd_ckpt_test_hook("close", comm);
    OTD_CHECK(close_file(comm, &file, &dxpl, tmp));

    /* What the reservation did not use goes back (truncating to the same
     * size frees the blocks past the end of file), and the data is made
     * durable before the rename. */
    otd_ckpt_test_hook("fsync", comm);
    if (root)
        err = otd_h5_release(tmp, 1, WHAT);
    OTD_CHECK(otd_comm_agree_share(comm, err));

    otd_ckpt_test_hook("rename", comm);
    if (root)
        err = commit(dir, tmp, final, &renamed);
    OTD_CHECK(otd_comm_agree_share(comm, err));

    otd_ckpt_test_hook("prune", comm);
    if (root)
        err = prune(dir, keep, final);
    OTD_CHECK(otd_comm_agree_share(comm, err));
done:
    /* Every failure above passed an agreement, so all ranks close the file
     * here together (H5Fclose is collective), after rank 0 has emptied it:
     * its close then has room for what it still writes. */
    if (err != OTD_OK && file >= 0 && root)
        otd_h5_abandon(tmp);
    otd_h5_close(&dxpl, &err);
    otd_h5_close(&file, &err);
    if (err != OTD_OK && tmp_exists && !renamed && root && unlink(tmp) != 0 && errno != ENOENT)
        otd_warn("cannot remove temporary checkpoint '%s': %s", tmp, strerror(errno));
    free(w0_rm);
    free(w_rm);
    free(tmp);
    free(final);
    return err;
}

/* Rank 0, serial: the header of candidate path (named for iteration
 * name_iter), the shapes of W and W0, and the configuration text. A
 * checkpoint of another shape is OTD_ERR_CONFIG: it is intact, only not
 * for this run, so it must not be quarantined. */
static otd_err read_header(const char *path, int64_t name_iter, int64_t d, int64_t m, header *h,
                           char **config)
{
    otd_err err = OTD_OK;
    hid_t file = H5I_INVALID_HID, root = H5I_INVALID_HID;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int64_t version = 0;
    char *hash = NULL, *sw = NULL, *sw0 = NULL;
    const char *names[2] = {"W", "W0"};
    *config = NULL;
    OTD_H5(file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), path);
    OTD_H5(root = H5Gopen2(file, "/", H5P_DEFAULT), path);
    OTD_CHECK(otd_h5_attr_read_int64(root, "format_version", &version));
    if (version != OTD_CKPT_FORMAT)
        OTD_FAIL(OTD_ERR_FORMAT, "wrong format version %lld, this otd reads %d", (long long)version,
                 OTD_CKPT_FORMAT);
    OTD_CHECK(otd_h5_attr_read_int64(root, "iter", &h->iter));
    OTD_CHECK(otd_h5_attr_read_int64(root, "n_reinit", &h->n_reinit));
    OTD_CHECK(otd_h5_attr_read_int64(root, "history_rows", &h->history_rows));
    OTD_CHECK(otd_h5_attr_read_int64(root, "nranks", &h->nranks));
    OTD_CHECK(otd_h5_attr_read_double(root, "wall_offset", &h->wall_offset));
    OTD_CHECK(otd_h5_attr_read_string(root, "config_hash", &hash));
    OTD_CHECK(otd_h5_attr_read_string(root, "checksum_W", &sw));
    OTD_CHECK(otd_h5_attr_read_string(root, "checksum_W0", &sw0));
    OTD_CHECK(otd_h5_attr_read_string(root, "config", config));
    if (h->iter != name_iter)
        OTD_FAIL(OTD_ERR_FORMAT, "iteration %lld in the file, %lld in its name", (long long)h->iter,
                 (long long)name_iter);
    if (h->nranks < 1 || h->nranks > INT_MAX)
        OTD_FAIL(OTD_ERR_FORMAT, "bad rank count %lld", (long long)h->nranks);
    if (!parse_hex16(hash, &h->config_hash) || !parse_hex16(sw, &h->sum_w) ||
        !parse_hex16(sw0, &h->sum_w0))
        OTD_FAIL(OTD_ERR_FORMAT, "config_hash or a checksum is not 16 hex digits");
    for (int k = 0; k < 2; k++) {
        hsize_t dims[2] = {0, 0};
        int nd = -1;
        OTD_H5(dset = H5Dopen2(file, names[k], H5P_DEFAULT), names[k]);
        OTD_H5(space = H5Dget_space(dset), names[k]);
        OTD_H5(nd = H5Sget_simple_extent_ndims(space), names[k]);
        if (nd != 2)
            OTD_FAIL(OTD_ERR_FORMAT, "dataset %s has %d dimensions, not 2", names[k], nd);
        OTD_H5(H5Sget_simple_extent_dims(space, dims, NULL), names[k]);
        if (dims[0] != (hsize_t)d || dims[1] != (hsize_t)m)
            OTD_FAIL(OTD_ERR_CONFIG,
                     "checkpoint '%s' holds %s of shape (%llu, %llu), but this run has d = %lld, "
                     "m = %lld: it was written with another configuration (use its configuration "
                     "or a new run directory)",
                     path, names[k], (unsigned long long)dims[0], (unsigned long long)dims[1],
                     (long long)d, (long long)m);
        otd_h5_close(&space, &err);
        otd_h5_close(&dset, &err);
        if (err != OTD_OK)
            goto done;
    }
done:
    /* Another shape keeps the configuration: the caller lists what differs. */
    if (err != OTD_OK && err != OTD_ERR_CONFIG) {
        free(*config);
        *config = NULL;
    }
    free(sw0);
    free(sw);
    free(hash);
    otd_h5_close(&space, &err);
    otd_h5_close(&dset, &err);
    otd_h5_close(&root, &err);
    otd_h5_close(&file, &err);
    return err;
}

/* Collective: this rank's rows of W and W0 of path, in C order. */
static otd_err read_rows(const char *path, otd_comm *comm, const otd_layout *lay, int64_t m,
                         double *w_rm, double *w0_rm)
{
    otd_err err = OTD_OK;
    hid_t file = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    hsize_t dims[2], start[2], count[2];
    rows_block(lay, m, dims, start, count);
    err = otd_h5_open_mpio(path, comm, OTD_H5_READ, &file, &dxpl);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    err = otd_h5_read_block(file, dxpl, "W", 2, dims, start, count, w_rm);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    err = otd_h5_read_block(file, dxpl, "W0", 2, dims, start, count, w0_rm);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    otd_h5_close(&dxpl, &err);
    otd_h5_close(&file, &err);
    OTD_CHECK(otd_comm_agree_share(comm, err));
done:
    /* Reached together after an agreement: the collective close is safe. */
    otd_h5_close(&dxpl, &err);
    otd_h5_close(&file, &err);
    return err;
}

/* Not collective: can this rank read path at all? A file that the file
 * system does not give (no permission, an I/O error, not a regular file)
 * is no evidence of damage: it is for the user to fix, and it must not be
 * renamed aside and skipped for an older one. OTD_ERR_IO naming the file. */
static otd_err check_readable(const char *path)
{
    otd_err err = OTD_OK;
    char byte = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || pread(fd, &byte, 1, 0) < 0)
        err = OTD_ERROR(OTD_ERR_IO,
                        "cannot read checkpoint '%s': %s; it is left in place, nothing is "
                        "renamed: make it readable, then rerun",
                        path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && err == OTD_OK)
        err = OTD_ERROR(OTD_ERR_IO, "cannot close checkpoint '%s': %s", path, strerror(errno));
    return err;
}

/* Collective: verify candidate path and read it into the C-order buffers,
 * its header into *h and its configuration into *config (malloc'd). Every
 * rank returns the same code: OTD_ERR_FORMAT or OTD_ERR_HDF5 mean damage,
 * OTD_ERR_IO a file that cannot be read at all (not damage). */
static otd_err try_candidate(const char *path, int64_t iter, otd_comm *comm, const otd_layout *lay,
                             int64_t m, double *w_rm, double *w0_rm, header *h, char **config)
{
    otd_err err = OTD_OK, shape = OTD_OK;
    size_t len = 0;
    uint64_t sums[2] = {0, 0};
    *config = NULL;
    /* Every rank: the collective open below needs the file on every node. */
    OTD_CHECK(otd_comm_agree_share(comm, check_readable(path)));
    if (otd_comm_rank(comm) == 0)
        err = read_header(path, iter, lay->d, m, h, config);
    err = otd_comm_agree_share(comm, err);
    /* Another shape (OTD_ERR_CONFIG, raised by rank 0 alone) still sends
     * the header and configuration to every rank, for the caller's diff. */
    if (err != OTD_OK && err != OTD_ERR_CONFIG)
        goto done;
    shape = err;
    OTD_CHECK(otd_comm_bcast(comm, h, sizeof *h, 0));
    if (otd_comm_rank(comm) == 0)
        len = strlen(*config);
    OTD_CHECK(otd_comm_bcast_bytes(comm, config, &len, 0));
    if ((err = shape) != OTD_OK)
        goto done;
    OTD_CHECK(read_rows(path, comm, lay, m, w_rm, w0_rm));
    /* Same sums and header everywhere: the verdict needs no agreement. */
    OTD_CHECK(checksums(comm, lay, m, w_rm, w0_rm, sums));
    if (sums[0] != h->sum_w || sums[1] != h->sum_w0)
        OTD_FAIL(OTD_ERR_FORMAT, "checksum mismatch in %s: stored %016llx, computed %016llx",
                 sums[0] != h->sum_w ? "W" : "W0",
                 (unsigned long long)(sums[0] != h->sum_w ? h->sum_w : h->sum_w0),
                 (unsigned long long)(sums[0] != h->sum_w ? sums[0] : sums[1]));
done:
    if (err != OTD_OK && err != OTD_ERR_CONFIG) {
        free(*config);
        *config = NULL;
    }
    return err;
}

/* The caller's metadata from a header; takes ownership of config. */
static void fill_meta(otd_ckpt_meta *meta, const header *h, char *config)
{
    meta->iter = h->iter;
    meta->n_reinit = h->n_reinit;
    meta->history_rows = h->history_rows;
    meta->wall_offset = h->wall_offset;
    meta->config_hash = h->config_hash;
    meta->config_yaml = config;
    meta->nranks = (int)h->nranks;
}

/* Local part of a load: arguments, the C-order buffers, and path buffers
 * long enough for any candidate (so the loop allocates nothing). */
static otd_err load_prepare(const char *dir, otd_comm *comm, const otd_layout *lay, int64_t m,
                            const double *W_loc, const double *W0_loc, const otd_ckpt_meta *meta,
                            const int *found, double **w_rm, double **w0_rm, char **path,
                            char **bad)
{
    otd_err err = OTD_OK;
    size_t cap = 0;
    OTD_CHECK(otd_h5_quiet());
    if (dir == NULL || dir[0] == '\0')
        OTD_FAIL(OTD_ERR_ARG, "checkpoint directory name is empty");
    OTD_CHECK(check_layout(comm, lay, m));
    if (meta == NULL || found == NULL || (lay->nrows > 0 && (W_loc == NULL || W0_loc == NULL)))
        OTD_FAIL(OTD_ERR_ARG, "checkpoint load: missing output");
    if (lay->nrows > 0 && m > INT64_MAX / lay->nrows)
        OTD_FAIL(OTD_ERR_NOMEM, "a %lld x %lld matrix is too large", (long long)lay->nrows,
                 (long long)m);
    OTD_ALLOC(*w_rm, lay->nrows * m);
    OTD_ALLOC(*w0_rm, lay->nrows * m);
    cap = strlen(dir) + sizeof(((entry *)0)->name) + sizeof ".bad" + 1;
    OTD_ALLOC(*path, cap);
    OTD_ALLOC(*bad, cap);
done:
    return err;
}

/* Rank 0: the candidates' names, newest first, each ended by a newline
 * (names never contain one): one broadcast gives every rank the list. */
static otd_err list_names(const char *dir, char **names, size_t *len)
{
    otd_err err = OTD_OK;
    entry *list = NULL;
    int64_t n = 0;
    size_t at = 0;
    *names = NULL;
    *len = 0;
    OTD_CHECK(list_dir(dir, &list, &n));
    OTD_ALLOC(*names, (size_t)n * sizeof(list->name) + 1);
    for (int64_t k = 0; k < n; k++)
        at += (size_t)sprintf(*names + at, "%s\n", list[k].name);
    *len = at;
done:
    free(list);
    return err;
}

/* Rank 0: move a damaged checkpoint aside and say so. Renamed, not
 * deleted: the user may want to look at it. */
static otd_err quarantine(const char *path, const char *bad, const char *reason)
{
    if (rename(path, bad) != 0)
        return OTD_ERROR(OTD_ERR_IO,
                         "checkpoint '%s' is damaged (%s), and renaming it to '%s' "
                         "failed: %s",
                         path, reason, bad, strerror(errno));
    otd_warn("checkpoint %s is damaged (%s): renamed to %s, trying an older one", path, reason,
             bad);
    return OTD_OK;
}

otd_err otd_ckpt_load(const char *dir, otd_comm *comm, const otd_layout *lay, int64_t m,
                      double *W_loc, double *W0_loc, otd_ckpt_meta *meta, int *found)
{
    otd_err err = OTD_OK;
    int root = otd_comm_rank(comm) == 0;
    char *names = NULL, *path = NULL, *bad = NULL, *config = NULL, *line = NULL;
    double *w_rm = NULL, *w0_rm = NULL;
    size_t len = 0;
    int64_t rejected = 0;
    int ok = 0;
    header h;
    memset(&h, 0, sizeof h);
    if (found != NULL)
        *found = 0;
    err = load_prepare(dir, comm, lay, m, W_loc, W0_loc, meta, found, &w_rm, &w0_rm, &path, &bad);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    if (root)
        err = list_names(dir, &names, &len);
    OTD_CHECK(otd_comm_agree_share(comm, err));
    OTD_CHECK(otd_comm_bcast_bytes(comm, &names, &len, 0));
    for (line = names; *line != '\0';) {
        char *nl = strchr(line, '\n');
        int64_t iter = 0;
        *nl = '\0';
        if (!parse_name(line, &iter))
            OTD_FAIL(OTD_ERR_INTERNAL, "checkpoint list holds '%s'", line);
        sprintf(path, "%s/%s", dir, line);
        sprintf(bad, "%s.bad", path);
        err = try_candidate(path, iter, comm, lay, m, w_rm, w0_rm, &h, &config);
        if ((ok = err == OTD_OK))
            break;
        if (err == OTD_ERR_CONFIG && config != NULL) {
            fill_meta(meta, &h, config); /* another shape: left in place */
            config = NULL;
            goto done;
        }
        if (err != OTD_ERR_FORMAT && err != OTD_ERR_HDF5)
            goto done; /* not damage: a memory or MPI failure */
        if (root)
            err = quarantine(path, bad, otd_error_text());
        else
            err = OTD_OK;
        OTD_CHECK(otd_comm_agree_share(comm, err));
        rejected++;
        line = nl + 1;
    }
    if (!ok && rejected > 0)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "no valid checkpoint in '%s': %lld checkpoint%s rejected as damaged and renamed "
                 "to *.bad (see the messages above)",
                 dir, (long long)rejected, rejected == 1 ? " was" : "s were");
    if (ok) {
        otd_h5_from_row_major(w_rm, lay->nrows, m, lay->nrows, W_loc);
        otd_h5_from_row_major(w0_rm, lay->nrows, m, lay->nrows, W0_loc);
        fill_meta(meta, &h, config);
        config = NULL;
        *found = 1;
    }
done:
    free(config);
    free(bad);
    free(path);
    free(names);
    free(w0_rm);
    free(w_rm);
    return err;
}
