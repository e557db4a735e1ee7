/* jobsdir.c: find jobs/ relative to the otd binary (see jobsdir.h). */
#include "cli/jobsdir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* realpath(dir) if dir/slurm/task.sh is readable, else NULL. */
static char *usable(const char *dir)
{
    char probe[PATH_MAX + 32];
    if (snprintf(probe, sizeof probe, "%s/slurm/task.sh", dir) >= (int)sizeof probe ||
        access(probe, R_OK) != 0)
        return NULL;
    return realpath(dir, NULL);
}

otd_err otd_jobs_dir(const char *self, char **dir)
{
    otd_err err = OTD_OK;
    const char *env = getenv("OTD_JOBS_DIR");
    char bindir[PATH_MAX], installed[PATH_MAX + 32], built[PATH_MAX + 32];
    *dir = NULL;
    if (env != NULL && env[0] != '\0') {
        /* The user's choice, as given (a missing one fails where it is used). */
        if ((*dir = strdup(env)) == NULL)
            OTD_FAIL(OTD_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(bindir, sizeof bindir, "%s", self);
    char *slash = strrchr(bindir, '/');
    if (slash == NULL)
        snprintf(bindir, sizeof bindir, ".");
    else
        *slash = '\0';
    snprintf(installed, sizeof installed, "%s/../share/otd/jobs", bindir);
    snprintf(built, sizeof built, "%s/otd-jobs", bindir);
    if ((*dir = usable(installed)) == NULL && (*dir = usable(built)) == NULL)
        OTD_FAIL(OTD_ERR_IO,
                 "cannot find otd's jobs/ directory (slurm/task.sh): not in %s (an "
                 "installed otd) nor %s (a build directory); reinstall otd, or set OTD_JOBS_DIR "
                 "to a jobs/ directory",
                 installed, built);
done:
    return err;
}
