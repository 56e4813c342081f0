/* check_cnf_serve: a cnf model served by the real daemon (docs/cnf.md).
 *
 *   round trip   examples/cnf-demo.json uploaded, exported, uploaded again
 *                and exported: the same bytes, and the same after a restart
 *                (the base survives the store);
 *   library      log_prob and sample over HTTP are the library's numbers
 *                (cnf_model on the decoded document), bit for bit;
 *   consistency  sample's own log-densities equal log_prob of its samples;
 *                a seed reproduces its samples; Hutchinson replies carry a
 *                standard error. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apitest.h"
#include "codec/codec_model.h"
#include "model/cnf_model.h"

static tu_daemon d;
static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static json_t *call(const char *method, const char *path, const char *body, int status)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, method, path, body ? json_ct : NULL, body, &r), 0);
    ck_assert_msg(r.status == status, "%s %s: status %d, want %d: %.400s", method, path, r.status,
                  status, r.body);
    json_error_t je;
    json_t *j = json_loadb(r.body, r.body_len, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %.200s", r.body);
    tu_response_free(&r);
    return j;
}

static char *export_text(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s/versions/1", name);
    tu_response r;
    if (tu_http(d.port, "GET", path, NULL, NULL, &r) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("export %s: no reply; daemon log:\n%s", path, log ? log : "(none)");
    }
    ck_assert_msg(r.status == 200, "export %s: %d %s", path, r.status, r.body);
    char *text = strdup(r.body);
    tu_response_free(&r);
    return text;
}

static char *demo_text(void)
{
    char path[1024];
    char *text = tu_read_file(tu_source_path(path, sizeof path, "examples/cnf-demo.json"), NULL);
    ck_assert_ptr_nonnull(text);
    return text;
}

static cnf_model *demo_model(void)
{
    char *text = demo_text();
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    ck_assert_ptr_nonnull(doc);
    model_def def;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(doc, &def, &e) == ERR_OK, "%s: %s", e.field, e.message);
    cnf_model *m = NULL;
    ck_assert(cnf_model_new(&m, &def, &e) == ERR_OK);
    model_def_free(&def);
    json_decref(doc);
    free(text);
    return m;
}

static double num_at(const json_t *a, size_t i)
{
    const json_t *v = json_array_get(a, i);
    ck_assert_msg(json_is_number(v), "item %zu is not a number", i);
    return json_number_value(v);
}

START_TEST(test_round_trip)
{
    ck_assert_int_eq(apitest_start(&d, NULL), 0);
    char *text = demo_text();
    json_decref(call("POST", "/v1/models/flow/versions", text, 201));
    char *e1 = export_text("flow");
    json_decref(call("POST", "/v1/models/flow2/versions", e1, 201));
    char *e2 = export_text("flow2");
    ck_assert_str_eq(e1, e2);
    ck_assert_msg(strstr(e1, "\"kind\":\"cnf\"") && strstr(e1, "\"base\":{\"mean\":[0.0,0.0]"),
                  "export lacks kind or base: %.200s", e1);
    ck_assert_int_eq(apitest_stop(&d), 0);
    /* the same database after a restart (a fresh log: the start waits for its listening line) */
    ck_assert_int_eq(tu_write_file(d.log, ""), 0);
    const char *args[] = {NULL};
    ck_assert_int_eq(tu_daemon_start(&d, args, NULL), 0);
    char *e3 = export_text("flow");
    ck_assert_str_eq(e1, e3);
    ck_assert_int_eq(apitest_stop(&d), 0);
    free(text);
    free(e1);
    free(e2);
    free(e3);
    tu_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_http_equals_library)
{
    ck_assert_int_eq(apitest_start(&d, NULL), 0);
    char *text = demo_text();
    json_decref(call("POST", "/v1/models/flow/versions", text, 201));
    free(text);
    cnf_model *m = demo_model();
    const double x[4][2] = {{0.1, -0.4}, {1.5, 0.3}, {-2.0, 2.0}, {0.0, 0.0}};
    json_t *rep = call("POST", "/v1/models/flow/log_prob",
                       "{\"x\": [[0.1, -0.4], [1.5, 0.3], [-2.0, 2.0], [0.0, 0.0]]}", 200);
    double lp[4];
    err e;
    err_clear(&e);
    struct cnf_logp_query q = {.n = 4, .x = &x[0][0]};
    ck_assert(cnf_model_log_prob(m, &q, lp, NULL, NULL, NULL, &e) == ERR_OK);
    const json_t *got = json_object_get(rep, "log_prob");
    for (size_t i = 0; i < 4; i++) {
        ck_assert_msg(num_at(got, i) == lp[i], "point %zu: %.17g vs %.17g", i, num_at(got, i), lp[i]);
        ck_assert(isfinite(lp[i]) && lp[i] < 0);
    }
    ck_assert_str_eq(json_string_value(json_object_get(rep, "trace")), "exact");
    ck_assert_ptr_null(json_object_get(rep, "stderr"));
    json_decref(rep);

    /* sample with a seed: the library's draws and map, and reproducible */
    rep = call("POST", "/v1/models/flow/sample", "{\"n\": 3, \"seed\": 42, \"log_prob\": true, "
               "\"t\": [0.5]}", 200);
    json_t *again = call("POST", "/v1/models/flow/sample",
                         "{\"n\": 3, \"seed\": 42, \"log_prob\": true, \"t\": [0.5]}", 200);
    ck_assert(json_equal(json_object_get(rep, "x"), json_object_get(again, "x")));
    json_decref(again);
    double xs[6], path[6], slp[3];
    struct cnf_sample_query sq = {.n = 3, .seed = 42, .t = (const double[]){0.5}, .n_t = 1,
                                  .log_prob = true};
    ck_assert(cnf_model_sample(m, &sq, xs, path, slp, NULL, NULL, &e) == ERR_OK);
    const json_t *gx = json_object_get(rep, "x"), *gp = json_object_get(rep, "path");
    for (size_t b = 0; b < 3; b++) {
        ck_assert(num_at(json_object_get(rep, "log_prob"), b) == slp[b]);
        for (size_t i = 0; i < 2; i++) {
            ck_assert(num_at(json_array_get(gx, b), i) == xs[b * 2 + i]);
            ck_assert(num_at(json_array_get(json_array_get(gp, b), 0), i) == path[b * 2 + i]);
        }
    }
    ck_assert_int_eq((int)json_integer_value(json_object_get(rep, "seed")), 42);

    /* log_prob of the samples, at a tight tolerance, is sample's log-density */
    char body[512];
    snprintf(body, sizeof body,
             "{\"x\": [[%.17g, %.17g], [%.17g, %.17g], [%.17g, %.17g]], "
             "\"solver\": {\"rtol\": 1e-10, \"atol\": 1e-10}}",
             xs[0], xs[1], xs[2], xs[3], xs[4], xs[5]);
    json_decref(rep);
    rep = call("POST", "/v1/models/flow/sample",
               "{\"n\": 3, \"seed\": 42, \"log_prob\": true, \"solver\": {\"rtol\": 1e-10, "
               "\"atol\": 1e-10}}", 200);
    json_t *back = call("POST", "/v1/models/flow/log_prob", body, 200);
    for (size_t b = 0; b < 3; b++) {
        double a = num_at(json_object_get(rep, "log_prob"), b),
               c = num_at(json_object_get(back, "log_prob"), b);
        ck_assert_msg(fabs(a - c) < 1e-5, "point %zu: sample %.12g, log_prob %.12g", b, a, c);
    }
    json_decref(back);
    json_decref(rep);

    /* Hutchinson: a standard error per point, finite with 8 probes */
    rep = call("POST", "/v1/models/flow/log_prob",
               "{\"x\": [[0.1, -0.4]], \"trace\": \"hutchinson\", \"probes\": 8, \"seed\": 5}", 200);
    const json_t *se = json_object_get(rep, "stderr");
    ck_assert_msg(json_is_array(se) && num_at(se, 0) >= 0, "no stderr");
    ck_assert_msg(fabs(num_at(json_object_get(rep, "log_prob"), 0) - lp[0]) < 6 * num_at(se, 0) + 1e-4,
                  "hutchinson %.8g exact %.8g se %.3g", num_at(json_object_get(rep, "log_prob"), 0),
                  lp[0], num_at(se, 0));
    json_decref(rep);
    /* one probe: the standard error is unknown (null) */
    rep = call("POST", "/v1/models/flow/log_prob",
               "{\"x\": [[0.1, -0.4]], \"trace\": \"hutchinson\", \"seed\": 5}", 200);
    ck_assert(json_is_null(json_array_get(json_object_get(rep, "stderr"), 0)));
    json_decref(rep);
    cnf_model_free(m);
    ck_assert_int_eq(apitest_stop(&d), 0);
    tu_daemon_cleanup(&d);
}
END_TEST

static Suite *cnf_serve_suite(void)
{
    Suite *s = suite_create("cnf_serve");
    TCase *tc = tcase_create("serve");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_http_equals_library);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(cnf_serve_suite());
}
