/* core/workq.h: a work queue, a fixed set of threads that run the jobs
 * handed to them, in order.
 *
 * For CPU-heavy work that must not hold up the thread that received it
 * (the daemon's evaluation pool: trajectory solves run here while the
 * threads that read requests keep serving). FIFO queue under one mutex and
 * two condition variables, after Redis bio.c. Each job goes queued ->
 * running -> done; the queue never cancels a job itself (a job that must
 * stop early watches a flag of its own).
 *
 * Thread-safe: any thread may submit; workq_free must be called once, by
 * the owner, after the last submit. */
#ifndef ODESERVE_CORE_WORKQ_H
#define ODESERVE_CORE_WORKQ_H

#include <stddef.h>

#include "core/err.h"

typedef struct workq workq;
typedef void (*workq_fn)(void *arg);

/* `threads` >= 1 workers; at most `max_queued` jobs wait (running ones do
 * not count). */
err_code workq_new(workq **out, int threads, size_t max_queued, err *e);

/* Queue fn(arg). ERR_UNAVAILABLE when the queue is full or the pool is
 * shutting down; fn is then not called and arg stays the caller's. */
err_code workq_submit(workq *q, workq_fn fn, void *arg, err *e);

/* Jobs queued or running right now. */
size_t workq_busy(workq *q);

/* A consistent look at the queue (under its lock: for a metrics scrape,
 * not for every request). */
typedef struct workq_stats {
    size_t queued;     /* waiting for a thread */
    size_t running;    /* being run */
    size_t max_queued; /* waiting jobs past which workq_submit refuses */
    int threads;
} workq_stats;
void workq_stats_get(workq *q, workq_stats *out);

/* Wait until no job is queued or running, at most timeout_s seconds
 * (negative = forever). Returns 1 when idle, 0 on timeout. */
int workq_wait_idle(workq *q, double timeout_s);

/* Refuse new jobs, run those already queued, join the threads, free.
 * NULL is a no-op. */
void workq_free(workq *q);

#endif
