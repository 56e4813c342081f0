/* check_gradient_http: POST /v1/models/{name}/gradient on a real daemon,
 * every method's gradient against central differences of the same
 * endpoint's loss (parameters perturbed by uploading perturbed versions of
 * the model and asking for that version; y0 perturbed in the request), and
 * the methods against each other.
 *
 * Model: a 2 -> 3 -> 2 tanh MLP with a time input (the time column of the
 * first layer's weight is a parameter like the others). Targets at three
 * times, one value null.
 * - backprop, adjoint, adjoint_checkpointed: dopri5 at rtol 1e-11, atol
 *   1e-13; central differences (h = 1e-5) of the loss at the same
 *   tolerance: |g - fd| <= 1e-6 + 1e-5 |fd| (as check_grad's adjoint).
 * - reversible (step 0.01): its own discrete loss's central differences
 *   (h = 1e-6): |g - fd| <= 1e-7 + 1e-6 |fd|; and within 1e-3 relative of
 *   the others (second order at h = 0.01).
 * CDE (cde_methods_vs_fd): a 2-channel (time + one value) linear-path CDE,
 * hidden 2, a tanh vector field; the loss on the readout and, with
 * "output": "hidden", on the hidden state; backprop, adjoint and
 * adjoint_checkpointed against central differences over every parameter
 * of the three networks, same tolerances.
 * The memory cap (tape_cap): a daemon with gradient_max_tape = 64K answers
 * a backprop request of thousands of steps (ode and cde) with 413 naming
 * "method", the same request with adjoint_checkpointed with 200, and goes
 * on serving.
 * The closed-form cases, shapes, null targets and errors are data-driven
 * cases in tests/api/gradient_* (check_api). */
#include "apitest.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tu_daemon d;
static const char *const json_ct[] = {"Content-Type: application/json", NULL};

#define P 20 /* 3 x (2 + 1) + 3, then 2 x 3 + 2 */
static const double theta0[P] = {0.4,  -0.7, 0.3, 0.9,  0.2, -0.5, -0.3, 0.6, 0.1, 0.05,
                                 -0.2, 0.3,  0.8, -0.6, 0.4, -0.9, 0.7,  0.5, 0.1, -0.15};
static const double y00[2] = {0.6, -0.4};
static int version_n = 0;

static json_t *post_json(const char *path, json_t *body, int status)
{
    char *text = json_dumps(body, JSON_REAL_PRECISION(17));
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "POST", path, json_ct, text, &r), 0);
    free(text);
    ck_assert_msg(r.status == status, "status %d, want %d: %.400s", r.status, status, r.body);
    json_error_t je;
    json_t *j = json_loadb(r.body, r.body_len, JSON_DECODE_INT_AS_REAL, &je);
    ck_assert_msg(j != NULL, "not JSON: %.200s", r.body);
    tu_response_free(&r);
    return j;
}

static json_t *rows(const double *w, size_t n, size_t m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array();
        for (size_t k = 0; k < m; k++)
            json_array_append_new(row, json_real(w[i * m + k]));
        json_array_append_new(a, row);
    }
    return a;
}

static json_t *vec(const double *w, size_t n)
{
    json_t *a = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(a, json_real(w[k]));
    return a;
}

/* Upload theta as a new version of "g"; its number. */
static int upload(const double *th)
{
    json_t *l0 = json_pack("{s:o,s:o,s:s}", "weight", rows(th, 3, 3), "bias", vec(th + 9, 3),
                           "activation", "tanh");
    json_t *l1 = json_pack("{s:o,s:o,s:s}", "weight", rows(th + 12, 2, 3), "bias", vec(th + 18, 2),
                           "activation", "identity");
    json_t *doc = json_pack("{s:s,s:i,s:{s:b,s:[o,o]}}", "kind", "ode", "state_dim", 2,
                            "vector_field", "time_input", 1, "layers", l0, l1);
    json_t *rep = post_json("/v1/models/g/versions", doc, 201);
    json_decref(doc);
    json_decref(rep);
    return ++version_n;
}

struct req {
    const char *method;
    double rtol, step;
};

/* The endpoint's reply for version v at y0. */
static json_t *gradient(int v, const double *y0, const struct req *q)
{
    json_t *solver = q->step > 0 ? json_pack("{s:f}", "step", q->step)
                                 : json_pack("{s:s,s:f,s:f}", "method", "dopri5", "rtol", q->rtol,
                                             "atol", q->rtol * 1e-2);
    json_t *body = json_pack("{s:i,s:o,s:[f,f,f],s:[[f,f],[f,n],[f,f]],s:s,s:s,s:o}", "version", v,
                             "y0", vec(y0, 2), "t", 0.5, 1.3, 2.0, "targets", 0.3, -0.2, 0.1, -0.4,
                             0.2, "loss", "sse", "method", q->method, "solver", solver);
    json_t *rep = post_json("/v1/models/g/gradient", body, 200);
    json_decref(body);
    return rep;
}

static double loss_of(int v, const double *y0, const struct req *q)
{
    json_t *rep = gradient(v, y0, q);
    const double l = json_real_value(json_object_get(rep, "loss"));
    json_decref(rep);
    return l;
}

/* The reply's gradient flattened: theta in the model's order, then y0. */
static void flatten(const json_t *rep, double *g)
{
    const json_t *grad = json_object_get(rep, "grad");
    const json_t *layers = json_object_get(grad, "layers");
    ck_assert_int_eq(json_array_size(layers), 2);
    size_t k = 0;
    for (size_t i = 0; i < 2; i++) {
        const json_t *L = json_array_get(layers, i), *w = json_object_get(L, "weight");
        for (size_t r = 0; r < json_array_size(w); r++)
            for (size_t c = 0; c < json_array_size(json_array_get(w, r)); c++)
                g[k++] = json_real_value(json_array_get(json_array_get(w, r), c));
        const json_t *b = json_object_get(L, "bias");
        for (size_t r = 0; r < json_array_size(b); r++)
            g[k++] = json_real_value(json_array_get(b, r));
    }
    ck_assert_int_eq(k, P);
    const json_t *gy = json_object_get(grad, "y0");
    ck_assert_int_eq(json_array_size(gy), 2);
    for (size_t i = 0; i < 2; i++)
        g[P + i] = json_real_value(json_array_get(gy, i));
}

/* Central differences through the endpoint: P parameters, then y0. */
static void fd(int v0, const struct req *q, double h, double *out)
{
    double th[P];
    for (size_t i = 0; i < P; i++) {
        memcpy(th, theta0, sizeof th);
        th[i] = theta0[i] + h;
        const int vp = upload(th);
        th[i] = theta0[i] - h;
        const int vm = upload(th);
        out[i] = (loss_of(vp, y00, q) - loss_of(vm, y00, q)) / (2 * h);
    }
    for (size_t i = 0; i < 2; i++) {
        double y[2] = {y00[0], y00[1]};
        y[i] = y00[i] + h;
        const double lp = loss_of(v0, y, q);
        y[i] = y00[i] - h;
        out[P + i] = (lp - loss_of(v0, y, q)) / (2 * h);
    }
}

static void check_close(const char *what, const double *g, const double *ref, double abs_tol,
                        double rel_tol)
{
    for (size_t i = 0; i < P + 2; i++)
        ck_assert_msg(fabs(g[i] - ref[i]) <= abs_tol + rel_tol * fabs(ref[i]),
                      "%s[%zu]: %.15g vs %.15g (diff %.3g)", what, i, g[i], ref[i],
                      fabs(g[i] - ref[i]));
}

START_TEST(methods_vs_fd)
{
    ck_assert_msg(apitest_start(&d, NULL) == 0, "the daemon did not start");
    const int v0 = upload(theta0);
    const struct req tight[3] = {
        {"backprop", 1e-11, 0}, {"adjoint", 1e-11, 0}, {"adjoint_checkpointed", 1e-11, 0}};
    double ref[P + 2], g[3][P + 2];
    fd(v0, &tight[2], 1e-5, ref);
    for (size_t m = 0; m < 3; m++) {
        json_t *rep = gradient(v0, y00, &tight[m]);
        flatten(rep, g[m]);
        json_decref(rep);
        check_close(tight[m].method, g[m], ref, 1e-6, 1e-5);
    }
    const struct req rev = {"reversible", 0, 0.01};
    double gr[P + 2], rfd[P + 2];
    json_t *rep = gradient(v0, y00, &rev);
    flatten(rep, gr);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "stats"), "method")),
                     "reversible");
    json_decref(rep);
    fd(v0, &rev, 1e-6, rfd);
    check_close("reversible vs its fd", gr, rfd, 1e-7, 1e-6);
    check_close("reversible vs adjoint_checkpointed", gr, g[2], 1e-4, 1e-3);
    ck_assert_int_eq(apitest_stop(&d), 0);
}
END_TEST

/* ---- cde ------------------------------------------------------------------------ */

#define CP 21 /* initial 2 x 2 + 2, vector_field 4 x 2 + 4, readout 1 x 2 + 1 */
static const double ctheta0[CP] = {0.8,  0.3, -0.2, 0.6, 0.1,  -0.1, /* initial */
                                   0.5,  -0.4, 0.3, 0.7, -0.6, 0.2, 0.4, -0.3, /* field W */
                                   0.1,  -0.2, 0.05, 0.3,                      /* field b */
                                   0.9,  -0.7, 0.15};                          /* readout */
static int cde_upload(const double *th)
{
    json_t *doc = json_pack(
        "{s:s,s:i,s:i,s:{s:b},s:s,s:{s:[{s:o,s:o}]},s:{s:[{s:o,s:o,s:s}]},s:{s:[{s:o,s:o}]}}",
        "kind", "cde", "input_channels", 2, "hidden_dim", 2, "channels", "time", 1,
        "interpolation", "linear", "initial", "layers", "weight", rows(th, 2, 2), "bias",
        vec(th + 4, 2), "vector_field", "layers", "weight", rows(th + 6, 4, 2), "bias",
        vec(th + 14, 4), "activation", "tanh", "readout", "layers", "weight", rows(th + 18, 1, 2),
        "bias", vec(th + 20, 1));
    json_t *rep = post_json("/v1/models/gc/versions", doc, 201);
    json_decref(doc);
    const int v = (int)json_number_value(json_object_get(rep, "version"));
    json_decref(rep);
    ck_assert_int_gt(v, 0);
    return v;
}

/* The cde request for version v: the readout or the hidden state. */
static json_t *cde_body(int v, const char *method, int hidden)
{
    json_t *obs = json_pack("{s:[f,f,f,f,f],s:[[f],[f],[f],[f],[f]]}", "t", 0.0, 0.7, 1.5, 2.4,
                            3.0, "x", 0.3, -0.5, 0.8, 0.1, 0.6);
    json_t *targets = hidden ? json_pack("[[f,f],n,[f,n],[f,f],[f,f]]", 0.1, 0.2, 0.4, -0.2, 0.3,
                                         0.5, -0.1)
                             : json_pack("[[f],n,[f],[f],[f]]", 0.1, 0.4, -0.2, 0.3);
    return json_pack("{s:i,s:o,s:o,s:s,s:s,s:s,s:{s:s,s:f,s:f}}", "version", v, "observations", obs,
                     "targets", targets, "output", hidden ? "hidden" : "readout", "loss", "sse",
                     "method", method, "solver", "method", "dopri5", "rtol", 1e-11, "atol", 1e-13);
}

static json_t *cde_gradient(int v, const char *method, int hidden)
{
    json_t *body = cde_body(v, method, hidden);
    json_t *rep = post_json("/v1/models/gc/gradient", body, 200);
    json_decref(body);
    return rep;
}

/* The reply's gradient flattened in model_def order. */
static void cde_flatten(const json_t *rep, double *g)
{
    static const char *const nets[] = {"initial", "vector_field", "readout"};
    const json_t *grad = json_object_get(rep, "grad");
    size_t k = 0;
    for (size_t n = 0; n < 3; n++) {
        const json_t *layers = json_object_get(json_object_get(grad, nets[n]), "layers");
        ck_assert_int_eq(json_array_size(layers), 1);
        const json_t *L = json_array_get(layers, 0), *w = json_object_get(L, "weight");
        for (size_t r = 0; r < json_array_size(w); r++)
            for (size_t c = 0; c < json_array_size(json_array_get(w, r)); c++)
                g[k++] = json_real_value(json_array_get(json_array_get(w, r), c));
        const json_t *b = json_object_get(L, "bias");
        for (size_t r = 0; r < json_array_size(b); r++)
            g[k++] = json_real_value(json_array_get(b, r));
    }
    ck_assert_int_eq(k, CP);
}

START_TEST(cde_methods_vs_fd)
{
    ck_assert_msg(apitest_start(&d, NULL) == 0, "the daemon did not start");
    const double h = 1e-5;
    const int v0 = cde_upload(ctheta0);
    int vp[CP], vm[CP];
    double th[CP];
    for (size_t i = 0; i < CP; i++) {
        memcpy(th, ctheta0, sizeof th);
        th[i] = ctheta0[i] + h;
        vp[i] = cde_upload(th);
        th[i] = ctheta0[i] - h;
        vm[i] = cde_upload(th);
    }
    static const char *const methods[] = {"backprop", "adjoint", "adjoint_checkpointed"};
    for (int hidden = 0; hidden < 2; hidden++) {
        double ref[CP], g[CP];
        for (size_t i = 0; i < CP; i++) {
            json_t *a = cde_gradient(vp[i], "adjoint_checkpointed", hidden),
                   *b = cde_gradient(vm[i], "adjoint_checkpointed", hidden);
            ref[i] = (json_real_value(json_object_get(a, "loss")) -
                      json_real_value(json_object_get(b, "loss"))) /
                     (2 * h);
            json_decref(a);
            json_decref(b);
        }
        for (size_t m = 0; m < 3; m++) {
            json_t *rep = cde_gradient(v0, methods[m], hidden);
            ck_assert(json_real_value(json_object_get(rep, "loss")) > 0);
            cde_flatten(rep, g);
            json_decref(rep);
            for (size_t i = 0; i < CP; i++)
                ck_assert_msg(fabs(g[i] - ref[i]) <= 1e-6 + 1e-5 * fabs(ref[i]),
                              "%s (%s)[%zu]: %.15g vs %.15g", methods[m],
                              hidden ? "hidden" : "readout", i, g[i], ref[i]);
            if (hidden) /* the readout is not in a hidden-state loss */
                for (size_t i = 18; i < CP; i++)
                    ck_assert(g[i] == 0);
        }
    }
    ck_assert_int_eq(apitest_stop(&d), 0);
}
END_TEST

/* ---- the memory cap ------------------------------------------------------------- */

static void expect_413_method(const char *path, json_t *body)
{
    json_t *rep = post_json(path, body, 413);
    const json_t *err = json_object_get(rep, "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "too_large");
    ck_assert_str_eq(json_string_value(json_object_get(err, "field")), "method");
    const char *msg = json_string_value(json_object_get(err, "message"));
    ck_assert_msg(strstr(msg, "adjoint_checkpointed") && strstr(msg, "gradient_max_tape"), "%s",
                  msg);
    json_decref(rep);
}

START_TEST(tape_cap)
{
    const char *const args[] = {"--gradient-max-tape", "64K", NULL};
    ck_assert_msg(apitest_start(&d, args) == 0, "the daemon did not start");
    const int cv = cde_upload(ctheta0);
    json_t *up = json_pack("{s:s,s:i,s:{s:b,s:[{s:o,s:o,s:s},{s:o,s:o,s:s}]}}", "kind", "ode",
                           "state_dim", 2, "vector_field", "time_input", 1, "layers", "weight",
                           rows(theta0, 3, 3), "bias", vec(theta0 + 9, 3), "activation", "tanh",
                           "weight", rows(theta0 + 12, 2, 3), "bias", vec(theta0 + 18, 2),
                           "activation", "identity");
    json_t *urep = post_json("/v1/models/g/versions", up, 201);
    const int v = (int)json_number_value(json_object_get(urep, "version"));
    json_decref(up);
    json_decref(urep);
    /* ode: rk4 at h = 1e-3 to t = 5: 5000 steps of 5 stages, well over 64K of tape */
    json_t *body = json_pack("{s:i,s:o,s:[f,f],s:[[f,f],[f,f]],s:s,s:{s:s,s:f}}", "version", v,
                             "y0", vec(y00, 2), "t", 1.0, 5.0, "targets", 0.3, -0.2, 0.1, 0.4,
                             "method", "backprop", "solver", "method", "rk4", "step", 1e-3);
    expect_413_method("/v1/models/g/gradient", body);
    json_object_set_new(body, "method", json_string("adjoint_checkpointed"));
    json_decref(post_json("/v1/models/g/gradient", body, 200));
    json_object_set_new(body, "method", json_string("backprop"));
    json_object_set_new(body, "t", json_pack("[f]", 0.05)); /* 50 steps: under the cap */
    json_object_set_new(body, "targets", json_pack("[[f,f]]", 0.3, -0.2));
    json_t *rep = post_json("/v1/models/g/gradient", body, 200);
    ck_assert(json_number_value(json_object_get(json_object_get(rep, "stats"), "tape_bytes")) > 0);
    json_decref(rep);
    json_decref(body);
    /* cde: the same at h = 1e-3 over the series' 3 time units */
    body = cde_body(cv, "backprop", 0);
    json_object_set_new(body, "solver", json_pack("{s:s,s:f}", "method", "rk4", "step", 1e-3));
    expect_413_method("/v1/models/gc/gradient", body);
    json_object_set_new(body, "method", json_string("adjoint_checkpointed"));
    json_decref(post_json("/v1/models/gc/gradient", body, 200));
    json_decref(body);
    ck_assert_int_eq(apitest_stop(&d), 0);
}
END_TEST

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

static Suite *suite(void)
{
    Suite *s = suite_create("gradient_http");
    TCase *tc = tcase_create("fd");
    tcase_add_unchecked_fixture(tc, NULL, cleanup);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, methods_vs_fd);
    tcase_add_test(tc, cde_methods_vs_fd);
    tcase_add_test(tc, tape_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
