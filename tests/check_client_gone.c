/* check_client_gone: evaluations whose client has left, and the queue wait.
 *
 * One evaluation thread, so requests queue behind each other. A request
 * whose client closes its connection while it waits is dropped before it
 * starts (it never runs: no test_sleep_start for it); one whose client
 * closes while it runs is stopped (the thread is free again at once); both
 * are counted in odeserve_evaluations_dropped_total. A trajectory that
 * waited in the queue past solve_timeout answers deadline_exceeded: the
 * deadline counts from the request's arrival. The daemon serves on. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static tu_daemon d;
static const char *const test_env[] = {"ODESERVE_TEST_ROUTES=1", NULL};

static void start(const char *const *args)
{
    memset(&d, 0, sizeof d);
    if (tu_daemon_start(&d, args, test_env) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

static void teardown(void)
{
    tu_daemon_cleanup(&d);
}

/* Send GET path with X-Request-Id `id` on a new connection, not waiting. */
static tu_conn *send_get(const char *path, const char *id)
{
    char h[96];
    snprintf(h, sizeof h, "X-Request-Id: %s", id);
    const char *const hs[] = {h, NULL};
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tu_send(c, "GET", path, hs, NULL, 0), 0);
    return c;
}

/* The value of a sample line of /metrics ("name{labels} value"), or -1. */
static double metric(const char *sample)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    double v = -1;
    const char *p = strstr(r.body, sample);
    if (p) v = strtod(p + strlen(sample), NULL);
    tu_response_free(&r);
    return v;
}

static const char dropped_queued[] = "odeserve_evaluations_dropped_total{when=\"queued\"} ";
static const char dropped_running[] = "odeserve_evaluations_dropped_total{when=\"running\"} ";

START_TEST(queued_evaluation_of_a_gone_client_is_dropped)
{
    const char *args[] = {"--eval-threads", "1", "--log-level", "debug", NULL};
    start(args);
    ck_assert_double_eq(metric(dropped_queued), 0);
    /* A holds the one thread */
    tu_conn *a = send_get("/v1/test/eval?ms=3000", "hold-a");
    ck_assert_int_eq(tu_wait_log(&d, "test_sleep_start request_id=hold-a", 30), 0);
    /* B queues behind it, and its client leaves */
    tu_conn *b = send_get("/v1/test/eval?ms=1000", "gone-b");
    ck_assert_int_eq(tu_wait_log(&d, "event=deferred request_id=gone-b", 30), 0);
    tu_close(b);
    /* C queues behind B and is answered once A is done */
    tu_conn *c = send_get("/v1/test/eval?ms=1", "after-c");
    tu_response r;
    ck_assert_int_eq(tu_recv(a, &r, 10.0), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(c, &r, 10.0), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    tu_close(a);
    tu_close(c);
    /* B never ran (C, behind it, ran: B was done with) */
    ck_assert_int_eq(tu_log_count(&d, "test_sleep_start request_id=gone-b"), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=eval_dropped request_id=gone-b when=queued", 30), 0);
    ck_assert_int_eq(tu_log_count(&d, "test_sleep_start request_id=after-c"), 1);
    ck_assert_double_eq(metric(dropped_queued), 1);
    ck_assert_double_eq(metric(dropped_running), 0);
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=1", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
}
END_TEST

START_TEST(running_evaluation_of_a_gone_client_is_stopped)
{
    const char *args[] = {"--eval-threads", "1", "--log-level", "debug", NULL};
    start(args);
    tu_conn *a = send_get("/v1/test/eval?ms=30000", "long-a");
    ck_assert_int_eq(tu_wait_log(&d, "test_sleep_start request_id=long-a", 30), 0);
    tu_close(a);
    ck_assert_int_eq(tu_wait_log(&d, "event=eval_dropped request_id=long-a when=running", 30), 0);
    ck_assert_double_eq(metric(dropped_running), 1);
    /* the one thread is free again: not 30 s from now */
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=1", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
}
END_TEST

/* A long trajectory (the one of tests/api/trajectory_deadline, without its
 * deadline) is stopped through the solver's abort hook. */
START_TEST(running_solve_of_a_gone_client_is_stopped)
{
    char seed[1024];
    tu_source_path(seed, sizeof seed, "examples/spiral.json");
    const char *args[] = {"--eval-threads",  "1", "--solve-timeout", "120", "--seed-models", seed,
                          "--inline-budget", "0", "--log-level",     "debug", NULL};
    start(args);
    char body[4096] = "{\"y0\": [";
    for (int i = 0; i < 16; i++)
        strcat(body, i ? ", [2.0, 0.0]" : "[2.0, 0.0]");
    strcat(body, "], \"t\": [1000000.0], \"solver\": {\"rtol\": 1e-12, \"atol\": 1e-14, "
                 "\"max_steps\": 1000000000}}");
    const char *const hs[] = {"Content-Type: application/json", "X-Request-Id: solve-a", NULL};
    tu_conn *a = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(tu_send(a, "POST", "/v1/models/spiral/trajectory", hs, body, strlen(body)), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=deferred request_id=solve-a", 30), 0);
    /* running, not still queued behind the one evaluation thread: on a
     * loaded machine a fixed pause may end before the solve began */
    ck_assert_int_eq(tu_wait_log(&d, "event=trajectory_start request_id=solve-a where=pool", 30),
                     0);
    usleep(100000); /* into the solve */
    tu_close(a);
    ck_assert_int_eq(tu_wait_log(&d, "event=eval_dropped request_id=solve-a when=running", 30), 0);
    ck_assert_double_eq(metric(dropped_running), 1);
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/test/eval?ms=1", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
}
END_TEST

/* solve_timeout counts from the request's arrival: a quick trajectory that
 * waited longer than that for the one thread is not run late. */
START_TEST(queue_wait_counts_against_solve_timeout)
{
    char seed[1024];
    tu_source_path(seed, sizeof seed, "examples/spiral.json");
    const char *args[] = {"--eval-threads",  "1", "--solve-timeout", "0.5", "--seed-models", seed,
                          "--inline-budget", "0", NULL};
    start(args);
    tu_conn *a = send_get("/v1/test/eval?ms=3000", "hold-a");
    ck_assert_int_eq(tu_wait_log(&d, "test_sleep_start request_id=hold-a", 30), 0);
    const char *const hs[] = {"Content-Type: application/json", NULL};
    static const char quick[] = "{\"y0\": [2.0, 0.0], \"t\": [0.5, 1.0]}";
    tu_conn *b = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(b);
    tu_response r;
    ck_assert_int_eq(tu_request(b, "POST", "/v1/models/spiral/trajectory", hs, quick,
                                sizeof quick - 1, &r),
                     0);
    ck_assert_msg(r.status == 503 && strstr(r.body, "deadline_exceeded"), "%d %s", r.status,
                  r.body);
    ck_assert_msg(strstr(r.body, "queue wait included"), "%s", r.body);
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(a, &r, 10.0), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    tu_close(a);
    /* the same request, not queued, is well within it */
    ck_assert_int_eq(tu_request(b, "POST", "/v1/models/spiral/trajectory", hs, quick,
                                sizeof quick - 1, &r),
                     0);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    tu_response_free(&r);
    tu_close(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("client_gone");
    TCase *tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, queued_evaluation_of_a_gone_client_is_dropped);
    tcase_add_test(tc, running_evaluation_of_a_gone_client_is_stopped);
    tcase_add_test(tc, running_solve_of_a_gone_client_is_stopped);
    tcase_add_test(tc, queue_wait_counts_against_solve_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
