/* http/models.c: models and their versions.
 *
 *   GET    /v1/models                          every model, by name
 *   POST   /v1/models/{name}/versions          upload a model document: the
 *                                              next version (201 + Location)
 *   GET    /v1/models/{name}                   metadata and versions
 *   GET    /v1/models/{name}/versions/{v}      the model document ({v} may be
 *                                              "latest" or an alias)
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

#include "codec/codec_catalog.h"
#include "codec/codec_model.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "store/aliases.h"
#include "store/models.h"

/* ---- GET /v1/models ---- */

/* Hybrid models show their names, parameters and equations: borrow each
 * one's latest version from the model cache (a model that fails to load is
 * listed without them). Returns the handles to release. */
static const model_handle **hybrid_defs(http_req *r, model_info *list, size_t n)
{
    const model_handle **h = calloc(n + 1, sizeof *h);
    for (size_t i = 0; h && i < n; i++) {
        if (list[i].kind != MODEL_KIND_HYBRID) continue;
        err e;
        err_clear(&e);
        if (model_cache_get(http_req_app(r)->models, list[i].name, list[i].latest_version, &h[i],
                            &e) == ERR_OK)
            list[i].def = h[i]->def;
    }
    return h;
}

static void hybrid_defs_release(http_req *r, const model_handle **h, size_t n)
{
    for (size_t i = 0; h && i < n; i++)
        if (h[i]) model_cache_release(http_req_app(r)->models, h[i]);
    free(h);
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
    const model_handle **h = hybrid_defs(r, list, n);
    jbuf b;
    jbuf_init(&b);
    codec_catalog_list_encode(list, n, &b);
    hybrid_defs_release(r, h, n);
    free(list);
    api_reply_jbuf(r, 200, &b);
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
    model_alias *a = NULL;
    size_t n_aliases = 0;
    if (store_alias_list(d, name, &a, &n_aliases, &e) != ERR_OK) {
        free(v);
        http_reply_error(r, &e);
        return;
    }
    const model_handle **h = hybrid_defs(r, &info, 1);
    jbuf b;
    jbuf_init(&b);
    codec_catalog_model_encode(&info, v, n, a, n_aliases, &b);
    hybrid_defs_release(r, h, 1);
    free(v);
    free(a);
    api_reply_jbuf(r, 200, &b);
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
    err_code rc = api_body_parse_packed(r, codec_model_pack_keys, &doc, &e) == ERR_OK
                      ? codec_model_decode(doc, &def, &e)
                      : e.code;
    json_decref(doc); /* decoded: the tree need not live through the store */
    doc = NULL;
    if (rc != ERR_OK || db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK ||
        store_model_put(d, name, &def, &version, &e) != ERR_OK) {
        http_reply_error(r, &e);
        goto out;
    }
    char loc[160];
    snprintf(loc, sizeof loc, "/v1/models/%s/versions/%d", name, version);
    http_reply_header(r, "Location", loc);
    log_info("model_stored", "request_id=%s name=%s version=%d kind=%s n_params=%zu",
             http_req_id(r), name, version, model_kind_name(def.kind), def.n_params);
    jbuf b;
    jbuf_init(&b);
    codec_catalog_stored_encode(name, version, &b);
    api_reply_jbuf(r, 201, &b);
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
    if (store_model_delete(d, name, api_actor(r), &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    /* frees the loaded versions now; that no get serves them after the
     * commit is the store's deletion count's doing (model_cache.c) */
    model_cache_drop(http_req_app(r)->models, name, 0);
    log_info("model_deleted", "request_id=%s name=%s", http_req_id(r), name);
    jbuf b;
    jbuf_init(&b);
    codec_catalog_deleted_encode(name, 0, &b);
    api_reply_jbuf(r, 200, &b);
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
    jbuf b;
    jbuf_init(&b);
    codec_catalog_deleted_encode(name, v, &b);
    api_reply_jbuf(r, 200, &b);
}
