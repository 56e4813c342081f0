/* http/aliases.c: version aliases and their history (docs/api.md).
 *
 *   PUT    /v1/models/{name}/aliases/{alias}  {"version": v}: point the
 *                                             alias at v (a number,
 *                                             "latest" or another alias)
 *   DELETE /v1/models/{name}/aliases/{alias}  remove it
 *   GET    /v1/models/{name}/history          every change, oldest first
 *
 * Each is one short transaction on the HTTP thread. A request that names
 * an alias holds the version it resolved to for its whole life (the model
 * cache's handle), so moving an alias never disturbs one in flight. */
#include <stdlib.h>

#include "codec/codec_catalog.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "store/aliases.h"
#include "store/models.h"

/* The {alias} segment when valid; else replies (422 when `creating`, else
 * 404, field "alias") and returns NULL. */
static const char *path_alias(http_req *r, int creating)
{
    const char *a = http_req_param(r, "alias");
    if (a && model_alias_ok(a)) return a;
    http_reply_errorf(r, creating ? ERR_INVALID : ERR_NOT_FOUND, "alias",
                      "%s alias (an alias is 1 to %d of a-z, 0-9, '_' and '-', starting with "
                      "a letter, and not \"latest\")",
                      creating ? "invalid" : "no such", MODEL_ALIAS_MAX);
    return NULL;
}

/* ref -> a version number of `name`, resolving "latest" and aliases. */
static err_code resolve(db *d, const char *name, const model_version_ref *ref, int *v, err *e)
{
    if (ref->alias[0]) return store_alias_resolve(d, name, ref->alias, v, e);
    if (ref->version > 0) {
        *v = ref->version;
        return ERR_OK;
    }
    return store_model_latest(d, name, v, e);
}

void h_alias_put(http_req *r)
{
    const char *name = api_model_name(r, 0);
    const char *alias = name ? path_alias(r, 1) : NULL;
    db *d = alias ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    json_t *doc = http_req_json(r);
    model_version_ref ref;
    int v = 0, previous = 0;
    if (codec_catalog_alias_decode(doc, &ref, &e) != ERR_OK ||
        resolve(d, name, &ref, &v, &e) != ERR_OK ||
        store_alias_set(d, name, alias, v, api_actor(r), &previous, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    if (previous != v)
        log_info("alias_set", "request_id=%s name=%s alias=%s from=%d to=%d by=%s", http_req_id(r),
                 name, alias, previous, v, api_actor(r));
    jbuf b;
    jbuf_init(&b);
    codec_catalog_alias_encode(name, alias, v, previous, &b);
    api_reply_jbuf(r, 200, &b);
}

void h_alias_delete(http_req *r)
{
    const char *name = api_model_name(r, 0);
    const char *alias = name ? path_alias(r, 0) : NULL;
    db *d = alias ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    int previous = 0;
    if (store_alias_delete(d, name, alias, api_actor(r), &previous, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    log_info("alias_deleted", "request_id=%s name=%s alias=%s from=%d by=%s", http_req_id(r), name,
             alias, previous, api_actor(r));
    jbuf b;
    jbuf_init(&b);
    codec_catalog_alias_encode(name, alias, 0, previous, &b);
    api_reply_jbuf(r, 200, &b);
}

void h_model_history(http_req *r)
{
    const char *name = api_model_name(r, 0);
    db *d = name ? api_db(r) : NULL;
    if (!d) return;
    err e;
    err_clear(&e);
    model_alias_event *ev = NULL;
    size_t n = 0;
    if (store_alias_history(d, name, &ev, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    jbuf b;
    jbuf_init(&b);
    codec_catalog_history_encode(name, ev, n, &b);
    free(ev);
    api_reply_jbuf(r, 200, &b);
}
