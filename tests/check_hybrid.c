/* tests/check_hybrid.c: hybrid models (model/hybrid.h, model/hybrid_expr.h,
 * codec_hybrid): trajectories against SciPy (tests/fixtures/gen_hybrid.py),
 * the symbolic Jacobian, df/dt and parameter Jacobian against central
 * differences on random states, every refusal of the document with its
 * field, the limits (a 20,000-deep nest, a 60,000-term sum), a non-finite
 * equation as ERR_SOLVER with the time, a blow-up naming the state (y0,
 * y0[b]) that failed, the export's byte round trip, and
 * concurrent solves and builds of one model (run under TSan in CI). */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_model.h"
#include "codec/codec_model_solver.h"
#include "codec/jbuf.h"
#include "model/hybrid.h"
#include "model/hybrid_expr.h"
#include "testutil.h"

static err_code decode_text(const char *text, model_def *d, err *e)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    ck_assert_msg(doc != NULL, "bad test JSON: %s", je.text);
    err_code rc = codec_model_decode(doc, d, e);
    json_decref(doc);
    return rc;
}

static hybrid_model *build(const char *text)
{
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_msg(decode_text(text, &d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    hybrid_model *m = NULL;
    ck_assert_msg(hybrid_model_new(&m, &d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    model_def_free(&d);
    return m;
}

/* ---- against SciPy ---- */

START_TEST(test_reference)
{
    char path[4096];
    json_error_t je;
    json_t *fx = json_load_file(tu_source_path(path, sizeof path, "tests/fixtures/hybrid_reference.json"),
                                0, &je);
    ck_assert_msg(fx != NULL, "%s", je.text);
    json_t *cases = json_object_get(fx, "cases");
    ck_assert_int_ge(json_array_size(cases), 4);
    size_t ci;
    json_t *c;
    json_array_foreach(cases, ci, c) {
        model_def d;
        err e;
        err_clear(&e);
        ck_assert_msg(codec_model_decode(json_object_get(c, "model"), &d, &e) == ERR_OK, "%s: %s",
                      e.field, e.message);
        hybrid_model *m;
        ck_assert_int_eq(hybrid_model_new(&m, &d, &e), ERR_OK);
        const json_t *y0 = json_object_get(c, "y0"), *t = json_object_get(c, "t");
        const size_t batch = json_array_size(y0), nt = json_array_size(t), n = d.state_dim;
        double *yv = malloc(batch * n * sizeof *yv), *tv = malloc(nt * sizeof *tv);
        double *out = malloc(batch * nt * n * sizeof *out);
        for (size_t b = 0; b < batch; b++)
            for (size_t k = 0; k < n; k++)
                yv[b * n + k] = json_number_value(json_array_get(json_array_get(y0, b), k));
        for (size_t i = 0; i < nt; i++)
            tv[i] = json_number_value(json_array_get(t, i));
        struct model_traj_query q = {.t0 = json_number_value(json_object_get(c, "t0")), .batch = batch,
                                 .y0 = yv, .t = tv, .n_t = nt};
        ck_assert_int_eq(codec_model_solver_decode(json_object_get(c, "solver"), "solver",
                                                   &q.solver, &e), ERR_OK);
        struct model_traj_stats st;
        ck_assert_msg(hybrid_model_solve(m, &q, out, &st, &e) == ERR_OK, "%s: %s",
                      json_string_value(json_object_get(c, "name")), e.message);
        const double tol = json_number_value(json_object_get(c, "tol"));
        const json_t *ex = json_object_get(c, "expected");
        for (size_t b = 0; b < batch; b++)
            for (size_t i = 0; i < nt; i++)
                for (size_t k = 0; k < n; k++) {
                    double want = json_number_value(
                        json_array_get(json_array_get(json_array_get(ex, b), i), k));
                    double got = out[(b * nt + i) * n + k];
                    ck_assert_msg(fabs(got - want) <= tol * fmax(1, fabs(want)),
                                  "%s: state %zu t=%g [%zu]: %.17g, SciPy %.17g",
                                  json_string_value(json_object_get(c, "name")), b, tv[i], k, got,
                                  want);
                }
        if (strstr(json_string_value(json_object_get(c, "name")), "Van der Pol"))
            ck_assert_int_gt(st.n_jac, 0); /* the implicit path, with the symbolic Jacobian */
        free(yv);
        free(tv);
        free(out);
        hybrid_model_free(m);
        model_def_free(&d);
    }
    json_decref(fx);
}
END_TEST

/* ---- derivatives against central differences ---- */

static const char *const rich =
    "{\"kind\":\"hybrid\",\"state_dim\":3,\"state_names\":[\"x\",\"y\",\"z\"],"
    "\"parameters\":{\"a\":1.7,\"b\":-0.4,\"c\":0.9},"
    "\"equations\":[\"a*sin(x)*y - b*z^3 + nn_0*t + max(x, y)\","
    "\"exp(-c*x^2)/(1 + y^2) + sqrt(1 + z^2)*nn_1 - tanh(a*t - z) + abs(y)*b\","
    "\"pow(1 + x^2, c) + log(2 + cos(y*z)) - min(nn_0, nn_1)*a + cosh(b*x) - tan(0.3*z)\"],"
    "\"network\":{\"time_input\":true,\"layers\":["
    "{\"weight\":[[0.3,-0.2,0.5,0.1],[0.7,0.4,-0.6,0.2],[-0.1,0.8,0.3,-0.5]],"
    "\"bias\":[0.1,-0.2,0.05],\"activation\":\"tanh\"},"
    "{\"weight\":[[0.5,-0.3,0.9],[-0.4,0.6,0.2]],\"bias\":[0.2,-0.1]}]},"
    "\"trainable\":[\"a\",\"c\"],\"bounds\":{\"c\":[0,null],\"a\":[-10,10]}}";

static double urand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65535.0 * 2 - 1;
}

START_TEST(test_derivatives)
{
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_int_eq(decode_text(rich, &d, &e), ERR_OK);
    hybrid_model *m;
    ck_assert_int_eq(hybrid_model_new(&m, &d, &e), ERR_OK);
    hybrid_ws *w;
    ck_assert_int_eq(hybrid_ws_new(&w, m, &e), ERR_OK);
    const size_t n = 3, np = hybrid_model_n_params(m);
    ck_assert_uint_eq(np, d.n_params);
    double J[9], dfdt[3], f0[3], fp[3], fm[3], *G = malloc(n * np * sizeof *G);
    unsigned seed = 22;
    for (int trial = 0; trial < 20; trial++) {
        double y[3], t = 1.5 * urand(&seed), h = 1e-6;
        for (size_t k = 0; k < n; k++)
            y[k] = 1.5 * urand(&seed);
        ck_assert_int_eq(hybrid_model_field(w, t, y, f0), 0);
        hybrid_model_jacobian(w, t, y, J, dfdt);
        for (size_t j = 0; j <= n; j++) { /* column j of J, or df/dt at j = n */
            double yp[3], ym[3];
            memcpy(yp, y, sizeof yp);
            memcpy(ym, y, sizeof ym);
            if (j < n) yp[j] += h, ym[j] -= h;
            ck_assert_int_eq(hybrid_model_field(w, j < n ? t : t + h, yp, fp), 0);
            ck_assert_int_eq(hybrid_model_field(w, j < n ? t : t - h, ym, fm), 0);
            for (size_t i = 0; i < n; i++) {
                double fd = (fp[i] - fm[i]) / (2 * h), an = j < n ? J[i * n + j] : dfdt[i];
                ck_assert_msg(fabs(fd - an) <= 1e-6 * fmax(1, fabs(fd)),
                              "trial %d d f%zu / d %s%zu: %.12g, differences %.12g", trial, i,
                              j < n ? "y" : "t", j, an, fd);
            }
        }
        hybrid_model_param_jacobian(w, t, y, G);
        /* against differences of rebuilt models with one parameter moved */
        for (size_t p = 0; p < np; p += (p < d.n_params - 4 ? 3 : 1)) {
            double sum[2][3];
            for (int s = 0; s < 2; s++) {
                model_def dp;
                ck_assert_int_eq(model_def_copy(&dp, &d, &e), ERR_OK);
                dp.params[p] += s ? -h : h;
                hybrid_model *mp;
                ck_assert_int_eq(hybrid_model_new(&mp, &dp, &e), ERR_OK);
                hybrid_ws *wp;
                ck_assert_int_eq(hybrid_ws_new(&wp, mp, &e), ERR_OK);
                ck_assert_int_eq(hybrid_model_field(wp, t, y, sum[s]), 0);
                hybrid_ws_free(wp);
                hybrid_model_free(mp);
                model_def_free(&dp);
            }
            for (size_t i = 0; i < n; i++) {
                double fd = (sum[0][i] - sum[1][i]) / (2 * h);
                ck_assert_msg(fabs(fd - G[i * np + p]) <= 1e-6 * fmax(1, fabs(fd)),
                              "trial %d d f%zu / d theta%zu: %.12g, differences %.12g", trial, i, p,
                              G[i * np + p], fd);
            }
        }
    }
    free(G);
    hybrid_ws_free(w);
    hybrid_model_free(m);
    model_def_free(&d);
}
END_TEST

/* ---- refusals ---- */

static void refused(const char *text, err_code code, const char *field, const char *part)
{
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_msg(decode_text(text, &d, &e) == code, "%s: got %d %s: %s", text, e.code, e.field,
                  e.message);
    ck_assert_msg(strcmp(e.field, field) == 0, "field %s, want %s (%s)", e.field, field, e.message);
    ck_assert_msg(strstr(e.message, part) != NULL, "message '%s' lacks '%s'", e.message, part);
}

#define DOC(names, pars, eqs, more)                                                                \
    "{\"kind\":\"hybrid\",\"state_dim\":2,\"state_names\":" names ",\"parameters\":" pars          \
    ",\"equations\":" eqs more "}"
#define NET1 ",\"network\":{\"layers\":[{\"weight\":[[1,2]],\"bias\":[0]}]}"

START_TEST(test_refusals)
{
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a*x +* 2\"]", ""), ERR_INVALID,
            "equations[1]", "character 6");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a*(x - 1\"]", ""), ERR_INVALID,
            "equations[1]", "never closed");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a*x - k\"]", ""), ERR_INVALID,
            "equations[1]", "unknown identifier \"k\"");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"erf(x)\"]", ""), ERR_INVALID,
            "equations[1]", "unknown function \"erf\"");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a*nn_1\"]", NET1), ERR_INVALID,
            "equations[1]", "nn_1");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a*nn_0\"]", ""), ERR_INVALID,
            "equations[1]", "no network");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\"]", ""), ERR_INVALID, "equations",
            "state_dim is 2");
    refused(DOC("[\"x\",\"a\"]", "{\"a\":1}", "[\"a\",\"x\"]", ""), ERR_INVALID, "parameters.a",
            "used twice");
    refused(DOC("[\"x\",\"x\"]", "{\"a\":1}", "[\"x\",\"x\"]", ""), ERR_INVALID, "state_names[1]",
            "used twice");
    refused(DOC("[\"x\",\"t\"]", "{\"a\":1}", "[\"x\",\"x\"]", ""), ERR_INVALID, "state_names[1]",
            "not a name");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a\"]", ",\"trainable\":[\"a\",\"b\"]"),
            ERR_INVALID, "trainable[1]", "not a parameter");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"a\"]", ",\"bounds\":{\"a\":[2,null]}"),
            ERR_INVALID, "bounds.a", "excludes the starting value");
    refused(DOC("[\"x\",\"y\"]", "{}", "[\"y\",\"x\"]", ""), ERR_INVALID, "parameters",
            "at least one parameter or a network");
    refused(DOC("[\"x\",\"y\"]", "{\"a\":1}", "[\"y\",\"min(x)\"]", ""), ERR_INVALID,
            "equations[1]", "takes 2 arguments");
}
END_TEST

/* A document whose second equation is `eq`. */
static char *doc_with(const char *eq)
{
    static const char fmt[] = "{\"kind\":\"hybrid\",\"state_dim\":2,\"state_names\":[\"x\",\"y\"],"
                              "\"parameters\":{\"a\":1},\"equations\":[\"y\",\"%s\"]}";
    size_t n = sizeof fmt + strlen(eq);
    char *s = malloc(n);
    snprintf(s, n, fmt, eq);
    return s;
}

START_TEST(test_limits)
{
    const size_t deep = 20000, terms = 60000;
    char *nest = malloc(2 * deep + 2), *sum = malloc(2 * terms + 1);
    for (size_t i = 0; i < deep; i++)
        nest[i] = '(', nest[deep + 1 + i] = ')';
    nest[deep] = 'x';
    nest[2 * deep + 1] = 0;
    for (size_t i = 0; i < terms; i++)
        sum[2 * i] = 'x', sum[2 * i + 1] = '+';
    sum[2 * terms - 1] = 0;
    char *a = doc_with(nest), *b = doc_with(sum);
    /* the defaults: over the length already */
    refused(a, ERR_TOO_LARGE, "equations[1]", "hybrid_max_expr_len");
    refused(b, ERR_TOO_LARGE, "equations[1]", "hybrid_max_expr_len");
    /* with room for the text, the depth and node limits stop them before
     * libmatheval (recursive) sees a character */
    hybrid_expr_limits_set(1 << 20, HYBRID_EXPR_MAX_NODES_DEFAULT, HYBRID_EXPR_MAX_DEPTH_DEFAULT);
    refused(a, ERR_TOO_LARGE, "equations[1]", "hybrid_max_depth");
    refused(b, ERR_TOO_LARGE, "equations[1]", "hybrid_max_nodes");
    /* and within them the same shapes are fine */
    char *ok = malloc(100);
    snprintf(ok, 100, "%.40sx%.40s", nest, nest + deep + 1);
    model_def d;
    err e;
    err_clear(&e);
    char *c = doc_with(ok);
    ck_assert_int_eq(decode_text(c, &d, &e), ERR_OK);
    model_def_free(&d);
    hybrid_expr_limits_set(HYBRID_EXPR_MAX_LEN_DEFAULT, HYBRID_EXPR_MAX_NODES_DEFAULT,
                           HYBRID_EXPR_MAX_DEPTH_DEFAULT);
    free(c);
    free(ok);
    free(a);
    free(b);
    free(nest);
    free(sum);
}
END_TEST

START_TEST(test_nonfinite)
{
    hybrid_model *m = build("{\"kind\":\"hybrid\",\"state_dim\":1,\"state_names\":[\"x\"],"
                            "\"parameters\":{\"r\":1},\"equations\":[\"r*log(x - 2)\"]}");
    double y0 = 1, t[] = {1.0}, out[1];
    struct model_traj_query q = {.t0 = 0, .batch = 1, .y0 = &y0, .t = t, .n_t = 1};
    err e;
    err_clear(&e);
    ck_assert_int_eq(hybrid_model_solve(m, &q, out, NULL, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "equations[0]") && strstr(e.message, "t=0"), "%s", e.message);
    hybrid_model_free(m);
    m = build("{\"kind\":\"hybrid\",\"state_dim\":1,\"state_names\":[\"x\"],"
              "\"parameters\":{\"r\":1},\"equations\":[\"r/(x - x)\"]}");
    err_clear(&e);
    ck_assert_int_eq(hybrid_model_solve(m, &q, out, NULL, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "not finite"), "%s", e.message);
    ck_assert_str_eq(e.field, "y0");
    hybrid_model_free(m);
}
END_TEST

/* x' = x^2 from x0 blows up at t = 1/x0 (closed form x0 / (1 - x0 t)): a
 * solve past it is a solver_failed naming the initial state that blew up,
 * "y0" for one state and "y0[b]" in a batch, as an ode model's trajectories
 * are named (the client learns which of its states to look at); the time
 * reached is before the blow-up. The states before it in the batch are
 * answered by the closed form. */
START_TEST(test_blowup_names_state)
{
    hybrid_model *m = build("{\"kind\":\"hybrid\",\"state_dim\":1,\"state_names\":[\"x\"],"
                            "\"parameters\":{\"k\":1},\"equations\":[\"k*x^2\"]}");
    const char *methods[] = {"dopri5", "rodas4", "rk4"};
    for (int k = 0; k < 3; k++) {
        double y0[3] = {0.1, 0.2, 1.0}, t[1] = {1.5}, out[3];
        struct model_traj_query q = {.t0 = 0, .batch = 1, .y0 = y0 + 2, .t = t, .n_t = 1};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", methods[k]);
        struct model_traj_stats st;
        err e;
        err_clear(&e);
        ck_assert_int_eq(hybrid_model_solve(m, &q, out, &st, &e), ERR_SOLVER);
        ck_assert_msg(strcmp(e.field, "y0") == 0, "%s: field '%s' (%s)", methods[k], e.field,
                      e.message);
        ck_assert_msg(st.t_fail > 0.9 && st.t_fail < 1.01, "%s: t_fail %g", methods[k], st.t_fail);
        q.batch = 3;
        q.y0 = y0;
        err_clear(&e);
        ck_assert_int_eq(hybrid_model_solve(m, &q, out, &st, &e), ERR_SOLVER);
        ck_assert_msg(strcmp(e.field, "y0[2]") == 0, "%s: field '%s' (%s)", methods[k], e.field,
                      e.message);
        for (int b = 0; b < 2; b++) /* x0 / (1 - 1.5 x0), solved before y0[2] failed */
            ck_assert_double_eq_tol(out[b], y0[b] / (1 - 1.5 * y0[b]), 1e-3 * out[b]);
        /* a per-state grid that skips the failing state: no error */
        const size_t len[3] = {1, 1, 0};
        q.t_len = len;
        q.n_t = 2;
        double t2[2] = {1.5, 2.0};
        q.t = t2;
        err_clear(&e);
        ck_assert_int_eq(hybrid_model_solve(m, &q, out, &st, &e), ERR_OK);
    }
    hybrid_model_free(m);
}
END_TEST

/* Encode, decode the text, encode again: the same bytes. */
START_TEST(test_roundtrip)
{
    model_def d, d2;
    err e;
    err_clear(&e);
    ck_assert_int_eq(decode_text(rich, &d, &e), ERR_OK);
    jbuf b1, b2;
    jbuf_init(&b1);
    jbuf_init(&b2);
    codec_model_encode(&d, &b1);
    size_t n1, n2;
    char *t1 = jbuf_take(&b1, &n1);
    ck_assert_int_eq(decode_text(t1, &d2, &e), ERR_OK);
    codec_model_encode(&d2, &b2);
    char *t2 = jbuf_take(&b2, &n2);
    ck_assert_str_eq(t1, t2);
    ck_assert_ptr_nonnull(strstr(t1, "\"trainable\":[\"a\",\"c\"]"));
    ck_assert_ptr_nonnull(strstr(t1, "\"bounds\":{\"a\":[-10.0,10.0],\"c\":[0.0,null]}"));
    ck_assert_ptr_nonnull(strstr(t1, "\"parameters\":{\"a\":1.7,\"b\":-0.4,\"c\":0.9}"));
    free(t1);
    free(t2);
    model_def_free(&d);
    model_def_free(&d2);
}
END_TEST

/* ---- threads: one shared model, many solvers; builds in parallel ---- */

typedef struct job {
    const hybrid_model *m;
    double out[8];
    int rc;
} job;

static void *solve_many(void *arg)
{
    job *j = arg;
    double y0[3] = {0.3, -0.2, 0.5}, t[] = {0.1, 0.2}, jac[9], dfdt[3];
    err e;
    err_clear(&e);
    for (int k = 0; k < 20 && j->rc == 0; k++) {
        struct model_traj_query q = {.t0 = 0, .batch = 1, .y0 = y0, .t = t, .n_t = 2};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", k % 2 ? "rodas4" : "dopri5");
        j->rc = hybrid_model_solve(j->m, &q, j->out + (k % 2) * 3, NULL, &e);
    }
    hybrid_ws *w;
    if (hybrid_ws_new(&w, j->m, &e) == ERR_OK) {
        hybrid_model_jacobian(w, 0.2, y0, jac, dfdt);
        j->out[6] = jac[4];
        j->out[7] = dfdt[2];
        hybrid_ws_free(w);
    }
    /* a build in parallel: libmatheval's parser behind its mutex */
    model_def d;
    if (decode_text(rich, &d, &e) == ERR_OK) {
        hybrid_model *m2;
        if (hybrid_model_new(&m2, &d, &e) == ERR_OK) hybrid_model_free(m2);
        model_def_free(&d);
    }
    return NULL;
}

START_TEST(test_threads)
{
    hybrid_model *m = build(rich);
    enum { N = 6 };
    pthread_t th[N];
    job jobs[N];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].m = m;
        ck_assert_int_eq(pthread_create(&th[i], NULL, solve_many, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(jobs[i].rc, 0);
        ck_assert_int_eq(memcmp(jobs[i].out, jobs[0].out, sizeof jobs[0].out), 0);
    }
    hybrid_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hybrid");
    TCase *tc = tcase_create("hybrid");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reference);
    tcase_add_test(tc, test_derivatives);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_nonfinite);
    tcase_add_test(tc, test_blowup_names_state);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return tu_suite_run(s);
}
