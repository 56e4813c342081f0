#include "jobtest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

tu_daemon jt_daemon;

static const char *const json_h[] = {"Content-Type: application/json", NULL};

void jt_setup(void)
{
    memset(&jt_daemon, 0, sizeof jt_daemon);
    if (tu_daemon_start(&jt_daemon, NULL, NULL) != 0) {
        char *log = tu_read_file(jt_daemon.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

void jt_teardown(void)
{
    tu_daemon_cleanup(&jt_daemon);
}

json_t *jt_req_h(const char *method, const char *path, const char *const *headers,
                 const char *body, int want)
{
    tu_response r;
    ck_assert_int_eq(tu_http(jt_daemon.port, method, path, body ? headers : NULL, body, &r), 0);
    ck_assert_msg(r.status == want, "%s %s: status %d, want %d: %s", method, path, r.status, want,
                  r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", r.body);
    tu_response_free(&r);
    return j;
}

json_t *jt_req(const char *method, const char *path, const char *body, int want)
{
    return jt_req_h(method, path, json_h, body, want);
}

char *jt_req_text(const char *method, const char *path, const char *body, int want)
{
    tu_response r;
    ck_assert_int_eq(tu_http(jt_daemon.port, method, path, body ? json_h : NULL, body, &r), 0);
    ck_assert_msg(r.status == want, "%s %s: status %d, want %d: %s", method, path, r.status, want,
                  r.body);
    char *text = strdup(r.body);
    ck_assert_ptr_nonnull(text);
    tu_response_free(&r);
    return text;
}

void jt_upload(const char *path, const char *rel)
{
    char p[4096];
    char *body = tu_read_file(tu_source_path(p, sizeof p, rel), NULL);
    ck_assert_msg(body != NULL, "cannot read %s", rel);
    json_decref(jt_req("POST", path, body, 201));
    free(body);
}

json_t *jt_source_json(const char *rel)
{
    char path[4096];
    json_error_t je;
    json_t *j = json_load_file(tu_source_path(path, sizeof path, rel), 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", rel, je.text);
    return j;
}

long long jt_submit(const char *body)
{
    json_t *j = jt_req("POST", "/v1/jobs", body, 202);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

json_t *jt_wait_done(long long id, double timeout_s)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", id);
    const double end = mono_now() + timeout_s;
    do {
        json_t *j = jt_req("GET", path, NULL, 200);
        const char *st = json_string_value(json_object_get(j, "status"));
        if (st && strcmp(st, "succeeded") == 0) return j;
        if (st && (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0))
            ck_abort_msg("job %lld ended %s: %s", id, st,
                         json_string_value(json_object_get(j, "error")));
        json_decref(j);
        usleep(20000);
    } while (mono_now() < end);
    ck_abort_msg("job %lld: no end within %g s", id, timeout_s);
    return NULL;
}

int jt_wait_version(long long id, double timeout_s)
{
    json_t *j = jt_wait_done(id, timeout_s);
    int v = (int)json_integer_value(json_object_get(j, "result_version"));
    json_decref(j);
    return v;
}
