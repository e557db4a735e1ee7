/* slab.c: allocation of the packed mode-1 slab (see otd_tensor.h). */
#include "otd/otd_tensor.h"

#include <stdlib.h>
#include <unistd.h>

#include "otd/otd_packed.h"

int64_t otd_slab_bytes(int64_t d, int order, int nranks)
{
    int64_t np = otd_packed_count(d, order - 1), rows = (d + nranks - 1) / nranks;
    if (np < 0 || np > INT64_MAX / 8 / rows)
        return -1;
    return rows * np * 8;
}

otd_err otd_slab_alloc(int order, const otd_layout *lay, otd_slab **out)
{
    otd_err err = OTD_OK;
    otd_slab *s = NULL;
    int64_t bytes = otd_slab_bytes(lay->d, order, lay->nranks);
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    *out = NULL;
    if (bytes < 0)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.dim = %lld, problem.order = %d: the packed tensor (d * C(d+l-2, l-1) "
                 "entries) overflows 64-bit sizes",
                 (long long)lay->d, order);
    /* Fail with the number before the allocator fails without one. */
    if (phys > 0 && (double)bytes > phys)
        OTD_FAIL(OTD_ERR_CONFIG,
                 "problem.dim = %lld, problem.order = %d: the dense tensor needs %.3g GiB per "
                 "rank at %d ranks, more than this node's %.3g GiB; use more ranks (nodes)",
                 (long long)lay->d, order, (double)bytes / 1073741824.0, lay->nranks,
                 phys / 1073741824.0);
    OTD_ALLOC(s, 1);
    s->order = order;
    s->d = lay->d;
    s->np = otd_packed_count(lay->d, order - 1);
    s->row0 = lay->row0;
    s->nrows = lay->nrows;
    s->S = otd_calloc((size_t)(s->nrows * s->np), sizeof *s->S);
    if (s->S == NULL)
        OTD_FAIL(OTD_ERR_NOMEM, "cannot allocate the %.3g GiB dense tensor slab of this rank",
                 (double)(s->nrows * s->np * 8) / 1073741824.0);
    *out = s;
    s = NULL;
done:
    otd_slab_destroy(s);
    return err;
}

void otd_slab_destroy(otd_slab *s)
{
    if (s == NULL)
        return;
    free(s->S);
    free(s);
}
