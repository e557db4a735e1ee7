/* h5util.h: small HDF5 helpers shared by the I/O modules under src/io/,
 * and private to them: the rest of otd reaches HDF5 files through the
 * public headers (otd_results.h, otd_ckpt.h, otd_tensor.h, otd_input.h,
 * otd_runfile.h, otd_h5info.h, otd_h5table.h).
 *
 * HDF5 reports failure by a negative return and, unless told otherwise,
 * prints its whole error stack to standard error from every rank. otd
 * silences that (otd_h5_quiet) and turns a failure into one OTD_ERR_HDF5
 * message that names the call, the object path and HDF5's innermost
 * reason. */
#ifndef OTD_H5UTIL_H
#define OTD_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

/* Turn off HDF5's automatic error-stack printing for this thread. Not
 * collective; idempotent. Returns OTD_ERR_HDF5 if HDF5 refuses. */
otd_err otd_h5_quiet(void);

/* Raise OTD_ERR_HDF5: "<function> failed on '<path>': <HDF5's reason>".
 * `call` is a function name or a call's source text ("id = H5Dopen2(...)"),
 * of which only the function name is kept. Reads (and clears) the current
 * HDF5 error stack. Not collective. */
otd_err otd_h5_raise(const char *call, const char *path, const char *file, int line);

/* Evaluate an HDF5 call (hid_t, herr_t or htri_t); a negative result raises
 * OTD_ERR_HDF5 naming the call and `path` and jumps to `done`. Use as
 * OTD_H5(id = H5Dopen2(f, name, H5P_DEFAULT), name). */
#define OTD_H5(call, path)                                                                         \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            err = otd_h5_raise(#call, (path), __FILE__, __LINE__);                                 \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Close any HDF5 id (file, group, dataset, dataspace, datatype, attribute,
 * property list) if it is valid and set it to H5I_INVALID_HID. A failure is
 * recorded in *err only when *err is still OTD_OK: the first error wins.
 * Closing a file id is collective when the file was opened in parallel. */
void otd_h5_close(hid_t *id, otd_err *err);

/* Open group `path` (absolute or relative to loc), creating it and any
 * missing parents. Collective in a parallel file. *out must be closed. */
otd_err otd_h5_group(hid_t loc, const char *path, hid_t *out);

/* Write a scalar attribute on object loc, replacing one of the same name.
 * Strings are variable-length UTF-8 (h5py reads them as str). Collective in a
 * parallel file: every rank passes identical arguments. */
otd_err otd_h5_attr_string(hid_t loc, const char *name, const char *value);
otd_err otd_h5_attr_double(hid_t loc, const char *name, double value);
otd_err otd_h5_attr_int64(hid_t loc, const char *name, int64_t value);

/* A fixed-length string attribute (NUL-padded, UTF-8; h5py reads bytes).
 * Unlike a variable-length one its text lives in the attribute itself, not
 * in the global heap, which HDF5 does not checksum: in a file with
 * checksummed metadata (libver >= 1.8) a damaged value is then detected.
 * Collective in a parallel file, like the writers above. */
otd_err otd_h5_attr_string_fixed(hid_t loc, const char *name, const char *value);

/* Read a string attribute (fixed- or variable-length) into a malloc'd
 * NUL-terminated copy owned by the caller. Not collective. */
otd_err otd_h5_attr_read_string(hid_t loc, const char *name, char **out);

/* Read a scalar integer (any integer type that converts to int64) or float
 * attribute. OTD_ERR_FORMAT if it is not a single value of that class,
 * OTD_ERR_HDF5 if it is missing or unreadable. Not collective. */
otd_err otd_h5_attr_read_int64(hid_t loc, const char *name, int64_t *out);
otd_err otd_h5_attr_read_double(hid_t loc, const char *name, double *out);

/* Column-major rows x cols (leading dimension ld) into a new row-major
 * buffer *out (caller frees): HDF5 and h5py read C order, element [j][i] =
 * row j, column i. OTD_ERR_NOMEM on overflow or allocation failure. */
otd_err otd_h5_to_row_major(const double *a, int64_t rows, int64_t cols, int64_t ld, double **out);

/* The inverse: row-major rows x cols into column-major a (leading dimension
 * ld). Not fallible. */
void otd_h5_from_row_major(const double *b, int64_t rows, int64_t cols, int64_t ld, double *a);

/* Create float64 dataset `name` of shape dims[0..rank) in file (missing
 * parent groups too) and write the block start/count of it from the
 * row-major buf with transfer list dxpl; a zero count selects nothing (the
 * rank still joins a collective write). Collective in a parallel file. A
 * failure may differ between ranks: agree afterwards. */
otd_err otd_h5_write_block(hid_t file, hid_t dxpl, const char *name, int rank, const hsize_t *dims,
                           const hsize_t *start, const hsize_t *count, const double *buf);

/* Open dataset `name` of file, check that it is a float dataset of shape
 * dims[0..rank) (OTD_ERR_FORMAT naming both shapes if not), and read the
 * block start/count of it into the row-major buf with transfer list dxpl; a
 * zero count reads nothing but joins a collective read. Collective in a
 * parallel file; agree afterwards. */
otd_err otd_h5_read_block(hid_t file, hid_t dxpl, const char *name, int rank, const hsize_t *dims,
                          const hsize_t *start, const hsize_t *count, double *buf);

/* How otd_h5_open_mpio opens a file. */
typedef enum {
    OTD_H5_READ,      /* existing file, read only */
    OTD_H5_RDWR,      /* existing file, read and write */
    OTD_H5_CREATE,    /* new file; fails if it exists (otd never overwrites) */
    OTD_H5_CREATE_TR, /* new file over an empty one rank 0 has just created */
} otd_h5_mode;

/* Collective over comm: open or create `path` with the MPI-IO driver, the
 * one way every parallel file of otd is opened. Metadata is written by one
 * collective call rather than small writes from every rank; created files
 * use the HDF5 1.8 format, whose object headers and superblock carry
 * checksums, so damaged metadata is detected rather than read as values.
 * *dxpl, unless dxpl is NULL, receives a collective transfer list. The
 * caller closes both (otd_h5_close). */
otd_err otd_h5_open_mpio(const char *path, otd_comm *comm, otd_h5_mode mode, hid_t *file,
                         hid_t *dxpl);

/* Bytes of HDF5 metadata that one write may add besides its data (object
 * headers, B-tree nodes, heap collections, the superblock): a generous
 * allowance in the sizes given to otd_h5_reserve. */
#define OTD_H5_META_BYTES (64 << 10)

/* A full disk (or a quota, or a lost file system) seen inside a collective
 * HDF5 call fails on the ranks that write, not on all: they leave HDF5 at
 * different collective calls and the job hangs, and a file whose metadata
 * was half written may not open again. So every parallel file of otd is
 * written in steps:
 *
 *   1. rank 0 reserves the blocks the step will write (otd_h5_reserve_all:
 *      a full disk fails here, on one rank, before HDF5 writes anything,
 *      and is agreed); from then on HDF5's writes cannot run out of space;
 *   2. the collective HDF5 calls of the step;
 *   3. otd_h5_agree_write, before the next collective call, whatever the
 *      step did: every rank leaves it with the same verdict.
 *
 * Where the file system cannot reserve (no fallocate), step 1 passes and
 * step 3 still ends every rank at the same call. Files are closed on every
 * path, by every rank together, after an agreement. */

/* Not collective (rank 0 alone): make the file system hold blocks for
 * `bytes` bytes past the end of `path` (and for any hole before it) without
 * changing the file's size: HDF5 neither truncates the reservation nor sees
 * a size beyond its end of file. HDF5 allocates space ahead of what it has
 * written, so reserve right after a flush (H5Fflush), and count a chunk that
 * a write touches as a whole new one. With create, `path` is first created,
 * empty and exclusively (it must not exist). A file system without
 * fallocate reserves nothing and this succeeds. OTD_ERR_IO "cannot write
 * <what> '<path>': reserving N bytes: <reason>" (a full disk: "No space
 * left on device"). */
otd_err otd_h5_reserve(const char *path, int64_t bytes, int create, const char *what);

/* Collective: otd_h5_reserve on rank 0, agreed (otd_comm_agree_share). */
otd_err otd_h5_reserve_all(otd_comm *comm, const char *path, int64_t bytes, int create,
                           const char *what);

/* Not collective (rank 0 alone, after the file is closed): give back the
 * reserved blocks the writes did not use (those past the end of file) and,
 * with sync, make the file's data durable. OTD_ERR_IO naming the path. */
otd_err otd_h5_release(const char *path, int sync, const char *what);

/* otd_h5_release without sync, for a path that already failed: best
 * effort, and the current error message is left alone. */
void otd_h5_release_quiet(const char *path);

/* Collective: the verdict of one step of a collective write to `path`, the
 * same on every rank (otd_comm_agree_share: the failing rank's message goes
 * to all). An HDF5 failure of this rank is reported as OTD_ERR_IO "cannot
 * write <what> '<path>': <HDF5's reason>" (to a user it is a file that could
 * not be written), followed by "No space left on device (N bytes free)" when
 * the file system is (nearly) full: HDF5 does not pass errno on. */
otd_err otd_h5_agree_write(otd_comm *comm, otd_err local, const char *what, const char *path);

/* Not collective (rank 0 alone, after a failure was agreed and before the
 * collective close): empty the temporary file `path` that is being given up,
 * so that HDF5's close finds room for what it still writes (and fails
 * neither on one rank nor at all; a close that fails leaves HDF5 holding
 * the file, and its cleanup at MPI_Finalize crashes). Best effort. */
void otd_h5_abandon(const char *path);

/* Not collective: the last element of the 1-D dataset `path` of file, as a
 * double (a history column's newest row). *found = 0 (and OTD_OK) when the
 * dataset is missing or empty. */
otd_err otd_h5_read_last(hid_t file, const char *path, double *out, int *found);

/* Not collective: create the 1-D dataset `name` of n variable-length UTF-8
 * strings (h5py reads str) under loc, written from v. */
otd_err otd_h5_write_strings(hid_t loc, const char *name, int64_t n, const char *const *v);

#endif
