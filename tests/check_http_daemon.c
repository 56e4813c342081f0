/* check_http_daemon: the real odeserved, on an ephemeral port with a
 * temporary database, spoken to over plain TCP (tests/testutil.c).
 *
 * Health, readiness, version, the JSON error bodies (404, 405, 400, 415,
 * 413 before the body is read), request ids, deferred handlers keeping
 * the HTTP threads free, the evaluation queue limit, and graceful shutdown
 * with a request in flight. Ordering, not timing, is asserted: "the slow
 * reply has not arrived yet when /healthz answers". */
#include "build_config.h" /* autoconf: PACKAGE_VERSION */

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    int st = tu_daemon_wait(&d, 30.0);
    if (st != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("exit status %d; log:\n%s", st, log ? log : "(none)");
    }
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

static json_t *body_json(const tu_response *r)
{
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    ck_assert_msg(j != NULL, "body is not JSON (%s): %s", je.text, r->body);
    return j;
}

/* Assert an error reply: status, code, Content-Type, request id. */
static void expect_error(const tu_response *r, int status, const char *code)
{
    char v[128];
    ck_assert_msg(r->status == status, "status %d, want %d: %s", r->status, status, r->body);
    ck_assert_str_eq(tu_header(r, "Content-Type", v, sizeof v), "application/json");
    ck_assert_ptr_nonnull(tu_header(r, "X-Request-Id", v, sizeof v));
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    const char *msg = json_string_value(json_object_get(e, "message"));
    ck_assert(msg && strlen(msg) > 0);
    json_decref(j);
}

/* ---- core ---- */

START_TEST(health_ready_version)
{
    start(NULL, NULL);
    tu_response r;
    char v[128];
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    ck_assert_str_eq(tu_header(&r, "Content-Type", v, sizeof v), "application/json");
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "GET", "/readyz", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ready\"}");
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/version", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    json_t *j = body_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "version")), PACKAGE_VERSION);
    json_t *schema = json_object_get(j, "schema");
    json_int_t latest = json_integer_value(json_object_get(schema, "latest"));
    ck_assert_int_ge(latest, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(schema, "current")), latest);
    json_t *libs = json_object_get(j, "libraries");
    const char *names[] = {"libmicrohttpd", "jansson", "sqlite"};
    for (size_t i = 0; i < 3; i++) {
        const char *s = json_string_value(json_object_get(libs, names[i]));
        ck_assert_msg(s && s[0] >= '0' && s[0] <= '9', "%s version: %s", names[i], r.body);
    }
    json_decref(j);
    tu_response_free(&r);

    /* HEAD is answered like GET, without a body. */
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_int_eq(tu_request(c, "HEAD", "/healthz", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    tu_response_free(&r);
    tu_close(c);

    ck_assert_int_eq(tu_wait_log(&d, "event=request method=GET path=/healthz status=200", 30), 0);
    ck_assert_int_eq(tu_wait_log(&d, "duration_ms=", 30), 0);
    stop_ok();
}
END_TEST

START_TEST(not_found_and_method_not_allowed)
{
    start(NULL, NULL);
    tu_response r;
    char v[128];
    ck_assert_int_eq(tu_http(d.port, "GET", "/nope", NULL, NULL, &r), 0);
    expect_error(&r, 404, "not_found");
    ck_assert_ptr_null(strstr(r.body, "\"field\"")); /* omitted when empty */
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/%FF%00x", NULL, NULL, &r), 0);
    expect_error(&r, 404, "not_found"); /* not UTF-8 once decoded: still JSON */
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "DELETE", "/healthz", NULL, NULL, &r), 0);
    expect_error(&r, 405, "method_not_allowed");
    ck_assert_str_eq(tu_header(&r, "Allow", v, sizeof v), "GET, HEAD");
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/version", NULL, "{}", &r), 0);
    expect_error(&r, 405, "method_not_allowed");
    tu_response_free(&r);

    /* Test routes are not served unless ODESERVE_TEST_ROUTES=1. */
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/sleep?ms=0", NULL, NULL, &r), 0);
    expect_error(&r, 404, "not_found");
    tu_response_free(&r);
    stop_ok();
}
END_TEST

START_TEST(request_ids)
{
    start(NULL, NULL);
    tu_response r;
    char v[128], first[128];
    const char *h1[] = {"X-Request-Id: client-abc.123", NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", h1, NULL, &r), 0);
    ck_assert_str_eq(tu_header(&r, "X-Request-Id", v, sizeof v), "client-abc.123");
    tu_response_free(&r);
    ck_assert_int_eq(tu_wait_log(&d, "request_id=client-abc.123", 30), 0);

    /* Errors echo it too. */
    ck_assert_int_eq(tu_http(d.port, "GET", "/nope", h1, NULL, &r), 0);
    ck_assert_str_eq(tu_header(&r, "X-Request-Id", v, sizeof v), "client-abc.123");
    tu_response_free(&r);

    /* Not sane (a space, a quote, too long): replaced by a fresh one. */
    const char *bad[] = {"X-Request-Id: has space", "X-Request-Id: a\"b",
                         "X-Request-Id: "
                         "0123456789012345678901234567890123456789012345678901234567890123456789",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        const char *h[] = {bad[i], NULL};
        ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", h, NULL, &r), 0);
        ck_assert_ptr_nonnull(tu_header(&r, "X-Request-Id", v, sizeof v));
        ck_assert_uint_eq(strlen(v), 16);
        tu_response_free(&r);
    }
    /* Generated ids differ. */
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
    snprintf(first, sizeof first, "%s", tu_header(&r, "X-Request-Id", v, sizeof v));
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
    ck_assert_str_ne(tu_header(&r, "X-Request-Id", v, sizeof v), first);
    tu_response_free(&r);
    stop_ok();
}
END_TEST

START_TEST(json_bodies)
{
    start(NULL, test_env);
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    tu_response r;
    const char *json_ct[] = {"Content-Type: application/json; charset=utf-8", NULL};
    const char *body = "{\"a\": [1, 2.5, \"x\"]}";
    /* Several requests on one keep-alive connection. */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tu_request(c, "POST", "/v1/test/echo", json_ct, body, strlen(body), &r),
                         0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "{\"echo\":{\"a\":[1,2.5,\"x\"]}}");
        tu_response_free(&r);
    }
    tu_close(c);

    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, "{\"a\": 1,\n \"b\": }", &r),
                     0);
    expect_error(&r, 400, "bad_json");
    ck_assert_ptr_nonnull(strstr(r.body, "line 2"));
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, "{\"a\":1,\"a\":2}", &r), 0);
    expect_error(&r, 400, "bad_json"); /* duplicate keys are refused */
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, "", &r), 0);
    expect_error(&r, 400, "bad_json");
    tu_response_free(&r);

    /* NaN, Infinity and numbers beyond a double are named, as on the model
     * routes (codec_parse), not a bad_json; a bare scalar is read */
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, "{\"a\": [1, NaN]}", &r),
                     0);
    expect_error(&r, 422, "invalid_argument");
    ck_assert_ptr_nonnull(strstr(r.body, "\"field\":\"a[1]\""));
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, "{\"b\": -1e999}", &r), 0);
    expect_error(&r, 422, "invalid_argument");
    ck_assert_ptr_nonnull(strstr(r.body, "\"field\":\"b\""));
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, "null", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"echo\":null}");
    tu_response_free(&r);

    const char *form_ct[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", form_ct, "a=1", &r), 0);
    expect_error(&r, 415, "unsupported_media_type");
    tu_response_free(&r);

    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=abc", NULL, NULL, &r), 0);
    expect_error(&r, 422, "invalid_argument");
    ck_assert_ptr_nonnull(strstr(r.body, "\"field\":\"ms\""));
    tu_response_free(&r);
    stop_ok();
}
END_TEST

/* keepalive_poll: after a reply on a keep-alive connection of an idle
 * server, the HTTP thread polls that connection before sleeping. At its
 * largest (10 ms) and with one HTTP thread, so that every connection shares
 * the polling thread: a second connection is still answered, the first
 * connection's next request too, and a client that asks to close (HTTP/1.1
 * "Connection: close", HTTP/1.0 without keep-alive) gets its reply and the
 * end of the connection. */
START_TEST(keepalive_poll_holds_up_no_one)
{
    const char *args[] = {"--keepalive-poll", "0.01", "--http-threads", "1", NULL};
    start(args, test_env);
    tu_response r;
    tu_conn *a = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(a);
    for (int round = 0; round < 20; round++) {
        ck_assert_int_eq(tu_request(a, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        /* the thread may be polling `a` now: another connection is served */
        ck_assert_int_eq(tu_http(d.port, "GET", "/v1/version", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
    }
    tu_close(a);

    static const char *const closing[] = {
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof closing / sizeof closing[0]; i++) {
        tu_conn *c = tu_connect("127.0.0.1", d.port);
        ck_assert_int_eq(tu_send_raw(c, closing[i], strlen(closing[i])), 0);
        ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        char byte;
        ck_assert_msg(tu_readable(c, 10.0), "the server kept connection %zu open", i);
        ck_assert_int_eq(recv(tu_conn_fd(c), &byte, 1, 0), 0); /* EOF */
        tu_close(c);
    }
    stop_ok();
}
END_TEST

/* Pipelined requests are already in libmicrohttpd's buffer when the one
 * before them completes: the socket never turns readable for them, so a
 * keep-alive poll after each would only run out (20 x 10 ms here). A burst
 * pays for one poll: the daemon's debug log counts the polls that found
 * nothing. Nor is a connection polled that closes after its reply (a 405
 * answered before its announced body, which is never read). */
START_TEST(pipelined_requests_are_not_polled_for)
{
    const char *args[] = {
        "--keepalive-poll", "0.01", "--http-threads", "1", "--log-level", "debug", NULL};
    start(args, test_env);
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    static const char one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char burst[20 * sizeof one];
    size_t n = 0;
    for (int i = 0; i < 20; i++, n += sizeof one - 1)
        memcpy(burst + n, one, sizeof one - 1);
    ck_assert_int_eq(tu_send_raw(c, burst, n), 0);
    for (int i = 0; i < 20; i++) {
        tu_response r;
        ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
    }
    tu_close(c);
    static const char unread[] = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 "application/json\r\nContent-Length: 99999999\r\n\r\n{}";
    for (int i = 0; i < 3; i++) {
        c = tu_connect("127.0.0.1", d.port);
        ck_assert_int_eq(tu_send_raw(c, unread, sizeof unread - 1), 0);
        tu_response r;
        ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
        ck_assert_int_eq(r.status, 405);
        tu_response_free(&r);
        ck_assert(tu_readable(c, 10.0)); /* then the end of the connection */
        tu_close(c);
    }
    stop_ok();
    int quiet = tu_log_count(&d, "event=keepalive_poll_quiet");
    /* A request counts as pipelined when it starts within PIPELINED_GAP_S
     * of the poll before it; the sanitizers slow the daemon past that gap
     * now and then, so there only a poll per request (the fault this test is
     * for: 20 or more) fails. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const int most = 10;
#else
    const int most = 2;
#endif
    ck_assert_msg(quiet <= most, "%d polls found nothing (20 pipelined requests, 3 closing)", quiet);
}
END_TEST

/* Under more open connections than HTTP threads a thread does not spin on
 * the connection it just answered: it likely holds others whose requests
 * the spin would hold up, and many connections touch "nothing in flight"
 * between replies so often that the spins took CPU from the requests
 * (docs/benchmarks.md). One HTTP thread, two connections: a request with a
 * pause after it is followed by no poll (a poll would run out in the pause
 * and log keepalive_poll_quiet); with the second connection gone, by one. */
START_TEST(keepalive_poll_not_under_many_connections)
{
    const char *args[] = {
        "--keepalive-poll", "0.01", "--http-threads", "1", "--log-level", "debug", NULL};
    start(args, test_env);
    tu_response r;
    tu_conn *a = tu_connect("127.0.0.1", d.port), *b = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(tu_request(b, "GET", "/healthz", NULL, NULL, 0, &r), 0); /* b is open */
    tu_response_free(&r);
    const char *quiet = "event=keepalive_poll_quiet";
    /* b's request may have been followed by a poll (if a was not yet
     * accepted): at most one, logged after b's reply; wait it out */
    int before = tu_wait_log_count(&d, quiet, 1, 0.5);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tu_request(a, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        usleep(30000); /* past keepalive_poll: a poll would have run out */
    }
    /* a poll's line comes after the reply: give a late one time to show */
    int two = tu_wait_log_count(&d, quiet, before + 1, 0.5) - before;
    ck_assert_msg(two == 0, "%d keep-alive polls with 2 connections on 1 HTTP thread", two);
    tu_close(b);
    /* the server sees b's end when its one thread next gets to it: from
     * then on a request followed by a pause is followed by a poll that runs
     * out. Each request waits for its poll's line (a loaded machine may
     * delay it past any pause), up to a generous deadline. */
    int one = 0;
    for (int i = 0; i < 50 && one < 2; i++) {
        ck_assert_int_eq(tu_request(a, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        tu_response_free(&r);
        one = tu_wait_log_count(&d, quiet, before + one + 1, 1.0) - before;
    }
    ck_assert_msg(one >= 2, "%d keep-alive polls with 1 connection left (50 requests)", one);
    tu_close(a);
    stop_ok();
}
END_TEST

/* ---- limits ---- */

START_TEST(body_over_the_cap_is_refused_before_it_is_read)
{
    const char *args[] = {"--max-body-size", "4K", NULL};
    start(args, test_env);
    tu_response r;
    /* Announce 1 GB and send none of it: the 413 must come anyway. */
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    const char *head =
        "POST /v1/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000\r\n\r\n";
    ck_assert_int_eq(tu_send_raw(c, head, strlen(head)), 0);
    ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
    expect_error(&r, 413, "too_large");
    ck_assert_ptr_nonnull(strstr(r.body, "4096 bytes"));
    tu_response_free(&r);
    tu_close(c);

    /* Expect: 100-continue gets the 413 instead of a 100. */
    c = tu_connect("127.0.0.1", d.port);
    const char *expect =
        "POST /v1/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n";
    ck_assert_int_eq(tu_send_raw(c, expect, strlen(expect)), 0);
    ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
    expect_error(&r, 413, "too_large");
    tu_response_free(&r);
    tu_close(c);

    /* Chunked (no Content-Length): accumulation stops at the cap; the 413
     * comes when the body ends (libmicrohttpd cannot reply mid-upload). */
    c = tu_connect("127.0.0.1", d.port);
    const char *chead =
        "POST /v1/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    ck_assert_int_eq(tu_send_raw(c, chead, strlen(chead)), 0);
    char chunk[1100];
    snprintf(chunk, sizeof chunk, "400\r\n%01024d\r\n", 0);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(tu_send_raw(c, chunk, strlen(chunk)), 0);
    ck_assert_int_eq(tu_send_raw(c, "0\r\n\r\n", 5), 0);
    ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
    expect_error(&r, 413, "too_large");
    tu_response_free(&r);
    tu_close(c);

    /* A chunked body that runs on past twice the cap is cut off. */
    c = tu_connect("127.0.0.1", d.port);
    const char *hid[] = {"X-Request-Id: endless", "Content-Type: application/json",
                         "Transfer-Encoding: chunked", NULL};
    ck_assert_int_eq(tu_send(c, "POST", "/v1/test/echo", hid, NULL, 0), 0);
    for (int i = 0; i < 16; i++)
        tu_send_raw(c, chunk, strlen(chunk)); /* may fail once cut */
    ck_assert_int_ne(tu_recv(c, &r, 10.0), 0);
    tu_close(c);
    ck_assert_int_eq(tu_wait_log(&d, "event=body_cut request_id=endless", 30), 0);

    /* At the cap is fine. */
    char *big = malloc(4097);
    memset(big, ' ', 4096);
    big[0] = '[';
    big[4094] = ']';
    big[4096] = '\0';
    const char *json_ct[] = {"Content-Type: application/json", NULL};
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/test/echo", json_ct, big, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"echo\":[]}");
    tu_response_free(&r);
    free(big);
    stop_ok();
}
END_TEST

/* A deferred handler leaves the HTTP thread free: with one HTTP thread and
 * a slow evaluation in progress, /healthz still answers, before the slow
 * reply. */
START_TEST(deferred_work_keeps_http_free)
{
    const char *args[] = {"--http-threads", "1", "--eval-threads", "1", NULL};
    start(args, test_env);
    tu_conn *slow = tu_connect("127.0.0.1", d.port);
    const char *hid[] = {"X-Request-Id: slow-1", NULL};
    ck_assert_int_eq(tu_send(slow, "GET", "/v1/test/eval?ms=2000", hid, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=test_sleep_start request_id=slow-1 where=eval", 30), 0);
    for (int i = 0; i < 5; i++) {
        tu_response r;
        ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
    }
    ck_assert_msg(!tu_readable(slow, 0), "the slow reply came before /healthz was served");
    tu_response r;
    ck_assert_int_eq(tu_recv(slow, &r, 15.0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"slept_ms\":2000,\"where\":\"eval\"}");
    tu_response_free(&r);
    tu_close(slow);
    stop_ok();
}
END_TEST

START_TEST(eval_queue_limit_gives_503)
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
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=10", NULL, NULL, &r), 0);
    expect_error(&r, 503, "unavailable");
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(a, &r, 15.0), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(b, &r, 15.0), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    tu_close(a);
    tu_close(b);
    stop_ok();
}
END_TEST

/* ---- shutdown ---- */

/* SIGTERM with a request in flight: readiness goes 503 on a connection
 * opened before, new connections are refused, the in-flight request
 * completes, exit status 0. */
static void graceful_stop(const char *route, const char *where)
{
    start(NULL, test_env);
    tu_conn *keep = tu_connect("127.0.0.1", d.port);
    tu_response r;
    ck_assert_int_eq(tu_request(keep, "GET", "/readyz", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);

    tu_conn *slow = tu_connect("127.0.0.1", d.port);
    const char *hid[] = {"X-Request-Id: inflight-1", NULL};
    ck_assert_int_eq(tu_send(slow, "GET", route, hid, NULL, 0), 0);
    char needle[128];
    snprintf(needle, sizeof needle, "event=test_sleep_start request_id=inflight-1 where=%s", where);
    ck_assert_int_eq(tu_wait_log(&d, needle, 30), 0);

    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=draining", 30), 0);
    if (strcmp(where, "eval") == 0) { /* the HTTP threads are free to answer */
        ck_assert_int_eq(tu_request(keep, "GET", "/readyz", NULL, NULL, 0, &r), 0);
        expect_error(&r, 503, "unavailable");
        char v[32];
        ck_assert_str_eq(tu_header(&r, "Connection", v, sizeof v), "close");
        tu_response_free(&r);
    }
    /* New connections are refused. The listening socket is closed when the
     * drain starts, but an HTTP thread still inside poll() holds it open
     * until that poll returns: on a loaded machine a connect may slip into
     * the backlog for a moment. */
    int refused = 0;
    for (int i = 0; i < 500 && !refused; i++) { /* 10 s: a sanitized poll() returns late */
        errno = 0;
        tu_conn *late = tu_connect("127.0.0.1", d.port);
        if (!late) {
            /* a connect caught in the closing socket's backlog is reset */
            ck_assert_msg(errno == ECONNREFUSED || errno == ECONNRESET, "connect: %s",
                          strerror(errno));
            refused = 1;
        } else {
            tu_close(late);
            usleep(20000);
        }
    }
    ck_assert_msg(refused, "new connections were still accepted 10 s into the drain");

    ck_assert_int_eq(tu_recv(slow, &r, 20.0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"slept_ms\":1500"));
    tu_response_free(&r);
    tu_close(slow);
    tu_close(keep);
    int st = tu_daemon_wait(&d, 30.0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(tu_log_count(&d, "event=stopped exit=0"), 1);
    ck_assert_int_eq(tu_log_count(&d, "request_id=inflight-1 outcome"), 0);
}

START_TEST(sigterm_lets_deferred_request_finish)
{
    graceful_stop("/v1/test/eval?ms=1500", "eval");
}
END_TEST

START_TEST(sigterm_lets_blocking_request_finish)
{
    graceful_stop("/v1/test/sleep?ms=1500", "http");
}
END_TEST

/* Past shutdown_timeout, deferred work is cancelled (503) and the daemon
 * still exits 0. */
START_TEST(sigterm_deadline_cancels_work)
{
    const char *args[] = {"--shutdown-timeout", "0.3", NULL};
    start(args, test_env);
    tu_conn *slow = tu_connect("127.0.0.1", d.port);
    const char *hid[] = {"X-Request-Id: long-1", NULL};
    ck_assert_int_eq(tu_send(slow, "GET", "/v1/test/eval?ms=60000", hid, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "request_id=long-1 where=eval", 30), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    tu_response r;
    ck_assert_int_eq(tu_recv(slow, &r, 20.0), 0);
    expect_error(&r, 503, "unavailable");
    tu_response_free(&r);
    tu_close(slow);
    ck_assert_int_eq(tu_daemon_wait(&d, 30.0), 0);
    ck_assert_int_eq(tu_log_count(&d, "event=drain_timeout inflight=1"), 1);
}
END_TEST

static Suite *http_daemon_suite(void)
{
    Suite *s = suite_create("http_daemon");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, NULL, cleanup);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, health_ready_version);
    tcase_add_test(core, not_found_and_method_not_allowed);
    tcase_add_test(core, request_ids);
    tcase_add_test(core, json_bodies);
    tcase_add_test(core, keepalive_poll_holds_up_no_one);
    tcase_add_test(core, pipelined_requests_are_not_polled_for);
    tcase_add_test(core, keepalive_poll_not_under_many_connections);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, NULL, cleanup);
    tcase_set_timeout(limits, 120);
    tcase_add_test(limits, body_over_the_cap_is_refused_before_it_is_read);
    tcase_add_test(limits, deferred_work_keeps_http_free);
    tcase_add_test(limits, eval_queue_limit_gives_503);
    suite_add_tcase(s, limits);
    TCase *stop = tcase_create("shutdown");
    tcase_add_checked_fixture(stop, NULL, cleanup);
    tcase_set_timeout(stop, 120);
    tcase_add_test(stop, sigterm_lets_deferred_request_finish);
    tcase_add_test(stop, sigterm_lets_blocking_request_finish);
    tcase_add_test(stop, sigterm_deadline_cancels_work);
    suite_add_tcase(s, stop);
    return s;
}

int main(void)
{
    return tu_suite_run(http_daemon_suite());
}
