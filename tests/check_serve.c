/* check_serve: serving models over HTTP, end to end, against the real
 * daemon (ephemeral port, temporary database, the demo model seeded).
 *
 *   round trip   a document uploaded and exported comes back with every
 *                number bit for bit (awkward values included), and the
 *                demo document's numbers come back as the same text; the
 *                export re-uploaded exports to the same bytes; the
 *                replies built as jansson trees (a dataset's summary) spell
 *                numbers in the same shortest form, byte for byte;
 *   library      a trajectory over HTTP is, bit for bit, what
 *                ode_model_solve gives in-process for the same model
 *                document and query (single, batch, solver overrides);
 *                likewise a cde trajectory and cde_model_solve (missing
 *                values, a batch, both outputs, solver overrides);
 *   concurrency  while two slow solves (large batches) hold evaluation
 *                threads, /healthz and a small trajectory are answered; the
 *                test asserts the slow replies have not arrived yet when
 *                the small ones have (ordering, not wall-clock thresholds);
 *                solve_timeout then stops the slow ones. Uploads racing for
 *                one model get distinct versions;
 *   readme       every curl example of README.md marked <!-- api-example -->
 *                runs against a live daemon and prints what the README says
 *                it prints (numbers within 1e-6, or as the same text when
 *                marked "exact"). */
#include <check.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apitest.h"
#include "codec/codec_model.h"
#include "model/cde_model.h"
#include "model/ode_model.h"

static tu_daemon d;

static void start(const char *const *extra)
{
    ck_assert_msg(apitest_start(&d, extra) == 0, "the daemon did not start");
}

static void stop_ok(void)
{
    ck_assert_int_eq(apitest_stop(&d), 0);
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static tu_response post(const char *path, const char *body)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "POST", path, json_ct, body, &r), 0);
    return r;
}

static json_t *reply_json(const tu_response *r, int status)
{
    ck_assert_msg(r->status == status, "status %d, want %d: %.400s", r->status, status, r->body);
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_INT_AS_REAL, &je);
    ck_assert_msg(j != NULL, "not JSON (%s): %.200s", je.text, r->body);
    return j;
}

/* Every number of a JSON text, in order, as text (the tokens) and as
 * doubles (strtod). Strings are skipped. Returns the count. */
static size_t numbers_of(const char *s, char ***tok, double **val)
{
    size_t n = 0, cap = 1024;
    *tok = malloc(cap * sizeof **tok);
    *val = malloc(cap * sizeof **val);
    for (const char *p = s; *p;) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (*p) p++;
        } else if (*p == '-' || isdigit((unsigned char)*p)) {
            const char *q = p;
            while (*q && (isdigit((unsigned char)*q) || strchr("+-.eE", *q)))
                q++;
            if (n == cap) {
                cap *= 2;
                *tok = realloc(*tok, cap * sizeof **tok);
                *val = realloc(*val, cap * sizeof **val);
            }
            (*tok)[n] = strndup(p, (size_t)(q - p));
            (*val)[n] = strtod(p, NULL);
            n++;
            p = q;
        } else {
            p++;
        }
    }
    return n;
}

static void free_numbers(char **tok, double *val, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tok[i]);
    free(tok);
    free(val);
}

static char *export_text(const char *name, int version)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s/versions/%d", name, version);
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", path, NULL, NULL, &r), 0);
    ck_assert_msg(r.status == 200, "export %s: %d %s", path, r.status, r.body);
    char *text = strdup(r.body);
    tu_response_free(&r);
    return text;
}

/* ---- round trip ---- */

/* A document whose weights are awkward doubles written with %.17g (not
 * the shortest form): random bit patterns, subnormals, -0.0, extremes. */
static char *awkward_doc(double *vals, size_t n_vals)
{
    uint64_t s = 0x853c49e6748fea9bull;
    const double fixed[] = {
        -0.0,      5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1.0 / 3,
        -2.5e-320, 1e23};
    for (size_t i = 0; i < n_vals; i++) {
        if (i < sizeof fixed / sizeof fixed[0]) {
            vals[i] = fixed[i];
            continue;
        }
        do {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            memcpy(&vals[i], &s, sizeof s);
        } while (!isfinite(vals[i]));
    }
    /* one layer 4 -> 4 (16 weights + 4 biases), state_dim 4 */
    char *doc = malloc(8192);
    size_t o = (size_t)snprintf(doc, 8192,
                                "{\"kind\": \"ode\", \"state_dim\": 4, \"vector_field\": "
                                "{\"layers\": [{\"weight\": [");
    for (size_t r = 0; r < 4; r++) {
        o += (size_t)snprintf(doc + o, 8192 - o, "%s[", r ? ", " : "");
        for (size_t c = 0; c < 4; c++)
            o += (size_t)snprintf(doc + o, 8192 - o, "%s%.17g", c ? ", " : "", vals[r * 4 + c]);
        o += (size_t)snprintf(doc + o, 8192 - o, "]");
    }
    o += (size_t)snprintf(doc + o, 8192 - o, "], \"bias\": [");
    for (size_t k = 0; k < 4; k++)
        o += (size_t)snprintf(doc + o, 8192 - o, "%s%.17g", k ? ", " : "", vals[16 + k]);
    snprintf(doc + o, 8192 - o, "], \"activation\": \"identity\"}]}}");
    return doc;
}

START_TEST(round_trip_is_exact)
{
    start(NULL);
    double vals[20];
    char *doc = awkward_doc(vals, 20);
    tu_response r = post("/v1/models/awkward/versions", doc);
    json_decref(reply_json(&r, 201));
    tu_response_free(&r);
    char *e1 = export_text("awkward", 1);
    char **tok;
    double *got;
    size_t n = numbers_of(e1, &tok, &got);
    /* state_dim 4, then the 16 weights and 4 biases */
    ck_assert_uint_eq(n, 21);
    for (size_t i = 0; i < 20; i++) {
        uint64_t a, b;
        memcpy(&a, &vals[i], sizeof a);
        memcpy(&b, &got[i + 1], sizeof b);
        ck_assert_msg(a == b, "value %zu: sent %.17g, exported %s", i, vals[i], tok[i + 1]);
    }
    free_numbers(tok, got, n);
    /* the export, uploaded again, exports to the same bytes */
    r = post("/v1/models/awkward/versions", e1);
    json_decref(reply_json(&r, 201));
    tu_response_free(&r);
    char *e2 = export_text("awkward", 2);
    ck_assert_str_eq(e1, e2);
    free(e1);
    free(e2);
    free(doc);

    /* the demo document (numbers as Python's repr writes them): every
     * number of the export is the same text as in the file */
    char path[1024];
    char *file = tu_read_file(tu_source_path(path, sizeof path, "examples/spiral.json"), NULL);
    ck_assert_ptr_nonnull(file);
    char *e3 = export_text("spiral", 1);
    char **t1, **t2;
    double *v1, *v2;
    size_t n1 = numbers_of(file, &t1, &v1), n2 = numbers_of(e3, &t2, &v2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_gt(n1, 4482);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(strcmp(t1[i], t2[i]) == 0, "number %zu: file %s, export %s", i, t1[i], t2[i]);
    free_numbers(t1, v1, n1);
    free_numbers(t2, v2, n2);
    free(file);
    free(e3);
    stop_ok();
}
END_TEST

/* Replies built as jansson trees (datasets, jobs, errors) spell their
 * numbers as the trajectory replies do, the shortest round-trip form: the
 * README's dataset has a missing fraction of 1/14 and ends at t = 1.6,
 * which %.17g writes 0.071428571428571425 and 1.6000000000000001. */
static void assert_turns_summary(const char *what, const tu_response *r, int status)
{
    static const char want[] = "\"series\":4,\"points\":14,\"channels\":2,\"time_range\":[0.0,1.6],"
                               "\"missing_fraction\":0.07142857142857142,\"label\":\"class\"";
    ck_assert_msg(r->status == status, "%s: status %d: %.400s", what, r->status, r->body);
    ck_assert_msg(strstr(r->body, want) != NULL, "%s: want ...%s...\ngot %s", what, want, r->body);
}

START_TEST(tree_replies_numbers_shortest)
{
    start(NULL);
    tu_response r = post("/v1/datasets/turns",
                         "{\"series\": ["
                         "{\"t\": [0.0, 0.4, 1.1, 1.5], \"y\": [[1.0, 0.0], [0.92, null], "
                         "[0.45, 0.89], [0.07, 1.0]], \"label\": 1},"
                         "{\"t\": [0.0, 0.5, 0.9, 1.6], \"y\": [[1.0, 0.0], [0.88, -0.48], "
                         "[null, -0.78], [-0.03, -1.0]], \"label\": 0},"
                         "{\"t\": [0.0, 0.7, 1.2], \"y\": [[0.0, 1.0], [-0.64, 0.77], "
                         "[-0.93, 0.36]], \"label\": 1},"
                         "{\"t\": [0.0, 0.3, 1.3], \"y\": [[0.0, 1.0], [0.3, 0.96], "
                         "[0.96, 0.27]], \"label\": 0}]}");
    assert_turns_summary("POST /v1/datasets/turns", &r, 201);
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/datasets/turns", NULL, NULL, &r), 0);
    assert_turns_summary("GET /v1/datasets/turns", &r, 200);
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/datasets", NULL, NULL, &r), 0);
    assert_turns_summary("GET /v1/datasets", &r, 200);
    tu_response_free(&r);
    stop_ok();
}
END_TEST

/* ---- HTTP = library ---- */

static void compare_with_library(const ode_model *m, const char *request, size_t batch,
                                 const double *y0, const double *t, size_t n_t,
                                 const model_solver *over)
{
    size_t sd = ode_model_state_dim(m);
    double *want = malloc(batch * n_t * sd * sizeof *want);
    struct ode_model_query q = {.t0 = 0, .batch = batch, .y0 = y0, .t = t, .n_t = n_t};
    if (over) q.solver = *over;
    struct ode_model_stats st;
    err e;
    err_clear(&e);
    ck_assert_msg(ode_model_solve(m, &q, want, &st, &e) == ERR_OK, "%s", e.message);

    tu_response r = post("/v1/models/spiral/trajectory", request);
    json_t *j = reply_json(&r, 200);
    tu_response_free(&r);
    const json_t *y = json_object_get(j, "y");
    for (size_t b = 0; b < batch; b++) {
        const json_t *traj = batch > 1 || json_is_array(json_array_get(json_array_get(y, 0), 0))
                                 ? json_array_get(y, b)
                                 : y;
        ck_assert_uint_eq(json_array_size(traj), n_t);
        for (size_t i = 0; i < n_t; i++)
            for (size_t k = 0; k < sd; k++) {
                double g = json_number_value(json_array_get(json_array_get(traj, i), k));
                double w = want[(b * n_t + i) * sd + k];
                ck_assert_msg(memcmp(&g, &w, sizeof g) == 0,
                              "y[%zu][%zu][%zu]: HTTP %.17g, library %.17g", b, i, k, g, w);
            }
    }
    const json_t *stats = json_object_get(j, "stats");
    ck_assert_int_eq((long)json_number_value(json_object_get(stats, "nfe")), st.nfe);
    ck_assert_int_eq((long)json_number_value(json_object_get(stats, "steps")), st.steps);
    json_decref(j);
    free(want);
}

/* The daemon's arguments for the two places a solve may run: the HTTP
 * thread (nothing else is in flight in these tests, so with a budget no
 * solve here reaches, every solve runs inline; one HTTP thread, so a
 * request's completion is always counted before the next one is read) and
 * the evaluation pool (inline_budget 0). Run with both, the HTTP = library
 * tests show that the two give the same bits. */
static const char *const inline_args[] = {
    "--inline-budget", "1", "--http-threads", "1", "--log-level", "debug", NULL};
static const char *const pool_args[] = {"--inline-budget", "0", "--log-level", "debug", NULL};
static const char *const *const where_args[] = {inline_args, pool_args};
static const char *const where_name[] = {"where=inline", "where=pool"};

/* A sample's value in a /metrics text, or -1. */
static double metric_in(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

/* Until the daemon is idle but for this scrape: no other request in flight
 * (a request's completion, which releases its share, comes after its
 * client has the reply) and nothing queued or running on the evaluation
 * pool (a pool worker counts itself idle after its reply went out). A
 * trajectory sent then finds nothing else in flight, as the inline variant
 * below needs, however loaded the machine. With one HTTP thread, which
 * runs completions and this scrape in turn. */
static void wait_idle(void)
{
    for (int i = 0; i < 3000; i++) { /* 30 s */
        tu_response r;
        ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
        int idle = r.status == 200 && metric_in(r.body, "odeserve_http_requests_in_flight") == 1 &&
                   metric_in(r.body, "odeserve_eval_running") == 0 &&
                   metric_in(r.body, "odeserve_eval_queue_depth") == 0;
        tu_response_free(&r);
        if (idle) return;
        usleep(10000);
    }
    ck_abort_msg("the daemon was not idle within 30 s");
}

/* How many solves the log shows (*all) and how many of them ran as loop
 * index i says and succeeded. */
static int solved_where(int i, int *all)
{
    char *log = tu_read_file(d.log, NULL);
    ck_assert_ptr_nonnull(log);
    char want[64];
    snprintf(want, sizeof want, "%s code=ok", where_name[i]);
    int here = 0;
    *all = 0;
    for (char *p = log; (p = strstr(p, "event=trajectory_done ")); p++) {
        char *eol = strchr(p, '\n');
        char *w = strstr(p, want);
        ++*all;
        if (w && (!eol || w < eol)) here++;
    }
    free(log);
    return here;
}

/* The field key=%lf of the log line of event `ev` with request id `id`. */
static double stage_field(const char *log, const char *ev, const char *id, const char *key)
{
    char want[128], k[64];
    snprintf(want, sizeof want, "event=%s request_id=%s ", ev, id);
    const char *line = strstr(log, want);
    ck_assert_msg(line != NULL, "no line %s", want);
    const char *eol = strchr(line, '\n');
    snprintf(k, sizeof k, " %s=", key);
    const char *v = strstr(line, k);
    ck_assert_msg(v && (!eol || v < eol), "%s: no %s", want, key);
    return strtod(v + strlen(k), NULL);
}

/* At log level debug every request's completion logs where its time in
 * the daemon went (request_stages, docs/operations.md): the stages are
 * never negative and add up to no more than the whole; a solved request
 * shows its solve, on the HTTP thread and on the pool alike, and its
 * overhead is the whole less at least the solve; a request without a
 * solve shows none, its overhead being its whole time. */
START_TEST(request_stages_add_up)
{
    start(where_args[_i]);
    const char *hs[] = {"Content-Type: application/json", "X-Request-Id: stages-t", NULL};
    static const char body[] = "{\"y0\": [2.0, 0.0], \"t\": [0.5, 3.1, 7.0]}";
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "POST", "/v1/models/spiral/trajectory", hs, body, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    const char *hh[] = {"X-Request-Id: stages-h", NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", hh, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    /* each line is written when its request completes, after the client has
     * its reply: with two HTTP threads the /healthz line can come first */
    ck_assert_int_eq(tu_wait_log(&d, "event=request_stages request_id=stages-t ", 30), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=request_stages request_id=stages-h ", 30), 0);
    char *log = tu_read_file(d.log, NULL);
    ck_assert_ptr_nonnull(log);
    static const char *const parts[] = {"read_us", "before_solve_us", "solve_us",
                                        "after_solve_us", "send_us"};
    const char *const ids[] = {"stages-t", "stages-h"};
    for (int k = 0; k < 2; k++) {
        double sum = 0, total = stage_field(log, "request_stages", ids[k], "total_us");
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            double v = stage_field(log, "request_stages", ids[k], parts[i]);
            ck_assert_msg(v >= 0, "%s %s = %g", ids[k], parts[i], v);
            sum += v;
        }
        ck_assert_msg(sum <= total + 0.05, "%s: stages %g > total %g", ids[k], sum, total);
    }
    double solve = stage_field(log, "request_stages", "stages-t", "solve_us");
    double total = stage_field(log, "request_stages", "stages-t", "total_us");
    double over = stage_field(log, "request_stages", "stages-t", "overhead_us");
    ck_assert_msg(solve > 0, "the solve is not in the stages");
    ck_assert_msg(over >= 0 && over <= total - solve + 0.02, "overhead %g, total %g, solve %g",
                  over, total, solve);
    ck_assert(stage_field(log, "request_stages", "stages-h", "solve_us") == 0);
    ck_assert(stage_field(log, "request_stages", "stages-h", "overhead_us") ==
              stage_field(log, "request_stages", "stages-h", "total_us"));
    free(log);
    stop_ok();
}
END_TEST

START_TEST(http_equals_library)
{
    start(where_args[_i]);
    char path[1024];
    model_def def;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_file_load(tu_source_path(path, sizeof path, "examples/spiral.json"),
                                        &def, &e) == ERR_OK,
                  "%s", e.message);
    ode_model *m = NULL;
    ck_assert_int_eq(ode_model_new(&m, &def, &e), ERR_OK);

    const double t[] = {0.5, 3.1, 0.2, 25.0, 0.5, -1.25, 7.0};
    const double y0[] = {2.0, 0.0, 1.0, 1.0, -0.5, 1.5};
    model_solver over = {.method = "tsit5", .rtol = 1e-9, .atol = 1e-11, .max_steps = 100000};
    /* Inline, each request on a daemon of its own: a solve goes inline only
     * while the cost learned from the ones before (their wall time, which a
     * loaded sanitizer run stretches) predicts under half the budget; a
     * daemon's first has nothing learned. */
    int all = 0, here = 0;
    for (int k = 0; k < 3; k++) {
        if (k > 0 && _i == 0) {
            int a, h = solved_where(_i, &a);
            all += a, here += h;
            stop_ok();
            tu_daemon_cleanup(&d);
            start(where_args[_i]);
        }
        if (_i == 0) wait_idle();
        if (k == 0)
            compare_with_library(
                m, "{\"y0\": [2.0, 0.0], \"t\": [0.5, 3.1, 0.2, 25.0, 0.5, -1.25, 7.0]}", 1, y0,
                t, 7, NULL);
        else if (k == 1)
            compare_with_library(m,
                                 "{\"y0\": [[2.0, 0.0], [1.0, 1.0], [-0.5, 1.5]], "
                                 "\"t\": [0.5, 3.1, 0.2, 25.0, 0.5, -1.25, 7.0]}",
                                 3, y0, t, 7, NULL);
        else
            compare_with_library(m,
                                 "{\"y0\": [[2.0, 0.0], [1.0, 1.0]], \"t\": [0.5, 3.1, 0.2, 25.0, "
                                 "0.5, -1.25, 7.0], \"solver\": {\"method\": \"tsit5\", \"rtol\": "
                                 "1e-9, \"atol\": 1e-11, \"max_steps\": 100000}}",
                                 2, y0, t, 7, &over);
    }
    int a, h = solved_where(_i, &a);
    all += a, here += h;
    ck_assert_msg(all == 3 && here == 3, "%d of %d solves ran %s", here, all, where_name[_i]);
    ode_model_free(m);
    model_def_free(&def);
    stop_ok();
}
END_TEST

/* One rows x dim array of the reply against the library's. */
static void same_rows(const json_t *got, const double *want, size_t rows, size_t dim,
                      const char *what)
{
    ck_assert_msg(json_array_size(got) == rows, "%s: %zu rows, want %zu", what,
                  json_array_size(got), rows);
    for (size_t i = 0; i < rows; i++) {
        ck_assert_uint_eq(json_array_size(json_array_get(got, i)), dim);
        for (size_t k = 0; k < dim; k++) {
            double g = json_number_value(json_array_get(json_array_get(got, i), k));
            double w = want[i * dim + k];
            ck_assert_msg(memcmp(&g, &w, sizeof g) == 0, "%s[%zu][%zu]: HTTP %.17g, library %.17g",
                          what, i, k, g, w);
        }
    }
}

/* POST `request` to cde-demo and compare with cde_model_solve(q) (output both). */
static void compare_cde(const cde_model *m, const char *request, const struct cde_model_query *q)
{
    size_t rows = cde_model_query_rows(q), rd = cde_model_readout_dim(m),
           hd = cde_model_hidden_dim(m);
    double *ro = malloc(rows * rd * sizeof *ro), *hid = malloc(rows * hd * sizeof *hid);
    struct cde_model_stats st;
    err e;
    err_clear(&e);
    ck_assert_msg(cde_model_solve(m, q, ro, hid, &st, &e) == ERR_OK, "%s", e.message);

    tu_response r = post("/v1/models/cde-demo/trajectory", request);
    json_t *j = reply_json(&r, 200);
    tu_response_free(&r);
    const json_t *series = json_object_get(j, "series");
    ck_assert_int_eq(series != NULL, q->batch > 1);
    size_t row = 0;
    for (size_t b = 0; b < q->batch; b++) {
        const json_t *s = series ? json_array_get(series, b) : j;
        size_t n = q->series[b].t ? q->series[b].n_t : q->series[b].obs.n;
        same_rows(json_object_get(s, "readout"), ro + row * rd, n, rd, "readout");
        same_rows(json_object_get(s, "hidden"), hid + row * hd, n, hd, "hidden");
        row += n;
    }
    const json_t *stats = json_object_get(j, "stats");
    ck_assert_int_eq((long)json_number_value(json_object_get(stats, "nfe")), st.nfe);
    ck_assert_int_eq((long)json_number_value(json_object_get(stats, "steps")), st.steps);
    json_decref(j);
    free(ro);
    free(hid);
}

START_TEST(cde_http_equals_library)
{
    start(where_args[_i]);
    char path[1024];
    tu_source_path(path, sizeof path, "examples/cde-demo.json");
    char *doc = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(doc);
    tu_response r = post("/v1/models/cde-demo/versions", doc);
    json_decref(reply_json(&r, 201));
    tu_response_free(&r);
    free(doc);
    model_def def;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_file_load(path, &def, &e) == ERR_OK, "%s", e.message);
    cde_model *m = NULL;
    ck_assert_msg(cde_model_new(&m, &def, &e) == ERR_OK, "%s", e.message);

    /* irregular times, a null in each channel (interior, leading) */
    const double t1[] = {0.0, 0.3, 1.1, 1.2, 2.9, 4.0};
    const double x1[] = {1.0, 0, 0.5, -1.0, 0, 2.0, 0.25, 1.5, -0.75, 0.1, 0.6, 0.4};
    const unsigned char m1[] = {0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    const double t2[] = {-1.0, 0.5, 2.0};
    const double x2[] = {0.3, 0.2, 0.1, 0.7, -0.4, 0.9};
    const double q1[] = {3.3, 0.0, 1.15, 4.0, 0.7, 0.7};
    const double q2[] = {-0.5, 2.0};
    struct cde_series s[2] = {
        {.obs = {6, t1, x1, m1}},
        {.obs = {3, t2, x2, NULL}, .t = q2, .n_t = 2},
    };
    struct cde_model_query q = {.batch = 1, .series = s, .output = CDE_OUTPUT_BOTH};
    /* A reply from the evaluation pool (the upload's) reaches the client
     * before its worker counts itself idle; a request sent at once then goes
     * to the pool too. Wait for the worker, so that the inline variant
     * tests the inline path (the pool variant is unaffected). */
    if (_i == 0) wait_idle();
    compare_cde(m,
                "{\"observations\": {\"t\": [0.0, 0.3, 1.1, 1.2, 2.9, 4.0], \"x\": [[1.0, "
                "null], [0.5, -1.0], [null, 2.0], [0.25, 1.5], [-0.75, 0.1], [0.6, 0.4]]}, "
                "\"output\": \"both\"}",
                &q);
    s[0].t = q1;
    s[0].n_t = 6;
    q.batch = 2;
    q.solver = (model_solver){.method = "tsit5", .rtol = 1e-9, .atol = 1e-11};
    if (_i == 0) wait_idle();
    compare_cde(m,
                "{\"series\": [{\"observations\": {\"t\": [0.0, 0.3, 1.1, 1.2, 2.9, 4.0], "
                "\"x\": [[1.0, null], [0.5, -1.0], [null, 2.0], [0.25, 1.5], [-0.75, 0.1], "
                "[0.6, 0.4]]}, \"t\": [3.3, 0.0, 1.15, 4.0, 0.7, 0.7]}, {\"observations\": "
                "{\"t\": [-1.0, 0.5, 2.0], \"x\": [[0.3, 0.2], [0.1, 0.7], [-0.4, 0.9]]}, "
                "\"t\": [-0.5, 2.0]}], \"output\": \"both\", \"solver\": {\"method\": "
                "\"tsit5\", \"rtol\": 1e-9, \"atol\": 1e-11}}",
                &q);
    /* the pool variant runs every solve there; inline, the second may go
     * to the pool when the cost learned from the first (its wall time, long
     * on a loaded sanitizer run) predicts over half the budget: the first,
     * with nothing learned, runs inline */
    int all, here = solved_where(_i, &all);
    ck_assert_int_eq(all, 2);
    ck_assert_msg(_i == 0 ? here >= 1 : here == 2, "%d of %d solves ran %s", here, all,
                  where_name[_i]);
    cde_model_free(m);
    model_def_free(&def);
    stop_ok();
}
END_TEST

/* ---- concurrency ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The slow requests of the tests below run until solve_timeout (3 s from
 * their arrival, sent at t0): whether they still run can be asked only
 * while well within it. On a machine so loaded that the small requests in
 * between took longer, their having ended says nothing: the check is
 * skipped (and said so) rather than failed. */
#define SLOW_TIMEOUT_S 3.0
static int slow_still_due(double t0)
{
    double took = now_s() - t0;
    if (took < 0.8 * SLOW_TIMEOUT_S) return 1;
    printf("the small requests took %.2f s of the slow ones' %.0f s: not asked whether these "
           "still run\n",
           took, SLOW_TIMEOUT_S);
    return 0;
}

/* A solve that would run for many seconds (512 trajectories, a tight
 * tolerance, a long span); solve_timeout cuts it. It has to overrun the
 * inline budget of inline_under_load on the fastest CPU too: a longer span
 * adds no steps (the spiral settles), more trajectories add work, and 64
 * were too few (docs/benchmarks.md, "A third Zen 5 host"). The body stays
 * under the size parsed inline. */
static char *slow_request(void)
{
    size_t cap = 16384, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "{\"y0\": [");
    for (int b = 0; b < 512; b++)
        o +=
            (size_t)snprintf(s + o, cap - o, "%s[%g, %g]", b ? ", " : "", 2.0 - b * 0.03, 0.01 * b);
    snprintf(s + o, cap - o,
             "], \"t\": [1e6], \"solver\": {\"rtol\": 1e-12, \"atol\": 1e-14, "
             "\"max_steps\": 1000000000}}");
    return s;
}

START_TEST(slow_solves_do_not_stall_others)
{
    const char *const args[] = {"--solve-timeout", "3", "--log-level", "debug", NULL};
    start(args);
    char *body = slow_request();
    tu_conn *slow[2];
    double t0 = now_s();
    for (int i = 0; i < 2; i++) {
        char id[64];
        snprintf(id, sizeof id, "X-Request-Id: slow-%d", i);
        const char *h[] = {"Content-Type: application/json", id, NULL};
        slow[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(slow[i]);
        ck_assert_int_eq(
            tu_send(slow[i], "POST", "/v1/models/spiral/trajectory", h, body, strlen(body)), 0);
    }
    /* both are solving on evaluation threads (the first may have tried the
     * HTTP thread first, for at most inline_budget) */
    ck_assert_int_eq(tu_wait_log(&d, "event=trajectory_start request_id=slow-0 where=pool", 30), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=trajectory_start request_id=slow-1 where=pool", 30), 0);

    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    r = post("/v1/models/spiral/trajectory", "{\"y0\": [2.0, 0.0], \"t\": [0.5, 3.1, 0.2]}");
    json_decref(reply_json(&r, 200));
    tu_response_free(&r);
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);

    /* ...and the slow ones are still running */
    if (slow_still_due(t0)) {
        for (int i = 0; i < 2; i++)
            ck_assert_msg(!tu_readable(slow[i], 0),
                          "slow request %d answered before the small ones", i);
        ck_assert_int_eq(tu_log_count(&d, "event=trajectory_done request_id=slow-0 where=pool"),
                         0);
        ck_assert_int_eq(tu_log_count(&d, "event=trajectory_done request_id=slow-1 where=pool"),
                         0);
    }
    /* they end at solve_timeout (or, on a machine fast enough, before it) */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tu_recv(slow[i], &r, 60), 0);
        ck_assert_msg(r.status == 200 || (r.status == 503 && strstr(r.body, "deadline_exceeded")),
                      "%d %s", r.status, r.body);
        tu_response_free(&r);
        tu_close(slow[i]);
    }
    free(body);
    stop_ok();
}
END_TEST

/* One HTTP thread, so every connection shares it. A slow solve first tries
 * that thread (nothing is known of its cost yet), runs out of
 * inline_budget and moves to the evaluation pool; a keep-alive connection
 * opened before it then gets /healthz and a small trajectory answered while
 * the slow one still runs; and a second slow request goes to the pool at
 * once (the first one's cost was learned). */
START_TEST(keepalive_not_stalled_by_slow_solve)
{
    const char *const args[] = {"--http-threads", "1", "--solve-timeout", "3", "--log-level",
                                "debug",          NULL};
    start(args);
    tu_conn *keep = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(keep);
    tu_response r;
    ck_assert_int_eq(tu_request(keep, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);

    char *body = slow_request();
    tu_conn *slow[2];
    for (int i = 0; i < 2; i++) {
        char id[64];
        snprintf(id, sizeof id, "X-Request-Id: slow-%d", i);
        const char *h[] = {"Content-Type: application/json", id, NULL};
        slow[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(slow[i]);
        double t0 = now_s();
        ck_assert_int_eq(
            tu_send(slow[i], "POST", "/v1/models/spiral/trajectory", h, body, strlen(body)), 0);
        if (i == 1) break;
        ck_assert_int_eq(tu_wait_log(&d, "event=trajectory_fallback request_id=slow-0", 30), 0);
        ck_assert_int_eq(tu_wait_log(&d, "event=trajectory_start request_id=slow-0 where=pool", 30),
                         0);

        ck_assert_int_eq(tu_request(keep, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        const char *small = "{\"y0\": [2.0, 0.0], \"t\": [0.5, 3.1, 0.2]}";
        ck_assert_int_eq(tu_request(keep, "POST", "/v1/models/spiral/trajectory", json_ct, small,
                                    strlen(small), &r),
                         0);
        json_decref(reply_json(&r, 200));
        tu_response_free(&r);
        if (slow_still_due(t0)) {
            ck_assert_msg(!tu_readable(slow[0], 0),
                          "the slow request answered before the small ones");
            ck_assert_int_eq(
                tu_log_count(&d, "event=trajectory_done request_id=slow-0 where=pool"), 0);
        }
        ck_assert_int_eq(tu_recv(slow[0], &r, 60), 0);
        ck_assert_msg(r.status == 200 || (r.status == 503 && strstr(r.body, "deadline_exceeded")),
                      "%d %s", r.status, r.body);
        tu_response_free(&r);
    }
    ck_assert_int_eq(tu_recv(slow[1], &r, 60), 0);
    ck_assert_msg(r.status == 200 || (r.status == 503 && strstr(r.body, "deadline_exceeded")),
                  "%d %s", r.status, r.body);
    tu_response_free(&r);
    ck_assert_int_eq(tu_log_count(&d, "event=trajectory_start request_id=slow-1 where=pool"), 1);
    ck_assert_int_eq(tu_log_count(&d, "request_id=slow-1 where=inline"), 0);
    for (int i = 0; i < 2; i++)
        tu_close(slow[i]);
    tu_close(keep);
    free(body);
    stop_ok();
}
END_TEST

/* An inline attempt that runs out of its budget (here 1 microsecond) moves
 * to the evaluation pool and answers there with the library's bits; the
 * next request like it goes to the pool at once. */
START_TEST(inline_budget_fallback)
{
    const char *const args[] = {"--inline-budget", "0.000001", "--log-level", "debug", NULL};
    start(args);
    char path[1024];
    model_def def;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_file_load(tu_source_path(path, sizeof path, "examples/spiral.json"),
                                        &def, &e) == ERR_OK,
                  "%s", e.message);
    ode_model *m = NULL;
    ck_assert_int_eq(ode_model_new(&m, &def, &e), ERR_OK);
    const double t[] = {0.5, 3.1, 0.2, 25.0, 0.5, -1.25, 7.0};
    const double y0[] = {2.0, 0.0};
    const char *req = "{\"y0\": [2.0, 0.0], \"t\": [0.5, 3.1, 0.2, 25.0, 0.5, -1.25, 7.0]}";
    compare_with_library(m, req, 1, y0, t, 7, NULL);
    ck_assert_int_eq(tu_log_count(&d, "event=trajectory_fallback"), 1);
    ck_assert_int_eq(tu_log_count(&d, "where=inline code=aborted"), 1);
    ck_assert_int_eq(tu_log_count(&d, "where=pool code=ok"), 1);
    compare_with_library(m, req, 1, y0, t, 7, NULL);
    ck_assert_int_eq(tu_log_count(&d, "event=trajectory_fallback"), 1);
    ck_assert_int_eq(tu_log_count(&d, "where=inline model="), 1); /* one attempt */
    ck_assert_int_eq(tu_log_count(&d, "where=pool code=ok"), 2);
    ode_model_free(m);
    model_def_free(&def);
    stop_ok();
}
END_TEST

/* Uploads racing for the same model each get their own version. */
START_TEST(concurrent_uploads_get_distinct_versions)
{
    start(NULL);
    enum { N = 8 };
    const char *doc = "{\"kind\": \"ode\", \"state_dim\": 1, \"vector_field\": {\"layers\": "
                      "[{\"weight\": [[-1.0]], \"bias\": [0.0]}]}}";
    tu_conn *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert_int_eq(
            tu_send(c[i], "POST", "/v1/models/raced/versions", json_ct, doc, strlen(doc)), 0);
    }
    int seen[N + 1] = {0};
    for (int i = 0; i < N; i++) {
        tu_response r;
        ck_assert_int_eq(tu_recv(c[i], &r, 60), 0);
        json_t *j = reply_json(&r, 201);
        int v = (int)json_number_value(json_object_get(j, "version"));
        ck_assert_msg(v >= 1 && v <= N && !seen[v], "version %d twice or out of range", v);
        seen[v] = 1;
        json_decref(j);
        tu_response_free(&r);
        tu_close(c[i]);
    }
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/v1/models/raced", NULL, NULL, &r), 0);
    json_t *j = reply_json(&r, 200);
    ck_assert_int_eq((int)json_number_value(json_object_get(j, "latest_version")), N);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "versions")), N);
    json_decref(j);
    tu_response_free(&r);
    stop_ok();
}
END_TEST

/* ---- README ---- */

/* Remove `key` wherever it occurs in v. */
static void drop_key(json_t *v, const char *key)
{
    if (json_is_object(v)) {
        json_object_del(v, key);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) drop_key(x, key);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            drop_key(json_array_get(v, i), key);
    }
}

/* The fenced block of `lang` after p: its text into a new string; *end
 * after it. NULL when there is none before the next marker. */
static char *fenced(const char *p, const char *lang, const char **end)
{
    char open[32];
    snprintf(open, sizeof open, "```%s\n", lang);
    const char *a = strstr(p, open), *next = strstr(p, "<!-- api-example");
    if (!a || (next && next < a)) return NULL;
    a += strlen(open);
    const char *b = strstr(a, "```");
    if (!b) return NULL;
    *end = b + 3;
    return strndup(a, (size_t)(b - a));
}

/* Replace every "localhost:8080" by the daemon's address. */
static char *retarget(const char *cmd, int port)
{
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    char *out = malloc(strlen(cmd) * 2 + 64), *o = out;
    for (const char *p = cmd; *p;) {
        if (strncmp(p, "localhost:8080", 14) == 0) {
            o += sprintf(o, "%s", addr);
            p += 14;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static char *run_shell(const char *cmd, int *status)
{
    char script[4096];
    snprintf(script, sizeof script, "cd '%s' && %s", tu_srcdir(), cmd);
    FILE *f = popen(script, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    size_t k;
    while ((k = fread(out + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    *status = pclose(f);
    return out;
}

/* `text` with every `from` replaced by `to`; malloc'd. */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to), n = 0;
    for (const char *p = text; (p = strstr(p, from)); p += nf)
        n++;
    char *out = malloc(strlen(text) + n * nt + 1), *o = out;
    for (const char *p = text; *p;) {
        if (strncmp(p, from, nf) == 0) {
            memcpy(o, to, nt);
            o += nt;
            p += nf;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* The README's token command (marked <!-- token-example -->), run as
 * written against the test's database and binary; its token goes into the
 * environment as TOKEN, which the examples that write send. */
static void readme_token(const char *readme)
{
    const char *p = strstr(readme, "<!-- token-example -->"), *end = NULL;
    ck_assert_msg(p != NULL, "README: no <!-- token-example --> block");
    char *cmd = fenced(p, "sh", &end);
    ck_assert_msg(cmd && strstr(cmd, "TOKEN=$(src/odeserved token create --db var/odeserve.db"),
                  "README: the token example changed form: %s", cmd ? cmd : "(none)");
    char bin[1024], real[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/src/odeserved", tu_builddir());
    ck_assert_ptr_nonnull(realpath(bin, real));
    char *a = replace_all(cmd, "src/odeserved", real);
    char *b = replace_all(a, "var/odeserve.db", d.db);
    size_t n = strlen(b) + 64;
    char *line = malloc(n);
    while (strlen(b) && b[strlen(b) - 1] == '\n')
        b[strlen(b) - 1] = '\0';
    snprintf(line, n, "%s 2>/dev/null && printf %%s \"$TOKEN\"", b);
    int st = 0;
    char *tok = run_shell(line, &st);
    ck_assert_msg(st == 0 && strncmp(tok, "ods_", 4) == 0, "README token example: %s -> %s", line,
                  tok);
    setenv("TOKEN", tok, 1);
    free(tok);
    free(line);
    free(b);
    free(a);
    free(cmd);
}

START_TEST(readme_examples_hold)
{
    int st = 0;
    free(run_shell("command -v curl >/dev/null", &st));
    if (st != 0) {
        fprintf(stderr, "check_serve: curl is not installed; README examples not run\n");
        return;
    }
    /* the loopback default (auth = writes), as `make run` has it */
    const char *const auth[] = {"--auth", "auto", NULL};
    start(auth);
    char path[1024];
    char *readme = tu_read_file(tu_source_path(path, sizeof path, "README.md"), NULL);
    ck_assert_ptr_nonnull(readme);
    readme_token(readme);
    int count = 0, exact = 0;
    for (const char *p = strstr(readme, "<!-- api-example"); p; p = strstr(p, "<!-- api-example")) {
        const char *close = strstr(p, "-->"), *end = NULL;
        ck_assert_ptr_nonnull(close);
        char opts[256];
        snprintf(opts, sizeof opts, "%.*s", (int)(close - p), p);
        p = close + 3;
        char *cmd = fenced(p, "sh", &end);
        ck_assert_msg(cmd != NULL, "README example %d: no ```sh block after the marker", count);
        p = end;
        char *want_text = fenced(p, "json", &end);
        ck_assert_msg(want_text != NULL, "README example %d: no ```json block after ```sh", count);
        p = end;
        char *live = retarget(cmd, d.port);
        char *out = run_shell(live, &st);
        ck_assert_msg(st == 0, "README example %d exited %d:\n%s", count, st, cmd);
        json_error_t je;
        json_t *want = json_loads(want_text, 0, &je), *got = json_loads(out, 0, &je);
        ck_assert_msg(want != NULL, "README example %d: its expected output is not JSON: %s", count,
                      want_text);
        ck_assert_msg(got != NULL, "README example %d printed no JSON:\n%s\n%s", count, cmd, out);
        /* "ignore=a,b": keys whose values change from run to run */
        const char *ign = strstr(opts, "ignore=");
        if (ign) {
            char keys[200], *save = NULL;
            sscanf(ign + 7, "%199[^ ]", keys);
            for (char *k = strtok_r(keys, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
                drop_key(want, k);
                drop_key(got, k);
            }
        }
        /* 1e-6: an adaptive solve's last digits move with the compiler's
         * flags (a ThreadSanitizer build differs at 1e-9); what the README
         * shows must hold, not its rounding noise */
        char why[1024];
        ck_assert_msg(apitest_match(want, got, 1e-6, why, sizeof why) &&
                          apitest_match(got, want, 1e-6, why, sizeof why),
                      "README example %d:\n%s\nprinted\n%s\n%s", count, cmd, out, why);
        /* "exact": no solve in it, so every number must be printed as the
         * README spells it, to the last digit (the shortest form) */
        if (strstr(opts, " exact")) {
            char **wt, **gt;
            double *wv, *gv;
            size_t nw = numbers_of(want_text, &wt, &wv), ng = numbers_of(out, &gt, &gv);
            ck_assert_msg(nw == ng, "README example %d: %zu numbers, printed %zu:\n%s", count, nw,
                          ng, out);
            for (size_t i = 0; i < nw; i++)
                ck_assert_msg(strcmp(wt[i], gt[i]) == 0,
                              "README example %d: number %zu is %s, printed %s:\n%s", count, i,
                              wt[i], gt[i], out);
            free_numbers(wt, wv, nw);
            free_numbers(gt, gv, ng);
            exact++;
        }
        json_decref(want);
        json_decref(got);
        free(out);
        free(live);
        free(want_text);
        free(cmd);
        count++;
    }
    ck_assert_int_ge(count, 5);
    ck_assert_int_ge(exact, 1);
    free(readme);
    stop_ok();
}
END_TEST

/* ---- inline solves under load ---- */

/* A few dozen evaluations: far under the busy share of the budget the
 * tests below give (inline_budget 1 s, so a slow or sanitised build still
 * runs them inline). */
static const char small_request[] = "{\"y0\": [0.5, 0.0], \"t\": [0.5, 1.1, 0.2, 1.5]}";

/* The "y" of a 200 reply, owned. */
static json_t *reply_y(const tu_response *r)
{
    json_t *j = reply_json(r, 200);
    json_t *y = json_incref(json_object_get(j, "y"));
    ck_assert_ptr_nonnull(y);
    json_decref(j);
    return y;
}

/* As many HTTP threads as CPUs: what lets the daemon solve inline under
 * load (app->inline_busy). */
static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* With a slow solve in flight on the pool (so every request arrives under
 * load), small requests sent at once on several connections are all solved
 * inline on the HTTP threads, several at a time, and answer the same
 * numbers as the same request solved on the evaluation pool. */
START_TEST(inline_under_load)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", online_cpus());
    const char *const args[] = {"--solve-timeout", "3",       "--inline-budget", "1",
                                "--http-threads",  threads,   "--log-level",     "debug",
                                NULL};
    start(args);
    char *body = slow_request();
    const char *hs[] = {"Content-Type: application/json", "X-Request-Id: slow-0", NULL};
    tu_conn *slow = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(slow);
    double t0 = now_s();
    ck_assert_int_eq(tu_send(slow, "POST", "/v1/models/spiral/trajectory", hs, body, strlen(body)),
                     0);
    ck_assert_int_eq(tu_wait_log(&d, "event=trajectory_start request_id=slow-0 where=pool", 30), 0);

    enum { N = 6 };
    tu_conn *c[N];
    for (int i = 0; i < N; i++) {
        char id[64];
        snprintf(id, sizeof id, "X-Request-Id: small-%d", i);
        const char *h[] = {"Content-Type: application/json", id, NULL};
        c[i] = tu_connect("127.0.0.1", d.port);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert_int_eq(tu_send(c[i], "POST", "/v1/models/spiral/trajectory", h, small_request,
                                 strlen(small_request)),
                         0);
    }
    json_t *y[N];
    for (int i = 0; i < N; i++) {
        tu_response r;
        ck_assert_int_eq(tu_recv(c[i], &r, 30), 0);
        y[i] = reply_y(&r);
        tu_response_free(&r);
        tu_close(c[i]);
        char needle[96];
        snprintf(needle, sizeof needle, "event=trajectory_done request_id=small-%d where=inline code=ok",
                 i);
        ck_assert_msg(tu_log_count(&d, needle) == 1, "small-%d did not run inline", i);
        snprintf(needle, sizeof needle, "request_id=small-%d where=pool", i);
        ck_assert_int_eq(tu_log_count(&d, needle), 0);
    }
    if (slow_still_due(t0))
        ck_assert_msg(!tu_readable(slow, 0), "the slow request answered before the small ones");
    tu_response r;
    ck_assert_int_eq(tu_recv(slow, &r, 60), 0);
    ck_assert_msg(r.status == 200 || (r.status == 503 && strstr(r.body, "deadline_exceeded")),
                  "%d %s", r.status, r.body);
    tu_response_free(&r);
    tu_close(slow);
    free(body);
    stop_ok();
    tu_daemon_cleanup(&d);

    /* the same request on the pool: the same numbers */
    start(pool_args);
    r = post("/v1/models/spiral/trajectory", small_request);
    json_t *pooled = reply_y(&r);
    tu_response_free(&r);
    ck_assert_int_eq(tu_log_count(&d, "where=pool code=ok"), 1);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(json_equal(y[i], pooled), "small-%d: inline and pooled answers differ", i);
        json_decref(y[i]);
    }
    json_decref(pooled);
    stop_ok();
}
END_TEST

/* Clients that keep every HTTP thread solving (more connections than
 * threads, each sending its next request as soon as the last is answered). */
typedef struct load_client {
    int port;
    atomic_int *stop;
    long ok, failed;
} load_client;

static void *load_client_run(void *arg)
{
    load_client *lc = arg;
    tu_conn *c = tu_connect("127.0.0.1", lc->port);
    while (c && !atomic_load(lc->stop)) {
        tu_response r;
        if (tu_request(c, "POST", "/v1/models/spiral/trajectory", json_ct, small_request,
                       strlen(small_request), &r) == 0 &&
            r.status == 200)
            lc->ok++;
        else
            lc->failed++;
        tu_response_free(&r);
    }
    if (!c) lc->failed++;
    tu_close(c);
    return NULL;
}

/* While every HTTP thread is busy solving inline, /healthz on a new
 * connection still answers, each time within a bound far above any
 * machine's noise (a correctness bound: no request waits for the load to
 * end; bench/bench_http.sh measures the latency). */
START_TEST(healthz_answers_while_http_threads_solve)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", online_cpus());
    const char *const args[] = {"--http-threads", threads, "--inline-budget", "1",
                                "--log-level",    "debug", NULL};
    start(args);
    enum { N = 8 };
    atomic_int stop = 0;
    load_client lc[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        lc[i] = (load_client){d.port, &stop, 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, load_client_run, &lc[i]), 0);
    }
    ck_assert_int_eq(tu_wait_log(&d, "where=inline code=ok", 30), 0);
    double worst = 0;
    for (int k = 0; k < 20; k++) {
        double t0 = now_s();
        tu_response r;
        ck_assert_int_eq(tu_http(d.port, "GET", "/healthz", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        tu_response_free(&r);
        double dt = now_s() - t0;
        if (dt > worst) worst = dt;
    }
    /* the load goes on until it has run more than N solves inline, however
     * few it got through during the probes on a loaded machine */
    ck_assert_int_gt(tu_wait_log_count(&d, "where=inline code=ok", N + 1, 60.0), N);
    atomic_store(&stop, 1);
    long ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(lc[i].failed == 0, "client %d: %ld failed requests", i, lc[i].failed);
        ok += lc[i].ok;
    }
    /* the load stops only after the probes: a probe waiting for it would
     * wait out tu_http's deadline; 10 s holds on a loaded sanitizer run */
    ck_assert_msg(worst < 10.0, "/healthz took %.3f s under load", worst);
    ck_assert_int_gt(ok, N);
    /* the load ran inline, several requests in flight at once */
    ck_assert_int_gt(tu_log_count(&d, "where=inline code=ok"), N);
    stop_ok();
}
END_TEST

/* ---- graceful activation ---- */

/* Version v of model "act" is y' = -k y with k = 1 for odd v, 2 for even:
 * y(1) = exp(-k) from y(0) = 1, so every answer says which version made it. */
static double act_k(int version)
{
    return version % 2 ? 1.0 : 2.0;
}

static void act_upload(int want_version)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"kind\": \"ode\", \"state_dim\": 1, \"vector_field\": {\"layers\": "
             "[{\"weight\": [[%.1f]], \"bias\": [0.0]}]}}",
             -act_k(want_version));
    tu_response r = post("/v1/models/act/versions", doc);
    json_t *j = reply_json(&r, 201);
    ck_assert_int_eq((int)json_number_value(json_object_get(j, "version")), want_version);
    json_decref(j);
    tu_response_free(&r);
}

static void act_request(const char *method, const char *path, const char *body, int status)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, method, path, json_ct, body, &r), 0);
    ck_assert_msg(r.status == status, "%s %s: status %d, want %d: %.300s", method, path, r.status,
                  status, r.body);
    tu_response_free(&r);
}

typedef struct act_client {
    int port;
    atomic_int *stop;
    long ok, failed, wrong;
    char first_failure[256];
} act_client;

static void *act_client_run(void *arg)
{
    static const char req[] = "{\"y0\": [1.0], \"t\": [1.0], \"version\": \"stable\", "
                              "\"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12}}";
    act_client *ac = arg;
    tu_conn *c = tu_connect("127.0.0.1", ac->port);
    while (c && !atomic_load(ac->stop)) {
        tu_response r;
        memset(&r, 0, sizeof r);
        int rc = tu_request(c, "POST", "/v1/models/act/trajectory", json_ct, req, strlen(req), &r);
        json_t *j = rc == 0 && r.status == 200 ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
        if (!j) {
            if (!ac->failed++)
                snprintf(ac->first_failure, sizeof ac->first_failure, "rc %d status %d: %.200s",
                         rc, r.status, r.body ? r.body : "");
        } else {
            int v = (int)json_integer_value(json_object_get(j, "version"));
            double y = json_number_value(
                json_array_get(json_array_get(json_object_get(j, "y"), 0), 0));
            if (v < 1 || fabs(y - exp(-act_k(v))) > 1e-7 * exp(-act_k(v))) {
                if (!ac->wrong++)
                    snprintf(ac->first_failure, sizeof ac->first_failure, "version %d, y %.17g",
                             v, y);
            }
            else
                ac->ok++;
            json_decref(j);
        }
        tu_response_free(&r);
        if (rc != 0) {
            tu_close(c);
            c = tu_connect("127.0.0.1", ac->port);
        }
    }
    tu_close(c);
    return NULL;
}

/* An alias moved, the version it named deleted, and new versions uploaded
 * while clients ask for the alias without pause: no request fails, and
 * every answer is exactly one whole version's (never a half-built model). */
START_TEST(alias_moves_under_load)
{
    start(NULL);
    act_upload(1);
    act_request("PUT", "/v1/models/act/aliases/stable", "{\"version\": 1}", 200);
    enum { N = 4, ROUNDS = 25 };
    atomic_int stop = 0;
    act_client ac[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ac[i] = (act_client){.port = d.port, .stop = &stop};
        ck_assert_int_eq(pthread_create(&th[i], NULL, act_client_run, &ac[i]), 0);
    }
    char path[64], body[64];
    for (int v = 2; v <= ROUNDS + 1; v++) {
        act_upload(v);
        snprintf(body, sizeof body, "{\"version\": %d}", v);
        act_request("PUT", "/v1/models/act/aliases/stable", body, 200);
        snprintf(path, sizeof path, "/v1/models/act/versions/%d", v - 1);
        act_request("DELETE", path, NULL, 200);
        usleep(20000);
    }
    atomic_store(&stop, 1);
    long ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(ac[i].failed == 0, "client %d: %ld failed, first: %s", i, ac[i].failed,
                      ac[i].first_failure);
        ck_assert_msg(ac[i].wrong == 0, "client %d: %ld answers from no whole version, first: %s",
                      i, ac[i].wrong, ac[i].first_failure);
        ok += ac[i].ok;
    }
    ck_assert_int_gt(ok, ROUNDS);
    /* the deleted versions are gone, the alias's is served */
    act_request("GET", "/v1/models/act/versions/1", NULL, 404);
    act_request("GET", "/v1/models/act/versions/stable", NULL, 200);
    stop_ok();
}
END_TEST

static Suite *serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 300);
    tcase_add_checked_fixture(c, NULL, cleanup);
    tcase_add_test(c, round_trip_is_exact);
    tcase_add_test(c, tree_replies_numbers_shortest);
    tcase_add_loop_test(c, http_equals_library, 0, 2);
    tcase_add_loop_test(c, request_stages_add_up, 0, 2);
    tcase_add_loop_test(c, cde_http_equals_library, 0, 2);
    tcase_add_test(c, readme_examples_hold);
    suite_add_tcase(s, c);
    TCase *l = tcase_create("limits");
    tcase_set_timeout(l, 300);
    tcase_add_checked_fixture(l, NULL, cleanup);
    tcase_add_test(l, slow_solves_do_not_stall_others);
    tcase_add_test(l, concurrent_uploads_get_distinct_versions);
    tcase_add_test(l, keepalive_not_stalled_by_slow_solve);
    tcase_add_test(l, inline_budget_fallback);
    tcase_add_test(l, inline_under_load);
    tcase_add_test(l, healthz_answers_while_http_threads_solve);
    tcase_add_test(l, alias_moves_under_load);
    suite_add_tcase(s, l);
    return s;
}

int main(void)
{
    return tu_suite_run(serve_suite());
}
