/* rundir.c: lock, inspect and set aside a run directory (see otd_rundir.h).
 *
 * otd never writes through a symbolic link in a run directory: the lock is
 * opened with O_NOFOLLOW (and created with O_EXCL), and the entries otd
 * writes (results.h5, checkpoints/ and what is in it) are looked at with
 * lstat before anything opens them, so that a link planted there cannot
 * make a run overwrite a file elsewhere. */
#include "otd/otd_rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "otd/otd_fileio.h"
#include "otd/otd_runfile.h"

#define PATH_CAP 4096

/* Attempts at taking a lock file that a failing run removes meanwhile. */
#define LOCK_TRIES 10

struct otd_rundir {
    otd_comm *comm;
    int lock_fd;      /* rank 0 only; -1 elsewhere */
    int lock_created; /* rank 0: this call created .lock (and holds it) */
    otd_rundir_state state;
    otd_status status;
    char dir[PATH_CAP], results[PATH_CAP], ckpt[PATH_CAP], lock[PATH_CAP];
    /* rank 0: the outermost directory this call created ("" if none): dir,
     * or an ancestor of it that did not exist either */
    char created[PATH_CAP];
};

/* lstat: a link is an entry of its own, not what it points to. */
static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Rank 0, before make_dirs: the outermost missing directory of dir (the
 * first prefix, at a '/', that does not exist), or "". */
static void outermost_missing(const char *dir, char *out, size_t cap)
{
    size_t len = strlen(dir);
    out[0] = '\0';
    if (len >= cap)
        return;
    memcpy(out, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if ((i < len && out[i] != '/') || out[i - 1] == '/')
            continue;
        out[i] = '\0';
        if (!exists(out))
            return;
        out[i] = dir[i];
    }
    out[0] = '\0';
}

/* Rank 0: the lock file, never through a link, created exclusively when it
 * is new. *created: this call made it. */
static otd_err open_lock(otd_rundir *rd, int *created)
{
    otd_err err = OTD_OK;
    struct stat st;
    *created = 0;
    rd->lock_fd = open(rd->lock, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (rd->lock_fd >= 0)
        *created = 1;
    else if (errno == EEXIST)
        rd->lock_fd = open(rd->lock, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (rd->lock_fd < 0 && errno == ELOOP)
        OTD_FAIL(OTD_ERR_ARG,
                 "'%s' is a symbolic link: otd never writes through one in a run directory; "
                 "remove it, or use another --out",
                 rd->lock);
    if (rd->lock_fd < 0 && errno != ENOENT)
        OTD_FAIL(OTD_ERR_IO, "cannot create lock file '%s': %s", rd->lock, strerror(errno));
    if (rd->lock_fd >= 0 && (fstat(rd->lock_fd, &st) != 0 || !S_ISREG(st.st_mode)))
        OTD_FAIL(OTD_ERR_ARG, "'%s' is not a regular file: remove it, or use another --out",
                 rd->lock);
done:
    if (err != OTD_OK && rd->lock_fd >= 0) {
        close(rd->lock_fd);
        rd->lock_fd = -1;
    }
    return err;
}

/* Rank 0: whether the lock held on lock_fd is still on the file named
 * .lock: a run that failed before writing anything removes the .lock it
 * created, and a lock on the removed file excludes nobody. */
static int lock_is_current(const otd_rundir *rd)
{
    struct stat held, named;
    return fstat(rd->lock_fd, &held) == 0 && lstat(rd->lock, &named) == 0 &&
           held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

/* Rank 0: take the lock, recording who holds it for the next one's message. */
static otd_err take_lock(otd_rundir *rd)
{
    otd_err err = OTD_OK;
    char who[512], host[256] = "?";
    int created = 0;
    for (int tries = 0;; tries++) {
        OTD_CHECK(open_lock(rd, &created));
        if (rd->lock_fd < 0) {
            /* Removed between the two opens: try again. */
            if (tries < LOCK_TRIES)
                continue;
            OTD_FAIL(OTD_ERR_IO, "cannot create lock file '%s': it keeps disappearing", rd->lock);
        }
        /* flock is released when the holder dies, kill -9 included. */
        if (flock(rd->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            ssize_t n = read(rd->lock_fd, who, sizeof who - 1);
            who[n > 0 ? n : 0] = '\0';
            who[strcspn(who, "\n")] = '\0';
            close(rd->lock_fd);
            rd->lock_fd = -1;
            OTD_FAIL(OTD_ERR_IO,
                     "run directory '%s' is in use by another otd run (%s); wait for it "
                     "or use another --out",
                     rd->dir, who[0] ? who : "holder unknown");
        }
        if (lock_is_current(rd))
            break;
        close(rd->lock_fd);
        rd->lock_fd = -1;
        if (tries >= LOCK_TRIES)
            OTD_FAIL(OTD_ERR_IO, "cannot lock '%s': it keeps being replaced", rd->lock);
    }
    rd->lock_created = created;
    gethostname(host, sizeof host - 1);
    int n = snprintf(who, sizeof who, "pid %ld on %s since %ld\n", (long)getpid(), host,
                     (long)time(NULL));
    if (ftruncate(rd->lock_fd, 0) != 0 || write(rd->lock_fd, who, (size_t)n) != n)
        OTD_FAIL(OTD_ERR_IO, "cannot write lock file '%s': %s", rd->lock, strerror(errno));
done:
    return err;
}

/* Rank 0: an entry otd writes must be what it looks like, and not a link:
 * a directory (want_dir) or a regular file, or absent. */
static otd_err check_entry(const char *path, int want_dir)
{
    otd_err err = OTD_OK;
    struct stat st;
    char to[PATH_CAP];
    ssize_t n;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return OTD_OK;
        OTD_FAIL(OTD_ERR_IO, "cannot inspect '%s': %s", path, strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
        n = readlink(path, to, sizeof to - 1);
        to[n > 0 ? n : 0] = '\0';
        OTD_FAIL(OTD_ERR_ARG,
                 "'%s' is a symbolic link (to '%s'): otd never reads or writes through one in "
                 "a run directory, so that a run cannot overwrite a file elsewhere; put the %s "
                 "itself there, or use another --out",
                 path, to, want_dir ? "directory" : "file");
    }
    if (want_dir && !S_ISDIR(st.st_mode))
        OTD_FAIL(OTD_ERR_ARG,
                 "'%s' is not a directory: it is where the run's checkpoints go; move it "
                 "away, or use another --out",
                 path);
    if (!want_dir && !S_ISREG(st.st_mode))
        OTD_FAIL(OTD_ERR_ARG, "'%s' is not a regular file: move it away, or use another --out",
                 path);
done:
    return err;
}

/* Rank 0: results.h5, checkpoints/ and every entry in it. */
static otd_err check_entries(const otd_rundir *rd)
{
    otd_err err = OTD_OK;
    DIR *d = NULL;
    struct dirent *e;
    char path[PATH_CAP + 256];
    OTD_CHECK(check_entry(rd->results, 0));
    OTD_CHECK(check_entry(rd->ckpt, 1));
    if ((d = opendir(rd->ckpt)) == NULL) {
        if (errno == ENOENT)
            goto done;
        OTD_FAIL(OTD_ERR_IO, "cannot list '%s': %s", rd->ckpt, strerror(errno));
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", rd->ckpt, e->d_name);
        OTD_CHECK(check_entry(path, 0));
    }
done:
    if (d != NULL)
        closedir(d);
    return err;
}

/* Rank 0: a committed checkpoint that HDF5 cannot even read without
 * crashing is damaged like any other: set aside as *.bad (what otd_ckpt_load
 * does with one that fails verification), so that the load goes on with the
 * next older one instead of crashing in it. */
static otd_err probe_checkpoints(const otd_rundir *rd)
{
    otd_err err = OTD_OK;
    DIR *d = NULL;
    struct dirent *e;
    char path[PATH_CAP + 256], bad[PATH_CAP + 260];
    size_t n;
    if ((d = opendir(rd->ckpt)) == NULL)
        return OTD_OK; /* none, or reported by the load */
    while ((e = readdir(d)) != NULL) {
        n = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) != 0 || n < 8 || strcmp(e->d_name + n - 3, ".h5") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", rd->ckpt, e->d_name);
        if (otd_runfile_probe(path) == OTD_OK)
            continue;
        snprintf(bad, sizeof bad, "%s.bad", path);
        if (rename(path, bad) != 0)
            OTD_FAIL(OTD_ERR_IO, "%s; cannot rename it to '%s': %s", otd_error_text(), bad,
                     strerror(errno));
        otd_warn("%s: renamed to %s", otd_error_text(), bad);
    }
done:
    closedir(d);
    return err;
}

/* Rank 0: move results.h5 and checkpoints/ to dir/previous-N (links as
 * links: rename never follows them). */
static otd_err set_aside(otd_rundir *rd, FILE *out)
{
    otd_err err = OTD_OK;
    char prev[PATH_CAP], to[PATH_CAP];
    if (!exists(rd->results) && !exists(rd->ckpt))
        return OTD_OK;
    for (int k = 1;; k++) {
        if (snprintf(prev, sizeof prev, "%s/previous-%d", rd->dir, k) >= (int)sizeof prev)
            OTD_FAIL(OTD_ERR_IO, "run directory name too long: '%s'", rd->dir);
        if (!exists(prev))
            break;
    }
    if (mkdir(prev, 0777) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot create '%s': %s", prev, strerror(errno));
    if (snprintf(to, sizeof to, "%s/results.h5", prev) >= (int)sizeof to)
        OTD_FAIL(OTD_ERR_IO, "run directory name too long: '%s'", rd->dir);
    if (exists(rd->results) && rename(rd->results, to) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot move '%s' to '%s': %s", rd->results, to, strerror(errno));
    if (snprintf(to, sizeof to, "%s/checkpoints", prev) >= (int)sizeof to)
        OTD_FAIL(OTD_ERR_IO, "run directory name too long: '%s'", rd->dir);
    if (exists(rd->ckpt) && rename(rd->ckpt, to) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot move '%s' to '%s': %s", rd->ckpt, to, strerror(errno));
    fprintf(out, "otd: --restart: the earlier run's results and checkpoints are in %s\n", prev);
    fflush(out);
done:
    return err;
}

/* Rank 0: FRESH, RESUME or DONE from results.h5's /summary status. */
static otd_err inspect(otd_rundir *rd)
{
    otd_err err = OTD_OK;
    char *status = NULL;
    rd->state = OTD_RUNDIR_FRESH;
    rd->status = OTD_STATUS_RUNNING;
    if (!exists(rd->results)) {
        if (exists(rd->ckpt))
            OTD_FAIL(OTD_ERR_FORMAT,
                     "'%s' has checkpoints but no results.h5: restore it, or "
                     "rerun with --restart to start over (the checkpoints are kept aside)",
                     rd->dir);
        return OTD_OK;
    }
    /* HDF5 may crash on damaged metadata rather than fail: look first, in a
     * process of its own. */
    if ((err = otd_runfile_probe(rd->results)) == OTD_ERR_FORMAT)
        OTD_FAIL(OTD_ERR_FORMAT, "%s: rerun with --restart to set it aside and start over",
                 otd_error_text());
    OTD_CHECK(err);
    /* Not a results file otd can go on with: the user decides. */
    if ((err = otd_runfile_read_status(rd->results, &status)) == OTD_ERR_FORMAT)
        OTD_FAIL(OTD_ERR_FORMAT, "%s: rerun with --restart to set it aside and start over",
                 otd_error_text());
    OTD_CHECK(err);
    /* No status yet: a run that died while creating its results. */
    if (status != NULL)
        OTD_CHECK(otd_status_parse(status, rd->results, &rd->status));
    rd->state = rd->status == OTD_STATUS_RUNNING ? OTD_RUNDIR_RESUME : OTD_RUNDIR_DONE;
    if (rd->state == OTD_RUNDIR_RESUME)
        OTD_CHECK(probe_checkpoints(rd));
done:
    free(status);
    return err;
}

static otd_err open_rank0(otd_rundir *rd, int restart, FILE *out)
{
    otd_err err = OTD_OK;
    outermost_missing(rd->dir, rd->created, sizeof rd->created);
    OTD_CHECK(otd_make_dirs(rd->dir, "run directory"));
    OTD_CHECK(take_lock(rd));
    /* --restart sets links aside like files (rename does not follow them). */
    if (restart)
        OTD_CHECK(set_aside(rd, out));
    OTD_CHECK(check_entries(rd));
    OTD_CHECK(inspect(rd));
done:
    return err;
}

otd_err otd_rundir_open(otd_comm *comm, const char *dir, int restart, FILE *out,
                        otd_rundir **out_rd)
{
    otd_err err = OTD_OK;
    otd_rundir *rd = NULL;
    int64_t state[2] = {0, 0};
    *out_rd = NULL;
    /* The same argument on every rank: the same verdict, before any file. */
    if (dir == NULL || dir[0] == '\0')
        return OTD_ERROR(OTD_ERR_ARG, "the run directory name is empty: name a directory (--out)");
    OTD_ALLOC(rd, 1);
    rd->comm = comm;
    rd->lock_fd = -1;
    if (snprintf(rd->dir, sizeof rd->dir, "%s", dir) >= PATH_CAP - 32)
        OTD_FAIL(OTD_ERR_IO, "output directory name too long: '%s'", dir);
    snprintf(rd->results, PATH_CAP, "%s/results.h5", dir);
    snprintf(rd->ckpt, PATH_CAP, "%s/checkpoints", dir);
    snprintf(rd->lock, PATH_CAP, "%s/.lock", dir);
    OTD_CHECK(
        otd_comm_agree(comm, otd_comm_rank(comm) == 0 ? open_rank0(rd, restart, out) : OTD_OK));
    state[0] = rd->state;
    state[1] = rd->status;
    OTD_CHECK(otd_comm_bcast(comm, state, sizeof state, 0));
    rd->state = (otd_rundir_state)state[0];
    rd->status = (otd_status)state[1];
    *out_rd = rd;
    rd = NULL;
done:
    /* Refused: what this call added goes again. */
    otd_rundir_discard(rd);
    return err;
}

void otd_rundir_close(otd_rundir *rd)
{
    if (rd == NULL)
        return;
    if (rd->lock_fd >= 0)
        close(rd->lock_fd); /* releases the flock */
    free(rd);
}

/* Rank 0: remove dir, then its parents up to the outermost one this call
 * created; rmdir removes only empty directories, so nothing else goes. */
static void remove_created_dirs(const otd_rundir *rd)
{
    char p[PATH_CAP];
    size_t top = strlen(rd->created), len;
    if (top == 0)
        return;
    snprintf(p, sizeof p, "%s", rd->dir);
    for (;;) {
        len = strlen(p);
        while (len > 1 && p[len - 1] == '/')
            p[--len] = '\0';
        if (len < top || rmdir(p) != 0)
            return;
        while (len > 0 && p[len - 1] != '/')
            p[--len] = '\0';
    }
}

void otd_rundir_discard(otd_rundir *rd)
{
    if (rd == NULL)
        return;
    /* Only while holding the lock on it: a .lock another run holds, or one
     * that was there before, stays. */
    if (rd->lock_fd >= 0 && rd->lock_created && lock_is_current(rd) && unlink(rd->lock) != 0)
        otd_warn("cannot remove lock file '%s': %s", rd->lock, strerror(errno));
    if (rd->lock_fd >= 0)
        remove_created_dirs(rd);
    otd_rundir_close(rd);
}

otd_rundir_state otd_rundir_get_state(const otd_rundir *rd)
{
    return rd->state;
}
otd_status otd_rundir_status(const otd_rundir *rd)
{
    return rd->status;
}
const char *otd_rundir_results_path(const otd_rundir *rd)
{
    return rd->results;
}
const char *otd_rundir_ckpt_dir(const otd_rundir *rd)
{
    return rd->ckpt;
}
