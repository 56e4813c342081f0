/* jobs/pool.h: the training worker pool.
 *
 * DESIGN (after Redis bio.c): N worker threads wait on one condition
 * variable. The queue itself lives in SQLite (store/jobs.h): a worker
 * claims the oldest queued job (FIFO by id) in one transaction, so the
 * order and the queue survive restarts; jobs_pool_notify wakes the workers
 * when a job is queued, and they also look every second. Job states:
 *
 *   queued -> running -> succeeded | failed | cancelled
 *   queued -> cancelled                 (cancelled before a worker took it)
 *   running -> queued                   (shutdown; or found running at start,
 *                                        i.e. the daemon died: requeued)
 *
 * A requeued job resumes from its last checkpoint. Each worker has its own
 * database connection (db_conns_get) and runs one job at a time; OpenBLAS
 * must be single-threaded (the daemon sets it once for the process).
 * Cancel requests reach a running job through its worker's flag at once,
 * and through the database at its next checkpoint.
 *
 * Thread safety: every function may be called from any thread, except
 * jobs_pool_free, which must be the last call. */
#ifndef ODESERVE_JOBS_POOL_H
#define ODESERVE_JOBS_POOL_H

#include "core/err.h"
#include "model/job_spec.h"
#include "store/db.h"

typedef struct jobs_pool jobs_pool;

typedef struct jobs_pool_opts {
    int workers;                      /* >= 1 */
    long checkpoint_every_iterations; /* >= 1 */
    double checkpoint_every_seconds;  /* > 0 */
    job_spec_decode_fn decode;        /* the stored job document's decoder (codec/codec_job.h) */
    int train_threads;                /* a job's threads when its document gives none; 0 = 1 */
    int (*serving_busy)(void *ctx);   /* NULL, or nonzero while serving has work: */
    void *serving_ctx;                /* a job's helper threads then yield (train_job.h) */
} jobs_pool_opts;

/* Requeue jobs left running by a previous process, then start the
 * workers. `dbp` is borrowed and must outlive the pool. */
err_code jobs_pool_new(jobs_pool **out, db_conns *dbp, const jobs_pool_opts *o, err *e);
/* Ask the workers to stop without waiting: running jobs checkpoint and go
 * back to queued, and no worker takes a new job. NULL is a no-op. */
void jobs_pool_stop(jobs_pool *p);
/* jobs_pool_stop, then join the workers and free. NULL is a no-op. */
void jobs_pool_free(jobs_pool *p);
/* A job was queued. */
void jobs_pool_notify(jobs_pool *p);
/* Job `id` is to be cancelled: its worker, if it runs it, stops at once. */
void jobs_pool_cancel(jobs_pool *p, long long id);

#endif
