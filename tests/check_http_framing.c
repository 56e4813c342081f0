/* check_http_framing: message framing and abusive clients, on the real
 * daemon, at the socket level (raw bytes in, raw bytes out):
 *
 *   - request smuggling (RFC 9112 6.1, 6.3): Content-Length twice (equal or
 *     not), Transfer-Encoding with Content-Length, Transfer-Encoding twice,
 *     "chunked, chunked": 400 bad_request; an unknown coding (gzip): 501
 *     not_implemented; JSON, one status line, the connection closed and a
 *     request smuggled behind it never answered; alone and pipelined after
 *     a good request, on several paths (http/framing.h);
 *   - the cases libmicrohttpd 0.9.75 answers itself, before the daemon sees
 *     the request (its HTML pages; docs/reliability.md lists them): still
 *     one status code, the connection closed, nothing smuggled answered;
 *     the table below is the list, checked against the library's answers;
 *   - slow clients (http/guard.h): a header deadline, a minimum body rate,
 *     and at connection_limit the oldest connection still in its headers
 *     makes way (else the longest idle one), so /healthz answers within
 *     100 ms under 2x connection_limit slowloris sockets;
 *   - keep-alive connections between requests: the wait is not a slow
 *     header (a connection idling past header_timeout while others come
 *     and go is served), and is bounded by connection_timeout however the
 *     next request line trickles in;
 *   - a body over max_body_size sent whole before reading (as urllib does):
 *     the client reads the 413, not a reset (lingering close). */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include "testutil.h"

static const char *const test_env[] = {"ODESERVE_TEST_ROUTES=1", NULL};

static tu_daemon d;

static double clock_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void start(const char *const *args)
{
    memset(&d, 0, sizeof d);
    if (tu_daemon_start(&d, args, test_env) != 0) {
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

/* What came back on one connection for `req`. */
typedef struct reply {
    char *text; /* everything read, NUL-terminated */
    size_t len;
    int closed; /* EOF (or a reset) within the timeout */
} reply;

/* Send req whole, then read until EOF or timeout_s. */
static reply exchange(const void *req, size_t n, double timeout_s)
{
    reply out = {0};
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    tu_send_raw(c, req, n); /* may fail once the daemon has closed */
    size_t cap = 4096;
    out.text = malloc(cap);
    ck_assert_ptr_nonnull(out.text);
    double until = clock_mono() + timeout_s;
    for (;;) {
        double left = until - clock_mono();
        if (left <= 0) break;
        struct pollfd pf = {.fd = tu_conn_fd(c), .events = POLLIN};
        if (poll(&pf, 1, (int)(left * 1e3) + 1) <= 0) continue;
        if (out.len + 2048 > cap) {
            out.text = realloc(out.text, cap *= 2);
            ck_assert_ptr_nonnull(out.text);
        }
        ssize_t k = recv(tu_conn_fd(c), out.text + out.len, cap - out.len - 1, 0);
        if (k <= 0) {
            out.closed = 1;
            break;
        }
        out.len += (size_t)k;
    }
    out.text[out.len] = '\0';
    tu_close(c);
    return out;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The status of the reply that starts at `from`. */
static int status_at(const char *from)
{
    int st = 0;
    return sscanf(from, "HTTP/1.1 %d", &st) == 1 ? st : 0;
}

/* ---- request smuggling ---- */

#define H "Host: x\r\n"
/* a request hidden in a body: answered only if the framing was misread */
#define SMUGGLED "GET /v1/test/echo?smuggled=1 HTTP/1.1\r\n" H "\r\n"

static const struct framing_case {
    const char *name;
    const char *head; /* method, path and version; then the framing headers */
    const char *framing;
    int status;
    const char *code;
} framing_cases[] = {
    {"content-length 0 then N", "POST /v1/test/echo", "Content-Length: 0\r\nContent-Length: 40\r\n",
     400, "bad_request"},
    {"content-length N then 0", "POST /v1/test/echo", "Content-Length: 40\r\nContent-Length: 0\r\n",
     400, "bad_request"},
    {"content-length twice, equal", "POST /healthz", "Content-Length: 5\r\nContent-Length: 5\r\n",
     400, "bad_request"},
    {"transfer-encoding and content-length", "POST /v1/test/echo",
     "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400, "bad_request"},
    {"content-length and transfer-encoding", "GET /healthz",
     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400, "bad_request"},
    {"content-length list with transfer-encoding", "POST /nowhere",
     "Transfer-Encoding: chunked\r\nContent-Length: 5, 5\r\n", 400, "bad_request"},
    {"transfer-encoding twice", "POST /v1/test/echo",
     "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400, "bad_request"},
    {"chunked, chunked", "POST /v1/test/echo", "Transfer-Encoding: chunked, chunked\r\n", 400,
     "bad_request"},
    {"empty coding", "POST /healthz", "Transfer-Encoding: ,chunked\r\n", 400, "bad_request"},
    {"gzip", "POST /v1/test/echo", "Transfer-Encoding: gzip\r\n", 501, "not_implemented"},
    {"gzip, chunked", "POST /healthz", "Transfer-Encoding: gzip, chunked\r\n", 501,
     "not_implemented"},
    {"chunked, gzip", "POST /nowhere", "Transfer-Encoding: chunked, gzip\r\n", 501,
     "not_implemented"},
    {"identity", "POST /v1/test/echo", "Transfer-Encoding: identity\r\n", 501, "not_implemented"},
};

/* Our answer: exactly one status line, JSON with the code, closed, and
 * nothing for what followed. */
static void expect_framing_error(const reply *r, const char *at, const struct framing_case *fc,
                                 int pipelined)
{
    ck_assert_msg(count_of(r->text, "HTTP/1.1 ") == 1 + pipelined, "%s%s: %d status lines:\n%s",
                  fc->name, pipelined ? " (pipelined)" : "", count_of(r->text, "HTTP/1.1 "),
                  r->text);
    ck_assert_msg(status_at(at) == fc->status, "%s: status %d, want %d:\n%s", fc->name,
                  status_at(at), fc->status, r->text);
    ck_assert_ptr_nonnull(strstr(at, "Content-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(at, "Connection: close\r\n"));
    const char *body = strstr(at, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    json_error_t je;
    json_t *j = json_loads(body + 4, 0, &je);
    ck_assert_msg(j != NULL, "%s: not JSON: %s", fc->name, body + 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     fc->code);
    json_decref(j);
    ck_assert_msg(r->closed, "%s: the connection stayed open", fc->name);
    ck_assert_ptr_null(strstr(r->text, "smuggled"));
}

START_TEST(conflicting_framing_is_refused_and_closed)
{
    start(NULL);
    char req[1024];
    for (size_t i = 0; i < sizeof framing_cases / sizeof framing_cases[0]; i++) {
        const struct framing_case *fc = &framing_cases[i];
        /* the body a proxy might frame as 40 bytes, or as nothing */
        int n = snprintf(req, sizeof req, "%s HTTP/1.1\r\n" H "%s\r\n" SMUGGLED SMUGGLED, fc->head,
                         fc->framing);
        reply r = exchange(req, (size_t)n, 10.0);
        expect_framing_error(&r, r.text, fc, 0);
        free(r.text);

        /* the second of two pipelined requests */
        n = snprintf(req, sizeof req,
                     "GET /healthz HTTP/1.1\r\n" H "\r\n%s HTTP/1.1\r\n" H "%s\r\n" SMUGGLED,
                     fc->head, fc->framing);
        r = exchange(req, (size_t)n, 10.0);
        ck_assert_int_eq(status_at(r.text), 200);
        const char *second = strstr(r.text + 1, "HTTP/1.1 ");
        ck_assert_msg(second != NULL, "%s: no second reply:\n%s", fc->name, r.text);
        expect_framing_error(&r, second, fc, 1);
        free(r.text);
    }
    /* a single chunked coding, a single Content-Length: still served */
    const char ok[] = "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
                      "Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    reply r = exchange(ok, sizeof ok - 1, 10.0);
    ck_assert_msg(status_at(r.text) == 200, "%s", r.text);
    free(r.text);
    ck_assert_int_eq(tu_log_count(&d, "smuggled"), 0);
    stop_ok();
}
END_TEST

/* ---- what libmicrohttpd answers itself ---- */

/* The request line and headers are parsed by libmicrohttpd before the
 * daemon's handler is called, and it answers these with its own HTML page.
 * With 0.9.75 a malformed Content-Length (its parse_connection_headers)
 * queues the error reply, and the state machine then builds its headers a
 * second time: the status line and headers come twice (fixed upstream in
 * libmicrohttpd 1.0.0, commit f1bfbe71). `doubled` records that. */
static const struct library_case {
    const char *name;
    const char *request; /* %s: a filler, when filler > 0 */
    size_t filler;
    int status;
    int doubled;
} library_cases[] = {
    {"HTTP/0.9 request line", "GET /healthz\r\n\r\n", 0, 400, 0},
    {"unknown HTTP version", "GET /healthz HTTP/3.7\r\n" H "\r\n", 0, 505, 0},
    {"100 KB header", "GET /healthz HTTP/1.1\r\n" H "X-Big: %s\r\n\r\n", 100000, 431, 0},
    {"1000 headers", "GET /healthz HTTP/1.1\r\n" H "%s\r\n", 1000, 431, 0},
    {"header without a colon", "GET /healthz HTTP/1.1\r\n" H "NoColonHere\r\n\r\n", 0, 400, 0},
    {"bad chunk size",
     "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
     "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
     0, 400, 0},
    {"huge chunk size",
     "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
     "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nab\r\n0\r\n\r\n",
     0, 413, 0},
    /* the chunk-size line must fit the connection's buffer; libmicrohttpd
     * 0.9.75 answers one that cannot with its "internal error" page */
    {"100 KB chunk extension",
     "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
     "Transfer-Encoding: chunked\r\n\r\n2;%s\r\n{}\r\n0\r\n\r\n",
     100000, 500, 0},
    {"1 MB URI", "GET /healthz?%s HTTP/1.1\r\n" H "\r\n", 1 << 20, 414, 0},
    {"Content-Length: -5", "POST /healthz HTTP/1.1\r\n" H "Content-Length: -5\r\n\r\n", 0, 400, 1},
    {"Content-Length: abc", "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Length: abc\r\n\r\n", 0,
     400, 1},
    {"Content-Length: +30", "GET /healthz HTTP/1.1\r\n" H "Content-Length: +30\r\n\r\n", 0, 400, 1},
    {"Content-Length: 30, 30", "POST /nowhere HTTP/1.1\r\n" H "Content-Length: 30, 30\r\n\r\n", 0,
     400, 1},
    {"Content-Length: 10^23",
     "POST /healthz HTTP/1.1\r\n" H "Content-Length: 100000000000000000000000\r\n\r\n", 0, 413, 1},
};

static char *library_request(const struct library_case *lc, size_t *n)
{
    char *fill = calloc(1, lc->filler * 12 + 1);
    ck_assert_ptr_nonnull(fill);
    if (strcmp(lc->name, "1000 headers") == 0) {
        size_t w = 0;
        for (size_t i = 0; i < lc->filler; i++)
            w += (size_t)sprintf(fill + w, "X-H%zu: v\r\n", i);
    } else {
        memset(fill, 'a', lc->filler);
    }
    size_t cap = strlen(lc->request) + strlen(fill) + sizeof SMUGGLED + 1;
    char *req = malloc(cap);
    ck_assert_ptr_nonnull(req);
    int k = snprintf(req, cap, lc->request, fill);
    free(fill);
    /* a request behind it, which must not be answered */
    memcpy(req + k, SMUGGLED, sizeof SMUGGLED);
    *n = (size_t)k + sizeof SMUGGLED - 1;
    return req;
}

START_TEST(library_answers_are_listed)
{
    start(NULL);
    for (size_t i = 0; i < sizeof library_cases / sizeof library_cases[0]; i++) {
        const struct library_case *lc = &library_cases[i];
        for (int pipelined = 0; pipelined < 2; pipelined++) {
            size_t n;
            char *req = library_request(lc, &n);
            if (pipelined) {
                static const char first[] = "GET /healthz HTTP/1.1\r\n" H "\r\n";
                char *both = malloc(n + sizeof first);
                ck_assert_ptr_nonnull(both);
                memcpy(both, first, sizeof first - 1);
                memcpy(both + sizeof first - 1, req, n);
                free(req);
                req = both;
                n += sizeof first - 1;
            }
            reply r = exchange(req, n, 10.0);
            free(req);
            const char *at = r.text;
            if (pipelined) {
                ck_assert_int_eq(status_at(at), 200);
                at = strstr(at + 1, "HTTP/1.1 ");
                ck_assert_msg(at != NULL, "%s (pipelined): no second reply", lc->name);
            }
            ck_assert_msg(status_at(at) == lc->status, "%s: status %d, want %d:\n%.300s",
                          lc->name, status_at(at), lc->status, r.text);
            ck_assert_msg(r.closed, "%s: the connection stayed open", lc->name);
            ck_assert_ptr_null(strstr(r.text, "smuggled"));
            /* still the library's page (docs/reliability.md): when this
             * fails, a newer libmicrohttpd answers differently; update the
             * table and the page */
            ck_assert_msg(strstr(at, "<html>") != NULL, "%s: no longer the library's page:\n%s",
                          lc->name, at);
#if MHD_VERSION == 0x00097500
            ck_assert_msg(count_of(at, "HTTP/1.1 ") == 1 + lc->doubled,
                          "%s: %d status lines, the table says %d:\n%s", lc->name,
                          count_of(at, "HTTP/1.1 "), 1 + lc->doubled, at);
#endif
            free(r.text);
        }
    }
    /* and the daemon is still serving */
    tu_response ok;
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &ok), 0);
    ck_assert_int_eq(ok.status, 200);
    tu_response_free(&ok);
    stop_ok();
}
END_TEST

/* ---- slow clients ---- */

#define SLOW_N 64 /* 2x the connection_limit below */
#define SLOW_ROUNDS 9

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* /healthz on a fresh connection: its latency in seconds, or -1. */
static double healthz_latency(void)
{
    double t0 = clock_mono();
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    if (!c) return -1;
    tu_response r;
    int rc = tu_request(c, "GET", "/healthz", NULL, NULL, 0, &r);
    double took = clock_mono() - t0;
    tu_close(c);
    if (rc != 0) return -1;
    int st = r.status;
    tu_response_free(&r);
    return st == 200 ? took : -1;
}

START_TEST(slowloris_cannot_lock_others_out)
{
    const char *args[] = {"--connection-limit", "32", "--header-timeout", "30", NULL};
    start(args);
    tu_conn *slow[SLOW_N];
    for (int i = 0; i < SLOW_N; i++) {
        slow[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(slow[i]);
        tu_send_raw(slow[i], "GET /healthz HTTP/1.1\r\n", 23);
    }
    /* the header deadline is far: only giving way at the limit helps */
    double took[SLOW_ROUNDS];
    for (int round = 0; round < SLOW_ROUNDS; round++) {
        for (int i = 0; i < SLOW_N; i++)
            tu_send_raw(slow[i], "X-Slow: 1\r\n", 11); /* fails once closed */
        took[round] = healthz_latency();
        ck_assert_msg(took[round] >= 0, "round %d: /healthz did not answer", round);
    }
    qsort(took, SLOW_ROUNDS, sizeof took[0], cmp_double);
    double median = took[SLOW_ROUNDS / 2], worst = took[SLOW_ROUNDS - 1];
    printf("slowloris: %d slow sockets, connection_limit 32: /healthz median %.1f ms, worst "
           "%.1f ms\n",
           SLOW_N, median * 1e3, worst * 1e3);
    /* every round answered, none locked out: a lock-out lasts until the
     * slow sockets' header_timeout (30 s) frees a place; a third of it holds
     * under valgrind, the sanitizers and a loaded machine. The 100 ms target
     * (#24) is a speed figure, printed above, not asserted here: one busy
     * CI machine would fail it (docs/reliability.md). */
    ck_assert_msg(worst < 10.0, "/healthz took %.0f ms", worst * 1e3);
    ck_assert_int_ge(tu_log_count(&d, "event=connection_closed reason=connection_limit"), 5);
    for (int i = 0; i < SLOW_N; i++)
        tu_close(slow[i]);
    stop_ok();
}
END_TEST

START_TEST(slow_headers_and_bodies_are_cut_off)
{
    const char *args[] = {"--header-timeout", "1", "--min-body-rate", "1000", NULL};
    start(args);
    /* headers trickling in: closed after about a second */
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    double t0 = clock_mono();
    tu_send_raw(c, "GET /healthz HTTP/1.1\r\n", 23);
    int closed = 0;
    while (clock_mono() - t0 < 8 && !closed) {
        if (tu_send_raw(c, "X: y\r\n", 6) != 0 || tu_readable(c, 0.2)) closed = 1;
    }
    double took = clock_mono() - t0;
    ck_assert_msg(closed, "a slowloris connection stayed open for 8 s");
    ck_assert_msg(took > 0.9, "closed after %.2f s, before the 1 s deadline", took);
    tu_close(c);
    ck_assert_int_eq(tu_wait_log(&d, "event=connection_closed reason=header_timeout", 30), 0);

    /* an idle connection is closed by the same deadline */
    c = tu_connect("127.0.0.1", d.port);
    ck_assert_int_eq(tu_readable(c, 5.0), 1);
    tu_close(c);

    /* a body at 50 bytes/s against a minimum of 1000 */
    c = tu_connect("127.0.0.1", d.port);
    const char head[] = "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
                        "Content-Length: 100000\r\n\r\n";
    ck_assert_int_eq(tu_send_raw(c, head, sizeof head - 1), 0);
    t0 = clock_mono();
    closed = 0;
    while (clock_mono() - t0 < 8 && !closed) {
        if (tu_send_raw(c, "          ", 10) != 0 || tu_readable(c, 0.2)) closed = 1;
    }
    ck_assert_msg(closed, "a slow body kept its connection for 8 s");
    tu_close(c);
    ck_assert_int_eq(tu_wait_log(&d, "event=connection_closed reason=body_too_slow", 30), 0);

    /* a prompt client on a keep-alive connection is unaffected */
    c = tu_connect("127.0.0.1", d.port);
    for (int i = 0; i < 3; i++) {
        tu_response r;
        ck_assert_int_eq(tu_request(c, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        usleep(300000);
    }
    tu_close(c);
    stop_ok();
}
END_TEST

/* ---- keep-alive connections between requests ---- */

/* GET /healthz on c: its status, or -1. */
static int healthz_on(tu_conn *c)
{
    tu_response r;
    if (tu_request(c, "GET", "/healthz", NULL, NULL, 0, &r) != 0) return -1;
    int st = r.status;
    tu_response_free(&r);
    return st;
}

/* 1 when the daemon closed c (EOF or reset) within timeout_s. */
static int closed_within(tu_conn *c, double timeout_s)
{
    char b[256];
    double until = clock_mono() + timeout_s;
    while (clock_mono() < until) {
        if (!tu_readable(c, until - clock_mono())) return 0;
        ssize_t k = recv(tu_conn_fd(c), b, sizeof b, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return 1;
    }
    return 0;
}

#define CHURN_N 16

/* The wait between two requests is the client's, not a slow header: a
 * browser's CORS preflight is followed by the request it announced when
 * the page gets to it. A keep-alive connection idling three header
 * deadlines, while other connections come and go (descriptors closed and
 * reused, slow ones cut off by the guard), is still served. */
START_TEST(idle_keepalive_outlives_header_timeout)
{
    const char *args[] = {"--header-timeout", "1", "--connection-timeout", "30", NULL};
    start(args);
    tu_conn *k = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(healthz_on(k), 200);
    tu_conn *churn[CHURN_N] = {0};
    double t0 = clock_mono();
    int round = 0;
    while (clock_mono() - t0 < 3.0) {
        int i = round++ % CHURN_N;
        tu_close(churn[i]); /* the client leaves; its descriptor is reused */
        churn[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(churn[i]);
        tu_send_raw(churn[i], "GET /healthz HTTP/1.1\r\n", 23); /* never finished */
        tu_response r;
        ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        usleep(100000);
    }
    /* the unfinished ones outlived their deadline meanwhile */
    ck_assert_int_eq(tu_wait_log(&d, "event=connection_closed reason=header_timeout", 30), 0);
    ck_assert_int_eq(healthz_on(k), 200);
    const char *post[] = {"Content-Type: application/json", NULL};
    tu_response r;
    ck_assert_int_eq(tu_request(k, "POST", "/v1/test/echo", post, "[1]", 3, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"echo\":[1]}");
    tu_response_free(&r);
    ck_assert_int_eq(tu_log_count(&d, "reason=connection_timeout"), 0);
    tu_close(k);
    for (int i = 0; i < CHURN_N; i++)
        tu_close(churn[i]);
    stop_ok();
}
END_TEST

/* Between requests a connection may wait connection_timeout, however the
 * next request line trickles in (libmicrohttpd's own timer restarts at
 * each byte); from that line, its headers have header_timeout. */
START_TEST(idle_keepalive_is_bounded)
{
    /* connection_timeout well above the idle wait of the second part, so a
     * loaded machine (the sanitizers, CI) does not turn that wait into one */
    const char *args[] = {"--header-timeout", "1", "--connection-timeout", "3", NULL};
    start(args);
    /* the next request line, a byte every 0.25 s: cut at connection_timeout */
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(healthz_on(c), 200);
    const char line[] = "GET /healthz HTTP/1.1";
    double t0 = clock_mono();
    int closed = 0;
    for (size_t i = 0; !closed && clock_mono() - t0 < 8; i = (i + 1) % (sizeof line - 1))
        closed = tu_send_raw(c, line + i, 1) != 0 || closed_within(c, 0.25);
    double took = clock_mono() - t0;
    ck_assert_msg(closed, "a trickled request line kept its connection for 8 s");
    ck_assert_msg(took > 2.5, "closed after %.2f s idle, before connection_timeout (3 s)", took);
    tu_close(c);
    ck_assert_int_eq(tu_wait_log(&d, "event=connection_closed reason=connection_timeout", 30), 0);

    /* idle past header_timeout, then headers trickling after the request
     * line: cut by header_timeout, counted from that line */
    c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(healthz_on(c), 200);
    usleep(1200000);
    ck_assert_int_eq(tu_send_raw(c, "GET /healthz HTTP/1.1\r\n", 23), 0);
    t0 = clock_mono();
    closed = 0;
    while (!closed && clock_mono() - t0 < 8)
        closed = tu_send_raw(c, "X: y\r\n", 6) != 0 || closed_within(c, 0.2);
    took = clock_mono() - t0;
    ck_assert_msg(closed, "headers trickling after an idle wait kept the connection for 8 s");
    ck_assert_msg(took > 0.9, "closed %.2f s after the request line, before header_timeout", took);
    tu_close(c);
    ck_assert_int_eq(tu_wait_log(&d, "event=connection_closed reason=header_timeout", 30), 0);
    ck_assert_int_eq(tu_log_count(&d, "reason=connection_timeout"), 1);
    stop_ok();
}
END_TEST

/* At connection_limit a connection still in its headers makes way before
 * an idle keep-alive one does, the longest-waiting first; with only idle
 * ones, the longest idle makes way, so a new client is still served. */
START_TEST(limit_evicts_slow_before_idle)
{
    /* one HTTP thread: connections are accepted, and their waits begin, in
     * the order they were made (with several, two threads accepting at
     * once may note them the other way round) */
    const char *args[] = {"--connection-limit", "4", "--header-timeout", "30", "--http-threads",
                          "1", NULL};
    start(args);
    tu_conn *k = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(healthz_on(k), 200); /* idle from here: the oldest */
    tu_conn *slow[3];
    for (int i = 0; i < 3; i++) {
        slow[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(slow[i]);
        ck_assert_int_eq(tu_send_raw(slow[i], "GET /healthz HTTP/1.1\r\n", 23), 0);
    }
    usleep(200000); /* accepted in that order */
    for (int i = 0; i < 2; i++) {
        tu_response r;
        ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
    }
    /* the first client's arrival went over the limit (the second's too
     * unless the first had left by then): the oldest slow one made way */
    ck_assert_int_eq(closed_within(slow[0], 2.0), 1);
    ck_assert_int_eq(healthz_on(k), 200);
    ck_assert_int_ge(tu_log_count(&d, "event=connection_closed reason=connection_limit"), 1);
    for (int i = 0; i < 3; i++)
        tu_close(slow[i]);
    tu_close(k);
    stop_ok();
    tu_daemon_cleanup(&d);

    /* four idle keep-alive connections, a fifth client */
    start(args);
    tu_conn *idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(idle[i]);
        ck_assert_int_eq(healthz_on(idle[i]), 200);
        /* a connection's idle wait starts in the completion callback, after
         * the client has its reply, and the access line follows it: with
         * that line in, idle[i] has been idle longest but for idle[0..i-1] */
        ck_assert_int_eq(tu_wait_log_count(&d, "event=request method=GET path=/healthz ", i + 1,
                                           30.0),
                         i + 1);
        usleep(20000);
    }
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    ck_assert_int_eq(closed_within(idle[0], 2.0), 1);
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(healthz_on(idle[i]), 200);
    for (int i = 0; i < 4; i++)
        tu_close(idle[i]);
    stop_ok();
}
END_TEST

/* ---- 413 to a client that sends the whole body first ---- */

START_TEST(body_over_the_cap_sent_whole_gets_the_413)
{
    const char *args[] = {"--max-body-size", "4K", NULL};
    start(args);
    size_t n = 4u << 20; /* far more than the socket buffers hold */
    char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    memset(body, ' ', n);
    for (int round = 0; round < 5; round++) {
        tu_conn *c = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(c);
        char head[256];
        int k = snprintf(head, sizeof head,
                         "POST /v1/test/echo HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         n);
        ck_assert_int_eq(tu_send_raw(c, head, (size_t)k), 0);
        /* what urllib does: all of it, then read */
        ck_assert_msg(tu_send_raw(c, body, n) == 0, "round %d: sending the body failed: %s", round,
                      strerror(errno));
        tu_response r;
        ck_assert_msg(tu_recv(c, &r, 10.0) == 0, "round %d: no reply", round);
        ck_assert_int_eq(r.status, 413);
        ck_assert_ptr_nonnull(strstr(r.body, "\"too_large\""));
        tu_response_free(&r);
        ck_assert_int_eq(tu_readable(c, 5.0), 1); /* then closed */
        tu_close(c);
    }
    free(body);
    stop_ok();
}
END_TEST

static Suite *framing_suite(void)
{
    Suite *s = suite_create("http_framing");
    TCase *tc = tcase_create("framing");
    tcase_add_checked_fixture(tc, NULL, cleanup);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, conflicting_framing_is_refused_and_closed);
    tcase_add_test(tc, library_answers_are_listed);
    tcase_add_test(tc, slowloris_cannot_lock_others_out);
    tcase_add_test(tc, slow_headers_and_bodies_are_cut_off);
    tcase_add_test(tc, idle_keepalive_outlives_header_timeout);
    tcase_add_test(tc, idle_keepalive_is_bounded);
    tcase_add_test(tc, limit_evicts_slow_before_idle);
    tcase_add_test(tc, body_over_the_cap_sent_whole_gets_the_413);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(framing_suite());
}
