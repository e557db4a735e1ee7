/* provenance.c: the /provenance attributes of a run (see provenance.h),
 * gathered from the modules that know them: hosts and the MPI library from
 * the comm module, the HDF5 version from the I/O module, BLAS and
 * ScaLAPACK from core/blas.c, the Slurm ids from the environment. */
#include "driver/provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "otd/otd_blas.h"
#include "otd/otd_text.h"

static const char *const names[OTD_PROV_NATTRS] = {
    "hosts",     "started_utc",  "finished_utc",        "command",
    "overrides", "mpi_library",  "hdf5_version",        "blas",
    "scalapack", "slurm_job_id", "slurm_array_task_id", "slurm_restart_count",
};

/* Not collective: this process's clock. */
static otd_err utc_now(char utc[OTD_PROV_UTC_CAP])
{
    time_t t = time(NULL);
    struct tm tm;
    if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL ||
        strftime(utc, OTD_PROV_UTC_CAP, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return OTD_ERROR(OTD_ERR_INTERNAL, "cannot read the clock for the run's provenance");
    return OTD_OK;
}

otd_err otd_prov_now(otd_comm *comm, char utc[OTD_PROV_UTC_CAP])
{
    otd_err err = OTD_OK;
    memset(utc, 0, OTD_PROV_UTC_CAP);
    if (otd_comm_rank(comm) == 0)
        err = utc_now(utc);
    OTD_CHECK(otd_comm_agree(comm, err));
    OTD_CHECK(otd_comm_bcast(comm, utc, OTD_PROV_UTC_CAP, 0));
done:
    return err;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? v : "";
}

/* Rank 0: every value but hosts, in names' order, each followed by a NUL. */
static otd_err local_values(const otd_run_opts *opts, otd_strbuf *b)
{
    otd_err err = OTD_OK;
    char utc[OTD_PROV_UTC_CAP], mpi[512], hdf5[64], blas[256], scalapack[4200];
    OTD_CHECK(utc_now(utc));
    OTD_CHECK(otd_comm_library_version(mpi, sizeof mpi));
    otd_results_hdf5_version(hdf5, sizeof hdf5);
    otd_blas_describe(blas, sizeof blas);
    otd_scalapack_describe(scalapack, sizeof scalapack);
    OTD_CHECK(otd_strbuf_printf(b, "%s%c%c", utc, 0, 0)); /* started, finished (empty) */
    OTD_CHECK(otd_strbuf_printf(b, "%s%c", opts != NULL && opts->command ? opts->command : "", 0));
    /* One --set per line, in the order given (later ones win). */
    for (int k = 0; opts != NULL && k < opts->noverrides; k++)
        OTD_CHECK(otd_strbuf_printf(b, "%s%s", k > 0 ? "\n" : "", opts->overrides[k]));
    OTD_CHECK(
        otd_strbuf_printf(b, "%c%s%c%s%c%s%c%s%c", 0, mpi, 0, hdf5, 0, blas, 0, scalapack, 0));
    OTD_CHECK(otd_strbuf_printf(b, "%s%c%s%c%s%c", env("SLURM_JOB_ID"), 0,
                                env("SLURM_ARRAY_TASK_ID"), 0, env("SLURM_RESTART_COUNT"), 0));
done:
    return err;
}

otd_err otd_prov_gather(otd_comm *comm, const otd_run_opts *opts, otd_prov *p)
{
    otd_err err = OTD_OK;
    otd_strbuf b = {0};
    char *hosts = NULL;
    size_t len = 0, at = 0, hlen = 0;
    memset(p, 0, sizeof *p);
    OTD_CHECK(otd_comm_hosts(comm, &hosts));
    if (otd_comm_rank(comm) == 0)
        err = local_values(opts, &b);
    OTD_CHECK(otd_comm_agree(comm, err));
    len = b.len;
    /* On failure below, p holds what it has: otd_prov_free releases it. */
    OTD_CHECK(otd_comm_bcast_bytes(comm, &b.data, &len, 0));
    /* hosts first, then the broadcast values: one block owned by p. */
    hlen = strlen(hosts);
    OTD_ALLOC(p->text, hlen + 1 + len + 1);
    memcpy(p->text, hosts, hlen + 1);
    memcpy(p->text + hlen + 1, b.data, len);
    for (int k = 0; k < OTD_PROV_NATTRS; k++) {
        if (at > hlen + 1 + len)
            OTD_FAIL(OTD_ERR_INTERNAL, "provenance: %d values expected", OTD_PROV_NATTRS);
        p->attrs[k] = (otd_attr){names[k], p->text + at};
        at += strlen(p->text + at) + 1;
    }
done:
    free(hosts);
    otd_strbuf_free(&b);
    return err;
}

void otd_prov_free(otd_prov *p)
{
    free(p->text);
    memset(p, 0, sizeof *p);
}
