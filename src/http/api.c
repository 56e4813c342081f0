/* http/api.c: see api.h. */
#include "http/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_err.h"
#include "codec/codec_parse.h"
#include "http/routes.h"
#include "store/aliases.h"
#include "store/models.h"

int api_require_json(http_req *r)
{
    const char *ct = http_req_header(r, "Content-Type");
    if (codec_parse_is_json_type(ct)) return 1;
    if (!ct)
        http_reply_errorf(r, ERR_MEDIA, NULL,
                          "Content-Type is missing; send the body as application/json");
    else
        http_reply_errorf(r, ERR_MEDIA, NULL, "Content-Type must be application/json, got '%.80s'",
                          ct);
    return 0;
}

err_code api_body_parse(http_req *r, json_t **out, err *e)
{
    size_t len = 0;
    const char *body = http_req_body(r, &len);
    return codec_parse(body ? body : "", body ? len : 0, out, e);
}

err_code api_body_parse_packed(http_req *r, const char *const *pack_keys, json_t **out, err *e)
{
    size_t len = 0;
    const char *body = http_req_body(r, &len);
    return codec_parse_packed(body ? body : "", body ? len : 0, pack_keys, CODEC_PARSE_PACK_MIN,
                              out, e);
}

const char *api_path_name(http_req *r, const char *kind, int creating)
{
    const char *name = http_req_param(r, "name");
    if (name && model_name_ok(name)) return name;
    http_reply_errorf(r, creating ? ERR_INVALID : ERR_NOT_FOUND, "name",
                      "%s %s%s (a %s name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-')",
                      creating ? "invalid" : "no such", kind, creating ? " name" : "", kind);
    return NULL;
}

const char *api_model_name(http_req *r, int creating)
{
    return api_path_name(r, "model", creating);
}

long long api_path_number(http_req *r, const char *param, size_t max_digits)
{
    const char *s = http_req_param(r, param);
    size_t n = s ? strspn(s, "0123456789") : 0;
    if (n == 0 || n > max_digits || s[n] || s[0] == '0') return 0;
    return strtoll(s, NULL, 10);
}

int api_path_version(http_req *r)
{
    model_version_ref ref;
    if (!model_version_ref_parse(http_req_param(r, "v"), &ref)) {
        http_reply_errorf(r, ERR_NOT_FOUND, "version",
                          "no such version (versions are positive integers, \"latest\" or an "
                          "alias)");
        return -1;
    }
    if (!ref.alias[0]) return ref.version;
    db *d = api_db(r);
    if (!d) return -1;
    err e;
    err_clear(&e);
    int v = 0;
    if (store_alias_resolve(d, http_req_param(r, "name"), ref.alias, &v, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return -1;
    }
    return v;
}

err_code api_model_handle(http_req *r, const char *name, const model_version_ref *ref,
                          const model_handle **out, err *e)
{
    if (!ref->alias[0]) return model_cache_get(http_req_app(r)->models, name, ref->version, out, e);
    db *d = NULL;
    err_code rc = db_conns_get(http_req_app(r)->db, &d, e);
    for (int attempt = 0; !rc && attempt < 3; attempt++) {
        int v = 0;
        if ((rc = store_alias_resolve(d, name, ref->alias, &v, e))) break;
        rc = model_cache_get(http_req_app(r)->models, name, v, out, e);
        if (rc != ERR_NOT_FOUND || strcmp(e->field, "version") != 0 || attempt == 2) break;
        err_clear(e); /* the alias moved on and its version went: look again */
        rc = ERR_OK;
    }
    return rc;
}

const char *api_actor(http_req *r)
{
    const char *name = http_req_token_name(r);
    return name && name[0] ? name : "anonymous";
}

void api_reply_jbuf(http_req *r, unsigned status, jbuf *b)
{
    size_t len = 0;
    char *text = jbuf_take(b, &len);
    http_reply_buf(r, status, text, len); /* NULL: the server's out-of-memory reply */
}

void api_reply_error_with(http_req *r, const err *e, const char *key, double value)
{
    if (key && (http_req_route_flags(r) & ROUTE_OIP)) { /* its error is one string */
        err o = *e;
        size_t len = strlen(o.message);
        snprintf(o.message + len, sizeof o.message - len, " (%s: %.17g)", key, value);
        http_reply_error(r, &o);
        return;
    }
    json_t *body = codec_err_json(e);
    json_t *inner = json_object_get(body, "error");
    if (!key || !inner) {
        json_decref(body);
        http_reply_error(r, e);
        return;
    }
    json_object_set_new(inner, key, json_real(value));
    http_reply_json(r, http_status_for(e->code), body);
}
