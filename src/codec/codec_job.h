/* codec/codec_job.h: the training job document (POST /v1/jobs;
 * docs/training-jobs.md) from JSON text into a model/job_spec.h job_spec.
 *
 * The one decoder of the document: http/jobs.c checks a submitted body with
 * it (a 422 naming the field), and the daemon hands it to the worker pool
 * (jobs_pool_opts.decode), which decodes the stored text again when it
 * claims or resumes a job. An `init` becomes a model_def of kind ode or cde
 * with its parameters drawn from `seed` (model/init.h). What needs the
 * dataset or a stored version (channel counts, labels, a from_version's
 * kind) is checked by the submit handler and the worker, not here.
 *
 * Stateless and thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_JOB_H
#define ODESERVE_CODEC_CODEC_JOB_H

#include "model/job_spec.h"

#include <stddef.h>

/* A job_spec_decode_fn: ERR_BAD_JSON for text that is not JSON, else
 * ERR_INVALID with the field ("optimizer.lr", "init.readout.out",
 * "init.vector_field.layers[1]"). s is job_spec_init'ed first and left
 * freed on failure. */
err_code codec_job_decode(const char *text, size_t len, job_spec *s, err *e);

#endif
