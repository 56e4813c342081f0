/* http/gradient.c: POST /v1/models/{name}/gradient: the loss of an ODE
 * model's trajectories against targets and its gradient with respect to
 * the initial states and the parameters (codec/codec_grad.h,
 * model/grad_serve.h). Deferred to the evaluation pool like a trajectory
 * that does not fit inline; the solves stop at solve_timeout (503
 * deadline_exceeded), at shutdown, or when the client leaves. A model of
 * another kind is a 422 naming "name". */
#include "codec/codec_grad.h"
#include "codec/codec_json.h"
#include "codec/codec_request.h"
#include "core/clock.h"
#include "http/api.h"
#include "http/app.h"
#include "http/handlers.h"
#include "model/grad_serve.h"
#include "model/served_model.h"
#include "nn/mlp.h"

#include <math.h>
#include <stdlib.h>

/* How often the solves look whether the client is still there. */
#define GRADIENT_CLIENT_CHECK_S 0.01

typedef struct grad_limits {
    double deadline, next_check;
    const http_req *r;
} grad_limits;

static int grad_abort(void *ctx)
{
    grad_limits *l = ctx;
    if (http_req_cancelled(l->r)) return ERR_UNAVAILABLE;
    const double now = clock_mono();
    if (now > l->deadline) return ERR_DEADLINE;
    if (now >= l->next_check) {
        l->next_check = now + GRADIENT_CLIENT_CHECK_S;
        if (http_req_client_gone(l->r)) return ERR_ABORTED;
    }
    return 0;
}

static void gradient_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    err e;
    err_clear(&e);
    json_t *body = NULL;
    const model_handle *h = NULL;
    codec_grad_req q = {0};
    double *gy0 = NULL, *gth = NULL;
    model_version_ref ref;
    if (api_body_parse(r, &body, &e) != ERR_OK) goto fail;
    if (!json_is_object(body)) {
        err_set(&e, ERR_INVALID, "", "the request must be a JSON object, got %s",
                codec_json_type_name(body));
        goto fail;
    }
    if (codec_request_version(body, &ref, &e) != ERR_OK ||
        api_model_handle(r, name, &ref, &h, &e) != ERR_OK)
        goto fail;
    const served_model *m = h->built;
    if (m->kind != MODEL_KIND_ODE) {
        err_set(&e, ERR_INVALID, "name",
                "model %s is of kind %s; /gradient answers ode models only", name,
                model_kind_name(m->kind));
        goto fail;
    }
    const size_t sd = ode_model_state_dim(m->ode);
    const mlp *f = ode_model_net(m->ode);
    if (codec_grad_decode(body, sd, &q, &e) != ERR_OK) goto fail;
    if (!(gy0 = calloc(q.batch * sd, sizeof *gy0)) ||
        !(gth = calloc(mlp_n_params(f) + 1, sizeof *gth))) {
        err_set(&e, ERR_NOMEM, NULL, "out of memory for the gradient");
        goto fail;
    }
    const uint64_t us = atomic_load(&http_req_app(r)->solve_timeout_us);
    grad_limits lim = {us ? http_req_ready_at(r) + (double)us * 1e-6 : INFINITY,
                       clock_mono() + GRADIENT_CLIENT_CHECK_S, r};
    const struct grad_serve_query gq = {
        .batch = q.batch,
        .y0 = q.y0,
        .t0 = q.t0,
        .t = q.t,
        .n_t = q.n_t,
        .target = q.target,
        .mean = q.mean,
        .method = q.method,
        .solver = q.solver,
        .abort = grad_abort,
        .abort_ctx = &lim,
    };
    codec_grad_stats st = {.method = grad_method_name(q.method)};
    double loss = 0;
    const double t_start = clock_mono();
    if (grad_serve_ode(m->ode, &gq, &loss, gy0, gth, &st.st, &e) != ERR_OK) goto fail;
    st.elapsed_ms = (clock_mono() - t_start) * 1e3;
    jbuf b;
    jbuf_init(&b);
    codec_grad_reply(&b, h->name, h->version, &q, sd, loss, gy0, f, gth, &st);
    api_reply_jbuf(r, 200, &b);
    goto out;
fail:
    http_reply_error(r, &e);
out:
    if (h) model_cache_release(http_req_app(r)->models, h);
    json_decref(body);
    codec_grad_req_free(&q);
    free(gy0);
    free(gth);
}

void h_gradient(http_req *r)
{
    if (!api_model_name(r, 0) || !api_require_json(r)) return;
    http_req_defer(r, gradient_work);
}
