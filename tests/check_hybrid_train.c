/* check_hybrid_train: training hybrid models (docs/hybrid.md, "Training"),
 * through the real job decoder (codec_job_decode) and the trainer:
 *   - the field's VJP (hybrid_model_vjp) is v^T of the exact Jacobians;
 *   - the init's refusals: a trainable name that is not a parameter, bounds
 *     that exclude the starting value, a scheme without a network;
 *   - bounds hold by projection; a parameter not in trainable stays put;
 *   - acceptance (a): the damped pendulum's a and c from 3 noiseless series
 *     at irregular times, starting ~29% off, within 1%, by backprop and by
 *     the adjoint (dopri5; also adjoint_checkpointed, and rodas4 with the
 *     symbolic Jacobian);
 *   - acceptance (b): the Lotka-Volterra UDE of Rackauckas et al.: alpha and
 *     delta within 10%, and the hybrid extrapolates past the training
 *     window ([0, 5], about one cycle) to t = 10 with a smaller RMS error
 *     than a pure neural ODE with the same network trained the same way.
 * Data: tests/fixtures/hybrid_train.json (tests/fixtures/gen_hybrid_train.py,
 * SciPy). */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "model/hybrid.h"
#include "model/trainer.h"
#include "nn/mlp.h"
#include "testutil.h"

static json_t *fixture(void)
{
    char path[4096];
    json_error_t je;
    json_t *fx =
        json_load_file(tu_source_path(path, sizeof path, "tests/fixtures/hybrid_train.json"), 0, &je);
    ck_assert_msg(fx, "%s", je.text);
    return fx;
}

static void spec_from(const char *doc, job_spec *s)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(doc, strlen(doc), s, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
}

static err_code spec_try(const char *doc, job_spec *s, err *e)
{
    err_clear(e);
    return codec_job_decode(doc, strlen(doc), s, e);
}

/* A series {"t": [...], "y": [[...], ...]} of 2 channels, rows [i0, i1). */
static void series_load(dataset_series *x, const json_t *o, size_t i0, size_t i1)
{
    const json_t *t = json_object_get(o, "t"), *y = json_object_get(o, "y");
    if (i1 > json_array_size(t)) i1 = json_array_size(t);
    x->n = i1 - i0;
    x->t = malloc(x->n * sizeof *x->t);
    x->y = malloc(2 * x->n * sizeof *x->y);
    for (size_t i = 0; i < x->n; i++) {
        x->t[i] = json_number_value(json_array_get(t, i0 + i));
        for (size_t c = 0; c < 2; c++)
            x->y[2 * i + c] = json_number_value(json_array_get(json_array_get(y, i0 + i), c));
    }
}

static void ds_new(dataset *ds, size_t n_series)
{
    dataset_init(ds);
    ds->channels = 2;
    ds->n_series = n_series;
    ds->series = calloc(n_series, sizeof *ds->series);
}

/* Run the trainer to the end; the result's parameters into out (np). */
static void train(const job_spec *spec, const dataset *ds, double *out, size_t np)
{
    trainer *tr = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(trainer_new(&tr, &spec->init_def, ds, spec, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    struct trainer_row row = {0};
    double first = NAN;
    while (!trainer_done(tr)) {
        ck_assert_msg(trainer_step(tr, &row, &e) == ERR_OK, "%s", e.message);
        if (isnan(first)) first = row.train_loss;
    }
    printf("  loss %.3g -> %.3g in %ld iterations\n", first, row.train_loss, row.iteration);
    memcpy(out, trainer_result(tr), np * sizeof *out);
    trainer_free(tr);
}

static double par(const model_def *d, const double *p, const char *name)
{
    const model_hybrid *h = d->hybrid;
    for (size_t i = 0; i < h->n_par; i++)
        if (strcmp(h->par_names[i], name) == 0) return p[d->n_params - h->n_par + i];
    ck_abort_msg("no parameter %s", name);
    return NAN;
}

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static double urand(double lo, double hi)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return lo + (hi - lo) * ((double)(seed >> 11) * 0x1p-53);
}

/* dy += v^T J and dtheta += v^T G, J and G the exact Jacobians. */
START_TEST(vjp_is_v_times_jacobians)
{
    job_spec spec;
    spec_from("{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1, \"seed\": 3,"
              " \"init\": {\"kind\": \"hybrid\", \"state_dim\": 2, \"state_names\": [\"x\", \"y\"],"
              "  \"parameters\": {\"a\": 1.3, \"b\": 0.4},"
              "  \"equations\": [\"a*x + x*y*nn_0 + sin(t)\", \"-b*y^2 + nn_1*exp(-x)\"],"
              "  \"network\": {\"time_input\": true,"
              "               \"layers\": [{\"out\": 8, \"activation\": \"tanh\"}, {\"out\": 2}]},"
              "  \"trainable\": [\"a\", \"b\"]}}",
              &spec);
    const model_def *d = &spec.init_def;
    hybrid_model *m = NULL;
    hybrid_ws *w = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(hybrid_model_new(&m, d, &e), ERR_OK);
    ck_assert_int_eq(hybrid_ws_new(&w, m, &e), ERR_OK);
    const size_t np = hybrid_model_n_params(m);
    ck_assert_uint_eq(np, d->n_params);
    double *G = malloc(2 * np * sizeof *G), *dth = calloc(np, sizeof *dth);
    for (int rep = 0; rep < 5; rep++) {
        double y[2] = {urand(-1, 1), urand(-1, 1)}, v[2] = {urand(-1, 1), urand(-1, 1)};
        double t = urand(0, 3), J[4], dy[2] = {0.5, -0.25};
        hybrid_model_jacobian(w, t, y, J, NULL);
        hybrid_model_param_jacobian(w, t, y, G);
        memset(dth, 0, np * sizeof *dth);
        hybrid_model_vjp(w, t, y, v, dy, dth);
        for (size_t j = 0; j < 2; j++) {
            double want = (j == 0 ? 0.5 : -0.25) + v[0] * J[j] + v[1] * J[2 + j];
            ck_assert_msg(fabs(dy[j] - want) <= 1e-12 * (1 + fabs(want)), "dy[%zu] %g vs %g", j,
                          dy[j], want);
        }
        for (size_t p = 0; p < np; p++) {
            double want = v[0] * G[p] + v[1] * G[np + p];
            ck_assert_msg(fabs(dth[p] - want) <= 1e-12 * (1 + fabs(want)), "dtheta[%zu] %g vs %g",
                          p, dth[p], want);
        }
    }
    free(G);
    free(dth);
    hybrid_ws_free(w);
    hybrid_model_free(m);
    job_spec_free(&spec);
}
END_TEST

#define PEND_HEAD                                                                                  \
    "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1,"                                    \
    " \"init\": {\"kind\": \"hybrid\", \"state_dim\": 2, \"state_names\": [\"theta\", \"omega\"]," \
    "  \"equations\": [\"omega\", \"-a*sin(theta) - c*omega\"],"

START_TEST(init_refusals)
{
    job_spec s;
    err e;
    ck_assert_int_eq(spec_try(PEND_HEAD "\"parameters\": {\"a\": 5, \"c\": 0.3},"
                                        " \"trainable\": [\"a\", \"k\"]}}",
                              &s, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "init.trainable[1]");
    ck_assert_msg(strstr(e.message, "\"k\" is not a parameter"), "%s", e.message);
    ck_assert_int_eq(spec_try(PEND_HEAD "\"parameters\": {\"a\": 5, \"c\": 0.3},"
                                        " \"trainable\": [\"a\", \"c\"],"
                                        " \"bounds\": {\"c\": [0.5, null]}}}",
                              &s, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "init.bounds.c");
    ck_assert_int_eq(spec_try(PEND_HEAD "\"parameters\": {\"a\": 5, \"c\": 0.3},"
                                        " \"scheme\": \"xavier_uniform\"}}",
                              &s, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "init.scheme");
    ck_assert_int_eq(spec_try(PEND_HEAD "\"parameters\": {\"a\": 5, \"c\": 0.3},"
                                        " \"network\": {\"layers\": [{\"out\": 4, \"weight\": [1]}]}}}",
                              &s, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "init.network.layers[0].weight");
    ck_assert_int_eq(spec_try(PEND_HEAD "\"parameters\": {\"a\": 5, \"c\": 0.3},"
                                        " \"network\": {\"layers\": [{\"out\": 4}]}},"
                                        " \"objective\": {\"loss\": \"cross_entropy\"}}",
                              &s, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "objective.loss");
    /* an unknown variable in an equation: the init's equation named */
    ck_assert_int_eq(spec_try("{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1,"
                              " \"init\": {\"kind\": \"hybrid\", \"state_dim\": 1,"
                              "  \"state_names\": [\"x\"], \"parameters\": {\"k\": 1},"
                              "  \"equations\": [\"-q*x\"]}}",
                              &s, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "init.equations[0]");
}
END_TEST

/* Bounds by projection: the data want c = 0.21, the bounds keep c >= 0.3;
 * a, not trainable, never moves. */
START_TEST(bounds_and_frozen_parameters_hold)
{
    json_t *fx = fixture();
    const json_t *pd = json_object_get(fx, "pendulum");
    dataset ds;
    ds_new(&ds, 1);
    series_load(&ds.series[0], json_array_get(json_object_get(pd, "series"), 0), 0, 12);
    job_spec spec;
    spec_from("{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 40, \"seed\": 1,"
              " \"init\": {\"kind\": \"hybrid\", \"state_dim\": 2,"
              "  \"state_names\": [\"theta\", \"omega\"],"
              "  \"parameters\": {\"a\": 7.0, \"c\": 0.5},"
              "  \"equations\": [\"omega\", \"-a*sin(theta) - c*omega\"],"
              "  \"trainable\": [\"c\"], \"bounds\": {\"c\": [0.3, 1]}},"
              " \"objective\": {\"batch_time\": 4},"
              " \"optimizer\": {\"name\": \"adam\", \"lr\": 0.05, \"weight_decay\": 0.1}}",
              &spec);
    double p[2];
    train(&spec, &ds, p, 2);
    ck_assert_double_eq(par(&spec.init_def, p, "a"), 7.0);
    ck_assert_double_eq(par(&spec.init_def, p, "c"), 0.3);
    job_spec_free(&spec);
    dataset_free(&ds);
    json_decref(fx);
}
END_TEST

static void pendulum(const char *gradient, const char *method)
{
    json_t *fx = fixture();
    const json_t *pd = json_object_get(fx, "pendulum"), *sr = json_object_get(pd, "series");
    const double a = json_number_value(json_object_get(json_object_get(pd, "truth"), "a"));
    const double c = json_number_value(json_object_get(json_object_get(pd, "truth"), "c"));
    dataset ds;
    ds_new(&ds, json_array_size(sr));
    ck_assert_uint_eq(ds.n_series, 3);
    for (size_t s = 0; s < ds.n_series; s++)
        series_load(&ds.series[s], json_array_get(sr, s), 0, SIZE_MAX);
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 300, \"seed\": 1,"
             " \"init\": {\"kind\": \"hybrid\", \"state_dim\": 2,"
             "  \"state_names\": [\"theta\", \"omega\"],"
             "  \"parameters\": {\"a\": %.17g, \"c\": %.17g},"
             "  \"equations\": [\"omega\", \"-a*sin(theta) - c*omega\"],"
             "  \"trainable\": [\"a\", \"c\"], \"bounds\": {\"a\": [0, null], \"c\": [0, null]}},"
             " \"objective\": {\"batch_time\": 4},"
             " \"optimizer\": {\"name\": \"adam\", \"lr\": 0.03},"
             " \"gradient\": \"%s\", \"solver\": {\"method\": \"%s\", \"rtol\": 1e-8,"
             " \"atol\": 1e-10}}",
             0.71 * a, 1.29 * c, gradient, method);
    job_spec spec;
    spec_from(doc, &spec);
    double p[2];
    printf("pendulum, %s, %s:\n", gradient, method);
    train(&spec, &ds, p, 2);
    const double fa = par(&spec.init_def, p, "a"), fc = par(&spec.init_def, p, "c");
    printf("  a %.6g (truth %g), c %.6g (truth %g)\n", fa, a, fc, c);
    ck_assert_msg(fabs(fa - a) <= 0.01 * a, "a = %g, truth %g", fa, a);
    ck_assert_msg(fabs(fc - c) <= 0.01 * c, "c = %g, truth %g", fc, c);
    job_spec_free(&spec);
    dataset_free(&ds);
    json_decref(fx);
}

START_TEST(pendulum_backprop)
{
    pendulum("backprop", "dopri5");
}
END_TEST

START_TEST(pendulum_adjoint)
{
    pendulum("adjoint", "dopri5");
}
END_TEST

START_TEST(pendulum_adjoint_checkpointed)
{
    pendulum("adjoint_checkpointed", "dopri5");
}
END_TEST

/* an implicit method: forward and adjoint with the symbolic Jacobian */
START_TEST(pendulum_rodas4_adjoint)
{
    pendulum("adjoint", "rodas4");
}
END_TEST

/* RK4 from (t0, y0) to each of n times ts (sorted, > t0), steps <= h. */
typedef void (*field_fn)(void *ctx, double t, const double *y, double *f);

static void rk4(field_fn f, void *ctx, double t0, const double *y0, const double *ts, size_t n,
                double *out)
{
    double y[2] = {y0[0], y0[1]}, t = t0;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)ceil((ts[i] - t) / 0.002);
        double h = k ? (ts[i] - t) / (double)k : 0;
        for (size_t s = 0; s < k; s++) {
            double k1[2], k2[2], k3[2], k4[2], u[2];
            f(ctx, t, y, k1);
            for (int j = 0; j < 2; j++) u[j] = y[j] + 0.5 * h * k1[j];
            f(ctx, t + 0.5 * h, u, k2);
            for (int j = 0; j < 2; j++) u[j] = y[j] + 0.5 * h * k2[j];
            f(ctx, t + 0.5 * h, u, k3);
            for (int j = 0; j < 2; j++) u[j] = y[j] + h * k3[j];
            f(ctx, t + h, u, k4);
            for (int j = 0; j < 2; j++) y[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
            t += h;
        }
        out[2 * i] = y[0];
        out[2 * i + 1] = y[1];
    }
}

static void hyb_f(void *ctx, double t, const double *y, double *f)
{
    ck_assert_int_eq(hybrid_model_field(ctx, t, y, f), 0);
}

struct node {
    mlp *net;
    mlp_ws *ws;
};

static void node_f(void *ctx, double t, const double *y, double *f)
{
    struct node *n = ctx;
    mlp_forward(n->net, n->ws, y, t, f);
}

/* RMS error against the test truth, solving from the first training point. */
static double extrap_rms(field_fn f, void *ctx, const dataset_series *train_s,
                         const dataset_series *test_s)
{
    double *out = malloc(2 * test_s->n * sizeof *out), s = 0;
    rk4(f, ctx, train_s->t[0], train_s->y, test_s->t, test_s->n, out);
    for (size_t i = 0; i < 2 * test_s->n; i++)
        s += (out[i] - test_s->y[i]) * (out[i] - test_s->y[i]);
    free(out);
    return sqrt(s / (double)(2 * test_s->n));
}

#define LV_JOB                                                                                     \
    "\"iterations\": 600, \"seed\": 2, \"objective\": {\"batch_time\": 6},"                        \
    " \"optimizer\": {\"name\": \"adam\", \"lr\": 0.02}, \"gradient\": \"%s\","                    \
    " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-6, \"atol\": 1e-8}"
#define LV_NET "{\"layers\": [{\"out\": 16, \"activation\": \"tanh\"}, {\"out\": 2}]}"

START_TEST(lotka_volterra_ude)
{
    json_t *fx = fixture();
    const json_t *lv = json_object_get(fx, "lv"), *truth = json_object_get(lv, "truth");
    const double alpha = json_number_value(json_object_get(truth, "alpha"));
    const double delta = json_number_value(json_object_get(truth, "delta"));
    dataset ds;
    ds_new(&ds, 1);
    series_load(&ds.series[0], json_object_get(lv, "train"), 0, SIZE_MAX);
    dataset_series test = {0};
    series_load(&test, json_object_get(lv, "test"), 0, SIZE_MAX);
    const char *grad = "backprop";
    char doc[2048];
    /* the UDE: the known linear terms, a network for the interactions'
     * coefficients (the true ones are -beta and gamma); delta is called d
     * (delta is one of the expression language's functions) */
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", " LV_JOB ","
             " \"init\": {\"kind\": \"hybrid\", \"state_dim\": 2, \"state_names\": [\"x\", \"y\"],"
             "  \"parameters\": {\"alpha\": %.17g, \"d\": %.17g},"
             "  \"equations\": [\"alpha*x + x*y*nn_0\", \"-d*y + x*y*nn_1\"],"
             "  \"network\": " LV_NET ","
             "  \"trainable\": [\"alpha\", \"d\"],"
             "  \"bounds\": {\"alpha\": [0, null], \"d\": [0, null]}}}",
             grad, 0.75 * alpha, 1.25 * delta);
    job_spec hs;
    spec_from(doc, &hs);
    const size_t hnp = hs.init_def.n_params;
    double *hp = malloc(hnp * sizeof *hp);
    printf("lotka-volterra, hybrid:\n");
    train(&hs, &ds, hp, hnp);
    const double fa = par(&hs.init_def, hp, "alpha"), fd = par(&hs.init_def, hp, "d");
    printf("  alpha %.5g (truth %g), delta %.5g (truth %g)\n", fa, alpha, fd, delta);
    /* the same network alone, trained the same way */
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", " LV_JOB ","
             " \"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"layers\": %s}}",
             grad, "[{\"out\": 16, \"activation\": \"tanh\"}, {\"out\": 2}]");
    job_spec ns;
    spec_from(doc, &ns);
    const size_t nnp = ns.init_def.n_params;
    double *np_ = malloc(nnp * sizeof *np_);
    printf("lotka-volterra, neural ode:\n");
    train(&ns, &ds, np_, nnp);

    err e;
    err_clear(&e);
    memcpy(hs.init_def.params, hp, hnp * sizeof *hp);
    hybrid_model *hm = NULL;
    hybrid_ws *hw = NULL;
    ck_assert_int_eq(hybrid_model_new(&hm, &hs.init_def, &e), ERR_OK);
    ck_assert_int_eq(hybrid_ws_new(&hw, hm, &e), ERR_OK);
    const double eh = extrap_rms(hyb_f, hw, &ds.series[0], &test);
    const model_net *n = &ns.init_def.nets[0];
    mlp_spec ms = {.state_dim = n->in_dim, .time_input = n->time_input, .n_layers = n->n_layers,
                   .layers = n->layers};
    struct node nd = {0};
    ck_assert_int_eq(mlp_new(&nd.net, &ms, &e), ERR_OK);
    ck_assert_int_eq(mlp_ws_new(&nd.ws, nd.net, 1, &e), ERR_OK);
    memcpy(mlp_params(nd.net), np_, nnp * sizeof *np_);
    const double en = extrap_rms(node_f, &nd, &ds.series[0], &test);
    printf("  extrapolation to t = 10, RMS error: hybrid %.4g, neural ode %.4g\n", eh, en);
    ck_assert_msg(fabs(fa - alpha) <= 0.1 * alpha, "alpha = %g, truth %g", fa, alpha);
    ck_assert_msg(fabs(fd - delta) <= 0.1 * delta, "delta = %g, truth %g", fd, delta);
    ck_assert_msg(eh < en, "hybrid %g, neural ode %g", eh, en);
    mlp_ws_free(nd.ws);
    mlp_free(nd.net);
    hybrid_ws_free(hw);
    hybrid_model_free(hm);
    free(hp);
    free(np_);
    job_spec_free(&hs);
    job_spec_free(&ns);
    free(test.t);
    free(test.y);
    dataset_free(&ds);
    json_decref(fx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hybrid_train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, vjp_is_v_times_jacobians);
    tcase_add_test(tc, init_refusals);
    tcase_add_test(tc, bounds_and_frozen_parameters_hold);
    tcase_add_test(tc, pendulum_backprop);
    tcase_add_test(tc, pendulum_adjoint);
    tcase_add_test(tc, pendulum_adjoint_checkpointed);
    tcase_add_test(tc, pendulum_rodas4_adjoint);
    tcase_add_test(tc, lotka_volterra_ude);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
