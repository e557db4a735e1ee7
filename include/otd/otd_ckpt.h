/* otd_ckpt.h: checkpoints: everything needed to continue a run bit for bit.
 *
 * A checkpoint is OUT/checkpoints/ckpt-<iteration, 12 digits>.h5 (names sort
 * by iteration). It holds the factor matrix W at the start of iteration
 * `iter` and the reference W0 (both (d, m), written collectively from every
 * rank's rows), the driver's small state (otd_ckpt_meta), the resolved
 * configuration and its hash, the format version, the rank count and code
 * version that wrote it, and checksums of W and W0.
 *
 * There is no random-generator state: every draw is a pure function of
 * (seed, purpose, indices) (otd_rng.h), and the bl epoch is a function of
 * the iteration, so W, W0 and the iteration are the whole algorithm state.
 *
 * Commit protocol (docs/file-formats.md): write everything to ckpt-N.h5.tmp with
 * parallel HDF5; every rank agrees the write completed; rank 0 fsyncs the
 * file, renames it into place and fsyncs the directory; only then is the
 * oldest checkpoint beyond `keep` removed. A checkpoint is valid only if its
 * header attributes and both checksums verify, so a partial or damaged file
 * is never used.
 *
 * Checksums do not depend on the rank count: each element contributes
 * h(global row, column, value bits) and the contributions are added modulo
 * 2^64, an exact and order-free sum, so a file written at P = 3 verifies at
 * P = 2. */
#ifndef OTD_CKPT_H
#define OTD_CKPT_H

#include <stdint.h>

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

/* Bump when the layout of a checkpoint changes; older files are refused. */
#define OTD_CKPT_FORMAT 1

typedef struct {
    int64_t iter;         /* the next iteration to run (W is W_iter) */
    int64_t n_reinit;     /* re-initializations since the last logged history row */
    int64_t history_rows; /* rows of /history in results.h5 that belong before iter */
    double wall_offset;   /* seconds of step loop before this checkpoint */
    uint64_t config_hash; /* otd_config_hash of the configuration */
    char *config_yaml;    /* canonical YAML; on load malloc'd (free it), on write borrowed */
    int nranks;           /* rank count that wrote it (load only) */
} otd_ckpt_meta;

/* Collective. Commit a checkpoint of (W_loc, W0_loc) (this rank's rows,
 * column-major nrows x m) with meta into directory dir (created if needed),
 * then remove all but the newest `keep` (>= 1) checkpoints; the one just
 * written is never removed. meta (borrowed) must be identical on every
 * rank. On failure nothing committed is touched: the temporary file is
 * removed where possible. Errors, the same code on every rank and every
 * rank's message naming the path: OTD_ERR_IO (disk full, unwritable
 * directory; also a failure to remove an old checkpoint, after the new one
 * is committed), OTD_ERR_ARG (bad arguments), OTD_ERR_NOMEM.
 *
 * File layout: datasets /W and /W0, float64 (d, m), element [j][i] = global
 * row j, column i; root attributes format_version, iter, n_reinit,
 * history_rows, nranks (int64), wall_offset (double), and fixed-length
 * strings config_hash, checksum_W, checksum_W0 (16 hex digits), config,
 * otd_version, created (UTC, ISO 8601). */
otd_err otd_ckpt_write(const char *dir, otd_comm *comm, const otd_layout *lay, int64_t m,
                       const double *W_loc, const double *W0_loc, const otd_ckpt_meta *meta,
                       int keep);

/* Collective. Load the newest valid checkpoint of dir into this rank's rows
 * (*found = 1), or set *found = 0 if dir holds none. Candidates are tried
 * newest first; one that fails verification (unreadable, truncated, wrong
 * format version, checksum mismatch) is reported by rank 0 on stderr and
 * renamed to <name>.bad, and the next older one is tried. *found = 0 with
 * OTD_ERR_FORMAT when checkpoints existed but none was valid. The config
 * hash is not checked here: the caller compares meta->config_yaml with its
 * own and decides (otd_config_diff). A candidate with a valid header whose
 * W has another shape than (lay->d, m) was written by another
 * configuration: it is not renamed, and the load stops with OTD_ERR_CONFIG
 * naming both shapes, *found = 0, but meta filled from that checkpoint
 * (config_yaml malloc'd: free it) so that the caller can list the settings
 * that differ. A candidate that the file system does not let a rank read
 * (no permission, an I/O error) is not damage either: the load stops with
 * OTD_ERR_IO naming it, nothing renamed. Otherwise meta is written only
 * when *found = 1, and W_loc, W0_loc only then. Every rank returns the same
 * code. */
otd_err otd_ckpt_load(const char *dir, otd_comm *comm, const otd_layout *lay, int64_t m,
                      double *W_loc, double *W0_loc, otd_ckpt_meta *meta, int *found);

/* Test hook (also in release builds, inert unless set): when the environment
 * variable OTD_TEST_CRASH_AT is "PHASE" or "PHASE:N", the process kills
 * itself with SIGKILL on reaching PHASE of its N-th checkpoint write (1 if
 * not given). Phases, in order: create, data, checksum, close, fsync,
 * rename, prune. OTD_TEST_CRASH_RANK limits it to one rank. Not collective. */
void otd_ckpt_test_hook(const char *phase, otd_comm *comm);

/* The checksum contribution of element (row, col) of a (d, m) matrix with
 * the given value: a 64-bit mix of the linear index row * m + col and the
 * value's bits. A checksum is the sum of these over all elements modulo
 * 2^64 (stored as 16 hex digits in the attributes checksum_W and
 * checksum_W0). For a fixed position the mix is a bijection of the value
 * bits, so any change of one element changes the checksum. Exposed so that
 * a checkpoint can be verified independently (tests). Not collective. */
uint64_t otd_ckpt_mix(int64_t row, int64_t col, int64_t m, double value);

#endif
