/* jobs/train_job.h: run one claimed training job to its end (or to a stop).
 *
 * The orchestration (docs/training-jobs.md): load the starting model
 * (from_version from the store, or the document's init) and the dataset,
 * hand them to the training maths (model/trainer.h: one iteration = a
 * mini-batch, its loss and gradient, an optimiser step, validation), and
 * run iterations. Every checkpoint_every_iterations iterations or
 * checkpoint_every_seconds seconds, the trainer's state (parameters, best
 * parameters, optimiser state, RNG state, iteration) and the metric rows
 * since the previous checkpoint are written in one transaction
 * (store_job_checkpoint); a claimed checkpoint is restored into the
 * trainer before the first iteration.
 *
 * Ends: succeeded (the best parameters stored as a new version of the
 * model, named by the job, in one transaction with the job's status:
 * store_job_succeed), failed (a non-finite loss or gradient, a
 * solver failure, a bad dataset: the reason recorded, the model
 * untouched), cancelled (POST .../cancel), or requeued when *stop is set
 * (shutdown: it resumes from this checkpoint at the next start).
 *
 * Runs on the calling worker thread with its own database connection; an
 * ode or cde job with "threads" > 1 (or lim->threads > 1) also computes
 * each mini-batch on helper threads of its own (model/trainer.h), which
 * yield to serving while lim->serving_busy says so. */
#ifndef ODESERVE_JOBS_TRAIN_JOB_H
#define ODESERVE_JOBS_TRAIN_JOB_H

#include <stdatomic.h>

#include "model/job_spec.h"
#include "store/db.h"
#include "store/jobs.h"

typedef struct train_limits {
    long checkpoint_every_iterations; /* >= 1 */
    double checkpoint_every_seconds;  /* > 0 */
    const atomic_int *stop;           /* set at shutdown: checkpoint, requeue, return */
    const atomic_int *cancel;         /* set by a cancel request for this job (may be NULL) */
    job_spec_decode_fn decode;        /* the job document's decoder */
    int threads;                      /* a job's threads when its document gives none; 0 = 1 */
    int (*serving_busy)(void *ctx);   /* may be NULL: the job's helper threads yield while */
    void *serving_ctx;                /* it is nonzero (model/trainer.h trainer_yield_set) */
} train_limits;

/* Run job `id` (its document `spec`, its checkpoint `ck`: iteration 0 for
 * a fresh start) and record how it ended. Returns the status it ended in
 * (JOB_QUEUED when stopped). */
job_status train_job_run(db *d, long long id, const char *spec, const job_ckpt *ck,
                         const train_limits *lim);

#endif
