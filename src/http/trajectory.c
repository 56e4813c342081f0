/* http/trajectory.c: POST /v1/models/{name}/trajectory.
 *
 * The handler checks the name and the Content-Type and defers; the work,
 * on the evaluation pool, parses the body, reads "version", takes the
 * model from the cache (built once per version, shared) and hands the rest
 * to the serving function of the model's kind, which decodes the
 * kind-specific request, solves and replies.
 *
 * Limits, each with its own error: the reply's size (batch x times x state
 * size <= max_solve_points, else 413 too_large, checked before any work);
 * the solve's time (solve_timeout, else 503 deadline_exceeded) and the
 * shutdown (503 unavailable), both through the solver's abort hook, polled
 * before every step; a solver failure is 422 solver_failed with the time
 * reached ("t_reached"). See docs/api.md. */
#include "http/trajectory.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/api.h"
#include "http/codec_request.h"
#include "http/handlers.h"
#include "http/codec_cde.h"
#include "model/cde_model.h"
#include "model/ode_model.h"

/* ---- served models: one per cached version ---- */

typedef struct served_model {
    model_kind kind;
    ode_model *ode; /* kind ode */
    cde_model *cde; /* kind cde */
} served_model;

void *served_model_build(const model_def *def, err *e)
{
    served_model *m = calloc(1, sizeof *m);
    if (!m) {
        err_set(e, ERR_NOMEM, NULL, "out of memory building a model");
        return NULL;
    }
    m->kind = def->kind;
    if (def->kind == MODEL_KIND_ODE && ode_model_new(&m->ode, def, e) != ERR_OK) {
        free(m);
        return NULL;
    }
    if (def->kind == MODEL_KIND_CDE && cde_model_new(&m->cde, def, e) != ERR_OK) {
        free(m);
        return NULL;
    }
    return m;
}

void served_model_free(void *built)
{
    served_model *m = built;
    if (!m) return;
    ode_model_free(m->ode);
    cde_model_free(m->cde);
    free(m);
}

/* ---- limits ---- */

typedef struct limits {
    double deadline; /* clock_mono() past which the solve stops; INFINITY = none */
    double timeout_s;
    const http_req *r;
} limits;

static limits limits_start(const http_req *r)
{
    uint64_t us = atomic_load(&http_req_app(r)->solve_timeout_us);
    limits l = {INFINITY, (double)us * 1e-6, r};
    if (us) l.deadline = clock_mono() + l.timeout_s;
    return l;
}

/* ode_abort_fn: polled before every step attempt. */
static int check_limits(void *ctx)
{
    const limits *l = ctx;
    if (http_req_cancelled(l->r)) return ERR_UNAVAILABLE;
    if (clock_mono() > l->deadline) return ERR_DEADLINE;
    return 0;
}

/* 1 when batch x n_t x dim values fit the configured cap; else replies 413. */
static int within_cap(http_req *r, size_t batch, size_t n_t, size_t dim)
{
    uint64_t cap = atomic_load(&http_req_app(r)->max_solve_points);
    double points = (double)batch * (double)n_t * (double)dim;
    if (points <= (double)cap) return 1;
    http_reply_errorf(r, ERR_TOO_LARGE, NULL,
                      "the reply would hold %.0f values (%zu states x %zu times x %zu per state), "
                      "more than max_solve_points = %llu; split the request",
                      points, batch, n_t, dim, (unsigned long long)cap);
    return 0;
}

/* A failed solve: the reason with the time reached. */
static void reply_solve_error(http_req *r, const limits *l, err *e, double t_fail)
{
    if (e->code == ERR_DEADLINE) {
        err d;
        err_clear(&d);
        err_set(&d, ERR_DEADLINE, NULL,
                "the solve ran past solve_timeout (%g s) and was stopped at t=%.17g; ask for "
                "fewer or nearer times, a smaller batch or a looser tolerance",
                l->timeout_s, t_fail);
        http_reply_error(r, &d);
    } else if (e->code == ERR_UNAVAILABLE) {
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "the server is shutting down");
    } else if (e->code == ERR_SOLVER && isfinite(t_fail)) {
        api_reply_error_with(r, e, "t_reached", t_fail);
    } else {
        http_reply_error(r, e);
    }
}

/* ---- kind ode ---- */

static void serve_ode(http_req *r, const model_handle *h, const json_t *body)
{
    const served_model *m = h->built;
    ode_traj_req q;
    err e;
    err_clear(&e);
    double *y = NULL;
    if (codec_ode_req_decode(body, ode_model_state_dim(m->ode), &q, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    size_t od = ode_model_output_dim(m->ode, q.augmented);
    if (!within_cap(r, q.batch, q.n_t, od)) goto out;
    if (!(y = malloc(q.batch * q.n_t * od * sizeof *y))) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory for the trajectory");
        goto out;
    }
    limits l = limits_start(r);
    struct ode_model_query oq = {
        .t0 = q.t0,
        .batch = q.batch,
        .y0 = q.y0,
        .t = q.t,
        .n_t = q.n_t,
        .solver = q.solver,
        .mode = ODE_BATCH_AUTO,
        .report_augmented = q.augmented,
        .abort = check_limits,
        .abort_ctx = &l,
    };
    struct ode_model_stats st = {0};
    log_debug("trajectory_start", "request_id=%s model=%s version=%d batch=%zu n_t=%zu",
              http_req_id(r), h->name, h->version, q.batch, q.n_t);
    double t0 = clock_mono();
    err_code rc = ode_model_solve(m->ode, &oq, y, &st, &e);
    double ms = (clock_mono() - t0) * 1e3;
    log_debug("trajectory_done", "request_id=%s code=%s nfe=%ld steps=%ld elapsed_ms=%.3f",
              http_req_id(r), err_code_name(rc), st.nfe, st.steps, ms);
    if (rc != ERR_OK) {
        reply_solve_error(r, &l, &e, st.t_fail);
        goto out;
    }
    codec_stats cs = {st.nfe, st.steps, st.rejected, round(ms * 1e3) / 1e3};
    jbuf b;
    jbuf_init(&b);
    codec_ode_reply(&b, h->name, h->version, &q, y, od, &cs);
    api_reply_jbuf(r, 200, &b);
out:
    free(y);
    codec_ode_req_free(&q);
}

/* ---- kind cde ---- */

static void serve_cde(http_req *r, const model_handle *h, const json_t *body)
{
    const served_model *m = h->built;
    cde_traj_req q;
    err e;
    err_clear(&e);
    double *ro = NULL, *hid = NULL;
    if (codec_cde_req_decode(body, cde_model_data_channels(m->cde), &q, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    size_t rd = cde_model_readout_dim(m->cde), hd = cde_model_hidden_dim(m->cde);
    bool want_r = q.output & CDE_OUTPUT_READOUT, want_h = q.output & CDE_OUTPUT_HIDDEN;
    size_t rows = 0;
    for (size_t k = 0; k < q.batch; k++)
        rows += q.series[k].n_t;
    /* the cap counts every value of the reply: rows x (readout + hidden) */
    uint64_t cap = atomic_load(&http_req_app(r)->max_solve_points);
    size_t per_row = (want_r ? rd : 0) + (want_h ? hd : 0);
    double points = (double)rows * (double)per_row;
    if (points > (double)cap) {
        http_reply_errorf(r, ERR_TOO_LARGE, NULL,
                          "the reply would hold %.0f values (%zu query times over %zu series x "
                          "%zu per time), more than max_solve_points = %llu; split the request",
                          points, rows, q.batch, per_row, (unsigned long long)cap);
        goto out;
    }
    if ((want_r && !(ro = malloc(rows * rd * sizeof *ro))) ||
        (want_h && !(hid = malloc(rows * hd * sizeof *hid)))) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory for the trajectory");
        goto out;
    }
    limits l = limits_start(r);
    struct cde_model_query cq = {
        .batch = q.batch,
        .series = q.series,
        .output = q.output,
        .solver = q.solver,
        .series_fields = q.batched,
        .abort = check_limits,
        .abort_ctx = &l,
    };
    struct cde_model_stats st = {0};
    log_debug("trajectory_start", "request_id=%s model=%s version=%d batch=%zu rows=%zu",
              http_req_id(r), h->name, h->version, q.batch, rows);
    double t0 = clock_mono();
    err_code rc = cde_model_solve(m->cde, &cq, ro, hid, &st, &e);
    double ms = (clock_mono() - t0) * 1e3;
    log_debug("trajectory_done", "request_id=%s code=%s nfe=%ld steps=%ld elapsed_ms=%.3f",
              http_req_id(r), err_code_name(rc), st.nfe, st.steps, ms);
    if (rc != ERR_OK) {
        reply_solve_error(r, &l, &e, st.t_fail);
        goto out;
    }
    codec_stats cs = {st.nfe, st.steps, st.rejected, round(ms * 1e3) / 1e3};
    jbuf b;
    jbuf_init(&b);
    codec_cde_reply(&b, h->name, h->version, &q, ro, rd, hid, hd, &cs);
    api_reply_jbuf(r, 200, &b);
out:
    free(ro);
    free(hid);
    codec_cde_req_free(&q);
}

/* ---- dispatch ---- */

/* Decode the kind-specific rest of the request, solve, reply. */
typedef void (*traj_serve_fn)(http_req *r, const model_handle *h, const json_t *body);

static const struct {
    model_kind kind;
    traj_serve_fn serve; /* NULL: not served yet */
} kinds[] = {
    {MODEL_KIND_ODE, serve_ode},
    {MODEL_KIND_CDE, serve_cde},
};

static traj_serve_fn serve_fn(model_kind k)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == k) return kinds[i].serve;
    return NULL;
}

static void traj_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    model_cache *cache = http_req_app(r)->models;
    err e;
    err_clear(&e);
    json_t *body = NULL;
    const model_handle *h = NULL;
    int version = 0;
    if (api_parse_body(r, &body, &e) != ERR_OK) goto fail;
    if (!json_is_object(body)) {
        err_set(&e, ERR_INVALID, "", "the request must be a JSON object, got %s",
                codec_type_name(body));
        goto fail;
    }
    if (codec_traj_version(body, &version, &e) != ERR_OK ||
        model_cache_get(cache, name, version, &h, &e) != ERR_OK)
        goto fail;
    traj_serve_fn serve = serve_fn(h->def->kind);
    if (!serve) {
        err_set(&e, ERR_INVALID, NULL, "model %s is a %s model; %s models are not served yet", name,
                model_kind_name(h->def->kind), model_kind_name(h->def->kind));
        goto fail;
    }
    serve(r, h, body);
    goto out;
fail:
    http_reply_error(r, &e);
out:
    if (h) model_cache_release(cache, h);
    json_decref(body);
}

void h_trajectory(http_req *r)
{
    if (!api_model_name(r, 0) || !api_require_json(r)) return;
    http_req_defer(r, traj_work);
}
