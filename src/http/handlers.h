/* http/handlers.h: the handlers routes.c points at. Private to the http
 * layer; each is documented where it is defined. Each runs on an HTTP
 * thread under handler.h's rules (reply once, defer what computes). */
#ifndef ODESERVE_HTTP_HANDLERS_H
#define ODESERVE_HTTP_HANDLERS_H

#include "http/handler.h"

/* meta.c: liveness, readiness, versions */
void h_healthz(http_req *r);
void h_readyz(http_req *r);
void h_version(http_req *r);
void h_solvers(http_req *r);

/* models.c: models and their versions */
void h_models_list(http_req *r);
void h_model_get(http_req *r);
void h_model_delete(http_req *r);
void h_version_create(http_req *r);
void h_version_get(http_req *r);
void h_version_delete(http_req *r);

/* trajectory.c: solves */
void h_trajectory(http_req *r);

/* datasets.c: uploaded time series */
void h_dataset_create(http_req *r);
void h_datasets_list(http_req *r);
void h_dataset_get(http_req *r);
void h_dataset_delete(http_req *r);

/* jobs.c: training jobs */
void h_job_create(http_req *r);
void h_jobs_list(http_req *r);
void h_job_get(http_req *r);
void h_job_metrics(http_req *r);
void h_job_cancel(http_req *r);

/* auth.c: API tokens (admin scope) */
void h_token_create(http_req *r);
void h_tokens_list(http_req *r);
void h_token_revoke(http_req *r);

/* testing.c: test-only routes (ODESERVE_TEST_ROUTES=1) */
void h_test_sleep(http_req *r);
void h_test_eval(http_req *r);
void h_test_echo(http_req *r);

#endif
