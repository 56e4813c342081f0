/* http/trajectory.c: POST /v1/models/{name}/trajectory, and the solve of every
 * protocol that asks for trajectories (traj.h: the Open Inference Protocol).
 *
 * The body is parsed, "version" read, the model taken from the cache (built
 * once per version, shared) and the kind-specific rest decoded by the
 * model's kind (traj_kind below); then the request is solved where it
 * costs least:
 *
 *   inline  on the HTTP thread that read it, when the body is small
 *           (TRAJ_INLINE_MAX_BODY) and the model's learned cost
 *           (model/solve_cost.h) predicts well under `inline_budget`. The abort
 *           hook stops the attempt at the budget; the request then moves to
 *           the evaluation pool and is solved again there from the start
 *           (same inputs, same answer), and the model's cost is raised so
 *           the next request like it goes to the pool at once. This saves
 *           the two cross-thread wake-ups of a deferred request (HTTP
 *           thread -> pool worker -> resumed connection), each a
 *           thread wake-up (bench/bench_http.sh measures what it costs);
 *   pool    everything else (http_req_defer), parsing included when the
 *           body is large or inline_budget is 0.
 *
 * DESIGN, why /healthz stays prompt and the machine stays on solves. An
 * inline solve blocks its HTTP thread and every connection that thread
 * polls (keep-alive ones included). Alone in the server (nothing else in
 * flight) a request may run inline for the whole inline_budget (default 5
 * ms). Under load, when the HTTP threads are at least as many as the CPUs
 * (app->inline_busy: they alone can keep the machine busy; fewer would
 * leave CPUs to an idle pool), every HTTP thread still solves inline, one
 * request at a time, but only requests predicted well under
 * TRAJ_INLINE_BUSY_SHARE of the budget (0.5 ms by default), each attempt
 * stopped there: a request that arrives meanwhile waits at most that long
 * per request ahead of it on its thread, and only requests that cost far
 * more than a hand-off queue on the pool. Sending every request under load
 * to the pool costs two cross-thread wake-ups, a suspend/resume and another
 * pass of libmicrohttpd's loop per request, CPU taken from the solves
 * (bench/bench_http.sh; the breakdown is in docs/benchmarks.md).
 *
 * Limits, each with its own error: the reply's size (batch x times x state
 * size <= max_solve_points, else 413 too_large, checked before any work);
 * the request's time (solve_timeout from the moment the request was in:
 * the queue wait and an inline attempt count against it; else 503
 * deadline_exceeded), the shutdown (503 unavailable) and the client
 * (a client that closed its connection: a queued request is dropped before
 * it starts, server.c, and a running solve is stopped, 503 aborted, with
 * odeserve_evaluations_dropped_total counting both), all through the
 * solver's abort hook, polled before every step; a solver failure is 422
 * solver_failed with the time reached ("t_reached"). See docs/api.md. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "codec/codec_cde.h"
#include "codec/codec_hybrid.h"
#include "codec/codec_json.h"
#include "codec/codec_packed.h"
#include "codec/codec_request.h"
#include "codec/codec_sde.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "http/traj.h"
#include "http/metrics.h"
#include "model/served_model.h"

/* Bodies larger than this are parsed on the pool, never inline: parsing
 * alone would eat a large share of the inline budget (bench/bench_codec). */
#define TRAJ_INLINE_MAX_BODY 32768
/* Inline only when the learned cost predicts at most this share of the
 * budget: room for the guess to be wrong before the fallback costs. */
#define TRAJ_INLINE_GUESS_SHARE 0.5
/* Under load an inline attempt gets this share of inline_budget: what a
 * request on another connection of the same HTTP thread may wait per
 * solve ahead of it (DESIGN above). */
#define TRAJ_INLINE_BUSY_SHARE 0.1

/* ---- one request's state (its user data: freed at completion) ---- */

struct traj_kind;

typedef struct traj {
    http_app *app;
    const traj_proto *proto;      /* the wire protocol: v1 (below) or oip.c's */
    void *pctx;                   /* its state, owned */
    json_t *body;                 /* parsed, owned */
    const model_handle *h;        /* from the cache, released at completion */
    served_model *m;              /* h->built */
    const struct traj_kind *kind; /* the model's kind */
    int prepared;                 /* decoded, checked against the caps, outputs allocated */
    double units;                 /* solve_cost_units of the request */
    size_t batch, points;         /* for the log: trajectories, output times (rows) */

    codec_request_ode oq; /* kind ode: the request, outputs (batch x n_t x od, or n_t x od
                           * with a grid per state) */
    double *y;
    size_t od;
    struct ode_model_events ev; /* kind ode with events: what the solve found */

    codec_cde_req cq; /* kind cde: the request, outputs (rows x rd, rows x hd) */
    double *ro, *hid;
    size_t rd, hd;
    struct cde_model_events cev; /* kind cde with events: what the solve found */

    codec_sde_req sq;                     /* kind sde: the request */
    double *paths, *mean, *std, *quant;   /* its samples and their summary */
    size_t sd;                            /* state_dim */
    struct sde_model_stats sst;           /* the last solve's */

    double *energy; /* kinds hamiltonian, lagrangian: the energy per row of y (oq, y and od
                     * as for ode) */

    long nfe, steps, rejected;                   /* the last solve's */
    long n_jac, n_lu, auto_steps[2], n_switches; /* implicit methods, "auto" */
    double t_fail, ms;
} traj;

static void traj_free(void *p)
{
    traj *t = p;
    if (t->h) model_cache_release(t->app->models, t->h);
    json_decref(t->body);
    codec_request_ode_free(&t->oq);
    ode_model_events_clear(&t->ev);
    codec_cde_req_free(&t->cq);
    cde_model_events_clear(&t->cev);
    free(t->y);
    free(t->ro);
    free(t->hid);
    codec_sde_req_free(&t->sq);
    free(t->paths);
    free(t->mean);
    free(t->std);
    free(t->quant);
    free(t->energy);
    if (t->proto->ctx_free) t->proto->ctx_free(t->pctx);
    atomic_fetch_sub(&t->app->traj_active, 1);
    free(t);
}

/* Each kind: decode the rest of the request, check it against the caps and
 * allocate the outputs (0, or -1 after replying); solve; write the reply. */
typedef struct traj_kind {
    model_kind kind;
    int (*prepare)(http_req *r, traj *t);
    err_code (*solve)(traj *t, ode_abort_fn abort, void *abort_ctx, err *e);
    void (*reply)(http_req *r, traj *t);
} traj_kind;

/* An error of the v1 decoders or the solve, its field as the request
 * spells it. */
static void traj_reply_error(http_req *r, traj *t, err *e)
{
    if (t->proto->field_map && t->h) t->proto->field_map(t->pctx, t->h->def->kind, e);
    http_reply_error(r, e);
}

/* ---- limits ---- */

/* How often a running solve looks whether its client is still there (a
 * poll(2) of the socket): rarely enough to cost nothing next to the steps
 * in between, often enough that a gone client frees its thread at once. */
#define TRAJ_CLIENT_CHECK_S 0.01

typedef struct limits {
    double deadline;   /* clock_mono() past which the solve stops; INFINITY = none */
    double budget_end; /* an inline attempt's end; INFINITY on the pool */
    double timeout_s;
    const http_req *r;
    double next_client_check; /* clock_mono() of the next http_req_client_gone */
    int client_gone;          /* the solve stopped because the client left */
} limits;

/* The limits of a solve starting now, with an inline budget (0 = none).
 * solve_timeout counts from the moment the whole request was in, so the
 * wait for an evaluation thread and an earlier inline attempt count
 * against it: a client gets its answer, or deadline_exceeded, within
 * solve_timeout of sending the request, however long the queue. */
static limits limits_start(const http_req *r, double budget)
{
    uint64_t us = atomic_load(&http_req_app(r)->solve_timeout_us);
    double now = clock_mono();
    limits l = {INFINITY, INFINITY, (double)us * 1e-6, r, now + TRAJ_CLIENT_CHECK_S, 0};
    if (us) l.deadline = http_req_ready_at(r) + l.timeout_s;
    if (budget > 0) l.budget_end = now + budget;
    return l;
}

/* ode_abort_fn: polled before every step attempt. The deadline wins over
 * the budget (a solve_timeout shorter than the budget ends inline). */
static int check_limits(void *ctx)
{
    limits *l = ctx;
    if (http_req_cancelled(l->r)) return ERR_UNAVAILABLE;
    double now = clock_mono();
    if (now > l->deadline) return ERR_DEADLINE;
    if (now > l->budget_end) return ERR_ABORTED;
    if (now >= l->next_client_check) {
        l->next_client_check = now + TRAJ_CLIENT_CHECK_S;
        if (http_req_client_gone(l->r)) {
            l->client_gone = 1;
            return ERR_ABORTED;
        }
    }
    return 0;
}

/* 1 when `points` values fit the configured cap; else replies 413 with
 * what (printf format and arguments: how the values are counted, formatted
 * only then) in the message. */
static int within_cap(http_req *r, double points, const char *what, ...)
    __attribute__((format(printf, 3, 4)));
static int within_cap(http_req *r, double points, const char *what, ...)
{
    uint64_t cap = atomic_load(&http_req_app(r)->max_solve_points);
    if (points <= (double)cap) return 1;
    char how[160];
    va_list ap;
    va_start(ap, what);
    vsnprintf(how, sizeof how, what, ap);
    va_end(ap);
    http_reply_errorf(r, ERR_TOO_LARGE, NULL,
                      "the reply would hold %.0f values (%s), more than max_solve_points = %llu; "
                      "split the request",
                      points, how, (unsigned long long)cap);
    return 0;
}

/* A failed solve: the reason with the time reached. */
static void reply_solve_error(http_req *r, const limits *l, err *e, double t_fail)
{
    if (e->code == ERR_DEADLINE) {
        err d;
        err_clear(&d);
        err_set(&d, ERR_DEADLINE, NULL,
                "the request ran past solve_timeout (%g s, counted from its arrival, queue wait "
                "included) and was stopped at t=%.17g; ask for "
                "fewer or nearer times, a smaller batch or a looser tolerance",
                l->timeout_s, t_fail);
        http_reply_error(r, &d);
    } else if (e->code == ERR_UNAVAILABLE) {
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "the server is shutting down");
    } else if (e->code == ERR_ABORTED && l->client_gone) {
        http_reply_errorf(r, ERR_ABORTED, NULL,
                          "the client closed the connection; the solve was stopped at t=%.17g",
                          t_fail);
    } else if (e->code == ERR_SOLVER && isfinite(t_fail)) {
        api_reply_error_with(r, e, "t_reached", t_fail);
    } else {
        http_reply_error(r, e);
    }
}

/* Time the solver covers from t0 to every time in t (both directions). */
static double time_span(double t0, const double *t, size_t n)
{
    double lo = t0, hi = t0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < lo) lo = t[i];
        if (t[i] > hi) hi = t[i];
    }
    return (hi - t0) + (t0 - lo);
}

static double request_units(const traj *t, size_t batch, double span, const model_solver *over)
{
    model_solver eff;
    model_solver_merge(&t->h->def->solver, over, &eff);
    return solve_cost_units(batch, span, &eff);
}

/* ---- kind ode ---- */

static int traj_ode_prepare(http_req *r, traj *t)
{
    const ode_model *m = t->m->ode;
    codec_request_ode *q = &t->oq;
    err e;
    err_clear(&e);
    if (codec_request_ode_decode(t->body, ode_model_state_dim(m), q, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    t->od = ode_model_output_dim(m, q->augmented);
    const size_t rows = q->t_len ? q->n_t : q->batch * q->n_t; /* t_len: n_t counts them all */
    const double values = (double)rows * (double)t->od;
    if (q->t_len ? !within_cap(r, values, "%zu times over %zu states x %zu per state", q->n_t,
                               q->batch, t->od)
                 : !within_cap(r, values, "%zu states x %zu times x %zu per state", q->batch,
                               q->n_t, t->od))
        return -1;
    if (!(t->y = malloc(rows * t->od * sizeof *t->y))) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory for the trajectory");
        return -1;
    }
    t->batch = q->batch;
    t->points = q->n_t;
    t->units = request_units(t, q->batch, time_span(q->t0, q->t, q->n_t), &q->solver);
    return 0;
}

static err_code traj_ode_solve(traj *t, ode_abort_fn abort, void *abort_ctx, err *e)
{
    const codec_request_ode *q = &t->oq;
    struct ode_model_query oq = {
        .t0 = q->t0,
        .batch = q->batch,
        .y0 = q->y0,
        .t = q->t,
        .n_t = q->n_t,
        .solver = q->solver,
        .mode = ODE_BATCH_AUTO,
        .report_augmented = q->augmented,
        .abort = abort,
        .abort_ctx = abort_ctx,
        .t_len = q->t_len,
        .events = q->events,
        .n_events = q->n_events,
        .events_out = &t->ev,
    };
    struct ode_model_stats st = {0};
    err_code rc = ode_model_solve(t->m->ode, &oq, t->y, &st, e);
    t->nfe = st.nfe;
    t->steps = st.steps;
    t->rejected = st.rejected;
    t->t_fail = st.t_fail;
    t->n_jac = st.n_jac;
    t->n_lu = st.n_lu;
    t->auto_steps[0] = st.auto_steps[0];
    t->auto_steps[1] = st.auto_steps[1];
    t->n_switches = st.n_switches;
    return rc;
}

static void traj_ode_reply(http_req *r, traj *t)
{
    codec_request_stats cs = {t->nfe,
                              t->steps,
                              t->rejected,
                              round(t->ms * 1e3) / 1e3,
                              t->n_jac,
                              t->n_lu,
                              {t->auto_steps[0], t->auto_steps[1]},
                              t->n_switches};
    jbuf b;
    jbuf_init(&b);
    t->proto->ode_reply(&b, t->pctx, t->h, &t->oq, t->y, t->od, t->oq.n_events ? &t->ev : NULL,
                        &cs);
    api_reply_jbuf(r, 200, &b);
}

/* ---- kind cde ---- */

static int traj_cde_prepare(http_req *r, traj *t)
{
    const cde_model *m = t->m->cde;
    codec_cde_req *q = &t->cq;
    err e;
    err_clear(&e);
    const codec_cde_dims dims = {.n_data = cde_model_data_channels(m),
                                 .hidden_dim = cde_model_hidden_dim(m),
                                 .readout_dim = cde_model_readout_dim(m)};
    if (codec_cde_req_decode(t->body, &dims, q, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    t->rd = cde_model_readout_dim(m);
    t->hd = cde_model_hidden_dim(m);
    bool want_r = q->output & CDE_OUTPUT_READOUT, want_h = q->output & CDE_OUTPUT_HIDDEN;
    size_t rows = 0;
    double span = 0;
    for (size_t k = 0; k < q->batch; k++) {
        const struct cde_path_obs *o = &q->series[k].obs;
        rows += q->series[k].n_t;
        span += o->n ? o->t[o->n - 1] - o->t[0] : 0;
    }
    /* the cap counts every value of the reply: rows x (readout + hidden) */
    size_t per_row = (want_r ? t->rd : 0) + (want_h ? t->hd : 0);
    if (!within_cap(r, (double)rows * (double)per_row,
                    "%zu query times over %zu series x %zu per time", rows, q->batch, per_row))
        return -1;
    if ((want_r && !(t->ro = malloc(rows * t->rd * sizeof *t->ro))) ||
        (want_h && !(t->hid = malloc(rows * t->hd * sizeof *t->hid)))) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory for the trajectory");
        return -1;
    }
    t->batch = q->batch;
    t->points = rows;
    t->units = request_units(t, q->batch, span / (double)q->batch, &q->solver);
    return 0;
}

static err_code traj_cde_solve(traj *t, ode_abort_fn abort, void *abort_ctx, err *e)
{
    const codec_cde_req *q = &t->cq;
    struct cde_model_query cq = {
        .batch = q->batch,
        .series = q->series,
        .output = q->output,
        .solver = q->solver,
        .series_fields = q->batched,
        .abort = abort,
        .abort_ctx = abort_ctx,
        .events = q->events,
        .n_events = q->n_events,
        .events_out = &t->cev,
    };
    struct cde_model_stats st = {0};
    err_code rc = cde_model_solve(t->m->cde, &cq, t->ro, t->hid, &st, e);
    t->nfe = st.nfe;
    t->steps = st.steps;
    t->rejected = st.rejected;
    t->t_fail = st.t_fail;
    t->n_jac = st.n_jac;
    t->n_lu = st.n_lu;
    t->auto_steps[0] = st.auto_steps[0];
    t->auto_steps[1] = st.auto_steps[1];
    t->n_switches = st.n_switches;
    return rc;
}

static void traj_cde_reply(http_req *r, traj *t)
{
    codec_request_stats cs = {.nfe = t->nfe,
                              .steps = t->steps,
                              .rejected = t->rejected,
                              .elapsed_ms = round(t->ms * 1e3) / 1e3,
                              .n_jac = t->n_jac,
                              .n_lu = t->n_lu,
                              .auto_steps = {t->auto_steps[0], t->auto_steps[1]},
                              .n_switches = t->n_switches};
    jbuf b;
    jbuf_init(&b);
    t->proto->cde_reply(&b, t->pctx, t->h, &t->cq, t->ro, t->rd, t->hid, t->hd,
                        t->cq.n_events ? &t->cev : NULL, &cs);
    api_reply_jbuf(r, 200, &b);
}

/* ---- kind sde ---- */

/* A seed for a request that gave none: from the kernel's generator, below
 * 2^53 so that every JSON client reads it back exactly. */
static uint64_t draw_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = (uint64_t)(clock_mono() * 1e9) ^ ((uint64_t)getpid() << 32);
    return s & ((UINT64_C(1) << 53) - 1);
}

static int traj_sde_prepare(http_req *r, traj *t)
{
    const sde_model *m = t->m->sde;
    codec_sde_req *q = &t->sq;
    err e;
    err_clear(&e);
    if (!t->proto->sde_reply) {
        http_reply_errorf(r, ERR_INVALID, NULL,
                          "sde models are served by POST /v1/models/{name}/trajectory only");
        return -1;
    }
    size_t max_samples = (size_t)atomic_load(&http_req_app(r)->max_sde_samples);
    if (codec_sde_req_decode(t->body, sde_model_state_dim(m), max_samples, q, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    /* the method and step now, so that a missing step is a 422 before any
     * allocation */
    const struct sde_method *me;
    double step;
    if (sde_model_settings(m, &q->solver, &me, &step, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    if (!q->has_seed) q->seed = draw_seed();
    t->sd = sde_model_state_dim(m);
    const double cell = (double)q->n_t * (double)t->sd;
    if (!within_cap(r, (double)q->samples * (double)q->batch * cell,
                    "%zu samples x %zu states x %zu times x %zu per state, held while solving",
                    q->samples, q->batch, q->n_t, t->sd))
        return -1;
    const size_t nc = q->batch * q->n_t * t->sd;
    int nomem = !(t->paths = malloc(q->samples * nc * sizeof *t->paths));
    if (!nomem && (q->output & CODEC_SDE_SUMMARY))
        nomem = !(t->mean = malloc(nc * sizeof *t->mean)) ||
                !(t->std = malloc(nc * sizeof *t->std)) ||
                !(t->quant = malloc((q->nq ? q->nq : 1) * nc * sizeof *t->quant));
    if (nomem) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory for the samples");
        return -1;
    }
    t->batch = q->batch * q->samples;
    t->points = q->n_t;
    t->units = request_units(t, t->batch, time_span(q->t0, q->t, q->n_t), &q->solver);
    return 0;
}

/* Evaluation threads that may help one request: the other CPUs. */
static int sde_helpers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (int)(n - 1) : 0;
}

/* A reply never carries a non-finite number (it would be written null):
 * finite samples whose mean or standard deviation overflows a double (the
 * sum of samples near the largest double) fail the request, named on the
 * initial state as a sample's failure is ("y0", "y0[b]"). Quantiles are
 * interpolated between samples and stay finite. */
static err_code traj_sde_summary_check(const traj *t, err *e)
{
    const codec_sde_req *q = &t->sq;
    const size_t cell = q->n_t * t->sd;
    for (size_t k = 0; k < q->batch * cell; k++) {
        if (isfinite(t->mean[k]) && isfinite(t->std[k])) continue;
        const size_t b = k / cell;
        char f[32] = "y0";
        if (q->batched) snprintf(f, sizeof f, "y0[%zu]", b);
        return err_set(e, ERR_SOLVER, f,
                       "the samples' %s at t=%.17g overflows a double (component %zu)",
                       isfinite(t->mean[k]) ? "standard deviation" : "mean",
                       q->t[(k % cell) / t->sd], k % t->sd);
    }
    return ERR_OK;
}

static err_code traj_sde_solve(traj *t, ode_abort_fn abort, void *abort_ctx, err *e)
{
    const codec_sde_req *q = &t->sq;
    struct sde_model_query sq = {
        .t0 = q->t0,
        .batch = q->batch,
        .y0 = q->y0,
        .t = q->t,
        .n_t = q->n_t,
        .samples = q->samples,
        .seed = q->seed,
        .solver = q->solver,
        .abort = abort,
        .abort_ctx = abort_ctx,
        .pool = t->app->eval,
        .max_helpers = sde_helpers(),
    };
    err_code rc = sde_model_solve(t->m->sde, &sq, t->paths, &t->sst, e);
    t->nfe = t->sst.nfe;
    t->steps = t->sst.steps;
    t->rejected = 0;
    t->t_fail = t->sst.t_fail;
    if (rc == ERR_OK && (q->output & CODEC_SDE_SUMMARY)) {
        double *scratch = malloc(q->samples * sizeof *scratch);
        if (!scratch) return err_set(e, ERR_NOMEM, NULL, "out of memory for the summary");
        sde_model_summarize(t->paths, q->batch, q->samples, q->n_t, t->sd, q->quantiles, q->nq,
                            t->mean, t->std, t->quant, scratch);
        free(scratch);
        rc = traj_sde_summary_check(t, e);
    }
    return rc;
}

static void traj_sde_reply(http_req *r, traj *t)
{
    codec_request_stats cs = {.nfe = t->nfe, .steps = t->steps,
                              .elapsed_ms = round(t->ms * 1e3) / 1e3};
    codec_sde_result res = {.dim = t->sd,
                            .paths = t->paths,
                            .mean = t->mean,
                            .std = t->std,
                            .quant = t->quant,
                            .method = t->sst.method,
                            .step = t->sst.step};
    jbuf b;
    jbuf_init(&b);
    t->proto->sde_reply(&b, t->pctx, t->h, &t->sq, &res, &cs);
    api_reply_jbuf(r, 200, &b);
}

/* ---- the route ---- */

/* ---- the ode-like kinds (hamiltonian, lagrangian, hybrid) ---- */

/* After a decoded ode-like request (t->oq, t->od): its rows within the
 * reply cap, y (and with_energy, a value per row) allocated, and the
 * admission figures. 0, or -1 with the reply made. */
static int traj_rows_alloc(http_req *r, traj *t, int with_energy)
{
    const codec_request_ode *q = &t->oq;
    const size_t rows = q->t_len ? q->n_t : q->batch * q->n_t;
    if (with_energy ? !within_cap(r, (double)rows * (double)(t->od + 1),
                                  "%zu rows x (%zu per state + the energy)", rows, t->od)
                    : !within_cap(r, (double)rows * (double)t->od, "%zu rows x %zu per state", rows,
                                  t->od))
        return -1;
    if (!(t->y = malloc(rows * t->od * sizeof *t->y)) ||
        (with_energy && !(t->energy = malloc(rows * sizeof *t->energy)))) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory for the trajectory");
        return -1;
    }
    t->batch = q->batch;
    t->points = q->n_t;
    t->units = request_units(t, q->batch, time_span(q->t0, q->t, q->n_t), &q->solver);
    return 0;
}

/* The model query of a decoded ode-like request. */
static struct model_traj_query traj_query(const traj *t, ode_abort_fn abort, void *abort_ctx)
{
    const codec_request_ode *q = &t->oq;
    return (struct model_traj_query){
        .t0 = q->t0,
        .batch = q->batch,
        .y0 = q->y0,
        .t = q->t,
        .n_t = q->n_t,
        .t_len = q->t_len,
        .solver = q->solver,
        .abort = abort,
        .abort_ctx = abort_ctx,
    };
}

static void traj_take_stats(traj *t, const struct model_traj_stats *st)
{
    t->nfe = st->nfe;
    t->steps = st->steps;
    t->rejected = st->rejected;
    t->t_fail = st->t_fail;
    t->n_jac = st->n_jac;
    t->n_lu = st->n_lu;
    t->auto_steps[0] = st->auto_steps[0];
    t->auto_steps[1] = st->auto_steps[1];
    t->n_switches = st->n_switches;
}

/* A mechanical kind's request (hamiltonian, lagrangian: [q; p] or
 * [q; dq/dt], dof each) decoded into t->oq; `kind` names it in the error
 * of a protocol without its reply. 0, or -1 with the reply made; *e holds
 * a decode error for the caller's reply. */
static int traj_mech_decode(http_req *r, traj *t, const char *kind, size_t dof, err *e)
{
    if (!t->proto->ham_reply) {
        http_reply_errorf(r, ERR_INVALID, NULL,
                          "%s models are served by POST /v1/models/{name}/trajectory only", kind);
        return -1;
    }
    t->od = 2 * dof;
    if (codec_ham_traj_decode(t->body, t->od, &t->oq, e) != ERR_OK) {
        traj_reply_error(r, t, e);
        return -1;
    }
    return 0;
}

/* ---- kind hamiltonian: an ode request and reply, plus the energy ---- */

static int traj_ham_prepare(http_req *r, traj *t)
{
    const hamiltonian_model *m = t->m->ham;
    err e;
    err_clear(&e);
    const char *method;
    if (traj_mech_decode(r, t, "hamiltonian", hamiltonian_model_dof(m), &e)) return -1;
    if (hamiltonian_model_method(m, &t->oq.solver, &method, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    return traj_rows_alloc(r, t, 1);
}

/* A reply never carries a non-finite number (it would be written null):
 * an energy that overflows a double at a state the solve reached (or was
 * given) fails the request, named on the state as a solver failure is
 * ("y0", "y0[b]"). The rows are state b's at its times, as y's. */
static err_code traj_energy_check(const traj *t, err *e)
{
    const codec_request_ode *q = &t->oq;
    for (size_t b = 0, row = 0; b < q->batch; b++) {
        const size_t n = q->t_len ? q->t_len[b] : q->n_t;
        const double *tb = q->t_len ? q->t + row : q->t;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(t->energy[row + i])) {
                char f[32] = "y0";
                if (q->batch > 1) snprintf(f, sizeof f, "y0[%zu]", b);
                return err_set(e, ERR_SOLVER, f,
                               "the energy is not finite at t=%.17g: it overflows a double at "
                               "that state",
                               tb[i]);
            }
        row += n;
    }
    return ERR_OK;
}

static err_code traj_ham_solve(traj *t, ode_abort_fn abort, void *abort_ctx, err *e)
{
    const struct model_traj_query q = traj_query(t, abort, abort_ctx);
    struct model_traj_stats st;
    err_code rc = hamiltonian_model_solve(t->m->ham, &q, t->y, t->energy, &st, e);
    traj_take_stats(t, &st);
    return rc ? rc : traj_energy_check(t, e);
}

static void traj_ham_reply(http_req *r, traj *t)
{
    codec_request_stats cs = {t->nfe, t->steps, t->rejected, round(t->ms * 1e3) / 1e3,
                              t->n_jac, t->n_lu, {0, 0}, 0};
    jbuf b;
    jbuf_init(&b);
    t->proto->ham_reply(&b, t->pctx, t->h, &t->oq, t->y, t->od, t->energy, &cs);
    api_reply_jbuf(r, 200, &b);
}

/* ---- kind lagrangian: as hamiltonian, E = v . dL/dv - L per row ---- */

static int traj_lag_prepare(http_req *r, traj *t)
{
    const lagrangian_model *m = t->m->lag;
    err e;
    err_clear(&e);
    const char *method;
    if (traj_mech_decode(r, t, "lagrangian", lagrangian_model_dof(m), &e)) return -1;
    if (lagrangian_model_method(m, &t->oq.solver, &method, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    return traj_rows_alloc(r, t, 1);
}

static err_code traj_lag_solve(traj *t, ode_abort_fn abort, void *abort_ctx, err *e)
{
    const struct model_traj_query q = traj_query(t, abort, abort_ctx);
    struct model_traj_stats st;
    err_code rc = lagrangian_model_solve(t->m->lag, &q, t->y, t->energy, &st, e);
    traj_take_stats(t, &st);
    return rc ? rc : traj_energy_check(t, e);
}

/* ---- kind hybrid: an ode request and reply (no events, no augmentation) ---- */

static int traj_hyb_prepare(http_req *r, traj *t)
{
    codec_request_ode *q = &t->oq;
    err e;
    err_clear(&e);
    t->od = hybrid_model_state_dim(t->m->hyb);
    if (codec_hybrid_traj_decode(t->body, t->od, q, &e) != ERR_OK) {
        traj_reply_error(r, t, &e);
        return -1;
    }
    return traj_rows_alloc(r, t, 0);
}

static err_code traj_hyb_solve(traj *t, ode_abort_fn abort, void *abort_ctx, err *e)
{
    const struct model_traj_query q = traj_query(t, abort, abort_ctx);
    struct model_traj_stats st;
    err_code rc = hybrid_model_solve(t->m->hyb, &q, t->y, &st, e);
    traj_take_stats(t, &st);
    return rc;
}

static const traj_kind kinds[] = {
    {MODEL_KIND_ODE, traj_ode_prepare, traj_ode_solve, traj_ode_reply},
    {MODEL_KIND_CDE, traj_cde_prepare, traj_cde_solve, traj_cde_reply},
    {MODEL_KIND_SDE, traj_sde_prepare, traj_sde_solve, traj_sde_reply},
    {MODEL_KIND_HAMILTONIAN, traj_ham_prepare, traj_ham_solve, traj_ham_reply},
    {MODEL_KIND_LAGRANGIAN, traj_lag_prepare, traj_lag_solve, traj_ham_reply},
    {MODEL_KIND_HYBRID, traj_hyb_prepare, traj_hyb_solve, traj_ode_reply},
};

static const traj_kind *kind_of(model_kind k)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == k) return &kinds[i];
    return NULL;
}

/* Parse, find the model, decode: 0, or -1 after replying. */
static int prepare(http_req *r, traj *t)
{
    const char *name = http_req_param(r, "name");
    err e;
    err_clear(&e);
    model_version_ref ref;
    if (t->proto->open(r, t->pctx, &ref, &e) != ERR_OK ||
        api_model_handle(r, name, &ref, &t->h, &e) != ERR_OK)
        goto fail;
    if (t->proto->body && t->proto->body(t->pctx, t->h, &t->body, &e) != ERR_OK) goto fail;
    t->m = t->h->built;
    metrics_request_model(r, t->h->name);
    if (t->h->def->kind == MODEL_KIND_CNF) { /* docs/cnf.md: its paths come from sample */
        err_set(&e, ERR_INVALID, "kind",
                "model %s is a cnf model: POST /v1/models/%s/sample (with \"t\" for the path) "
                "and /log_prob answer for it",
                name, name);
        goto fail;
    }
    if (!(t->kind = kind_of(t->h->def->kind))) {
        err_set(&e, ERR_INVALID, NULL, "model %s is a %s model; %s models are not served yet", name,
                model_kind_name(t->h->def->kind), model_kind_name(t->h->def->kind));
        goto fail;
    }
    if (t->kind->prepare(r, t) != 0) return -1;
    t->prepared = 1;
    return 0;
fail:
    http_reply_error(r, &e);
    return -1;
}

/* One solve attempt, logged and learned from. `where` is "inline" (with a
 * budget) or "pool". */
static err_code solve_once(http_req *r, traj *t, const char *where, double budget, limits *l,
                           err *e)
{
    const double enter = clock_mono();
    *l = limits_start(r, budget);
    log_debug("trajectory_start",
              "request_id=%s where=%s model=%s version=%d batch=%zu n_t=%zu units=%.3g",
              http_req_id(r), where, t->h->name, t->h->version, t->batch, t->points, t->units);
    double t0 = clock_mono();
    err_code rc = t->kind->solve(t, check_limits, l, e);
    double s = clock_mono() - t0;
    t->ms = s * 1e3;
    log_debug("trajectory_done", "request_id=%s where=%s code=%s nfe=%ld steps=%ld elapsed_ms=%.3f",
              http_req_id(r), where, err_code_name(rc), t->nfe, t->steps, t->ms);
    if (rc == ERR_OK)
        solve_cost_observe_wall(&t->m->cost, t->units, s);
    else if ((rc == ERR_ABORTED && !l->client_gone) || rc == ERR_DEADLINE)
        solve_cost_at_least(&t->m->cost, t->units, s);
    if (l->client_gone) {
        log_info("eval_dropped", "request_id=%s when=running after_ms=%.3f", http_req_id(r), t->ms);
        metrics_eval_dropped(1);
    }
    http_req_solve_window(r, enter, clock_mono(), s);
    return rc;
}

static void finish(http_req *r, traj *t, const limits *l, err_code rc, err *e, int where)
{
    if (rc != ERR_OK && t->proto->field_map) t->proto->field_map(t->pctx, t->h->def->kind, e);
    metrics_solve_done(r, where, t->nfe, t->steps);
    if (rc != ERR_OK)
        reply_solve_error(r, l, e, t->t_fail);
    else
        t->kind->reply(r, t);
}

/* The evaluation pool's work: everything not done yet. */
static void traj_pool_work(http_req *r)
{
    traj *t = http_req_user(r);
    if (!t->prepared && prepare(r, t) != 0) return;
    limits l;
    err e;
    err_clear(&e);
    err_code rc = solve_once(r, t, "pool", 0, &l, &e);
    finish(r, t, &l, rc, &e, 1);
}

/* The inline budget in seconds when this request may try it, else 0. A
 * small body, and either nothing else in flight (`before`: trajectory
 * requests already active; the whole inline_budget) or, under load and
 * with app->inline_busy, the busy share of it (see the DESIGN note above). */
static double inline_budget(http_req *r, unsigned before)
{
    http_app *app = http_req_app(r);
    double budget = (double)atomic_load(&app->inline_budget_us) * 1e-6;
    size_t len = 0;
    http_req_body(r, &len);
    if (budget <= 0 || len > TRAJ_INLINE_MAX_BODY) return 0;
    if (before == 0 && workq_busy(app->eval) == 0) return budget;
    return app->inline_busy ? budget * TRAJ_INLINE_BUSY_SHARE : 0;
}

void traj_serve(http_req *r, const traj_proto *p, void *ctx)
{
    http_app *app = http_req_app(r);
    traj *t = calloc(1, sizeof *t);
    if (!t) {
        if (p->ctx_free) p->ctx_free(ctx);
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    t->app = app;
    t->proto = p;
    t->pctx = ctx;
    unsigned before = atomic_fetch_add(&app->traj_active, 1);
    http_req_user_set(r, t, traj_free);
    double budget = inline_budget(r, before);
    if (budget <= 0) {
        http_req_defer(r, traj_pool_work);
        return;
    }
    if (prepare(r, t) != 0) return;
    if (solve_cost_predict(&t->m->cost, t->units) > budget * TRAJ_INLINE_GUESS_SHARE) {
        http_req_defer(r, traj_pool_work);
        return;
    }
    limits l;
    err e;
    err_clear(&e);
    err_code rc = solve_once(r, t, "inline", budget, &l, &e);
    if (rc == ERR_ABORTED && !l.client_gone) { /* over budget: start again on the pool */
        log_debug("trajectory_fallback", "request_id=%s after_ms=%.3f", http_req_id(r), t->ms);
        metrics_solve_fallback();
        http_req_defer(r, traj_pool_work);
        return;
    }
    finish(r, t, &l, rc, &e, 0);
}

/* ---- the v1 protocol: POST /v1/models/{name}/trajectory ---- */

/* The arrays the v1 body is parsed with packed (codec_packed.h): a
 * trajectory's times and states are most of its numbers, and a node per
 * number was a third of the parse and of the frees at completion
 * (docs/benchmarks.md, "Packed trajectory requests"). */
static const char *const v1_pack_keys[] = {"t", "y0", NULL};

/* The body is the v1 body: parsed here, its "version" read. */
static err_code v1_open(http_req *r, void *ctx, model_version_ref *ref, err *e)
{
    json_t **body = ctx;
    if (api_body_parse_packed(r, v1_pack_keys, body, e) != ERR_OK) return e->code;
    if (!json_is_object(*body))
        return err_set(e, ERR_INVALID, "", "the request must be a JSON object, got %s",
                       codec_json_type_name(*body));
    return codec_request_version(*body, ref, e);
}

/* The kinds whose decoder reads packed arrays (codec_request_ode_decode);
 * the others get the plain tree. */
static int v1_reads_packed(model_kind k)
{
    return k == MODEL_KIND_ODE || k == MODEL_KIND_HAMILTONIAN || k == MODEL_KIND_LAGRANGIAN ||
           k == MODEL_KIND_HYBRID;
}

static err_code v1_body(void *ctx, const model_handle *h, json_t **out, err *e)
{
    json_t **body = ctx;
    if (!v1_reads_packed(h->def->kind) && codec_packed_unpack(*body, e) != ERR_OK) return e->code;
    *out = *body;
    *body = NULL;
    return ERR_OK;
}

static void v1_ode_reply(jbuf *b, void *ctx, const model_handle *h, const codec_request_ode *q,
                         const double *y, size_t od, const struct ode_model_events *ev,
                         const codec_request_stats *st)
{
    (void)ctx;
    codec_request_ode_reply_ev(b, h->name, h->version, q, y, od, ev, st);
}

static void v1_cde_reply(jbuf *b, void *ctx, const model_handle *h, const codec_cde_req *q,
                         const double *readout, size_t readout_dim, const double *hidden,
                         size_t hidden_dim, const struct cde_model_events *ev,
                         const codec_request_stats *st)
{
    (void)ctx;
    codec_cde_reply(b, h->name, h->version, q, readout, readout_dim, hidden, hidden_dim, ev, st);
}

static void v1_sde_reply(jbuf *b, void *ctx, const model_handle *h, const codec_sde_req *q,
                         const codec_sde_result *res, const codec_request_stats *st)
{
    (void)ctx;
    codec_sde_reply(b, h->name, h->version, q, res, st);
}

static void v1_ham_reply(jbuf *b, void *ctx, const model_handle *h, const codec_request_ode *q,
                         const double *y, size_t od, const double *energy,
                         const codec_request_stats *st)
{
    (void)ctx;
    codec_ham_traj_reply(b, h->name, h->version, q, y, od, energy, st);
}

static void v1_free(void *ctx)
{
    json_t **body = ctx;
    if (body) json_decref(*body);
    free(body);
}

static const traj_proto v1 = {v1_open, v1_body, NULL,         v1_ode_reply,
                              v1_cde_reply, v1_free, v1_sde_reply, v1_ham_reply};

void h_trajectory(http_req *r)
{
    if (!api_model_name(r, 0) || !api_require_json(r)) return;
    json_t **body = calloc(1, sizeof *body);
    if (!body) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    traj_serve(r, &v1, body);
}
