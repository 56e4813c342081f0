/* check_num_stiff: the implicit methods (rodas4, esdirk4) against
 * independent references: closed forms, the matrix exponential and SciPy's
 * Radau at rtol 1e-12 (tests/fixtures/stiff_reference.json, made by
 * tests/fixtures/gen_reference.py --stiff).
 *
 * - order: the observed convergence slope with fixed steps on a smooth,
 *   non-stiff, non-autonomous problem (both methods are of order 4), and the
 *   dense output's local error slope (order 3: error ~ h^4);
 * - L-stability: one step of h lambda = -1e12 damps the stiff mode to ~0;
 * - stiff problems: a linear system with eigenvalues over six decades,
 *   Prothero-Robinson, Van der Pol mu = 1000, Robertson; each to within a
 *   bound tied to the tolerance, and in far fewer steps than dopri5;
 * - the finite-difference Jacobian fallback gives the same answers, also
 *   at jump times (piecewise closed forms, both directions);
 * - Newton failure and the singular iteration matrix end in ERR_SOLVER with
 *   the reason named. */
#include "num/driver.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const methods[] = {"rodas4", "esdirk4"};
#define N_METHODS 2

static json_t *fixture;

static json_t *problem(const char *name)
{
    if (!fixture) {
        char path[4096];
        tu_source_path(path, sizeof path, "tests/fixtures/stiff_reference.json");
        json_error_t je;
        fixture = json_load_file(path, 0, &je);
        if (!fixture) {
            fprintf(stderr, "%s:%d: %s (set top_srcdir)\n", path, je.line, je.text);
            abort();
        }
    }
    json_t *arr = json_object_get(fixture, "problems"), *p;
    size_t i;
    json_array_foreach(arr, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) return p;
    }
    abort();
}

static size_t vec(json_t *a, double *out, size_t cap)
{
    size_t n = json_array_size(a);
    ck_assert_uint_le(n, cap);
    for (size_t i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(a, i));
    return n;
}

/* ---- problems ------------------------------------------------------------ */

/* smooth: y1' = cos(t) y1, y2' = -2 t y2; y = (exp(sin t), exp(-t^2)) */
static int smooth_f(double t, const double *y, double *d, void *ctx)
{
    (void)ctx;
    d[0] = cos(t) * y[0];
    d[1] = -2 * t * y[1];
    return 0;
}

static int smooth_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)ctx;
    J[0] = cos(t), J[1] = 0, J[2] = 0, J[3] = -2 * t;
    if (dt) dt[0] = -sin(t) * y[0], dt[1] = -2 * y[1];
    return 0;
}

static double smooth_err(double t, const double *y)
{
    return fmax(fabs(y[0] - exp(sin(t))), fabs(y[1] - exp(-t * t)));
}

/* y' = A y */
static double lin_A[9];
static int lin_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    for (int i = 0; i < 3; i++)
        d[i] = lin_A[3 * i] * y[0] + lin_A[3 * i + 1] * y[1] + lin_A[3 * i + 2] * y[2];
    return 0;
}

static int lin_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)y, (void)ctx;
    memcpy(J, lin_A, sizeof lin_A);
    if (dt) dt[0] = dt[1] = dt[2] = 0;
    return 0;
}

/* Prothero-Robinson: y' = lambda (y - g(t)) + g'(t), g = sin; y = sin t */
#define PR_LAMBDA (-1e6)
static int pr_f(double t, const double *y, double *d, void *ctx)
{
    (void)ctx;
    d[0] = PR_LAMBDA * (y[0] - sin(t)) + cos(t);
    return 0;
}

static int pr_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)y, (void)ctx;
    J[0] = PR_LAMBDA;
    if (dt) dt[0] = -PR_LAMBDA * cos(t) - sin(t);
    return 0;
}

static double vdp_mu = 1000;
static int vdp_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    d[0] = y[1];
    d[1] = vdp_mu * (1 - y[0] * y[0]) * y[1] - y[0];
    return 0;
}

static int vdp_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)ctx;
    J[0] = 0, J[1] = 1;
    J[2] = -2 * vdp_mu * y[0] * y[1] - 1, J[3] = vdp_mu * (1 - y[0] * y[0]);
    if (dt) dt[0] = dt[1] = 0;
    return 0;
}

static int rober_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    d[0] = -0.04 * y[0] + 1e4 * y[1] * y[2];
    d[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1];
    d[2] = 3e7 * y[1] * y[1];
    return 0;
}

static int rober_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)ctx;
    J[0] = -0.04, J[1] = 1e4 * y[2], J[2] = 1e4 * y[1];
    J[3] = 0.04, J[4] = -1e4 * y[2] - 6e7 * y[1], J[5] = -1e4 * y[1];
    J[6] = 0, J[7] = 6e7 * y[1], J[8] = 0;
    if (dt) dt[0] = dt[1] = dt[2] = 0;
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static err_code solve(const char *method, const struct ode_problem *p,
                      const struct ode_options *o, double *y_out, struct ode_stats *st, err *e)
{
    err_clear(e);
    ode_solver *s = ode_solver_new(rk_tableau_find(method), p->dim, e);
    ck_assert_ptr_nonnull(s);
    err_code rc = ode_solve(s, p, o, y_out, st, e);
    ode_solver_free(s);
    return rc;
}

/* max over outputs and components of |y - ref| / (|ref| + floor) */
static double rel_err(const double *y, const double *ref, size_t n, double floor)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double r = fabs(y[i] - ref[i]) / (fabs(ref[i]) + floor);
        if (!(r <= worst)) worst = r;
    }
    return worst;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(table_lookup)
{
    for (int m = 0; m < N_METHODS; m++) {
        const struct rk_tableau *tab = rk_tableau_find(methods[m]);
        ck_assert_ptr_nonnull(tab);
        ck_assert(rk_tableau_implicit(tab));
        ck_assert(rk_tableau_adaptive(tab));
        ck_assert_int_eq(tab->order, 4);
        ck_assert_int_ge(tab->dense_order, 3);
        ck_assert_str_eq(rk_tableau_implicit_names[m], methods[m]);
    }
    ck_assert(!rk_tableau_implicit(rk_tableau_find("dopri5")));
}
END_TEST

/* Both methods are of order 4 on a non-autonomous problem (so the df/dt
 * terms of the Rosenbrock method count): halving h divides the error by
 * ~16. */
START_TEST(order_slope)
{
    const char *method = methods[_i];
    const double t_out = 2.0;
    double y0[2] = {1, 1}, y[2], errs[4];
    const long ns[4] = {40, 80, 160, 320};
    for (int r = 0; r < 4; r++) {
        struct ode_problem p = {.f = smooth_f, .jac = smooth_jac, .dim = 2, .y0 = y0,
                                .t_out = &t_out, .n_out = 1};
        struct ode_options o;
        ode_options_init(&o);
        o.n_steps = ns[r];
        o.rtol = 1e-12; /* with fixed steps the tolerances still set Newton's */
        o.atol = 1e-14;
        err e;
        ck_assert_int_eq(solve(method, &p, &o, y, NULL, &e), ERR_OK);
        errs[r] = smooth_err(t_out, y);
    }
    for (int r = 1; r < 4; r++) {
        const double slope = log(errs[r - 1] / errs[r]) / log(2.0);
        ck_assert_msg(slope > 3.6 && slope < 4.6, "%s: slope %.3f (errors %.3g -> %.3g)", method,
                      slope, errs[r - 1], errs[r]);
    }
}
END_TEST

/* The dense output is of order 3: over one step from the exact state its
 * error at theta = 0.37 shrinks like h^4. */
START_TEST(dense_order)
{
    const char *method = methods[_i];
    const double t0 = 0.3;
    double y0[2] = {exp(sin(t0)), exp(-t0 * t0)}, y[4], errs[4];
    const double hs[4] = {0.2, 0.1, 0.05, 0.025};
    for (int r = 0; r < 4; r++) {
        const double t_out[2] = {t0 + 0.37 * hs[r], t0 + hs[r]};
        struct ode_problem p = {.f = smooth_f, .jac = smooth_jac, .dim = 2, .t0 = t0,
                                .y0 = y0, .t_out = t_out, .n_out = 2};
        struct ode_options o;
        ode_options_init(&o);
        o.fixed_step = hs[r];
        o.rtol = 1e-12;
        o.atol = 1e-14;
        err e;
        struct ode_stats st;
        ck_assert_int_eq(solve(method, &p, &o, y, &st, &e), ERR_OK);
        ck_assert_int_eq(st.n_accepted, 1);
        errs[r] = smooth_err(t_out[0], y);
    }
    for (int r = 1; r < 4; r++) {
        const double slope = log(errs[r - 1] / errs[r]) / log(2.0);
        ck_assert_msg(slope > 3.6, "%s: dense slope %.3f (errors %.3g -> %.3g)", method, slope,
                      errs[r - 1], errs[r]);
    }
}
END_TEST

/* R(-inf) = 0: one step with h lambda = -1e12 from y = 1 of y' = lambda y
 * leaves (almost) nothing, where an A-stable but not L-stable method (the
 * trapezoidal rule: R = -1) would leave |y| = 1. */
static double ls_lambda = -1e12;
static int ls_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    d[0] = ls_lambda * y[0];
    return 0;
}

static int ls_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)y, (void)ctx;
    J[0] = ls_lambda;
    if (dt) dt[0] = 0;
    return 0;
}

START_TEST(l_stable)
{
    const char *method = methods[_i];
    double y0 = 1, y;
    const double t_out = 1;
    struct ode_problem p = {.f = ls_f, .jac = ls_jac, .dim = 1, .y0 = &y0, .t_out = &t_out,
                            .n_out = 1, .autonomous = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.fixed_step = 1;
    err e;
    ck_assert_int_eq(solve(method, &p, &o, &y, NULL, &e), ERR_OK);
    ck_assert_msg(fabs(y) < 1e-6, "%s: R(-1e12) = %g", method, y);
}
END_TEST

/* The Jacobian and LU policy (docs/solvers.md): rodas4 forms one Jacobian
 * per step and one LU per attempt; esdirk4 keeps both across steps. */
static void check_policy(const char *method, const struct ode_stats *st)
{
    if (strcmp(method, "rodas4") == 0) {
        ck_assert_int_eq(st->n_jac, st->n_accepted);
        ck_assert_int_eq(st->n_lu, st->n_accepted + st->n_rejected);
    } else {
        ck_assert_msg(st->n_jac * 4 < st->n_accepted && st->n_lu * 2 < st->n_accepted,
                      "%s: %ld Jacobians, %ld LUs for %ld steps", method, st->n_jac, st->n_lu,
                      st->n_accepted);
    }
}

/* dopri5's steps on a problem, or its max_steps (2e6) when it runs out. */
static long dopri5_steps(const struct ode_problem *p, const struct ode_options *o)
{
    struct ode_options od = *o;
    od.max_steps = 2000000;
    double *y = malloc(p->n_out * p->dim * sizeof *y);
    struct ode_stats st;
    err e;
    err_code rc = solve("dopri5", p, &od, y, &st, &e);
    free(y);
    if (rc == ERR_SOLVER && strstr(e.message, "max_steps")) return od.max_steps;
    ck_assert_int_eq(rc, ERR_OK);
    return st.n_accepted;
}

/* y' = A y, eigenvalues -1, -1e3, -1e6: the exact expm(A t) y0. */
START_TEST(linear_stiff)
{
    const char *method = methods[_i];
    json_t *pj = problem("linear6");
    double y0[3], t[8], ref[8 * 3], y[8 * 3];
    for (size_t r = 0; r < 3; r++)
        vec(json_array_get(json_object_get(pj, "A"), r), lin_A + 3 * r, 3);
    vec(json_object_get(pj, "y0"), y0, 3);
    const size_t n = vec(json_object_get(pj, "t"), t, 8);
    for (size_t i = 0; i < n; i++)
        vec(json_array_get(json_object_get(pj, "y"), i), ref + 3 * i, 3);
    struct ode_problem p = {.f = lin_f, .jac = lin_jac, .dim = 3, .y0 = y0, .t_out = t,
                            .n_out = n, .autonomous = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    struct ode_stats st;
    err e;
    ck_assert_int_eq(solve(method, &p, &o, y, &st, &e), ERR_OK);
    const double r = rel_err(y, ref, n * 3, 1e-6);
    ck_assert_msg(r < 1e-5, "%s: linear6 relative error %.3g", method, r);
    const long d5 = dopri5_steps(&p, &o);
    ck_assert_msg(st.n_accepted * 100 < d5, "%s: %ld steps, dopri5 %ld", method, st.n_accepted,
                  d5);
    check_policy(method, &st);
}
END_TEST

/* Each time is a span's end (answered by the step, not the order-3 dense
 * output, whose error over the long steps the method takes here exceeds the
 * tolerance: docs/solvers.md). */
START_TEST(prothero_robinson)
{
    const char *method = methods[_i];
    const double t[4] = {0.5, 1, 5, 10};
    for (int i = 0; i < 4; i++) {
        double y0 = 0, y;
        struct ode_problem p = {.f = pr_f, .jac = pr_jac, .dim = 1, .y0 = &y0, .t_out = t + i,
                                .n_out = 1};
        struct ode_options o;
        ode_options_init(&o);
        o.rtol = 1e-6;
        o.atol = 1e-9;
        struct ode_stats st;
        err e;
        ck_assert_int_eq(solve(method, &p, &o, &y, &st, &e), ERR_OK);
        ck_assert_msg(fabs(y - sin(t[i])) < 1e-5, "%s: t=%g error %.3g", method, t[i],
                      fabs(y - sin(t[i])));
        const long d5 = dopri5_steps(&p, &o);
        ck_assert_msg(st.n_accepted * 100 < d5, "%s: %ld steps, dopri5 %ld", method,
                      st.n_accepted, d5);
    }
}
END_TEST

/* Against SciPy Radau at rtol 1e-12. The bound: 100 x the requested rtol
 * (relative, with a floor for the components near zero), the factor the
 * explicit methods' tests allow for global error growth. */
static void radau_case(const char *method, const char *name, ode_rhs_fn f, ode_jac_fn jac,
                       size_t dim, double rtol, double atol, double floor, int with_dopri5)
{
    json_t *pj = problem(name);
    double y0[3], t[8], ref[8 * 3], y[8 * 3];
    vec(json_object_get(pj, "y0"), y0, dim);
    const size_t n = vec(json_object_get(pj, "t"), t, 8);
    for (size_t i = 0; i < n; i++)
        vec(json_array_get(json_object_get(pj, "y"), i), ref + dim * i, dim);
    struct ode_problem p = {.f = f, .jac = jac, .dim = dim, .y0 = y0, .t_out = t, .n_out = n,
                            .autonomous = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = rtol;
    o.atol = atol;
    struct ode_stats st;
    err e;
    ck_assert_msg(solve(method, &p, &o, y, &st, &e) == ERR_OK, "%s %s: %s", method, name, e.message);
    const double r = rel_err(y, ref, n * dim, floor);
    ck_assert_msg(r < 100 * rtol, "%s %s: relative error %.3g (%ld steps)", method, name, r,
                  st.n_accepted);
    if (jac) check_policy(method, &st);
    if (with_dopri5) {
        const long d5 = dopri5_steps(&p, &o);
        ck_assert_msg(st.n_accepted * 10 < d5, "%s %s: %ld steps, dopri5 %ld", method, name,
                      st.n_accepted, d5);
    }
}

START_TEST(van_der_pol)
{
    radau_case(methods[_i], "vdp1000", vdp_f, vdp_jac, 2, 1e-8, 1e-10, 1e-3, 1);
}
END_TEST

START_TEST(robertson)
{
    radau_case(methods[_i], "robertson", rober_f, rober_jac, 3, 1e-8, 1e-14, 1e-12, 1);
}
END_TEST

/* Without a Jacobian, num differences f: the documented fallback. */
START_TEST(fd_fallback)
{
    radau_case(methods[_i], "robertson", rober_f, NULL, 3, 1e-8, 1e-14, 1e-12, 0);
    radau_case(methods[_i], "vdp1000", vdp_f, NULL, 2, 1e-8, 1e-10, 1e-3, 0);
}
END_TEST

/* The fallback at jump times, against closed forms. y' = a(t) y with a =
 * -1, 0.5, -2 on the pieces split at 1 and 2.5 (y = y0 exp of a's
 * integral), and y' = c(t) with c piecewise constant (y = y0 + the integral
 * of c, which every method integrates exactly between jumps), forward from
 * 0 and backward from 4, with the value at a jump time belonging to the
 * piece after it (ctx 0) or before it (ctx 1). Without a Jacobian the
 * differences must be taken on the side of the jump the step goes into,
 * where its k_1 was evaluated: across it, df/dt came out as the jump over
 * 1.5e-8 and rodas4 answered 1.5e6 tolerances off (relative 1e-2), and
 * 6.3 instead of 0 on the piecewise constant. */
static double jump_a(double t, int owner)
{
    if (owner == 0) return t < 1 ? -1.0 : t < 2.5 ? 0.5 : -2.0;
    return t <= 1 ? -1.0 : t <= 2.5 ? 0.5 : -2.0;
}

static double jump_a_int(double t) /* the integral of a from 0 to t */
{
    if (t < 1) return -t;
    if (t < 2.5) return -1 + 0.5 * (t - 1);
    return -0.25 - 2 * (t - 2.5);
}

static int jump_exp_f(double t, const double *y, double *d, void *ctx)
{
    d[0] = jump_a(t, *(const int *)ctx) * y[0];
    return 0;
}

static double jump_c_int(double t) /* c = 3, -2, 0.5 on the pieces */
{
    if (t < 1) return 3 * t;
    if (t < 2.5) return 3 - 2 * (t - 1);
    return 0 + 0.5 * (t - 2.5);
}

static int jump_const_f(double t, const double *y, double *d, void *ctx)
{
    (void)y;
    const int owner = *(const int *)ctx;
    d[0] = (owner ? t <= 1 : t < 1) ? 3.0 : (owner ? t <= 2.5 : t < 2.5) ? -2.0 : 0.5;
    return 0;
}

START_TEST(fd_fallback_jumps)
{
    static const char *const names[] = {"rodas4", "esdirk4", "auto"};
    const double jumps[] = {2.5, 1.0};
    double t[200], y[200];
    for (int i = 0; i < 200; i++)
        t[i] = 4.0 * ((i * 37) % 200) / 199.0; /* [0, 4], shuffled */
    err e;
    err_clear(&e);
    ode_solver *s = ode_solver_new(rk_tableau_find(names[_i]), 1, &e);
    ck_assert_ptr_nonnull(s);
    for (int owner = 0; owner < 2; owner++)
        for (int back = 0; back < 2; back++)
            for (int piece_const = 0; piece_const < 2; piece_const++) {
                const double t0 = back ? 4.0 : 0.0, y0 = 1.3;
                double yt0 = piece_const ? y0 + jump_c_int(t0) : y0 * exp(jump_a_int(t0));
                struct ode_problem pr = {.f = piece_const ? jump_const_f : jump_exp_f,
                                         .ctx = &owner,
                                         .dim = 1,
                                         .t0 = t0,
                                         .y0 = &yt0,
                                         .t_out = t,
                                         .n_out = 200,
                                         .jump_times = jumps,
                                         .n_jumps = 2};
                struct ode_options o;
                ode_options_init(&o);
                o.rtol = 1e-8;
                o.atol = 1e-10;
                err_clear(&e);
                ck_assert_int_eq(ode_solve(s, &pr, &o, y, NULL, &e), ERR_OK);
                double worst = 0;
                for (int i = 0; i < 200; i++) {
                    const double ref =
                        piece_const ? y0 + jump_c_int(t[i]) : y0 * exp(jump_a_int(t[i]));
                    const double d = fabs(y[i] - ref);
                    /* to rounding (1e-13) when exact, else within 100 tolerances */
                    const double r = piece_const ? d / 1e-13 : d / (100 * (o.atol + o.rtol * fabs(ref)));
                    if (r > worst) worst = r;
                }
                ck_assert_msg(worst <= 1, "%s %s, jump owned by the piece %s, %s: %.3g x the bound",
                              names[_i], back ? "backward" : "forward", owner ? "before" : "after",
                              piece_const ? "y' = c(t)" : "y' = a(t) y", worst);
            }
    ode_solver_free(s);
}
END_TEST

/* A Jacobian that disagrees with f (sign flipped: I - h gamma J is then
 * singular at h gamma = 1/lambda and Newton diverges for large h) ends in
 * ERR_SOLVER naming the reason, not a wrong answer. */
static int bad_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)y, (void)ctx;
    J[0] = 1e6; /* f' = -1e6 */
    if (dt) dt[0] = 0;
    return 0;
}

static int decay_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    d[0] = -1e6 * y[0] + 1e6 * y[0] * y[0] * y[0];
    return 0;
}

START_TEST(newton_failure)
{
    double y0 = 0.5, y;
    const double t_out = 1;
    struct ode_problem p = {.f = decay_f, .jac = bad_jac, .dim = 1, .y0 = &y0, .t_out = &t_out,
                            .n_out = 1, .autonomous = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.fixed_step = 0.1;
    err e;
    ck_assert_int_eq(solve("esdirk4", &p, &o, &y, NULL, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "Newton") != NULL, "%s", e.message);
    o.fixed_step = 4e-6; /* h gamma J = 1 */
    ck_assert_int_eq(solve("rodas4", &p, &o, &y, NULL, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "singular") != NULL, "%s", e.message);
}
END_TEST

/* y' = lambda y, growing. */
static double grow_lambda = 1;
static int grow_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    d[0] = grow_lambda * y[0];
    return 0;
}

static int grow_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)y, (void)ctx;
    J[0] = grow_lambda;
    if (dt) dt[0] = 0;
    return 0;
}

/* A huge user first_step on a growing problem. Past h lambda = 1 / gamma
 * an L-stable method's R(h lambda) is small (R(inf) = 0) and so is its
 * embedded one's: rodas4 accepted one step of 1e4 on y' = y (error
 * estimate 4.5e-4 against a tolerance of 1e-3) and answered -8.9e-4 where
 * the solution overflows. Every adaptive method (explicit ones by their
 * estimate, the implicit ones by the sign of det(I - h gamma J)) must
 * shrink instead: y' = y to t = 1e4 ends in an error (it overflows), and
 * y' = 0.07 y to t = 1e4 (e^700) is answered positive and as from the
 * automatic first step. */
START_TEST(growing_first_step)
{
    size_t n_tabs;
    const struct rk_tableau *const *tabs = rk_tableau_all(&n_tabs);
    for (size_t m = 0; m < n_tabs; m++) {
        if (!rk_tableau_adaptive(tabs[m])) continue;
        const char *name = tabs[m]->name;
        double y0 = 1, y;
        const double t_out = 1e4;
        struct ode_problem p = {.f = grow_f, .jac = grow_jac, .dim = 1, .y0 = &y0,
                                .t_out = &t_out, .n_out = 1, .autonomous = 1};
        struct ode_options o;
        ode_options_init(&o);
        o.first_step = 1e4;
        struct ode_stats st;
        err e;
        grow_lambda = 1; /* e^10000: overflows */
        err_code rc = solve(name, &p, &o, &y, &st, &e);
        ck_assert_msg(rc == ERR_SOLVER, "%s: y' = y to 1e4 answered %g in %ld steps", name,
                      y, st.n_accepted);
        grow_lambda = 0.07; /* e^700 */
        o.rtol = 1e-2;
        o.atol = 1e-5;
        double y_auto;
        o.first_step = 0;
        ck_assert_int_eq(solve(name, &p, &o, &y_auto, &st, &e), ERR_OK);
        o.first_step = 1e4;
        rc = solve(name, &p, &o, &y, &st, &e);
        ck_assert_msg(rc == ERR_OK, "%s: %s", name, e.message);
        /* at rtol 1e-2 over 700 e-folds the honest global error is large
         * (dopri5 answers 1.9e294 from its own first step), so the answer
         * is held to the sign of e^700 and to the method's own answer from
         * its automatic first step; the wrong one was -0.013 */
        ck_assert_msg(y > 0 && fabs(log(y / y_auto)) < log(10.0) && st.n_accepted > 10,
                      "%s: y = %g, %g from the automatic first step (e^700 = %g), %ld steps", name,
                      y, y_auto, exp(700.0), st.n_accepted);
    }
}
END_TEST

/* The same with two growing modes, where det(I - h gamma J) > 0 past the
 * pole and its sign alone cannot tell: a real pair (J = lambda I) and a
 * complex pair (lambda +- i omega; the answer's norm grows like
 * e^(lambda t)). */
static double grow2_J[16]; /* y' = J y, J grow2_n x grow2_n */
static size_t grow2_n;
static int grow2_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    for (size_t i = 0; i < grow2_n; i++) {
        d[i] = 0;
        for (size_t j = 0; j < grow2_n; j++)
            d[i] += grow2_J[i * grow2_n + j] * y[j];
    }
    return 0;
}

static int grow2_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)t, (void)y, (void)ctx;
    memcpy(J, grow2_J, grow2_n * grow2_n * sizeof *J);
    if (dt) memset(dt, 0, grow2_n * sizeof *dt);
    return 0;
}

START_TEST(growing_pair_first_step)
{
    static const double omega[] = {0, 0.5};
    const char *const names[] = {"rodas4", "esdirk4"};
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 2; m++)
            for (int analytic = 0; analytic < 2; analytic++) {
                const double lambda = 0.07, t_out = 700 / lambda, y0[2] = {1, 1};
                const double J[4] = {lambda, omega[c], -omega[c], lambda};
                memcpy(grow2_J, J, sizeof J);
                grow2_n = 2;
                double y[2], y_auto[2];
                struct ode_problem p = {.f = grow2_f,
                                        .jac = analytic ? grow2_jac : NULL,
                                        .dim = 2,
                                        .y0 = y0,
                                        .t_out = &t_out,
                                        .n_out = 1,
                                        .autonomous = 1};
                struct ode_options o;
                ode_options_init(&o);
                /* the real pair as growing_first_step's case; the complex
                 * pair at a tolerance that holds its phase over the 5,000
                 * radians, against the closed form */
                o.rtol = c == 0 ? 1e-2 : 1e-6;
                o.atol = c == 0 ? 1e-5 : 1e-9;
                struct ode_stats st;
                err e;
                ck_assert_int_eq(solve(names[m], &p, &o, y_auto, &st, &e), ERR_OK);
                o.first_step = 1e4;
                err_code rc = solve(names[m], &p, &o, y, &st, &e);
                ck_assert_msg(rc == ERR_OK, "%s: %s", names[m], e.message);
                const char *how = analytic ? "analytic" : "differenced";
                if (c == 0) {
                    ck_assert_msg(y[0] > 0 && y[0] == y[1] &&
                                      fabs(log(y[0] / y_auto[0])) < log(10.0) && st.n_accepted > 10,
                                  "%s (%s jac): y = (%g, %g), %g from the automatic first step "
                                  "(e^700 = %g), %ld steps",
                                  names[m], how, y[0], y[1], y_auto[0], exp(700.0), st.n_accepted);
                } else { /* y(t) = e^(lambda t) R(omega t) y0: |y| = e^700 |y0| */
                    const double norm = hypot(y[0], y[1]), want = exp(700.0) * sqrt(2.0);
                    ck_assert_msg(fabs(norm / want - 1) < 0.05 && st.n_accepted > 10,
                                  "%s (complex pair, %s jac): |y| = %g, want %g, %ld steps",
                                  names[m], how, norm, want, st.n_accepted);
                }
            }
}
END_TEST

/* Past the check for small blocks: four growing modes, where det(I - h
 * gamma J) > 0 again (J = lambda I plus a rotation of each pair, which
 * Gershgorin's discs cannot place left of the pole); and a stiff, stable
 * 4 x 4 with off-diagonal coupling that Gershgorin's bound alone would call
 * growing, whose answer must stay that of its closed form. */
START_TEST(growing_four_first_step)
{
    const char *const names[] = {"rodas4", "esdirk4"};
    for (int m = 0; m < 2; m++)
        for (int analytic = 0; analytic < 2; analytic++) {
            const double lambda = 0.07, w = 0.01, t_out = 700 / lambda;
            const double y0[4] = {1, 1, 1, 1};
            const double J[16] = {lambda, w, 0,      0,  -w, lambda, 0, 0,
                                  0,      0, lambda, -w, 0,  0,      w, lambda};
            memcpy(grow2_J, J, sizeof J);
            grow2_n = 4;
            double y[4], y_auto[4];
            struct ode_problem p = {.f = grow2_f,
                                    .jac = analytic ? grow2_jac : NULL,
                                    .dim = 4,
                                    .y0 = y0,
                                    .t_out = &t_out,
                                    .n_out = 1,
                                    .autonomous = 1};
            struct ode_options o;
            ode_options_init(&o);
            o.rtol = 1e-2;
            o.atol = 1e-5;
            struct ode_stats st;
            err e;
            ck_assert_int_eq(solve(names[m], &p, &o, y_auto, &st, &e), ERR_OK);
            o.first_step = 1e4;
            ck_assert_int_eq(solve(names[m], &p, &o, y, &st, &e), ERR_OK);
            double n_big = 0, n_auto = 0;
            for (int i = 0; i < 4; i++) /* in units of e^700, or the squares overflow */
                n_big += pow(y[i] / exp(700.0), 2), n_auto += pow(y_auto[i] / exp(700.0), 2);
            n_big = sqrt(n_big), n_auto = sqrt(n_auto);
            ck_assert_msg(
                fabs(log(n_big / n_auto)) < log(10.0) && n_auto > exp(-10.0) && st.n_accepted > 10,
                "%s (%s jac): |y| / e^700 = %g, %g from the automatic first step, "
                "%ld steps",
                names[m], analytic ? "analytic" : "differenced", n_big, n_auto, st.n_accepted);
        }
    /* stable: the pairs -1 +- 300i and -1000, -2 (a Gershgorin row bound of
     * +299 and +499), to t = 1 at rtol 1e-8 from a huge first step */
    const double Js[16] = {-1, 300, 0, 0, -300, -1, 0, 0, 0, 0, -1000, 500, 0, 0, 0, -2};
    memcpy(grow2_J, Js, sizeof Js);
    grow2_n = 4;
    for (int m = 0; m < 2; m++) {
        const double y0[4] = {1, 0, 1, 1}, t_out = 1;
        double y[4];
        struct ode_problem p = {.f = grow2_f,
                                .jac = grow2_jac,
                                .dim = 4,
                                .y0 = y0,
                                .t_out = &t_out,
                                .n_out = 1,
                                .autonomous = 1};
        struct ode_options o;
        ode_options_init(&o);
        o.rtol = 1e-8;
        o.atol = 1e-12;
        o.first_step = 10;
        struct ode_stats st;
        err e;
        ck_assert_int_eq(solve(names[m], &p, &o, y, &st, &e), ERR_OK);
        /* closed form: the rotation e^-t (cos 300t, -sin 300t); the second
         * pair: y4 = e^-2t, y3 = e^-1000t + 500 (e^-2t - e^-1000t) / 998 */
        const double e1 = exp(-1.0), e2 = exp(-2.0), e3 = exp(-1000.0);
        const double want[4] = {e1 * cos(300.0), -e1 * sin(300.0), e3 + 500 * (e2 - e3) / 998, e2};
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabs(y[i] - want[i]) <= 1e-5, /* of amplitudes up to 1 */
                          "%s: y[%d] = %.17g, want %.17g", names[m], i, y[i], want[i]);
    }
}
END_TEST

/* A differenced Jacobian that overflows (f jumps from -1e308 to 1e308
 * within the difference): the step is refused as a non-finite one is, and
 * the solve fails saying so, instead of handing inf to LAPACK. */
static int cliff_f(double t, const double *y, double *d, void *ctx)
{
    (void)t, (void)ctx;
    d[0] = y[0] > 1 ? 1e308 : -1e308;
    d[1] = -y[1];
    return 0;
}

START_TEST(differenced_jacobian_overflows)
{
    const char *const names[] = {"rodas4", "esdirk4"};
    for (int m = 0; m < 2; m++) {
        const double y0[2] = {1 - 1e-9, 1}, t_out = 1;
        double y[2];
        struct ode_problem p = {
            .f = cliff_f, .dim = 2, .y0 = y0, .t_out = &t_out, .n_out = 1, .autonomous = 1};
        struct ode_options o;
        ode_options_init(&o);
        struct ode_stats st;
        err e;
        err_code rc = solve(names[m], &p, &o, y, &st, &e);
        ck_assert_msg(rc != ERR_OK, "%s: answered (%g, %g)", names[m], y[0], y[1]);
        /* it was refused as "past the pole", from the sign of an LU of inf */
        ck_assert_msg(strstr(e.message, "the Jacobian is not finite"), "%s: %s", names[m],
                      e.message);
    }
}
END_TEST

/* Per-trajectory reuse: a second solve with another y0 on the same solver
 * (the Jacobian and LU of the first are not reused). */
START_TEST(reuse_solver)
{
    const char *method = methods[_i];
    ode_solver *s = ode_solver_new(rk_tableau_find(method), 2, NULL);
    const double t_out = 10;
    double y[2];
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    double ya[2], yb[2];
    for (int pass = 0; pass < 2; pass++) {
        double y0[2] = {2, pass ? 0.5 : 0};
        struct ode_problem p = {.f = vdp_f, .jac = vdp_jac, .dim = 2, .y0 = y0,
                                .t_out = &t_out, .n_out = 1, .autonomous = 1};
        err e;
        ck_assert_int_eq(ode_solve(s, &p, &o, y, NULL, &e), ERR_OK);
        memcpy(pass ? yb : ya, y, sizeof y);
        ode_solver *fresh = ode_solver_new(rk_tableau_find(method), 2, NULL);
        ck_assert_int_eq(ode_solve(fresh, &p, &o, y, NULL, &e), ERR_OK);
        ode_solver_free(fresh);
        ck_assert(memcmp(y, pass ? yb : ya, sizeof y) == 0);
    }
    ode_solver_free(s);
}
END_TEST


/* ---- accuracy: the global error in units of the tolerance ----------------- */

static json_t *ratio_fixture;

/* max over outputs and components of |y - ref| / (atol + rtol |ref|) of
 * method on the problem of tests/fixtures/accuracy_ratio.json at rtol (atol
 * = rtol * its atol_factor); *steps gets the accepted steps. */
static double tol_units(const char *method, const char *name, double rtol, long *steps,
                        double *radau)
{
    if (!ratio_fixture) {
        char path[4096];
        tu_source_path(path, sizeof path, "tests/fixtures/accuracy_ratio.json");
        json_error_t je;
        ratio_fixture = json_load_file(path, 0, &je);
        ck_assert_msg(ratio_fixture != NULL, "%s:%d: %s", path, je.line, je.text);
    }
    json_t *pj = NULL, *q;
    size_t i;
    json_array_foreach(json_object_get(ratio_fixture, "problems"), i, q)
    {
        if (strcmp(json_string_value(json_object_get(q, "name")), name) == 0) pj = q;
    }
    ck_assert_ptr_nonnull(pj);
    double y0[3], t[8], ref[8 * 3], y[8 * 3];
    const size_t dim = vec(json_object_get(pj, "y0"), y0, 3);
    const size_t n = vec(json_object_get(pj, "t"), t, 8);
    for (i = 0; i < n; i++)
        vec(json_array_get(json_object_get(pj, "y"), i), ref + dim * i, 3);
    struct ode_problem p = {.dim = dim, .y0 = y0, .t_out = t, .n_out = n, .autonomous = 1};
    if (strcmp(name, "linear6") == 0) {
        for (size_t r = 0; r < 3; r++) /* the matrix of stiff_reference.json */
            vec(json_array_get(json_object_get(problem("linear6"), "A"), r), lin_A + 3 * r, 3);
        p.f = lin_f, p.jac = lin_jac;
    } else if (strcmp(name, "robertson") == 0) {
        p.f = rober_f, p.jac = rober_jac;
    } else {
        vdp_mu = 100;
        p.f = vdp_f, p.jac = vdp_jac;
    }
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = rtol;
    o.atol = rtol * json_number_value(json_object_get(pj, "atol_factor"));
    struct ode_stats st;
    err e;
    const err_code rc = solve(method, &p, &o, y, &st, &e);
    vdp_mu = 1000;
    ck_assert_msg(rc == ERR_OK, "%s %s: %s", method, name, e.message);
    char key[32];
    snprintf(key, sizeof key, "%g", rtol);
    *radau = json_number_value(
        json_object_get(json_object_get(json_object_get(pj, "radau"), key), "err_tol"));
    double worst = 0;
    for (i = 0; i < n * dim; i++) {
        const double u = fabs(y[i] - ref[i]) / (o.atol + o.rtol * fabs(ref[i]));
        if (!(u <= worst)) worst = u;
    }
    *steps = st.n_accepted;
    return worst;
}

/* The honest bands (docs/solvers.md, "Accuracy of the implicit methods").
 * esdirk4's embedded order-3 solution is close to its order-4 one (error
 * constants 8.2e-4 against 3.4e-3), so a step its estimate accepts carries
 * about 20x the local error of a rodas4 step of the same estimate: it
 * takes half rodas4's steps and lands at 4-9 tolerances on linear6 where
 * rodas4 lands at 0.3-1 and SciPy's Radau at 0.1-0.7. These bounds pin
 * that: a change to the table, the estimate or the controller that moves
 * esdirk4 out of its band (either way) must come with new docs. */
START_TEST(accuracy_bands)
{
    static const double rtols[] = {1e-4, 1e-6, 1e-8, 1e-10};
    for (int k = 0; k < 4; k++) {
        long se, sr;
        double radau;
        const double ee = tol_units("esdirk4", "linear6", rtols[k], &se, &radau);
        const double er = tol_units("rodas4", "linear6", rtols[k], &sr, &radau);
        ck_assert_msg(ee > 2 && ee < 20, "esdirk4 linear6 rtol %g: %.3g tolerances", rtols[k], ee);
        ck_assert_msg(er < 3, "rodas4 linear6 rtol %g: %.3g tolerances", rtols[k], er);
        ck_assert_msg(ee > 3 * radau, "esdirk4 linear6 rtol %g: %.3g, Radau %.3g", rtols[k], ee,
                      radau);
        ck_assert_msg(se * 10 < sr * 7, "esdirk4 %ld steps, rodas4 %ld", se, sr);
        if (k == 3) continue; /* the Radau references are good to 1e-13 */
        const double eb = tol_units("esdirk4", "robertson", rtols[k], &se, &radau);
        ck_assert_msg(eb < 10, "esdirk4 robertson rtol %g: %.3g tolerances", rtols[k], eb);
        const double ev = tol_units("esdirk4", "vdp100", rtols[k], &se, &radau);
        ck_assert_msg(ev < 30, "esdirk4 vdp100 rtol %g: %.3g tolerances", rtols[k], ev);
        ck_assert_msg(tol_units("rodas4", "robertson", rtols[k], &sr, &radau) < 10, "rodas4");
        ck_assert_msg(tol_units("rodas4", "vdp100", rtols[k], &sr, &radau) < 10, "rodas4");
    }
}
END_TEST

/* ---- "auto" -------------------------------------------------------------- */

/* Van der Pol mu = 1000 (stiff along its slow branches) against SciPy Radau:
 * auto switches to rodas4, meets the implicit methods' bound and takes far
 * fewer steps than dopri5. */
START_TEST(auto_van_der_pol)
{
    json_t *pj = problem("vdp1000");
    double y0[2], t[8], ref[16], y[16];
    vec(json_object_get(pj, "y0"), y0, 2);
    const size_t n = vec(json_object_get(pj, "t"), t, 8);
    for (size_t i = 0; i < n; i++)
        vec(json_array_get(json_object_get(pj, "y"), i), ref + 2 * i, 2);
    struct ode_problem p = {.f = vdp_f, .jac = vdp_jac, .dim = 2, .y0 = y0, .t_out = t,
                            .n_out = n, .autonomous = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    struct ode_stats st;
    err e;
    ck_assert_msg(solve("auto", &p, &o, y, &st, &e) == ERR_OK, "%s", e.message);
    const double r = rel_err(y, ref, n * 2, 1e-3);
    ck_assert_msg(r < 100 * o.rtol, "auto vdp1000: relative error %.3g", r);
    ck_assert_int_gt(st.auto_steps[1], 0);
    ck_assert_int_ge(st.n_switches, 1);
    ck_assert_int_eq(st.auto_steps[0] + st.auto_steps[1], st.n_accepted);
    ck_assert_int_gt(st.n_jac, 0);
    const long d5 = dopri5_steps(&p, &o);
    ck_assert_msg(st.n_accepted * 10 < d5, "auto: %ld steps (%ld dopri5, %ld rodas4), dopri5 %ld",
                  st.n_accepted, st.auto_steps[0], st.auto_steps[1], d5);
}
END_TEST

/* Van der Pol in other units: y = S u, u the problem above, S = diag(vdp_s). */
static double vdp_s[2] = {1, 1};
static int vdp_scaled_f(double t, const double *y, double *d, void *ctx)
{
    const double u[2] = {y[0] / vdp_s[0], y[1] / vdp_s[1]};
    vdp_f(t, u, d, ctx);
    d[0] *= vdp_s[0], d[1] *= vdp_s[1];
    return 0;
}

static int vdp_scaled_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    const double u[2] = {y[0] / vdp_s[0], y[1] / vdp_s[1]};
    vdp_jac(t, u, J, dt, ctx);
    J[1] *= vdp_s[0] / vdp_s[1], J[2] *= vdp_s[1] / vdp_s[0];
    return 0;
}

/* auto's stiffness test does not depend on the units of the state: Van der
 * Pol scaled by 1e200, by 1e-200, and by 1e150 in one component and 1e-150
 * in the other (atol scaled with it) switches at the same steps as at unit
 * scale and meets the same bound against SciPy Radau. With dopri5.f's
 * unweighted sums of squares it never switched at 1e+-200 (inf / inf and
 * 0 / 0) and took 1.2 million dopri5 steps. */
START_TEST(auto_scale_invariant)
{
    static const double scales[][2] = {{1, 1}, {1e200, 1e200}, {1e-200, 1e-200}, {1e150, 1e-150}};
    json_t *pj = problem("vdp1000");
    double u0[2], t[8], ref[16], y[16];
    vec(json_object_get(pj, "y0"), u0, 2);
    const size_t n = vec(json_object_get(pj, "t"), t, 8);
    for (size_t i = 0; i < n; i++)
        vec(json_array_get(json_object_get(pj, "y"), i), ref + 2 * i, 2);
    struct ode_stats st0 = {0};
    for (size_t c = 0; c < sizeof scales / sizeof scales[0]; c++) {
        memcpy(vdp_s, scales[c], sizeof vdp_s);
        const double y0[2] = {u0[0] * vdp_s[0], u0[1] * vdp_s[1]};
        const double atol[2] = {1e-9 * vdp_s[0], 1e-9 * vdp_s[1]};
        struct ode_problem p = {.f = vdp_scaled_f, .jac = vdp_scaled_jac, .dim = 2, .y0 = y0,
                                .t_out = t, .n_out = n, .autonomous = 1};
        struct ode_options o;
        ode_options_init(&o);
        o.rtol = 1e-6;
        o.atol_v = atol;
        o.atol_len = 2;
        struct ode_stats st;
        err e;
        ck_assert_msg(solve("auto", &p, &o, y, &st, &e) == ERR_OK, "%s", e.message);
        for (size_t i = 0; i < n; i++)
            y[2 * i] /= vdp_s[0], y[2 * i + 1] /= vdp_s[1];
        const double r = rel_err(y, ref, n * 2, 1e-3);
        ck_assert_msg(r < 100 * o.rtol, "scale %g, %g: relative error %.3g", vdp_s[0], vdp_s[1],
                      r);
        if (c == 0) {
            st0 = st;
            ck_assert_int_ge(st.n_switches, 1);
            continue;
        }
        ck_assert_msg(st.n_switches == st0.n_switches && st.auto_steps[0] == st0.auto_steps[0] &&
                          st.auto_steps[1] == st0.auto_steps[1],
                      "scale %g, %g: %ld switches, %ld + %ld steps; at unit scale %ld, %ld + %ld",
                      vdp_s[0], vdp_s[1], st.n_switches, st.auto_steps[0], st.auto_steps[1],
                      st0.n_switches, st0.auto_steps[0], st0.auto_steps[1]);
    }
    vdp_s[0] = vdp_s[1] = 1;
}
END_TEST

/* Not stiff: auto never switches and is dopri5 bit for bit (the test reads
 * stages dopri5 computed anyway), forward and backward. */
START_TEST(auto_nonstiff_is_dopri5)
{
    const double rtols[] = {1e-3, 1e-6, 1e-10};
    double t[6] = {0.5, 1.7, 3, 6, -1, -2.5}, y0[2] = {1, 1};
    for (int k = 0; k < 3; k++) {
        double ya[12], yd[12];
        struct ode_problem p = {.f = smooth_f, .jac = smooth_jac, .dim = 2, .y0 = y0,
                                .t_out = t, .n_out = 6};
        struct ode_options o;
        ode_options_init(&o);
        o.rtol = rtols[k];
        o.atol = rtols[k] * 1e-3;
        struct ode_stats sa, sd;
        err e;
        ck_assert_int_eq(solve("auto", &p, &o, ya, &sa, &e), ERR_OK);
        ck_assert_int_eq(solve("dopri5", &p, &o, yd, &sd, &e), ERR_OK);
        ck_assert_int_eq(memcmp(ya, yd, sizeof ya), 0);
        ck_assert_int_eq(sa.nfe, sd.nfe);
        ck_assert_int_eq(sa.n_accepted, sd.n_accepted);
        ck_assert_int_eq(sa.n_rejected, sd.n_rejected);
        ck_assert_int_eq(sa.auto_steps[0], sd.n_accepted);
        ck_assert_int_eq(sa.auto_steps[1], 0);
        ck_assert_int_eq(sa.n_switches, 0);
        ck_assert_int_eq(sa.n_jac + sa.n_lu, 0);
    }
}
END_TEST

/* A growing mode is not stiffness: dopri5's h lambda estimate exceeds its
 * stability bound on y' = lambda y (lambda > 0) at a loose tolerance, where
 * accuracy, not stability, limits the step, and rodas4 would only be
 * slower. auto must stay with dopri5's steps; a growing pair (lambda I, and
 * a slowly turning one) as well. */
START_TEST(auto_growing_is_dopri5)
{
    static const double omega[] = {0, 0.01};
    const double rtols[] = {1e-2, 1e-3, 1e-6};
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 3; k++)
            for (size_t n = 1; n <= 2; n++) {
                if (n == 1 && c == 1) continue;
                const double lambda = 0.07, t_out = 700 / lambda, y0[2] = {1, 1};
                const double J1[1] = {lambda}, J2[4] = {lambda, omega[c], -omega[c], lambda};
                memcpy(grow2_J, n == 1 ? J1 : J2, n * n * sizeof *grow2_J);
                grow2_n = n;
                double ya[2], yd[2];
                struct ode_problem p = {.f = grow2_f, .jac = grow2_jac, .dim = n, .y0 = y0,
                                        .t_out = &t_out, .n_out = 1, .autonomous = 1};
                struct ode_options o;
                ode_options_init(&o);
                o.rtol = rtols[k];
                o.atol = rtols[k] * 1e-3;
                struct ode_stats sa, sd;
                err e;
                ck_assert_int_eq(solve("auto", &p, &o, ya, &sa, &e), ERR_OK);
                ck_assert_int_eq(solve("dopri5", &p, &o, yd, &sd, &e), ERR_OK);
                ck_assert_msg(sa.n_switches == 0 && sa.auto_steps[1] == 0 &&
                                  memcmp(ya, yd, n * sizeof *ya) == 0,
                              "n %zu, omega %g, rtol %g: %ld switches, %ld rodas4 steps, y[0] "
                              "%g (dopri5 %g)",
                              n, omega[c], rtols[k], sa.n_switches, sa.auto_steps[1], ya[0],
                              yd[0]);
            }
}
END_TEST

/* A stiff, lightly damped oscillator pulled along a slow path: y1' = y2,
 * y2' = -1e6 (y1 - cos t) - 10 y2 (eigenvalues -5 +- 1000i, J non-normal).
 * Once the fast oscillation has decayed the answer follows cos t and
 * dopri5's steps are held by stability. A quotient along the step's
 * direction turns with the fast mode's phase and is positive on some steps
 * (an earlier growth test took those for growth and stayed with dopri5),
 * yet every mode decays, and the state does not grow. Where rodas4's steps
 * are longer than dopri5's stability allows (atol 1e-3) auto must stay with
 * rodas4: the power quotient alone, which swings between J's singular
 * values as the iterate turns with the pair (from 4e2 to 3e5 here), sent it
 * back to dopri5 30 times (93,000 evaluations against rodas4's 16,500).
 * Where rodas4's accuracy holds it to dopri5's steps or shorter (tighter
 * atol), going back to dopri5 is right. Either way auto must cost about
 * what the better of the two costs. */
static int pulled_f(double t, const double *y, double *d, void *ctx)
{
    (void)ctx;
    d[0] = y[1];
    d[1] = -1e6 * (y[0] - cos(t)) - 10 * y[1];
    return 0;
}

START_TEST(auto_stiff_oscillation_switches)
{
    const double atols[] = {1e-3, 1e-6, 1e-9};
    for (int k = 0; k < 3; k++) {
        const double y0[2] = {1.001, 0}, t_out = 20;
        double y[2], yr[2], yd[2];
        struct ode_problem p = {.f = pulled_f, .dim = 2, .y0 = y0, .t_out = &t_out, .n_out = 1};
        struct ode_options o;
        ode_options_init(&o);
        o.rtol = 1e-6;
        o.atol = atols[k];
        struct ode_stats st, sr, sd;
        err e;
        ck_assert_int_eq(solve("auto", &p, &o, y, &st, &e), ERR_OK);
        ck_assert_int_eq(solve("rodas4", &p, &o, yr, &sr, &e), ERR_OK);
        ck_assert_int_eq(solve("dopri5", &p, &o, yd, &sd, &e), ERR_OK);
        const long best = sr.nfe < sd.nfe ? sr.nfe : sd.nfe;
        ck_assert_msg(st.n_switches >= 1 && st.nfe <= 1.2 * (double)best,
                      "atol %g: %ld switches, %ld dopri5 and %ld rodas4 steps, %ld evaluations "
                      "(rodas4 %ld, dopri5 %ld)",
                      atols[k], st.n_switches, st.auto_steps[0], st.auto_steps[1], st.nfe, sr.nfe,
                      sd.nfe);
        if (k == 0) /* rodas4's steps are the longer ones: most steps are its */
            ck_assert_msg(st.auto_steps[1] > 2 * st.auto_steps[0], "%ld dopri5, %ld rodas4 steps",
                          st.auto_steps[0], st.auto_steps[1]);
        /* the slow path, less its lag: y1 ~ cos t + 1e-5 sin t (10 / 1e6) */
        ck_assert_msg(fabs(y[0] - cos(20.0)) < 1e-4, "atol %g: y1 = %.17g", atols[k], y[0]);
    }
}
END_TEST

/* Stiff, then not: y_0' = -a(t)(y_0 - cos t) - sin t with a(t) = 1e4
 * exp(-5 t) (stiff while h a(t) is large), next to the oscillator y_1'' =
 * -y_1. Closed form: y_0 = cos t + (y_0(0) - 1) exp(-A(t)), A(t) = (1e4/5)
 * (1 - exp(-5 t)); y_1 = cos t, y_2 = -sin t. auto must go to rodas4 and
 * come back to dopri5 once a(t) has decayed. */
static double fade_a(double t)
{
    return 1e4 * exp(-t);
}

static int fade_f(double t, const double *y, double *d, void *ctx)
{
    (void)ctx;
    d[0] = -fade_a(t) * (y[0] - cos(t)) - sin(t);
    d[1] = y[2];
    d[2] = -y[1];
    return 0;
}

static int fade_jac(double t, const double *y, double *J, double *dt, void *ctx)
{
    (void)ctx;
    const double a = fade_a(t);
    for (int i = 0; i < 9; i++)
        J[i] = 0;
    J[0] = -a, J[5] = 1, J[7] = -1;
    if (dt) dt[0] = a * (y[0] - cos(t)) - a * sin(t) - cos(t), dt[1] = dt[2] = 0;
    return 0;
}

START_TEST(auto_switches_back)
{
    double y0[3] = {2, 1, 0}, t[5] = {0.001, 0.5, 2, 10, 20}, y[15];
    struct ode_problem p = {.f = fade_f, .jac = fade_jac, .dim = 3, .y0 = y0, .t_out = t,
                            .n_out = 5};
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    struct ode_stats st;
    err e;
    ck_assert_msg(solve("auto", &p, &o, y, &st, &e) == ERR_OK, "%s", e.message);
    for (int i = 0; i < 5; i++) {
        const double A = 1e4 * (1 - exp(-t[i]));
        const double ref[3] = {cos(t[i]) + exp(-A), cos(t[i]), -sin(t[i])};
        const double r = rel_err(y + 3 * i, ref, 3, 1e-3);
        ck_assert_msg(r < 100 * o.rtol, "t=%g: relative error %.3g", t[i], r);
    }
    ck_assert_msg(st.n_switches >= 2 && st.auto_steps[1] > 0,
                  "%ld switches, %ld dopri5 steps, %ld rodas4 steps", st.n_switches,
                  st.auto_steps[0], st.auto_steps[1]);
    const long d5 = dopri5_steps(&p, &o);
    ck_assert_msg(st.n_accepted * 2 < d5, "auto %ld steps, dopri5 %ld", st.n_accepted, d5);
}
END_TEST

/* Events under auto: found on the dense output of whichever method took
 * the step. y_1 = cos t crosses zero at pi/2 + k pi: the first two while
 * rodas4 runs (a(t) still large), the rest under dopri5 again. */
struct fade_hits {
    int n;
    double t[16];
};

static int fade_event(size_t which, double t, const double *y, void *ctx)
{
    (void)which, (void)y;
    struct fade_hits *h = ctx;
    if (h->n < 16) h->t[h->n] = t;
    h->n++;
    return 0;
}

START_TEST(auto_events)
{
    double y0[3] = {2, 1, 0}, t_end = 20, y[3];
    const double w[3] = {0, 1, 0};
    const struct ode_event ev = {.w = w, .value = 0, .direction = ODE_EVENT_BOTH};
    struct ode_problem p = {.f = fade_f, .jac = fade_jac, .dim = 3, .y0 = y0, .t_out = &t_end,
                            .n_out = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    struct fade_hits hits = {0};
    p.events = &ev;
    p.n_events = 1;
    p.on_event = fade_event;
    p.event_ctx = &hits;
    struct ode_stats st;
    err e;
    ck_assert_msg(solve("auto", &p, &o, y, &st, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_ge(st.n_switches, 2);
    ck_assert_int_eq(hits.n, 6);
    for (int k = 0; k < 6; k++)
        ck_assert_msg(fabs(hits.t[k] - (M_PI / 2 + k * M_PI)) < 1e-6, "event %d at %.17g", k,
                      hits.t[k]);
}
END_TEST

/* auto steps adaptively only. */
START_TEST(auto_fixed_step)
{
    double y0[2] = {1, 1}, t = 1, y[2];
    struct ode_problem p = {.f = smooth_f, .dim = 2, .y0 = y0, .t_out = &t, .n_out = 1};
    struct ode_options o;
    ode_options_init(&o);
    o.fixed_step = 0.1;
    err e;
    ck_assert_int_eq(solve("auto", &p, &o, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "fixed_step");
    ck_assert_ptr_eq(ode_solver_tableau(NULL), NULL);
    ode_solver *sv = ode_solver_new(&rk_auto, 2, &e);
    ck_assert_ptr_eq(ode_solver_tableau(sv), &rk_auto); /* not the method running inside */
    ode_solver_free(sv);
    ck_assert_int_eq(rk_tableau_find("auto")->kind, RK_AUTO);
}
END_TEST

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    Suite *s = suite_create("num_stiff");
    TCase *tc = tcase_create("stiff");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, table_lookup);
    tcase_add_loop_test(tc, order_slope, 0, N_METHODS);
    tcase_add_loop_test(tc, dense_order, 0, N_METHODS);
    tcase_add_loop_test(tc, l_stable, 0, N_METHODS);
    tcase_add_loop_test(tc, linear_stiff, 0, N_METHODS);
    tcase_add_loop_test(tc, prothero_robinson, 0, N_METHODS);
    tcase_add_loop_test(tc, van_der_pol, 0, N_METHODS);
    tcase_add_loop_test(tc, robertson, 0, N_METHODS);
    tcase_add_loop_test(tc, fd_fallback, 0, N_METHODS);
    tcase_add_loop_test(tc, fd_fallback_jumps, 0, 3);
    tcase_add_test(tc, newton_failure);
    tcase_add_test(tc, growing_first_step);
    tcase_add_test(tc, growing_pair_first_step);
    tcase_add_test(tc, growing_four_first_step);
    tcase_add_test(tc, differenced_jacobian_overflows);
    tcase_add_test(tc, accuracy_bands);
    tcase_add_loop_test(tc, reuse_solver, 0, N_METHODS);
    tcase_add_test(tc, auto_van_der_pol);
    tcase_add_test(tc, auto_nonstiff_is_dopri5);
    tcase_add_test(tc, auto_growing_is_dopri5);
    tcase_add_test(tc, auto_stiff_oscillation_switches);
    tcase_add_test(tc, auto_scale_invariant);
    tcase_add_test(tc, auto_switches_back);
    tcase_add_test(tc, auto_fixed_step);
    tcase_add_test(tc, auto_events);
    suite_add_tcase(s, tc);
    int rc = tu_suite_run(s);
    json_decref(fixture);
    return rc;
}
