/* http/cnf.c: POST /v1/models/{name}/log_prob and POST /v1/models/{name}/sample,
 * the routes of a "cnf" model (docs/cnf.md; the JSON is codec/codec_cnf.h,
 * the maths model/cnf_model.h).
 *
 * Both run on the evaluation pool (http_req_defer), body parsing included:
 * a log-density costs an augmented solve per point, well past what the
 * trajectory route's inline path is for. The limits are the trajectory
 * route's: solve_timeout from the request's arrival (503
 * deadline_exceeded), the shutdown (503), the client leaving (the solve is
 * stopped), all through the solver's abort hook; and the route's own caps
 * (max_cnf_points, max_cnf_exact_dim, max_cnf_probes; codec_cnf.h). A model
 * of another kind is a 422 naming "kind". */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "codec/codec_cnf.h"
#include "codec/codec_json.h"
#include "codec/codec_request.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "model/served_model.h"

/* How often a running solve asks whether its client is still there. */
#define CNF_CLIENT_CHECK_S 0.01

typedef struct cnf_limits {
    double deadline, timeout_s, next_client_check;
    const http_req *r;
    int client_gone;
} cnf_limits;

static int cnf_check_limits(void *ctx)
{
    cnf_limits *l = ctx;
    if (http_req_cancelled(l->r)) return ERR_UNAVAILABLE;
    double now = clock_mono();
    if (now > l->deadline) return ERR_DEADLINE;
    if (now >= l->next_client_check) {
        l->next_client_check = now + CNF_CLIENT_CHECK_S;
        if (http_req_client_gone(l->r)) {
            l->client_gone = 1;
            return ERR_ABORTED;
        }
    }
    return 0;
}

static void cnf_reply_error(http_req *r, const cnf_limits *l, err *e, double t_fail)
{
    if (e->code == ERR_DEADLINE) {
        http_reply_errorf(r, ERR_DEADLINE, NULL,
                          "the request ran past solve_timeout (%g s, counted from its arrival) and "
                          "was stopped; send fewer points or a looser tolerance",
                          l->timeout_s);
    } else if (e->code == ERR_UNAVAILABLE) {
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "the server is shutting down");
    } else if (e->code == ERR_ABORTED && l->client_gone) {
        log_info("eval_dropped", "request_id=%s when=running", http_req_id(r));
        metrics_eval_dropped(1);
        http_reply_errorf(r, ERR_ABORTED, NULL, "the client closed the connection");
    } else if (e->code == ERR_SOLVER && isfinite(t_fail)) {
        api_reply_error_with(r, e, "t_reached", t_fail);
    } else {
        http_reply_error(r, e);
    }
}

/* One request's state: its user data, freed at completion. */
typedef struct cnf_req {
    http_app *app;
    bool sample;
    json_t *body;
    const model_handle *h;
    codec_cnf_req q;
    double *x, *path, *lp, *se;
} cnf_req;

static void cnf_req_free(void *p)
{
    cnf_req *c = p;
    if (!c) return;
    if (c->h) model_cache_release(c->app->models, c->h);
    json_decref(c->body);
    codec_cnf_req_free(&c->q);
    free(c->x);
    free(c->path);
    free(c->lp);
    free(c->se);
    free(c);
}

/* Parse, find the model, decode: 0, or -1 after replying. */
static int cnf_prepare(http_req *r, cnf_req *c, err *e)
{
    const char *name = http_req_param(r, "name");
    model_version_ref ref;
    if (api_body_parse(r, &c->body, e) != ERR_OK) return -1;
    if (!json_is_object(c->body)) {
        err_set(e, ERR_INVALID, "", "the request must be a JSON object, got %s",
                codec_json_type_name(c->body));
        return -1;
    }
    if (codec_request_version(c->body, &ref, e) != ERR_OK ||
        api_model_handle(r, name, &ref, &c->h, e) != ERR_OK)
        return -1;
    metrics_request_model(r, c->h->name);
    if (c->h->def->kind != MODEL_KIND_CNF) {
        err_set(e, ERR_INVALID, "kind",
                "model %s is a%s %s model; %s answers for cnf models only", name,
                c->h->def->kind == MODEL_KIND_ODE ? "n" : "", model_kind_name(c->h->def->kind),
                c->sample ? "sample" : "log_prob");
        return -1;
    }
    http_app *app = http_req_app(r);
    const codec_cnf_limits lim = {
        .max_points = (size_t)atomic_load(&app->max_cnf_points),
        .max_exact_dim = (size_t)atomic_load(&app->max_cnf_exact_dim),
        .max_probes = (size_t)atomic_load(&app->max_cnf_probes),
        .max_values = (size_t)atomic_load(&app->max_solve_points)};
    const size_t dim = c->h->def->state_dim;
    if ((c->sample ? codec_cnf_sample_decode : codec_cnf_logp_decode)(c->body, dim, &lim, &c->q,
                                                                       e) != ERR_OK)
        return -1;
    if (c->sample && !c->q.x && !c->q.has_seed) { /* a fresh seed, reported in the reply */
        uint64_t s = 0;
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = (uint64_t)(clock_mono() * 1e9);
        c->q.seed = c->q.tr.seed = s & ((1ull << 53) - 1);
    }
    const size_t n = c->q.n;
    c->lp = calloc(n, sizeof(double));
    c->se = calloc(n, sizeof(double));
    if (c->sample) {
        c->x = calloc(n * dim, sizeof(double));
        if (c->q.n_t) c->path = calloc(n * c->q.n_t * dim, sizeof(double));
    }
    if (!c->lp || !c->se || (c->sample && (!c->x || (c->q.n_t && !c->path)))) {
        err_set(e, ERR_NOMEM, NULL, "out of memory for the reply");
        return -1;
    }
    return 0;
}

/* A reply never carries a non-finite number (it would be written null): a
 * log-density that is not finite (a point so far out that log p passes
 * the doubles) names the point, "x[i]" ("z[i]" for a sample from given
 * base points, else "n"). stderr's null for one probe is the documented
 * "unknown" and stays. */
static err_code cnf_logp_check(const cnf_req *c, err *e)
{
    if (c->sample && !c->q.log_prob) return ERR_OK;
    for (size_t i = 0; i < c->q.n; i++) {
        if (isfinite(c->lp[i])) continue;
        char f[32] = "n";
        if (!c->sample || c->q.x) snprintf(f, sizeof f, "%s[%zu]", c->sample ? "z" : "x", i);
        return err_set(e, ERR_INVALID, f,
                       "log p(x) is not finite here (%g): the point is too far out for a double",
                       c->lp[i]);
    }
    return ERR_OK;
}

static void cnf_work(http_req *r)
{
    cnf_req *c = http_req_user(r);
    err e;
    err_clear(&e);
    if (cnf_prepare(r, c, &e) != 0) {
        http_reply_error(r, &e);
        return;
    }
    const cnf_model *m = ((const served_model *)c->h->built)->cnf;
    uint64_t us = atomic_load(&c->app->solve_timeout_us);
    cnf_limits l = {INFINITY, (double)us * 1e-6, clock_mono() + CNF_CLIENT_CHECK_S, r, 0};
    if (us) l.deadline = http_req_ready_at(r) + l.timeout_s;
    struct cnf_stats st;
    const double t0 = clock_mono();
    err_code rc;
    const bool hutch = c->q.tr.trace == CNF_TRACE_HUTCHINSON;
    if (c->sample) {
        const struct cnf_sample_query sq = {.n = c->q.n, .z = c->q.x, .seed = c->q.seed,
                                            .t = c->q.t, .n_t = c->q.n_t,
                                            .log_prob = c->q.log_prob, .tr = c->q.tr,
                                            .solver = c->q.solver, .abort = cnf_check_limits,
                                            .abort_ctx = &l};
        rc = cnf_model_sample(m, &sq, c->x, c->path, c->lp, c->se, &st, &e);
    } else {
        const struct cnf_logp_query lq = {.n = c->q.n, .x = c->q.x, .tr = c->q.tr,
                                          .solver = c->q.solver, .abort = cnf_check_limits,
                                          .abort_ctx = &l};
        rc = cnf_model_log_prob(m, &lq, c->lp, c->se, NULL, &st, &e);
    }
    const double ms = (clock_mono() - t0) * 1e3;
    log_debug("cnf_done", "request_id=%s model=%s version=%d route=%s n=%zu code=%s nfe=%ld "
              "elapsed_ms=%.3f",
              http_req_id(r), c->h->name, c->h->version, c->sample ? "sample" : "log_prob", c->q.n,
              err_code_name(rc), st.nfe, ms);
    metrics_solve_done(r, 1, st.nfe, st.steps);
    if (rc == ERR_OK) rc = cnf_logp_check(c, &e);
    if (rc != ERR_OK) {
        cnf_reply_error(r, &l, &e, st.t_fail);
        return;
    }
    codec_request_stats cs = {.nfe = st.nfe, .steps = st.steps, .rejected = st.rejected,
                              .elapsed_ms = round(ms * 1e3) / 1e3};
    jbuf b;
    jbuf_init(&b);
    if (c->sample)
        codec_cnf_sample_reply(&b, c->h->name, c->h->version, &c->q, c->h->def->state_dim, c->x,
                               c->path, c->lp, hutch ? c->se : NULL, &st, &cs);
    else
        codec_cnf_logp_reply(&b, c->h->name, c->h->version, &c->q, c->lp, hutch ? c->se : NULL,
                             &st, &cs);
    api_reply_jbuf(r, 200, &b);
}

static void cnf_serve(http_req *r, bool sample)
{
    if (!api_model_name(r, 0) || !api_require_json(r)) return;
    cnf_req *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    c->app = http_req_app(r);
    c->sample = sample;
    http_req_user_set(r, c, cnf_req_free);
    http_req_defer(r, cnf_work);
}

void h_cnf_log_prob(http_req *r)
{
    cnf_serve(r, false);
}

void h_cnf_sample(http_req *r)
{
    cnf_serve(r, true);
}
