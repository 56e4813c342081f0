/* http/routes.c: every endpoint of odeserved, and the matcher.
 *
 * To add an endpoint, add a row. Patterns use {name} for one path segment;
 * ROUTE_JSON makes the server check Content-Type and parse the body before
 * the handler runs. ROUTE_TEST rows exist only for the test suite and are
 * invisible (404) unless the daemon starts with ODESERVE_TEST_ROUTES=1.
 * The model routes parse their bodies themselves (http/api.h): off the HTTP
 * threads (but small trajectory requests of an idle server, trajectory.c),
 * and with NaN/Infinity reported as a 422 naming the field. */
#include "http/routes.h"

#include <stdio.h>
#include <string.h>

#include "http/handlers.h"

/* Rows may end before `scope` (routes_scope then goes by the method), so
 * the warning about fields left out is off for the table alone. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
static const http_route table[] = {
    {"GET",  "/healthz",          h_healthz,    0, ROUTE_SCOPE_OPEN},
    {"GET",  "/readyz",           h_readyz,     0, ROUTE_SCOPE_OPEN},
    {"GET",  "/v1/version",       h_version,    0},
    {"GET",  "/v1/solvers",       h_solvers,    0},

    /* models (models.c), aliases (aliases.c) and trajectories (trajectory.c); docs/api.md */
    {"GET",    "/v1/models",                      h_models_list,    0},
    {"GET",    "/v1/models/{name}",               h_model_get,      0},
    {"DELETE", "/v1/models/{name}",               h_model_delete,   0},
    {"POST",   "/v1/models/{name}/versions",      h_version_create, 0},
    {"GET",    "/v1/models/{name}/versions/{v}",  h_version_get,    0},
    {"DELETE", "/v1/models/{name}/versions/{v}",  h_version_delete, 0},
    {"POST",   "/v1/models/{name}/trajectory",    h_trajectory,     0, ROUTE_SCOPE_READ},
    {"POST",   "/v1/models/{name}/energy",        h_energy,         0, ROUTE_SCOPE_READ},
    {"POST",   "/v1/models/{name}/gradient",      h_gradient,       0, ROUTE_SCOPE_READ},
    /* cnf models (cnf.c); docs/cnf.md */
    {"POST",   "/v1/models/{name}/log_prob",      h_cnf_log_prob,   0, ROUTE_SCOPE_READ},
    {"POST",   "/v1/models/{name}/sample",        h_cnf_sample,     0, ROUTE_SCOPE_READ},
    {"PUT",    "/v1/models/{name}/aliases/{alias}", h_alias_put,    ROUTE_JSON},
    {"DELETE", "/v1/models/{name}/aliases/{alias}", h_alias_delete, 0},
    {"GET",    "/v1/models/{name}/history",       h_model_history,  0},

    /* datasets (datasets.c); docs/training-jobs.md */
    {"GET",    "/v1/datasets",                    h_datasets_list,  0},
    {"GET",    "/v1/datasets/{name}",             h_dataset_get,    0},
    {"POST",   "/v1/datasets/{name}",             h_dataset_create, 0},
    {"DELETE", "/v1/datasets/{name}",             h_dataset_delete, 0},
    {"GET",    "/v1/datasets/{name}/series",      h_dataset_series, 0},

    /* training jobs (jobs.c); docs/training-jobs.md */
    {"GET",    "/v1/jobs",                        h_jobs_list,      0},
    {"POST",   "/v1/jobs",                        h_job_create,     0, ROUTE_SCOPE_TRAIN},
    {"GET",    "/v1/jobs/{id}",                   h_job_get,        0},
    {"GET",    "/v1/jobs/{id}/metrics",           h_job_metrics,    0},
    {"POST",   "/v1/jobs/{id}/cancel",            h_job_cancel,     0, ROUTE_SCOPE_TRAIN},

    /* tests only: sleep on the HTTP thread, sleep on the evaluation pool, echo a JSON body */
    {"GET",  "/v1/test/sleep",    h_test_sleep, ROUTE_TEST},
    {"GET",  "/v1/test/eval",     h_test_eval,  ROUTE_TEST},
    {"POST", "/v1/test/echo",     h_test_echo,  ROUTE_JSON | ROUTE_TEST},

    /* the Open Inference Protocol, KServe v2 (oip.c); docs/api.md */
    {"GET",  "/v2",                                   h_oip_server,      ROUTE_OIP},
    {"GET",  "/v2/health/live",                       h_oip_live,        ROUTE_OIP, ROUTE_SCOPE_OPEN},
    {"GET",  "/v2/health/ready",                      h_oip_ready,       ROUTE_OIP, ROUTE_SCOPE_OPEN},
    {"GET",  "/v2/models/{name}",                     h_oip_model,       ROUTE_OIP},
    {"GET",  "/v2/models/{name}/ready",               h_oip_model_ready, ROUTE_OIP},
    {"POST", "/v2/models/{name}/infer",               h_oip_infer,       ROUTE_OIP, ROUTE_SCOPE_READ},
    {"GET",  "/v2/models/{name}/versions/{v}",        h_oip_model,       ROUTE_OIP},
    {"GET",  "/v2/models/{name}/versions/{v}/ready",  h_oip_model_ready, ROUTE_OIP},
    {"POST", "/v2/models/{name}/versions/{v}/infer",  h_oip_infer,       ROUTE_OIP, ROUTE_SCOPE_READ},

    /* this API as an OpenAPI 3.1 document (openapi.c; docs/openapi.json) */
    {"GET",  "/v1/openapi.json",                      h_openapi,         0},
    /* the dashboard's static files (ui.c; docs/dashboard.md): open, they hold no data */
    {"GET",  "/",                                     h_ui_index,        0, ROUTE_SCOPE_OPEN},
    {"GET",  "/ui/{file}",                            h_ui_file,         0, ROUTE_SCOPE_OPEN},
    {"GET",  "/ui/lib/{file}",                        h_ui_lib,          0, ROUTE_SCOPE_OPEN},
    /* Prometheus metrics (metrics.c); docs/metrics.md */
    /* its own setting decides (metrics = open | token | off) */
    {"GET",  "/metrics",          h_metrics,    0, ROUTE_SCOPE_OPEN},
    /* API tokens (auth.c); docs/api.md#authentication */
    {"POST",   "/v1/tokens",                      h_token_create,   ROUTE_JSON, ROUTE_SCOPE_ADMIN},
    {"GET",    "/v1/tokens",                      h_tokens_list,    0, ROUTE_SCOPE_ADMIN},
    {"DELETE", "/v1/tokens/{name}",               h_token_revoke,   0, ROUTE_SCOPE_ADMIN},
};
/* clang-format on */
#pragma GCC diagnostic pop

const http_route *routes_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

/* Split "/a/b/c" in place into {"a","b","c"}. -1 when the path does not
 * start with '/', has an empty segment, or too many segments. "/" has 0. */
static int split_path(char *p, char **seg)
{
    if (*p != '/') return -1;
    p++;
    if (*p == '\0') return 0;
    int n = 0;
    for (;;) {
        if (n == ROUTE_MAX_SEGMENTS) return -1;
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash) break;
        *slash = '\0';
        p = slash + 1;
        if (*p == '\0') return -1; /* trailing slash or "//" */
    }
    for (int i = 0; i < n; i++)
        if (seg[i][0] == '\0') return -1;
    return n;
}

/* Match one pattern against the split path; fill params on success. */
static int segments_match(const char *pattern, char **seg, int nseg, route_params *pp)
{
    route_params p = {0};
    const char *q = pattern + 1;
    int i = 0;
    if (*q == '\0') return nseg == 0;
    for (;;) {
        const char *end = strchr(q, '/');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (i >= nseg) return 0;
        if (len >= 2 && q[0] == '{' && q[len - 1] == '}') {
            if (p.n == ROUTE_MAX_PARAMS || len - 2 >= ROUTE_NAME_MAX) return 0;
            memcpy(p.name[p.n], q + 1, len - 2);
            p.name[p.n][len - 2] = '\0';
            p.value[p.n++] = seg[i];
        } else if (strlen(seg[i]) != len || strncmp(seg[i], q, len) != 0) {
            return 0;
        }
        i++;
        if (!end) break;
        q = end + 1;
    }
    if (i != nseg) return 0;
    if (pp) *pp = p;
    return 1;
}

static void allow_add(char *allow, size_t n, const char *method)
{
    if (strstr(allow, method)) return; /* methods are distinct words in practice */
    size_t len = strlen(allow);
    snprintf(allow + len, n - len, "%s%s", len ? ", " : "", method);
}

const http_route *routes_match(const char *method, char *pathbuf, int test_routes,
                               route_params *params, char *allow, size_t allow_n, err_code *why)
{
    char *seg[ROUTE_MAX_SEGMENTS];
    int nseg = split_path(pathbuf, seg);
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    size_t n;
    const http_route *t = routes_table(&n);
    if (allow_n) allow[0] = '\0';
    *why = ERR_NOT_FOUND;
    if (nseg < 0) return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((t[i].flags & ROUTE_TEST) && !test_routes) continue;
        if (!segments_match(t[i].pattern, seg, nseg, NULL)) continue;
        if (strcmp(t[i].method, m) == 0) {
            segments_match(t[i].pattern, seg, nseg, params);
            return &t[i];
        }
        *why = ERR_METHOD;
        allow_add(allow, allow_n, t[i].method);
        if (strcmp(t[i].method, "GET") == 0) allow_add(allow, allow_n, "HEAD");
    }
    return NULL;
}

int routes_method_known(const char *method)
{
    /* the standard methods no route takes are still recognised: a PATCH on
     * a model is the 405 with Allow that a client of any REST API expects */
    static const char *const standard[] = {"HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    for (size_t i = 0; i < sizeof standard / sizeof standard[0]; i++)
        if (strcmp(method, standard[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].method, method) == 0) return 1;
    return 0;
}

enum route_scope routes_scope(const http_route *r)
{
    if (r->scope != ROUTE_SCOPE_DEFAULT) return r->scope;
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ? ROUTE_SCOPE_READ
                                                                          : ROUTE_SCOPE_WRITE;
}

const char *routes_scope_name(enum route_scope s)
{
    switch (s) {
    case ROUTE_SCOPE_OPEN:
        return "open";
    case ROUTE_SCOPE_READ:
        return "read";
    case ROUTE_SCOPE_WRITE:
        return "write";
    case ROUTE_SCOPE_TRAIN:
        return "train";
    case ROUTE_SCOPE_ADMIN:
        return "admin";
    default:
        return "?";
    }
}

int routes_pattern_match(const char *pattern, char *pathbuf, route_params *params)
{
    char *seg[ROUTE_MAX_SEGMENTS];
    int nseg = split_path(pathbuf, seg);
    return nseg >= 0 && segments_match(pattern, seg, nseg, params);
}
