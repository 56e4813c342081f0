/* http/routes.h: the static route table and its matcher.
 *
 * src/http/routes.c is the one place that lists every endpoint as
 * {method, pattern, handler, flags}. A pattern is a path whose segments are
 * literals or {name} placeholders that match one non-empty segment
 * ("/v1/models/{name}/versions/{v}"); handlers read them with
 * http_req_param. Immutable; thread-safe. */
#ifndef ODESERVE_HTTP_ROUTES_H
#define ODESERVE_HTTP_ROUTES_H

#include <stddef.h>

#include "core/err.h"
#include "http/handler.h"

enum route_flags {
    ROUTE_JSON = 1u << 0, /* the body is JSON: Content-Type checked (415), parsed once (400) */
    ROUTE_TEST = 1u << 1, /* served only with ODESERVE_TEST_ROUTES=1 (tests/) */
    ROUTE_OIP = 1u << 2   /* an Open Inference Protocol route: errors in its form,
                           * {"error": "field: message"} (request.c) */
};

/* What a route needs of a client's token (http/auth.c applies the policy).
 * A row that leaves it out (0) gets routes_scope's default from its method:
 * GET (and HEAD) read, anything else write. */
enum route_scope {
    ROUTE_SCOPE_DEFAULT = 0, /* from the method */
    ROUTE_SCOPE_OPEN,        /* never needs a token: liveness, readiness */
    ROUTE_SCOPE_READ,        /* reads and evaluations (a trajectory is a POST that reads) */
    ROUTE_SCOPE_WRITE,       /* uploads, deletes, datasets */
    ROUTE_SCOPE_TRAIN,       /* training jobs */
    ROUTE_SCOPE_ADMIN        /* tokens */
};

typedef struct http_route {
    const char *method;  /* "GET", "POST", "DELETE", ... */
    const char *pattern; /* "/v1/models/{name}" */
    http_handler handler;
    unsigned flags;         /* enum route_flags */
    enum route_scope scope; /* last, so rows may leave it out (ROUTE_SCOPE_DEFAULT) */
} http_route;

#define ROUTE_MAX_PARAMS 4
#define ROUTE_MAX_SEGMENTS 16
#define ROUTE_NAME_MAX 32

typedef struct route_params {
    int n;
    char name[ROUTE_MAX_PARAMS][ROUTE_NAME_MAX];
    const char *value[ROUTE_MAX_PARAMS]; /* point into the caller's path buffer */
} route_params;

/* The table (tests iterate it). */
const http_route *routes_table(size_t *n);

/* Match `method` and `path` against the table. `pathbuf` is a writable
 * copy of the path that the matcher splits in place; params point into it.
 * Returns the route, or NULL with *why = ERR_NOT_FOUND (no pattern matches
 * the path) or ERR_METHOD (patterns match, not with this method; `allow`
 * receives "GET, HEAD, POST"-style text for the Allow header). HEAD is
 * served by GET routes. ROUTE_TEST routes are skipped unless test_routes. */
const http_route *routes_match(const char *method, char *pathbuf, int test_routes,
                               route_params *params, char *allow, size_t allow_n, err_code *why);

/* 1 when some row takes `method` (HEAD with GET; OPTIONS, which answers
 * CORS preflights) or it is another standard method (PATCH, TRACE,
 * CONNECT: a 405 with Allow where the path exists): a method the server
 * does not recognise is a 501, not a 405 (RFC 9110 15.6.2). */
int routes_method_known(const char *method);

/* The route's scope, ROUTE_SCOPE_DEFAULT resolved from its method. */
enum route_scope routes_scope(const http_route *r);
/* "open", "read", "write", "train", "admin". */
const char *routes_scope_name(enum route_scope s);

/* Match one pattern against a path (split in place in `pathbuf`); 1 on a
 * match, with params filled (may be NULL). routes_match uses it per row. */
int routes_pattern_match(const char *pattern, char *pathbuf, route_params *params);

#endif
