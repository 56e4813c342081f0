/* model/job_info.h: a training job as its row and its loss curve's points,
 * as data: what store/jobs.h reads and codec/codec_job_info.h writes as the
 * replies of /v1/jobs.
 *
 * Plain fixed-size values: no ownership, no locks. */
#ifndef ODESERVE_MODEL_JOB_INFO_H
#define ODESERVE_MODEL_JOB_INFO_H

#include "model/job_status.h"

#include <stdbool.h>

typedef struct job_info {
    long long id;
    char model[65], dataset[65];
    job_status status;
    bool cancel_requested;
    char created_at[32], started_at[32], finished_at[32]; /* "" when not yet */
    long iterations, iteration; /* asked for; done as of the last checkpoint */
    double train_loss, val_loss, best_train_loss, best_val_loss; /* NaN = none yet */
    double elapsed;     /* seconds of training up to the last checkpoint */
    int result_version; /* 0 = none */
    char error[320];
} job_info;

typedef struct job_metric {
    long iteration;    /* 1-based: the iteration just done */
    double train_loss; /* of that iteration's mini-batch */
    double val_loss;   /* NaN when not evaluated then */
    double elapsed;    /* training seconds since the job first started */
    /* hybrid jobs: the physical parameters' values after the iteration,
     * in the model's order (borrowed from whoever filled the row); NULL
     * for other kinds. Written by store_job_checkpoint, read back apart
     * (store_job_metric_parameters). */
    const double *parameters;
    size_t n_parameters;
} job_metric;

#endif
