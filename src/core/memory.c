/* memory.c: the memory check before large allocations (see otd_memory.h). */
#include "otd/otd_memory.h"

#include <stdio.h>

/* Bytes of this node's memory still available (MemAvailable), or -1. */
static double mem_available(void)
{
    char line[256];
    double kib = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024.0;
}

otd_err otd_memory_check(otd_comm *comm, double need, double max_fraction, const char *what,
                         const char *hint, double *avail_per_rank)
{
    otd_err err = OTD_OK;
    int node = 1;
    double v[2], have;
    if (avail_per_rank != NULL)
        *avail_per_rank = -1;
    OTD_CHECK(otd_comm_node_size(comm, &node));
    /* One reduction for both: the largest need, and the tightest node
     * (every rank reports minus what it has). Unknown memory (-1) wins the
     * maximum only where every node is unknown. */
    have = mem_available();
    v[0] = need;
    v[1] = have > 0 ? -have / node : -1e300;
    OTD_CHECK(otd_comm_max(comm, v, 2));
    need = v[0];
    have = v[1] <= -1e299 ? -1 : -v[1];
    if (avail_per_rank != NULL)
        *avail_per_rank = have;
    if (have > 0 && !(need <= max_fraction * have))
        OTD_FAIL(OTD_ERR_CONFIG,
                 "%s: %.3g GiB per rank needed, but the tightest node has %.3g GiB available "
                 "per rank (%.0f%% of it usable); %s",
                 what, need / OTD_GIB, have / OTD_GIB, 100.0 * max_fraction, hint);
done:
    return err;
}
