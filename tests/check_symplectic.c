/* tests/check_symplectic.c: num/symplectic.h against closed forms.
 *
 * Problems: harmonic oscillators H = sum p_i^2/2 + w_i^2 q_i^2/2 (exact flow
 * known), the Henon-Heiles potential (nonlinear, two degrees of freedom) and
 * the Kepler problem (eccentricity 0.5: energy and angular momentum known
 * from y0). Every method is reached through symp_method_names, so a method
 * added to the table is checked by each loop. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num/driver.h"
#include "num/symplectic.h"
#include "testutil.h"

/* ---- problems ---- */

struct osc {
    size_t n;
    double w[4];
    long calls;        /* gradient calls */
    double fail_after; /* f / jac: fail (or poison) past this time (implicit) */
    int mode;          /* 0 normal; 1 f fails; 2 f fails recording its own error; 3 jac = 0 */
    err *e;
};

static int osc_dT(const double *p, double *out, void *ctx)
{
    struct osc *o = ctx;
    o->calls++;
    memcpy(out, p, o->n * sizeof *out);
    return 0;
}

static int osc_dV(const double *q, double *out, void *ctx)
{
    struct osc *o = ctx;
    o->calls++;
    for (size_t i = 0; i < o->n; i++)
        out[i] = o->w[i] * o->w[i] * q[i];
    return 0;
}

static int osc_f(double t, const double *y, double *dy, void *ctx)
{
    struct osc *o = ctx;
    o->calls++;
    if (o->mode == 1 && t > o->fail_after) return -1;
    if (o->mode == 2 && t > o->fail_after)
        return err_set(o->e, ERR_DEADLINE, "model", "the model's own failure"), -1;
    size_t n = o->n;
    for (size_t i = 0; i < n; i++) {
        dy[i] = y[n + i];
        dy[n + i] = -o->w[i] * o->w[i] * y[i];
    }
    return 0;
}

static int osc_jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    (void)t, (void)y, (void)dfdt;
    struct osc *o = ctx;
    size_t n = o->n, m = 2 * n;
    memset(J, 0, m * m * sizeof *J);
    if (o->mode == 3) return 0; /* a wrong Jacobian: Newton becomes a fixed-point iteration */
    if (o->mode == 4) { /* I - h/2 J = 0 for h = 0.5 */
        for (size_t i = 0; i < m; i++)
            J[i * m + i] = 4;
        return 0;
    }
    if (o->mode == 5 && t > o->fail_after) return -1;
    if (o->mode == 6) J[0] = NAN;
    for (size_t i = 0; i < n; i++) {
        J[i * m + n + i] = 1;
        J[(n + i) * m + i] = -o->w[i] * o->w[i];
    }
    return 0;
}

static void osc_exact(const struct osc *o, const double *y0, double t, double *y)
{
    size_t n = o->n;
    for (size_t i = 0; i < n; i++) {
        double w = o->w[i], c = cos(w * t), s = sin(w * t);
        y[i] = y0[i] * c + y0[n + i] / w * s;
        y[n + i] = -y0[i] * w * s + y0[n + i] * c;
    }
}

static double osc_energy(const struct osc *o, const double *y)
{
    double h = 0;
    for (size_t i = 0; i < o->n; i++)
        h += 0.5 * y[o->n + i] * y[o->n + i] + 0.5 * o->w[i] * o->w[i] * y[i] * y[i];
    return h;
}

static struct symp_problem osc_problem(struct osc *o, const double *y0, const double *t_out,
                                       size_t n_out)
{
    struct symp_problem p = {.n = o->n, .dT_dp = osc_dT, .dV_dq = osc_dV, .f = osc_f,
                             .jac = osc_jac, .ctx = o, .t0 = 0, .y0 = y0, .t_out = t_out,
                             .n_out = n_out};
    return p;
}

/* Henon-Heiles: V = (q1^2 + q2^2)/2 + q1^2 q2 - q2^3/3, T = |p|^2/2. */
static int hh_dT(const double *p, double *out, void *ctx)
{
    (void)ctx;
    out[0] = p[0];
    out[1] = p[1];
    return 0;
}

static int hh_dV(const double *q, double *out, void *ctx)
{
    (void)ctx;
    out[0] = q[0] + 2 * q[0] * q[1];
    out[1] = q[1] + q[0] * q[0] - q[1] * q[1];
    return 0;
}

static int hh_f(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    double g[2];
    hh_dV(y, g, ctx);
    dy[0] = y[2];
    dy[1] = y[3];
    dy[2] = -g[0];
    dy[3] = -g[1];
    return 0;
}

static int hh_jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    (void)t, (void)dfdt, (void)ctx;
    memset(J, 0, 16 * sizeof *J);
    J[0 * 4 + 2] = 1;
    J[1 * 4 + 3] = 1;
    /* -Hess V */
    J[2 * 4 + 0] = -(1 + 2 * y[1]);
    J[2 * 4 + 1] = -(2 * y[0]);
    J[3 * 4 + 0] = -(2 * y[0]);
    J[3 * 4 + 1] = -(1 - 2 * y[1]);
    return 0;
}

/* Kepler: H = |p|^2/2 - 1/|q|. */
static int kep_dV(const double *q, double *out, void *ctx)
{
    (void)ctx;
    double r2 = q[0] * q[0] + q[1] * q[1], r3 = r2 * sqrt(r2);
    out[0] = q[0] / r3;
    out[1] = q[1] / r3;
    return 0;
}

static int kep_f(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    double g[2];
    kep_dV(y, g, ctx);
    dy[0] = y[2];
    dy[1] = y[3];
    dy[2] = -g[0];
    dy[3] = -g[1];
    return 0;
}

static double kep_energy(const double *y)
{
    return 0.5 * (y[2] * y[2] + y[3] * y[3]) - 1 / hypot(y[0], y[1]);
}

static double kep_angular(const double *y)
{
    return y[0] * y[3] - y[1] * y[2];
}

static struct symp_options opts_step(double h)
{
    struct symp_options o;
    symp_options_init(&o);
    o.step = h;
    return o;
}

/* ---- the table ---- */

START_TEST(test_table)
{
    size_t k = 0;
    for (; symp_method_names[k]; k++) {
        const struct symp_method *m = symp_method_find(symp_method_names[k]);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(m->name, symp_method_names[k]);
        if (symp_method_explicit(m)) {
            double sum = 0;
            for (int i = 0; i < m->n_weights; i++) {
                sum += m->weights[i];
                ck_assert_double_eq(m->weights[i], m->weights[m->n_weights - 1 - i]);
            }
            ck_assert_double_eq_tol(sum, 1.0, 4 * DBL_EPSILON);
        }
    }
    ck_assert_uint_eq(k, 6);
    ck_assert_int_eq(symp_method_order(symp_method_find("leapfrog")), 2);
    ck_assert_int_eq(symp_method_order(symp_method_find("yoshida4")), 4);
    ck_assert_int_eq(symp_method_order(symp_method_find("yoshida6")), 6);
    ck_assert_int_eq(symp_method_order(symp_method_find("kahan_li6")), 6);
    ck_assert_int_eq(symp_method_order(symp_method_find("implicit_midpoint")), 2);
    ck_assert_int_eq(symp_method_order(symp_method_find("gauss4")), 4);
    ck_assert_int_eq(symp_method_explicit(symp_method_find("yoshida4")), 1);
    ck_assert_int_eq(symp_method_explicit(symp_method_find("gauss4")), 0);
    /* the Runge-Kutta names are not symplectic methods */
    ck_assert_ptr_null(symp_method_find("dopri5"));
    ck_assert_ptr_null(symp_method_find("rk4"));
    ck_assert_ptr_null(symp_method_find(NULL));
    ck_assert_ptr_null(symp_method_find("Leapfrog"));
}
END_TEST

/* ---- order ---- */

/* Least-squares slope of log err against log h. */
static double fit_slope(const double *h, const double *er, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double x = log(h[i]), y = log(er[i]);
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

START_TEST(test_order_slopes)
{
    /* two oscillators (w = 1, 2.5) to T = 10; the step ranges keep the
     * error between about 1e-3 and 1e-11, above round-off */
    struct osc os = {.n = 2, .w = {1.0, 2.5}};
    const double y0[4] = {1.0, -0.5, 0.3, 0.8}, T = 10.0;
    double ex[4];
    osc_exact(&os, y0, T, ex);
    for (size_t k = 0; symp_method_names[k]; k++) {
        const struct symp_method *m = symp_method_find(symp_method_names[k]);
        int order = symp_method_order(m);
        long n0 = order == 2 ? 600 : order == 4 ? 100 : 60;
        double hs[6], es[6];
        for (int j = 0; j < 6; j++) {
            long N = (long)(n0 * pow(1.5, j));
            struct symp_options o;
            symp_options_init(&o);
            o.n_steps = N;
            o.newton_tol = 1e-15;
            struct symp_problem p = osc_problem(&os, y0, &T, 1);
            double y[4];
            err e = {0};
            ck_assert_int_eq(symp_solve(m, &p, &o, y, NULL, &e), 0);
            double d = 0;
            for (int i = 0; i < 4; i++)
                d = fmax(d, fabs(y[i] - ex[i]));
            hs[j] = T / (double)N;
            es[j] = d;
        }
        double slope = fit_slope(hs, es, 6);
        fprintf(stderr, "order %-18s slope %.3f (err %.2e .. %.2e)\n", m->name, slope, es[0], es[5]);
        ck_assert_msg(es[5] > 1e-12 && es[0] < 1e-2, "%s: errors %g .. %g out of the fit range",
                      m->name, es[0], es[5]);
        ck_assert_msg(fabs(slope - order) <= 0.2, "%s: slope %g, order %d", m->name, slope, order);
    }
}
END_TEST

/* ---- invariants ---- */

START_TEST(test_quadratic_energy_implicit)
{
    /* the implicit midpoint rule and Gauss methods keep every quadratic
     * invariant: the oscillator's energy to round-off at any step */
    struct osc os = {.n = 2, .w = {1.0, 3.0}};
    const double y0[4] = {0.7, -1.2, 0.4, 0.9};
    enum { N = 2000 };
    static double ts[N], ys[N * 4];
    const double h = 0.3; /* large: the energy is exact whatever the step */
    for (int i = 0; i < N; i++)
        ts[i] = (i + 1) * h;
    const double E0 = osc_energy(&os, y0);
    const char *names[] = {"implicit_midpoint", "gauss4"};
    for (int k = 0; k < 2; k++) {
        struct symp_problem p = osc_problem(&os, y0, ts, N);
        struct symp_options o = opts_step(h);
        err e = {0};
        ck_assert_int_eq(symp_solve(symp_method_find(names[k]), &p, &o, ys, NULL, &e), 0);
        double worst = 0;
        for (int i = 0; i < N; i++)
            worst = fmax(worst, fabs(osc_energy(&os, ys + 4 * i) - E0) / E0);
        fprintf(stderr, "energy %-18s max rel error %.2e over %d steps of %g\n", names[k], worst,
                N, h);
        ck_assert_msg(worst < 1e-13, "%s: energy error %g", names[k], worst);
    }
    /* the explicit splitting does not (a contrast that shows the check can fail) */
    struct symp_problem p = osc_problem(&os, y0, ts, N);
    struct symp_options o = opts_step(h);
    err e = {0};
    ck_assert_int_eq(symp_solve(symp_method_find("leapfrog"), &p, &o, ys, NULL, &e), 0);
    double worst = 0;
    for (int i = 0; i < N; i++)
        worst = fmax(worst, fabs(osc_energy(&os, ys + 4 * i) - E0) / E0);
    ck_assert_msg(worst > 1e-3, "leapfrog energy error %g", worst);
}
END_TEST

/* A linear system's answer scales with its state: the oscillator (w = 1.7,
 * and 3 on a second degree of freedom) from q = c, p = 0, for c from 1 to
 * 1e300, is c times the answer from q = 1, by both implicit methods, and
 * within the method's error of the closed form. From q >= 1e6 the momentum
 * starts at 0 and reaches ~c/4 in one step of 0.1: its Newton updates
 * jitter by the stage's round-off, which the norm max |dZ| / (1 + |y0|)
 * compared with 1e-12 as if y0 were its size, and gauss4 failed "Newton
 * iteration did not converge" at t = 0. */
START_TEST(test_implicit_scale_invariant)
{
    struct osc os = {.n = 2, .w = {1.7, 3.0}};
    const double t[3] = {1.0, -2.5, 1.05};
    const char *names[] = {"implicit_midpoint", "gauss4"};
    const double err_of[2] = {4e-2, 4e-4}; /* h w = 0.3 to t = 2.5: order 2, order 4 */
    for (int k = 0; k < 2; k++) {
        double y1[12];
        const double one[4] = {1.0, 1.0, 0.0, 0.0};
        struct symp_problem p = osc_problem(&os, one, t, 3);
        struct symp_options o = opts_step(0.1);
        err e = {0};
        ck_assert_int_eq(symp_solve(symp_method_find(names[k]), &p, &o, y1, NULL, &e), ERR_OK);
        for (int i = 0; i < 3; i++) {
            double ex[4];
            osc_exact(&os, one, t[i], ex);
            for (int j = 0; j < 4; j++)
                ck_assert_msg(fabs(y1[4 * i + j] - ex[j]) <= err_of[k] * 3, "%s t=%g: %.17g vs %.17g",
                              names[k], t[i], y1[4 * i + j], ex[j]);
        }
        for (double c = 10; c <= 1e300; c *= 1e5) {
            const double y0[4] = {c, c, 0.0, 0.0};
            double y[12];
            p = osc_problem(&os, y0, t, 3);
            err_clear(&e);
            ck_assert_msg(symp_solve(symp_method_find(names[k]), &p, &o, y, NULL, &e) == ERR_OK,
                          "%s from q = %g: %s", names[k], c, e.message);
            for (int i = 0; i < 12; i++)
                ck_assert_msg(fabs(y[i] / c - y1[i]) <= 1e-13, "%s from q = %g, value %d: %.17g vs %.17g",
                              names[k], c, i, y[i] / c, y1[i]);
        }
    }
}
END_TEST

START_TEST(test_reversibility)
{
    /* Henon-Heiles (energy 1/8): forward to T, then backward from there */
    const double y0[4] = {0.1, -0.2, 0.35, 0.2};
    const double T = 20.0, zero = 0.0;
    for (size_t k = 0; symp_method_names[k]; k++) {
        const struct symp_method *m = symp_method_find(symp_method_names[k]);
        struct symp_problem p = {.n = 2, .dT_dp = hh_dT, .dV_dq = hh_dV, .f = hh_f,
                                 .jac = hh_jac, .t0 = 0, .y0 = y0, .t_out = &T, .n_out = 1};
        struct symp_options o = opts_step(0.02);
        double y1[4], y2[4];
        err e = {0};
        ck_assert_int_eq(symp_solve(m, &p, &o, y1, NULL, &e), 0);
        p.t0 = T;
        p.y0 = y1;
        p.t_out = &zero;
        ck_assert_int_eq(symp_solve(m, &p, &o, y2, NULL, &e), 0);
        double d = 0, moved = 0;
        for (int i = 0; i < 4; i++) {
            d = fmax(d, fabs(y2[i] - y0[i]));
            moved = fmax(moved, fabs(y1[i] - y0[i]));
        }
        fprintf(stderr, "reverse %-18s |back - y0| %.2e\n", m->name, d);
        ck_assert_msg(moved > 0.1, "%s did not move", m->name);
        ck_assert_msg(d <= 1e-12, "%s: back at %g from y0", m->name, d);
    }
}
END_TEST

START_TEST(test_kepler_leapfrog_vs_dopri5)
{
    /* e = 0.5, period 2 pi; 1000 orbits */
    const double e_ = 0.5, P = 2 * M_PI;
    const double y0[4] = {1 - e_, 0, 0, sqrt((1 + e_) / (1 - e_))};
    const double E0 = kep_energy(y0), L0 = kep_angular(y0);
    enum { ORBITS = 1000, PER = 400, SAMPLES = 20 }; /* leapfrog steps per orbit; samples per orbit */
    const long n_out = (long)ORBITS * SAMPLES;
    double *ts = malloc((size_t)n_out * sizeof *ts), *ys = malloc((size_t)n_out * 4 * sizeof *ys);
    ck_assert_ptr_nonnull(ts);
    ck_assert_ptr_nonnull(ys);
    for (long i = 0; i < n_out; i++)
        ts[i] = (double)(i + 1) * P / SAMPLES;

    struct symp_problem p = {.n = 2, .dT_dp = hh_dT, .dV_dq = kep_dV, .t0 = 0, .y0 = y0,
                             .t_out = ts, .n_out = (size_t)n_out};
    struct symp_options o;
    symp_options_init(&o);
    o.n_steps = (long)ORBITS * PER;
    struct ode_stats st;
    err e = {0};
    ck_assert_int_eq(symp_solve(symp_method_find("leapfrog"), &p, &o, ys, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, (long)ORBITS * PER); /* every output on the grid */
    double dE[2] = {0, 0}, dL[2] = {0, 0};
    for (long i = 0; i < n_out; i++) {
        int part = i < 100L * SAMPLES ? 0 : i >= (long)(ORBITS - 100) * SAMPLES ? 1 : -1;
        if (part < 0) continue;
        dE[part] = fmax(dE[part], fabs(kep_energy(ys + 4 * i) - E0));
        dL[part] = fmax(dL[part], fabs(kep_angular(ys + 4 * i) - L0));
    }
    /* one pair of gradients per step = one evaluation of the field */
    long lf_fe = st.nfe / 2;
    fprintf(stderr, "kepler leapfrog: %ld field evals, |dE| first/last 100 orbits %.2e / %.2e, "
                    "|dL| %.2e / %.2e\n", lf_fe, dE[0], dE[1], dL[0], dL[1]);
    ck_assert(dE[0] < 1e-2 && dE[1] < 1e-2);
    ck_assert_msg(dE[1] < 1.2 * dE[0], "leapfrog energy error grows: %g -> %g", dE[0], dE[1]);
    /* leapfrog keeps q x p of a central force exactly: round-off only */
    ck_assert(dL[0] < 1e-11 && dL[1] < 1e-11);

    /* dopri5 with fixed steps at the same number of field evaluations (6 per step) */
    ode_solver *s = ode_solver_new(&rk_dopri5, 4, NULL);
    ck_assert_ptr_nonnull(s);
    struct ode_problem op = {.f = kep_f, .dim = 4, .t0 = 0, .y0 = y0, .t_out = ts,
                             .n_out = (size_t)n_out};
    struct ode_options oo;
    ode_options_init(&oo);
    oo.n_steps = lf_fe / 6;
    oo.max_steps = oo.n_steps + 10;
    struct ode_stats ost;
    ck_assert_int_eq(ode_solve(s, &op, &oo, ys, &ost, &e), 0);
    ode_solver_free(s);
    double rE[2] = {0, 0}, rL[2] = {0, 0};
    for (long i = 0; i < n_out; i++) {
        int part = i < 100L * SAMPLES ? 0 : i >= (long)(ORBITS - 100) * SAMPLES ? 1 : -1;
        if (part < 0) continue;
        rE[part] = fmax(rE[part], fabs(kep_energy(ys + 4 * i) - E0));
        rL[part] = fmax(rL[part], fabs(kep_angular(ys + 4 * i) - L0));
    }
    fprintf(stderr, "kepler dopri5: %ld field evals, |dE| first/last 100 orbits %.2e / %.2e, "
                    "|dL| %.2e / %.2e\n", ost.nfe, rE[0], rE[1], rL[0], rL[1]);
    ck_assert(ost.nfe <= lf_fe + 1);
    /* drift: the last 100 orbits far worse than the first 100, and than leapfrog */
    ck_assert_msg(rE[1] > 5 * rE[0], "dopri5 energy: %g -> %g", rE[0], rE[1]);
    ck_assert_msg(rL[1] > 5 * rL[0], "dopri5 angular momentum: %g -> %g", rL[0], rL[1]);
    ck_assert_msg(rE[1] > dE[1], "dopri5 %g vs leapfrog %g", rE[1], dE[1]);
    free(ts);
    free(ys);
}
END_TEST

START_TEST(test_yoshida4_energy_1000_periods)
{
    /* 100 steps per period, energy at every step of 1000 periods */
    struct osc os = {.n = 1, .w = {1.0}};
    const double y0[2] = {1.0, 0.0}, E0 = 0.5, P = 2 * M_PI;
    enum { STEPS = 100 * 1000 };
    double *ts = malloc(STEPS * sizeof *ts), *ys = malloc(STEPS * 2 * sizeof *ys);
    ck_assert_ptr_nonnull(ts);
    ck_assert_ptr_nonnull(ys);
    for (long i = 0; i < STEPS; i++)
        ts[i] = (double)(i + 1) * P / 100;
    struct symp_problem p = osc_problem(&os, y0, ts, STEPS);
    struct symp_options o;
    symp_options_init(&o);
    o.n_steps = STEPS;
    struct ode_stats st;
    err e = {0};
    ck_assert_int_eq(symp_solve(symp_method_find("yoshida4"), &p, &o, ys, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, STEPS);
    double worst = 0, first = 0, last = 0;
    for (long i = 0; i < STEPS; i++) {
        double d = fabs(osc_energy(&os, ys + 2 * i) - E0) / E0;
        worst = fmax(worst, d);
        if (i < 100) first = fmax(first, d);
        if (i >= STEPS - 100) last = fmax(last, d);
    }
    double at_end = fabs(osc_energy(&os, ys + 2 * (STEPS - 1)) - E0) / E0;
    fprintf(stderr, "yoshida4 100 steps/period: rel energy error at 1000 periods %.2e, max over "
                    "the run %.3e (first period %.3e, last %.3e)\n", at_end, worst, first, last);
    /* the target, at t = 1000 periods */
    ck_assert_msg(at_end <= 1e-6, "energy error %g", at_end);
    /* in between, the error oscillates with the modified energy's amplitude
     * (1.19e-6 for this method and step: docs/solvers.md), without a trend */
    ck_assert_msg(worst <= 1.2e-6, "energy error %g", worst);
    ck_assert_msg(last <= first * 1.001, "energy error grows: %g -> %g", first, last);
    free(ts);
    free(ys);
}
END_TEST

/* ---- grid, output times, batches, statistics ---- */

START_TEST(test_output_times)
{
    struct osc os = {.n = 2, .w = {1.0, 2.0}};
    const double y0[4] = {1.0, 0.2, -0.3, 0.5}, h = 0.05;
    /* both sides, duplicates (on and off the grid), unsorted, t0 itself */
    const double ts[] = {0.5, -0.3, 0.0, 0.5, 0.123, -0.071, 0.123, 1.0, -0.3, 0.05 * 7};
    const size_t n = sizeof ts / sizeof ts[0];
    for (size_t k = 0; symp_method_names[k]; k++) {
        const struct symp_method *m = symp_method_find(symp_method_names[k]);
        struct symp_problem p = osc_problem(&os, y0, ts, n);
        struct symp_options o = opts_step(h);
        double ys[sizeof ts / sizeof ts[0] * 4];
        struct ode_stats st;
        err e = {0};
        ck_assert_int_eq(symp_solve(m, &p, &o, ys, &st, &e), 0);
        /* forward grid to 1.0 (20 steps), backward to -0.3 (6), and one extra
         * step each for 0.123 and -0.071 (the duplicate 0.123 is copied) */
        ck_assert_int_eq(st.n_accepted, 20 + 6 + 2);
        for (size_t i = 0; i < n; i++) {
            /* each answer is that of a solve for its time alone */
            struct symp_problem q = osc_problem(&os, y0, &ts[i], 1);
            double one[4], ex[4];
            ck_assert_int_eq(symp_solve(m, &q, &o, one, NULL, &e), 0);
            osc_exact(&os, y0, ts[i], ex);
            for (int j = 0; j < 4; j++) {
                ck_assert_msg(one[j] == ys[4 * i + j], "%s t=%g: %g != %g", m->name, ts[i],
                              one[j], ys[4 * i + j]);
                ck_assert_msg(fabs(ex[j] - ys[4 * i + j]) < 5e-3, "%s t=%g: %g vs exact %g",
                              m->name, ts[i], ys[4 * i + j], ex[j]);
            }
            if (ts[i] == 0)
                ck_assert(memcmp(ys + 4 * i, y0, sizeof y0) == 0);
        }
    }
}
END_TEST

START_TEST(test_grid_rules)
{
    struct osc os = {.n = 1, .w = {1.0}};
    const double y0[2] = {1.0, 0.0};
    const struct symp_method *m = symp_method_find("leapfrog");
    /* n_steps: step = max |t - t0| / n_steps; -1 and 2 are grid points */
    const double ts[] = {2.0, -1.0};
    struct symp_problem p = osc_problem(&os, y0, ts, 2);
    p.t0 = 0;
    struct symp_options o;
    symp_options_init(&o);
    o.n_steps = 100;
    double ys[4];
    struct ode_stats st;
    err e = {0};
    ck_assert_int_eq(symp_solve(m, &p, &o, ys, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, 150);
    ck_assert_double_eq(st.h_last, 0.02); /* backward first, then forward */
    /* leapfrog: 2 gradient calls per step, one at the start of each direction */
    ck_assert_int_eq(st.nfe, 2 * 150 + 2);
    ck_assert_int_eq(st.n_newton, 0);
    /* a time within rounding of a grid point is that grid point: no extra step */
    const double t3 = 0.1 * 3; /* 0.30000000000000004 */
    struct symp_problem q = osc_problem(&os, y0, &t3, 1);
    struct symp_options o2 = opts_step(0.1);
    ck_assert_int_eq(symp_solve(m, &q, &o2, ys, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, 3);
    /* a time on a grid point away from t0 = 1000 */
    q.t0 = 1000;
    const double t4 = 1000.4;
    q.t_out = &t4;
    ck_assert_int_eq(symp_solve(m, &q, &o2, ys, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, 4);
    /* all output times at t0 with n_steps: y0, no work */
    const double z[2] = {0, 0};
    struct symp_problem r = osc_problem(&os, y0, z, 2);
    ck_assert_int_eq(symp_solve(m, &r, &o, ys, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, 0);
    ck_assert(memcmp(ys, y0, sizeof y0) == 0 && memcmp(ys + 2, y0, sizeof y0) == 0);
    /* no output times: nothing to do */
    r.n_out = 0;
    ck_assert_int_eq(symp_solve(m, &r, &o, NULL, &st, &e), 0);
}
END_TEST

START_TEST(test_stats_implicit)
{
    struct osc os = {.n = 1, .w = {1.0}};
    const double y0[2] = {1.0, 0.0}, T = 1.0;
    struct symp_problem p = osc_problem(&os, y0, &T, 1);
    struct symp_options o = opts_step(0.1);
    double y[2];
    struct ode_stats st;
    err e = {0};
    ck_assert_int_eq(symp_solve(symp_method_find("gauss4"), &p, &o, y, &st, &e), 0);
    ck_assert_int_eq(st.n_accepted, 10);
    ck_assert_int_eq(st.n_jac, 10);
    ck_assert_int_eq(st.n_lu, 10);
    /* linear: the first Newton update is exact, the second confirms it */
    ck_assert_int_eq(st.n_newton, 20);
    ck_assert_int_eq(st.nfe, 2 * st.n_newton); /* two stages */
    ck_assert_int_eq(st.nfe, os.calls);
    ck_assert(isnan(st.t_fail));
    /* autonomous: the first iteration's stages are all f(y0), evaluated once */
    double ya[2];
    p.autonomous = 1;
    os.calls = 0;
    ck_assert_int_eq(symp_solve(symp_method_find("gauss4"), &p, &o, ya, &st, &e), 0);
    ck_assert_int_eq(st.n_newton, 20);
    ck_assert_int_eq(st.nfe, 2 * st.n_newton - 10);
    ck_assert_int_eq(st.nfe, os.calls);
    ck_assert(ya[0] == y[0] && ya[1] == y[1]);
}
END_TEST

/* batched Henon-Heiles: ctx is the number of systems */
static int hhb_dT(const double *p, double *out, void *ctx)
{
    size_t g = *(const size_t *)ctx;
    for (size_t i = 0; i < g; i++)
        hh_dT(p + 2 * i, out + 2 * i, NULL);
    return 0;
}

static int hhb_dV(const double *q, double *out, void *ctx)
{
    size_t g = *(const size_t *)ctx;
    for (size_t i = 0; i < g; i++)
        hh_dV(q + 2 * i, out + 2 * i, NULL);
    return 0;
}

static int hhb_f(double t, const double *y, double *dy, void *ctx)
{
    size_t g = *(const size_t *)ctx;
    for (size_t i = 0; i < g; i++)
        hh_f(t, y + 4 * i, dy + 4 * i, NULL);
    return 0;
}

static int hhb_jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    size_t g = *(const size_t *)ctx;
    for (size_t i = 0; i < g; i++)
        hh_jac(t, y + 4 * i, J + 16 * i, dfdt, NULL);
    return 0;
}

START_TEST(test_batch)
{
    /* three Henon-Heiles systems as one batch = each solved alone */
    const double y0[12] = {0.1, -0.2, 0.35, 0.2, -0.05, 0.1, 0.2, -0.3, 0.0, 0.0, 0.4, 0.1};
    const double ts[] = {3.0, -1.234, 0.71};
    size_t three = 3, one = 1;
    for (size_t k = 0; symp_method_names[k]; k++) {
        const struct symp_method *m = symp_method_find(symp_method_names[k]);
        struct symp_options o = opts_step(0.05);
        o.newton_tol = 1e-15;
        struct symp_problem p = {.n = 2, .groups = 3, .dT_dp = hhb_dT, .dV_dq = hhb_dV,
                                 .f = hhb_f, .jac = hhb_jac, .ctx = &three, .t0 = 0.5,
                                 .y0 = y0, .t_out = ts, .n_out = 3};
        double yb[3 * 12], ys[3 * 4];
        err e = {0};
        ck_assert_int_eq(symp_solve(m, &p, &o, yb, NULL, &e), 0);
        for (size_t g = 0; g < 3; g++) {
            struct symp_problem q = p;
            q.groups = 1;
            q.ctx = &one;
            q.y0 = y0 + 4 * g;
            ck_assert_int_eq(symp_solve(m, &q, &o, ys, NULL, &e), 0);
            for (size_t i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++) {
                    double a = yb[i * 12 + g * 4 + j], b = ys[i * 4 + j];
                    /* explicit: the same arithmetic; implicit: Newton stops on the
                     * batch's norm, so the last update may differ at round-off */
                    if (symp_method_explicit(m))
                        ck_assert_msg(a == b, "%s g=%zu t=%g: %.17g != %.17g", m->name, g, ts[i],
                                      a, b);
                    else
                        ck_assert_msg(fabs(a - b) < 1e-14, "%s g=%zu t=%g: %.17g vs %.17g",
                                      m->name, g, ts[i], a, b);
                }
        }
    }
}
END_TEST

/* ---- failures ---- */

START_TEST(test_newton_failure)
{
    /* a Jacobian of zeros turns Newton into a fixed-point iteration, which
     * diverges when h w / 2 > 1: ERR_SOLVER naming the step's time */
    struct osc os = {.n = 1, .w = {10.0}, .mode = 3};
    const double y0[2] = {1.0, 0.0}, T = 5.0;
    const char *names[] = {"implicit_midpoint", "gauss4"};
    for (int k = 0; k < 2; k++) {
        struct symp_problem p = osc_problem(&os, y0, &T, 1);
        p.t0 = 3.0;
        struct symp_options o = opts_step(0.5);
        double y[2] = {0, 0};
        struct ode_stats st;
        err e = {0};
        ck_assert_int_eq(symp_solve(symp_method_find(names[k]), &p, &o, y, &st, &e), ERR_SOLVER);
        ck_assert_msg(strstr(e.message, "Newton") && strstr(e.message, "at t=3"), "%s",
                      e.message);
        ck_assert_double_eq(st.t_fail, 3.0);
        ck_assert_int_eq(st.n_accepted, 0);
        /* the same with the right Jacobian converges */
        os.mode = 0;
        err e2 = {0};
        ck_assert_int_eq(symp_solve(symp_method_find(names[k]), &p, &o, y, &st, &e2), 0);
        ck_assert(isfinite(y[0]) && isfinite(y[1]));
        os.mode = 3;
        /* and a small max_newton is too few even for a converging iteration */
        os.mode = 0;
        o = opts_step(0.01);
        o.max_newton = 1;
        err e3 = {0};
        ck_assert_int_eq(symp_solve(symp_method_find(names[k]), &p, &o, y, &st, &e3), ERR_SOLVER);
        ck_assert_msg(strstr(e3.message, "at t=3"), "%s", e3.message);
        os.mode = 3;
    }
}
END_TEST

static int inf_dV(const double *q, double *out, void *ctx)
{
    (void)ctx;
    out[0] = q[0] > 1.05 ? INFINITY : -1.0; /* pushes q up, then blows */
    return 0;
}

static int one_dT(const double *p, double *out, void *ctx)
{
    (void)ctx;
    out[0] = p[0];
    return 0;
}

static int fail_dT(const double *p, double *out, void *ctx)
{
    (void)ctx;
    out[0] = p[0];
    return p[0] > 2.0 ? 7 : 0;
}

static int abort_after(void *ctx)
{
    long *n = ctx;
    return --*n < 0 ? ERR_ABORTED : 0;
}

START_TEST(test_callback_failures)
{
    const double y0[2] = {1.0, 0.0}, T = 10.0;
    const struct symp_method *lf = symp_method_find("leapfrog");
    struct symp_options o = opts_step(0.01);
    double y[2];
    struct ode_stats st;
    /* a non-finite state stops at its time */
    struct symp_problem p = {.n = 1, .dT_dp = one_dT, .dV_dq = inf_dV, .t0 = 0, .y0 = y0,
                             .t_out = &T, .n_out = 1};
    err e = {0};
    ck_assert_int_eq(symp_solve(lf, &p, &o, y, &st, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "not finite at t="), "%s", e.message);
    ck_assert(st.t_fail > 0 && st.t_fail < T);
    /* a gradient that fails */
    p.dT_dp = fail_dT;
    p.dV_dq = inf_dV;
    const double y1[2] = {0.0, 1.9};
    p.y0 = y1;
    err e2 = {0};
    ck_assert_int_eq(symp_solve(lf, &p, &o, y, &st, &e2), ERR_SOLVER);
    ck_assert_msg(strstr(e2.message, "gradient of H failed at t="), "%s", e2.message);
    /* the implicit field fails: at the step's time */
    struct osc os = {.n = 1, .w = {1.0}, .mode = 1, .fail_after = 2.0};
    struct symp_problem q = osc_problem(&os, y0, &T, 1);
    err e3 = {0};
    o = opts_step(0.5);
    ck_assert_int_eq(symp_solve(symp_method_find("gauss4"), &q, &o, y, &st, &e3), ERR_SOLVER);
    ck_assert_msg(strstr(e3.message, "vector field failed at t=2"), "%s", e3.message);
    ck_assert_double_eq(st.t_fail, 2.0);
    /* ... having recorded its own error: that one wins */
    err e4 = {0};
    os.mode = 2;
    os.e = &e4;
    ck_assert_int_eq(symp_solve(symp_method_find("implicit_midpoint"), &q, &o, y, &st, &e4),
                     ERR_DEADLINE);
    ck_assert_str_eq(e4.field, "model");
    /* the Jacobian fails, is not finite, or makes a singular Newton matrix */
    const struct {
        int mode;
        const char *msg;
    } jb[] = {{5, "the Jacobian failed at t=2"},
              {6, "the Jacobian is not finite at t=0"},
              {4, "the Newton matrix is singular at t=0"}};
    for (int k = 0; k < 3; k++) {
        os.mode = jb[k].mode;
        err ej = {0};
        ck_assert_int_eq(symp_solve(symp_method_find("implicit_midpoint"), &q, &o, y, &st, &ej),
                         ERR_SOLVER);
        ck_assert_msg(strstr(ej.message, jb[k].msg), "%s", ej.message);
    }
    /* the abort hook, polled before every step */
    long budget = 5;
    os.mode = 0;
    o.abort = abort_after;
    o.abort_ctx = &budget;
    err e5 = {0};
    ck_assert_int_eq(symp_solve(symp_method_find("leapfrog"), &q, &o, y, &st, &e5), ERR_ABORTED);
    ck_assert_int_eq(st.n_accepted, 5);
    ck_assert_double_eq(st.t_fail, 2.5);
}
END_TEST

static void expect_invalid(const struct symp_method *m, const struct symp_problem *p,
                           const struct symp_options *o, double *y, err_code want,
                           const char *field)
{
    err e = {0};
    ck_assert_int_eq(symp_solve(m, p, o, y, NULL, &e), want);
    ck_assert_msg(strcmp(e.field, field) == 0, "field '%s', expected '%s' (%s)", e.field, field,
                  e.message);
}

START_TEST(test_bad_arguments)
{
    struct osc os = {.n = 1, .w = {1.0}};
    const double y0[2] = {1.0, 0.0}, T = 1.0, bad_y0[2] = {NAN, 0}, bad_t[2] = {1.0, INFINITY};
    const struct symp_method *lf = symp_method_find("leapfrog"),
                             *g4 = symp_method_find("gauss4");
    double y[4];
    struct symp_options o = opts_step(0.1);
    struct symp_problem p = osc_problem(&os, y0, &T, 1);
    expect_invalid(NULL, &p, &o, y, ERR_INVALID, "method");
    expect_invalid(lf, NULL, &o, y, ERR_INVALID, "problem");
    struct symp_problem q = p;
    q.n = 0;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "n");
    q = p;
    q.dT_dp = NULL;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "dT_dp");
    q = p;
    q.dV_dq = NULL;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "dV_dq");
    ck_assert_int_eq(symp_solve(g4, &q, &o, y, NULL, NULL), 0); /* the implicit need no split */
    q = p;
    q.f = NULL;
    expect_invalid(g4, &q, &o, y, ERR_INVALID, "f");
    ck_assert_int_eq(symp_solve(lf, &q, &o, y, NULL, NULL), 0);
    q = p;
    q.jac = NULL;
    expect_invalid(g4, &q, &o, y, ERR_INVALID, "jac");
    q = p;
    q.y0 = NULL;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "y0");
    q.y0 = bad_y0;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "y0");
    q = p;
    q.t0 = NAN;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "t0");
    q = p;
    q.t_out = bad_t;
    q.n_out = 2;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "t_out");
    q.t_out = NULL;
    expect_invalid(lf, &q, &o, y, ERR_INVALID, "t_out");
    expect_invalid(lf, &p, &o, NULL, ERR_INVALID, "y_out");
    expect_invalid(lf, &p, NULL, y, ERR_INVALID, "step");
    struct symp_options b = o;
    b.step = -0.1;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "step");
    b.step = NAN;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "step");
    b.step = INFINITY;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "step");
    b.step = 0;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "step");
    b.n_steps = -3;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "n_steps");
    b = o;
    b.n_steps = 10;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "n_steps");
    b = o;
    b.newton_tol = 0;
    expect_invalid(g4, &p, &b, y, ERR_INVALID, "newton_tol");
    b.newton_tol = NAN;
    expect_invalid(g4, &p, &b, y, ERR_INVALID, "newton_tol");
    b = o;
    b.max_newton = 0;
    expect_invalid(g4, &p, &b, y, ERR_INVALID, "max_newton");
    b = o;
    b.max_steps = 0;
    expect_invalid(lf, &p, &b, y, ERR_INVALID, "max_steps");
    /* too much work is refused before any step */
    b = o;
    b.max_steps = 9;
    expect_invalid(lf, &p, &b, y, ERR_TOO_LARGE, "max_steps"); /* T / h = 10 steps */
    b.max_steps = 10;
    ck_assert_int_eq(symp_solve(lf, &p, &b, y, NULL, NULL), 0);
    b.step = 1e-300;
    expect_invalid(lf, &p, &b, y, ERR_TOO_LARGE, "max_steps");
    os.calls = 0;
    b.step = 1e-9;
    expect_invalid(lf, &p, &b, y, ERR_TOO_LARGE, "max_steps");
    ck_assert_int_eq(os.calls, 0);
    /* an off-grid time's extra step counts as a step */
    const double two[2] = {1.0, 0.55};
    q = osc_problem(&os, y0, two, 2);
    b = o;
    b.max_steps = 10;
    expect_invalid(lf, &q, &b, y, ERR_TOO_LARGE, "max_steps");
    b.max_steps = 11;
    ck_assert_int_eq(symp_solve(lf, &q, &b, y, NULL, NULL), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("symplectic");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 600);
    tcase_add_test(c, test_table);
    tcase_add_test(c, test_order_slopes);
    tcase_add_test(c, test_quadratic_energy_implicit);
    tcase_add_test(c, test_implicit_scale_invariant);
    tcase_add_test(c, test_reversibility);
    tcase_add_test(c, test_yoshida4_energy_1000_periods);
    tcase_add_test(c, test_kepler_leapfrog_vs_dopri5);
    suite_add_tcase(s, c);
    TCase *g = tcase_create("grid");
    tcase_add_test(g, test_output_times);
    tcase_add_test(g, test_grid_rules);
    tcase_add_test(g, test_stats_implicit);
    tcase_add_test(g, test_batch);
    suite_add_tcase(s, g);
    TCase *f = tcase_create("errors");
    tcase_add_test(f, test_newton_failure);
    tcase_add_test(f, test_callback_failures);
    tcase_add_test(f, test_bad_arguments);
    suite_add_tcase(s, f);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
