/* check_hnn_train: issue #26's HNN acceptance test through the real
 * odeserved (docs/structured.md, "Training"). The data are
 * examples/pendulum_hnn/pendulum.json (gen.py: 25 noisy pendulum
 * trajectories, H = p^2/2 + 1 - cos q, exact derivatives plus noise, seed
 * 20261206) with [q, p, dq/dt, dp/dt] as channels.
 *
 * Two jobs on the same data, with the same network size (2-32-32 tanh),
 * optimiser, batches, seed and iterations: a hamiltonian model (general H,
 * output 1) by the hnn loss, and a plain ode model (output 2) by the
 * derivative fit. Each stored version is rolled out for 100 periods of the
 * true pendulum from (q, p) = (1, 0) by POST /trajectory (the hnn by gauss4
 * at step 0.05, the ode by dopri5 at rtol 1e-9), and so is the exact
 * pendulum (examples/hamiltonian/pendulum.json, yoshida4 at step 0.01).
 * Asserted:
 *   - the HNN's true energy error has no trend: its mean over the last 10
 *     periods is within 25% (+ 1e-3) of its mean over the first 10, and
 *     it stays below 5% of the energy; its own H (the reply's energy) is
 *     conserved to 1e-8;
 *   - its phase error after 100 periods (the unwrapped angle of (q, p)
 *     against the exact pendulum's) is smaller than the ode's.
 * The metrics hold one row per iteration and the stored versions say what
 * trained them. Nothing here asserts on time; the run's times are printed
 * (docs/structured.md records them). */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobtest.h"
#include "testutil.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define PERIOD 6.6998541075530958 /* 4 K(sin(1/2)): the pendulum's period at amplitude 1 */
#define N_OUT 2681                /* t = 0, 0.25, ..., 670 (100 periods and a little) */

/* The rollout of model `name` from (1, 0) at t = 0.25 k into q, p (and its
 * own energy into h when not NULL). */
static void rollout(const char *name, const char *solver, double *q, double *p, double *h)
{
    json_t *t = json_array();
    for (int k = 0; k < N_OUT; k++)
        json_array_append_new(t, json_real(0.25 * k));
    json_t *body = json_pack("{s:[f,f], s:o}", "y0", 1.0, 0.0, "t", t);
    json_t *sv = json_loads(solver, 0, NULL);
    json_object_set_new(body, "solver", sv);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s/trajectory", name);
    json_t *j = jt_req("POST", path, text, 200);
    free(text);
    json_t *y = json_object_get(j, "y"), *en = json_object_get(j, "energy");
    ck_assert_uint_eq(json_array_size(y), N_OUT);
    for (int k = 0; k < N_OUT; k++) {
        json_t *row = json_array_get(y, (size_t)k);
        q[k] = json_number_value(json_array_get(row, 0));
        p[k] = json_number_value(json_array_get(row, 1));
        if (h) h[k] = json_number_value(json_array_get(en, (size_t)k));
    }
    json_decref(j);
}

/* The unwrapped angle of (q, p) along a rollout, at its last point. */
static double phase_end(const double *q, const double *p)
{
    double phi = atan2(p[0], q[0]), prev = phi;
    for (int k = 1; k < N_OUT; k++) {
        double a = atan2(p[k], q[k]), dphi = a - prev;
        while (dphi > M_PI) dphi -= 2 * M_PI;
        while (dphi < -M_PI) dphi += 2 * M_PI;
        phi += dphi;
        prev = a;
    }
    return phi;
}

static double energy(double q, double p)
{
    return 0.5 * p * p + 1 - cos(q);
}

static void check_metrics(long long id, long iterations)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%lld/metrics", id);
    json_t *m = jt_req("GET", path, NULL, 200);
    json_t *tl = json_object_get(m, "train_loss");
    ck_assert_uint_eq(json_array_size(json_object_get(m, "iteration")), (size_t)iterations);
    double first = json_number_value(json_array_get(tl, 0));
    double last = json_number_value(json_array_get(tl, (size_t)iterations - 1));
    printf("job %lld: training loss %.4g -> %.4g\n", id, first, last);
    ck_assert_msg(last < first / 10, "%g -> %g", first, last);
    json_decref(m);
}

#define JOB_COMMON                                                                                 \
    "\"dataset\": \"pendulum\", \"seed\": 7, \"iterations\": 1500,"                                \
    " \"optimizer\": {\"name\": \"adam\", \"lr\": 0.005},"                                         \
    " \"validation\": {\"every\": 100}, "

START_TEST(hnn_beats_ode_on_the_pendulum)
{
    const double t0 = now();
    jt_upload("/v1/datasets/pendulum", "examples/pendulum_hnn/pendulum.json");
    jt_upload("/v1/models/pendulum-true/versions", "examples/hamiltonian/pendulum.json");
    long long hid = jt_submit(
        "{\"model\": \"pendulum-hnn\", " JOB_COMMON
        "\"init\": {\"kind\": \"hamiltonian\", \"dof\": 1,"
        "          \"hamiltonian\": {\"hidden\": [32, 32], \"activation\": \"tanh\"}},"
        " \"objective\": {\"loss\": \"hnn\", \"batch_size\": 5},"
        " \"solver\": {\"method\": \"gauss4\", \"step\": 0.05}}");
    long long oid =
        jt_submit("{\"model\": \"pendulum-ode\", " JOB_COMMON
               "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [32, 32],"
               "          \"activation\": \"tanh\"},"
               " \"objective\": {\"loss\": \"derivative\", \"batch_size\": 5},"
               " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-9, \"atol\": 1e-11}}");
    const int hv = jt_wait_version(hid, 1200), ov = jt_wait_version(oid, 1200);
    const double t1 = now();
    check_metrics(hid, 1500);
    check_metrics(oid, 1500);
    char path[128];
    snprintf(path, sizeof path, "/v1/models/pendulum-hnn/versions/%d", hv);
    json_t *j = jt_req("GET", path, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "hamiltonian");
    ck_assert_msg(strstr(json_string_value(json_object_get(j, "description")), "hnn"), "%s",
                  json_string_value(json_object_get(j, "description")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/models/pendulum-ode/versions/%d", ov);
    j = jt_req("GET", path, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "ode");
    json_decref(j);

    static double qh[N_OUT], ph[N_OUT], hh[N_OUT], qo[N_OUT], po[N_OUT], qt[N_OUT], pt[N_OUT];
    rollout("pendulum-true", "{\"method\": \"yoshida4\", \"step\": 0.01}", qt, pt, NULL);
    rollout("pendulum-hnn", "{}", qh, ph, hh); /* the stored gauss4 at 0.05 */
    rollout("pendulum-ode", "{}", qo, po, NULL);
    const double t2 = now();

    const double e0 = energy(1, 0);
    double first = 0, last = 0, worst = 0, own = 0, ofirst = 0, olast = 0;
    int nf = 0, nl = 0;
    for (int k = 0; k < N_OUT; k++) {
        const double t = 0.25 * k, eh = fabs(energy(qh[k], ph[k]) - e0);
        const double eo = fabs(energy(qo[k], po[k]) - e0);
        worst = fmax(worst, eh);
        own = fmax(own, fabs(hh[k] - hh[0]));
        if (t <= 10 * PERIOD) first += eh, ofirst += eo, nf++;
        if (t >= 90 * PERIOD && t <= 100 * PERIOD) last += eh, olast += eo, nl++;
    }
    first /= nf, last /= nl, ofirst /= nf, olast /= nl;
    const double ph_true = phase_end(qt, pt);
    const double err_h = fabs(phase_end(qh, ph) - ph_true), err_o = fabs(phase_end(qo, po) - ph_true);
    printf("hnn: energy error (true H) first 10 periods %.4g, last 10 %.4g, max %.4g of %.4g;"
           " its own H drifts %.3g\n",
           first, last, worst, e0, own);
    printf("ode: energy error first 10 periods %.4g, last 10 %.4g\n", ofirst, olast);
    printf("phase error after 100 periods: hnn %.4g rad, ode %.4g rad (of %.1f)\n", err_h, err_o,
           fabs(ph_true));
    printf("times: both jobs %.1f s, three rollouts %.1f s\n", t1 - t0, t2 - t1);
    fflush(stdout);
    ck_assert_msg(fabs(last - first) <= 0.25 * first + 1e-3, "trend: %g -> %g", first, last);
    ck_assert_msg(worst < 0.05 * e0, "energy error %g", worst);
    ck_assert_msg(own < 1e-8, "own H drifts %g", own);
    ck_assert_msg(err_h < err_o, "phase error hnn %g, ode %g", err_h, err_o);
}
END_TEST

/* The trajectory fit through the daemon: the same trajectories' states
 * alone (the first two channels), a separable H (V a 1-16-1 tanh network,
 * mass 1) by leapfrog windows; the loss falls tenfold, the version keeps
 * leapfrog and its step, and its V is the pendulum's up to a constant:
 * V(1) - V(0) within 10% of 1 - cos 1. */
START_TEST(trajectory_job)
{
    char p[4096];
    json_error_t je;
    json_t *ds = json_load_file(
        tu_source_path(p, sizeof p, "examples/pendulum_hnn/pendulum.json"), 0, &je);
    ck_assert_msg(ds != NULL, "%s", je.text);
    json_t *series = json_object_get(ds, "series"), *v;
    size_t i;
    json_array_foreach(series, i, v)
    {
        json_t *y = json_object_get(v, "y"), *row;
        size_t k;
        json_array_foreach(y, k, row)
        {
            json_array_remove(row, 3);
            json_array_remove(row, 2);
        }
    }
    char *text = json_dumps(ds, JSON_COMPACT);
    json_decref(ds);
    json_decref(jt_req("POST", "/v1/datasets/pendulum-states", text, 201));
    free(text);
    long long id = jt_submit(
        "{\"model\": \"pendulum-traj\", \"dataset\": \"pendulum-states\", \"seed\": 3,"
        " \"iterations\": 300, \"optimizer\": {\"lr\": 0.01},"
        " \"init\": {\"kind\": \"hamiltonian\", \"dof\": 1, \"mass\": [1.0],"
        "          \"potential\": {\"hidden\": [16], \"activation\": \"tanh\"}},"
        " \"objective\": {\"loss\": \"trajectory\", \"batch_time\": 5, \"batch_size\": 16},"
        " \"solver\": {\"method\": \"leapfrog\", \"step\": 0.05}}");
    const int ver = jt_wait_version(id, 1200);
    check_metrics(id, 300);
    char path[128];
    snprintf(path, sizeof path, "/v1/models/pendulum-traj/versions/%d", ver);
    json_t *j = jt_req("GET", path, NULL, 200);
    json_t *sv = json_object_get(j, "solver");
    ck_assert_str_eq(json_string_value(json_object_get(sv, "method")), "leapfrog");
    ck_assert(json_number_value(json_object_get(sv, "step")) == 0.05);
    json_decref(j);
    j = jt_req("POST", "/v1/models/pendulum-traj/energy", "{\"y\": [[0, 0], [1, 0]]}", 200);
    json_t *h = json_object_get(j, "energy");
    const double dv = json_number_value(json_array_get(h, 1)) - json_number_value(json_array_get(h, 0));
    printf("trajectory fit: V(1) - V(0) = %.4f (pendulum %.4f)\n", dv, 1 - cos(1.0));
    ck_assert_msg(fabs(dv - (1 - cos(1.0))) < 0.1 * (1 - cos(1.0)), "%g", dv);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hnn_train");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, jt_setup, jt_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, hnn_beats_ode_on_the_pendulum);
    tcase_add_test(tc, trajectory_job);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
