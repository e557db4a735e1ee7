/* fileio.c: atomic replacement, durable appends and directories (see
 * otd_fileio.h). */
#include "otd/otd_fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Paths of otd's files are built in buffers of this size everywhere. */
#define PATH_CAP 4400

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static otd_err parent_dir(const char *path, char *dir, size_t cap)
{
    char *slash;
    if (snprintf(dir, cap, "%s", path) >= (int)cap)
        return OTD_ERROR(OTD_ERR_IO, "path too long: '%s'", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, cap, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return OTD_OK;
}

/* Write all of buf to fd, retrying short and interrupted writes. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sync and close fd (closed whatever happens); messages name `what` (a
 * "file", a "checkpoint directory") and path. */
static otd_err sync_close(int fd, const char *path, const char *what)
{
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return OTD_ERROR(OTD_ERR_IO, "cannot sync %s '%s': %s", what, path, strerror(e));
    }
    if (close(fd) != 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot close %s '%s': %s", what, path, strerror(errno));
    return OTD_OK;
}

/* Open path with flags only to sync it: a file whoever wrote it (fsync
 * works on a read-only descriptor), or a directory. */
static otd_err sync_path(const char *path, int flags, const char *what)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot open %s '%s' to sync it: %s", what, path,
                         strerror(errno));
    return sync_close(fd, path, what);
}

otd_err otd_fsync_dir(const char *dir, const char *what)
{
    return sync_path(dir, O_DIRECTORY | O_RDONLY, what);
}

otd_err otd_file_commit(const char *tmp, const char *path)
{
    otd_err err = OTD_OK;
    char dir[PATH_CAP];
    OTD_CHECK(parent_dir(path, dir, sizeof dir));
    OTD_CHECK(sync_path(tmp, O_RDONLY, "file"));
    if (rename(tmp, path) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    OTD_CHECK(otd_fsync_dir(dir, "directory"));
done:
    return err;
}

otd_err otd_write_file_atomic(const char *path, const void *data, size_t len)
{
    otd_err err = OTD_OK;
    char tmp[PATH_CAP + 32];
    int fd = -1, created = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        OTD_FAIL(OTD_ERR_IO, "path too long: '%s'", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    created = 1;
    if (write_all(fd, data, len) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    /* close reports a write the file system deferred (NFS); the sync is
     * otd_file_commit's. */
    if (close(fd) != 0) {
        fd = -1;
        OTD_FAIL(OTD_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    fd = -1;
    OTD_CHECK(otd_file_commit(tmp, path));
    created = 0; /* renamed: nothing left to remove */
done:
    if (fd >= 0)
        close(fd);
    if (created && unlink(tmp) != 0 && errno != ENOENT)
        otd_warn("cannot remove temporary file '%s': %s", tmp, strerror(errno));
    return err;
}

otd_err otd_append_line(const char *path, const char *line)
{
    otd_err err = OTD_OK;
    char dir[PATH_CAP];
    int fd = -1;
    OTD_CHECK(parent_dir(path, dir, sizeof dir));
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        OTD_FAIL(OTD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (write_all(fd, line, strlen(line)) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    err = sync_close(fd, path, "file");
    fd = -1;
    OTD_CHECK(err);
    /* The file may be new: its name must reach the disk too. */
    OTD_CHECK(otd_fsync_dir(dir, "directory"));
done:
    if (fd >= 0)
        close(fd);
    return err;
}

otd_err otd_make_dirs(const char *dir, const char *what)
{
    otd_err err = OTD_OK;
    char *p = NULL;
    size_t len = strlen(dir);
    OTD_ALLOC(p, len + 1);
    memcpy(p, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        struct stat st;
        if (i < len && p[i] != '/')
            continue;
        if (p[i - 1] == '/')
            continue; /* leading or doubled slash */
        p[i] = '\0';
        if ((mkdir(p, 0777) != 0 && errno != EEXIST) || stat(p, &st) != 0)
            OTD_FAIL(OTD_ERR_IO, "cannot create %s '%s' (at '%s'): %s", what, dir, p,
                     strerror(errno));
        if (!S_ISDIR(st.st_mode))
            OTD_FAIL(OTD_ERR_IO, "cannot create %s '%s': '%s' is not a directory", what, dir, p);
        p[i] = dir[i];
    }
    if (access(dir, W_OK | X_OK) != 0)
        OTD_FAIL(OTD_ERR_IO, "cannot write to %s '%s': %s", what, dir, strerror(errno));
done:
    free(p);
    return err;
}

otd_err otd_check_new_path(const char *path, const char *what)
{
    struct stat st;
    char dir[PATH_CAP];
    /* lstat: a dangling symbolic link also blocks an exclusive create. */
    if (lstat(path, &st) == 0)
        return OTD_ERROR(OTD_ERR_IO,
                         "%s '%s' already exists: otd never overwrites it (remove it or choose "
                         "another name)",
                         what, path);
    if (errno != ENOENT)
        return OTD_ERROR(OTD_ERR_IO, "cannot create %s '%s': %s", what, path, strerror(errno));
    if (parent_dir(path, dir, sizeof dir) != OTD_OK)
        return OTD_ERROR(OTD_ERR_IO, "%s name too long: '%s'", what, path);
    if (access(dir, W_OK | X_OK) != 0)
        return OTD_ERROR(OTD_ERR_IO, "cannot create %s '%s': directory '%s': %s", what, path, dir,
                         strerror(errno));
    return OTD_OK;
}
