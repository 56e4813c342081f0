/* store/jobs.h: training jobs, their checkpoints and loss curves in SQLite.
 *
 * The table is the queue: store_job_claim takes the oldest queued job
 * (FIFO by id) and marks it running in one BEGIN IMMEDIATE transaction, so
 * two workers never get the same job. States (docs/training-jobs.md):
 *
 *   queued --claim--> running --finish--> succeeded | failed | cancelled
 *   queued --cancel--> cancelled
 *   running --requeue (shutdown, or start after a crash)--> queued
 *
 * A checkpoint and the metric rows since the previous one are written in
 * one transaction (store_job_checkpoint), so the loss curve never runs
 * ahead of, or falls behind, the state a restarted job resumes from.
 *
 * The status, the rows and the checkpoint are model/'s types (job_status.h,
 * job_info.h, job_ckpt.h). Rows come back as copies the caller owns (free() the
 * arrays, job_ckpt_free a checkpoint). Functions take the calling thread's
 * connection (db_conns_get) and are as thread-safe as SQLite's
 * one-connection-per-thread model; each write is one transaction. */
#ifndef ODESERVE_STORE_JOBS_H
#define ODESERVE_STORE_JOBS_H

#include "core/err.h"
#include "model/job_ckpt.h"
#include "model/job_info.h"
#include "model/job_status.h"
#include "model/model_def.h"
#include "store/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A new queued job; *id its number. `model` and `dataset` must be valid
 * names (model_name.h): ERR_INVALID, field "model" or "dataset", otherwise. */
err_code store_job_create(db *d, const char *model, const char *dataset, const char *spec,
                          long iterations, long long *id, err *e);
/* ERR_NOT_FOUND (field "id"). */
err_code store_job_get(db *d, long long id, job_info *out, err *e);
/* Jobs by id, all or with one status (status < 0 = all); *out malloc'ed. */
err_code store_job_list(db *d, int status, job_info **out, size_t *n, err *e);
/* Jobs per status (counts[JOB_QUEUED], ...), and *iters_per_s, the sum over
 * the running jobs of iterations done / training seconds as of each one's
 * last checkpoint (0 when none runs or none has checkpointed). For metrics:
 * one aggregate query, no rows copied. */
err_code store_job_counts(db *d, long long counts[JOB__COUNT], double *iters_per_s, err *e);
/* The loss curve, by iteration; *out malloc'ed. ERR_NOT_FOUND for no job. */
err_code store_job_metrics(db *d, long long id, job_metric **out, size_t *n, err *e);
/* The job's document as it was queued (*spec malloc'ed). ERR_NOT_FOUND
 * (field "id"). */
err_code store_job_spec(db *d, long long id, char **spec, err *e);
/* A hybrid job's parameters over the iterations: *out (malloc'ed, NULL
 * when no row has them: every other kind) holds *n_rows rows of *n_par
 * values, in iteration order, one per metric row. (The parameters
 * pointers of store_job_metrics' rows are NULL: the values come from
 * here.) */
err_code store_job_metric_parameters(db *d, long long id, double **out, size_t *n_rows,
                                     size_t *n_par, err *e);

/* Cancel: queued -> cancelled at once; running -> cancel_requested (the
 * worker stops at its next look); *after receives the status now. A
 * finished job is ERR_CONFLICT. */
err_code store_job_cancel(db *d, long long id, job_status *after, err *e);

/* Every running job back to queued (at start: their worker is gone), but
 * one whose cancel was asked (running or requeued) is cancelled ("cancelled
 * at iteration N", its checkpoint's). *n (may be NULL) receives how many
 * were requeued. */
err_code store_job_requeue_all(db *d, size_t *n, err *e);
/* One running job back to queued (a clean shutdown stops it). */
err_code store_job_requeue(db *d, long long id, err *e);

/* Claim the oldest queued job: *found = false when there is none. On
 * success it is running (started_at set the first time), *id and *spec
 * (malloc'ed JSON text) are filled and *ck receives its checkpoint
 * (iteration 0 when none). */
err_code store_job_claim(db *d, bool *found, long long *id, char **spec, job_ckpt *ck, err *e);

/* Write a checkpoint and the metric rows since the last one, in one
 * transaction. *cancel (may be NULL) receives cancel_requested. */
err_code store_job_checkpoint(db *d, long long id, const job_ckpt *ck, const job_metric *rows,
                              size_t n_rows, bool *cancel, err *e);

/* A running job succeeds: `def` is stored as the next version of `model`
 * (*version, may be NULL, receives its number) and the job marked
 * succeeded with it as result_version, in ONE transaction. A crash before
 * the commit leaves neither (the job, still running, is requeued at the
 * next start and resumes from its checkpoint), a crash after it leaves
 * both: a job's result is never stored twice. ERR_CONFLICT (field "id")
 * when the job is not running (nothing is stored); model errors as
 * store_model_put. */
err_code store_job_succeed(db *d, long long id, const char *model, const model_def *def,
                           int *version, err *e);

/* A running job ends without a result: failed (error) or cancelled. A
 * result goes through store_job_succeed. */
err_code store_job_finish(db *d, long long id, job_status status, const char *error, err *e);

#endif
