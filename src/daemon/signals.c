/* daemon/signals.c: see signals.h. */
#include "daemon/signals.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static void daemon_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

int signals_block(void)
{
    sigset_t set;
    daemon_set(&set);
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0) return -1;
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

void signals_unblock(void)
{
    sigset_t set;
    daemon_set(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int signals_wait(double timeout_s)
{
    sigset_t set;
    daemon_set(&set);
    for (;;) {
        int sig;
        if (timeout_s < 0) {
            sig = sigwaitinfo(&set, NULL);
        } else {
            struct timespec ts;
            ts.tv_sec = (time_t)timeout_s;
            ts.tv_nsec = (long)((timeout_s - floor(timeout_s)) * 1e9);
            sig = sigtimedwait(&set, NULL, &ts);
        }
        if (sig > 0) return sig;
        if (errno == EAGAIN) return 0;
        /* EINTR: a signal outside the set (e.g. SIGSTOP/SIGCONT); wait again. */
    }
}
