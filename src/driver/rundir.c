/* rundir.c: lock, inspect and set aside a run directory (see otd_rundir.h). */
#include "otd/otd_rundir.h"

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

struct otd_rundir {
    otd_comm *comm;
    int lock_fd; /* rank 0 only; -1 elsewhere */
    otd_rundir_state state;
    otd_status status;
    char dir[PATH_CAP], results[PATH_CAP], ckpt[PATH_CAP], lock[PATH_CAP];
};

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Rank 0: take the lock, recording who holds it for the next one's message. */
static otd_err take_lock(otd_rundir *rd)
{
    otd_err err = OTD_OK;
    char who[512], host[256] = "?";
    rd->lock_fd = open(rd->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (rd->lock_fd < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot create lock file '%s': %s", rd->lock, strerror(errno));
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
    gethostname(host, sizeof host - 1);
    int n = snprintf(who, sizeof who, "pid %ld on %s since %ld\n", (long)getpid(), host,
                     (long)time(NULL));
    if (ftruncate(rd->lock_fd, 0) != 0 || write(rd->lock_fd, who, (size_t)n) != n)
        OTD_FAIL(OTD_ERR_IO, "cannot write lock file '%s': %s", rd->lock, strerror(errno));
done:
    return err;
}

/* Rank 0: move results.h5 and checkpoints/ to dir/previous-N. */
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
    /* Not a results file otd can go on with: the user decides. */
    if ((err = otd_runfile_read_status(rd->results, &status)) == OTD_ERR_FORMAT)
        OTD_FAIL(OTD_ERR_FORMAT, "%s: rerun with --restart to set it aside and start over",
                 otd_error_text());
    OTD_CHECK(err);
    /* No status yet: a run that died while creating its results. */
    if (status != NULL)
        OTD_CHECK(otd_status_parse(status, rd->results, &rd->status));
    rd->state = rd->status == OTD_STATUS_RUNNING ? OTD_RUNDIR_RESUME : OTD_RUNDIR_DONE;
done:
    free(status);
    return err;
}

static otd_err open_rank0(otd_rundir *rd, int restart, FILE *out)
{
    otd_err err = OTD_OK;
    OTD_CHECK(otd_make_dirs(rd->dir, "run directory"));
    OTD_CHECK(take_lock(rd));
    if (restart)
        OTD_CHECK(set_aside(rd, out));
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
    otd_rundir_close(rd);
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
