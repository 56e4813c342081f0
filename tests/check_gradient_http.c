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
 * The closed-form case, shapes, null targets and errors are data-driven
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
