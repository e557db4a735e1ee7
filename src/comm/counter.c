/* counter.c: shared counters (see otd_comm.h), kept one of two ways.
 *
 * MPI: one-sided atomics (MPI_Fetch_and_op) on a window held by rank 0,
 * which every rank keeps locked (shared) for the counters' whole life. The
 * default when every rank is on one node, where MPI keeps the window in
 * shared memory and the atomics are the CPU's.
 *
 * Files: the default when the ranks span nodes. Across nodes MPI's
 * one-sided operations need RDMA hardware to run without the target's
 * help; over TCP they are either missing (Debian's Open MPI 4.1 disables
 * osc/pt2pt and osc/ucx, and osc/rdma needs InfiniBand-class transports:
 * MPI_Win_allocate fails with MPI_ERR_WIN) or emulated with messages that
 * rank 0 answers only when it enters MPI, which it does not while it runs a
 * one-rank point: every other group would wait for its point to end.
 *
 * Counter k is then the number of files "k.<i>" in a directory every rank
 * shares; they only ever appear in order (a rank creates k.i only after it
 * saw k.(i-1)), so they form a prefix k.0, k.1, ..., and none is removed
 * while the counters live. Adding 1 is creating the first missing one with
 * O_CREAT | O_EXCL, which exactly one rank wins on every POSIX file system
 * (NFS and Lustre included): the loser moves on to the next. A rank finds
 * the first missing one by galloping and bisecting from the first it has not
 * seen taken, so an add costs a few stat calls, not one per value taken. A
 * file system that caches lookups may report a file missing that another
 * node just made: the create then fails with EEXIST and the rank moves on;
 * never is a file reported that does not exist, so no value is skipped or
 * taken twice.
 *
 * OTD_COUNTER=files or =mpi chooses either everywhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm/comm_mpi.h"

struct otd_counter {
    otd_comm *comm; /* not owned: the communicator it was created on */
    int n;
    /* MPI */
    MPI_Win win; /* MPI_WIN_NULL for files */
    int64_t *base;
    /* files */
    char *dir;     /* the counters' own directory */
    int64_t *seen; /* per counter: every k.i with i < seen[k] exists */
};

static otd_err create_window(otd_counter *ct)
{
    otd_err err = OTD_OK;
    MPI_Comm comm = otd_comm_raw(ct->comm);
    const int rank = otd_comm_rank(ct->comm);
    MPI_Aint bytes = rank == 0 ? (MPI_Aint)ct->n * (MPI_Aint)sizeof(int64_t) : 0;
    /* Where MPI has no one-sided transport every rank fails alike (the
     * component is chosen the same way everywhere). */
    if (MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, comm, &ct->base, &ct->win) !=
        MPI_SUCCESS) {
        ct->win = MPI_WIN_NULL;
        OTD_FAIL(OTD_ERR_MPI,
                 "MPI_Win_allocate failed: this MPI has no one-sided transport between these "
                 "ranks (OTD_COUNTER=files keeps the counters in files instead)");
    }
    OTD_MPI(MPI_Win_set_errhandler(ct->win, MPI_ERRORS_RETURN));
    if (rank == 0)
        memset(ct->base, 0, (size_t)bytes);
    /* Every rank then holds a shared lock on every target for the
     * counters' whole life: a fetch-and-add needs no lock of its own. */
    OTD_MPI(MPI_Barrier(comm));
    OTD_MPI(MPI_Win_lock_all(MPI_MODE_NOCHECK, ct->win));
done:
    return err;
}

/* Rank 0: a new directory of its own under parent (made if missing; made
 * again if another job's counters removed it meanwhile, as they do when
 * they end and leave it empty). */
static otd_err make_dir(const char *parent, char **out)
{
    otd_err err = OTD_OK;
    char host[256] = "host", path[4400];
    *out = NULL;
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    for (int k = 0, tries = 0;; tries++) {
        if (mkdir(parent, 0755) != 0 && errno != EEXIST)
            OTD_FAIL(OTD_ERR_IO, "cannot create the counters' directory %s: %s", parent,
                     strerror(errno));
        snprintf(path, sizeof path, "%s/%s-%ld-%d", parent, host, (long)getpid(), k);
        if (mkdir(path, 0755) == 0)
            break;
        if ((errno != EEXIST && errno != ENOENT) || tries >= 1000)
            OTD_FAIL(OTD_ERR_IO, "cannot create the counters' directory %s: %s", path,
                     strerror(errno));
        k += errno == EEXIST;
    }
    if ((*out = strdup(path)) == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
done:
    return err;
}

static otd_err create_files(otd_counter *ct, const char *parent)
{
    otd_err err = OTD_OK;
    char *path = NULL;
    size_t len = 0;
    if (otd_comm_rank(ct->comm) == 0) {
        err = make_dir(parent, &path);
        len = path != NULL ? strlen(path) : 0;
    }
    OTD_CHECK(otd_comm_agree(ct->comm, err));
    OTD_CHECK(otd_comm_bcast_bytes(ct->comm, &path, &len, 0));
    ct->dir = path;
    path = NULL;
    OTD_ALLOC(ct->seen, ct->n);
    memset(ct->seen, 0, (size_t)ct->n * sizeof *ct->seen);
done:
    free(path);
    return err;
}

otd_err otd_counter_create(otd_comm *c, int n, const char *dir, otd_counter **out)
{
    otd_err err = OTD_OK;
    otd_counter *ct = NULL;
    const char *choice = getenv("OTD_COUNTER");
    int files = 0, node = 1;
    *out = NULL;
    if (choice == NULL || choice[0] == '\0') {
        OTD_CHECK(otd_comm_node_size(c, &node));
        files = node < otd_comm_size(c);
    } else if (strcmp(choice, "files") == 0 || strcmp(choice, "mpi") == 0) {
        files = choice[0] == 'f';
    } else {
        OTD_FAIL(OTD_ERR_ARG, "OTD_COUNTER='%s': allowed are 'files' and 'mpi' (or unset)", choice);
    }
    OTD_ALLOC(ct, 1);
    memset(ct, 0, sizeof *ct);
    ct->comm = c;
    ct->n = n;
    ct->win = MPI_WIN_NULL;
    if (files)
        OTD_CHECK(create_files(ct, dir));
    else
        OTD_CHECK(create_window(ct));
    *out = ct;
    ct = NULL;
done:
    otd_counter_destroy(ct);
    return err;
}

const char *otd_counter_dir(const otd_counter *ct)
{
    return ct->dir;
}

static int taken(const otd_counter *ct, int k, int64_t i)
{
    char path[4500];
    struct stat st;
    snprintf(path, sizeof path, "%s/%d.%lld", ct->dir, k, (long long)i);
    return stat(path, &st) == 0;
}

/* The first k.i missing as far as this rank can see, from seen[k] on:
 * gallop while they exist, then bisect between the last taken one and the
 * first missing one (taken() is true on a prefix). */
static int64_t first_missing(otd_counter *ct, int k)
{
    int64_t lo = ct->seen[k], hi, step = 1;
    if (!taken(ct, k, lo))
        return lo;
    while (taken(ct, k, lo + step)) {
        lo += step;
        step *= 2;
    }
    hi = lo + step;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (taken(ct, k, mid))
            lo = mid;
        else
            hi = mid;
    }
    ct->seen[k] = hi;
    return hi;
}

static otd_err add_files(otd_counter *ct, int k, int64_t inc, int64_t *old)
{
    otd_err err = OTD_OK;
    char path[4500];
    if (inc != 0 && inc != 1)
        OTD_FAIL(OTD_ERR_INTERNAL, "file counters add 0 or 1, not %lld", (long long)inc);
    for (;;) {
        int64_t i = first_missing(ct, k);
        int fd;
        if (inc == 0) {
            *old = i;
            break;
        }
        snprintf(path, sizeof path, "%s/%d.%lld", ct->dir, k, (long long)i);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno == EEXIST)
            ct->seen[k] = i + 1;
        if (fd >= 0) {
            if (close(fd) != 0)
                OTD_FAIL(OTD_ERR_IO, "cannot close %s: %s", path, strerror(errno));
            *old = i;
            break;
        }
        if (errno != EEXIST)
            OTD_FAIL(OTD_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
done:
    return err;
}

otd_err otd_counter_add(otd_counter *ct, int k, int64_t inc, int64_t *old)
{
    otd_err err = OTD_OK;
    int64_t prev = 0;
    if (k < 0 || k >= ct->n)
        return OTD_ERROR(OTD_ERR_INTERNAL, "counter %d of %d", k, ct->n);
    if (ct->win == MPI_WIN_NULL) {
        OTD_CHECK(add_files(ct, k, inc, &prev));
    } else {
        OTD_MPI(MPI_Fetch_and_op(&inc, &prev, MPI_INT64_T, 0, (MPI_Aint)k, MPI_SUM, ct->win));
        OTD_MPI(MPI_Win_flush(0, ct->win));
    }
    if (old != NULL)
        *old = prev;
done:
    return err;
}

/* Rank 0, after every rank is done with them: the files, the directory,
 * and its parent if that is now empty. Best effort: a leftover is only
 * clutter, never read again (each set of counters has its own directory). */
static void remove_files(const otd_counter *ct)
{
    DIR *d = opendir(ct->dir);
    struct dirent *e;
    char path[4500], *slash;
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", ct->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(ct->dir);
    snprintf(path, sizeof path, "%s", ct->dir);
    if ((slash = strrchr(path, '/')) != NULL) {
        *slash = '\0';
        rmdir(path);
    }
}

void otd_counter_destroy(otd_counter *ct)
{
    if (ct == NULL)
        return;
    if (ct->win != MPI_WIN_NULL) {
        MPI_Win_unlock_all(ct->win);
        MPI_Win_free(&ct->win);
    } else if (ct->dir != NULL) {
        MPI_Barrier(otd_comm_raw(ct->comm));
        if (otd_comm_rank(ct->comm) == 0)
            remove_files(ct);
    }
    free(ct->dir);
    free(ct->seen);
    free(ct);
}
