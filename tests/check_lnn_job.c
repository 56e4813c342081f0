/* check_lnn_job: a lagrangian model trained through the real odeserved
 * (docs/structured.md, "Training: lagrangian"): a job with
 * "init": {"kind": "lagrangian"} and the default objective (lnn) on the
 * exact harmonic oscillator q = r cos(t + a), dq/dt = -r sin(t + a)
 * (state-only rows, the spline rule) succeeds; the version it stores is a
 * lagrangian model that says what trained it; its trajectory from
 * (1, 0) follows cos t to 0.05 over t in [0, 3] and its energy (the reply's
 * energy, E = v dL/dv - L of the learned L) is conserved to 1e-6 relative
 * by dopri5 at rtol 1e-10. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobtest.h"
#include "testutil.h"

START_TEST(trains_oscillator)
{
    json_t *series = json_array();
    for (int s = 0; s < 4; s++) {
        const double r = 0.5 + 0.25 * s, a = s;
        json_t *t = json_array(), *y = json_array();
        for (int i = 0; i < 40; i++) {
            const double ti = 0.1 * i;
            json_array_append_new(t, json_real(ti));
            json_array_append_new(y, json_pack("[f,f]", r * cos(ti + a), -r * sin(ti + a)));
        }
        json_array_append_new(series, json_pack("{s:o,s:o}", "t", t, "y", y));
    }
    json_t *ds = json_pack("{s:o}", "series", series);
    char *text = json_dumps(ds, JSON_COMPACT);
    json_decref(ds);
    json_decref(jt_req("POST", "/v1/datasets/osc", text, 201));
    free(text);
    long long id = jt_submit(
        "{\"model\": \"osc-lnn\", \"dataset\": \"osc\", \"iterations\": 4000, \"seed\": 1,"
        " \"init\": {\"kind\": \"lagrangian\", \"dof\": 1,"
        "            \"lagrangian\": {\"hidden\": [16], \"activation\": \"softplus\"}},"
        " \"objective\": {\"derivatives\": \"spline\"}, \"optimizer\": {\"lr\": 0.01}}");
    const int v = jt_wait_version(id, 1200);
    char path[128];
    snprintf(path, sizeof path, "/v1/models/osc-lnn/versions/%d", v);
    json_t *j = jt_req("GET", path, NULL, 200);
    char *dump = json_dumps(j, JSON_COMPACT);
    ck_assert_msg(strstr(dump, "\"lagrangian\"") && strstr(dump, "lnn"), "%s", dump);
    free(dump);
    json_decref(j);
    j = jt_req("POST", "/v1/models/osc-lnn/trajectory",
            "{\"y0\": [1.0, 0.0], \"t\": [0, 0.5, 1, 1.5, 2, 2.5, 3],"
            " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-10, \"atol\": 1e-12}}",
            200);
    json_t *y = json_object_get(j, "y"), *en = json_object_get(j, "energy");
    ck_assert_uint_eq(json_array_size(y), 7);
    const double e0 = json_number_value(json_array_get(en, 0));
    double worst = 0, drift = 0;
    for (size_t k = 0; k < 7; k++) {
        const double q = json_number_value(json_array_get(json_array_get(y, k), 0));
        worst = fmax(worst, fabs(q - cos(0.5 * (double)k)));
        drift = fmax(drift, fabs(json_number_value(json_array_get(en, k)) - e0));
    }
    printf("lnn oscillator via the daemon: |q - cos t| <= %.3g, energy drift %.3g of %.3g\n",
           worst, drift, e0);
    fflush(stdout);
    ck_assert_msg(worst < 0.05, "trajectory error %g", worst);
    ck_assert_msg(drift <= 1e-6 * fmax(1e-3, fabs(e0)), "energy drift %g of %g", drift, e0);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lnn_job");
    TCase *tc = tcase_create("daemon");
    tcase_add_checked_fixture(tc, jt_setup, jt_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, trains_oscillator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
