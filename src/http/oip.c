/* http/oip.c: the Open Inference Protocol (KServe v2) over REST.
 *
 *   GET  /v2                                       server metadata
 *   GET  /v2/health/live, /v2/health/ready         200 {"live"|"ready": true}
 *   GET  /v2/models/{name}[/versions/{v}]          model metadata: tensors
 *   GET  /v2/models/{name}[/versions/{v}]/ready    200; 404 for no such model, 422
 *                                                  for a kind inferences do not serve
 *   POST /v2/models/{name}[/versions/{v}]/infer    a solve, tensors in and out
 *
 * An inference is a v1 trajectory request in other clothes: the tensors are
 * decoded by codec/codec_oip.h, rewritten as the v1 body once the model's
 * kind and sizes are known, and solved by trajectory.c's machinery
 * (traj.h), so the answers are the v1 answers, number for number. Every
 * route carries ROUTE_OIP: errors come in the protocol's form,
 * {"error": "<field>: <message>"}, with the status of the one table
 * (request.c). {v} is a version number, "latest" or an alias. The model routes run
 * on the evaluation pool (loading a version builds it); health and server
 * metadata answer on the HTTP thread. docs/api.md. */
#include "build_config.h" /* autoconf (the top build dir): PACKAGE_VERSION */

#include <stdatomic.h>
#include <stdlib.h>

#include "codec/codec_json.h"
#include "codec/codec_oip.h"
#include "codec/codec_parse.h"
#include "http/api.h"
#include "http/handlers.h"
#include "http/traj.h"
#include "model/served_model.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/models.h"

/* ---- health and server metadata ---- */

void h_oip_live(http_req *r)
{
    jbuf b;
    jbuf_init(&b);
    codec_oip_health_write(&b, "live");
    api_reply_jbuf(r, 200, &b);
}

void h_oip_ready(http_req *r)
{
    http_app *app = http_req_app(r);
    int state = atomic_load(&app->state);
    err e;
    err_clear(&e);
    db *d = NULL;
    if (state != HTTP_APP_READY)
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "not ready: %s",
                          state == HTTP_APP_DRAINING ? "shutting down" : "starting");
    else if (db_conns_get(app->db, &d, &e) != ERR_OK || db_migrate_check(d, &e) != ERR_OK)
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "not ready: database: %s", e.message);
    else {
        jbuf b;
        jbuf_init(&b);
        codec_oip_health_write(&b, "ready");
        api_reply_jbuf(r, 200, &b);
    }
}

void h_oip_server(http_req *r)
{
    jbuf b;
    jbuf_init(&b);
    codec_oip_server_meta_write(&b, "odeserved", PACKAGE_VERSION);
    api_reply_jbuf(r, 200, &b);
}

/* ---- models ---- */

/* The version the path names ({v}: a number, "latest" or an alias;
 * latest without {v}) into *ref: 0, or -1 after replying 404. */
static int path_ref(http_req *r, model_version_ref *ref)
{
    const char *v = http_req_param(r, "v");
    if (!v) {
        *ref = (model_version_ref){0};
        return 0;
    }
    if (model_version_ref_parse(v, ref)) return 0;
    http_reply_errorf(r, ERR_NOT_FOUND, "version",
                      "no such version (versions are positive integers, \"latest\" or an alias)");
    return -1;
}

/* The model of the path, loaded (and built) through the cache, an alias
 * resolved; NULL after replying. */
static const model_handle *path_model(http_req *r)
{
    const char *name = api_model_name(r, 0);
    model_version_ref ref;
    if (!name || path_ref(r, &ref) != 0) return NULL;
    const model_handle *h = NULL;
    err e;
    err_clear(&e);
    if (api_model_handle(r, name, &ref, &h, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return NULL;
    }
    return h;
}

/* The kinds an inference serves; ERR_INVALID naming the kind for the
 * others, which their v1 routes serve: the model ready and infer routes
 * answer this one error, so "ready" never promises an inference that is
 * refused. */
static err_code oip_served(model_kind kind, err *e)
{
    if (kind == MODEL_KIND_ODE || kind == MODEL_KIND_CDE) return ERR_OK;
    return err_set(e, ERR_INVALID, NULL,
                   "%s models are not served by the Open Inference Protocol (their /v1 routes "
                   "serve them)",
                   model_kind_name(kind));
}

/* Loading a version that is not cached yet builds it (networks and all),
 * which scales with the model: off the HTTP threads, as uploads are. */
static void model_work(http_req *r)
{
    const model_handle *h = path_model(r);
    if (!h) return;
    http_app *app = http_req_app(r);
    const served_model *sm = h->built;
    codec_oip_model_meta m = {.name = h->name, .kind = h->def->kind};
    model_info info;
    model_version_info *v = NULL;
    int *versions = NULL;
    err e;
    err_clear(&e);
    db *d = api_db(r);
    if (!d) goto out;
    if (store_model_get(d, h->name, &info, &v, &m.n_versions, &e) != ERR_OK) {
        http_reply_error(r, &e);
        goto out;
    }
    if (!(versions = calloc(m.n_versions ? m.n_versions : 1, sizeof *versions))) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m.n_versions; i++)
        versions[i] = v[i].version;
    m.versions = versions;
    if (sm->kind == MODEL_KIND_CDE) {
        m.data_channels = cde_model_data_channels(sm->cde);
        m.readout_dim = cde_model_readout_dim(sm->cde);
        m.hidden_dim = cde_model_hidden_dim(sm->cde);
    } else if (sm->kind == MODEL_KIND_ODE) {
        m.state_dim = ode_model_state_dim(sm->ode);
        m.output_dim = ode_model_output_dim(sm->ode, false);
    } /* other kinds are listed by name, with no tensors (oip_served) */
    jbuf b;
    jbuf_init(&b);
    codec_oip_model_meta_write(&b, &m);
    api_reply_jbuf(r, 200, &b);
out:
    free(versions);
    free(v);
    model_cache_release(app->models, h);
}

void h_oip_model(http_req *r)
{
    http_req_defer(r, model_work);
}

static void model_ready_work(http_req *r)
{
    const model_handle *h = path_model(r);
    if (!h) return;
    err e;
    err_clear(&e);
    if (oip_served(h->def->kind, &e) != ERR_OK) {
        http_reply_error(r, &e);
    } else {
        jbuf b;
        jbuf_init(&b);
        codec_oip_model_ready_write(&b, h->name);
        api_reply_jbuf(r, 200, &b);
    }
    model_cache_release(http_req_app(r)->models, h);
}

void h_oip_model_ready(http_req *r)
{
    http_req_defer(r, model_ready_work);
}

/* ---- inference: trajectory.c's machinery with the protocol's hooks ---- */

typedef struct oip_ctx {
    model_version_ref ref; /* from the path */
    json_t *body;          /* the OIP request, parsed */
    codec_oip_req q;       /* borrows from body */
} oip_ctx;

static err_code oip_open(http_req *r, void *ctx, model_version_ref *ref, err *e)
{
    oip_ctx *c = ctx;
    *ref = c->ref;
    if (api_body_parse(r, &c->body, e) != ERR_OK) return e->code;
    if (!json_is_object(c->body))
        return err_set(e, ERR_INVALID, "", "the request must be a JSON object, got %s",
                       codec_json_type_name(c->body));
    return codec_oip_req_decode(c->body, &c->q, e);
}

static err_code oip_body(void *ctx, const model_handle *h, json_t **out, err *e)
{
    oip_ctx *c = ctx;
    const served_model *m = h->built;
    if (m->kind == MODEL_KIND_CDE)
        return codec_oip_to_cde(&c->q, cde_model_data_channels(m->cde), out, e);
    if (m->kind == MODEL_KIND_ODE)
        return codec_oip_to_ode(&c->q, ode_model_state_dim(m->ode), out, e);
    return oip_served(m->kind, e);
}

static void oip_field_map(void *ctx, model_kind kind, err *e)
{
    oip_ctx *c = ctx;
    codec_oip_field_map(&c->q, kind, e);
}

static void oip_ode_reply(jbuf *b, void *ctx, const model_handle *h, const codec_request_ode *q,
                          const double *y, size_t od, const struct ode_model_events *ev,
                          const codec_request_stats *st)
{
    (void)ev; /* the protocol's parameters are scalars: no events are asked */
    oip_ctx *c = ctx;
    codec_oip_ode_reply(b, &c->q, h->name, h->version, q, y, od, st);
}

static void oip_cde_reply(jbuf *b, void *ctx, const model_handle *h, const codec_cde_req *q,
                          const double *readout, size_t readout_dim, const double *hidden,
                          size_t hidden_dim, const struct cde_model_events *ev,
                          const codec_request_stats *st)
{
    (void)ev; /* as for an ode: the protocol asks no events */
    oip_ctx *c = ctx;
    codec_oip_cde_reply(b, &c->q, h->name, h->version, q, readout, readout_dim, hidden, hidden_dim,
                        st);
}

static void oip_free(void *ctx)
{
    oip_ctx *c = ctx;
    if (!c) return;
    codec_oip_req_free(&c->q);
    json_decref(c->body);
    free(c);
}

static const traj_proto oip = {oip_open,      oip_body,      oip_field_map,
                               oip_ode_reply, oip_cde_reply, oip_free,
                               NULL /* sde models: v1 only */, NULL /* hamiltonian: v1 only */};

void h_oip_infer(http_req *r)
{
    if (!api_model_name(r, 0)) return;
    /* A client of the protocol may send no Content-Type (tritonclient's
     * JSON requests); one that names another type is refused. */
    const char *ct = http_req_header(r, "Content-Type");
    if (ct && !codec_parse_is_json_type(ct)) {
        http_reply_errorf(r, ERR_MEDIA, NULL, "Content-Type must be application/json, got '%.80s'",
                          ct);
        return;
    }
    model_version_ref ref;
    if (path_ref(r, &ref) != 0) return;
    oip_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    c->ref = ref;
    traj_serve(r, &oip, c);
}
