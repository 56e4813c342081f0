/* check_jobs: datasets and training jobs through the real odeserved
 * (tests/testutil.c): uploads and their 4xx errors, a job that trains to
 * a new model version, a job that fails (solver) without touching the
 * model, cancelling, and kill -9 in the middle of a job: after a restart
 * the job resumes from its last checkpoint and finishes, and its loss
 * curve has every iteration exactly once. Jobs are tiny (a 2-state ODE,
 * a 4-unit hidden layer, windows of 3 points) so the suite stays fast,
 * also under ASan. Neural CDE jobs: classification of spirals turning one
 * way or the other (irregular, partly missing samples; torchcde's example)
 * reaching high accuracy on fresh series served from the stored version,
 * with both gradients, and a regression (mse) against vector labels.
 * Nothing here asserts on time. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static tu_daemon d;
static const char *const json_h[] = {"Content-Type: application/json", NULL};
static const char *const csv_h[] = {"Content-Type: text/csv", NULL};

static void start(const char *const *args)
{
    if (tu_daemon_start(&d, args, NULL) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

static void setup(void)
{
    memset(&d, 0, sizeof d);
}

static void teardown(void)
{
    tu_daemon_cleanup(&d);
}

static json_t *req(const char *method, const char *path, const char *const *h, const char *body,
                   int want)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, method, path, h, body, &r), 0);
    ck_assert_msg(r.status == want, "%s %s: status %d, want %d: %s", method, path, r.status, want,
                  r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", r.body);
    tu_response_free(&r);
    return j;
}

static void expect_field(json_t *j, const char *field)
{
    json_t *e = json_object_get(j, "error");
    ck_assert_ptr_nonnull(e);
    const char *f = json_string_value(json_object_get(e, "field"));
    ck_assert_msg(f && strcmp(f, field) == 0, "field %s, want %s (%s)", f ? f : "(none)", field,
                  json_string_value(json_object_get(e, "message")));
    json_decref(j);
}

/* A circle: y = (cos t, sin t) at 12 times. */
static void upload_circle(const char *name)
{
    char body[2048] = "series,t,a,b\n";
    for (int i = 0; i < 12; i++) {
        char line[96];
        double t = 0.1 * i;
        snprintf(line, sizeof line, "s,%.3f,%.6f,%.6f\n", t, 1 - t * t / 2, t - t * t * t / 6);
        strcat(body, line);
    }
    char path[96];
    snprintf(path, sizeof path, "/v1/datasets/%s", name);
    json_decref(req("POST", path, csv_h, body, 201));
}

static long long submit(const char *extra, long iterations)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": %ld, \"seed\": 3, "
             "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}, "
             "\"objective\": {\"loss\": \"l1\", \"batch_time\": 3, \"batch_size\": 2}, "
             "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.01}%s}",
             iterations, extra);
    json_t *j = req("POST", "/v1/jobs", json_h, body, 202);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "queued");
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

static json_t *job(long long id)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", id);
    return req("GET", path, NULL, NULL, 200);
}

/* Poll until the job's status is `want` (or, with want NULL, until its
 * checkpointed iteration reaches min_iter); the final document. */
static json_t *wait_job(long long id, const char *want, long min_iter)
{
    for (int i = 0; i < 6000; i++) {
        json_t *j = job(id);
        const char *st = json_string_value(json_object_get(j, "status"));
        if (want && strcmp(st, want) == 0) return j;
        if (!want && json_integer_value(json_object_get(j, "iteration")) >= min_iter) return j;
        if (want && (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
                     strcmp(st, "cancelled") == 0))
            ck_abort_msg("job %lld ended %s, want %s: %s", id, st, want,
                         json_string_value(json_object_get(j, "error")));
        json_decref(j);
        usleep(20000);
    }
    ck_abort_msg("job %lld: timed out", id);
    return NULL;
}

START_TEST(datasets_over_http)
{
    start(NULL);
    json_t *j = req("POST", "/v1/datasets/obs", json_h,
                    "{\"series\": [{\"t\": [0, 1], \"y\": [[1, null], [2, 3]]}]}", 201);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "points")), 2);
    ck_assert(json_real_value(json_object_get(j, "missing_fraction")) == 0.25);
    json_decref(j);
    j = req("GET", "/v1/datasets/obs", NULL, NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "channels")), 2);
    json_decref(j);
    expect_field(req("POST", "/v1/datasets/bad", json_h,
                     "{\"series\": [{\"t\": [0, 1], \"y\": [[1, 2], [3]]}]}", 422),
                 "series[0].y[1]");
    expect_field(req("POST", "/v1/datasets/bad", csv_h, "series,t,a\ns,0,1\ns,zz,2\n", 422),
                 "line[3].t");
    expect_field(req("POST", "/v1/datasets/obs", json_h,
                     "{\"series\": [{\"t\": [0], \"y\": [[1, 2]]}]}", 409),
                 "name");
    json_decref(req("POST", "/v1/datasets/x",
                    (const char *const[]){"Content-Type: text/plain", NULL}, "a", 415));
    j = req("GET", "/v1/datasets", NULL, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "datasets")),
                     1); /* nothing from the rejects */
    json_decref(j);
    json_decref(req("DELETE", "/v1/datasets/obs", NULL, NULL, 200));
    json_decref(req("GET", "/v1/datasets/obs", NULL, NULL, 404));
}
END_TEST

START_TEST(job_trains_a_new_version)
{
    start(NULL);
    upload_circle("circle");
    long long id = submit(", \"validation\": {\"every\": 5}, \"gradient\": \"backprop\"", 40);
    json_t *j = wait_job(id, "succeeded", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "iteration")), 40);
    ck_assert(json_is_real(json_object_get(j, "best_validation_loss")));
    json_decref(j);
    j = req("GET", "/v1/models/m", NULL, NULL, 200);
    const char *desc = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "versions"), 0), "description"));
    char want[64];
    snprintf(want, sizeof want, "job %lld", id);
    ck_assert_msg(desc && strstr(desc, want), "description: %s", desc ? desc : "(none)");
    json_decref(j);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    j = req("GET", path, NULL, NULL, 200);
    json_t *it = json_object_get(j, "iteration");
    ck_assert_int_eq(json_array_size(it), 40);
    for (size_t i = 0; i < 40; i++)
        ck_assert_int_eq(json_integer_value(json_array_get(it, i)), (long)i + 1);
    ck_assert(json_is_real(json_array_get(json_object_get(j, "validation_loss"), 4)));
    ck_assert(json_is_null(json_array_get(json_object_get(j, "validation_loss"), 0)));
    json_decref(j);
    j = req("GET", "/v1/jobs?status=succeeded", NULL, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 1);
    json_decref(j);
    j = req("GET", "/v1/jobs?status=queued", NULL, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 0);
    json_decref(j);
}
END_TEST

/* The gradient methods of issue 23 train too: adjoint_checkpointed, and
 * reversible with its fixed step; both end with a new version and a finite
 * loss curve whose first value (before any update: the same seed, the
 * same forward) matches the plain adjoint's to the solver's tolerance. */
START_TEST(jobs_with_new_gradients)
{
    start(NULL);
    upload_circle("circle");
    const char *extra[3] = {", \"gradient\": \"adjoint\"",
                            ", \"gradient\": \"adjoint_checkpointed\"",
                            ", \"gradient\": \"reversible\", \"solver\": {\"step\": 0.02}"};
    double first[3];
    for (int k = 0; k < 3; k++) {
        long long id = submit(extra[k], 10);
        json_decref(wait_job(id, "succeeded", 0));
        char path[64];
        snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
        json_t *j = req("GET", path, NULL, NULL, 200);
        json_t *loss = json_object_get(j, "train_loss");
        ck_assert_int_eq(json_array_size(loss), 10);
        for (size_t i = 0; i < 10; i++)
            ck_assert(isfinite(json_real_value(json_array_get(loss, i))));
        first[k] = json_real_value(json_array_get(loss, 0));
        json_decref(j);
    }
    ck_assert_msg(fabs(first[1] - first[0]) <= 1e-12 * fabs(first[0]), "%.17g vs %.17g", first[1],
                  first[0]);
    /* reversible Heun at step 0.02 is another discretisation: close, not equal */
    ck_assert_msg(fabs(first[2] - first[0]) <= 1e-3 * fabs(first[0]), "%.17g vs %.17g", first[2],
                  first[0]);
}
END_TEST

START_TEST(bad_jobs_are_4xx)
{
    start(NULL);
    upload_circle("circle");
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": 5, \"init\": "
                     "{\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}, \"optimizer\": "
                     "{\"lr\": -1}}",
                     422),
                 "optimizer.lr");
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"m\", \"dataset\": \"nope\", \"iterations\": 5, \"init\": "
                     "{\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}}",
                     404),
                 "dataset");
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": 5}", 422),
                 "init");
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": 5, \"init\": "
                     "{\"kind\": \"ode\", \"state_dim\": 2, \"layers\": [{\"out\": 4, "
                     "\"activation\": \"nope\"}]}}",
                     422),
                 "init.layers[0]");
    json_decref(req("GET", "/v1/jobs/99", NULL, NULL, 404));
    json_decref(req("GET", "/v1/jobs?status=sleeping", NULL, NULL, 422));
}
END_TEST

START_TEST(failed_job_leaves_the_model_alone)
{
    start(NULL);
    upload_circle("circle");
    long long id = submit(", \"solver\": {\"max_steps\": 1}", 10);
    json_t *j = wait_job(id, "failed", 0);
    const char *why = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(why && strstr(why, "max_steps"), "error: %s", why ? why : "(none)");
    ck_assert(json_is_null(json_object_get(j, "result_version")));
    json_decref(j);
    json_decref(req("GET", "/v1/models/m", NULL, NULL, 404));
}
END_TEST

/* A job that fails after some iterations keeps the loss curve up to the
 * failure (the curve that shows why it failed), and its progress, though
 * no periodic checkpoint fell in between: the rows are written before the
 * job is marked failed. A learning rate of 1000 makes the field stiff
 * within two steps, so the third solve runs into max_steps. */
START_TEST(failed_job_keeps_its_loss_curve)
{
    start(NULL);
    upload_circle("circle");
    const char *body =
        "{\"model\": \"m\", \"dataset\": \"circle\", \"iterations\": 50, \"seed\": 3, "
        "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4]}, "
        "\"objective\": {\"loss\": \"l1\", \"batch_time\": 3, \"batch_size\": 2}, "
        "\"optimizer\": {\"name\": \"sgd\", \"lr\": 1000}, \"solver\": {\"max_steps\": 100}}";
    json_t *q = req("POST", "/v1/jobs", json_h, body, 202);
    long long id = json_integer_value(json_object_get(q, "id"));
    json_decref(q);
    json_t *j = wait_job(id, "failed", 0);
    const char *why = json_string_value(json_object_get(j, "error"));
    const char *at = why ? strstr(why, "(at iteration ") : NULL;
    ck_assert_msg(why && strstr(why, "max_steps") && at, "error: %s", why ? why : "(none)");
    long failed_after = strtol(at + strlen("(at iteration "), NULL, 10);
    ck_assert_int_ge(failed_after, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "iteration")), failed_after);
    ck_assert(json_is_number(json_object_get(j, "train_loss")));
    json_decref(j);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    json_t *m = req("GET", path, NULL, NULL, 200);
    json_t *it = json_object_get(m, "iteration"), *loss = json_object_get(m, "train_loss");
    ck_assert_int_eq(json_array_size(it), failed_after);
    for (size_t i = 0; i < (size_t)failed_after; i++) {
        ck_assert_int_eq(json_integer_value(json_array_get(it, i)), (long)i + 1);
        ck_assert(json_is_number(json_array_get(loss, i)));
    }
    json_decref(m);
    json_decref(req("GET", "/v1/models/m", NULL, NULL, 404));
}
END_TEST

START_TEST(cancel_a_running_job)
{
    start(NULL);
    upload_circle("circle");
    long long id = submit("", 100000000);
    json_decref(wait_job(id, "running", 0));
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", id);
    json_decref(req("POST", path, NULL, NULL, 202));
    json_t *j = wait_job(id, "cancelled", 0);
    json_decref(j);
    json_decref(req("POST", path, NULL, NULL, 409));
    json_decref(req("GET", "/v1/models/m", NULL, NULL, 404));
}
END_TEST

static const char *const kill9_args[] = {"--checkpoint-every-iterations", "7", NULL};

/* Job `id` (n iterations, on the daemon started with kill9_args) is killed
 * with SIGKILL once it has checkpointed, the daemon restarted: the job
 * resumes, succeeds, and its metrics hold every iteration exactly once.
 * The final job document. */
static json_t *kill9_and_resume(long long id, long n)
{
    json_t *j = wait_job(id, NULL, 21);
    long at = (long)json_integer_value(json_object_get(j, "iteration"));
    json_decref(j);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGKILL), 0);
    tu_daemon_wait(&d, 10.0);
    ck_assert_int_lt(at, n); /* killed in the middle */
    char old[400];
    snprintf(old, sizeof old, "%s.1", d.log);
    ck_assert_int_eq(rename(d.log, old), 0); /* the new log's listening line gives the port */
    start(kill9_args);
    json_t *done = wait_job(id, "succeeded", 0);
    ck_assert_int_ge(tu_log_count(&d, "event=jobs_requeued"), 1);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    j = req("GET", path, NULL, NULL, 200);
    json_t *it = json_object_get(j, "iteration");
    ck_assert_int_eq(json_array_size(it), n);
    for (size_t i = 0; i < (size_t)n; i++)
        ck_assert_int_eq(json_integer_value(json_array_get(it, i)), (long)i + 1);
    json_decref(j);
    return done;
}

START_TEST(kill9_resumes_from_the_checkpoint)
{
    start(kill9_args);
    upload_circle("circle");
    const long n = 2000;
    long long id = submit(", \"validation\": {\"every\": 50}", n);
    json_decref(kill9_and_resume(id, n));
}
END_TEST

START_TEST(serving_while_training)
{
    static const char *const args[] = {"--job-workers", "2", NULL};
    start(args);
    upload_circle("circle");
    json_decref(wait_job(submit("", 20), "succeeded", 0)); /* model m, version 1 */
    long long a = submit("", 100000000), b = submit("", 100000000);
    json_decref(wait_job(a, "running", 0));
    json_decref(wait_job(b, "running", 0));
    for (int i = 0; i < 20; i++) {
        json_t *j = req("POST", "/v1/models/m/trajectory", json_h,
                        "{\"y0\": [1, 0], \"t\": [0.5, 1.0]}", 200);
        ck_assert_int_eq(json_array_size(json_object_get(j, "y")), 2);
        json_decref(j);
    }
    char path[64];
    for (long long id = a; id <= b; id++) {
        snprintf(path, sizeof path, "/v1/jobs/%lld/cancel", id);
        json_decref(req("POST", path, NULL, NULL, 202));
        json_decref(wait_job(id, "cancelled", 0));
    }
}
END_TEST

/* Whole series (no batch_time) with one held out for validation, then a
 * warm start from the version that job stored. */
START_TEST(whole_series_holdout_and_warm_start)
{
    start(NULL);
    json_decref(req("POST", "/v1/datasets/four", json_h,
                    "{\"series\": ["
                    "{\"t\": [0, 0.2, 0.5], \"y\": [[1, 0], [0.98, 0.2], [null, 0.48]]},"
                    "{\"t\": [0.1, 0.3], \"y\": [[0.99, 0.1], [0.95, 0.3]]},"
                    "{\"t\": [0, 0.4, 0.6], \"y\": [[1, 0], [0.92, 0.39], [0.82, 0.56]]},"
                    "{\"t\": [0.2, 0.7], \"y\": [[0.98, 0.2], [0.76, 0.64]]}]}",
                    201));
    json_t *j = req("POST", "/v1/jobs", json_h,
                    "{\"model\": \"w\", \"dataset\": \"four\", \"iterations\": 15, "
                    "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [4], "
                    "\"activation\": \"tanh\"}, \"validation\": {\"every\": 5, "
                    "\"holdout_fraction\": 0.25}, \"optimizer\": {\"name\": \"sgd\", "
                    "\"lr\": 0.05, \"momentum\": 0.9}}",
                    202);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = wait_job(id, "succeeded", 0);
    ck_assert(json_is_real(json_object_get(j, "best_validation_loss")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 1);
    json_decref(j);
    j = req("POST", "/v1/jobs", json_h,
            "{\"model\": \"w\", \"dataset\": \"four\", \"iterations\": 5, \"from_version\": 1, "
            "\"gradient\": \"backprop\", \"objective\": {\"loss\": \"mse\", \"batch_size\": 2}}",
            202);
    id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = wait_job(id, "succeeded", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 2);
    json_decref(j);
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"w\", \"dataset\": \"four\", \"iterations\": 5, "
                     "\"from_version\": 9}",
                     404),
                 "from_version");
}
END_TEST

/* ---- neural CDE jobs ---------------------------------------------------- */

static uint64_t lcg_state;

static double unif(double lo, double hi) /* a small LCG: the test's own data */
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(lcg_state >> 11) / 9007199254740992.0;
}

/* n spirals (cos(t + phi), +-sin(t + phi)) as {"series": [...]}: label 1 =
 * anticlockwise; 8 to 12 irregular times; interior values missing with
 * probability 0.2. With as_query, the trajectory request's batch form (the
 * readout at the last observation) instead, and *labels the classes. */
static json_t *spiral_series(size_t n, uint64_t seed, int as_query, int *labels)
{
    lcg_state = seed;
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        int label = (int)(k % 2), len = 8 + (int)unif(0, 5);
        double phi = unif(0, 6.283185307179586), t = 0;
        json_t *ts = json_array(), *ys = json_array();
        for (int i = 0; i < len; i++) {
            t += unif(0.2, 0.8);
            json_t *row = json_array();
            double v[2] = {cos(t + phi), (label ? 1 : -1) * sin(t + phi)};
            for (int j = 0; j < 2; j++)
                json_array_append_new(
                    row, i > 0 && i + 1 < len && unif(0, 1) < 0.2 ? json_null() : json_real(v[j]));
            json_array_append_new(ts, json_real(t));
            json_array_append_new(ys, row);
        }
        if (as_query) {
            labels[k] = label;
            json_array_append_new(
                arr, json_pack("{s:{s:o, s:o}, s:[f]}", "observations", "t", ts, "x", ys, "t", t));
        } else {
            json_array_append_new(arr,
                                  json_pack("{s:o, s:o, s:i}", "t", ts, "y", ys, "label", label));
        }
    }
    return json_pack("{s:o}", "series", arr);
}

static void post_json(const char *path, json_t *body, int want)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_decref(req("POST", path, json_h, text, want));
    free(text);
}

static long long submit_cde(const char *model, const char *dataset, const char *gradient,
                            const char *loss, const char *readout, long iterations)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"dataset\": \"%s\", \"iterations\": %ld, \"seed\": 1, "
             "\"gradient\": \"%s\", "
             "\"init\": {\"kind\": \"cde\", \"input_channels\": 3, \"hidden_dim\": 4, "
             "\"channels\": {\"time\": true}, \"interpolation\": \"linear\", "
             "\"vector_field\": {\"hidden\": [16], \"activation\": \"relu\"}, "
             "\"readout\": %s}, "
             "\"objective\": {\"loss\": \"%s\", \"batch_size\": 8}, "
             "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.05}, "
             "\"validation\": {\"every\": 5, \"holdout_fraction\": 0.25}, "
             "\"solver\": {\"rtol\": 1e-5, \"atol\": 1e-7}}",
             model, dataset, iterations, gradient, readout, loss);
    json_t *j = req("POST", "/v1/jobs", json_h, body, 202);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

/* The share of n fresh spirals the stored version classifies right. */
static double spiral_accuracy(const char *model, size_t n)
{
    int labels[64];
    ck_assert_uint_le(n, 64);
    json_t *q = spiral_series(n, 99, 1, labels);
    char path[96], *text = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    snprintf(path, sizeof path, "/v1/models/%s/trajectory", model);
    json_t *j = req("POST", path, json_h, text, 200);
    free(text);
    json_t *series = json_object_get(j, "series");
    ck_assert_uint_eq(json_array_size(series), n);
    size_t right = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *r = json_array_get(json_object_get(json_array_get(series, k), "readout"), 0);
        ck_assert_uint_eq(json_array_size(r), 2);
        int cls = json_real_value(json_array_get(r, 1)) > json_real_value(json_array_get(r, 0));
        right += cls == labels[k];
    }
    json_decref(j);
    return (double)right / (double)n;
}

START_TEST(cde_classifies_spirals)
{
    start(NULL);
    post_json("/v1/datasets/spirals", spiral_series(32, 7, 0, NULL), 201);
    long long bp = submit_cde("dir", "spirals", "backprop", "cross_entropy",
                              "{\"hidden\": [], \"out\": 2}", 40);
    json_t *j = wait_job(bp, "succeeded", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 1);
    double best = json_real_value(json_object_get(j, "best_validation_loss"));
    ck_assert_msg(best < 0.1, "best validation loss %g (chance: 0.69)", best);
    json_decref(j);
    double acc = spiral_accuracy("dir", 40);
    ck_assert_msg(acc >= 0.95, "accuracy %g on fresh series", acc);
    /* the adjoint trains it too */
    long long adj = submit_cde("dir", "spirals", "adjoint", "cross_entropy",
                               "{\"hidden\": [], \"out\": 2}", 40);
    j = wait_job(adj, "succeeded", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 2);
    best = json_real_value(json_object_get(j, "best_validation_loss"));
    ck_assert_msg(best < 0.3, "adjoint: best validation loss %g", best);
    acc = spiral_accuracy("dir", 40);
    ck_assert_msg(acc >= 0.9, "adjoint: accuracy %g on fresh series", acc);
    json_decref(j);
    j = req("GET", "/v1/models/dir", NULL, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "cde");
    json_decref(j);
}
END_TEST

/* mse against a vector label read at the last observation: the spiral's
 * direction (+-1) and its first channel's last value. */
START_TEST(cde_regression_against_labels)
{
    start(NULL);
    json_t *doc = spiral_series(24, 11, 0, NULL);
    json_t *series = json_object_get(doc, "series");
    for (size_t k = 0; k < json_array_size(series); k++) {
        json_t *s = json_array_get(series, k);
        json_t *y = json_object_get(s, "y");
        double c = json_real_value(json_array_get(json_array_get(y, json_array_size(y) - 1), 0));
        int dir = (int)json_integer_value(json_object_get(s, "label"));
        json_object_set_new(s, "label", json_pack("[f, f]", dir ? 1.0 : -1.0, c));
    }
    post_json("/v1/datasets/spirals-vec", doc, 201);
    long long id = submit_cde("vec", "spirals-vec", "backprop", "mse",
                              "{\"hidden\": [8], \"activation\": \"tanh\", \"out\": 2}", 40);
    json_t *j = wait_job(id, "succeeded", 0);
    double best = json_real_value(json_object_get(j, "best_validation_loss"));
    json_decref(j);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    j = req("GET", path, NULL, NULL, 200);
    double first = json_real_value(json_array_get(json_object_get(j, "validation_loss"), 4));
    json_decref(j);
    /* the labels' variance is about (1 + 0.5) / 2 per output: predicting 0 scores ~0.75 */
    ck_assert_msg(best < 0.25 && best < first, "best validation loss %g (first %g)", best, first);
    j = req("POST", "/v1/models/vec/trajectory", json_h,
            "{\"observations\": {\"t\": [0, 0.5, 1], \"x\": [[1, 0], [null, 0.48], [0.54, 0.84]]}}",
            200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "readout")), 3);
    ck_assert_uint_eq(json_array_size(json_array_get(json_object_get(j, "readout"), 0)), 2);
    json_decref(j);
    /* a warm start from that cde version; its kind's rules apply at submission */
    j = req("POST", "/v1/jobs", json_h,
            "{\"model\": \"vec\", \"dataset\": \"spirals-vec\", \"iterations\": 5, "
            "\"from_version\": 1, \"gradient\": \"adjoint\", \"objective\": {\"loss\": \"l1\"}}",
            202);
    id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = wait_job(id, "succeeded", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 2);
    json_decref(j);
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"vec\", \"dataset\": \"spirals-vec\", \"iterations\": 5, "
                     "\"from_version\": 1, \"objective\": {\"batch_time\": 3}}",
                     422),
                 "objective.batch_time");
    expect_field(req("POST", "/v1/jobs", json_h,
                     "{\"model\": \"vec\", \"dataset\": \"spirals-vec\", \"iterations\": 5, "
                     "\"from_version\": 1, \"objective\": {\"loss\": \"cross_entropy\"}}",
                     422),
                 "objective.loss");
}
END_TEST

/* A series whose channel is never observed has no path: the job fails
 * naming it, and stores nothing. */
/* kill -9 in the middle of a CDE job: it resumes from its checkpoint (paths,
 * optimiser, RNG), finishes with every iteration reported once, and the
 * model gets exactly one version. */
START_TEST(cde_kill9_resumes_from_the_checkpoint)
{
    start(kill9_args);
    post_json("/v1/datasets/spirals", spiral_series(32, 7, 0, NULL), 201);
    const long n = 600;
    long long id = submit_cde("dir", "spirals", "backprop", "cross_entropy",
                              "{\"hidden\": [], \"out\": 2}", n);
    json_t *j = kill9_and_resume(id, n);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "result_version")), 1);
    json_decref(j);
    j = req("GET", "/v1/models/dir", NULL, NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "latest_version")), 1);
    json_decref(j);
    ck_assert(spiral_accuracy("dir", 40) >= 0.9);
}
END_TEST

START_TEST(cde_job_with_an_unobserved_channel_fails)
{
    start(NULL);
    json_decref(req("POST", "/v1/datasets/holes", json_h,
                    "{\"series\": [{\"t\": [0, 1], \"y\": [[1, 2], [2, 3]], \"label\": 0},"
                    " {\"t\": [0, 1, 2], \"y\": [[1, null], [2, null], [3, null]], \"label\": 1}]}",
                    201));
    long long id = submit_cde("holes", "holes", "backprop", "cross_entropy",
                              "{\"hidden\": [], \"out\": 2}", 5);
    json_t *j = wait_job(id, "failed", 0);
    const char *why = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(why && strstr(why, "series[1]") && strstr(why, "x[*][1]"), "error: %s",
                  why ? why : "(none)");
    json_decref(j);
    json_decref(req("GET", "/v1/models/holes", NULL, NULL, 404));
}
END_TEST

/* A job's threads through the daemon: --train-threads 2 is the default of
 * a document without "threads", "threads": 1 overrides it, and the two
 * jobs (same document otherwise) end with the same loss curve and the same
 * stored networks, value for value (check_train_threads holds the memcmp
 * on 1, 2 and 3 threads in-process). */
static long long submit_cde_threads(const char *model, const char *threads)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"dataset\": \"spirals\", \"iterations\": 12, \"seed\": 1, "
             "\"gradient\": \"backprop\"%s, "
             "\"init\": {\"kind\": \"cde\", \"input_channels\": 3, \"hidden_dim\": 4, "
             "\"channels\": {\"time\": true}, \"interpolation\": \"linear\", "
             "\"vector_field\": {\"hidden\": [16], \"activation\": \"relu\"}, "
             "\"readout\": {\"hidden\": [], \"out\": 2}}, "
             "\"objective\": {\"loss\": \"cross_entropy\", \"batch_size\": 8}, "
             "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.05}, "
             "\"validation\": {\"every\": 4, \"holdout_fraction\": 0.25}}",
             model, threads);
    json_t *j = req("POST", "/v1/jobs", json_h, body, 202);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

START_TEST(job_threads_give_the_same_model)
{
    static const char *const args[] = {"--train-threads", "2", NULL};
    start(args);
    post_json("/v1/datasets/spirals", spiral_series(24, 7, 0, NULL), 201);
    long long two = submit_cde_threads("t2", "");
    json_decref(wait_job(two, "succeeded", 0));
    long long one = submit_cde_threads("t1", ", \"threads\": 1");
    json_decref(wait_job(one, "succeeded", 0));
    char path[64];
    json_t *m[2], *v[2];
    const long long ids[2] = {two, one};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", ids[k]);
        m[k] = req("GET", path, NULL, NULL, 200);
        snprintf(path, sizeof path, "/v1/models/%s/versions/1", k ? "t1" : "t2");
        v[k] = req("GET", path, NULL, NULL, 200);
    }
    ck_assert_int_eq(json_array_size(json_object_get(m[0], "train_loss")), 12);
    ck_assert(json_equal(json_object_get(m[0], "train_loss"), json_object_get(m[1], "train_loss")));
    ck_assert(json_equal(json_object_get(m[0], "validation_loss"),
                         json_object_get(m[1], "validation_loss")));
    static const char *const nets[] = {"initial", "vector_field", "readout"};
    for (int i = 0; i < 3; i++) {
        json_t *a = json_object_get(v[0], nets[i]), *b = json_object_get(v[1], nets[i]);
        ck_assert_msg(a && json_equal(a, b), "%s differs", nets[i]);
    }
    for (int k = 0; k < 2; k++)
        json_decref(m[k]), json_decref(v[k]);
    char *log = tu_read_file(d.log, NULL);
    ck_assert_ptr_nonnull(log);
    char want[96];
    snprintf(want, sizeof want, "id=%lld model=t2", two);
    const char *at = strstr(log, want);
    ck_assert_msg(at && strstr(at, "threads=2"), "job %lld's start line", two);
    snprintf(want, sizeof want, "id=%lld model=t1", one);
    at = strstr(log, want);
    ck_assert_msg(at && strstr(at, "threads=1"), "job %lld's start line", one);
    free(log);
}
END_TEST

/* The helpers of a 2-thread job sit out while the evaluation pool has work
 * (docs/operations.md, "Training threads and serving"): an evaluation held
 * for the whole job (/v1/test/eval), and the job's end line counts the
 * yields; the job still succeeds on its own thread. */
START_TEST(job_helpers_yield_to_serving)
{
    static const char *const args[] = {"--train-threads", "2", NULL};
    static const char *const env[] = {"ODESERVE_TEST_ROUTES=1", NULL};
    if (tu_daemon_start(&d, args, env) != 0) ck_abort_msg("daemon did not start");
    post_json("/v1/datasets/spirals", spiral_series(24, 7, 0, NULL), 201);
    tu_conn *c = tu_connect("127.0.0.1", d.port);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tu_send(c, "GET", "/v1/test/eval?ms=60000", NULL, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "test_sleep_start", 30), 0);
    long long id = submit_cde_threads("y", "");
    json_decref(wait_job(id, "succeeded", 0));
    tu_close(c); /* the evaluation stops: its client is gone */
    char want[96];
    snprintf(want, sizeof want, "id=%lld status=succeeded", id);
    ck_assert_int_eq(tu_wait_log(&d, want, 30), 0);
    char *log = tu_read_file(d.log, NULL);
    ck_assert_ptr_nonnull(log);
    const char *at = strstr(log, want), *y = at ? strstr(at, "helper_yields=") : NULL;
    ck_assert_msg(y && strtol(y + strlen("helper_yields="), NULL, 10) > 0, "%s",
                  at ? at : "no job_ended line");
    free(log);
}
END_TEST

static Suite *jobs_suite(void)
{
    Suite *s = suite_create("jobs");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, datasets_over_http);
    tcase_add_test(tc, job_trains_a_new_version);
    tcase_add_test(tc, kill9_resumes_from_the_checkpoint);
    tcase_add_test(tc, cde_kill9_resumes_from_the_checkpoint);
    tcase_add_test(tc, serving_while_training);
    tcase_add_test(tc, whole_series_holdout_and_warm_start);
    tcase_add_test(tc, cde_classifies_spirals);
    tcase_add_test(tc, cde_regression_against_labels);
    tcase_add_test(tc, job_threads_give_the_same_model);
    tcase_add_test(tc, job_helpers_yield_to_serving);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bad_jobs_are_4xx);
    tcase_add_test(tc, jobs_with_new_gradients);
    tcase_add_test(tc, failed_job_leaves_the_model_alone);
    tcase_add_test(tc, failed_job_keeps_its_loss_curve);
    tcase_add_test(tc, cancel_a_running_job);
    tcase_add_test(tc, cde_job_with_an_unobserved_channel_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(jobs_suite());
}
