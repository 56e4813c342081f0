/* http/app.h: the state every handler may reach through http_req_app().
 *
 * One http_app lives as long as the server. main fills the borrowed
 * pointers before http_server_start and changes only the atomics afterwards
 * (readiness on start and shutdown, max_body on SIGHUP); handlers read them.
 *
 * Ownership and threads: the app owns nothing; the database pool, the
 * evaluation pool, the model cache and the job pool are the daemon's
 * (service.c) and outlive the server. Any thread may read the app; after
 * http_server_start only the atomics change. */
#ifndef ODESERVE_HTTP_APP_H
#define ODESERVE_HTTP_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/workq.h"
#include "store/db.h"
#include "store/model_cache.h"

struct jobs_pool;

enum http_app_state {
    HTTP_APP_STARTING = 0, /* /readyz answers 503 */
    HTTP_APP_READY,        /* /readyz answers 200 when the database does */
    HTTP_APP_DRAINING      /* shutting down: /readyz 503, replies carry Connection: close */
};

typedef struct http_app {
    db_conns *db;       /* borrowed; per-thread connections */
    workq *eval;       /* borrowed; where http_req_defer'd work runs */
    atomic_int state;  /* enum http_app_state */
    atomic_int cancel; /* set when the shutdown deadline passes: deferred work should stop */
    _Atomic uint64_t max_body; /* request body cap in bytes (SIGHUP may change it) */
    int test_routes;           /* serve ROUTE_TEST routes (ODESERVE_TEST_ROUTES=1) */

    /* models and trajectories (models.c, trajectory.c) */
    model_cache *models;                /* borrowed; loaded versions, shared by every thread */
    _Atomic uint64_t max_solve_points;  /* most values in a trajectory reply (every query
                                           time x values per time); more is 413 too_large
                                           (SIGHUP) */
    _Atomic uint64_t max_sde_samples;   /* most samples in one sde trajectory request; more
                                           is 413 too_large (SIGHUP) */
    _Atomic uint64_t max_cnf_points;    /* cnf: most points (x path times) per request;
                                           more is 413 (SIGHUP) */
    _Atomic uint64_t max_cnf_exact_dim; /* cnf: widest model served with the exact trace */
    _Atomic uint64_t max_cnf_probes;    /* cnf: most Hutchinson probes; more is 413 */
    _Atomic uint64_t gradient_max_tape; /* bytes one gradient request's engine may hold;
                                           more is 413 on "method" (gradient.c; SIGHUP) */
    _Atomic uint64_t solve_timeout_us;  /* a solve running longer stops with 503
                                           deadline_exceeded; 0 = no limit (SIGHUP) */
    _Atomic uint64_t inline_budget_us;  /* a small solve may run on the HTTP thread for at
                                           most this long, then moves to the evaluation
                                           pool; 0 = never inline (SIGHUP) */
    _Atomic uint64_t keepalive_poll_us; /* after a reply on a keep-alive connection of an
                                           idle server, poll it this long before sleeping;
                                           0 = never (SIGHUP; server.c) */
    int inline_busy;                    /* small solves run inline under load too: the HTTP
                                           threads alone can keep every CPU busy (at least
                                           as many as the CPUs; trajectory.c) */
    atomic_uint traj_active;            /* trajectory requests between handler and
                                           completion (trajectory.c) */

    /* training jobs (jobs.c) */
    struct jobs_pool *jobs; /* borrowed; the worker pool (jobs/pool.h) */

    /* GET /metrics (metrics.c) */
    atomic_int metrics_mode; /* enum metrics_mode (http/metrics.h; SIGHUP) */
    /* authentication (auth.c) */
    atomic_int auth_policy; /* enum http_auth_policy; 0 = off (SIGHUP) */
    /* admission (admission.c): the per-client rate limit and the rejections */
    struct ratelimit *rate_buckets;       /* borrowed; NULL = no rate limit ever */
    _Atomic uint64_t rate_limit;          /* requests/s per client address; 0 = off (SIGHUP) */
    _Atomic uint64_t rate_burst;          /* bucket size (SIGHUP) */
    _Atomic uint64_t rejected_overloaded; /* 503 + Retry-After: evaluation queue full */
    _Atomic uint64_t rejected_rate;       /* 429 + Retry-After: over rate_limit */
    _Atomic uint64_t large_body_size;     /* bytes from which a body is large; 0 = none is
                                             (SIGHUP) */
    _Atomic uint64_t large_body_limit;    /* large bodies at once; more get 503 + Retry-After;
                                             0 = no cap (SIGHUP) */
    atomic_uint large_active;             /* large bodies between admission and completion */
    _Atomic uint64_t rejected_large;      /* 503 + Retry-After: large_body_limit reached */

    const struct http_cors *cors; /* borrowed; allowed browser origins; NULL = CORS off */

    /* the dashboard (ui.c): borrowed settings; "" = off / not found */
    const char *ui_dir;     /* the page's files */
    const char *ui_lib_dir; /* Debian's JavaScript libraries (chart.js/) */
} http_app;

#endif
