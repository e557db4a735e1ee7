/* signal.c: record requeue signals for the step loop (see otd_signal.h). */
#include "otd/otd_signal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending;

static void on_signal(int signo)
{
    pending = signo;
}

otd_err otd_signal_install(void)
{
    static const int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return OTD_ERROR(OTD_ERR_INTERNAL, "sigaction(%d): %s", sigs[i], strerror(errno));
    return OTD_OK;
}

int otd_signal_pending(void)
{
    return pending;
}
