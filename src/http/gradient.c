/* http/gradient.c: POST /v1/models/{name}/gradient: the loss of an ODE
 * model's trajectories against targets and its gradient with respect to
 * the initial states and the parameters (codec/codec_grad.h,
 * model/grad_serve.h), or of a CDE model's readouts (or hidden states) on
 * series of observations and its gradient with respect to its three
 * networks (codec/codec_grad_cde.h). Deferred to the evaluation pool like
 * a trajectory that does not fit inline; the solves stop at solve_timeout
 * (503 deadline_exceeded), at shutdown, when the client leaves, or when
 * the engine passes gradient_max_tape bytes (413 naming "method"). A model
 * of another kind is a 422 naming "name". */
#include "codec/codec_grad.h"
#include "codec/codec_grad_cde.h"
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

/* The cde request on model m (built, of kind cde): the reply into b. */
static err_code gradient_cde(http_req *r, const model_handle *h, const json_t *body,
                             grad_limits *lim, jbuf *b, err *e)
{
    const cde_model *m = ((const served_model *)h->built)->cde;
    const codec_cde_dims dims = {.n_data = cde_model_data_channels(m),
                                 .hidden_dim = cde_model_hidden_dim(m),
                                 .readout_dim = cde_model_readout_dim(m)};
    codec_grad_cde_req q;
    double *gth = NULL;
    const mlp *n0 = cde_model_net(m, MODEL_NET_CDE_INITIAL),
              *n1 = cde_model_net(m, MODEL_NET_CDE_FIELD),
              *n2 = cde_model_net(m, MODEL_NET_CDE_READOUT);
    err_code rc = codec_grad_cde_decode(body, &dims, &q, e);
    if (rc) return rc;
    if (!(gth = calloc(mlp_n_params(n0) + mlp_n_params(n1) + mlp_n_params(n2) + 1, sizeof *gth))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
        goto out;
    }
    const struct grad_serve_cde_query gq = {
        .batch = q.cde.batch,
        .series = q.cde.series,
        .series_fields = q.cde.batched,
        .target = q.target,
        .on_hidden = q.cde.output == CDE_OUTPUT_HIDDEN,
        .mean = q.mean,
        .method = q.method,
        .solver = q.cde.solver,
        .max_bytes = (size_t)atomic_load(&http_req_app(r)->gradient_max_tape),
        .abort = grad_abort,
        .abort_ctx = lim,
    };
    codec_grad_stats st = {.method = grad_method_name(q.method)};
    double loss = 0;
    const double t_start = clock_mono();
    if ((rc = grad_serve_cde(m, &gq, &loss, gth, &st.st, e))) goto out;
    st.elapsed_ms = (clock_mono() - t_start) * 1e3;
    codec_grad_cde_reply(b, h->name, h->version, loss, n0, n1, n2, gth, &st);
out:
    codec_grad_cde_req_free(&q);
    free(gth);
    return rc;
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
    const uint64_t us = atomic_load(&http_req_app(r)->solve_timeout_us);
    grad_limits lim = {us ? http_req_ready_at(r) + (double)us * 1e-6 : INFINITY,
                       clock_mono() + GRADIENT_CLIENT_CHECK_S, r};
    if (m->kind == MODEL_KIND_CDE) {
        jbuf b;
        jbuf_init(&b);
        if (gradient_cde(r, h, body, &lim, &b, &e) != ERR_OK) {
            jbuf_free(&b);
            goto fail;
        }
        api_reply_jbuf(r, 200, &b);
        goto out;
    }
    if (m->kind != MODEL_KIND_ODE) {
        err_set(&e, ERR_INVALID, "name",
                "model %s is of kind %s; /gradient answers cde and ode models only", name,
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
        .max_bytes = (size_t)atomic_load(&http_req_app(r)->gradient_max_tape),
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
