/* check_disk_full: the daemon on a full disk (issue 24, finding 1), for
 * real: its database on a small tmpfs, mounted by this test in a private
 * mount namespace (so it needs root, as CI has; otherwise it is skipped,
 * exit 77).
 *
 * Uploads until the disk is full, then checks that the failed upload is a
 * 507 storage_full with Retry-After and no path in it, stored nothing, and
 * that /readyz says degraded; that reads still work; that deletes work (the
 * reserve file is given up for them, store/space.h) and free space; that
 * uploads then succeed again by themselves and /readyz is ready; and that
 * the database passes PRAGMA integrity_check afterwards. */

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static tu_daemon d;
static char fs[400], dbpath[460];
static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static char *spiral_doc(void)
{
    char path[1024];
    char *doc = tu_read_file(tu_source_path(path, sizeof path, "examples/spiral.json"), NULL);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static int upload(const char *doc, int i, tu_response *r)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/models/m%d/versions", i);
    ck_assert_int_eq(tu_http(d.port, "POST", path, json_ct, doc, r), 0);
    return r->status;
}

static int request(const char *method, const char *path, tu_response *r)
{
    ck_assert_int_eq(tu_http(d.port, method, path, NULL, NULL, r), 0);
    return r->status;
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
    umount2(fs, MNT_DETACH);
}

START_TEST(full_disk_is_507_and_deletes_free_it)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    snprintf(fs, sizeof fs, "%s/fs", d.dir);
    ck_assert_int_eq(mkdir(fs, 0700), 0);
    ck_assert_msg(mount("tmpfs", fs, "tmpfs", 0, "size=3m") == 0, "mount: %s", strerror(errno));
    snprintf(dbpath, sizeof dbpath, "%s/odeserve.db", fs);
    const char *const args[] = {"--db", dbpath, "--db-reserve-size", "512K", NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, NULL), 0);

    char *doc = spiral_doc();
    tu_response r;
    int stored = 0, status = 0;
    while (stored < 1000 && (status = upload(doc, stored, &r)) == 201) {
        tu_response_free(&r);
        stored++;
    }
    ck_assert_msg(status == 507, "upload %d: status %d: %.300s", stored, status, r.body);
    ck_assert_int_gt(stored, 3);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "storage_full");
    json_decref(j);
    ck_assert_msg(!strchr(r.body, '/') && !strstr(r.body, "odeserve.db"), "a path: %s", r.body);
    char ra[32];
    ck_assert_ptr_nonnull(tu_header(&r, "Retry-After", ra, sizeof ra));
    tu_response_free(&r);

    /* degraded, and reads work; the failed upload stored nothing */
    ck_assert_int_eq(request("GET", "/readyz", &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"storage_full\""));
    tu_response_free(&r);
    ck_assert_int_eq(request("GET", "/v1/models", &r), 200);
    j = json_loadb(r.body, r.body_len, 0, NULL);
    ck_assert_int_eq((int)json_array_size(json_object_get(j, "models")), stored);
    json_decref(j);
    tu_response_free(&r);

    /* deletes work, on the reserve's room first */
    char path[96];
    for (int i = 0; i < stored / 2; i++) {
        snprintf(path, sizeof path, "/v1/models/m%d", i);
        if (request("DELETE", path, &r) != 200) {
            char *log = tu_read_file(d.log, NULL);
            fprintf(stderr, "daemon log:\n%s\n", log ? log : "(none)");
            free(log);
        }
        ck_assert_msg(r.status == 200, "delete m%d: %d: %.300s", i, r.status, r.body);
        tu_response_free(&r);
    }
    ck_assert_int_ge(tu_log_count(&d, "event=db_reserve_released"), 1);

    /* writes recover by themselves, and readiness with them */
    ck_assert_msg(upload(doc, 5000, &r) == 201, "after deletes: %d: %.300s", r.status, r.body);
    tu_response_free(&r);
    ck_assert_int_eq(request("GET", "/readyz", &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"ready\""));
    tu_response_free(&r);
    free(doc);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 60), 0);

    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

/* One integer from `sql` on the database at dbpath (read-only). */
static long long db_int(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A training job whose checkpoints meet a full disk trains on: it neither
 * fails (a failure it could not record either, leaving a job `running`
 * with no worker, deaf to cancel, until a restart) nor loses a row; once
 * deletes make room its checkpoints are written again, and at a stop its
 * loss curve in the database is every iteration exactly once, up to its
 * checkpoint, with the database intact. */
START_TEST(training_rides_out_a_full_disk)
{
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    snprintf(fs, sizeof fs, "%s/fs", d.dir);
    ck_assert_int_eq(mkdir(fs, 0700), 0);
    ck_assert_msg(mount("tmpfs", fs, "tmpfs", 0, "size=3m") == 0, "mount: %s", strerror(errno));
    snprintf(dbpath, sizeof dbpath, "%s/odeserve.db", fs);
    const char *const args[] = {"--db", dbpath, "--db-reserve-size", "512K",
                                "--checkpoint-every-iterations", "50", NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, NULL), 0);

    char csv[2048] = "series,t,a,b\n";
    for (int i = 0; i < 12; i++) {
        char line[96];
        double t = 0.1 * i;
        snprintf(line, sizeof line, "s,%.3f,%.6f,%.6f\n", t, 1 - t * t / 2, t - t * t * t / 6);
        strcat(csv, line);
    }
    const char *const csv_ct[] = {"Content-Type: text/csv", NULL};
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/datasets/circle", csv_ct, csv, &r), 0);
    ck_assert_int_eq(r.status, 201);
    tu_response_free(&r);
    /* as many iterations as it takes: the test stops it */
    const char *job = "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": 100000000, "
                      "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}, "
                      "\"objective\": {\"batch_time\": 3, \"batch_size\": 2}}";
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/jobs", json_ct, job, &r), 0);
    ck_assert_int_eq(r.status, 202);
    tu_response_free(&r);

    /* fill the disk (the job's own metric rows fill it too) */
    char *doc = spiral_doc();
    int stored = 0, status = 0;
    while (stored < 1000 && (status = upload(doc, stored, &r)) == 201) {
        tu_response_free(&r);
        stored++;
    }
    tu_response_free(&r);
    free(doc);
    ck_assert_int_eq(status, 507);
    ck_assert_msg(tu_wait_log(&d, "event=job_write_full", 60) == 0,
                  "no checkpoint met the full disk");
    ck_assert_msg(tu_log_count(&d, "event=job_ended") == 0, "the job ended on a full disk");
    ck_assert_int_eq(request("GET", "/v1/jobs/1", &r), 200);
    ck_assert_msg(strstr(r.body, "\"status\":\"running\"") && strstr(r.body, "\"error\":null"),
                  "%s", r.body);
    tu_response_free(&r);

    /* room again: the checkpoints are written again. The job's rows held
     * since the disk filled take the room as it comes free, so a later
     * delete may find the disk full again (507) once the reserve is spent */
    int deleted = 0;
    for (int i = 0; i < stored; i++) {
        char path[96];
        snprintf(path, sizeof path, "/v1/models/m%d", i);
        int st = request("DELETE", path, &r);
        ck_assert_msg(st == 200 || st == 507, "delete m%d: %d: %.300s", i, st, r.body);
        deleted += st == 200;
        tu_response_free(&r);
    }
    ck_assert_int_gt(deleted, 0);
    ck_assert_msg(tu_wait_log(&d, "event=job_write_recovered", 60) == 0,
                  "no checkpoint after the deletes");
    ck_assert_int_eq(tu_log_count(&d, "event=job_ended"), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 60), 0);

    /* the curve: 1 .. the checkpoint's iteration, each once; nothing broken */
    long long at = db_int("SELECT iteration FROM jobs WHERE id = 1");
    ck_assert_int_gt(at, 50);
    ck_assert_int_eq(db_int("SELECT count(*) FROM job_metrics WHERE job_id = 1"), at);
    ck_assert_int_eq(db_int("SELECT min(iteration) FROM job_metrics WHERE job_id = 1"), 1);
    ck_assert_int_eq(db_int("SELECT max(iteration) FROM job_metrics WHERE job_id = 1"), at);
    ck_assert_int_eq(
        db_int("SELECT count(*) FROM jobs WHERE id = 1 AND status IN ('queued', 'running')"), 1);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

int main(void)
{
    /* a private mount namespace, so the tmpfs is this process's and its
     * children's only, and goes when they do */
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("check_disk_full: skipped: needs root to mount a tmpfs (%s)\n", strerror(errno));
        return 77;
    }
    Suite *s = suite_create("disk_full");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 300);
    tcase_add_checked_fixture(c, NULL, cleanup);
    tcase_add_test(c, full_disk_is_507_and_deletes_free_it);
    tcase_add_test(c, training_rides_out_a_full_disk);
    suite_add_tcase(s, c);
    return tu_suite_run(s);
}
