/* check_hybrid_job: a hybrid model trained through the real odeserved
 * (docs/hybrid.md, "Training"): the damped pendulum's three noiseless
 * series at irregular times (tests/fixtures/hybrid_train.json, SciPy) are
 * uploaded as a dataset; a job with "init": {"kind": "hybrid"} starting
 * ~29% off a and c succeeds; the version it stores holds a and c within 1%
 * of the truth, serves trajectories, and its exported document round-trips
 * to the same bytes; the job's metrics carry a and c at every iteration,
 * the last ones the stored values; a job from that version continues it
 * (its metrics name the version's parameters). The init's refusals come back as 422
 * naming the field (trainable[i], bounds.c) and the daemon keeps serving. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobtest.h"
#include "testutil.h"

/* The reply's body text (malloc'd) after checking its status. */

#define INIT_HEAD                                                                                  \
    "\"init\": {\"kind\": \"hybrid\", \"state_dim\": 2, \"state_names\": [\"theta\", \"omega\"],"  \
    " \"equations\": [\"omega\", \"-a*sin(theta) - c*omega\"],"

static void expect_422(const char *body, const char *field)
{
    json_t *j = jt_req("POST", "/v1/jobs", body, 422);
    const char *f = json_string_value(json_object_get(json_object_get(j, "error"), "field"));
    ck_assert_msg(f && strcmp(f, field) == 0, "field %s, want %s", f ? f : "(none)", field);
    json_decref(j);
}

START_TEST(fits_pendulum)
{
    char path[4096];
    json_error_t je;
    json_t *fx =
        json_load_file(tu_source_path(path, sizeof path, "tests/fixtures/hybrid_train.json"), 0, &je);
    ck_assert_msg(fx, "%s", je.text);
    const json_t *pd = json_object_get(fx, "pendulum"), *truth = json_object_get(pd, "truth");
    const double a = json_number_value(json_object_get(truth, "a"));
    const double c = json_number_value(json_object_get(truth, "c"));
    json_t *ds = json_pack("{s:O}", "series", json_object_get(pd, "series"));
    char *text = json_dumps(ds, JSON_COMPACT);
    json_decref(ds);
    json_decref(jt_req("POST", "/v1/datasets/pend", text, 201));
    free(text);

    /* refusals first: the daemon answers them and keeps serving */
    expect_422("{\"model\": \"pend\", \"dataset\": \"pend\", \"iterations\": 10, " INIT_HEAD
               " \"parameters\": {\"a\": 5, \"c\": 0.3}, \"trainable\": [\"a\", \"g\"]}}",
               "init.trainable[1]");
    expect_422("{\"model\": \"pend\", \"dataset\": \"pend\", \"iterations\": 10, " INIT_HEAD
               " \"parameters\": {\"a\": 5, \"c\": 0.3}, \"trainable\": [\"a\", \"c\"],"
               " \"bounds\": {\"c\": [0.5, 1]}}}",
               "init.bounds.c");

    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\": \"pend\", \"dataset\": \"pend\", \"iterations\": 300, \"seed\": 1, " INIT_HEAD
             " \"parameters\": {\"a\": %.17g, \"c\": %.17g}, \"trainable\": [\"a\", \"c\"],"
             " \"bounds\": {\"c\": [0, null]}},"
             " \"objective\": {\"batch_time\": 4}, \"optimizer\": {\"name\": \"adam\", \"lr\": 0.03},"
             " \"gradient\": \"backprop\","
             " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-8, \"atol\": 1e-10}}",
             0.71 * a, 1.29 * c);
    json_t *j = jt_req("POST", "/v1/jobs", body, 202);
    const long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    const int v = jt_wait_version(id, 1200);

    /* the stored version: the fitted constants, its bounds and trainable kept */
    snprintf(path, sizeof path, "/v1/models/pend/versions/%d", v);
    char *doc = jt_req_text("GET", path, NULL, 200);
    j = json_loads(doc, 0, &je);
    ck_assert_msg(j, "%s", doc);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "hybrid");
    const json_t *pars = json_object_get(j, "parameters");
    const double fa = json_number_value(json_object_get(pars, "a"));
    const double fc = json_number_value(json_object_get(pars, "c"));
    printf("pendulum via the daemon: a %.6g (truth %g), c %.6g (truth %g)\n", fa, a, fc, c);
    fflush(stdout);
    ck_assert_msg(fabs(fa - a) <= 0.01 * a, "a = %g, truth %g", fa, a);
    ck_assert_msg(fabs(fc - c) <= 0.01 * c, "c = %g, truth %g", fc, c);
    ck_assert(json_object_get(json_object_get(j, "bounds"), "c"));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "trainable")), 2);
    json_decref(j);

    /* the export round-trips: uploaded again and exported, the same bytes */
    j = jt_req("POST", "/v1/models/pend2/versions", doc, 201);
    json_decref(j);
    char *doc2 = jt_req_text("GET", "/v1/models/pend2/versions/1", NULL, 200);
    ck_assert_str_eq(doc2, doc);
    free(doc2);
    free(doc);

    /* it serves */
    j = jt_req("POST", "/v1/models/pend/trajectory", "{\"y0\": [1.0, 0.0], \"t\": [0, 1, 2]}", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "y")), 3);
    json_decref(j);

    /* the metrics: a and c at every iteration, the last the stored ones
     * (no validation: the result is the last iterate) */
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    j = jt_req("GET", path, NULL, 200);
    const json_t *it = json_object_get(j, "iteration"), *mp = json_object_get(j, "parameters");
    const json_t *ma = json_object_get(mp, "a"), *mc = json_object_get(mp, "c");
    ck_assert_uint_eq(json_array_size(it), 300);
    ck_assert_uint_eq(json_array_size(ma), 300);
    ck_assert_uint_eq(json_array_size(mc), 300);
    ck_assert_double_eq(json_number_value(json_array_get(ma, 299)), fa);
    ck_assert_double_eq(json_number_value(json_array_get(mc, 299)), fc);
    ck_assert_msg(fabs(json_number_value(json_array_get(ma, 0)) - 0.71 * a) < 0.1,
                  "a after iteration 1: %g", json_number_value(json_array_get(ma, 0)));
    json_decref(j);

    /* continuing from the stored version: its parameter names come from it */
    snprintf(body, sizeof body,
             "{\"model\": \"pend\", \"dataset\": \"pend\", \"iterations\": 5, \"from_version\": %d,"
             " \"objective\": {\"batch_time\": 4}, \"optimizer\": {\"name\": \"adam\", \"lr\": 1e-4},"
             " \"gradient\": \"adjoint\"}",
             v);
    j = jt_req("POST", "/v1/jobs", body, 202);
    const long long id2 = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    ck_assert_int_eq(jt_wait_version(id2, 1200), v + 1);
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id2);
    j = jt_req("GET", path, NULL, 200);
    ma = json_object_get(json_object_get(j, "parameters"), "a");
    ck_assert_uint_eq(json_array_size(ma), 5);
    ck_assert_msg(fabs(json_number_value(json_array_get(ma, 4)) - fa) < 0.01,
                  "a after the continuation: %g", json_number_value(json_array_get(ma, 4)));
    json_decref(j);
    json_decref(fx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hybrid_job");
    TCase *tc = tcase_create("daemon");
    tcase_add_checked_fixture(tc, jt_setup, jt_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, fits_pendulum);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
