/* otd_fileio.h: the few ways otd writes plain files and directories, each
 * done once, every step checked, failures naming the path (OTD_ERR_IO).
 *
 * Files that readers may see at any moment (a sweep manifest a running
 * array task reads, a summary a user opens) are replaced whole: written
 * under a temporary name in the same directory, synced, renamed over the
 * old one, and the directory synced, so that a reader, or the file system
 * after a crash, sees the old or the new content and never half of it.
 * Records that grow (attempts, submissions) are appended a line at a time.
 * Nothing here is collective: call it on one rank. */
#ifndef OTD_FILEIO_H
#define OTD_FILEIO_H

#include <stddef.h>

#include "otd/otd_error.h"

/* Replace path with the len bytes of data, atomically as above: the
 * temporary file is "<path>.tmp.<pid>" (removed on failure). The directory
 * must exist. */
otd_err otd_write_file_atomic(const char *path, const void *data, size_t len);

/* Put the complete file tmp, written by other means (HDF5), in place of
 * path: sync tmp, rename it to path, sync the directory. tmp must be in
 * path's directory; on failure it is left for the caller to remove. */
otd_err otd_file_commit(const char *tmp, const char *path);

/* Append line (its bytes as given, normally ending in '\n') to path,
 * creating it: one write with O_APPEND, so concurrent appenders (a requeued
 * task, a rerun) never interleave inside a line, then synced with its
 * directory, so the line survives a crash once this returns. */
otd_err otd_append_line(const char *path, const char *line);

/* Sync directory dir: what makes a rename or a new name in it durable.
 * `what` names it in messages ("checkpoint directory"). */
otd_err otd_fsync_dir(const char *dir, const char *what);

/* mkdir -p dir, then check it is a writable directory; the message names
 * `what` ("run directory"), dir and the failing part. */
otd_err otd_make_dirs(const char *dir, const char *what);

/* Before an exclusive create: fail, naming the path, if it exists (otd
 * never overwrites a file; a dangling link counts) or its directory is not
 * writable, rather than a library's generic "unable to create file".
 * `what` names the file ("results file"). */
otd_err otd_check_new_path(const char *path, const char *what);

#endif
