/* daemon/signals.c: see signals.h. */
#include "daemon/signals.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static pthread_t waiter; /* the thread that calls signals_wait */

static void daemon_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

/* Runs only in threads that do not block the signals (started before
 * signals_block): hand the signal to the waiter, where it is blocked and
 * stays pending until sigwait. */
static void forward(int sig)
{
    int saved = errno;
    pthread_kill(waiter, sig);
    errno = saved;
}

int signals_block(void)
{
    sigset_t set;
    daemon_set(&set);
    waiter = pthread_self();
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0) return -1;
    sa.sa_handler = forward;
    sa.sa_mask = set;
    sa.sa_flags = SA_RESTART;
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0) return -1;
    return 0;
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
        /* EINTR: a signal outside the set (SIGCONT after SIGSTOP); wait again. */
    }
}
