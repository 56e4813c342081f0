/* http/auth.h: who may call which route: API tokens against the route
 * table's scopes, under the daemon's policy (docs/api.md#authentication).
 *
 * Clients send "Authorization: Bearer ods_<id>_<secret>" (model/api_token.h).
 * Per request, once its headers are in and its route is known, server.c
 * calls http_auth_check: the token is looked up by id in SQLite (a cached
 * statement on the HTTP thread's connection, store/tokens.h) and its secret
 * checked against the salted hash in constant time. Nothing is cached, so a
 * token made or revoked, over HTTP or by `odeserved token` in another
 * process, counts from the next request on.
 *
 * Policy (app->auth_policy, SIGHUP may change it):
 *   off       no checks at all;
 *   writes    routes of scope read need no token; others need one with
 *             their scope;
 *   required  every route but the open ones (liveness, readiness) needs a
 *             token with its scope.
 * A token that is sent is checked even where none is needed: a wrong one is
 * a 401 there too, so a misconfigured client finds out. Failures: 401
 * unauthenticated with "WWW-Authenticate: Bearer realm=\"odeserve\"" (no,
 * wrong, expired or revoked token), 403 permission_denied (a valid token
 * without the route's scope); each is logged (event=auth_failed, with the
 * token's name when it is known, never its text) and counted.
 *
 * Threads: http_auth_check runs on the HTTP thread of the request; the
 * counters are atomics any thread may read. */
#ifndef ODESERVE_HTTP_AUTH_H
#define ODESERVE_HTTP_AUTH_H

#include <stdint.h>

#include "http/handler.h"
#include "http/routes.h"

enum http_auth_policy {
    HTTP_AUTH_OFF = 0, /* a zeroed app (in-process tests) checks nothing */
    HTTP_AUTH_WRITES,
    HTTP_AUTH_REQUIRED
};

/* Why a request was refused; the counters' labels. */
enum http_auth_failure {
    HTTP_AUTH_FAIL_MISSING = 0, /* no Authorization header where one is needed (401) */
    HTTP_AUTH_FAIL_INVALID,     /* not a Bearer token of ours, unknown id, wrong secret (401) */
    HTTP_AUTH_FAIL_EXPIRED,     /* past its expires_at (401) */
    HTTP_AUTH_FAIL_REVOKED,     /* revoked (401) */
    HTTP_AUTH_FAIL_FORBIDDEN,   /* valid, without the route's scope (403) */
    HTTP_AUTH_FAIL__COUNT
};

/* Requests refused since the process started: in all, and for one reason.
 * For GET /metrics (odeserve_auth_failures_total{reason=...}). */
uint64_t http_auth_failures_total(void);
uint64_t http_auth_failures(enum http_auth_failure why);
/* "missing", "invalid", "expired", "revoked", "forbidden". */
const char *http_auth_failure_name(enum http_auth_failure why);

/* "off", "writes", "required". */
const char *http_auth_policy_name(enum http_auth_policy p);

/* server.c, once the route of r is known: 1 when the request may go on;
 * otherwise 0 with the 401/403 reply stored. Records the token's name
 * (http_req_token_name). HTTP thread, before the handler. */
int http_auth_check(http_req *r);

/* As http_auth_check, but a token with scope `need` is required whatever
 * the policy (GET /metrics under metrics = token). */
int http_auth_require(http_req *r, enum route_scope need);

#endif
