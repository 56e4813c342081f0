/* check_http_conv: the conventions operators expect, on the real daemon
 * (tests/testutil.c starts it) and, for their parsers, in-process:
 *
 *   - traceparent (W3C Trace Context): a valid one is echoed with the same
 *     trace id and the server's span id, and its trace id is in every log
 *     line of the request, on the HTTP thread and on the evaluation pool;
 *     invalid ones (the specification's own examples) are ignored;
 *   - CORS (cors_origins): off by default; preflight answered for allowed
 *     origins only; replies to them carry Access-Control-Allow-Origin;
 *   - overload: a full evaluation queue is 503 unavailable with
 *     Retry-After; the per-address rate limit (off by default) is 429
 *     rate_limited with Retry-After, probes exempt, SIGHUP turns it on, and
 *     the wait it names is enough; both are counted (http/admission.h). */
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ratelimit.h"
#include "http/admission.h"
#include "http/cors.h"
#include "http/trace.h"
#include "testutil.h"

static const char *const test_env[] = {"ODESERVE_TEST_ROUTES=1", NULL};

static tu_daemon d;

static void start(const char *const *args, const char *const *env)
{
    memset(&d, 0, sizeof d);
    if (tu_daemon_start(&d, args, env) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

static void stop_ok(void)
{
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30.0), 0);
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

static int has_header(const tu_response *r, const char *name)
{
    char v[8];
    return tu_header(r, name, v, sizeof v) != NULL;
}

/* The error code of an error reply (its Content-Type and body checked). */
static void expect_error(const tu_response *r, int status, const char *code)
{
    char v[128];
    ck_assert_msg(r->status == status, "status %d, want %d: %s", r->status, status, r->body);
    ck_assert_str_eq(tu_header(r, "Content-Type", v, sizeof v), "application/json");
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", r->body);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), code);
    json_decref(j);
}

/* ---- traceparent ---- */

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

START_TEST(trace_parse)
{
    http_trace t;
    ck_assert_int_eq(http_trace_parse("00-" TRACE "-00f067aa0ba902b7-01", &t), 1);
    ck_assert_str_eq(t.trace_id, TRACE);
    ck_assert_str_eq(t.parent_id, "00f067aa0ba902b7");
    ck_assert_str_eq(t.flags, "01");
    char buf[64];
    http_trace_format(&t, "b7ad6b7169203331", buf, sizeof buf);
    ck_assert_str_eq(buf, "00-" TRACE "-b7ad6b7169203331-01");
    /* a later version may carry more after a '-' */
    ck_assert_int_eq(http_trace_parse("cc-" TRACE "-00f067aa0ba902b7-01-what-the-future", &t), 1);
    ck_assert_int_eq(http_trace_parse("cc-" TRACE "-00f067aa0ba902b7-01", &t), 1);
    const char *bad[] = {
        NULL,
        "",
        "00-" TRACE "-00f067aa0ba902b7-01-",                 /* version 00 is exactly 55 */
        "00-" TRACE "-00f067aa0ba902b7-1",                   /* short flags */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
        "00-" TRACE "-0000000000000000-01",                  /* zero parent id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* uppercase */
        "ff-" TRACE "-00f067aa0ba902b7-01",                  /* version ff is invalid */
        "0g-" TRACE "-00f067aa0ba902b7-01",
        "00_" TRACE "-00f067aa0ba902b7-01",
        "cc-" TRACE "-00f067aa0ba902b7-01x",
        "00-" TRACE "-00f067aa0ba902b7-0z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(http_trace_parse(bad[i], &t) == 0, "accepted %s", bad[i] ? bad[i] : "NULL");
        ck_assert_str_eq(t.trace_id, "");
    }
}
END_TEST

/* Every line of the log holding request_id=<id> also holds the trace id. */
static int lines_with(const char *id, const char *also, int *without)
{
    char *log = tu_read_file(d.log, NULL);
    ck_assert_ptr_nonnull(log);
    char key[128];
    snprintf(key, sizeof key, "request_id=%s", id);
    int n = 0;
    *without = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, key)) continue;
        n++;
        if (!strstr(line, also)) (*without)++;
    }
    free(log);
    return n;
}

START_TEST(traceparent_echoed_and_logged)
{
    const char *args[] = {"--log-level", "debug", NULL};
    start(args, test_env);
    tu_response r;
    char v[128];
    /* on the evaluation pool: deferred, test_sleep_start, request lines */
    const char *h[] = {"traceparent: 00-" TRACE "-00f067aa0ba902b7-01", "X-Request-Id: traced-1",
                       NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=1", h, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    const char *tp = tu_header(&r, "traceparent", v, sizeof v);
    ck_assert_ptr_nonnull(tp);
    ck_assert_int_eq(strlen(tp), 55);
    ck_assert(strncmp(tp, "00-" TRACE "-", 36) == 0);
    ck_assert_str_ne(tp + 36, "00f067aa0ba902b7-01"); /* our span, not the client's */
    ck_assert_str_eq(tp + 52, "-01");
    char span[17];
    snprintf(span, sizeof span, "%.16s", tp + 36);
    tu_response_free(&r);
    ck_assert_int_eq(tu_wait_log(&d, "event=request method=GET path=/v1/test/eval", 30), 0);
    char want[128];
    snprintf(want, sizeof want, "request_id=traced-1 trace_id=" TRACE " span_id=%s", span);
    int without = 0;
    ck_assert_int_ge(lines_with("traced-1", want, &without), 3);
    ck_assert_int_eq(without, 0);

    /* on the HTTP thread, and an error reply (a 404 logs a warning line
     * only for 5xx; the request line is enough) */
    const char *h2[] = {"traceparent: 00-" TRACE "-00f067aa0ba902b7-00", "X-Request-Id: traced-2",
                        NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models/nope", h2, NULL, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert(strncmp(tu_header(&r, "traceparent", v, sizeof v), "00-" TRACE "-", 36) == 0);
    ck_assert_str_eq(v + 52, "-00");
    tu_response_free(&r);
    ck_assert_int_eq(tu_wait_log(&d, "request_id=traced-2 trace_id=" TRACE, 30), 0);

    /* invalid: ignored, no echo, no trace id, the request served */
    const char *h3[] = {"traceparent: 00-" TRACE "-0000000000000000-01", "X-Request-Id: untraced",
                        NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=1", h3, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!has_header(&r, "traceparent"));
    tu_response_free(&r);
    /* wait for this request's own last line: the earlier traced-1 request's
     * line has the same path and status, so a wait on those could return
     * while this one's lines were still being written */
    for (int i = 0; i < 3000; i++) { /* 30 s */
        int n = lines_with("untraced", "event=request method=", &without);
        if (n - without >= 1) break;
        usleep(10000);
    }
    int untraced = lines_with("untraced", "trace_id=", &without); /* one read of the log */
    ck_assert_int_ge(untraced, 2);
    ck_assert_int_eq(without, untraced);
    stop_ok();
}
END_TEST

/* ---- CORS ---- */

START_TEST(cors_parse)
{
    err e;
    err_clear(&e);
    http_cors *c = NULL;
    ck_assert_int_eq(http_cors_new(&c, "", &e), ERR_OK);
    ck_assert_ptr_null(c);
    ck_assert_ptr_null(http_cors_allow(NULL, "https://a.example"));
    ck_assert_int_eq(http_cors_new(&c, "https://a.example,http://localhost:3000", &e), ERR_OK);
    ck_assert_str_eq(http_cors_allow(c, "https://a.example"), "https://a.example");
    ck_assert_str_eq(http_cors_allow(c, "http://localhost:3000"), "http://localhost:3000");
    ck_assert_ptr_null(http_cors_allow(c, "https://a.example:443"));
    ck_assert_ptr_null(http_cors_allow(c, "http://a.example"));
    ck_assert_ptr_null(http_cors_allow(c, "https://A.example"));
    ck_assert_ptr_null(http_cors_allow(c, NULL));
    ck_assert_int_eq(http_cors_varies(c), 1);
    http_cors_free(c);
    ck_assert_int_eq(http_cors_new(&c, "*", &e), ERR_OK);
    ck_assert_str_eq(http_cors_allow(c, "https://anything.example"), "*");
    ck_assert_int_eq(http_cors_varies(c), 0);
    http_cors_free(c);
    ck_assert_int_eq(http_cors_new(&c, "https://a.example,", &e), ERR_CONFIG);
    ck_assert_str_eq(e.field, "cors_origins");
}
END_TEST

static int preflight(const char *origin, const char *path, tu_response *r)
{
    char o[200];
    snprintf(o, sizeof o, "Origin: %s", origin);
    const char *h[] = {o, "Access-Control-Request-Method: POST",
                       "Access-Control-Request-Headers: authorization, content-type", NULL};
    return tu_http(d.port, "OPTIONS", path, h, NULL, r);
}

START_TEST(cors_off_by_default)
{
    start(NULL, NULL);
    tu_response r;
    ck_assert_int_eq(preflight("https://app.example.com", "/v1/models", &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert(!has_header(&r, "Access-Control-Allow-Origin"));
    tu_response_free(&r);
    const char *h[] = {"Origin: https://app.example.com", NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models", h, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!has_header(&r, "Access-Control-Allow-Origin"));
    ck_assert(!has_header(&r, "Vary"));
    tu_response_free(&r);
    stop_ok();
}
END_TEST

START_TEST(cors_allowed_origins)
{
    const char *args[] = {"--cors-origins", "https://app.example.com,http://localhost:3000", NULL};
    start(args, test_env);
    tu_response r;
    char v[256];
    ck_assert_int_eq(preflight("https://app.example.com", "/v1/models/m/trajectory", &r), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert_int_eq(r.body_len, 0);
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                     "https://app.example.com");
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Methods", v, sizeof v), "POST");
    ck_assert_ptr_nonnull(strstr(tu_header(&r, "Access-Control-Allow-Headers", v, sizeof v),
                                 "Authorization"));
    ck_assert_ptr_nonnull(strstr(v, "Content-Type"));
    ck_assert_str_eq(tu_header(&r, "Access-Control-Max-Age", v, sizeof v), "600");
    ck_assert_str_eq(tu_header(&r, "Vary", v, sizeof v), "Origin");
    ck_assert(!has_header(&r, "Access-Control-Allow-Credentials"));
    tu_response_free(&r);
    ck_assert_int_eq(preflight("http://localhost:3000", "/v1/models/m", &r), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Methods", v, sizeof v),
                     "GET, HEAD, DELETE");
    tu_response_free(&r);

    /* the preflight keeps the connection open for the request it announces */
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    const char *pre[] = {"Origin: https://app.example.com", "Access-Control-Request-Method: POST",
                         NULL};
    ck_assert_int_eq(tu_request(c, "OPTIONS", "/v1/test/echo", pre, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert(!has_header(&r, "Connection"));
    tu_response_free(&r);
    const char *post[] = {"Origin: https://app.example.com", "Content-Type: application/json",
                          NULL};
    ck_assert_int_eq(tu_request(c, "POST", "/v1/test/echo", post, "[1]", 3, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"echo\":[1]}");
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                     "https://app.example.com");
    tu_response_free(&r);
    tu_close(c);

    /* another origin: no preflight answer, no allow-origin anywhere */
    ck_assert_int_eq(preflight("https://evil.example", "/v1/models", &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert(!has_header(&r, "Access-Control-Allow-Origin"));
    ck_assert_str_eq(tu_header(&r, "Vary", v, sizeof v), "Origin");
    tu_response_free(&r);
    const char *evil[] = {"Origin: https://evil.example", NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models", evil, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!has_header(&r, "Access-Control-Allow-Origin"));
    tu_response_free(&r);

    /* actual requests from an allowed origin, errors included */
    const char *ok[] = {"Origin: https://app.example.com", NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models", ok, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                     "https://app.example.com");
    ck_assert_ptr_nonnull(
        strstr(tu_header(&r, "Access-Control-Expose-Headers", v, sizeof v), "X-Request-Id"));
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models/nope", ok, NULL, &r), 0);
    expect_error(&r, 404, "not_found");
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                     "https://app.example.com");
    tu_response_free(&r);
    /* an unknown path is a 404 for a preflight too */
    ck_assert_int_eq(preflight("https://app.example.com", "/v1/nothing", &r), 0);
    expect_error(&r, 404, "not_found");
    tu_response_free(&r);
    stop_ok();
}
END_TEST

START_TEST(cors_any_origin)
{
    const char *args[] = {"--cors-origins", "*", NULL};
    start(args, NULL);
    tu_response r;
    char v[128];
    ck_assert_int_eq(preflight("https://whoever.example", "/v1/models", &r), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(tu_header(&r, "Access-Control-Allow-Origin", v, sizeof v), "*");
    ck_assert(!has_header(&r, "Vary"));
    tu_response_free(&r);
    stop_ok();
    /* a bad setting refuses to start, naming it */
    const char *bad[] = {"--cors-origins", "https://a.example/path", "--check-config", NULL};
    char *out = NULL;
    ck_assert_int_eq(tu_run_daemon(bad, NULL, &out), 2);
    ck_assert_msg(out && strstr(out, "cors_origins: expected * or comma-separated origins"), "%s",
                  out);
    free(out);
}
END_TEST

/* ---- the access log ---- */

/* A method is any run of bytes up to the first space as far as
 * libmicrohttpd goes: one with a control byte or a quote is quoted in the
 * log line, as the path is, so that a client cannot write raw control
 * bytes (terminal escapes, a carriage return) or a fake key into the log. */
START_TEST(access_log_method_quoted)
{
    start(NULL, NULL);
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    static const char req[] = "G\x1b[2J\rT\"x /healthz HTTP/1.1\r\nHost: x\r\n"
                              "X-Request-Id: oddmethod\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(tu_send_raw(c, req, sizeof req - 1), 0);
    tu_response r;
    ck_assert_int_eq(tu_recv(c, &r, 5.0), 0);
    ck_assert_int_eq(r.status, 501); /* a method no route takes (RFC 9110 15.6.2) */
    tu_response_free(&r);
    tu_close(c);
    /* the access line itself: "request_id=oddmethod" comes first in the
     * request_error line, written before the reply, while the access line
     * is written after it (the completion callback) */
    static const char line[] = "event=request method=\"G [2J T\\\"x\" path=/healthz status=501";
    int seen = tu_wait_log(&d, line, 30);
    size_t n = 0;
    char *log = tu_read_file(d.log, &n);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(seen == 0 && strstr(log, line), "%s", log);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(log[i] != '\x1b' && log[i] != '\r', "a raw control byte at %zu", i);
    free(log);
    stop_ok();
}
END_TEST

/* ---- overload ---- */

START_TEST(full_queue_503_retry_after)
{
    const char *args[] = {"--eval-threads", "1", "--eval-queue-limit", "1", "--log-level",
                          "debug",          NULL};
    start(args, test_env);
    tu_conn *a = tu_connect("127.0.0.1", d.port), *b = tu_connect("127.0.0.1", d.port);
    const char *ha[] = {"X-Request-Id: q-a", NULL}, *hb[] = {"X-Request-Id: q-b", NULL};
    ck_assert_int_eq(tu_send(a, "GET", "/v1/test/eval?ms=1500", ha, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=test_sleep_start request_id=q-a", 30), 0);
    ck_assert_int_eq(tu_send(b, "GET", "/v1/test/eval?ms=10", hb, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=deferred request_id=q-b", 30), 0);
    tu_response r;
    char v[64];
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=10", NULL, NULL, &r), 0);
    expect_error(&r, 503, "unavailable");
    ck_assert_str_eq(tu_header(&r, "Retry-After", v, sizeof v), "1");
    ck_assert_ptr_nonnull(strstr(r.body, "retry later"));
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(a, &r, 15.0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!has_header(&r, "Retry-After"));
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(b, &r, 15.0), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    tu_close(a);
    tu_close(b);
    /* and, retried after the wait, it is served */
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=10", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    stop_ok();
}
END_TEST

/* `n` requests to path on one keep-alive connection: how many got `status`. */
static int count_status(tu_conn *c, const char *path, int n, int status, int *retry_after)
{
    int got = 0;
    for (int i = 0; i < n; i++) {
        tu_response r;
        ck_assert_msg(tu_request(c, "GET", path, NULL, NULL, 0, &r) == 0, "%s: request %d failed", path, i);
        if (r.status == status) got++;
        char v[32];
        if (r.status == 429) {
            expect_error(&r, 429, "rate_limited");
            ck_assert_ptr_nonnull(tu_header(&r, "Retry-After", v, sizeof v));
            if (retry_after) *retry_after = atoi(v);
        }
        int st = r.status;
        tu_response_free(&r);
        if (st == 429) break; /* the server closes after a 429 */
    }
    return got;
}

START_TEST(rate_limit_429)
{
    char conf[400];
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    snprintf(conf, sizeof conf, "%s/odeserve.conf", d.dir);
    ck_assert_int_eq(tu_write_file(conf, "rate_limit = 0\n"), 0);
    const char *args[] = {"--config", conf, NULL};
    if (tu_daemon_start(&d, args, NULL) != 0) ck_abort_msg("daemon did not start");
    /* off by default: a burst goes through */
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_int_eq(count_status(c, "/v1/solvers", 60, 200, NULL), 60);
    tu_close(c);

    /* on by SIGHUP: 1 per second, burst 5 */
    ck_assert_int_eq(tu_write_file(conf, "rate_limit = 1\nrate_burst = 5\n"), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=reloaded", 30), 0);
    c = tu_connect("127.0.0.1", d.port);
    int retry = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = count_status(c, "/v1/solvers", 20, 200, &retry);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* the burst, and at most one more per second the loop took (a loaded
     * or sanitized run takes longer: the bound follows the time taken) */
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    int most = 8 + (int)took;
    ck_assert_msg(ok >= 5 && ok <= most, "%d requests before the limit (at most %d)", ok, most);
    ck_assert_int_ge(retry, 1);
    ck_assert_int_le(retry, 1);
    tu_close(c);
    /* probes are never limited */
    c = tu_connect("127.0.0.1", d.port);
    ck_assert_int_eq(count_status(c, "/healthz", 20, 200, NULL), 20);
    ck_assert_int_eq(count_status(c, "/readyz", 5, 200, NULL), 5);
    tu_close(c);
    /* waiting what Retry-After said is enough */
    sleep((unsigned)retry);
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/solvers", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    /* the access line is written after the reply went out */
    ck_assert_int_ge(tu_wait_log_count(&d, "status=429", 1, 10.0), 1);
    stop_ok();
}
END_TEST

START_TEST(admission_counts)
{
    http_app app;
    memset(&app, 0, sizeof app);
    err e;
    err_clear(&e);
    ratelimit *rl = NULL;
    ck_assert_int_eq(ratelimit_new(&rl, 1024, &e), ERR_OK);
    app.rate_buckets = rl;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = {htonl(0x0a000001)}};
    struct sockaddr_in6 b6 = {.sin6_family = AF_INET6}, c6 = {.sin6_family = AF_INET6};
    b6.sin6_addr.s6_addr[0] = 0x20, b6.sin6_addr.s6_addr[15] = 1;
    c6.sin6_addr.s6_addr[0] = 0x20, c6.sin6_addr.s6_addr[15] = 2; /* same /64 */
    const struct sockaddr *sa = (const void *)&a;
    /* off */
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(http_admission_rate(&app, sa, "/v1/models", 0), 0);
    atomic_store(&app.rate_limit, 2);
    atomic_store(&app.rate_burst, 2);
    ck_assert_uint_eq(http_admission_rate(&app, sa, "/v1/models", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, sa, "/v1/models", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, sa, "/v1/models", 0), 1);
    ck_assert_uint_eq(http_admission_rate(&app, sa, "/healthz", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, sa, "/v2/health/ready", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, NULL, "/v1/models", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, (const void *)&b6, "/v1/models", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, (const void *)&c6, "/v1/models", 0), 0);
    ck_assert_uint_eq(http_admission_rate(&app, (const void *)&b6, "/v1/models", 0), 1);
    /* a slow rate: the wait is whole seconds, rounded up */
    atomic_store(&app.rate_limit, 1);
    ck_assert_uint_eq(http_admission_rate(&app, sa, "/v1/models", 0.25), 1);
    http_admission_overloaded(&app);
    http_rejections n;
    http_admission_rejections(&app, &n);
    ck_assert_uint_eq(n.rate_limited, 3);
    ck_assert_uint_eq(n.overloaded, 1);
    ratelimit_free(rl);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_conv");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 60);
    tcase_add_checked_fixture(core, NULL, cleanup);
    tcase_add_test(core, trace_parse);
    tcase_add_test(core, traceparent_echoed_and_logged);
    tcase_add_test(core, cors_parse);
    tcase_add_test(core, cors_off_by_default);
    tcase_add_test(core, cors_allowed_origins);
    tcase_add_test(core, cors_any_origin);
    tcase_add_test(core, access_log_method_quoted);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 60);
    tcase_add_checked_fixture(limits, NULL, cleanup);
    tcase_add_test(limits, full_queue_503_retry_after);
    tcase_add_test(limits, rate_limit_429);
    tcase_add_test(limits, admission_counts);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
