/* jobsdir.h: where `otd sweep` finds jobs/ (the Slurm scripts
 * its batch scripts run), with no path compiled in. */
#ifndef OTD_CLI_JOBSDIR_H
#define OTD_CLI_JOBSDIR_H

#include "otd/otd_error.h"

/* The jobs/ directory for the otd binary at `self` (its /proc/self/exe), in
 * this order: the environment variable OTD_JOBS_DIR as given; an installed
 * tree's <prefix>/share/otd/jobs for <prefix>/bin/otd; the directory that the
 * link otd-jobs beside the binary points at (CMake makes it in a build
 * directory: the source tree's jobs/). Each candidate counts only if it holds
 * slurm/task.sh; the path returned is canonical. OTD_ERR_IO, naming
 * the places looked at, if none does. Not collective. *dir: free() it. */
otd_err otd_jobs_dir(const char *self, char **dir);

#endif
