/* check_cnf_job: a cnf trained by flow matching and by maximum likelihood
 * through the real odeserved
 * (docs/cnf-training.md): a point set uploaded as CSV (?kind=points), a
 * job run to the end, its metrics (the training loss every iteration, the
 * held-out NLL every validation.every), the stored cnf version served by
 * POST /v1/models/{name}/log_prob, whose NLL on fresh points of the same
 * distribution agrees with the job's best held-out NLL (the stored
 * parameters are the best-validated ones, and serving computes the density
 * training validated with). Nothing here asserts on time. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobtest.h"
#include "testutil.h"

static const char *const csv_h[] = {"Content-Type: text/csv", NULL};

struct job_case {
    const char *objective; /* the document's "objective" */
    int iterations, every;
    const char *desc; /* a word the stored version's description holds */
};

static const struct job_case cases[] = {
    {"{\"loss\": \"flow_matching\", \"batch_size\": 64}", 600, 200, "flow-matching"},
    {"{\"loss\": \"max_likelihood\", \"batch_size\": 64}", 90, 30, "max-likelihood backprop"},
};

START_TEST(job_end_to_end)
{
    const struct job_case *jc = &cases[_i];
    char doc[1024];
    char path[4096];
    json_error_t je;
    json_t *fx = json_load_file(
        tu_source_path(path, sizeof path, "tests/fixtures/cnf_8gaussians.json"), 0, &je);
    ck_assert_msg(fx != NULL, "%s", je.text);
    /* the training points as CSV */
    json_t *train = json_object_get(fx, "train");
    size_t n = json_array_size(train), cap = 64 + n * 64, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv, cap, "x,y\n");
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(train, i);
        len += (size_t)snprintf(csv + len, cap - len, "%.17g,%.17g\n",
                                json_number_value(json_array_get(p, 0)),
                                json_number_value(json_array_get(p, 1)));
    }
    json_t *j = jt_req_h("POST", "/v1/datasets/eight?kind=points", csv_h, csv, 201);
    free(csv);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "points");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "points")), (json_int_t)n);
    json_decref(j);
    snprintf(doc, sizeof doc,
             "{\"model\": \"eight\", \"dataset\": \"eight\", \"seed\": 3, \"iterations\": %d,"
             " \"init\": {\"kind\": \"cnf\", \"dim\": 2,"
             "            \"vector_field\": {\"hidden\": [32, 32], \"activation\": \"tanh\"}},"
             " \"objective\": %s,"
             " \"optimizer\": {\"lr\": 0.005},"
             " \"validation\": {\"every\": %d, \"holdout_fraction\": 0.2},"
             " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-5, \"atol\": 1e-7}}",
             jc->iterations, jc->objective, jc->every);
    j = jt_req("POST", "/v1/jobs", doc, 202);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = jt_wait_done(id, 600);
    int v = (int)json_integer_value(json_object_get(j, "result_version"));
    ck_assert_int_ge(v, 1);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    json_t *m = jt_req("GET", path, NULL, 200);
    json_t *it = json_object_get(m, "iteration"), *tl = json_object_get(m, "train_loss"),
           *vl = json_object_get(m, "validation_loss");
    ck_assert_uint_eq(json_array_size(it), (size_t)jc->iterations);
    double best = INFINITY;
    for (size_t i = 0; i < (size_t)jc->iterations; i++) {
        ck_assert(json_is_number(json_array_get(tl, i)));
        const int due = (i + 1) % (size_t)jc->every == 0;
        ck_assert_msg(due ? json_is_number(json_array_get(vl, i)) : json_is_null(json_array_get(vl, i)),
                      "iteration %zu", i + 1);
        if (due && json_number_value(json_array_get(vl, i)) < best)
            best = json_number_value(json_array_get(vl, i));
    }
    json_decref(m);
    /* the stored version: a cnf, served */
    snprintf(path, sizeof path, "/v1/models/eight/versions/%d", v);
    j = jt_req("GET", path, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "cnf");
    const char *desc = json_string_value(json_object_get(j, "description"));
    ck_assert_msg(desc && strstr(desc, jc->desc), "%s", desc ? desc : "(none)");
    json_decref(j);
    json_t *x = json_pack("{s:O}", "x", json_object_get(fx, "fresh"));
    char *body = json_dumps(x, JSON_COMPACT);
    json_decref(x);
    j = jt_req("POST", "/v1/models/eight/log_prob", body, 200);
    free(body);
    json_t *lp = json_object_get(j, "log_prob");
    size_t nf = json_array_size(json_object_get(fx, "fresh"));
    ck_assert_uint_eq(json_array_size(lp), nf);
    double nll = 0;
    for (size_t i = 0; i < nf; i++)
        nll -= json_number_value(json_array_get(lp, i)) / (double)nf;
    json_decref(j);
    const double h = json_number_value(json_object_get(fx, "entropy_nats"));
    printf("cnf job (%s): best held-out NLL %.4f, served NLL of 1000 fresh points %.4f, entropy %.4f\n",
           jc->desc, best, nll, h);
    fflush(stdout);
    /* two estimates of one expectation from 800 and 1000 points: the
     * spread of -log p is about 1 nat, so their standard errors are
     * about 0.04; 0.25 is over 4 of them combined */
    ck_assert_msg(fabs(nll - best) < 0.25, "served %.4f vs held-out %.4f", nll, best);
    ck_assert(nll > h - 0.25); /* no density beats the truth by more than noise */
    json_decref(fx);
}
END_TEST

/* A max_likelihood job the decoder refuses is a 422 naming the field. */
START_TEST(max_likelihood_job_errors)
{
    static const char *const bad[][2] = {
        {"{\"loss\": \"max_likelihood\", \"trace\": \"hutchinson\", \"probes\": 0}",
         "objective.probes"},
        {"{\"loss\": \"max_likelihood\", \"trace\": \"sometimes\"}", "objective.trace"},
        {"{\"loss\": \"max_likelihood\", \"coupling\": \"ot\"}", "objective"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[1024];
        snprintf(doc, sizeof doc,
                 "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3,"
                 " \"init\": {\"kind\": \"cnf\", \"dim\": 2, \"vector_field\": {\"hidden\": [8]}},"
                 " \"objective\": %s}",
                 bad[i][0]);
        json_t *j = jt_req("POST", "/v1/jobs", doc, 422);
        const char *f = json_string_value(json_object_get(json_object_get(j, "error"), "field"));
        ck_assert_msg(f && strcmp(f, bad[i][1]) == 0, "case %zu: field %s", i, f ? f : "(none)");
        json_decref(j);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cnf_job");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, jt_setup, jt_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, job_end_to_end, 0, 2);
    tcase_add_test(tc, max_likelihood_job_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
