/* check_sde_train: training an sde model through the real odeserved
 * (issue #25's acceptance test, docs/sde.md "Training"). The data are
 * examples/ou_sde (an Ornstein-Uhlenbeck process dX = A X dt + S dW sampled
 * at irregular times with its exact transitions by an independent SciPy
 * script, gen.py). A job with a linear drift and additive (time-only)
 * diffusion is uploaded, run and read back; the stored version's drift
 * matrix and noise scale must be within 10% (relative Frobenius error) of
 * A and S, and the 90% band the served model predicts (POST /trajectory,
 * 500 samples, quantiles 0.05 and 0.95, from each held-out observation's
 * predecessor at its time) must cover 88-92% of the held-out values
 * (ou_test.json: 50 series, 1000 transitions, 2000 values; for a band that
 * covers 90%, the count is Binomial(2000, 0.9), standard error 0.67%, so
 * 88-92% is +-3 standard errors). And the errors of sde jobs, each naming
 * its field. Nothing here asserts on time. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobtest.h"
#include "testutil.h"

static double num(json_t *a, size_t i)
{
    return json_number_value(json_array_get(a, i));
}

START_TEST(ou_drift_noise_and_band)
{
    jt_upload("/v1/datasets/ou", "examples/ou_sde/ou_train.json");
    long long id =
        jt_submit("{\"model\": \"ou\", \"dataset\": \"ou\", \"iterations\": 300, \"seed\": 5, "
               "\"init\": {\"kind\": \"sde\", \"state_dim\": 2, \"noise\": \"additive\", "
               "\"drift\": {\"layers\": [{\"out\": 2}]}, \"diffusion\": {\"constant\": true}}, "
               "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.05}, "
               "\"solver\": {\"method\": \"euler_maruyama\", \"step\": 0.02}}");
    json_t *j = jt_wait_done(id, 600);
    int v = (int)json_integer_value(json_object_get(j, "result_version"));
    ck_assert_int_ge(v, 1);
    json_decref(j);
    char path[96];
    snprintf(path, sizeof path, "/v1/models/ou/versions/%d", v);
    json_t *m = jt_req("GET", path, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(m, "kind")), "sde");
    json_t *solver = json_object_get(m, "solver");
    ck_assert_str_eq(json_string_value(json_object_get(solver, "method")), "euler_maruyama");
    ck_assert_double_eq(json_number_value(json_object_get(solver, "step")), 0.02);

    json_t *truth = jt_source_json("examples/ou_sde/truth.json");
    json_t *A = json_object_get(truth, "A"), *sig = json_object_get(truth, "sigma");
    json_t *fl = json_array_get(json_object_get(json_object_get(m, "drift"), "layers"), 0);
    json_t *W = json_object_get(fl, "weight");
    double num2 = 0, den2 = 0;
    for (size_t r = 0; r < 2; r++)
        for (size_t c = 0; c < 2; c++) {
            double a = num(json_array_get(A, r), c), w = num(json_array_get(W, r), c);
            num2 += (w - a) * (w - a);
            den2 += a * a;
        }
    const double drift_err = sqrt(num2 / den2);
    /* the diffusion g(t) = w t + b: the noise scale |g| over the data's times */
    json_t *gl = json_array_get(json_object_get(json_object_get(m, "diffusion"), "layers"), 0);
    json_t *gw = json_object_get(gl, "weight"), *gb = json_object_get(gl, "bias");
    double noise_err = 0;
    for (double t = 0; t <= 4.0; t += 2.0) {
        double n2 = 0, s2 = 0;
        for (size_t r = 0; r < 2; r++) {
            double g = fabs(num(json_array_get(gw, r), 0) * t + num(gb, r)), s = num(sig, r);
            n2 += (g - s) * (g - s);
            s2 += s * s;
        }
        if (sqrt(n2 / s2) > noise_err) noise_err = sqrt(n2 / s2);
    }
    fprintf(stderr,
            "sde ou: drift [[%.4f, %.4f], [%.4f, %.4f]], relative Frobenius error %.4f; "
            "diffusion %.4f t + %.4f, %.4f t + %.4f, relative error %.4f\n",
            num(json_array_get(W, 0), 0), num(json_array_get(W, 0), 1),
            num(json_array_get(W, 1), 0), num(json_array_get(W, 1), 1), drift_err,
            num(json_array_get(gw, 0), 0), num(gb, 0), num(json_array_get(gw, 1), 0), num(gb, 1),
            noise_err);
    ck_assert_msg(drift_err < 0.10, "drift error %g", drift_err);
    ck_assert_msg(noise_err < 0.10, "noise error %g", noise_err);

    json_t *test_doc = jt_source_json("examples/ou_sde/ou_test.json");
    json_t *test = json_object_get(test_doc, "series");
    size_t inside = 0, total = 0;
    for (size_t s = 0; s < json_array_size(test); s++) {
        json_t *x = json_array_get(test, s), *t = json_object_get(x, "t"),
               *y = json_object_get(x, "y");
        for (size_t i = 0; i + 1 < json_array_size(t); i++) {
            json_t *y0 = json_array_get(y, i), *y1 = json_array_get(y, i + 1);
            char body[512];
            snprintf(body, sizeof body,
                     "{\"y0\": [%.17g, %.17g], \"t0\": %.17g, \"t\": [%.17g], \"samples\": 500, "
                     "\"seed\": %zu, \"quantiles\": [0.05, 0.95]}",
                     num(y0, 0), num(y0, 1), num(t, i), num(t, i + 1), total);
            snprintf(path, sizeof path, "/v1/models/ou/trajectory");
            json_t *r = jt_req("POST", path, body, 200);
            json_t *q = json_object_get(r, "quantiles");
            json_t *lo = json_array_get(json_object_get(q, "0.05"), 0),
                   *hi = json_array_get(json_object_get(q, "0.95"), 0);
            for (size_t c = 0; c < 2; c++) {
                double yv = num(y1, c);
                inside += yv >= num(lo, c) && yv <= num(hi, c);
                total++;
            }
            json_decref(r);
        }
    }
    const double cover = (double)inside / (double)total;
    fprintf(stderr, "sde ou: 90%% band covers %zu of %zu held-out values (%.4f)\n", inside, total,
            cover);
    ck_assert_int_eq(total, 2000);
    ck_assert_msg(cover >= 0.88 && cover <= 0.92, "coverage %g", cover);
    json_decref(test_doc);
    json_decref(truth);
    json_decref(m);
}
END_TEST

static void expect_422(const char *body, const char *field)
{
    json_t *j = jt_req("POST", "/v1/jobs", body, 422);
    const char *f = json_string_value(json_object_get(json_object_get(j, "error"), "field"));
    ck_assert_msg(f && strcmp(f, field) == 0, "field %s, want %s: %s", f ? f : "(none)", field,
                  body);
    json_decref(j);
}

#define SDE_INIT(extra)                                                                            \
    "\"init\": {\"kind\": \"sde\", \"state_dim\": 2, \"drift\": {\"hidden\": [4]}, "               \
    "\"diffusion\": {\"hidden\": [4]}" extra "}"

START_TEST(sde_job_errors)
{
    jt_upload("/v1/datasets/ou", "examples/ou_sde/ou_train.json");
    json_decref(jt_req("POST", "/v1/datasets/three",
                    "{\"series\": [{\"t\": [0, 1], \"y\": [[1, 2, 3], [4, 5, 6]]}]}", 201));
    const char *step = ", \"solver\": {\"step\": 0.05}";
    char b[1024];
#define JOB(ds, init, rest)                                                                        \
    (snprintf(b, sizeof b, "{\"model\": \"e\", \"dataset\": \"%s\", \"iterations\": 2, %s%s}", ds, \
              init, rest),                                                                         \
     b)
    expect_422(JOB("three", SDE_INIT(""), step), "dataset");
    expect_422(JOB("ou", SDE_INIT(""), ""), "solver.step");
    expect_422(JOB("ou", SDE_INIT(""), ", \"solver\": {\"method\": \"milstein\", \"step\": 0.05}"),
               "solver.method");
    expect_422(JOB("ou", SDE_INIT(""), ", \"solver\": {\"method\": \"dopri5\", \"step\": 0.05}"),
               "solver.method");
    expect_422(JOB("ou", SDE_INIT(""), ", \"solver\": {\"step\": 0}"), "solver.step");
    expect_422(JOB("ou", SDE_INIT(", \"noise\": \"pink\""), step), "init.noise");
    expect_422(JOB("ou", SDE_INIT(", \"calculus\": \"backwards\""), step), "init.calculus");
    expect_422(JOB("ou", SDE_INIT(", \"calculus\": \"stratonovich\""), step), "init.calculus");
    expect_422(JOB("ou", SDE_INIT(", \"noise\": \"general\""), step), "init.brownian_dim");
    expect_422(JOB("ou", SDE_INIT(", \"brownian_dim\": 2"), step), "init.brownian_dim");
    expect_422(JOB("ou",
                   "\"init\": {\"kind\": \"sde\", \"state_dim\": 2, \"noise\": \"additive\", "
                   "\"drift\": {\"hidden\": [4]}, "
                   "\"diffusion\": {\"hidden\": [], \"time_input\": true}}",
                   step),
               "init.diffusion.time_input");
    expect_422(JOB("ou",
                   "\"init\": {\"kind\": \"sde\", \"state_dim\": 2, \"noise\": \"additive\", "
                   "\"drift\": {\"hidden\": [4]}, \"diffusion\": {\"constant\": false}}",
                   step),
               "init.diffusion.constant");
    expect_422(JOB("ou",
                   "\"init\": {\"kind\": \"sde\", \"state_dim\": 2, \"noise\": \"additive\", "
                   "\"drift\": {\"hidden\": [4]}, "
                   "\"diffusion\": {\"constant\": true, \"hidden\": [3]}}",
                   step),
               "init.diffusion.hidden");
    expect_422(JOB("ou",
                   "\"init\": {\"kind\": \"sde\", \"state_dim\": 2, "
                   "\"drift\": {\"hidden\": [4]}, \"diffusion\": {\"constant\": true}}",
                   step),
               "init.diffusion.constant");
    expect_422(JOB("ou", "\"init\": {\"kind\": \"sde\", \"state_dim\": 2}", step), "init.drift");
    expect_422(JOB("ou", SDE_INIT(""),
                   ", \"solver\": {\"step\": 0.05}, \"objective\": "
                   "{\"batch_time\": 3}"),
               "objective.batch_time");
    expect_422(JOB("ou", SDE_INIT(""),
                   ", \"solver\": {\"step\": 0.05}, \"objective\": "
                   "{\"loss\": \"l1\"}"),
               "objective.loss");
    /* an sde method or a step in an ode job */
    const char *ode = "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}";
    expect_422(JOB("ou", ode, ", \"solver\": {\"method\": \"euler_maruyama\"}"), "solver.method");
    expect_422(JOB("ou", ode, step), "solver.step");
    /* a warm start from a stored sde version: the data checks name from_version */
    char path[4096];
    char *doc = tu_read_file(tu_source_path(path, sizeof path, "examples/sde-demo.json"), NULL);
    ck_assert_ptr_nonnull(doc);
    json_decref(jt_req("POST", "/v1/models/demo/versions", doc, 201));
    free(doc);
    expect_422("{\"model\": \"demo\", \"dataset\": \"three\", \"iterations\": 2, "
               "\"from_version\": 1, \"solver\": {\"step\": 0.05}}",
               "dataset");
    /* and a good one runs to a new version served with the job's step */
    long long id = jt_submit("{\"model\": \"demo\", \"dataset\": \"ou\", \"iterations\": 2, "
                          "\"from_version\": 1, \"solver\": {\"step\": 0.05}}");
    json_t *j = jt_wait_done(id, 600);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 2);
    json_decref(j);
    json_t *m = jt_req("GET", "/v1/models/demo/versions/2", NULL, 200);
    ck_assert_double_eq(json_number_value(json_object_get(json_object_get(m, "solver"), "step")),
                        0.05);
    json_decref(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sde_train");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, jt_setup, jt_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, ou_drift_noise_and_band);
    tcase_add_test(tc, sde_job_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
