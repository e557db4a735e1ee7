/* otd_signal.h: the signals that stop a run with a checkpoint: the requeue
 * signals (Slurm's warning, time limit, preemption: SIGUSR1, SIGUSR2,
 * SIGTERM) and an interactive Ctrl-C (SIGINT).
 *
 * They only set a flag (the one piece of global mutable state signal
 * handling needs); the driver reads it once per step and folds it into the
 * step's allreduce, so every rank agrees at the same step boundary, writes a
 * checkpoint and stops: `otd run` exits OTD_EXIT_REQUEUE (75) after a
 * requeue signal, OTD_EXIT_INTERRUPTED (130) after SIGINT (otd_status.h,
 * otd_status_exit_after). A second requeue signal while that happens
 * changes nothing; a second SIGINT ends the process at once with SIGINT's
 * default action (the user insists; the commit protocol of otd_ckpt.h keeps
 * the last committed checkpoint valid whenever the process dies). */
#ifndef OTD_SIGNAL_H
#define OTD_SIGNAL_H

#include "otd/otd_error.h"

/* main(), before anything else: block the signals above, so that one
 * arriving before the handlers are installed (while otd_blas_select
 * re-executes the process, or MPI starts) stays pending instead of taking
 * its default action: the mask and pending signals survive exec. */
void otd_signal_hold(void);

/* Unblock what otd_signal_hold blocked: a held signal is delivered now, to
 * the handlers if they are installed, else with its default action (the
 * commands that do not checkpoint). */
void otd_signal_release(void);

/* Install the handlers (SA_RESTART: no I/O call fails with EINTR). */
otd_err otd_signal_install(void);

/* The last signal received, 0 if none. Async-signal-safe read. */
int otd_signal_pending(void);

/* 1 once SIGINT was received (whatever came after it), else 0. */
int otd_signal_interrupted(void);

#endif
