/* http/metrics.h: the daemon's Prometheus metrics, counted as requests run
 * and written out by GET /metrics (text exposition format 0.0.4).
 *
 * What is counted where: the server (server.c) counts every request at its
 * start and completion (by route template, method, status; its latency by
 * route, and by model when the handler named one) and the requests the
 * evaluation pool refused (503); the trajectory route (trajectory.c) names
 * the model and counts each solve (inline or on the pool, its evaluations
 * and steps). The rest is read when /metrics is scraped: the evaluation
 * queue (core/workq.h), the model cache's hits and misses, the training
 * jobs and the database size (store/). Every metric, its labels and its
 * buckets: docs/metrics.md.
 *
 * DESIGN: the counters are process-wide (like the logger) and live in
 * static storage striped per thread (core/metric.h): counting a request is
 * a few relaxed atomic adds on lines no other thread writes, no lock and no
 * allocation (bench/bench_metrics; docs/benchmarks.md). Label values are
 * bounded: a route is its pattern in http/routes.c, never the raw path
 * (requests that match no row count under route="unmatched"); a method
 * outside the usual eight counts as "other", a status outside the table as
 * "other"; and the first METRICS_MODELS_MAX model names served since the
 * start get their own model label, later ones count under model="_other".
 *
 * Thread-safe: every function may be called from any thread. */
#ifndef ODESERVE_HTTP_METRICS_H
#define ODESERVE_HTTP_METRICS_H

#include "http/handler.h"

#define METRICS_ROUTES_MAX                                                                         \
    64 /* route table rows with their own label (a test checks the table fits) */
#define METRICS_MODELS_MAX 64 /* model names with their own label; the rest are "_other" */

/* The `metrics` setting: who may GET /metrics. */
enum metrics_mode {
    METRICS_OPEN = 0, /* anyone who reaches the port */
    METRICS_TOKEN,    /* a token with the read scope (the auth check: metrics.c) */
    METRICS_OFF       /* 404, as if the route did not exist */
};
/* "open" | "token" | "off" -> the mode; -1 for anything else. */
int metrics_mode_from_name(const char *name);

/* The wall-clock start of the process (process_start_time_seconds); the
 * daemon calls it once as it starts. */
void metrics_process_started(void);

/* ---- called by the HTTP layer ---- */

/* A request's first callback (its headers are in). */
void metrics_request_started(void);
/* Its completion, `seconds` after it started: counts it by route, method and
 * status (0 = no reply was sent) and records its latency by route, and by
 * model when metrics_request_model named one. */
void metrics_request_done(const http_req *r, double seconds);
/* The model this request is for (a trajectory): its latency is recorded
 * under this model's label too, and metrics_solve_done's counts. */
void metrics_request_model(http_req *r, const char *model);
/* A solve of request r ran to its end (or failed): its evaluations of the
 * vector field and its steps. `where`: 0 inline on the HTTP thread, 1 on
 * the evaluation pool. */
void metrics_solve_done(const http_req *r, int where, long nfe, long steps);
/* An inline solve ran over its budget and moves to the pool. */
void metrics_solve_fallback(void);
/* An evaluation was given up because its client closed the connection:
 * `running` 0 before it started (it waited in the queue), 1 while it ran. */
void metrics_eval_dropped(int running);

/* ---- for the other parts of #15 (overload): call where it happens ---- */

/* A request turned away before any work for load: 503 (the evaluation queue
 * is full, or the pool is shutting down) or 429 (rate limited). Other
 * statuses are ignored. */
void metrics_rejected_count(unsigned status);
/* Requests refused by authentication are not counted here: the scrape
 * reads auth.c's own counts (http_auth_failures). */

#endif
