/* model/job_status.h: the states of a training job, as data, and their
 * names (the stored and the reported ones: "queued", "running", ...).
 *
 *   queued --claim--> running --finish--> succeeded | failed | cancelled
 *   queued --cancel--> cancelled
 *   running --requeue (shutdown, or start after a crash)--> queued
 *
 * The store keeps a job's status (store/jobs.h) and jobs/ moves it along
 * (docs/training-jobs.md); both see it as this enum. Names are static
 * strings; every function is thread-safe. */
#ifndef ODESERVE_MODEL_JOB_STATUS_H
#define ODESERVE_MODEL_JOB_STATUS_H

#include "core/err.h"

typedef enum job_status {
    JOB_QUEUED = 0,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_CANCELLED,
    JOB__COUNT
} job_status;

const char *job_status_name(job_status s); /* "?" when out of range */
/* ERR_INVALID (field "status") for an unknown name. */
err_code job_status_from_name(const char *name, job_status *out, err *e);

#endif
