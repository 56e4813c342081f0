/* check_lagrangian: the "lagrangian" model kind (model/lagrangian.h).
 *
 *   scipy        a 2-dof softplus L (tests/fixtures/gen_lnn.py): the
 *                acceleration, energy and energy gradient at fixed states,
 *                and two trajectories with their energies, against the
 *                hand-derived (torch-checked) Euler-Lagrange field
 *                integrated by SciPy DOP853 at rtol = atol = 1e-12;
 *   closed form  L = m v^2/2 - k q^2/2 (square activation) is the harmonic
 *                oscillator q = cos(w t), w = sqrt(k/m); and an indefinite
 *                but invertible M (diag(1, -1)) through the LU fallback;
 *   conserved    E = v . dL/dv - L along a long dop853 solve at tight
 *                tolerance;
 *   singular     an L without v (M = 0) fails at t0, one whose M = v
 *                crosses zero fails later, both ERR_SOLVER with the time,
 *                the failing state named (y0, y0[b]) and no non-finite
 *                output;
 *   gradient     lagrangian_model_energy's gradient against central
 *                differences of the energy;
 *   documents    round trip to the same bytes, every refusal with its field.
 *
 * Models are written as documents (codec/codec_model.h), as a client would
 * upload them. */
#include "codec/codec_model.h"
#include "codec/jbuf.h"
#include "model/lagrangian.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *ref; /* the fixture */

static void load_ref(void)
{
    char path[1024];
    json_error_t je;
    ref = json_load_file(tu_source_path(path, sizeof path, "tests/fixtures/lnn_reference.json"),
                         0, &je);
    ck_assert_msg(ref != NULL, "lnn_reference.json: %s", je.text);
}

static void unload_ref(void)
{
    json_decref(ref);
    ref = NULL;
}

static void vec_of(const json_t *a, double *out, size_t n)
{
    ck_assert_uint_eq(json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(a, i));
}

static void build(json_t *doc, model_def *d, lagrangian_model **m)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(doc, d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(doc);
    if (m) ck_assert_int_eq(lagrangian_model_new(m, d, &e), ERR_OK);
}

static json_t *layer(json_t *w, json_t *b, const char *act)
{
    return json_pack("{s:o, s:o, s:s}", "weight", w, "bias", b, "activation", act);
}

/* L = sum_i c_i (x_i)^2 over x = [q; v] (dof n): identity weights, square,
 * then the coefficients c. */
static json_t *quadratic_doc(size_t n, const double *c)
{
    const size_t d = 2 * n;
    json_t *w = json_array(), *b = json_array(), *cw = json_array();
    for (size_t i = 0; i < d; i++) {
        json_t *r = json_array();
        for (size_t j = 0; j < d; j++)
            json_array_append_new(r, json_real(i == j ? 1.0 : 0.0));
        json_array_append_new(w, r);
        json_array_append_new(b, json_real(0.0));
        json_array_append_new(cw, json_real(c[i]));
    }
    return json_pack("{s:s, s:I, s:{s:[o, o]}}", "kind", "lagrangian", "dof", (json_int_t)n,
                     "lagrangian", "layers", layer(w, b, "square"),
                     layer(json_pack("[o]", cw), json_pack("[f]", 0.0), "identity"));
}

/* The fixture's model, the field and the energy at its states. */
START_TEST(scipy_field)
{
    load_ref();
    model_def def;
    lagrangian_model *m;
    build(json_incref(json_object_get(ref, "model")), &def, &m);
    ck_assert_uint_eq(lagrangian_model_dof(m), 2);
    const json_t *states = json_object_get(ref, "states");
    for (size_t k = 0; k < json_array_size(states); k++) {
        double y[4], a[2], f[4], en, g[4], eg[4], e1;
        vec_of(json_array_get(states, k), y, 4);
        vec_of(json_array_get(json_object_get(ref, "accel"), k), a, 2);
        vec_of(json_array_get(json_object_get(ref, "energy_grad"), k), eg, 4);
        en = json_number_value(json_array_get(json_object_get(ref, "energy"), k));
        ck_assert_int_eq(lagrangian_model_field(m, y, f, NULL), ERR_OK);
        for (int i = 0; i < 2; i++) {
            ck_assert_double_eq(f[i], y[2 + i]);
            ck_assert_double_eq_tol(f[2 + i], a[i], 1e-13 * (1 + fabs(a[i])));
        }
        ck_assert_int_eq(lagrangian_model_energy(m, 1, y, &e1, g, NULL), ERR_OK);
        ck_assert_double_eq_tol(e1, en, 1e-14 * (1 + fabs(en)));
        for (int i = 0; i < 4; i++)
            ck_assert_double_eq_tol(g[i], eg[i], 1e-13 * (1 + fabs(eg[i])));
    }
    lagrangian_model_free(m);
    model_def_free(&def);
    unload_ref();
}
END_TEST

/* The fixture's two trajectories, batched, by dop853 at rtol 1e-12 (the
 * reference's tolerance: agreement to ~1e-9 over t = 10) and by dopri5 at
 * rtol 1e-8 (to ~1e-5: a few hundred times the tolerance over the span). */
START_TEST(scipy_trajectory)
{
    load_ref();
    model_def def;
    lagrangian_model *m;
    build(json_incref(json_object_get(ref, "model")), &def, &m);
    const json_t *tr = json_object_get(ref, "trajectories");
    double t[5], y0[8];
    vec_of(json_object_get(ref, "t"), t, 5);
    for (size_t b = 0; b < 2; b++)
        vec_of(json_object_get(json_array_get(tr, b), "y0"), y0 + 4 * b, 4);
    const char *methods[] = {"dop853", "dopri5"};
    const double rtol[] = {1e-12, 1e-8}, tol[] = {1e-9, 2e-5};
    for (int k = 0; k < 2; k++) {
        struct model_traj_query q = {.batch = 2, .y0 = y0, .t = t, .n_t = 5};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", methods[k]);
        q.solver.rtol = q.solver.atol = rtol[k];
        double y[40], en[10];
        struct model_traj_stats st;
        err e;
        err_clear(&e);
        ck_assert_msg(lagrangian_model_solve(m, &q, y, en, &st, &e) == ERR_OK, "%s", e.message);
        ck_assert_str_eq(st.method, methods[k]);
        ck_assert_int_gt(st.nfe, 0);
        for (size_t b = 0; b < 2; b++) {
            const json_t *rb = json_array_get(tr, b);
            for (size_t i = 0; i < 5; i++) {
                double want[4];
                vec_of(json_array_get(json_object_get(rb, "y"), i), want, 4);
                for (int j = 0; j < 4; j++)
                    ck_assert_msg(fabs(y[(b * 5 + i) * 4 + j] - want[j]) <= tol[k],
                                  "%s: state %zu t=%g y[%d] = %.17g, scipy %.17g", methods[k], b,
                                  t[i], j, y[(b * 5 + i) * 4 + j], want[j]);
                const double we =
                    json_number_value(json_array_get(json_object_get(rb, "energy"), i));
                ck_assert_msg(fabs(en[b * 5 + i] - we) <= tol[k], "%s: energy %.17g, scipy %.17g",
                              methods[k], en[b * 5 + i], we);
            }
        }
    }
    lagrangian_model_free(m);
    model_def_free(&def);
    unload_ref();
}
END_TEST

/* L = m v^2/2 - k q^2/2, m = 2, k = 8: q = cos(2t) from [1, 0]; and the
 * same motion from L = v1^2/2 - v2^2/2 - q1^2/2 + q2^2/2, whose M =
 * diag(1, -1) is invertible but not positive definite (Cholesky refuses it,
 * the LU fallback serves it). */
START_TEST(harmonic_closed_form)
{
    const double c1[2] = {-4.0, 1.0};
    model_def def;
    lagrangian_model *m;
    build(quadratic_doc(1, c1), &def, &m);
    const double y0[2] = {1.0, 0.0}, t[4] = {0.5, 1.0, 3.0, -2.0};
    double y[8], en[4];
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = 4};
    q.solver.rtol = q.solver.atol = 1e-12;
    snprintf(q.solver.method, sizeof q.solver.method, "dop853");
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, en, NULL, NULL), ERR_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(y[2 * i], cos(2 * t[i]), 1e-10);
        ck_assert_double_eq_tol(y[2 * i + 1], -2 * sin(2 * t[i]), 1e-10);
        ck_assert_double_eq_tol(en[i], 4.0, 1e-10); /* E = m v^2/2 + k q^2/2 = k/2 */
    }
    lagrangian_model_free(m);
    model_def_free(&def);

    const double c2[4] = {-0.5, 0.5, 0.5, -0.5};
    build(quadratic_doc(2, c2), &def, &m);
    const double z0[4] = {1.0, 0.5, 0.0, 0.0};
    double z[16];
    q.y0 = z0;
    ck_assert_int_eq(lagrangian_model_solve(m, &q, z, en, NULL, NULL), ERR_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(z[4 * i], cos(t[i]), 1e-10);
        ck_assert_double_eq_tol(z[4 * i + 1], 0.5 * cos(t[i]), 1e-10);
        ck_assert_double_eq_tol(z[4 * i + 2], -sin(t[i]), 1e-10);
        ck_assert_double_eq_tol(z[4 * i + 3], -0.5 * sin(t[i]), 1e-10);
    }
    lagrangian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* E along a 200-time-unit solve of the fixture's model at rtol 1e-12:
 * bounded by a small multiple of the tolerance per unit time. */
START_TEST(energy_conserved)
{
    load_ref();
    model_def def;
    lagrangian_model *m;
    build(json_incref(json_object_get(ref, "model")), &def, &m);
    enum { NT = 200 };
    double t[NT], y[NT * 4], en[NT], y0[4];
    for (int i = 0; i < NT; i++)
        t[i] = i + 1.0;
    vec_of(json_object_get(json_array_get(json_object_get(ref, "trajectories"), 0), "y0"), y0, 4);
    const double e0 = json_number_value(
        json_object_get(json_array_get(json_object_get(ref, "trajectories"), 0), "energy0"));
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = NT};
    snprintf(q.solver.method, sizeof q.solver.method, "dop853");
    q.solver.rtol = q.solver.atol = 1e-12;
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, en, NULL, NULL), ERR_OK);
    double worst = 0;
    for (int i = 0; i < NT; i++)
        worst = fmax(worst, fabs(en[i] - e0));
    ck_assert_msg(worst < 1e-9, "energy drift %.3g over t = 200", worst);
    lagrangian_model_free(m);
    model_def_free(&def);
    unload_ref();
}
END_TEST

/* M = 0 (L of q alone: zero weights on v) fails at t0, by the pivot test.
 * L = v^3/6 - q^3/6 has M = v, which reaches 0 near t = 0.62 from [1, 1]
 * with an unbounded acceleration (the solution ends there): the adaptive
 * steps shrink until max_steps stops the solve. Both ERR_SOLVER with the
 * time. */
START_TEST(singular_mass)
{
    const double c[2] = {-0.5, 0.0};
    model_def def;
    lagrangian_model *m;
    build(quadratic_doc(1, c), &def, &m);
    const double y0[2] = {1.0, 0.0}, t[2] = {1.0, 2.0};
    double y[4] = {0}, en[2] = {0};
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = 2};
    struct model_traj_stats st;
    err e;
    err_clear(&e);
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, en, &st, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "singular") && strstr(e.message, "t=0"), "%s", e.message);
    ck_assert_double_eq(st.t_fail, 0.0);
    ck_assert_str_eq(e.field, "y0"); /* the state that failed, as an ode model names it */
    const double yb[4] = {1.0, 0.0, 0.5, 0.0};
    double yy[8];
    struct model_traj_query qb = {.batch = 2, .y0 = yb, .t = t, .n_t = 2};
    err_clear(&e);
    ck_assert_int_eq(lagrangian_model_solve(m, &qb, yy, NULL, &st, &e), ERR_SOLVER);
    ck_assert_str_eq(e.field, "y0[0]");
    double f[2];
    err_clear(&e);
    ck_assert_int_eq(lagrangian_model_field(m, y0, f, &e), ERR_SOLVER);
    lagrangian_model_free(m);
    model_def_free(&def);

    json_t *cube = json_pack(
        "{s:s, s:i, s:{s:[{s:[[f, f], [f, f]], s:[f, f], s:s}, {s:[[f, f]], s:[f], s:s}]}}",
        "kind", "lagrangian", "dof", 1, "lagrangian", "layers", "weight", 1.0, 0.0, 0.0, 1.0,
        "bias", 0.0, 0.0, "activation", "cube", "weight", -1.0 / 6, 1.0 / 6, "bias", 0.0,
        "activation", "identity");
    build(cube, &def, &m);
    const double z0[2] = {1.0, 1.0}, tz[2] = {0.5, 5.0};
    double z[4];
    q.y0 = z0;
    q.t = tz;
    q.solver.max_steps = 3000; /* the default 100000 would only take longer to say the same */
    err_clear(&e);
    ck_assert_int_eq(lagrangian_model_solve(m, &q, z, NULL, &st, &e), ERR_SOLVER);
    ck_assert_msg(st.t_fail > 0.6 && st.t_fail < 0.63, "t_fail %g (%s)", st.t_fail, e.message);
    ck_assert_str_eq(e.field, "y0");
    ck_assert_msg(strstr(e.message, "t="), "%s", e.message);
    lagrangian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* L = v^2 + q^2 (M = 2, q'' = q): q = cosh t from [1, 0], which passes
 * DBL_MAX at t = acosh(DBL_MAX) = 710.48. The solve follows the closed form
 * and then fails as every other model's blow-up does: a non-finite state or
 * a step size underflow (each too long trial step past the overflow is
 * retried shorter) just before 710.48 (rk4, h = 1: at 712), named by state.
 * It used to stop at the first trial stage that overflowed, blaming a
 * "singular" mass matrix (M = 2 everywhere). */
START_TEST(blowup_not_singular)
{
    const double c[2] = {1.0, 1.0};
    model_def def;
    lagrangian_model *m;
    build(quadratic_doc(1, c), &def, &m);
    const double y0[2] = {1.0, 0.0}, t[2] = {5.0, 1000.0};
    double y[4];
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = 1};
    q.solver.rtol = 1e-10;
    q.solver.atol = 1e-12;
    struct model_traj_stats st;
    err e;
    err_clear(&e);
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, NULL, &st, &e), ERR_OK);
    ck_assert_double_eq_tol(y[0], cosh(5.0), 1e-8 * cosh(5.0));
    ck_assert_double_eq_tol(y[1], sinh(5.0), 1e-8 * sinh(5.0));
    q.n_t = 2;
    const char *methods[] = {"dopri5", "dop853", "rk4"};
    for (int k = 0; k < 3; k++) {
        snprintf(q.solver.method, sizeof q.solver.method, "%s", methods[k]);
        err_clear(&e);
        ck_assert_int_eq(lagrangian_model_solve(m, &q, y, NULL, &st, &e), ERR_SOLVER);
        ck_assert_msg((strstr(e.message, "non-finite") || strstr(e.message, "underflow")) &&
                          !strstr(e.message, "singular"),
                      "%s: %s", methods[k], e.message);
        /* rk4's 1000 steps of 1 grow by 2.708 (not e) a step: it overflows at 712 */
        const double t_max = k == 2 ? 713 : acosh(DBL_MAX);
        ck_assert_msg(st.t_fail > 700 && st.t_fail < t_max, "%s: t_fail %.17g", methods[k],
                      st.t_fail);
        ck_assert_str_eq(e.field, "y0");
    }
    lagrangian_model_free(m);
    model_def_free(&def);
}
END_TEST

/* dE/dy (from the Hessian) against central differences of E. */
START_TEST(energy_gradient_fd)
{
    load_ref();
    model_def def;
    lagrangian_model *m;
    build(json_incref(json_object_get(ref, "model")), &def, &m);
    const double y[4] = {0.4, -0.7, 1.1, -0.3}, h = 1e-5;
    double e0, g[4];
    ck_assert_int_eq(lagrangian_model_energy(m, 1, y, &e0, g, NULL), ERR_OK);
    for (int j = 0; j < 4; j++) {
        double yp[4], ym[4], ep, em;
        memcpy(yp, y, sizeof yp);
        memcpy(ym, y, sizeof ym);
        yp[j] += h;
        ym[j] -= h;
        ck_assert_int_eq(lagrangian_model_energy(m, 1, yp, &ep, NULL, NULL), ERR_OK);
        ck_assert_int_eq(lagrangian_model_energy(m, 1, ym, &em, NULL, NULL), ERR_OK);
        ck_assert_double_eq_tol(g[j], (ep - em) / (2 * h), 1e-8);
    }
    lagrangian_model_free(m);
    model_def_free(&def);
    unload_ref();
}
END_TEST

START_TEST(document_round_trip)
{
    load_ref();
    model_def d1, d2;
    build(json_incref(json_object_get(ref, "model")), &d1, NULL);
    snprintf(d1.solver.method, sizeof d1.solver.method, "tsit5");
    d1.solver.rtol = 1e-9;
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
    ck_assert_ptr_nonnull(strstr(ta, "\"kind\":\"lagrangian\",\"dof\":2"));
    ck_assert_uint_eq(model_def_checksum(&d1), model_def_checksum(&d2));
    free(ta);
    free(tb);
    model_def_free(&d1);
    model_def_free(&d2);
    unload_ref();
}
END_TEST

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

/* The fixture's document with one change. */
static json_t *ref_doc_with(const char *key, json_t *v)
{
    json_t *d = json_deep_copy(json_object_get(ref, "model"));
    if (v) json_object_set_new(d, key, v);
    return d;
}

START_TEST(refusals)
{
    load_ref();
    json_t *d = ref_doc_with(NULL, NULL);
    json_t *l0 = json_array_get(json_object_get(json_object_get(d, "lagrangian"), "layers"), 0);
    json_object_set_new(l0, "activation", json_string("relu"));
    refused(d, "lagrangian.layers[0].activation", "twice differentiable");
    refused(ref_doc_with("dof", json_integer(1)), "lagrangian.layers[0].weight", "2 dof");
    refused(ref_doc_with("dof", json_integer(0)), "dof", NULL);
    d = ref_doc_with(NULL, NULL);
    json_object_set_new(json_object_get(d, "lagrangian"), "time_input", json_true());
    refused(d, "lagrangian.time_input", "unknown key");
    d = ref_doc_with(NULL, NULL);
    json_t *l1 = json_array_get(json_object_get(json_object_get(d, "lagrangian"), "layers"), 1);
    json_array_append_new(json_object_get(l1, "weight"), json_pack("[f,f,f,f,f,f,f,f]", 0.0, 0.0,
                                                                   0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
    json_array_append_new(json_object_get(l1, "bias"), json_real(0.0));
    refused(d, "lagrangian.layers[1]", "expected 1");
    refused(ref_doc_with("mass", json_pack("[f, f]", 1.0, 1.0)), "mass", NULL);
    d = ref_doc_with(NULL, NULL);
    json_object_del(d, "lagrangian");
    refused(d, "lagrangian", "missing");
    const char *bad[] = {"leapfrog", "gauss4", "implicit_midpoint", "rodas4", "esdirk4", "auto",
                         "euler_maruyama"};
    const char *why[] = {"symplectic", "symplectic", "symplectic", "Jacobian",
                         "Jacobian",   "Jacobian",   "sde method"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(ref_doc_with("solver", json_pack("{s:s, s:f}", "method", bad[i], "step", 0.1)),
                "solver.method", why[i]);
    unload_ref();
}
END_TEST

/* A query's method: the same refusals on "solver.method"; an explicit
 * fixed-step method with and without solver.step. */
START_TEST(query_methods)
{
    load_ref();
    model_def def;
    lagrangian_model *m;
    build(json_incref(json_object_get(ref, "model")), &def, &m);
    const double y0[4] = {0.1, 0.2, 0.3, 0.4}, t[1] = {1.0};
    double y[4];
    struct model_traj_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = 1};
    const char *bad[] = {"yoshida4", "rodas4", "esdirk4", "auto", "milstein"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err e;
        err_clear(&e);
        snprintf(q.solver.method, sizeof q.solver.method, "%s", bad[i]);
        ck_assert_int_eq(lagrangian_model_solve(m, &q, y, NULL, NULL, &e), ERR_INVALID);
        ck_assert_str_eq(e.field, "solver.method");
    }
    struct model_traj_stats st;
    snprintf(q.solver.method, sizeof q.solver.method, "rk4");
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, NULL, &st, NULL), ERR_OK);
    ck_assert_int_eq(st.steps, LAGRANGIAN_DEFAULT_N_STEPS);
    q.solver.step = 0.25;
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, NULL, &st, NULL), ERR_OK);
    ck_assert_int_eq(st.steps, 4);
    memset(&q.solver, 0, sizeof q.solver);
    ck_assert_int_eq(lagrangian_model_solve(m, &q, y, NULL, &st, NULL), ERR_OK);
    ck_assert_str_eq(st.method, "dopri5");
    lagrangian_model_free(m);
    model_def_free(&def);
    unload_ref();
}
END_TEST

static Suite *lag_suite(void)
{
    Suite *s = suite_create("lagrangian");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120); /* the long solve under valgrind */
    tcase_add_test(t, scipy_field);
    tcase_add_test(t, scipy_trajectory);
    tcase_add_test(t, harmonic_closed_form);
    tcase_add_test(t, energy_conserved);
    tcase_add_test(t, singular_mass);
    tcase_add_test(t, blowup_not_singular);
    tcase_add_test(t, energy_gradient_fd);
    tcase_add_test(t, document_round_trip);
    tcase_add_test(t, refusals);
    tcase_add_test(t, query_methods);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_suite_run(lag_suite());
}
