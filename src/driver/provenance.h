/* provenance.h: what a run records about where, when, how and with which
 * libraries it ran: the /provenance attributes of results.h5 and the rows
 * of /provenance/resumes (docs/file-formats.md). Private to the driver. */
#ifndef OTD_DRIVER_PROVENANCE_H
#define OTD_DRIVER_PROVENANCE_H

#include "otd/otd_comm.h"
#include "otd/otd_results.h"
#include "otd/otd_run.h"

/* The attributes, in the order they are written. */
#define OTD_PROV_NATTRS 12

/* "2026-11-30T10:46:39Z" and its NUL, with room to spare. */
#define OTD_PROV_UTC_CAP 32

typedef struct {
    otd_attr attrs[OTD_PROV_NATTRS]; /* name -> value, values in `text` */
    char *text;                      /* the values, NUL-separated */
} otd_prov;

/* Collective: the /provenance attributes of a run that starts now, the same
 * on every rank (rank 0's clock, environment and libraries; every rank's
 * host), finished_utc empty. command and overrides come from opts (NULL:
 * empty). Free with otd_prov_free whatever the result. */
otd_err otd_prov_gather(otd_comm *comm, const otd_run_opts *opts, otd_prov *p);
void otd_prov_free(otd_prov *p);

/* Collective: the time now in UTC, ISO 8601 to the second, by rank 0's
 * clock: attributes are written collectively and must be the same bytes on
 * every rank, which two clocks read a second apart would not give. */
otd_err otd_prov_now(otd_comm *comm, char utc[OTD_PROV_UTC_CAP]);

#endif
