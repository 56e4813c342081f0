/* codec/codec_job_info.h: the replies of /v1/jobs (docs/training-jobs.md):
 * a job's status, progress, losses, result and error; the list of jobs;
 * a job's loss curve; the answer of a job just queued. Losses not yet
 * known (NaN) are null. Decoding a job document is codec/codec_job.h.
 *
 * Writers append to the caller's jbuf; no state: thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_JOB_INFO_H
#define ODESERVE_CODEC_CODEC_JOB_INFO_H

#include "codec/jbuf.h"
#include "model/job_info.h"

#include <stddef.h>

void codec_job_info_encode(const job_info *j, jbuf *b);
/* {"jobs": [job, ...]} */
void codec_job_info_list_encode(const job_info *list, size_t n, jbuf *b);
/* {"id", "iteration": [...], "train_loss": [...], "validation_loss": [...],
 *  "elapsed_seconds": [...]}: the curve as columns. */
void codec_job_info_metrics_encode(long long id, const job_metric *m, size_t n, jbuf *b);
/* The same with a hybrid job's parameters (store_job_metric_parameters'
 * n_rows x n_par values, names[n_par]): ,"parameters":{"name":[one value
 * per row], ...}. names NULL or n_par 0: as codec_job_info_metrics_encode. */
void codec_job_info_metrics_params_encode(long long id, const job_metric *m, size_t n,
                                          char *const *names, const double *pars, size_t n_rows,
                                          size_t n_par, jbuf *b);
/* {"id", "status": "queued"} */
void codec_job_info_queued_encode(long long id, jbuf *b);

#endif
