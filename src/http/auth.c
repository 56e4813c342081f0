/* http/auth.c: see auth.h. Also the admin routes of the token table:
 *
 *   POST   /v1/tokens         {"name", "scopes", "expires"}: 201 + the token,
 *                             shown this once, with its row
 *   GET    /v1/tokens         the tokens not revoked (never a secret)
 *   DELETE /v1/tokens/{name}  revoke by name (or id): 200 + the row
 *
 * DESIGN: tokens are read from SQLite on every request that carries one
 * rather than cached, so that `odeserved token revoke` run beside the daemon
 * takes effect at the next request, with no reload to forget: a revocation
 * is a security measure. The price is a primary-key read through a cached
 * statement plus one SHA-256 per such request (bench/bench_auth); under
 * auth = writes, reads carry no token and pay nothing. */
#include "http/auth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/codec_token.h"
#include "core/log.h"
#include "http/api_db.h"
#include "http/handlers.h"
#include "http/request_impl.h"
#include "model/model_name.h"
#include "store/tokens.h"

static _Atomic uint64_t failures[HTTP_AUTH_FAIL__COUNT];

uint64_t http_auth_failures(enum http_auth_failure why)
{
    return (int)why >= 0 && why < HTTP_AUTH_FAIL__COUNT ? atomic_load(&failures[why]) : 0;
}

uint64_t http_auth_failures_total(void)
{
    uint64_t n = 0;
    for (int i = 0; i < HTTP_AUTH_FAIL__COUNT; i++)
        n += atomic_load(&failures[i]);
    return n;
}

const char *http_auth_failure_name(enum http_auth_failure why)
{
    static const char *const names[HTTP_AUTH_FAIL__COUNT] = {"missing", "invalid", "expired",
                                                             "revoked", "forbidden"};
    return (int)why >= 0 && why < HTTP_AUTH_FAIL__COUNT ? names[why] : "?";
}

const char *http_auth_policy_name(enum http_auth_policy p)
{
    return p == HTTP_AUTH_REQUIRED ? "required" : p == HTTP_AUTH_WRITES ? "writes" : "off";
}

const char *http_req_token_name(const http_req *r)
{
    return r->token_name;
}

static unsigned scope_bit(enum route_scope s)
{
    switch (s) {
    case ROUTE_SCOPE_READ:
        return API_TOKEN_READ;
    case ROUTE_SCOPE_WRITE:
        return API_TOKEN_WRITE;
    case ROUTE_SCOPE_TRAIN:
        return API_TOKEN_TRAIN;
    case ROUTE_SCOPE_ADMIN:
        return API_TOKEN_ADMIN;
    default:
        return 0;
    }
}

/* Count, log and reply. `who` is the token's name, its id, or "-". */
static int refuse(http_req *r, enum http_auth_failure why, const char *who, const char *fmt,
                  const char *arg)
{
    atomic_fetch_add(&failures[why], 1);
    char q[512], qw[160];
    log_warn("auth_failed", "request_id=%s reason=%s token=%s method=%s path=%s", r->id,
             http_auth_failure_name(why), log_quote(qw, sizeof qw, who), r->method,
             log_quote(q, sizeof q, r->path));
    if (why == HTTP_AUTH_FAIL_FORBIDDEN) {
        http_reply_errorf(r, ERR_FORBIDDEN, NULL, fmt, arg);
        return 0;
    }
    http_reply_header(r, "WWW-Authenticate",
                      why == HTTP_AUTH_FAIL_MISSING
                          ? "Bearer realm=\"odeserve\""
                          : "Bearer realm=\"odeserve\", error=\"invalid_token\"");
    http_reply_errorf(r, ERR_UNAUTHENTICATED, NULL, fmt, arg);
    return 0;
}

/* The token of "Bearer <token>" (scheme case-insensitive, RFC 6750), or NULL. */
static const char *bearer(const char *h)
{
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    return *h ? h : NULL;
}

/* The token check for scope `need`; `needed` = 0 lets a request without a
 * token through (a read under `writes`). */
static int check(http_req *r, enum route_scope need, int needed);

int http_auth_check(http_req *r)
{
    enum http_auth_policy policy = (enum http_auth_policy)atomic_load(&r->app->auth_policy);
    enum route_scope need = routes_scope(r->route);
    if (policy == HTTP_AUTH_OFF || need == ROUTE_SCOPE_OPEN) return 1;
    return check(r, need, policy == HTTP_AUTH_REQUIRED || need != ROUTE_SCOPE_READ);
}

int http_auth_require(http_req *r, enum route_scope need)
{
    return check(r, need, 1);
}

static enum MHD_Result count_authorization(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, "Authorization") == 0) (*(unsigned *)cls)++;
    return MHD_YES;
}

static int check(http_req *r, enum route_scope need, int needed)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    unsigned n_auth = 0;
    if (h) MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_authorization, &n_auth);
    /* libmicrohttpd hands out the first of several; a proxy may have added
     * its own before or after the client's. Which one counts is no guess
     * to make about credentials (RFC 6750 3.1: more than one is invalid). */
    if (n_auth > 1)
        return refuse(r, HTTP_AUTH_FAIL_INVALID, "-", "%s",
                      "the request has more than one Authorization header; send exactly one");
    if (!h) {
        if (!needed) return 1;
        return refuse(r, HTTP_AUTH_FAIL_MISSING, "-",
                      "this endpoint needs an API token with the %s scope: send "
                      "Authorization: Bearer <token> (docs/api.md#authentication)",
                      routes_scope_name(need));
    }
    char id[API_TOKEN_ID_LEN + 1];
    const char *secret, *text = bearer(h);
    if (!text || !api_token_parse(text, id, &secret))
        return refuse(r, HTTP_AUTH_FAIL_INVALID, "-", "%s",
                      "the Authorization header must be \"Bearer ods_<id>_<secret>\"");
    err e;
    err_clear(&e);
    db *d = NULL;
    api_token_row row;
    if (db_conns_get(r->app->db, &d, &e) != ERR_OK ||
        store_token_lookup(d, id, &row, &e) != ERR_OK) {
        if (e.code != ERR_NOT_FOUND) {
            http_reply_error(r, &e);
            return 0;
        }
        return refuse(r, HTTP_AUTH_FAIL_INVALID, id, "%s", "unknown or wrong API token");
    }
    const char *name = row.info.name;
    /* the secret is checked before anything about the row is told */
    if (!api_token_verify(secret, row.salt, row.hash))
        return refuse(r, HTTP_AUTH_FAIL_INVALID, name, "%s", "unknown or wrong API token");
    if (row.info.revoked_at[0])
        return refuse(r, HTTP_AUTH_FAIL_REVOKED, name, "the API token \"%s\" has been revoked",
                      name);
    if (row.info.expired)
        return refuse(r, HTTP_AUTH_FAIL_EXPIRED, name, "the API token \"%s\" has expired", name);
    snprintf(r->token_name, sizeof r->token_name, "%s", name);
    if (row.touch_due && store_token_touch(d, id, &e) != ERR_OK) {
        char q[ERR_MSG_MAX + 8];
        log_warn("token_touch_failed", "token=%s error=%s", name,
                 log_quote(q, sizeof q, e.message));
    }
    if (!needed || (row.info.scopes & scope_bit(need))) return 1;
    char msg[256], have[64];
    snprintf(msg, sizeof msg, "the API token \"%s\" lacks the %s scope (it has %s)", name,
             routes_scope_name(need), api_token_scopes_format(row.info.scopes, have, sizeof have));
    return refuse(r, HTTP_AUTH_FAIL_FORBIDDEN, name, "%s", msg);
}

/* ---- the admin routes ---- */

static json_t *info_json(const api_token_info *t)
{
    return codec_token_info_json(t);
}

void h_token_create(http_req *r)
{
    err e;
    err_clear(&e);
    codec_token_create req;
    api_token_new_out t;
    api_token_info info;
    db *d = NULL;
    memset(&t, 0, sizeof t);
    if (codec_token_create_decode(http_req_json(r), &req, &e) != ERR_OK ||
        db_conns_get(http_req_app(r)->db, &d, &e) != ERR_OK || api_token_new(&t, &e) != ERR_OK ||
        store_token_put(d, req.name, req.scopes, req.lifetime_s, &t, &info, &e) != ERR_OK) {
        api_token_wipe(&t);
        http_reply_error(r, &e);
        return;
    }
    json_t *o = info_json(&info);
    if (o) json_object_set_new(o, "token", json_string(t.text));
    api_token_wipe(&t);
    char scopes[64];
    log_info("token_created", "request_id=%s name=%s id=%s scopes=%s by=%s", http_req_id(r),
             info.name, info.id, api_token_scopes_format(info.scopes, scopes, sizeof scopes),
             r->token_name[0] ? r->token_name : "-");
    char loc[96];
    snprintf(loc, sizeof loc, "/v1/tokens/%s", info.name);
    http_reply_header(r, "Location", loc);
    http_reply_json(r, 201, o);
}

void h_tokens_list(http_req *r)
{
    db *d = api_db(r);
    if (!d) return;
    err e;
    err_clear(&e);
    api_token_info *rows = NULL;
    size_t n = 0;
    if (store_token_list(d, &rows, &n, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, info_json(&rows[i]));
    free(rows);
    http_reply_json(r, 200, json_pack("{s:o}", "tokens", list));
}

void h_token_revoke(http_req *r)
{
    const char *which = http_req_param(r, "name");
    if (!which || !model_name_ok(which)) {
        http_reply_errorf(r, ERR_NOT_FOUND, "name",
                          "no such token (names are 1 to 64 of "
                          "A-Z, a-z, 0-9, '.', '_' and '-')");
        return;
    }
    db *d = api_db(r);
    if (!d) return;
    err e;
    err_clear(&e);
    api_token_info info;
    if (store_token_revoke(d, which, &info, &e) != ERR_OK) {
        http_reply_error(r, &e);
        return;
    }
    log_info("token_revoked", "request_id=%s name=%s id=%s by=%s", http_req_id(r), info.name,
             info.id, r->token_name[0] ? r->token_name : "-");
    http_reply_json(r, 200, info_json(&info));
}
