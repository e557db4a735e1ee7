/* runcheck.c: what a run checks in its results file before it trusts it
 * (see otd_runfile.h): the stored configuration, whether HDF5 can read the
 * file at all, and, on resume, that the data it holds is the run's. */
#include "otd/otd_runfile.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/h5util.h"

/* A probe that takes longer than this is taken for HDF5 looping on damaged
 * metadata (it reads metadata and a few elements: milliseconds normally). */
#define PROBE_SECONDS 60

/* Attribute values larger than this are not read by the probe (otd writes
 * none; reading one of a foreign file could exhaust memory). */
#define PROBE_ATTR_BYTES ((hssize_t)1 << 26)

otd_err otd_runfile_read_config(const char *path, char **yaml)
{
    otd_err err = OTD_OK;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID;
    htri_t there = -1;
    *yaml = NULL;
    OTD_CHECK(otd_h5_quiet());
    OTD_H5(fapl = H5Pcreate(H5P_FILE_ACCESS), path);
    /* The caller holds the run directory's lock; HDF5's own lock would only
     * stop a reader of a file a crashed run left open. */
    OTD_H5(H5Pset_file_locking(fapl, 0, 1), path);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        OTD_FAIL(OTD_ERR_FORMAT, "'%s' exists but cannot be opened as HDF5", path);
    }
    OTD_H5(there = H5Aexists(f, "config"), path);
    if (!there)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "'%s' has no stored configuration (root attribute config): not an otd results "
                 "file",
                 path);
    OTD_CHECK(otd_h5_attr_read_string(f, "config", yaml));
done:
    otd_h5_close(&f, &err);
    otd_h5_close(&fapl, &err);
    return err;
}

/* ---------------------------------------------------------------- probe */

/* In the probe's child: one attribute's value, in its native type. */
static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    hid_t a = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID;
    hssize_t n = -1;
    size_t size = 0;
    herr_t ret = -1;
    void *buf = NULL;
    (void)info;
    (void)data;
    if ((a = H5Aopen(loc, name, H5P_DEFAULT)) < 0 || (ftype = H5Aget_type(a)) < 0 ||
        (space = H5Aget_space(a)) < 0 || (n = H5Sget_simple_extent_npoints(space)) < 0 ||
        (mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND)) < 0 || (size = H5Tget_size(mtype)) == 0)
        goto done;
    /* Variable-length values (strings) are read too: their bytes live in a
     * heap of their own, which is what damaged files crash on. Nothing is
     * reclaimed: the child exits right after. */
    if (n > 0 && (hssize_t)size * n <= PROBE_ATTR_BYTES) {
        if ((buf = calloc((size_t)n, size)) == NULL || H5Aread(a, mtype, buf) < 0)
            goto done;
    }
    ret = 0;
done:
    free(buf);
    H5Tclose(mtype);
    H5Sclose(space);
    H5Tclose(ftype);
    H5Aclose(a);
    return ret;
}

/* In the probe's child: element `at` of a numeric dataset (through its
 * chunk index, for a chunked one). */
static int probe_element(hid_t dset, hid_t space, hssize_t at)
{
    hid_t mem = H5I_INVALID_HID;
    hsize_t coord[H5S_MAX_RANK], dims[H5S_MAX_RANK], one = 1;
    int nd = H5Sget_simple_extent_ndims(space), ok = 0;
    double v = 0.0;
    if (nd < 0 || nd > H5S_MAX_RANK || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        return 0;
    for (int k = nd - 1; k >= 0; k--) {
        coord[k] = dims[k] > 0 ? (hsize_t)at % dims[k] : 0;
        at = dims[k] > 0 ? at / (hssize_t)dims[k] : 0;
    }
    if (nd == 0)
        ok = H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0;
    else if ((mem = H5Screate_simple(1, &one, NULL)) >= 0 &&
             H5Sselect_elements(space, H5S_SELECT_SET, 1, coord) >= 0)
        ok = H5Dread(dset, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, &v) >= 0;
    H5Sclose(mem);
    return ok;
}

/* In the probe's child: every object's attributes; a dataset's type, shape,
 * creation properties, and its first and last element if numeric. */
static herr_t probe_object(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    hid_t obj = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID;
    hssize_t n = -1;
    herr_t ret = -1;
    H5T_class_t cls;
    (void)data;
    if ((obj = H5Oopen(loc, name, H5P_DEFAULT)) < 0 ||
        H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, probe_attr, NULL) < 0)
        goto done;
    if (info->type == H5O_TYPE_DATASET) {
        if ((type = H5Dget_type(obj)) < 0 || (space = H5Dget_space(obj)) < 0 ||
            (dcpl = H5Dget_create_plist(obj)) < 0 || (n = H5Sget_simple_extent_npoints(space)) < 0)
            goto done;
        cls = H5Tget_class(type);
        if (n > 0 && (cls == H5T_INTEGER || cls == H5T_FLOAT) &&
            (!probe_element(obj, space, 0) || !probe_element(obj, space, n - 1)))
            goto done;
    }
    ret = 0;
done:
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
    H5Oclose(obj);
    return ret;
}

/* In the probe's child: a link's target, for soft and external links (the
 * others were reached by H5Lvisit's own walk through the link storage,
 * which is where a damaged heap of a large group crashes). */
static herr_t probe_link(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    char buf[4096];
    (void)data;
    if (info->type == H5L_TYPE_SOFT || info->type == H5L_TYPE_EXTERNAL)
        return H5Lget_val(group, name, buf, sizeof buf, H5P_DEFAULT) < 0 ? -1 : 0;
    return 0;
}

/* The probe's child: 0 if every read succeeded (or the file did not open);
 * otherwise 1, with HDF5's reason written to fd. */
static int probe_child(const char *path, int fd)
{
    hid_t f = H5I_INVALID_HID;
    const char *call = NULL, *text;
    size_t len;
    /* A crash must end the child, with the signal the parent looks for, not
     * run the handlers it inherited (MPI's backtrace printer, otd's flags). */
    static const int sigs[] = {SIGSEGV, SIGBUS,  SIGFPE,  SIGILL, SIGABRT,
                               SIGINT,  SIGTERM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], SIG_DFL);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* Opened as the caller will open it (HDF5's file locking included). A
     * file that does not open is no verdict here: the caller's own open
     * says why (not HDF5, truncated, locked by a live writer). */
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return 0;
    /* Links by name in increasing order, as otd's readers walk them. */
    if (H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, probe_link, NULL) < 0)
        call = "H5Lvisit";
    else if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, probe_object, NULL, H5O_INFO_BASIC) < 0)
        call = "H5Ovisit";
    if (call == NULL)
        return 0;
    otd_h5_raise(call, path, __FILE__, __LINE__);
    text = otd_error_text();
    len = strlen(text);
    /* Best effort: the parent says "damaged" with or without the reason. */
    if (write(fd, text, len) != (ssize_t)len)
        return 1;
    return 1;
}

otd_err otd_runfile_probe(const char *path)
{
    pid_t pid, got = 0;
    int status = 0, fds[2] = {-1, -1};
    char reason[1024] = "";
    ssize_t n = 0;
    struct timespec nap = {0, 1000000};
    time_t deadline = time(NULL) + PROBE_SECONDS;
    if (pipe(fds) != 0) {
        /* Not a verdict on the file: go on without the probe, and say so. */
        otd_warn("cannot check '%s' before reading it (pipe: %s): reading it unchecked", path,
                 strerror(errno));
        return OTD_OK;
    }
    /* Buffered output would be written twice, by the child too. */
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        otd_warn("cannot check '%s' before reading it (fork: %s): reading it unchecked", path,
                 strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return OTD_OK;
    }
    if (pid == 0) {
        close(fds[0]);
        _exit(probe_child(path, fds[1]));
    }
    close(fds[1]);
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < deadline) {
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 50000000)
            nap.tv_nsec *= 2;
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        close(fds[0]);
        return OTD_ERROR(OTD_ERR_FORMAT,
                         "'%s' is damaged (HDF5 could not read it: reading its metadata did not "
                         "end within %d s)",
                         path, PROBE_SECONDS);
    }
    /* The child has ended: its reason, if any, is all in the pipe. */
    n = read(fds[0], reason, sizeof reason - 1);
    reason[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    if (got < 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot wait for the process checking '%s': %s", path,
                         strerror(errno));
    if (WIFSIGNALED(status))
        return OTD_ERROR(OTD_ERR_FORMAT,
                         "'%s' is damaged (HDF5 could not read it: reading its metadata "
                         "crashed the reader, signal %d)",
                         path, WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return OTD_ERROR(OTD_ERR_FORMAT, "'%s' is damaged (HDF5 could not read it: %s)", path,
                         reason[0] != '\0' ? reason : "no reason given");
    return OTD_OK;
}

/* ---------------------------------------------------------------- resume */

/* Local: a dataset that must be there, of this shape, before it is read. */
static otd_err need_dataset(hid_t f, const char *path, const char *name)
{
    otd_err err = OTD_OK;
    htri_t there = -1;
    OTD_H5(there = H5Lexists(f, name + 1, H5P_DEFAULT), name);
    if (there > 0)
        OTD_H5(there = H5Oexists_by_name(f, name, H5P_DEFAULT), name);
    if (!there)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s has no %s: not the results of this run; restore it, or rerun with "
                 "--restart to set it aside and start over",
                 path, name);
done:
    return err;
}

/* Collective: write the block start/count (a zero count: nothing, but the
 * rank joins) of the existing dataset name from the row-major buf. */
static otd_err write_existing(hid_t f, hid_t dxpl, const char *name, int rank, const hsize_t *start,
                              const hsize_t *count, const double *buf)
{
    otd_err err = OTD_OK;
    hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t one = 1, total = 1;
    static const double none = 0.0; /* HDF5 rejects a NULL buffer */
    for (int k = 0; k < rank; k++)
        total *= count[k];
    OTD_H5(dset = H5Dopen2(f, name, H5P_DEFAULT), name);
    OTD_H5(fspace = H5Dget_space(dset), name);
    if (total == 0) {
        OTD_H5(H5Sselect_none(fspace), name);
        OTD_H5(mspace = H5Screate_simple(1, &one, NULL), name);
        OTD_H5(H5Sselect_none(mspace), name);
        buf = &none;
    } else {
        OTD_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), name);
        OTD_H5(mspace = H5Screate_simple(rank, count, NULL), name);
    }
    OTD_H5(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, buf), name);
done:
    otd_h5_close(&mspace, &err);
    otd_h5_close(&fspace, &err);
    otd_h5_close(&dset, &err);
    return err;
}

/* Values of a and b (n each) that differ bit for bit: -0.0 is not 0.0, and
 * a NaN's payload counts. */
static double count_diff(const double *a, const double *b, size_t n)
{
    double k = 0;
    for (size_t q = 0; q < n; q++)
        k += memcmp(&a[q], &b[q], sizeof *a) != 0;
    return k;
}

/* One dataset of the results file and what it must hold: this rank's block
 * of the row-major value. */
typedef struct {
    const char *name;
    int rank;
    hsize_t dims[2], start[2], count[2];
    double *want; /* row-major, the verified values (count[0] x count[1]) */
    double *have; /* what the file holds there */
} stored;

static size_t block_size(const stored *st)
{
    return (size_t)(st->count[0] * (st->rank == 2 ? st->count[1] : 1));
}

/* Collective: the configuration now, and one more line of changes. */
static otd_err store_config(hid_t f, const otd_runfile_resume *in)
{
    otd_err err = OTD_OK;
    hid_t root = H5I_INVALID_HID;
    htri_t there = -1;
    char *old = NULL, *joined = NULL;
    size_t n = 0;
    OTD_H5(root = H5Gopen2(f, "/", H5P_DEFAULT), "/");
    OTD_CHECK(otd_h5_attr_string(root, "config", in->config));
    OTD_CHECK(otd_h5_attr_string(root, "config_hash", in->config_hash));
    if (in->change == NULL)
        goto done;
    /* Every rank reads the same bytes, so every rank writes the same. */
    OTD_H5(there = H5Aexists(root, "config_changes"), "config_changes");
    if (there)
        OTD_CHECK(otd_h5_attr_read_string(root, "config_changes", &old));
    n = (old != NULL ? strlen(old) : 0) + strlen(in->change) + 2;
    OTD_ALLOC(joined, n);
    snprintf(joined, n, "%s%s\n", old != NULL ? old : "", in->change);
    OTD_CHECK(otd_h5_attr_string(root, "config_changes", joined));
done:
    free(old);
    free(joined);
    otd_h5_close(&root, &err);
    return err;
}

otd_err otd_runfile_prepare_resume(const char *path, otd_comm *comm, const otd_runfile_resume *in)
{
    otd_err err = OTD_OK;
    hid_t f = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    const otd_layout *lay = in->lay;
    const int is0 = otd_comm_rank(comm) == 0, nsets = in->r > 0 ? 3 : 1;
    const int64_t d = lay->d, r = in->r;
    double diff[3] = {0, 0, 0};
    stored st[3] = {
        {"/init/W",
         2,
         {(hsize_t)d, (hsize_t)in->m},
         {(hsize_t)lay->row0, 0},
         {(hsize_t)lay->nrows, (hsize_t)in->m},
         NULL,
         NULL},
        /* The target is whole on every rank: rank 0 reads and writes it. */
        {"/target/U",
         2,
         {(hsize_t)d, (hsize_t)r},
         {0, 0},
         {is0 ? (hsize_t)d : 0, (hsize_t)r},
         NULL,
         NULL},
        {"/target/a", 1, {(hsize_t)r, 0}, {0, 0}, {is0 ? (hsize_t)r : 0, 0}, NULL, NULL},
    };
    static const char *const what[3] = {"the checkpoint's verified W0",
                                        "the target regenerated from run.seed",
                                        "the target regenerated from run.seed"};
    /* Local: the verified values in the file's order, and room to read. */
    err = otd_h5_to_row_major(in->W0_loc, lay->nrows, in->m, lay->nrows, &st[0].want);
    if (err == OTD_OK && nsets > 1 && is0)
        err = otd_h5_to_row_major(in->U, d, r, d, &st[1].want);
    if (err == OTD_OK && nsets > 1 && is0)
        err = otd_h5_to_row_major(in->a, r, 1, r, &st[2].want);
    for (int k = 0; k < nsets && err == OTD_OK; k++) {
        size_t n = block_size(&st[k]);
        if ((st[k].have = otd_calloc(n > 0 ? n : 1, sizeof(double))) == NULL)
            err = OTD_ERROR(OTD_ERR_NOMEM, "out of memory checking %s of '%s'", st[k].name, path);
    }
    OTD_CHECK(otd_comm_agree(comm, err));
    OTD_CHECK(otd_comm_agree(comm, otd_h5_open_mpio(path, comm, OTD_H5_RDWR, &f, &dxpl)));
    /* The file's metadata is the same for every rank: so are these. */
    for (int k = 0; k < nsets; k++)
        OTD_CHECK(need_dataset(f, path, st[k].name));
    for (int k = 0; k < nsets; k++) {
        err = otd_h5_read_block(f, dxpl, st[k].name, st[k].rank, st[k].dims, st[k].start,
                                st[k].count, st[k].have);
        OTD_CHECK(otd_comm_agree(comm, err));
        if (block_size(&st[k]) > 0)
            diff[k] = count_diff(st[k].have, st[k].want, block_size(&st[k]));
    }
    OTD_CHECK(otd_comm_sum(comm, diff, 3));
    if ((diff[1] > 0 || diff[2] > 0) && !in->target_regenerated)
        OTD_FAIL(OTD_ERR_FORMAT,
                 "%s: /target differs from problem.components_file in %.0f values: the "
                 "components file changed since the run started, or the results file is "
                 "damaged; restore it, or rerun with --restart to start over",
                 path, diff[1] + diff[2]);
    for (int k = 0; k < nsets; k++) {
        if (diff[k] == 0)
            continue;
        /* want is in the file's order: what it must hold (ranks with
         * nothing to write join with an empty selection). */
        err = write_existing(f, dxpl, st[k].name, st[k].rank, st[k].start, st[k].count,
                             st[k].want != NULL ? st[k].want : st[k].have);
        OTD_CHECK(otd_comm_agree(comm, err));
        if (is0)
            otd_warn("%s: %s differed from %s in %.0f values (the file was damaged): rewritten "
                     "from it",
                     path, st[k].name, what[k], diff[k]);
    }
    OTD_CHECK(store_config(f, in));
    OTD_H5(H5Fflush(f, H5F_SCOPE_GLOBAL), path);
done:
    otd_h5_close(&dxpl, &err);
    otd_h5_close(&f, &err);
    for (int k = 0; k < 3; k++) {
        free(st[k].want);
        free(st[k].have);
    }
    return otd_comm_agree(comm, err);
}
