/* http/models.c: models and their versions.
 *
 *   GET    /v1/models                          every model, by name
 *   POST   /v1/models/{name}/versions          upload a model document: the
 *                                              next version (201 + Location)
 *   GET    /v1/models/{name}                   metadata and versions
 *   GET    /v1/models/{name}/versions/{v}      the model document ({v} may be
 *                                              "latest")
 *   DELETE /v1/models/{name}                   the model and every version
 *   DELETE /v1/models/{name}/versions/{v}      one version
 *
 * Uploads and exports scale with the model's size (decoding and writing a
 * million parameters takes a while), so they run deferred on the
 * evaluation pool; the rest are one indexed query and answer on the HTTP
 * thread. A failed upload stores nothing: the document is decoded and
 * validated in full first, and store_model_put writes the version in one
 * transaction. See docs/api.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_model.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "store/models.h"

/* ---- GET /v1/models ---- */

/* name, kind, the dimensions and latest_version of a model. An ode gives
 * state_dim; a cde gives state_dim = hidden_dim (its solved state z) and,
 * spelled out, input_channels, data_channels (what a client sends),
 * hidden_dim and output_dim (the readout's width). */
static json_t *info_json(const model_info *in)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "name", in->name, "kind", model_kind_name(in->kind),
                          "state_dim", (json_int_t)in->state_dim);
    if (o && in->kind == MODEL_KIND_CDE) {
        json_object_set_new(o, "input_channels", json_integer((json_int_t)in->input_channels));
        json_object_set_new(o, "data_channels", json_integer((json_int_t)in->data_channels));
        json_object_set_new(o, "hidden_dim", json_integer((json_int_t)in->hidden_dim));
        json_object_set_new(o, "output_dim", json_integer((json_int_t)in->output_dim));
    }
    if (o) json_object_set_new(o, "latest_version", json_integer(in->latest_version));
    return o;
}

void h_models_list(http_req *r)
{
    err e;
    err_clear(&e);
    db *d = api_db(r);
    model_info *list = NULL;
    size_t n = 0;
    if (!d) return;
    if (store_model_list(d, &list, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    json_t *models = json_array();
    for (size_t i = 0; models && i < n; i++) {
        json_t *m = info_json(&list[i]);
        if (m) {
            json_object_set_new(m, "versions", json_integer(list[i].n_versions));
            json_object_set_new(m, "created_at", json_string(list[i].created_at));
        }
        json_array_append_new(models, m);
    }
    free(list);
    http_reply_json(r, 200, json_pack("{s:o*}", "models", models));
}

/* ---- GET /v1/models/{name} ---- */

void h_model_get(http_req *r)
{
    const char *name = api_model_name(r, 0);
    db *d = name ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    model_info info;
    model_version_info *v = NULL;
    size_t n = 0;
    if (store_model_get(d, name, &info, &v, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    json_t *versions = json_array();
    for (size_t i = 0; versions && i < n; i++)
        json_array_append_new(
            versions, json_pack("{s:i, s:s, s:s, s:I, s:s}", "version", v[i].version, "created_at",
                                v[i].created_at, "checksum", v[i].checksum, "n_params",
                                (json_int_t)v[i].n_params, "description", v[i].description));
    free(v);
    json_t *o = info_json(&info);
    if (o) {
        json_object_set_new(o, "created_at", json_string(info.created_at));
        json_object_set_new(o, "versions", versions);
    } else {
        json_decref(versions);
    }
    http_reply_json(r, 200, o);
}

/* ---- POST /v1/models/{name}/versions ---- */

static void upload_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    err e;
    err_clear(&e);
    json_t *doc = NULL;
    model_def def;
    model_def_init(&def);
    db *d = NULL;
    int version = 0;
    if (api_body_parse(r, &doc, &e) != ERR_OK || codec_model_decode(doc, &def, &e) != ERR_OK ||
        db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK ||
        store_model_put(d, name, &def, &version, &e) != ERR_OK) {
        http_reply_error(r, &e);
        goto out;
    }
    char loc[160];
    snprintf(loc, sizeof loc, "/v1/models/%s/versions/%d", name, version);
    http_reply_header(r, "Location", loc);
    log_info("model_stored", "request_id=%s name=%s version=%d kind=%s n_params=%zu",
             http_req_id(r), name, version, model_kind_name(def.kind), def.n_params);
    http_reply_json(r, 201, json_pack("{s:s, s:i}", "name", name, "version", version));
out:
    model_def_free(&def);
    json_decref(doc);
}

void h_version_create(http_req *r)
{
    if (!api_model_name(r, 1) || !api_require_json(r)) return;
    http_req_defer(r, upload_work);
}

/* ---- GET /v1/models/{name}/versions/{v} ---- */

static void export_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    int version = *(int *)http_req_user(r);
    err e;
    err_clear(&e);
    db *d = NULL;
    model_def def;
    model_def_init(&def);
    char created[32];
    if (db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK ||
        store_version_load(d, name, version, &def, NULL, created, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(&def, &b);
    model_def_free(&def);
    api_reply_jbuf(r, 200, &b);
}

void h_version_get(http_req *r)
{
    if (!api_model_name(r, 0)) return;
    int v = api_path_version(r);
    if (v < 0) return;
    int *arg = malloc(sizeof *arg);
    if (!arg) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    *arg = v;
    http_req_user_set(r, arg, free);
    http_req_defer(r, export_work);
}

/* ---- DELETE ---- */

void h_model_delete(http_req *r)
{
    const char *name = api_model_name(r, 0);
    db *d = name ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    if (store_model_delete(d, name, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    /* frees the loaded versions now; that no get serves them after the
     * commit is the store's deletion count's doing (model_cache.c) */
    model_cache_drop(http_req_app(r)->models, name, 0);
    log_info("model_deleted", "request_id=%s name=%s", http_req_id(r), name);
    http_reply_json(r, 200, json_pack("{s:s, s:b}", "name", name, "deleted", 1));
}

void h_version_delete(http_req *r)
{
    const char *name = api_model_name(r, 0);
    int v = name ? api_path_version(r) : -1;
    db *d = v >= 0 ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    if ((v == 0 && store_model_latest(d, name, &v, &e) != ERR_OK) ||
        store_version_delete(d, name, v, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    model_cache_drop(http_req_app(r)->models, name, v);
    log_info("model_version_deleted", "request_id=%s name=%s version=%d", http_req_id(r), name, v);
    http_reply_json(r, 200, json_pack("{s:s, s:i, s:b}", "name", name, "version", v, "deleted", 1));
}
