/* check_http: the http layer's pieces in-process (no sockets): the route
 * table and matcher, the error table and error body, request ids.
 * tests/check_http_daemon.c drives the real daemon. */
#include "codec/codec_err.h"
#include "http/handler.h"
#include "http/metrics.h"
#include "http/request_impl.h"
#include "http/routes.h"

#include <check.h>
#include <math.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* ---- routes ---- */

START_TEST(table_is_well_formed)
{
    size_t n;
    const http_route *t = routes_table(&n);
    ck_assert_uint_ge(n, 3);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(t[i].handler);
        ck_assert_msg(t[i].pattern[0] == '/', "%s", t[i].pattern);
        for (const char *m = t[i].method; *m; m++)
            ck_assert(isupper((unsigned char)*m));
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(t[i].method, t[j].method) || strcmp(t[i].pattern, t[j].pattern),
                          "duplicate route %s %s", t[i].method, t[i].pattern);
    }
    /* every row has its own route label in /metrics (http/metrics.h) */
    ck_assert_msg(n <= METRICS_ROUTES_MAX,
                  "%zu routes; /metrics labels %d: raise METRICS_ROUTES_MAX", n,
                  METRICS_ROUTES_MAX);
}
END_TEST

static const http_route *match(const char *method, const char *path, int test_routes, err_code *why,
                               char *allow)
{
    static char buf[256];
    route_params p;
    snprintf(buf, sizeof buf, "%s", path);
    return routes_match(method, buf, test_routes, &p, allow, 64, why);
}

START_TEST(matches_methods_and_paths)
{
    err_code why;
    char allow[64];
    const http_route *r = match("GET", "/healthz", 0, &why, allow);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->pattern, "/healthz");
    ck_assert_ptr_nonnull(match("HEAD", "/v1/version", 0, &why, allow));

    ck_assert_ptr_null(match("POST", "/healthz", 0, &why, allow));
    ck_assert_int_eq(why, ERR_METHOD);
    ck_assert_str_eq(allow, "GET, HEAD");

    const char *missing[] = {"/nope", "/healthz/", "/healthz/x", "//healthz", "", "healthz",
                             "/ui", "/ui/a/b"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        ck_assert_ptr_null(match("GET", missing[i], 0, &why, allow));
        ck_assert_int_eq(why, ERR_NOT_FOUND);
    }
    /* "/" is the dashboard's page (ui.c) */
    r = match("GET", "/", 0, &why, allow);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->pattern, "/");
    /* Test routes exist only when enabled. */
    ck_assert_ptr_null(match("GET", "/v1/test/sleep", 0, &why, allow));
    ck_assert_int_eq(why, ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(match("GET", "/v1/test/sleep", 1, &why, allow));
    ck_assert_ptr_null(match("GET", "/v1/test/echo", 1, &why, allow));
    ck_assert_int_eq(why, ERR_METHOD);
    ck_assert_str_eq(allow, "POST");
}
END_TEST

START_TEST(patterns_capture_params)
{
    char path[] = "/v1/models/spiral/versions/3";
    route_params p;
    ck_assert(routes_pattern_match("/v1/models/{name}/versions/{v}", path, &p));
    ck_assert_int_eq(p.n, 2);
    ck_assert_str_eq(p.name[0], "name");
    ck_assert_str_eq(p.value[0], "spiral");
    ck_assert_str_eq(p.name[1], "v");
    ck_assert_str_eq(p.value[1], "3");

    const struct {
        const char *pattern, *path;
        int want;
    } cases[] = {
        {"/v1/models/{name}", "/v1/models/a.b-c_9", 1},
        {"/v1/models/{name}", "/v1/models", 0},
        {"/v1/models/{name}", "/v1/models/", 0},
        {"/v1/models/{name}", "/v1/models/a/b", 0},
        {"/v1/models/{name}/trajectory", "/v1/models/x/trajectory", 1},
        {"/v1/models/{name}/trajectory", "/v1/models/x/trajectorx", 0},
        {"/", "/", 1},
        {"/", "/a", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", cases[i].path);
        ck_assert_msg(routes_pattern_match(cases[i].pattern, buf, NULL) == cases[i].want,
                      "%s vs %s", cases[i].pattern, cases[i].path);
    }
}
END_TEST

/* ---- errors ---- */

START_TEST(status_table)
{
    static const struct {
        err_code code;
        unsigned status;
    } want[] = {
        {ERR_OK, 200},     {ERR_INVALID, 422},   {ERR_BAD_JSON, 400},    {ERR_NOT_FOUND, 404},
        {ERR_METHOD, 405}, {ERR_TOO_LARGE, 413}, {ERR_MEDIA, 415},       {ERR_CONFLICT, 409},
        {ERR_SOLVER, 422}, {ERR_DEADLINE, 503},  {ERR_UNAVAILABLE, 503}, {ERR_INTERNAL, 500},
        {ERR_DB, 500},     {ERR_STORAGE_FULL, 507}, {ERR_BUSY, 503},
        {ERR_BAD_REQUEST, 400}, {ERR_NOT_IMPLEMENTED, 501},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_uint_eq(http_status_for(want[i].code), want[i].status);
    for (int c = 1; c < ERR__COUNT; c++) {
        unsigned s = http_status_for((err_code)c);
        ck_assert_msg(s >= 400 && s < 600, "%s -> %u", err_code_name((err_code)c), s);
    }
    ck_assert_uint_eq(http_status_for((err_code)999), 500);
}
END_TEST

START_TEST(error_body_shape)
{
    err e;
    err_clear(&e);
    err_set(&e, ERR_INVALID, "vector_field.layers[1].weight[3]", "not finite");
    json_t *j = codec_err_json(&e);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"invalid_argument\","
                        "\"field\":\"vector_field.layers[1].weight[3]\","
                        "\"message\":\"not finite\"}}");
    free(s);
    json_decref(j);
    err_clear(&e);
    err_set(&e, ERR_NOT_FOUND, NULL, "no such model: x");
    j = codec_err_json(&e);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such model: x\"}}");
    free(s);
    json_decref(j);
    /* Not UTF-8 (a decoded %FF in a path): still a JSON body. */
    err_clear(&e);
    err_set(&e, ERR_NOT_FOUND, "p\xff", "no such endpoint: /a\xff\xfe");
    j = codec_err_json(&e);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"not_found\",\"field\":\"p?\","
                        "\"message\":\"no such endpoint: /a??\"}}");
    free(s);
    json_decref(j);
}
END_TEST

START_TEST(request_ids)
{
    ck_assert(req_id_ok("abc-123_x.y:z"));
    ck_assert(!req_id_ok(""));
    ck_assert(!req_id_ok("has space"));
    ck_assert(!req_id_ok("quote\""));
    ck_assert(!req_id_ok("new\nline"));
    char longid[80];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    ck_assert(!req_id_ok(longid));
    longid[64] = '\0';
    ck_assert(req_id_ok(longid));
    char a[32], b[32];
    req_id_new(a, sizeof a);
    req_id_new(b, sizeof b);
    ck_assert_uint_eq(strlen(a), 16);
    ck_assert(req_id_ok(a));
    ck_assert_str_ne(a, b);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *core = tcase_create("core");
    tcase_add_test(core, table_is_well_formed);
    tcase_add_test(core, matches_methods_and_paths);
    tcase_add_test(core, patterns_capture_params);
    tcase_add_test(core, request_ids);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, status_table);
    tcase_add_test(errors, error_body_shape);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_suite_run(http_suite());
}
