/* check_api: the data-driven API cases of tests/api/, against the real
 * daemon (ephemeral port, temporary database, the demo model seeded).
 *
 * A case is a folder tests/api/<name>/ with
 *   request.json   {"method": "POST", "path": "/v1/...",
 *                   "headers": {"Content-Type": "text/plain"},  (optional)
 *                   "body": <any JSON> | "body_file": "body.txt", (optional)
 *                   "setup": [<request>, ...],                 (optional)
 *                   "args": ["--max-body-size", "1K"],         (optional)
 *                   "fresh": true}                             (optional)
 *   expected.json  {"status": 422,
 *                   "error": {"code": "invalid_argument", "field": "y0[1]",
 *                             "message_contains": "..."},       (optional)
 *                   "json": <subset of the reply>,              (optional)
 *                   "headers": {"Location": "..."},             (optional)
 *                   "tolerance": 1e-9}                          (optional)
 * A request with a body gets Content-Type: application/json unless its
 * headers say otherwise (null removes the header). Setup requests run
 * first, in order; each carries its expected "status" (default: any 2xx).
 * "json" follows tests/apitest.h's matching rules ("*" = any value).
 * "error.field": "" asserts that the error names no field. The Open
 * Inference Protocol's routes (paths under /v2) answer errors as
 * {"error": "<field>: <message>"}: there "error.field" is the text before
 * ": " and "code" is not checked.
 *
 * Cases run in name order, each on the daemon started with its "args"
 * (cases with the same args share one; "fresh" gets its own), so a case
 * that stores models uses names of its own. Every error reply is also
 * checked for the common shape (JSON, code, non-empty message) and for
 * leaks (no file path, the daemon's database least of all, and no SQL: every
 * reply of 400 and above, setup requests' too). At the end
 * every daemon must shut down cleanly with exit status 0: under
 * AddressSanitizer (CI's sanitizer build) that is the check that the whole
 * table of bad inputs neither crashed it nor leaked. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apitest.h"
#include "leakscan.h"

#define MAX_DAEMONS 16
#define WHY_MAX 1024

typedef struct daemon_slot {
    char key[512]; /* the args, as JSON text; "" = default */
    tu_daemon d;
    int started;
} daemon_slot;

static daemon_slot slots[MAX_DAEMONS];
static size_t n_slots;

static tu_daemon *daemon_for(const json_t *req, const char *name)
{
    const json_t *args = json_object_get(req, "args");
    char key[512] = "";
    if (args) {
        char *s = json_dumps(args, JSON_COMPACT);
        snprintf(key, sizeof key, "%s", s ? s : "");
        free(s);
    }
    int fresh = json_is_true(json_object_get(req, "fresh"));
    if (fresh) snprintf(key + strlen(key), sizeof key - strlen(key), "#fresh:%s", name);
    for (size_t i = 0; i < n_slots; i++)
        if (strcmp(slots[i].key, key) == 0) return &slots[i].d;
    ck_assert_uint_lt(n_slots, MAX_DAEMONS);
    daemon_slot *s = &slots[n_slots++];
    snprintf(s->key, sizeof s->key, "%s", key);
    const char *extra[32];
    size_t n = 0;
    for (size_t i = 0; args && i < json_array_size(args) && n < 31; i++)
        extra[n++] = json_string_value(json_array_get(args, i));
    extra[n] = NULL;
    ck_assert_msg(apitest_start(&s->d, extra) == 0, "%s: the daemon did not start", name);
    s->started = 1;
    return &s->d;
}

static json_t *load_json(const char *dir, const char *file, int required)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &je);
    ck_assert_msg(j || !required, "%s: %s (line %d)", path, je.text, je.line);
    return j;
}

/* Send one request described by `req` (method, path, headers, body or
 * body_file); the reply into *out. 0 or -1. */
static int send_request(int port, const char *dir, const json_t *req, tu_response *out)
{
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *path = json_string_value(json_object_get(req, "path"));
    ck_assert_msg(method && path, "%s: a request needs method and path", dir);
    char *body = NULL;
    size_t len = 0;
    const json_t *b = json_object_get(req, "body");
    const char *bf = json_string_value(json_object_get(req, "body_file"));
    if (b) {
        body = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
        len = strlen(body);
    } else if (bf) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, bf);
        body = tu_read_file(p, &len);
        ck_assert_msg(body != NULL, "cannot read %s", p);
    }
    /* headers: the case's, plus Content-Type: application/json by default */
    char lines[16][512];
    const char *hdrs[17];
    size_t nh = 0;
    int has_ct = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(req, "headers"), k, v)
    {
        if (strcasecmp(k, "Content-Type") == 0) has_ct = 1;
        if (json_is_null(v) || nh == 16) continue;
        snprintf(lines[nh], sizeof lines[nh], "%s: %s", k, json_string_value(v));
        hdrs[nh] = lines[nh];
        nh++;
    }
    if (body && !has_ct) hdrs[nh++] = "Content-Type: application/json";
    hdrs[nh] = NULL;
    tu_conn *c = tu_connect("127.0.0.1", port);
    ck_assert_ptr_nonnull(c);
    int rc = tu_send(c, method, path, hdrs, body, len);
    if (rc == 0) rc = tu_recv(c, out, 60.0);
    tu_close(c);
    free(body);
    return rc;
}

/* An error of the Open Inference Protocol's routes (a path under /v2):
 * {"error": "<field>: <message>"} and nothing else; an expected "field"
 * is the text before ": ", "message_contains" a part of the string. */
static int check_oip_error(const json_t *j, const json_t *exp, char *why, size_t n)
{
    const char *msg = json_string_value(json_object_get(j, "error"));
    if (!msg || !msg[0] || json_object_size(j) != 1) {
        snprintf(why, n, "an error reply of /v2 that is not {\"error\": \"...\"}");
        return 0;
    }
    const json_t *err = json_object_get(exp, "error");
    const char *field = json_string_value(json_object_get(err, "field"));
    const char *part = json_string_value(json_object_get(err, "message_contains"));
    size_t fl = field ? strlen(field) : 0;
    if (field && fl && (strncmp(msg, field, fl) != 0 || strncmp(msg + fl, ": ", 2) != 0)) {
        snprintf(why, n, "error does not start with '%s: ': %.300s", field, msg);
        return 0;
    }
    if (part && !strstr(msg, part)) {
        snprintf(why, n, "error lacks '%s': %.300s", part, msg);
        return 0;
    }
    return 1;
}

/* Every error reply: JSON {"error": {"code", "message"}}, message non-empty. */
static int check_error_shape(const json_t *j, char *why, size_t n)
{
    const json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code && msg && msg[0]) return 1;
    snprintf(why, n, "an error reply without error.code and error.message");
    return 0;
}

/* The database file of the daemon answering the case being run. */
static const char *case_db;

/* No error body gives away a file path or SQL (tests/leakscan.h). */
static int check_no_leak(const tu_response *r, char *why, size_t n)
{
    char what[256];
    if (r->status < 400 || !r->body || !leak_find(r->body, case_db, what, sizeof what)) return 1;
    snprintf(why, n, "error body leaks %s: %.300s", what, r->body);
    return 0;
}

static int check_reply(const json_t *exp, const tu_response *r, int oip, char *why, size_t n)
{
    int status = (int)json_integer_value(json_object_get(exp, "status"));
    if (!check_no_leak(r, why, n)) return 0;
    if (r->status != status) {
        snprintf(why, n, "status %d, want %d: %.300s", r->status, status, r->body);
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(exp, "headers"), k, v)
    {
        char val[512];
        if (!tu_header(r, k, val, sizeof val) || strcmp(val, json_string_value(v)) != 0) {
            snprintf(why, n, "header %s: want '%s', got '%s'", k, json_string_value(v),
                     tu_header(r, k, val, sizeof val) ? val : "(none)");
            return 0;
        }
    }
    json_t *j = apitest_json(r, why, n);
    if (!j) return 0;
    if (oip && status >= 400) {
        int ok = check_oip_error(j, exp, why, n);
        json_decref(j);
        return ok;
    }
    int ok = status < 400 || check_error_shape(j, why, n);
    const json_t *err = json_object_get(exp, "error");
    if (ok && err) {
        const json_t *got = json_object_get(j, "error");
        const char *want_code = json_string_value(json_object_get(err, "code"));
        const char *got_code = json_string_value(json_object_get(got, "code"));
        const json_t *wf = json_object_get(err, "field");
        const char *got_field = json_string_value(json_object_get(got, "field"));
        const char *part = json_string_value(json_object_get(err, "message_contains"));
        const char *msg = json_string_value(json_object_get(got, "message"));
        if (want_code && (!got_code || strcmp(want_code, got_code) != 0)) {
            snprintf(why, n, "error.code %s, want %s: %.300s", got_code ? got_code : "(none)",
                     want_code, r->body);
            ok = 0;
        } else if (wf && strcmp(json_string_value(wf), got_field ? got_field : "") != 0) {
            snprintf(why, n, "error.field '%s', want '%s': %.300s", got_field ? got_field : "",
                     json_string_value(wf), r->body);
            ok = 0;
        } else if (part && (!msg || !strstr(msg, part))) {
            snprintf(why, n, "error.message lacks '%s': %.300s", part, r->body);
            ok = 0;
        }
    }
    const json_t *want = json_object_get(exp, "json");
    double tol = json_number_value(json_object_get(exp, "tolerance"));
    if (ok && want) ok = apitest_match(want, j, tol, why, n);
    json_decref(j);
    return ok;
}

/* Run one case; 1 when it passes, else 0 with the reason in why. */
static int run_case(const char *dir, const char *name, char *why, size_t n)
{
    json_t *req = load_json(dir, "request.json", 1), *exp = load_json(dir, "expected.json", 1);
    tu_daemon *d = daemon_for(req, name);
    case_db = d->db;
    int ok = 1;
    const json_t *setup = json_object_get(req, "setup");
    for (size_t i = 0; ok && i < json_array_size(setup); i++) {
        const json_t *s = json_array_get(setup, i);
        tu_response r;
        if (send_request(d->port, dir, s, &r) != 0) {
            snprintf(why, n, "setup[%zu]: no reply", i);
            ok = 0;
            break;
        }
        const json_t *st = json_object_get(s, "status");
        int good = st ? r.status == (int)json_integer_value(st) : r.status / 100 == 2;
        if (good && !check_no_leak(&r, why, n)) {
            ok = 0;
        } else if (!good) {
            snprintf(why, n, "setup[%zu] %s %s: status %d: %.300s", i,
                     json_string_value(json_object_get(s, "method")),
                     json_string_value(json_object_get(s, "path")), r.status, r.body);
            ok = 0;
        }
        tu_response_free(&r);
    }
    if (ok) {
        tu_response r;
        if (send_request(d->port, dir, req, &r) != 0) {
            snprintf(why, n, "no reply (did the daemon die?)");
            ok = 0;
        } else {
            const char *path = json_string_value(json_object_get(req, "path"));
            ok = check_reply(exp, &r, strncmp(path, "/v2/", 4) == 0 || strcmp(path, "/v2") == 0,
                             why, n);
            tu_response_free(&r);
        }
    }
    json_decref(req);
    json_decref(exp);
    return ok;
}

/* A failed assertion exits the test process: take the daemons with it. */
static void kill_daemons(void)
{
    for (size_t i = 0; i < n_slots; i++)
        tu_daemon_cleanup(&slots[i].d);
}

static int is_case(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

START_TEST(api_cases)
{
    char root[1024];
    tu_source_path(root, sizeof root, "tests/api");
    struct dirent **list = NULL;
    int n = scandir(root, &list, is_case, alphasort);
    ck_assert_msg(n > 0, "no cases in %s", root);
    atexit(kill_daemons);
    char *report = calloc(1, 65536);
    size_t used = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char dir[1280], why[WHY_MAX] = "";
        snprintf(dir, sizeof dir, "%s/%s", root, list[i]->d_name);
        if (!run_case(dir, list[i]->d_name, why, sizeof why)) {
            failed++;
            used += (size_t)snprintf(report + used, used < 65536 ? 65536 - used : 0, "\n  %s: %s",
                                     list[i]->d_name, why);
        }
        free(list[i]);
    }
    free(list);
    /* every daemon shuts down cleanly (under ASan: no leak, no error) */
    for (size_t i = 0; i < n_slots; i++) {
        int st = apitest_stop(&slots[i].d);
        if (st != 0) {
            failed++;
            used += (size_t)snprintf(report + used, used < 65536 ? 65536 - used : 0,
                                     "\n  daemon %s: exit status %d", slots[i].key, st);
        }
    }
    kill_daemons();
    fprintf(stderr, "check_api: %d cases, %d failed, %zu daemons\n", n, failed, n_slots);
    ck_assert_msg(failed == 0, "%d of %d API cases failed:%s", failed, n, report);
    free(report);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *c = tcase_create("cases");
    tcase_set_timeout(c, 600);
    tcase_add_test(c, api_cases);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tu_suite_run(api_suite());
}
