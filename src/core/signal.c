/* signal.c: record the stop signals for the step loop (see otd_signal.h). */
#include "otd/otd_signal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static const int stop_signals[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT};
#define NSTOP (sizeof stop_signals / sizeof *stop_signals)

static volatile sig_atomic_t pending, interrupted;

static void on_signal(int signo)
{
    if (signo == SIGINT) {
        /* Ctrl-C again while the first is being honoured: the user wants
         * out now. SIGINT is blocked while this runs, so the raised one is
         * delivered, with the default action, when the handler returns
         * (sigaction and raise are async-signal-safe). */
        if (interrupted) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            sigaction(SIGINT, &dfl, NULL);
            raise(SIGINT);
            return;
        }
        interrupted = 1;
    }
    pending = signo;
}

static void set_mask(int how)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NSTOP; i++)
        sigaddset(&set, stop_signals[i]);
    /* Fails only for an invalid `how`: nothing to report. */
    (void)sigprocmask(how, &set, NULL);
}

void otd_signal_hold(void)
{
    set_mask(SIG_BLOCK);
}

void otd_signal_release(void)
{
    set_mask(SIG_UNBLOCK);
}

otd_err otd_signal_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSTOP; i++)
        if (sigaction(stop_signals[i], &sa, NULL) != 0)
            return OTD_ERROR(OTD_ERR_INTERNAL, "sigaction(%d): %s", stop_signals[i],
                             strerror(errno));
    return OTD_OK;
}

int otd_signal_pending(void)
{
    return pending;
}

int otd_signal_interrupted(void)
{
    return interrupted;
}
