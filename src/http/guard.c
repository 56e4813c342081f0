/* http/guard.c: header deadline, body rate, limit by eviction, lingering
 * close. See guard.h. */
#include "http/guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

/* The guard's tick: how late a deadline may be enforced. */
#define GUARD_TICK_MS 50
/* Lingering close (nginx: lingering_time 30 s, lingering_timeout 5 s): a
 * client's remaining body over loopback or a LAN takes far less. */
#define GUARD_LINGER_TOTAL_S 10.0
#define GUARD_LINGER_IDLE_S 2.0
#define GUARD_LINGER_MAX 128

/* HEAD: reading a request's headers; IDLE: a keep-alive connection
 * between a reply and the next request line; BODY: reading a body; BUSY:
 * the request runs and replies. */
enum { PHASE_HEAD, PHASE_IDLE, PHASE_BODY, PHASE_BUSY };

struct http_guard_conn {
    int fd;
    atomic_int phase;
    atomic_llong since_us; /* clock_mono() at the phase's start, microseconds */
    atomic_ullong body;    /* body bytes in this phase */
    atomic_int linger;
    int shut; /* shut down by the guard (under the mutex) */
    http_guard_conn *prev, *next;
};

typedef struct guard_linger {
    int fd;
    double until, idle_until;
} guard_linger;

struct http_guard {
    unsigned limit;
    double header_timeout;
    double idle_timeout; /* 0: none */
    uint64_t min_body_rate;
    pthread_mutex_t mu;
    http_guard_conn *head, *tail; /* oldest first */
    unsigned live;                /* not shut */
    guard_linger linger[GUARD_LINGER_MAX];
    unsigned n_linger;
    atomic_int stop;
    pthread_t thread;
};

static long long now_us(void)
{
    return (long long)(clock_mono() * 1e6);
}

static void phase_set(http_guard_conn *gc, int phase)
{
    if (!gc) return;
    atomic_store(&gc->body, 0);
    atomic_store(&gc->since_us, now_us());
    atomic_store(&gc->phase, phase);
}

/* Under the mutex, and gc still listed: the socket is still
 * libmicrohttpd's, so the fd cannot have been reused by another connection.
 * libmicrohttpd 0.9.75 closes a connection's socket only after its
 * notify-connection callback said CLOSED (MHD_cleanup_connections, and the
 * failure path of new_connection_process_), and that callback unlists gc
 * under this same mutex (http_guard_close). */
static void guard_shut(http_guard *g, http_guard_conn *gc, const char *why)
{
    if (gc->shut) return;
    gc->shut = 1;
    g->live--;
    /* logged first: once shut, the client sees the close and may look for
     * the reason at once */
    log_info("connection_closed", "reason=%s", why);
    shutdown(gc->fd, SHUT_RDWR);
}

static void guard_scan(http_guard *g)
{
    long long now = now_us();
    long long head_us = (long long)(g->header_timeout * 1e6);
    long long idle_us = (long long)(g->idle_timeout * 1e6);
    for (http_guard_conn *gc = g->head; gc; gc = gc->next) {
        if (gc->shut) continue;
        /* phase before since: phase_set stores since first, so a new phase
         * is never read with the previous phase's start */
        int phase = atomic_load(&gc->phase);
        long long age = now - atomic_load(&gc->since_us);
        if (phase == PHASE_HEAD && age > head_us)
            guard_shut(g, gc, "header_timeout");
        else if (phase == PHASE_IDLE && idle_us > 0 && age > idle_us)
            guard_shut(g, gc, "connection_timeout");
        else if (phase == PHASE_BODY && g->min_body_rate && age > head_us &&
                 (double)atomic_load(&gc->body) < (double)g->min_body_rate * (double)age * 1e-6)
            guard_shut(g, gc, "body_too_slow");
    }
}

/* Read and drop what lingering clients still send; close at EOF, error or
 * the deadlines. Under the mutex (the set is small and reads never block). */
static void guard_drain(http_guard *g, const struct pollfd *pf, unsigned n)
{
    char buf[16384];
    double now = clock_mono();
    for (unsigned i = n; i-- > 0;) {
        guard_linger *l = &g->linger[i];
        int done = now > l->until || now > l->idle_until;
        if (!done && pf[i].revents) {
            ssize_t k;
            while ((k = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
                l->idle_until = now + GUARD_LINGER_IDLE_S;
            done = k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        }
        if (done) {
            close(l->fd);
            g->linger[i] = g->linger[--g->n_linger];
        }
    }
}

static void *guard_main(void *arg)
{
    http_guard *g = arg;
    struct pollfd pf[GUARD_LINGER_MAX];
    while (!atomic_load(&g->stop)) {
        pthread_mutex_lock(&g->mu);
        guard_scan(g);
        unsigned n = g->n_linger;
        for (unsigned i = 0; i < n; i++)
            pf[i] = (struct pollfd){.fd = g->linger[i].fd, .events = POLLIN};
        pthread_mutex_unlock(&g->mu);
        if (n == 0) {
            poll(NULL, 0, GUARD_TICK_MS);
            continue;
        }
        poll(pf, n, GUARD_TICK_MS);
        pthread_mutex_lock(&g->mu);
        /* only this thread removes from the set; additions go at its end */
        guard_drain(g, pf, n);
        pthread_mutex_unlock(&g->mu);
    }
    return NULL;
}

err_code http_guard_new(http_guard **out, unsigned limit, double header_timeout,
                        double idle_timeout, uint64_t min_body_rate, err *e)
{
    *out = NULL;
    http_guard *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "http guard: out of memory");
    g->limit = limit;
    g->header_timeout = header_timeout;
    g->idle_timeout = idle_timeout;
    g->min_body_rate = min_body_rate;
    pthread_mutex_init(&g->mu, NULL);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return err_set(e, ERR_IO, NULL, "http guard: cannot start its thread");
    }
    *out = g;
    return ERR_OK;
}

void http_guard_free(http_guard *g)
{
    if (!g) return;
    atomic_store(&g->stop, 1);
    pthread_join(g->thread, NULL);
    for (unsigned i = 0; i < g->n_linger; i++)
        close(g->linger[i].fd);
    for (http_guard_conn *gc = g->head, *next; gc; gc = next) {
        next = gc->next;
        free(gc);
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* Under the mutex: who makes way at the limit for the new connection nc.
 * The one waiting longest for its headers (most likely a slow client),
 * else the longest idle keep-alive one (the client reconnects when it has
 * a request; a request it sends at that very moment meets the closed
 * connection, HTTP's keep-alive race, which clients answer by retrying on
 * a new one), else NULL: nc itself. */
static http_guard_conn *guard_victim(http_guard *g, const http_guard_conn *nc)
{
    http_guard_conn *head = NULL, *idle = NULL;
    for (http_guard_conn *c = g->head; c; c = c->next) {
        if (c->shut || c == nc) continue;
        int phase = atomic_load(&c->phase);
        long long since = atomic_load(&c->since_us);
        if (phase == PHASE_HEAD && (!head || since < atomic_load(&head->since_us)))
            head = c;
        else if (phase == PHASE_IDLE && (!idle || since < atomic_load(&idle->since_us)))
            idle = c;
    }
    return head ? head : idle;
}

http_guard_conn *http_guard_open(http_guard *g, int fd)
{
    http_guard_conn *gc = calloc(1, sizeof *gc);
    if (!gc) return NULL;
    gc->fd = fd;
    phase_set(gc, PHASE_HEAD);
    pthread_mutex_lock(&g->mu);
    gc->prev = g->tail;
    if (g->tail)
        g->tail->next = gc;
    else
        g->head = gc;
    g->tail = gc;
    g->live++;
    if (g->live > g->limit) {
        http_guard_conn *old = guard_victim(g, gc);
        guard_shut(g, old ? old : gc, "connection_limit");
    }
    pthread_mutex_unlock(&g->mu);
    return gc;
}

void http_guard_close(http_guard *g, http_guard_conn *gc)
{
    if (!gc) return;
    pthread_mutex_lock(&g->mu);
    if (gc->prev)
        gc->prev->next = gc->next;
    else
        g->head = gc->next;
    if (gc->next)
        gc->next->prev = gc->prev;
    else
        g->tail = gc->prev;
    if (!gc->shut) g->live--;
    if (atomic_load(&gc->linger) && !gc->shut && g->n_linger < GUARD_LINGER_MAX) {
        int fd = fcntl(gc->fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0) {
            /* our FIN after the reply; the client's body still comes in */
            shutdown(fd, SHUT_WR);
            double now = clock_mono();
            g->linger[g->n_linger++] = (guard_linger){
                .fd = fd, .until = now + GUARD_LINGER_TOTAL_S,
                .idle_until = now + GUARD_LINGER_IDLE_S};
        }
    }
    pthread_mutex_unlock(&g->mu);
    free(gc);
}

void http_guard_request_line(http_guard_conn *gc)
{
    /* only the connection's own HTTP thread writes its phase */
    if (gc && atomic_load(&gc->phase) == PHASE_IDLE) phase_set(gc, PHASE_HEAD);
}

void http_guard_headers_done(http_guard_conn *gc)
{
    phase_set(gc, PHASE_BODY);
}

void http_guard_body(http_guard_conn *gc, size_t n)
{
    if (gc) atomic_fetch_add(&gc->body, n);
}

void http_guard_busy(http_guard_conn *gc)
{
    if (gc && atomic_load(&gc->phase) != PHASE_BUSY) phase_set(gc, PHASE_BUSY);
}

void http_guard_idle(http_guard_conn *gc)
{
    phase_set(gc, PHASE_IDLE);
}

void http_guard_linger(http_guard_conn *gc)
{
    if (gc) atomic_store(&gc->linger, 1);
}
