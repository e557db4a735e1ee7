/* local.c: run sweep points on this machine, N at a time (`otd sweep
 * --local N`), each as its own mpirun job started with fork/exec: no
 * shell, so nothing in a name or path is ever interpreted. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otd/otd_sweep.h"

/* In the child: into dir and standard output and error to log (each only
 * when given: NULL keeps ours), then exec. Only async-signal-safe calls
 * between fork and exec. */
static void exec_child(const char *dir, const char *log, char *const argv[])
{
    int fd;
    if (dir != NULL && chdir(dir) != 0)
        _exit(127);
    fd = log != NULL ? open(log, O_WRONLY | O_APPEND | O_CREAT, 0644) : -1;
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execvp(argv[0], argv);
    {
        static const char msg[] = "otd sweep: cannot execute the MPI launcher\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
    }
    _exit(127);
}

static otd_err start(const char *dir, const char *otd_bin, const char *mpiexec, const char *name,
                     int ranks, pid_t *pid)
{
    char nr[16], config[1100], rundir[1100], log[1100];
    char *argv[9];
    snprintf(nr, sizeof nr, "%d", ranks);
    snprintf(config, sizeof config, "configs/%s.yaml", name);
    snprintf(rundir, sizeof rundir, "runs/%s", name);
    snprintf(log, sizeof log, "logs/local-%s.out", name);
    argv[0] = (char *)mpiexec;
    argv[1] = "-n";
    argv[2] = nr;
    argv[3] = (char *)otd_bin;
    argv[4] = "run";
    argv[5] = config;
    argv[6] = "--out";
    argv[7] = rundir;
    argv[8] = NULL;
    /* Nothing buffered may be written twice, by the child too. */
    fflush(NULL);
    *pid = fork();
    if (*pid < 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot start '%s' for point %s: %s", mpiexec, name,
                         strerror(errno));
    if (*pid == 0)
        exec_child(dir, log, argv);
    return OTD_OK;
}

otd_err otd_sweep_run_local(const char *dir, const char *otd_bin, const char *mpiexec,
                            const char *const *names, int64_t n, int ranks, int parallel,
                            otd_local_done_fn done, void *ctx)
{
    otd_err err = OTD_OK;
    pid_t *pids = NULL;
    int64_t next = 0, running = 0;
    OTD_ALLOC(pids, n + 1);
    if (parallel < 1)
        parallel = 1;
    while (next < n || running > 0) {
        int st = 0, code;
        pid_t pid;
        int64_t k = 0;
        while (err == OTD_OK && next < n && running < parallel) {
            err = start(dir, otd_bin, mpiexec, names[next], ranks, &pids[next]);
            if (err == OTD_OK) {
                next++;
                running++;
            }
        }
        if (running == 0)
            break;
        pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            OTD_FAIL(OTD_ERR_IO, "waitpid failed: %s", strerror(errno));
        }
        while (k < next && pids[k] != pid)
            k++;
        if (k == next)
            continue; /* not one of ours */
        pids[k] = 0;
        running--;
        code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        /* The record is what `otd collect` reads; a point whose record
         * cannot be written still ran, so report rather than stop. */
        if (otd_sweep_record_exit(dir, names[k], code, "local") != OTD_OK)
            otd_warn("point %s: %s", names[k], otd_error_text());
        done(ctx, k, code);
    }
done:
    free(pids);
    return err;
}

otd_err otd_sweep_run_job(const char *dir, const char *otd_bin, const char *mpiexec, int nranks,
                          int *code)
{
    otd_err err = OTD_OK;
    char nr[16];
    char *argv[7];
    pid_t pid;
    int st = 0;
    snprintf(nr, sizeof nr, "%d", nranks);
    argv[0] = (char *)mpiexec;
    argv[1] = "-n";
    argv[2] = nr;
    argv[3] = (char *)otd_bin;
    argv[4] = "sweep-run";
    argv[5] = (char *)dir;
    argv[6] = NULL;
    fflush(NULL);
    if ((pid = fork()) < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot start '%s': %s", mpiexec, strerror(errno));
    if (pid == 0)
        exec_child(NULL, NULL, argv);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            OTD_FAIL(OTD_ERR_IO, "waitpid failed: %s", strerror(errno));
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (*code == 127)
        OTD_FAIL(OTD_ERR_IO, "'%s' could not start `otd sweep-run` (exit 127)", mpiexec);
done:
    return err;
}
