/* http/cors.h: Cross-Origin Resource Sharing (the Fetch standard's CORS
 * protocol) for the `cors_origins` setting.
 *
 * Off unless configured. With "*", any origin may call the API from a
 * browser; with a list, only those origins (exact, case-sensitive match of
 * scheme://host[:port], as browsers send it). Requests carry bearer tokens,
 * not cookies, so credentials mode is never allowed.
 *
 * server.c answers a preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) from an allowed origin with 204 and the
 * Access-Control-Allow-* headers, and adds Access-Control-Allow-Origin to
 * every reply to an allowed origin (errors included, so a page can read
 * them). A request from another origin is served as if CORS were off.
 *
 * Ownership: http_cors_new returns an object the caller frees with
 * http_cors_free; immutable afterwards, so any thread may read it. */
#ifndef ODESERVE_HTTP_CORS_H
#define ODESERVE_HTTP_CORS_H

#include <stddef.h>

#include "core/err.h"

typedef struct http_cors http_cors;

/* Request headers a preflight may ask for. */
#define HTTP_CORS_ALLOW_HEADERS "Authorization, Content-Type, X-Request-Id, traceparent, tracestate"
/* Reply headers a page may read. */
#define HTTP_CORS_EXPOSE_HEADERS "X-Request-Id, traceparent, Retry-After, Location, WWW-Authenticate"
/* Seconds a browser may cache a preflight answer. */
#define HTTP_CORS_MAX_AGE "600"

/* From the setting's text: "*" or "https://a.example,http://b:3000"
 * (validated by the settings). *out = NULL for "" (off). ERR_CONFIG
 * "cors_origins" on an empty item. */
err_code http_cors_new(http_cors **out, const char *origins, err *e);

/* The Access-Control-Allow-Origin value for a request's Origin header ("*",
 * or the origin itself), or NULL when not allowed (or origin is NULL). */
const char *http_cors_allow(const http_cors *c, const char *origin);

/* 1 when the answer depends on the Origin header (a list, not "*"): replies
 * then say Vary: Origin so that caches keep them apart. */
int http_cors_varies(const http_cors *c);

void http_cors_free(http_cors *c);

#endif
