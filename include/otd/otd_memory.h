/* otd_memory.h: does what a run is about to allocate fit in its nodes'
 * memory? Checked before anything large is allocated, so that a size a
 * machine cannot hold is refused with the keys and the numbers (exit 2,
 * nothing written) instead of growing until the allocator or the kernel's
 * out-of-memory killer ends the job. The estimates come from the rows of
 * the engine and algorithm tables (otd_engine_memory,
 * otd_algo_check_resources) and the driver; this is the one comparison. */
#ifndef OTD_MEMORY_H
#define OTD_MEMORY_H

#include "otd/otd_comm.h"
#include "otd/otd_error.h"

/* Collective. need: the bytes this rank will hold (the largest need over
 * the ranks counts). It must fit in max_fraction of the memory available
 * per rank on the tightest node: MemAvailable of /proc/meminfo divided
 * among the ranks of comm sharing the node. Otherwise OTD_ERR_CONFIG, the
 * same on every rank: "<what>: X GiB per rank needed, but the tightest node
 * has Y GiB available per rank (Z% of it usable); <hint>". No check (OTD_OK)
 * where the available memory cannot be read. *avail_per_rank, unless NULL,
 * receives that memory (-1 when unknown). */
otd_err otd_memory_check(otd_comm *comm, double need, double max_fraction, const char *what,
                         const char *hint, double *avail_per_rank);

/* 1 GiB, for messages. */
#define OTD_GIB 1073741824.0

#endif
