/* http/testing.c: test-only endpoints, routed only when the daemon starts
 * with ODESERVE_TEST_ROUTES=1 (routes.c flags them ROUTE_TEST; otherwise
 * they are 404 like any unknown path). They exist so the test suite can
 * exercise the machinery that production routes will rely on:
 *
 *   GET  /v1/test/sleep?ms=N  sleeps N ms on the HTTP thread (blocks it);
 *   GET  /v1/test/eval?ms=N   sleeps N ms on the evaluation pool (deferred:
 *                             the HTTP threads stay free); stops early with
 *                             503 when the shutdown deadline passes or the
 *                             client closes the connection (as a solve);
 *   POST /v1/test/echo        replies {"echo": <the parsed JSON body>}.
 *
 * Each sleep logs `event=test_sleep_start request_id=...` when it begins,
 * so a test knows the request is in flight. N is 0..60000. Harmless: they
 * read nothing and write nothing. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "http/handlers.h"
#include "http/metrics.h"

typedef struct sleep_args {
    long ms;
} sleep_args;

/* ms query argument, or a 422 reply. */
static int arg_ms(http_req *r, long *ms)
{
    const char *s = http_req_query(r, "ms");
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || errno || *end || end == s || v < 0 || v > 60000) {
        http_reply_errorf(r, ERR_INVALID, "ms", "ms must be an integer from 0 to 60000");
        return -1;
    }
    *ms = v;
    return 0;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void h_test_sleep(http_req *r)
{
    long ms;
    if (arg_ms(r, &ms) != 0) return;
    log_info("test_sleep_start", "request_id=%s where=http ms=%ld", http_req_id(r), ms);
    nap_ms(ms);
    http_reply_json(r, 200, json_pack("{s:i, s:s}", "slept_ms", (int)ms, "where", "http"));
}

static void test_eval_work(http_req *r)
{
    sleep_args *a = http_req_user(r);
    log_info("test_sleep_start", "request_id=%s where=eval ms=%ld", http_req_id(r), a->ms);
    for (long t = 0; t < a->ms; t += 10) {
        if (http_req_cancelled(r)) {
            http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "stopped after %ld ms: shutting down", t);
            return;
        }
        if (http_req_client_gone(r)) { /* as a solve does (trajectory.c) */
            log_info("eval_dropped", "request_id=%s when=running after_ms=%ld", http_req_id(r), t);
            metrics_eval_dropped(1);
            http_reply_errorf(r, ERR_ABORTED, NULL, "stopped after %ld ms: the client left", t);
            return;
        }
        nap_ms(a->ms - t < 10 ? a->ms - t : 10);
    }
    http_reply_json(r, 200, json_pack("{s:i, s:s}", "slept_ms", (int)a->ms, "where", "eval"));
}

void h_test_eval(http_req *r)
{
    long ms;
    if (arg_ms(r, &ms) != 0) return;
    sleep_args *a = malloc(sizeof *a);
    if (!a) {
        http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    a->ms = ms;
    http_req_user_set(r, a, free);
    http_req_defer(r, test_eval_work);
}

void h_test_echo(http_req *r)
{
    http_reply_json(r, 200, json_pack("{s:O}", "echo", http_req_json(r)));
}
