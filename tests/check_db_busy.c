/* check_db_busy: the daemon's database locked by someone else.
 *
 * Another process holding the database's write lock (here a second SQLite
 * connection in the test, after BEGIN EXCLUSIVE: what a backup, a migration
 * script or an operator's sqlite3 shell does) makes the daemon's writers
 * wait busy_timeout and then give up with SQLITE_BUSY. Such a write must
 * answer 503 database_busy with Retry-After, store nothing and leak no
 * path; reads go on (WAL: a writer never blocks them); once the lock is
 * gone the same write succeeds. A training job whose checkpoint meets the
 * lock keeps training and writes it later instead of failing. */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leakscan.h"
#include "testutil.h"

static tu_daemon d;
static const char *const json_h[] = {"Content-Type: application/json", NULL};
static const char *const csv_h[] = {"Content-Type: text/csv", NULL};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void start(const char *const *args)
{
    memset(&d, 0, sizeof d);
    if (tu_daemon_start(&d, args, NULL) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

static void teardown(void)
{
    tu_daemon_cleanup(&d);
}

/* A second connection to the daemon's database holding its write lock. */
static sqlite3 *lock_database(void)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(d.db, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(c, 10000);
    char *msg = NULL;
    int rc = sqlite3_exec(c, "BEGIN EXCLUSIVE", NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "BEGIN EXCLUSIVE: %s", msg ? msg : "?");
    return c;
}

static void unlock_database(sqlite3 *c)
{
    ck_assert_int_eq(sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(c), SQLITE_OK);
}

static json_t *req(const char *method, const char *path, const char *const *h, const char *body,
                   int want)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, method, path, h, body, &r), 0);
    ck_assert_msg(r.status == want, "%s %s: status %d, want %d: %s", method, path, r.status, want,
                  r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", r.body);
    tu_response_free(&r);
    return j;
}

static long versions(const char *model)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s", model);
    json_t *j = req("GET", path, NULL, NULL, 200);
    long n = (long)json_array_size(json_object_get(j, "versions"));
    json_decref(j);
    return n;
}

/* The 503 a busy database gets: code, Retry-After, no path, nothing stored. */
static void expect_busy(const tu_response *r, const char *what)
{
    ck_assert_msg(r->status == 503, "%s: %d %s", what, r->status, r->body);
    ck_assert_msg(strstr(r->body, "{\"error\":{\"code\":\"database_busy\""), "%s: %s", what,
                  r->body);
    char ra[16];
    ck_assert_msg(tu_header(r, "Retry-After", ra, sizeof ra), "%s: no Retry-After", what);
    ck_assert_str_eq(ra, "1");
    char why[256];
    ck_assert_msg(!leak_find(r->body, d.db, why, sizeof why), "%s: leaks %s: %s", what, why,
                  r->body);
}

START_TEST(write_under_a_held_lock_is_503)
{
    char seed[1024];
    tu_source_path(seed, sizeof seed, "examples/spiral.json");
    const char *args[] = {"--seed-models", seed, "--db-busy-timeout", "300", NULL};
    start(args);
    size_t len = 0;
    char *body = tu_read_file(seed, &len);
    ck_assert_ptr_nonnull(body);
    long before = versions("spiral");

    sqlite3 *c = lock_database();
    tu_response r;
    double t0 = mono();
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/models/spiral/versions", json_h, body, &r), 0);
    double waited = mono() - t0;
    expect_busy(&r, "upload");
    tu_response_free(&r);
    /* it waited for the lock before giving up */
    ck_assert_msg(waited >= 0.3, "answered after %.3f s, before busy_timeout", waited);
    /* a dataset upload and a delete meet the same lock */
    ck_assert_int_eq(
        tu_http(d.port, "POST", "/v1/datasets/obs", csv_h, "series,t,a\ns,0,1\ns,1,2\n", &r), 0);
    expect_busy(&r, "dataset upload");
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "DELETE", "/v1/models/spiral/versions/1", NULL, NULL, &r), 0);
    expect_busy(&r, "delete");
    tu_response_free(&r);
    /* readers are not held up by a writer (WAL), and nothing was stored */
    ck_assert_int_eq(versions("spiral"), before);
    json_decref(req("GET", "/v1/datasets/obs", NULL, NULL, 404));
    json_decref(req("GET", "/healthz", NULL, NULL, 200));
    unlock_database(c);

    /* the lock gone, the same writes pass */
    json_decref(req("POST", "/v1/models/spiral/versions", json_h, body, 201));
    ck_assert_int_eq(versions("spiral"), before + 1);
    json_decref(req("POST", "/v1/datasets/obs", csv_h, "series,t,a\ns,0,1\ns,1,2\n", 201));
    ck_assert_int_ge(tu_wait_log_count(&d, "database_busy", 3, 10.0), 3); /* each one logged */
    free(body);
}
END_TEST

static json_t *job(long long id)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", id);
    return req("GET", path, NULL, NULL, 200);
}

static long job_iteration(long long id, char *status, size_t n)
{
    json_t *j = job(id);
    snprintf(status, n, "%s", json_string_value(json_object_get(j, "status")));
    long it = (long)json_integer_value(json_object_get(j, "iteration"));
    json_decref(j);
    return it;
}

/* A job whose checkpoint finds the lock taken trains on and checkpoints
 * once it is free: it neither fails nor stops. */
START_TEST(job_checkpoint_waits_out_a_held_lock)
{
    const char *args[] = {"--db-busy-timeout", "100", "--checkpoint-every-iterations", "5", NULL};
    start(args);
    char csv[2048] = "series,t,a,b\n";
    for (int i = 0; i < 12; i++) {
        char line[96];
        double t = 0.1 * i;
        snprintf(line, sizeof line, "s,%.3f,%.6f,%.6f\n", t, 1 - t * t / 2, t - t * t * t / 6);
        strcat(csv, line);
    }
    json_decref(req("POST", "/v1/datasets/circle", csv_h, csv, 201));
    json_t *j = req("POST", "/v1/jobs", json_h,
                    "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": 100000000, "
                    "\"seed\": 3, \"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}, "
                    "\"objective\": {\"loss\": \"l1\", \"batch_time\": 3, \"batch_size\": 2}, "
                    "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.01}}",
                    202);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    ck_assert_int_eq(tu_wait_log(&d, "job_started", 30), 0);
    char st[32];
    /* a first checkpoint, so the job is well under way */
    for (int i = 0; i < 1000 && job_iteration(id, st, sizeof st) < 5; i++)
        usleep(10000);
    ck_assert_str_eq(st, "running");

    sqlite3 *c = lock_database();
    long held = job_iteration(id, st, sizeof st); /* reads go on */
    /* a checkpoint is due every 5 iterations: many meet the lock */
    for (int i = 0; i < 3000 && tu_log_count(&d, "job_write_busy") < 3; i++)
        usleep(10000);
    usleep(300000);
    ck_assert_int_eq(job_iteration(id, st, sizeof st), held); /* none got through */
    ck_assert_str_eq(st, "running");
    unlock_database(c);

    /* it checkpoints again, further on, still running */
    long now = held;
    for (int i = 0; i < 2000 && (now = job_iteration(id, st, sizeof st)) <= held; i++)
        usleep(10000);
    ck_assert_msg(now > held, "no checkpoint after the lock went (iteration %ld)", now);
    ck_assert_str_eq(st, "running");
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", id);
    /* with a busy_timeout this short the job's own checkpoints (every 5
     * iterations) may hold the lock past it: retry as a client would */
    tu_response r;
    for (int i = 0;; i++) {
        ck_assert_int_eq(tu_http(d.port, "POST", path, NULL, NULL, &r), 0);
        if (r.status != 503 || i == 50) break;
        expect_busy(&r, "cancel");
        tu_response_free(&r);
        usleep(100000);
    }
    ck_assert_msg(r.status == 202, "cancel: %d %s", r.status, r.body);
    tu_response_free(&r);
    for (int i = 0; i < 2000; i++) {
        job_iteration(id, st, sizeof st);
        if (strcmp(st, "running") != 0) break;
        usleep(10000);
    }
    ck_assert_str_eq(st, "cancelled");
    /* the lock was met (and logged), not missed */
    ck_assert_int_ge(tu_log_count(&d, "job_write_busy"), 3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("db_busy");
    TCase *tc = tcase_create("busy");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, write_under_a_held_lock_is_503);
    tcase_add_test(tc, job_checkpoint_waits_out_a_held_lock);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
