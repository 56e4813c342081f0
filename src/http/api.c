/* http/api.c: see api.h. */
#include "http/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_parse.h"
#include "http/routes.h"
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
    const char *v = http_req_param(r, "v");
    if (v && strcmp(v, "latest") == 0) return 0;
    long long n = api_path_number(r, "v", 9);
    if (n) return (int)n;
    http_reply_errorf(r, ERR_NOT_FOUND, "version",
                      "no such version (versions are positive integers, or \"latest\")");
    return -1;
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
    json_t *body = http_error_json(e);
    json_t *inner = json_object_get(body, "error");
    if (!key || !inner) {
        json_decref(body);
        http_reply_error(r, e);
        return;
    }
    json_object_set_new(inner, key, json_real(value));
    http_reply_json(r, http_status_for(e->code), body);
}

db *api_db(http_req *r)
{
    err e;
    err_clear(&e);
    db *d = NULL;
    if (db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return NULL;
    }
    return d;
}
