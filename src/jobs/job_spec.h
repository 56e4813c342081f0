/* jobs/job_spec.h: the training job document (POST /v1/jobs;
 * docs/training-jobs.md) as plain data.
 *
 * The jobs layer owns the document's format: http/jobs.c checks a
 * submitted body with job_spec_parse (a 422 naming the field), the store
 * keeps the text as submitted, and the worker parses it again when it
 * claims (or resumes) the job. Parsing builds the starting model for an
 * `init` (a model_def with seeded parameters); a `from_version` is loaded
 * by the worker.
 *
 * Ownership: a job_spec owns its model_def; job_spec_free releases it. */
#ifndef ODESERVE_JOBS_JOB_SPEC_H
#define ODESERVE_JOBS_JOB_SPEC_H

#include "core/err.h"
#include "model/grad_solve.h"
#include "model/init.h"
#include "model/loss.h"
#include "model/model_def.h"
#include "model/optim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct job_spec {
    char model[65], dataset[65];
    int from_version;   /* > 0: warm start from that version of model; 0: init */
    model_def init_def; /* init: the new model, parameters seeded (kind 0 with from_version) */
    struct init_config init_scheme;
    size_t val_every;        /* validate every N iterations; 0 = never */
    double holdout_fraction; /* of the series, held out for validation; 0 = validate on all */
    loss_kind loss;
    size_t batch_size; /* 0 = every window / series */
    size_t batch_time; /* ODE windows of this many observations; 0 = whole series */
    struct optim_config optim;
    double clip_norm; /* 0 = no clipping */
    long iterations;
    grad_method gradient;
    char method[16]; /* "dopri5" */
    double rtol, atol;
    long max_steps; /* 0 = the solver's default */
    uint64_t seed;
} job_spec;

void job_spec_init(job_spec *s);
void job_spec_free(job_spec *s);

/* Parse the document text (JSON). ERR_BAD_JSON / ERR_INVALID with the
 * field ("optimizer.lr", "init.layers[1].out"). */
err_code job_spec_parse(const char *text, size_t len, job_spec *s, err *e);

#endif
