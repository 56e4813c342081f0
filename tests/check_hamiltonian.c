/* check_hamiltonian: the "hamiltonian" model kind (model/hamiltonian.h):
 * the field of a quadratic H is the linear field, the Jacobian against
 * central differences for every form, energy conservation over a long
 * rollout (gauss4 bounded and without trend, dopri5 drifting), the
 * document's round trip and every refusal with its field.
 *
 * Models are written as documents (codec/codec_model.h), as a client
 * would upload them; random weights from a fixed xorshift seed. */
#include "codec/codec_model.h"
#include "codec/jbuf.h"
#include "model/hamiltonian.h"
#include "model/ode_model.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x853c49e6748fea9bull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

static json_t *matrix(size_t rows, size_t cols, double lo, double hi)
{
    json_t *m = json_array();
    for (size_t i = 0; i < rows; i++) {
        json_t *r = json_array();
        for (size_t j = 0; j < cols; j++)
            json_array_append_new(r, json_real(urand(lo, hi)));
        json_array_append_new(m, r);
    }
    return m;
}

static json_t *vec(size_t n, double lo, double hi)
{
    json_t *v = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(v, json_real(urand(lo, hi)));
    return v;
}

static json_t *layer(json_t *w, json_t *b, const char *act)
{
    return json_pack("{s:o, s:o, s:s}", "weight", w, "bias", b, "activation", act);
}

/* A random in -> width -> width -> 1 network of activation act. */
static json_t *net(size_t in, size_t width, const char *act)
{
    return json_pack("{s:[o, o, o]}", "layers", layer(matrix(width, in, -1, 1), vec(width, -.5, .5), act),
                     layer(matrix(width, width, -.6, .6), vec(width, -.5, .5), act),
                     layer(matrix(1, width, -1, 1), vec(1, -.1, .1), "identity"));
}

static json_t *doc_general(size_t dof, json_t *h)
{
    return json_pack("{s:s, s:I, s:o}", "kind", "hamiltonian", "dof", (json_int_t)dof,
                     "hamiltonian", h);
}

static void build(json_t *doc, model_def *d, hamiltonian_model **m)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(doc, d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(doc);
    if (m) ck_assert_int_eq(hamiltonian_model_new(m, d, &e), ERR_OK);
}

/* Decoding doc fails with `field` (and the message holds `says`). */
static void refused(json_t *doc, const char *field, const char *says)
{
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_int_eq(codec_model_decode(doc, &d, &e), ERR_INVALID);
    ck_assert_msg(strcmp(e.field, field) == 0, "field %s, expected %s (%s)", e.field, field,
                  e.message);
    if (says) ck_assert_msg(strstr(e.message, says), "message: %s", e.message);
    json_decref(doc);
}

/* H = |A y|^2 / 2 = y' S y / 2 with S = A'A: A (identity activation),
 * then square, then weights 1/2. Field J S y, Jacobian J S, to rounding. */
START_TEST(quadratic_field)
{
    const size_t n = 2, d = 4;
    double A[16];
    json_t *w = json_array(), *half = json_array();
    for (size_t i = 0; i < d; i++) {
        json_t *r = json_array();
        for (size_t j = 0; j < d; j++)
            json_array_append_new(r, json_real(A[i * d + j] = urand(-1, 1)));
        json_array_append_new(w, r);
        json_array_append_new(half, json_real(0.5));
    }
    json_t *h = json_pack("{s:[o, o]}", "layers",
                          layer(w, json_pack("[f,f,f,f]", 0.0, 0.0, 0.0, 0.0), "square"),
                          layer(json_pack("[o]", half), json_pack("[f]", 0.0), "identity"));
    model_def def;
    hamiltonian_model *m;
    build(doc_general(n, h), &def, &m);
    double S[16] = {0};
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            for (size_t k = 0; k < d; k++)
                S[i * d + j] += A[k * d + i] * A[k * d + j];
    for (int rep = 0; rep < 5; rep++) {
        double y[4], f[4], J[16], Sy[4] = {0}, H = 0;
        for (size_t i = 0; i < d; i++)
            y[i] = urand(-2, 2);
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                Sy[i] += S[i * d + j] * y[j];
        for (size_t i = 0; i < d; i++)
            H += 0.5 * y[i] * Sy[i];
        ck_assert_int_eq(hamiltonian_model_field(m, y, f, J, NULL), ERR_OK);
        for (size_t i = 0; i < n; i++) {
            ck_assert_double_eq_tol(f[i], Sy[n + i], 1e-13);
            ck_assert_double_eq_tol(f[n + i], -Sy[i], 1e-13);
            for (size_t j = 0; j < d; j++) {
                ck_assert_double_eq_tol(J[i * d + j], S[(n + i) * d + j], 1e-13);
                ck_assert_double_eq_tol(J[(n + i) * d + j], -S[i * d + j], 1e-13);
            }
        }
        double e1, g[4];
        ck_assert_int_eq(hamiltonian_model_energy(m, 1, y, &e1, g, NULL), ERR_OK);
        ck_assert_double_eq_tol(e1, H, 1e-13);
        for (size_t i = 0; i < d; i++)
            ck_assert_double_eq_tol(g[i], Sy[i], 1e-13);
    }
    hamiltonian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* The three forms: the field is [dH/dp; -dH/dq] of the energy's own
 * gradient, and the Jacobian matches central differences of the field
 * (h = 1e-6: error ~1e-10; we allow 1e-7 (1 + |J|)). */
static json_t *form_doc(int form)
{
    const size_t n = 2;
    if (form == 0) return doc_general(n, net(2 * n, 8, "tanh"));
    if (form == 1)
        return json_pack("{s:s, s:I, s:o, s:[f, f]}", "kind", "hamiltonian", "dof", (json_int_t)n,
                         "potential", net(n, 8, "softplus"), "mass", 1.5, 0.25);
    return json_pack("{s:s, s:I, s:o, s:o}", "kind", "hamiltonian", "dof", (json_int_t)n,
                     "potential", net(n, 8, "sin"), "kinetic", net(n, 6, "silu"));
}

START_TEST(jacobian_fd)
{
    model_def def;
    hamiltonian_model *m;
    build(form_doc(_i), &def, &m);
    ck_assert_int_eq(hamiltonian_model_separable(m), _i != 0);
    const size_t d = 4;
    double y[4], f[4], J[16], fp[4], fm[4], yp[4], H, g[4];
    for (size_t i = 0; i < d; i++)
        y[i] = urand(-1, 1);
    ck_assert_int_eq(hamiltonian_model_field(m, y, f, J, NULL), ERR_OK);
    ck_assert_int_eq(hamiltonian_model_energy(m, 1, y, &H, g, NULL), ERR_OK);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_double_eq_tol(f[i], g[2 + i], 1e-15);
        ck_assert_double_eq_tol(f[2 + i], -g[i], 1e-15);
    }
    const double h = 1e-6;
    for (size_t j = 0; j < d; j++) {
        memcpy(yp, y, sizeof y);
        yp[j] = y[j] + h;
        hamiltonian_model_field(m, yp, fp, NULL, NULL);
        yp[j] = y[j] - h;
        hamiltonian_model_field(m, yp, fm, NULL, NULL);
        for (size_t i = 0; i < d; i++) {
            const double fd = (fp[i] - fm[i]) / (2 * h);
            ck_assert_msg(fabs(J[i * d + j] - fd) <= 1e-7 * (1 + fabs(fd)), "J[%zu][%zu] %g vs %g",
                          i, j, J[i * d + j], fd);
        }
        /* and the energy's gradient against differences of H */
        double Hp, Hm;
        yp[j] = y[j] + h;
        hamiltonian_model_energy(m, 1, yp, &Hp, NULL, NULL);
        yp[j] = y[j] - h;
        hamiltonian_model_energy(m, 1, yp, &Hm, NULL, NULL);
        ck_assert_msg(fabs(g[j] - (Hp - Hm) / (2 * h)) <= 1e-7 * (1 + fabs(g[j])), "g[%zu]", j);
    }
    hamiltonian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* A convex, non-separable H (softplus units with positive output
 * weights: closed orbits), solved to t = 2000 (some 300 periods). gauss4
 * at step 0.05: the energy error stays below 1e-9 relative, and the
 * second half's largest error is no more than twice the first half's (no
 * trend). dopri5 at rtol 1e-6 on the same span drifts by more than 100x
 * that bound, and the drift grows: its last error exceeds its error at
 * t = 200. */
START_TEST(energy_conserved)
{
    const size_t w = 12;
    json_t *out = json_array();
    for (size_t i = 0; i < w; i++)
        json_array_append_new(out, json_real(urand(0.2, 1.0)));
    json_t *h = json_pack("{s:[o, o]}", "layers",
                          layer(matrix(w, 2, -1, 1), vec(w, -.5, .5), "softplus"),
                          layer(json_pack("[o]", out), json_pack("[f]", 0.0), "identity"));
    model_def def;
    hamiltonian_model *m;
    build(doc_general(1, h), &def, &m);
    enum { NT = 200 };
    double t[NT], y[NT * 2], en[NT], y0[2] = {0.8, -0.3}, H0;
    for (int i = 0; i < NT; i++)
        t[i] = 10.0 * (i + 1);
    hamiltonian_model_energy(m, 1, y0, &H0, NULL, NULL);
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = NT};
    snprintf(q.solver.method, sizeof q.solver.method, "gauss4");
    q.solver.step = 0.05;
    struct model_traj_stats st;
    err e;
    err_clear(&e);
    ck_assert_msg(hamiltonian_model_solve(m, &q, y, en, &st, &e) == ERR_OK, "%s", e.message);
    ck_assert_str_eq(st.method, "gauss4");
    double first = 0, second = 0;
    for (int i = 0; i < NT; i++) {
        const double rel = fabs(en[i] - H0) / fabs(H0);
        if (i < NT / 2) first = fmax(first, rel);
        else second = fmax(second, rel);
    }
    ck_assert_msg(fmax(first, second) < 1e-9, "gauss4 energy error %g / %g", first, second);
    ck_assert_msg(second <= 2 * first + 1e-14, "gauss4 trend: %g then %g", first, second);
    snprintf(q.solver.method, sizeof q.solver.method, "dopri5");
    q.solver.rtol = 1e-6;
    q.solver.atol = 1e-9;
    ck_assert_int_eq(hamiltonian_model_solve(m, &q, y, en, &st, &e), ERR_OK);
    const double early = fabs(en[19] - H0) / fabs(H0), last = fabs(en[NT - 1] - H0) / fabs(H0);
    ck_assert_msg(last > 100 * fmax(first, second), "dopri5 %g vs gauss4 %g", last,
                  fmax(first, second));
    ck_assert_msg(last > early, "dopri5's drift should grow: %g then %g", early, last);
    hamiltonian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* Batches (one symplectic call for all states), per-state grids, backward
 * times and the ODE path agree with single-state solves. */
START_TEST(batch_and_grids)
{
    model_def def;
    hamiltonian_model *m;
    build(form_doc(2), &def, &m);
    const double y0[8] = {0.1, 0.2, -0.1, 0.3, -0.4, 0.0, 0.2, 0.1};
    const double t[3] = {1.0, -0.5, 2.0};
    double yb[2 * 3 * 4], eb[6], y1[3 * 4], e1[3];
    const char *methods[] = {"yoshida4", "gauss4", "rk4", "dopri5"};
    for (int k = 0; k < 4; k++) {
        struct model_traj_query q = {.batch = 2, .y0 = y0, .t = t, .n_t = 3};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", methods[k]);
        q.solver.step = 0.01;
        ck_assert_int_eq(hamiltonian_model_solve(m, &q, yb, eb, NULL, NULL), ERR_OK);
        for (int b = 0; b < 2; b++) {
            struct model_traj_query q1 = q;
            q1.batch = 1;
            q1.y0 = y0 + 4 * b;
            ck_assert_int_eq(hamiltonian_model_solve(m, &q1, y1, e1, NULL, NULL), ERR_OK);
            for (int i = 0; i < 12; i++)
                ck_assert_double_eq_tol(yb[b * 12 + i], y1[i], 1e-12);
            for (int i = 0; i < 3; i++)
                ck_assert_double_eq_tol(eb[b * 3 + i], e1[i], 1e-12);
        }
        /* grids: state 0 at t[0..2), state 1 at t[2]; the same numbers for
         * the fixed-step methods (an answer depends on its own time only),
         * within the tolerance for dopri5 (its steps depend on the span) */
        const double tol = k == 3 ? 1e-3 : 1e-12;
        const size_t len[2] = {2, 1};
        struct model_traj_query qg = q;
        qg.t_len = len;
        double yg[3 * 4];
        ck_assert_int_eq(hamiltonian_model_solve(m, &qg, yg, NULL, NULL, NULL), ERR_OK);
        for (int i = 0; i < 8; i++)
            ck_assert_msg(fabs(yg[i] - yb[i]) <= tol, "%s grid row %d: %.17g vs %.17g", methods[k], i, yg[i], yb[i]);
        for (int i = 0; i < 4; i++)
            ck_assert_double_eq_tol(yg[8 + i], yb[12 + 2 * 4 + i], tol);
    }
    hamiltonian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* Exporting and decoding again gives the same bytes, every form. */
START_TEST(document_round_trip)
{
    model_def d1, d2;
    build(form_doc(_i), &d1, NULL);
    snprintf(d1.solver.method, sizeof d1.solver.method, _i ? "leapfrog" : "implicit_midpoint");
    d1.solver.step = 0.125;
    jbuf a, b;
    jbuf_init(&a);
    jbuf_init(&b);
    codec_model_encode(&d1, &a);
    size_t na, nb;
    char *ta = jbuf_take(&a, &na);
    json_error_t je;
    build(json_loads(ta, 0, &je), &d2, NULL);
    codec_model_encode(&d2, &b);
    char *tb = jbuf_take(&b, &nb);
    ck_assert_str_eq(ta, tb);
    ck_assert_uint_eq(model_def_checksum(&d1), model_def_checksum(&d2));
    free(ta);
    free(tb);
    model_def_free(&d1);
    model_def_free(&d2);
}
END_TEST

START_TEST(refusals)
{
    /* non-smooth activations, named with the reason */
    refused(doc_general(1, net(2, 4, "relu")), "hamiltonian.layers[0].activation",
            "not twice differentiable");
    refused(doc_general(1, net(2, 4, "elu")), "hamiltonian.layers[0].activation", "jumps");
    refused(json_pack("{s:s, s:i, s:o, s:[f]}", "kind", "hamiltonian", "dof", 1, "potential",
                      net(1, 4, "relu"), "mass", 1.0),
            "potential.layers[0].activation", "relu");
    /* shapes and forms */
    refused(doc_general(1, net(3, 4, "tanh")), "hamiltonian.layers[0].weight", NULL);
    refused(json_pack("{s:s, s:i, s:o}", "kind", "hamiltonian", "dof", 1, "potential",
                      net(1, 4, "tanh")),
            "mass", "missing");
    refused(json_pack("{s:s, s:i, s:o, s:[f]}", "kind", "hamiltonian", "dof", 1, "potential",
                      net(1, 4, "tanh"), "mass", -1.0),
            "mass[0]", "positive");
    refused(json_pack("{s:s, s:i, s:o, s:[f, f]}", "kind", "hamiltonian", "dof", 1, "potential",
                      net(1, 4, "tanh"), "mass", 1.0, 2.0),
            "mass", "dof");
    refused(json_pack("{s:s, s:i, s:o, s:o}", "kind", "hamiltonian", "dof", 1, "hamiltonian",
                      net(2, 4, "tanh"), "potential", net(1, 4, "tanh")),
            "potential", "not both");
    refused(json_pack("{s:s, s:i}", "kind", "hamiltonian", "dof", 1), "hamiltonian", "missing");
    refused(json_pack("{s:s, s:i, s:o}", "kind", "hamiltonian", "dof", 0, "hamiltonian",
                      net(2, 4, "tanh")),
            "dof", NULL);
    /* a splitting needs a separable H; a symplectic method a hamiltonian model */
    json_t *dg = doc_general(1, net(2, 4, "tanh"));
    json_object_set_new(dg, "solver", json_pack("{s:s, s:f}", "method", "yoshida4", "step", 0.1));
    refused(dg, "solver.method", "separable");
    json_t *ode = json_pack("{s:s, s:i, s:o, s:{s:s}}", "kind", "ode", "state_dim", 2,
                            "vector_field", json_pack("{s:[o]}", "layers",
                                                      layer(matrix(2, 2, -1, 1), vec(2, 0, 0),
                                                            "tanh")),
                            "solver", "method", "gauss4");
    refused(ode, "solver.method", "hamiltonian model");
    json_t *dm = doc_general(1, net(2, 4, "tanh"));
    json_object_set_new(dm, "solver", json_pack("{s:s}", "method", "euler_maruyama"));
    refused(dm, "solver.method", "sde method");
}
END_TEST

/* Queries: a splitting asked of a general H, a symplectic method asked of
 * an ode model, a bad step: ERR_INVALID on the request's field. */
START_TEST(query_refusals)
{
    model_def def;
    hamiltonian_model *m;
    build(form_doc(0), &def, &m);
    const double y0[4] = {0.1, 0.2, 0.3, 0.4}, t[1] = {1.0};
    double y[4];
    err e;
    err_clear(&e);
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = 1};
    snprintf(q.solver.method, sizeof q.solver.method, "leapfrog");
    ck_assert_int_eq(hamiltonian_model_solve(m, &q, y, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    err_clear(&e);
    snprintf(q.solver.method, sizeof q.solver.method, "gauss4");
    q.solver.max_steps = 5; /* 1000 steps needed */
    ck_assert_int_ne(hamiltonian_model_solve(m, &q, y, NULL, NULL, &e), ERR_OK);
    ck_assert_str_eq(e.field, "solver.max_steps");
    hamiltonian_model_free(m);
    model_def_free(&def);

    json_t *ode = json_pack("{s:s, s:i, s:o}", "kind", "ode", "state_dim", 2, "vector_field",
                            json_pack("{s:[o]}", "layers",
                                      layer(matrix(2, 2, -1, 1), vec(2, 0, 0), "tanh")));
    model_def od;
    build(ode, &od, NULL);
    ode_model *om;
    ck_assert_int_eq(ode_model_new(&om, &od, NULL), ERR_OK);
    struct ode_model_query oq = {.batch = 1, .y0 = y0, .t = t, .n_t = 1};
    snprintf(oq.solver.method, sizeof oq.solver.method, "gauss4");
    err_clear(&e);
    ck_assert_int_eq(ode_model_solve(om, &oq, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    ck_assert_ptr_nonnull(strstr(e.message, "symplectic"));
    ode_model_free(om);
    model_def_free(&od);
}
END_TEST

/* A solution that leaves the range of doubles, H = (p^2 - q^2) / 2 (q =
 * q0 cosh t) from q0 = 1e300: past t = 20.7 it overflows, and every method
 * fails there (gauss4's Newton iteration on a non-finite state, dopri5 and
 * rodas4 on non-finite stages), while the state from q0 = 1 stays finite.
 * The solver_failed names the initial state as an ode model's does: "y0"
 * for one state or a batch stepped as one system, "y0[b]" for state b of a
 * batch solved state by state (a grid per state, or an ODE method). */
START_TEST(failure_names_state)
{
    json_t *doc = json_loads("{\"kind\":\"hamiltonian\",\"dof\":1,\"hamiltonian\":{\"layers\":["
                             "{\"weight\":[[1,0],[0,1]],\"bias\":[0,0],\"activation\":\"square\"},"
                             "{\"weight\":[[-0.5,0.5]],\"bias\":[0],\"activation\":\"identity\"}]}}",
                             0, NULL);
    ck_assert_ptr_nonnull(doc);
    model_def def;
    hamiltonian_model *m;
    build(doc, &def, &m);
    const double y0[4] = {1.0, 0.0, 1e300, 0.0}, t[2] = {30.0, 40.0};
    const size_t len[2] = {1, 1};
    double y[8];
    const struct {
        const char *method;
        size_t batch;
        const size_t *t_len;
        const char *field;
    } cases[] = {
        {"gauss4", 1, NULL, "y0"},   {"gauss4", 2, NULL, "y0"},   {"gauss4", 2, len, "y0[1]"},
        {"dopri5", 1, NULL, "y0"},   {"dopri5", 2, NULL, "y0[1]"}, {"rodas4", 2, len, "y0[1]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct model_traj_query q = {.batch = cases[k].batch,
                                     .y0 = cases[k].batch == 1 ? y0 + 2 : y0,
                                     .t = t,
                                     .n_t = cases[k].t_len ? 2 : 1,
                                     .t_len = cases[k].t_len};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", cases[k].method);
        q.solver.step = 0.1;
        err e;
        err_clear(&e);
        ck_assert_int_eq(hamiltonian_model_solve(m, &q, y, NULL, NULL, &e), ERR_SOLVER);
        ck_assert_msg(strcmp(e.field, cases[k].field) == 0, "case %zu (%s): field '%s', want %s (%s)",
                      k, cases[k].method, e.field, cases[k].field, e.message);
    }
    hamiltonian_model_free(m);
    model_def_free(&def);
}
END_TEST

static Suite *ham_suite(void)
{
    Suite *s = suite_create("hamiltonian");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120); /* the long rollouts under valgrind */
    tcase_add_test(t, quadratic_field);
    tcase_add_loop_test(t, jacobian_fd, 0, 3);
    tcase_add_test(t, energy_conserved);
    tcase_add_test(t, batch_and_grids);
    tcase_add_loop_test(t, document_round_trip, 0, 3);
    tcase_add_test(t, refusals);
    tcase_add_test(t, query_refusals);
    tcase_add_test(t, failure_names_state);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_suite_run(ham_suite());
}
