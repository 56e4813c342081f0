/* core/workq.c: see workq.h. */
#include "core/workq.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    workq_fn fn;
    void *arg;
    struct job *next;
} job;

struct workq {
    pthread_mutex_t mu;
    pthread_cond_t work; /* signalled when a job is queued or the pool closes */
    pthread_cond_t idle; /* signalled when busy drops to 0 */
    job *head, *tail;    /* FIFO */
    size_t queued;       /* jobs in the list */
    size_t running;      /* jobs being run */
    atomic_size_t busy;  /* queued + running, read without the lock by workq_busy (every
                            trajectory request asks, from every HTTP thread) */
    size_t max_queued;
    int closing;   /* no more submits; workers exit when the list is empty */
    int n_threads; /* started threads */
    pthread_t *threads;
};

static void *worker(void *arg)
{
    workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->closing)
            pthread_cond_wait(&q->work, &q->mu);
        job *j = q->head;
        if (!j) break; /* closing and drained */
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        q->queued--;
        q->running++;
        pthread_mutex_unlock(&q->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&q->mu);
        q->running--;
        atomic_fetch_sub_explicit(&q->busy, 1, memory_order_relaxed);
        if (q->queued == 0 && q->running == 0) pthread_cond_broadcast(&q->idle);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

err_code workq_new(workq **out, int threads, size_t max_queued, err *e)
{
    *out = NULL;
    if (threads < 1) return err_set(e, ERR_INVALID, "threads", "need at least one thread");
    workq *q = calloc(1, sizeof *q);
    if (!q) return err_set(e, ERR_NOMEM, NULL, "workq: out of memory");
    q->threads = calloc((size_t)threads, sizeof *q->threads);
    if (!q->threads) {
        free(q);
        return err_set(e, ERR_NOMEM, NULL, "workq: out of memory");
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->idle, NULL);
    q->max_queued = max_queued;
    atomic_init(&q->busy, 0);
    for (; q->n_threads < threads; q->n_threads++) {
        int rc = pthread_create(&q->threads[q->n_threads], NULL, worker, q);
        if (rc != 0) {
            err_set(e, ERR_INTERNAL, NULL, "workq: cannot start thread: %s", strerror(rc));
            workq_free(q);
            return ERR_INTERNAL;
        }
    }
    *out = q;
    return ERR_OK;
}

err_code workq_submit(workq *q, workq_fn fn, void *arg, err *e)
{
    job *j = malloc(sizeof *j);
    if (!j) return err_set(e, ERR_NOMEM, NULL, "workq: out of memory");
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->closing || q->queued >= q->max_queued) {
        int closing = q->closing;
        pthread_mutex_unlock(&q->mu);
        free(j);
        return err_set(e, ERR_UNAVAILABLE, NULL,
                       closing ? "the server is shutting down"
                               : "too many evaluations are waiting; retry later");
    }
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->queued++;
    atomic_fetch_add_explicit(&q->busy, 1, memory_order_relaxed);
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    return ERR_OK;
}

size_t workq_busy(workq *q)
{
    return atomic_load_explicit(&q->busy, memory_order_relaxed);
}

void workq_stats_get(workq *q, workq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    out->queued = q->queued;
    out->running = q->running;
    out->max_queued = q->max_queued;
    out->threads = q->n_threads;
    pthread_mutex_unlock(&q->mu);
}

int workq_wait_idle(workq *q, double timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_s >= 0) {
        double s = floor(timeout_s);
        until.tv_sec += (time_t)s;
        until.tv_nsec += (long)((timeout_s - s) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    while (q->queued + q->running > 0 && rc != ETIMEDOUT) {
        if (timeout_s < 0)
            pthread_cond_wait(&q->idle, &q->mu);
        else
            rc = pthread_cond_timedwait(&q->idle, &q->mu, &until);
    }
    int idle = q->queued + q->running == 0;
    pthread_mutex_unlock(&q->mu);
    return idle;
}

void workq_free(workq *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->closing = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    free(q->threads);
    free(q);
}
