/* check_leaks: what a client or a log reader can learn that they should not.
 *
 *   - every input of the fuzz seed corpus (fuzz/corpus/<target>/) sent to
 *     the real daemon on the route that decodes it (model uploads, dataset
 *     uploads as JSON and CSV, job documents, trajectory requests, the
 *     router's method and path): no error body holds a file path (the
 *     daemon's database least of all) or SQL (tests/leakscan.h), unless
 *     the request itself held it (a message may quote the client's input);
 *     the daemon answers every one and stays up;
 *   - job documents naming a model or dataset that breaks the name pattern
 *     are refused naming the field, as uploads are;
 *   - the log never holds a request body above a bound: huge bodies whose
 *     every byte is a marker leave at most a short quote of it in any line.
 * tests/check_api scans the replies of every tests/api case the same way. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apitest.h"
#include "leakscan.h"
#include "testutil.h"

static tu_daemon daemon_;

static void start(void)
{
    memset(&daemon_, 0, sizeof daemon_);
    ck_assert_int_eq(apitest_start(&daemon_, NULL), 0);
}

static void stop(void)
{
    ck_assert_int_eq(apitest_stop(&daemon_), 0);
    tu_daemon_cleanup(&daemon_);
}

/* One request on a fresh connection; the reply in *out (0), or -1. */
static int send_one(const char *method, const char *path, const char *ctype, const char *body,
                    size_t len, tu_response *out)
{
    char h[128];
    snprintf(h, sizeof h, "Content-Type: %s", ctype);
    const char *headers[] = {h, NULL};
    tu_conn *c = tu_connect("127.0.0.1", daemon_.port);
    if (!c) return -1;
    int rc = tu_request(c, method, path, body ? headers : NULL, body, len, out);
    tu_close(c);
    return rc;
}

/* A reply's leak, unless the request held the same thing. */
static void assert_no_leak(const tu_response *r, const char *req, size_t req_len, const char *what)
{
    if (r->status < 400 || !r->body) return;
    char why[256], why_req[256] = "";
    if (!leak_find(r->body, daemon_.db, why, sizeof why)) return;
    /* the input as text (NULs cut it short: the message cannot quote past them either) */
    char *text = strndup(req ? req : "", req_len);
    ck_assert_ptr_nonnull(text);
    int echoed = leak_find(text, daemon_.db, why_req, sizeof why_req) && strcmp(why, why_req) == 0;
    free(text);
    ck_assert_msg(echoed, "%s: the reply leaks %s: %.400s", what, why, r->body);
}

typedef struct corpus_route {
    const char *target; /* fuzz/corpus/<target> */
    int skip_first;     /* the fuzz target reads a selector byte first */
} corpus_route;

static size_t n_sent, n_errors;

/* Send one corpus input of `target` the way its fuzz target reads it. */
static void send_corpus_input(const char *target, const char *file, char *data, size_t n)
{
    char path[512];
    const char *method = "POST", *ctype = "application/json";
    const char *body = data;
    size_t len = n;
    static unsigned serial;
    serial++;
    if (strcmp(target, "model") == 0) {
        snprintf(path, sizeof path, "/v1/models/fz%u/versions", serial);
    } else if (strcmp(target, "dataset") == 0) {
        if (n < 1) return;
        if (data[0] & 1) ctype = "text/csv";
        body = data + 1;
        len = n - 1;
        snprintf(path, sizeof path, "/v1/datasets/fz%u", serial);
    } else if (strcmp(target, "points") == 0) {
        ctype = "text/csv";
        snprintf(path, sizeof path, "/v1/datasets/fz%u?kind=points", serial);
    } else if (strcmp(target, "job") == 0) {
        snprintf(path, sizeof path, "/v1/jobs");
    } else if (strcmp(target, "request") == 0) {
        if (n < 1) return;
        body = data + 1;
        len = n - 1;
        snprintf(path, sizeof path, "/v1/models/spiral/trajectory");
    } else if (strcmp(target, "parse") == 0) {
        snprintf(path, sizeof path, "/v1/models/spiral/trajectory");
    } else { /* router: "METHOD\npath"; only what fits in a request line */
        char *nl = memchr(data, '\n', n);
        if (!nl || nl == data) return;
        *nl = '\0';
        const char *p = nl + 1;
        size_t plen = n - (size_t)(p - data);
        if (plen == 0 || plen >= sizeof path || p[0] != '/') return;
        for (size_t i = 0; i < plen; i++)
            if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f) return;
        for (const char *m = data; *m; m++)
            if (*m < 'A' || *m > 'Z') return;
        memcpy(path, p, plen);
        path[plen] = '\0';
        method = data;
        body = NULL;
        len = 0;
    }
    tu_response r;
    char what[1200];
    snprintf(what, sizeof what, "fuzz/corpus/%s/%s (%s %s)", target, file, method, path);
    ck_assert_msg(send_one(method, path, ctype, body, len, &r) == 0, "%s: no reply", what);
    n_sent++;
    if (r.status >= 400) n_errors++;
    assert_no_leak(&r, body ? body : path, body ? len : strlen(path), what);
    tu_response_free(&r);
}

static int is_file(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

START_TEST(corpus_errors_leak_nothing)
{
    static const char *const targets[] = {"model", "dataset", "points", "job",
                                          "request", "parse", "router"};
    n_sent = n_errors = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[1024];
        char rel[64];
        snprintf(rel, sizeof rel, "fuzz/corpus/%s", targets[t]);
        tu_source_path(dir, sizeof dir, rel);
        struct dirent **list = NULL;
        int n = scandir(dir, &list, is_file, alphasort);
        ck_assert_msg(n > 0, "no corpus in %s", dir);
        for (int i = 0; i < n; i++) {
            char file[1400];
            snprintf(file, sizeof file, "%s/%s", dir, list[i]->d_name);
            size_t len = 0;
            char *data = tu_read_file(file, &len);
            ck_assert_msg(data != NULL, "read %s", file);
            send_corpus_input(targets[t], list[i]->d_name, data, len);
            free(data);
            free(list[i]);
        }
        free(list);
    }
    /* the corpus must reach the error paths, and the daemon must be up */
    ck_assert_uint_ge(n_errors, 50);
    tu_response r;
    ck_assert_int_eq(send_one("GET", "/healthz", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    fprintf(stderr, "check_leaks: %zu corpus inputs sent, %zu errors scanned\n", n_sent, n_errors);
}
END_TEST

/* Names in job documents follow the pattern of uploads. */
START_TEST(job_names_are_checked)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"model\": \"../etc/passwd\", \"dataset\": \"d\"}", "model"},
        {"{\"model\": \"m\", \"dataset\": \"/tmp/x.db\"}", "dataset"},
        {"{\"model\": \"a b\", \"dataset\": \"d\"}", "model"},
        {"{\"model\": \"m\", \"dataset\": \"d'; DROP TABLE jobs; --\"}", "dataset"},
        {"{\"model\": \"\", \"dataset\": \"d\"}", "model"},
        {"{\"model\": \"m\", \"dataset\": "
         "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
         "dataset"}, /* 65 characters */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_response r;
        ck_assert_int_eq(send_one("POST", "/v1/jobs", "application/json", cases[i].body,
                                  strlen(cases[i].body), &r),
                         0);
        ck_assert_msg(r.status == 422, "%s: %d %s", cases[i].body, r.status, r.body);
        char want[64];
        snprintf(want, sizeof want, "\"field\":\"%s\"", cases[i].field);
        ck_assert_msg(strstr(r.body, want), "%s: %s", cases[i].body, r.body);
        tu_response_free(&r);
    }
}
END_TEST

/* The most of a client's input an error message may quote: a message is at
 * most ERR_MSG_MAX (320) bytes (core/err.h). */
#define QUOTE_MAX 320

/* The longest run of `c` in text. */
static size_t longest_run(const char *text, char c)
{
    size_t best = 0, run = 0;
    for (const char *p = text; *p; p++) {
        run = *p == c ? run + 1 : 0;
        if (run > best) best = run;
    }
    return best;
}

/* Bodies of 200 KB made of one marker letter, in the places a message may
 * quote: a key, a name, a string value, a number, the JSON itself. */
START_TEST(logs_hold_no_large_body)
{
    enum { BIG = 200000 };
    char *fill = malloc(BIG + 1);
    ck_assert_ptr_nonnull(fill);
    memset(fill, 'Q', BIG);
    fill[BIG] = '\0';
    static const struct {
        const char *method, *path, *pre, *post, *ctype;
    } cases[] = {
        {"POST", "/v1/models/spiral/trajectory", "{\"", "\": 1}", "application/json"},
        {"POST", "/v1/models/spiral/trajectory", "{\"t\": [0, 1], \"y0\": [\"", "\"]}",
         "application/json"},
        {"POST", "/v1/jobs", "{\"model\": \"", "\", \"dataset\": \"d\"}", "application/json"},
        {"POST", "/v1/models/lg/versions", "{\"kind\": \"", "\"}", "application/json"},
        {"POST", "/v1/datasets/lg", "t,", "\n0,1\n", "text/csv"},
        {"POST", "/v1/models/spiral/trajectory", "", "", "application/json"},
        {"POST", "/v1/models/spiral/trajectory", "{\"t\": [1", "]}", "application/json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].pre) + BIG + strlen(cases[i].post);
        char *body = malloc(n + 1);
        ck_assert_ptr_nonnull(body);
        snprintf(body, n + 1, "%s%s%s", cases[i].pre, fill, cases[i].post);
        tu_response r;
        ck_assert_int_eq(send_one(cases[i].method, cases[i].path, cases[i].ctype, body, n, &r), 0);
        ck_assert_msg(r.status >= 400 && r.status < 500, "case %zu: %d", i, r.status);
        /* the reply may quote a little of the input, never all of it */
        ck_assert_uint_le(longest_run(r.body, 'Q'), QUOTE_MAX);
        tu_response_free(&r);
        free(body);
    }
    free(fill);
    size_t len = 0;
    char *log = tu_read_file(daemon_.log, &len);
    ck_assert_ptr_nonnull(log);
    ck_assert_uint_le(longest_run(log, 'Q'), QUOTE_MAX);
    size_t line = 0, longest = 0;
    for (const char *p = log; *p; p++) {
        line = *p == '\n' ? 0 : line + 1;
        if (line > longest) longest = line;
    }
    ck_assert_uint_le(longest, 2048);
    free(log);
}
END_TEST

static Suite *leaks_suite(void)
{
    Suite *s = suite_create("leaks");
    TCase *tc = tcase_create("daemon");
    tcase_add_checked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, corpus_errors_leak_nothing);
    tcase_add_test(tc, job_names_are_checked);
    tcase_add_test(tc, logs_hold_no_large_body);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(leaks_suite());
}
