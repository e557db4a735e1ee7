/* otd_signal.h: the requeue signals (Slurm's warning, time limit,
 * preemption).
 *
 * SIGUSR1, SIGUSR2 and SIGTERM only set a flag (the one piece of global
 * mutable state signal handling needs); the driver reads it once per step
 * and folds it into the step's allreduce, so every rank agrees at the same
 * step boundary, writes a checkpoint and exits with OTD_EXIT_REQUEUE. A
 * second signal while that happens changes nothing. */
#ifndef OTD_SIGNAL_H
#define OTD_SIGNAL_H

#include "otd/otd_error.h"

/* Install the handlers (SA_RESTART: no I/O call fails with EINTR). */
otd_err otd_signal_install(void);

/* The last signal received, 0 if none. Async-signal-safe read. */
int otd_signal_pending(void);

#endif
