/* status.c: what state one sweep point is in (see otd_collect.h).
 *
 * The rules, in order (a run's status through otd_status.h's one mapping):
 *   results.h5 status whose outcome is done               -> done
 *   outcome failed (nonfinite)                            -> failed, the status as reason
 *   outcome unfinished, .lock held by a live run          -> running
 *   outcome unfinished, lock free                         -> failed "interrupted at iteration N;
 *                                                             resumable"
 *   no results.h5, manifest invalid or last exit nonzero  -> failed, with the config error or
 *                                                             the exit code
 *   otherwise                                             -> missing */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "otd/otd_collect.h"
#include "otd/otd_config.h"
#include "otd/otd_runfile.h"
#include "otd/otd_status.h"
#include "sweep/sweep_internal.h"

const char *otd_point_status_name(otd_point_status s)
{
    static const char *const names[] = {"done", "running", "failed", "missing"};
    return s < OTD_POINT_NSTATUS_ ? names[s] : "?";
}

void otd_point_info_free(otd_point_info *info)
{
    free(info->reason);
    for (int k = 0; k < info->nnum; k++)
        free(info->num_names[k]);
    free(info->num_names);
    free(info->num_vals);
    free(info->num_is_int);
    memset(info, 0, sizeof *info);
}

static otd_err set_reason(otd_point_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static otd_err set_reason(otd_point_info *info, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(info->reason);
    if ((info->reason = strdup(buf)) == NULL)
        return OTD_ERROR(OTD_ERR_NOMEM, "out of memory");
    return OTD_OK;
}

/* Is the run directory's lock held? Tested with a shared, non-blocking
 * flock on a read-only descriptor, released at once: nothing is created or
 * written. (A run that starts in that instant sees the lock taken and says
 * so; it is never silently damaged.) */
static int lock_held(const char *rundir)
{
    char path[4300];
    int fd, held = 0;
    snprintf(path, sizeof path, "%s/.lock", rundir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0)
        held = errno == EWOULDBLOCK;
    close(fd); /* releases our shared lock, if we got it */
    return held;
}

/* tasks/<name>.exit: one "<time> <code> <host> <jobid>" line per attempt. */
static void read_attempts(const char *dir, const char *name, otd_point_info *info)
{
    char path[4200], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/tasks/%s.exit", dir, name);
    if (otd_read_text_file(path, "exit record", OTD_ERR_IO, &text, &len) != OTD_OK) {
        otd_error_clear();
        return;
    }
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        long long t;
        int code;
        if (nl != NULL)
            *nl = '\0';
        if (sscanf(line, "%lld %d", &t, &code) == 2) {
            if (info->attempts == 0 || t < info->first_time)
                info->first_time = t;
            info->attempts++;
            info->last_code = code;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(text);
}

/* Read /summary of results: *status (malloc'd; "running" when there is
 * none yet), numeric attributes, iters (or the last history row). */
static otd_err read_results(const char *path, otd_point_info *info, char **status)
{
    otd_err err = OTD_OK;
    otd_runfile_summary sum;
    *status = NULL;
    OTD_CHECK(otd_runfile_read_summary(path, &sum));
    /* The numbers move into info, which frees them. */
    info->nnum = sum.nnum;
    info->num_names = sum.num_names;
    info->num_vals = sum.num_vals;
    info->num_is_int = sum.num_is_int;
    sum.nnum = 0;
    sum.num_names = NULL;
    sum.num_vals = NULL;
    sum.num_is_int = NULL;
    info->iters = sum.iters;
    *status = sum.status != NULL ? sum.status : strdup("running");
    sum.status = NULL;
    if (*status == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
done:
    otd_runfile_summary_free(&sum);
    return err;
}

/* Why a point without results failed: the config error if its config does
 * not parse (re-validated now, so the message is current), else the exit
 * code of its last attempt. */
static otd_err failed_without_results(const char *dir, const otd_manifest_row *row,
                                      otd_point_info *info)
{
    otd_err err = OTD_OK;
    char path[4200], *text = NULL, code[32];
    size_t len = 0;
    otd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(code, sizeof code, info->attempts > 0 ? "exit %d" : "invalid", info->last_code);
    snprintf(path, sizeof path, "%s/%s", dir, row->config);
    if (otd_read_text_file(path, "config", OTD_ERR_IO, &text, &len) != OTD_OK ||
        otd_config_parse(text, len, row->config, NULL, 0, &cfg) != OTD_OK) {
        OTD_CHECK(set_reason(info, "%s: %s", code, otd_error_text()));
    } else {
        OTD_CHECK(set_reason(info, "%s (see logs/)", code));
    }
    otd_error_clear();
done:
    otd_config_free(&cfg);
    free(text);
    return err;
}

/* A point with results: its verdict from the run's status through the one
 * mapping of otd_status.h; an unfinished run is running while its lock is
 * held and interrupted (failed, resumable) when it is not. */
static otd_err classify(const char *results, const char *stored, int held, otd_point_info *info)
{
    otd_err err = OTD_OK;
    otd_status st;
    if (otd_status_parse(stored, results, &st) != OTD_OK) {
        info->status = OTD_POINT_FAILED;
        OTD_CHECK(set_reason(info, "results.h5 has an unknown status '%s'", stored));
        otd_error_clear();
        goto done;
    }
    switch (otd_status_outcome(st)) {
    case OTD_OUTCOME_DONE:
        info->status = OTD_POINT_DONE;
        break;
    case OTD_OUTCOME_UNFINISHED:
        info->status = held ? OTD_POINT_RUNNING : OTD_POINT_FAILED;
        if (held)
            OTD_CHECK(set_reason(info, "at iteration %lld", (long long)info->iters));
        else
            OTD_CHECK(set_reason(info, "interrupted at iteration %lld; resumable",
                                 (long long)(info->iters > 0 ? info->iters : 0)));
        break;
    case OTD_OUTCOME_FAILED:
        info->status = OTD_POINT_FAILED;
        OTD_CHECK(set_reason(info, "%s", otd_status_name(st)));
        break;
    }
done:
    return err;
}

otd_err otd_point_inspect(const char *dir, const otd_manifest_row *row, otd_point_info *info)
{
    otd_err err = OTD_OK;
    char rundir[4200], results[4300], *status = NULL;
    struct stat st;
    int held;
    memset(info, 0, sizeof *info);
    info->iters = -1;
    OTD_CHECK(set_reason(info, "%s", ""));
    snprintf(rundir, sizeof rundir, "%s/%s", dir, row->rundir);
    snprintf(results, sizeof results, "%s/results.h5", rundir);
    read_attempts(dir, row->name, info);
    held = lock_held(rundir);
    if (stat(results, &st) == 0) {
        if (read_results(results, info, &status) != OTD_OK) {
            info->status = held ? OTD_POINT_RUNNING : OTD_POINT_FAILED;
            err = held ? set_reason(info, "%s", "")
                       : set_reason(info, "results.h5 unreadable: %s", otd_error_text());
            if (err == OTD_OK)
                otd_error_clear();
            goto done;
        }
        OTD_CHECK(classify(results, status, held, info));
    } else if (held) {
        info->status = OTD_POINT_RUNNING;
        OTD_CHECK(set_reason(info, "starting"));
    } else if (strcmp(row->status, "invalid") == 0 ||
               (info->attempts > 0 && info->last_code != 0)) {
        info->status = OTD_POINT_FAILED;
        OTD_CHECK(failed_without_results(dir, row, info));
    } else {
        info->status = OTD_POINT_MISSING;
    }
done:
    free(status);
    return err;
}
