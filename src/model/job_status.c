/* model/job_status.c: see job_status.h. */
#include "model/job_status.h"

#include <string.h>

static const char *const status_names[JOB__COUNT] = {"queued", "running", "succeeded", "failed",
                                                     "cancelled"};

const char *job_status_name(job_status s)
{
    return s >= 0 && s < JOB__COUNT ? status_names[s] : "?";
}

err_code job_status_from_name(const char *name, job_status *out, err *e)
{
    for (int i = 0; i < JOB__COUNT; i++)
        if (name && strcmp(name, status_names[i]) == 0) {
            *out = (job_status)i;
            return ERR_OK;
        }
    return err_set(e, ERR_INVALID, "status",
                   "unknown status (expected one of: queued, running, succeeded, failed, "
                   "cancelled)");
}
