/* check_daemon_faults: the daemon's writes failing underneath it.
 *
 * odeserved runs with tests/faultio.c preloaded (LD_PRELOAD), which fails
 * the N-th pwrite, write, fsync or fdatasync on its database files. The
 * walk uploads one model version with the 1st such call failing, then the
 * 2nd, ... until an upload makes fewer than N. After each failure: the
 * answer is a JSON 500 database_error (an I/O error) or 507 storage_full
 * with Retry-After (ENOSPC or EDQUOT, at a write or an fsync alike), with
 * no path or SQL in it; the model has as many versions as
 * before; PRAGMA integrity_check on the file is ok; the daemon answers
 * /healthz; and the same upload then succeeds. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apitest.h"
#include "leakscan.h"
#include "testutil.h"

static tu_daemon daemon_;
static char control[512], fired[600];

static void set_control(long n)
{
    char t[32];
    snprintf(t, sizeof t, "%ld\n", n);
    ck_assert_int_eq(tu_write_file(control, t), 0);
}

static void start(int err_no)
{
    memset(&daemon_, 0, sizeof daemon_);
    ck_assert_int_eq(tu_daemon_init(&daemon_), 0);
    snprintf(control, sizeof control, "%s/faultio.control", daemon_.dir);
    snprintf(fired, sizeof fired, "%s.fired", control);
    set_control(0);
    char lib[1024], preload[1100], match[400], ctl[600], en[64];
    snprintf(lib, sizeof lib, "%s/tests/libfaultio.so", tu_builddir());
    ck_assert_msg(access(lib, R_OK) == 0, "no %s", lib);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
    snprintf(match, sizeof match, "FAULTIO_MATCH=%s", daemon_.db);
    snprintf(ctl, sizeof ctl, "FAULTIO_CONTROL=%s", control);
    snprintf(en, sizeof en, "FAULTIO_ERRNO=%d", err_no);
    /* the sanitizer build: the preloaded library comes before the runtime */
    const char *env[] = {preload, match, ctl, en,
                         "ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0", NULL};
    char seed[1024];
    tu_source_path(seed, sizeof seed, "examples/spiral.json");
    const char *args[] = {"--seed-models", seed, NULL};
    ck_assert_msg(tu_daemon_start(&daemon_, args, env) == 0, "the daemon did not start");
}

static void stop(void)
{
    set_control(0);
    ck_assert_int_eq(apitest_stop(&daemon_), 0);
    tu_daemon_cleanup(&daemon_);
}

static int post_model(const char *body, tu_response *r)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    tu_conn *c = tu_connect("127.0.0.1", daemon_.port);
    if (!c) return -1;
    int rc = tu_request(c, "POST", "/v1/models/walked/versions", h, body, strlen(body), r);
    tu_close(c);
    return rc;
}

/* Versions of model "walked" the daemon lists (0: no such model). */
static long versions(void)
{
    tu_response r;
    ck_assert_int_eq(tu_http(daemon_.port, "GET", "/v1/models/walked", NULL, NULL, &r), 0);
    long n = 0;
    if (r.status == 200) {
        for (const char *p = strstr(r.body, "\"version\":"); p; p = strstr(p + 1, "\"version\":"))
            n++;
    } else {
        ck_assert_int_eq(r.status, 404);
    }
    tu_response_free(&r);
    return n;
}

static void assert_file_intact(void)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(daemon_.db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(c);
}

static void walk(int err_no, int want_status)
{
    start(err_no);
    char path[1024];
    tu_source_path(path, sizeof path, "examples/spiral.json");
    size_t body_len = 0;
    char *body = tu_read_file(path, &body_len);
    ck_assert_ptr_nonnull(body);
    long failed = 0, n_want = 0, n_sync = 0, n;
    for (n = 1;; n++) {
        ck_assert_msg(n < 1000, "the walk does not end");
        long before = versions();
        unlink(fired);
        set_control(n);
        tu_response r;
        ck_assert_msg(post_model(body, &r) == 0, "N=%ld: no answer: is the daemon down?", n);
        set_control(0);
        int hit = access(fired, F_OK) == 0;
        if (!hit) {
            ck_assert_msg(r.status == 201, "N=%ld: %d %s", n, r.status, r.body);
            tu_response_free(&r);
            break;
        }
        if (r.status == 201) { /* a fault SQLite absorbed (after the commit) */
            ck_assert_int_eq(versions(), before + 1);
            tu_response_free(&r);
            assert_file_intact();
            continue;
        }
        failed++;
        char *call = tu_read_file(fired, NULL);
        ck_assert_ptr_nonnull(call);
        /* every call, fsync and fdatasync too: SQLite makes an fsync that
         * fails with ENOSPC an I/O error and loses its errno, which the
         * store keeps (store/oserr.c) to answer 507 all the same */
        ck_assert_msg(r.status == want_status, "N=%ld (%s failed): %d %s", n, call, r.status,
                      r.body);
        char ra[16];
        if (want_status == 507)
            ck_assert_msg(tu_header(&r, "Retry-After", ra, sizeof ra), "N=%ld: no Retry-After", n);
        if (strstr(call, "sync")) n_sync++;
        n_want++;
        free(call);
        ck_assert_msg(strstr(r.body, "{\"error\":{\"code\":"), "N=%ld: %s", n, r.body);
        char why[256];
        ck_assert_msg(!leak_find(r.body, daemon_.db, why, sizeof why), "N=%ld: leaks %s: %s", n,
                      why, r.body);
        tu_response_free(&r);
        ck_assert_int_eq(versions(), before);
        assert_file_intact();
        /* the same upload, no fault */
        ck_assert_int_eq(post_model(body, &r), 0);
        ck_assert_msg(r.status == 201, "N=%ld: retry: %d %s", n, r.status, r.body);
        tu_response_free(&r);
        ck_assert_int_eq(versions(), before + 1);
    }
    fprintf(stderr,
            "check_daemon_faults: errno %d: %ld calls, %ld uploads failed cleanly, %ld with %d "
            "(%ld of them at an fsync)\n",
            err_no, n - 1, failed, n_want, want_status, n_sync);
    ck_assert_int_ge(n_want, 1);
    ck_assert_int_ge(n_sync, 1); /* the walk reached the syncs */
    free(body);
    stop();
}

START_TEST(upload_io_error_walk)
{
    walk(EIO, 500);
}
END_TEST

START_TEST(upload_disk_full_walk)
{
    walk(ENOSPC, 507);
}
END_TEST

/* A quota is a full disk for this daemon: SQLite reports EDQUOT as an I/O
 * error at a write, not as SQLITE_FULL. */
START_TEST(upload_quota_walk)
{
    walk(EDQUOT, 507);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("daemon_faults");
    TCase *tc = tcase_create("walks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, upload_io_error_walk);
    tcase_add_test(tc, upload_disk_full_walk);
    tcase_add_test(tc, upload_quota_walk);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
