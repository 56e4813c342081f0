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

/* aliases.c: version aliases and their history */
void h_alias_put(http_req *r);
void h_alias_delete(http_req *r);
void h_model_history(http_req *r);

/* trajectory.c: solves */
void h_trajectory(http_req *r);
void h_energy(http_req *r); /* energy.c: POST /v1/models/{name}/energy */
void h_gradient(http_req *r); /* gradient.c: POST /v1/models/{name}/gradient */

/* cnf.c: a cnf model's log-densities and samples */
void h_cnf_log_prob(http_req *r);
void h_cnf_sample(http_req *r);

/* datasets.c: uploaded time series */
void h_dataset_create(http_req *r);
void h_datasets_list(http_req *r);
void h_dataset_get(http_req *r);
void h_dataset_delete(http_req *r);
void h_dataset_series(http_req *r); /* dataset_series.c */

/* jobs.c: training jobs */
void h_job_create(http_req *r);
void h_jobs_list(http_req *r);
void h_job_get(http_req *r);
void h_job_metrics(http_req *r);
void h_job_cancel(http_req *r);

/* metrics.c: the Prometheus text exposition */
void h_metrics(http_req *r);
/* auth.c: API tokens (admin scope) */
void h_token_create(http_req *r);
void h_tokens_list(http_req *r);
void h_token_revoke(http_req *r);

/* testing.c: test-only routes (ODESERVE_TEST_ROUTES=1) */
void h_test_sleep(http_req *r);
void h_test_eval(http_req *r);
void h_test_echo(http_req *r);

/* oip.c: the Open Inference Protocol (KServe v2) */
void h_oip_server(http_req *r);
void h_oip_live(http_req *r);
void h_oip_ready(http_req *r);
void h_oip_model(http_req *r);
void h_oip_model_ready(http_req *r);
void h_oip_infer(http_req *r);

/* openapi.c: GET /v1/openapi.json */
void h_openapi(http_req *r);
/* the dashboard's static files (ui.c) */
void h_ui_index(http_req *r);
void h_ui_file(http_req *r);
void h_ui_lib(http_req *r);

#endif
