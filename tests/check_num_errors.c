/* check_num_errors.c: TCases "limits" (edge cases of the driver and the
 * public dense-output API) and "errors" (every failure path, its code, its
 * message and the failure time) of check_num. See check_num.c. */
#include "num/step.h"
#include "num_check.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* y' = -y, y(0) = 1: y = exp(-t). The knobs make it fail on purpose. */
struct decay {
    double fail_after; /* f misbehaves for t > fail_after */
    int mode;          /* 0 none, 1 NaN, 2 return 3, 3 return -7, 4 set err + return -1,
                          5 NaN when y < 0 (a domain violation of a trial stage) */
    err *e;
    long calls;
};

static int f_decay(double t, const double *y, double *d, void *ctx)
{
    struct decay *c = ctx;
    c->calls++;
    d[0] = -y[0];
    if (c->mode == 5 && y[0] < 0) d[0] = NAN;
    if (c->mode && c->mode != 5 && t > c->fail_after) {
        switch (c->mode) {
        case 1:
            d[0] = NAN;
            break;
        case 2:
            return 3;
        case 3:
            return -7;
        case 4:
            err_set(c->e, ERR_NOMEM, "vector_field", "custom failure");
            return -1;
        }
    }
    return 0;
}

static err_code solve_decay(const struct rk_tableau *tab, struct decay *c,
                            const struct ode_options *o, double t_end, double *y,
                            struct ode_stats *st, err *e)
{
    const double y0 = 1;
    struct ode_problem pr = {
        .f = f_decay, .ctx = c, .dim = 1, .t0 = 0, .y0 = &y0, .t_out = &t_end, .n_out = 1};
    ode_solver *s = ode_solver_new(tab, 1, e);
    err_code rc = ode_solve(s, &pr, o, y, st, e);
    ode_solver_free(s);
    return rc;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- limits ------------------------------------------------------------------ */

START_TEST(defaults_and_names)
{
    struct ode_options o;
    ode_options_init(&o);
    ck_assert(o.rtol == 1e-3 && o.atol == 1e-6 && o.controller == ODE_CONTROL_PI);
    ck_assert(o.safety == 0.9 && o.min_factor == 0.2 && o.max_factor == 10);
    ck_assert(o.pi_beta == 0.04 && o.max_steps == 100000 && o.groups == 1);
    ck_assert(o.first_step == 0 && o.min_step == 0 && o.max_step == 0);
    int n = 0;
    for (; rk_tableau_names[n]; n++) {
        const struct rk_tableau *t = rk_tableau_find(rk_tableau_names[n]);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(rk_tableau_adaptive(t), t->err_order > 0);
    }
    ck_assert_int_eq(n, 7);
    ck_assert_ptr_null(rk_tableau_find("rk45"));
    ck_assert_ptr_null(rk_tableau_find(NULL));
    ck_assert(rk_tableau_adaptive(&rk_dopri5) && !rk_tableau_adaptive(&rk_rk4));
    ode_solver_free(NULL);
    ode_dense_free(NULL);
}
END_TEST

START_TEST(outputs_at_t0_or_none)
{
    struct decay c = {0};
    const double y0 = 1, t[3] = {0, 0, 0};
    double y[3] = {-1, -1, -1};
    struct ode_problem pr = {
        .f = f_decay, .ctx = &c, .dim = 1, .t0 = 0, .y0 = &y0, .t_out = t, .n_out = 3};
    err e;
    err_clear(&e);
    struct ode_stats st;
    ode_solver *s = ode_solver_new(&rk_dopri5, 1, &e);
    ck_assert_int_eq(ode_solve(s, &pr, NULL, y, &st, &e), ERR_OK);
    ck_assert(y[0] == 1 && y[1] == 1 && y[2] == 1);
    ck_assert_int_eq(st.nfe, 0);
    ck_assert_int_eq(st.n_accepted, 0);
    ck_assert(isnan(st.t_fail));
    pr.n_out = 0;
    ck_assert_int_eq(ode_solve(s, &pr, NULL, NULL, &st, &e), ERR_OK);
    ck_assert_int_eq(st.nfe, 0);
    ode_solver_free(s);
}
END_TEST

/* Output times one ulp either side of t0, and a tiny span. */
START_TEST(ulp_close_outputs)
{
    struct decay c = {0};
    const double y0 = 1;
    const double t0 = 3.0;
    const double t[3] = {nextafter(t0, 10), nextafter(t0, -10), t0 + 1e-9};
    double y[3];
    struct ode_problem pr = {
        .f = f_decay, .ctx = &c, .dim = 1, .t0 = t0, .y0 = &y0, .t_out = t, .n_out = 3};
    err e;
    err_clear(&e);
    for (int m = 0; tp_adaptive_methods[m]; m++) {
        ode_solver *s = ode_solver_new(rk_tableau_find(tp_adaptive_methods[m]), 1, &e);
        ck_assert_int_eq(ode_solve(s, &pr, NULL, y, NULL, &e), ERR_OK);
        for (int i = 0; i < 3; i++)
            ck_assert_double_eq_tol(y[i], exp(-(t[i] - t0)), 1e-15);
        ode_solver_free(s);
    }
}
END_TEST

struct hlog {
    int n;
    double first_h, max_abs_h;
};

static int h_log(const struct ode_step_record *r, void *ctx)
{
    struct hlog *l = ctx;
    if (l->n++ == 0) l->first_h = r->h;
    l->max_abs_h = fmax(l->max_abs_h, fabs(r->h));
    return 0;
}

START_TEST(step_size_options)
{
    const struct tp_problem *p = tp_find("mlp");
    double y[TP_MAXDIM];
    struct ode_options o;
    ode_options_init(&o);
    struct hlog l = {0};
    o.observer = h_log;
    o.observer_ctx = &l;
    o.max_step = 0.05;
    o.first_step = 1e-4;
    err e;
    err_clear(&e);
    struct ode_stats st;
    ck_assert_int_eq(num_solve("dopri5", p, &o, &p->t_hi, 1, y, &st, &e), ERR_OK);
    ck_assert_double_le(l.max_abs_h, 0.05 * (1 + 1e-12)); /* h = (t + h) - t: rounding */
    ck_assert_double_eq(l.first_h, 1e-4);
    ck_assert_int_ge(st.n_accepted, (long)((p->t_hi - p->t0) / 0.05));
    /* fixed steps: n_steps gives exactly that many; fixed_step clips the last */
    o.max_step = 0;
    o.first_step = 0;
    o.n_steps = 10;
    ck_assert_int_eq(num_solve("rk4", p, &o, &p->t_hi, 1, y, &st, &e), ERR_OK);
    ck_assert_int_eq(st.n_accepted, 10);
    ck_assert_int_eq(st.nfe, 1 + 4 * 10);
    o.n_steps = 0;
    o.fixed_step = 3;
    const double t_end = p->t0 + 8;
    ck_assert_int_eq(num_solve("midpoint", p, &o, &t_end, 1, y, &st, &e), ERR_OK);
    ck_assert_int_eq(st.n_accepted, 3);
    ck_assert_double_eq_tol(st.h_last, 2, 1e-15);
}
END_TEST

/* rtol = 0 is raised to 100 eps; pure absolute control still converges. */
START_TEST(rtol_zero)
{
    struct decay c = {0};
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 0;
    o.atol = 1e-10;
    double y;
    err e;
    err_clear(&e);
    ck_assert_int_eq(solve_decay(&rk_tsit5, &c, &o, 5.0, &y, NULL, &e), ERR_OK);
    ck_assert_double_le(fabs(y - exp(-5.0)), 100 * o.atol);
}
END_TEST

/* One solver object across dims and output counts: the buffers grow once,
 * results match those of fresh solvers bit for bit. */
START_TEST(solver_reuse_across_sizes)
{
    err e;
    err_clear(&e);
    ode_solver *shared = ode_solver_new(&rk_dop853, 1, &e);
    const char *names[] = {"exp_decay", "arenstorf", "van_der_pol", "exp_decay"};
    for (int k = 0; k < 4; k++) {
        const struct tp_problem *p = tp_find(names[k]);
        const size_t n = k == 3 ? p->n : 50;
        double *a = malloc(n * p->dim * sizeof *a), *b = malloc(n * p->dim * sizeof *b);
        struct ode_problem pr = {.f = p->f,
                                 .ctx = p->ctx,
                                 .dim = p->dim,
                                 .t0 = p->t0,
                                 .y0 = p->y0,
                                 .t_out = p->t,
                                 .n_out = n};
        ck_assert_int_eq(ode_solve(shared, &pr, NULL, a, NULL, &e), ERR_OK);
        ode_solver *fresh = ode_solver_new(&rk_dop853, p->dim, &e);
        ck_assert_int_eq(ode_solve(fresh, &pr, NULL, b, NULL, &e), ERR_OK);
        ck_assert(memcmp(a, b, n * p->dim * sizeof *a) == 0);
        ode_solver_free(fresh);
        free(a);
        free(b);
    }
    ck_assert_ptr_eq(ode_solver_tableau(shared), &rk_dop853);
    ode_solver_free(shared);
}
END_TEST

/* The public dense-output object fed with a recorded step reproduces the
 * solver's answers, including DOP853's lazily computed dense stages. */
struct rec_copy {
    int taken;
    double t, h, y0[TP_MAXDIM], y1[TP_MAXDIM], k[16 * TP_MAXDIM];
    size_t dim;
    double target;
};

static int copy_step(const struct ode_step_record *r, void *ctx)
{
    struct rec_copy *c = ctx;
    if (c->taken || !(r->t < c->target && c->target < r->t + r->h)) return 0;
    c->taken = 1;
    c->t = r->t;
    c->h = r->h;
    c->dim = r->dim;
    memcpy(c->y0, r->y0, r->dim * sizeof *c->y0);
    memcpy(c->y1, r->y1, r->dim * sizeof *c->y1);
    memcpy(c->k, r->k, (size_t)r->tab->stages * r->dim * sizeof *c->k); /* not the dense rows */
    return 0;
}

START_TEST(dense_object_standalone)
{
    const struct tp_problem *p = tp_find("brusselator");
    for (int m = 0; tp_adaptive_methods[m]; m++) {
        const struct rk_tableau *tab = rk_tableau_find(tp_adaptive_methods[m]);
        struct rec_copy c = {.target = 7.3};
        const double t_out[2] = {7.3, 9.0}; /* 7.3 falls inside a step */
        struct ode_options o;
        ode_options_init(&o);
        o.observer = copy_step;
        o.observer_ctx = &c;
        double y[2 * TP_MAXDIM], yd[TP_MAXDIM];
        err e;
        err_clear(&e);
        ck_assert_int_eq(num_solve(tab->name, p, &o, t_out, 2, y, NULL, &e), ERR_OK);
        ck_assert(c.taken);
        ode_dense *d = ode_dense_new(tab, 1, &e); /* grows to dim below */
        ck_assert_int_eq(ode_dense_reserve(d, p->dim, &e), ERR_OK);
        ode_dense_update(d, p->dim, c.t, c.h, c.y0, c.y1, c.k, 0, p->f, p->ctx);
        long nfe = 0;
        ck_assert_int_eq(ode_dense_eval(d, c.target, yd, &nfe), 0);
        ck_assert_int_eq(nfe, tab->dense_stages);
        ck_assert(ode_dense_stages_done(d));
        for (size_t j = 0; j < p->dim; j++)
            ck_assert_double_eq_tol(yd[j], y[j], 1e-15);
        ck_assert_int_eq(ode_dense_eval(d, c.t + c.h, yd, &nfe), 0); /* the end: y1 exactly */
        ck_assert(memcmp(yd, c.y1, p->dim * sizeof *yd) == 0);
        ode_dense_free(d);
    }
}
END_TEST

/* ode_dense_eval_n (eight times' weights in vector lanes, as the driver
 * answers the outputs of a step) gives ode_dense_eval's bits, for groups of
 * 1 to 19 times (full groups of eight, the rest, one alone, the step's end
 * among them), on every adaptive method's recorded step, thetas spread
 * over the step and beyond it (extrapolation, theta < 0 and > 1). */
START_TEST(dense_eval_n_same_bits)
{
    const struct tp_problem *p = tp_find("brusselator");
    for (int m = 0; tp_adaptive_methods[m]; m++) {
        const struct rk_tableau *tab = rk_tableau_find(tp_adaptive_methods[m]);
        struct rec_copy c = {.target = 7.3};
        const double t_out[2] = {7.3, 9.0};
        struct ode_options o;
        ode_options_init(&o);
        o.observer = copy_step;
        o.observer_ctx = &c;
        double y[2 * TP_MAXDIM];
        err e;
        err_clear(&e);
        ck_assert_int_eq(num_solve(tab->name, p, &o, t_out, 2, y, NULL, &e), ERR_OK);
        ck_assert(c.taken);
        ode_dense *d = ode_dense_new(tab, p->dim, &e);
        ck_assert_ptr_nonnull(d);
        ode_dense_update(d, p->dim, c.t, c.h, c.y0, c.y1, c.k, 0, p->f, p->ctx);
        for (size_t n = 1; n < 20; n++) {
            double t[19], one[19 * TP_MAXDIM], many[19 * TP_MAXDIM], *rows[19];
            for (size_t i = 0; i < n; i++) {
                const double theta = -0.25 + 1.5 * (double)(i * 7 % 19) / 18.0;
                t[i] = i == n / 2 ? c.t + c.h : c.t + theta * c.h;
                rows[i] = many + i * p->dim;
                ck_assert_int_eq(ode_dense_eval(d, t[i], one + i * p->dim, NULL), 0);
            }
            ck_assert_int_eq(ode_dense_eval_n(d, n, t, rows, NULL), 0);
            ck_assert_msg(memcmp(one, many, n * p->dim * sizeof *one) == 0, "%s, %zu times",
                          tab->name, n);
        }
        ode_dense_free(d);
    }
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(max_steps_reached)
{
    const struct tp_problem *p = tp_find("van_der_pol");
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-10;
    o.atol = 1e-12;
    o.max_steps = 20;
    double y[TP_MAXDIM];
    struct ode_stats st;
    err e;
    err_clear(&e);
    ck_assert_int_eq(num_solve("dopri5", p, &o, &p->t_hi, 1, y, &st, &e), ERR_SOLVER);
    ck_assert_msg(starts_with(e.message, "max_steps (20) reached at t="), "%s", e.message);
    ck_assert_int_eq(st.n_accepted + st.n_rejected, 20);
    ck_assert(st.t_fail > p->t0 && st.t_fail < p->t_hi);
    char want[64];
    snprintf(want, sizeof want, "t=%.15g", st.t_fail);
    ck_assert_ptr_nonnull(strstr(e.message, want));
    ck_assert_str_eq(err_code_name(e.code), "solver_failed");
}
END_TEST

START_TEST(min_step_underflow)
{
    const struct tp_problem *p = tp_find("arenstorf");
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-10;
    o.atol = 1e-12;
    o.min_step = 0.01;
    double y[TP_MAXDIM];
    struct ode_stats st;
    err e;
    err_clear(&e);
    ck_assert_int_eq(num_solve("dopri5", p, &o, &p->t_hi, 1, y, &st, &e), ERR_SOLVER);
    ck_assert_msg(starts_with(e.message, "step size underflow at t="), "%s", e.message);
    ck_assert(isfinite(st.t_fail));
}
END_TEST

/* y' = y^2, y(0) = 1 blows up at t = 1: the step size underflows there. */
static int f_blowup(double t, const double *y, double *d, void *ctx)
{
    d[0] = y[0] * y[0];
    return 0;
}

START_TEST(blowup_underflow)
{
    const double y0 = 1, t_end = 2;
    double y;
    struct ode_problem pr = {
        .f = f_blowup, .dim = 1, .t0 = 0, .y0 = &y0, .t_out = &t_end, .n_out = 1};
    for (int m = 0; tp_adaptive_methods[m]; m++) {
        err e;
        err_clear(&e);
        struct ode_stats st;
        ode_solver *s = ode_solver_new(rk_tableau_find(tp_adaptive_methods[m]), 1, &e);
        ck_assert_int_eq(ode_solve(s, &pr, NULL, &y, &st, &e), ERR_SOLVER);
        ck_assert_msg(starts_with(e.message, "step size underflow at t=") ||
                          starts_with(e.message, "non-finite state at t="),
                      "%s", e.message);
        /* the numerical solutions blow up near, not exactly at, t = 1 */
        ck_assert_msg(fabs(st.t_fail - 1) < 0.01, "t_fail %.17g", st.t_fail);
        ode_solver_free(s);
    }
}
END_TEST

/* A trial stage leaves the domain (NaN for y < 0) when the forced first step
 * is far too large: the step shrinks, the solve recovers and is accurate. */
START_TEST(nan_recovered)
{
    for (int m = 0; tp_adaptive_methods[m]; m++) {
        struct decay c = {.mode = 5};
        struct ode_options o;
        ode_options_init(&o);
        o.first_step = 20;
        o.rtol = 1e-8;
        o.atol = 1e-10;
        double y;
        struct ode_stats st;
        err e;
        err_clear(&e);
        ck_assert_int_eq(
            solve_decay(rk_tableau_find(tp_adaptive_methods[m]), &c, &o, 10.0, &y, &st, &e),
            ERR_OK);
        ck_assert_int_ge(st.n_rejected, 1);
        ck_assert_double_le(fabs(y - exp(-10.0)), ACC_C_DEFAULT * (o.atol + o.rtol * exp(-10.0)));
    }
}
END_TEST

/* f fails beyond t = 1 in each of its ways. */
START_TEST(rhs_failures)
{
    static const struct {
        int mode;
        err_code code;
        const char *prefix;
        int retries; /* recoverable: rejected attempts before giving up */
    } cases[] = {
        {1, ERR_SOLVER, "non-finite state at t=", 1},
        {2, ERR_SOLVER, "vector field failed (recoverable, code 3) at t=", 1},
        {3, ERR_SOLVER, "vector field failed (code -7) at t=", 0},
        {4, ERR_NOMEM, "custom failure", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        err e;
        err_clear(&e);
        struct decay c = {.mode = cases[k].mode, .fail_after = 1.0, .e = &e};
        struct ode_options o;
        ode_options_init(&o);
        double y;
        struct ode_stats st;
        ck_assert_int_eq(solve_decay(&rk_dopri5, &c, &o, 3.0, &y, &st, &e), cases[k].code);
        ck_assert_msg(starts_with(e.message, cases[k].prefix), "%s", e.message);
        if (cases[k].retries) {
            ck_assert_int_ge(st.n_rejected, 10); /* shrank all the way down to t = 1 */
            ck_assert_msg(st.t_fail <= 1.0 && st.t_fail > 1 - 1e-9, "t_fail %.17g", st.t_fail);
        } else {
            ck_assert(st.t_fail <= 1.0);
        }
        if (cases[k].mode == 4) ck_assert_str_eq(e.field, "vector_field");
    }
}
END_TEST

START_TEST(rhs_nonfinite_at_start_and_fixed)
{
    err e;
    err_clear(&e);
    struct decay c = {.mode = 1, .fail_after = -1};
    double y;
    struct ode_stats st;
    ck_assert_int_eq(solve_decay(&rk_dopri5, &c, NULL, 3.0, &y, &st, &e), ERR_SOLVER);
    ck_assert_str_eq(e.message, "non-finite state at t=0");
    ck_assert(st.t_fail == 0 && st.nfe == 1);
    /* fixed steps cannot shrink: the first bad step fails */
    err_clear(&e);
    c.fail_after = 1.0;
    struct ode_options o;
    ode_options_init(&o);
    o.n_steps = 30;
    ck_assert_int_eq(solve_decay(&rk_rk4, &c, &o, 3.0, &y, &st, &e), ERR_SOLVER);
    ck_assert_msg(starts_with(e.message, "non-finite state at t="), "%s", e.message);
    ck_assert_double_eq_tol(st.t_fail, 1.0, 1e-12);
    ck_assert_int_eq(st.n_rejected, 0);
}
END_TEST

/* rk_eval's check of f's value, at every position of every length up to
 * 70 (its vector blocks and the tail): one inf, -inf or NaN (quiet, with a
 * payload, negative) is found; extreme finite values (the largest, the
 * smallest subnormal, -0) are not. */
struct fill {
    size_t n, at;
    double bad;
};

static int f_fill(double t, const double *y, double *d, void *ctx)
{
    const struct fill *c = ctx;
    (void)t, (void)y;
    const double finite[] = {DBL_MAX, -DBL_MAX, 4.9e-324, -0.0, 1.0, 0.0};
    for (size_t i = 0; i < c->n; i++)
        d[i] = finite[i % (sizeof finite / sizeof finite[0])];
    if (c->at < c->n) d[c->at] = c->bad;
    return 0;
}

START_TEST(rhs_nonfinite_every_position)
{
    enum { MAXN = 70 };
    double nan_payload, y[MAXN] = {0}, k[MAXN];
    const uint64_t bits = 0x7ff0000000000123ULL; /* a signalling-pattern NaN */
    memcpy(&nan_payload, &bits, sizeof bits);
    const double bad[] = {INFINITY, -INFINITY, NAN, -NAN, nan_payload};
    for (size_t n = 1; n <= MAXN; n++) {
        struct fill c = {.n = n, .at = n}; /* all finite */
        long nfe = 0;
        ck_assert_int_eq(rk_eval(f_fill, &c, n, 0, y, k, &nfe), 0);
        ck_assert_int_eq(nfe, 1);
        for (c.at = 0; c.at < n; c.at++)
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                c.bad = bad[b];
                ck_assert_msg(rk_eval(f_fill, &c, n, 0, y, k, &nfe) == ODE_RC_NONFINITE,
                              "n %zu, position %zu, value %d", n, c.at, (int)b);
            }
    }
}
END_TEST

struct hook {
    int calls, after, code;
};

static int hook_fn(void *ctx)
{
    struct hook *h = ctx;
    return ++h->calls > h->after ? h->code : 0;
}

static int observer_fn(const struct ode_step_record *r, void *ctx)
{
    return hook_fn(ctx);
}

START_TEST(abort_hook_and_observer)
{
    static const struct {
        int code;
        err_code want;
        const char *prefix;
        int observer;
    } cases[] = {
        {ERR_ABORTED, ERR_ABORTED, "aborted at t=", 0},
        {ERR_DEADLINE, ERR_DEADLINE, "deadline exceeded at t=", 0},
        {12345, ERR_ABORTED, "aborted at t=", 0},
        {ERR_NOMEM, ERR_NOMEM, "the step observer stopped the solve at t=", 1},
    };
    const struct tp_problem *p = tp_find("lotka_volterra");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct hook h = {.after = 5, .code = cases[k].code};
        struct ode_options o;
        ode_options_init(&o);
        if (cases[k].observer) {
            o.observer = observer_fn;
            o.observer_ctx = &h;
        } else {
            o.abort = hook_fn;
            o.abort_ctx = &h;
        }
        double y[TP_MAXDIM];
        struct ode_stats st;
        err e;
        err_clear(&e);
        ck_assert_int_eq(num_solve("tsit5", p, &o, &p->t_hi, 1, y, &st, &e), cases[k].want);
        ck_assert_msg(starts_with(e.message, cases[k].prefix), "%s", e.message);
        ck_assert_int_eq(h.calls, 6);
        ck_assert(isfinite(st.t_fail) && st.t_fail > p->t0);
        if (!cases[k].observer) ck_assert_int_eq(st.n_accepted + st.n_rejected, 5);
    }
}
END_TEST

/* Bad arguments: ERR_INVALID naming the field, before any work. */
START_TEST(invalid_arguments)
{
    err e;
    const double y0[4] = {1, 2, 3, 4}, t_ok[2] = {1, 2}, t_nan[3] = {1, 2, NAN};
    const double y0_inf[4] = {1, INFINITY, 0, 0}, atol3[3] = {1, 1, 1};
    double y[16];
    struct decay c = {0};
    struct ode_problem good = {
        .f = f_decay, .ctx = &c, .dim = 4, .t0 = 0, .y0 = y0, .t_out = t_ok, .n_out = 2};
    ode_solver *s = ode_solver_new(&rk_dopri5, 4, NULL);
    enum {
        NONE,
        GROUPS,
        RTOL,
        ATOLV,
        TNAN,
        YINF,
        JNAN,
        STOPNAN,
        FN,
        DIM,
        YOUT,
        MAXST,
        SAFETY,
        MINF,
        MAXF,
        BETA,
        BOTH,
        NEG,
        NREAD
    };
    static const struct {
        int what;
        const char *field;
    } cases[] = {
        {GROUPS, "groups"},
        {RTOL, "rtol"},
        {ATOLV, "atol"},
        {TNAN, "t_out[2]"},
        {YINF, "y0[1]"},
        {JNAN, "jump_times[0]"},
        {STOPNAN, "stop_times[0]"},
        {FN, "f"},
        {DIM, "dim"},
        {YOUT, "y_out"},
        {MAXST, "max_steps"},
        {SAFETY, "safety"},
        {MINF, "min_factor"},
        {MAXF, "max_factor"},
        {BETA, "pi_beta"},
        {BOTH, "fixed_step"},
        {NEG, "step"},
        {NREAD, "n_read"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct ode_problem pr = good;
        struct ode_options o;
        ode_options_init(&o);
        double *out = y;
        const double jn = NAN;
        switch (cases[k].what) {
        case GROUPS:
            o.groups = 3;
            break;
        case RTOL:
            o.rtol = -1;
            break;
        case ATOLV:
            o.atol_v = atol3, o.atol_len = 3;
            break;
        case TNAN:
            pr.t_out = t_nan, pr.n_out = 3;
            break;
        case YINF:
            pr.y0 = y0_inf;
            break;
        case JNAN:
            pr.jump_times = &jn, pr.n_jumps = 1;
            break;
        case STOPNAN:
            pr.stop_times = &jn, pr.n_stops = 1;
            break;
        case FN:
            pr.f = NULL;
            break;
        case DIM:
            pr.dim = 0;
            break;
        case YOUT:
            out = NULL;
            break;
        case MAXST:
            o.max_steps = 0;
            break;
        case SAFETY:
            o.safety = 1.5;
            break;
        case MINF:
            o.min_factor = 0;
            break;
        case MAXF:
            o.max_factor = 0.5;
            break;
        case BETA:
            o.pi_beta = 0.3;
            break;
        case BOTH:
            o.fixed_step = 0.1, o.n_steps = 3;
            break;
        case NEG:
            o.max_step = -1;
            break;
        case NREAD:
            pr.n_read = 5;
            break;
        }
        err_clear(&e);
        struct ode_stats st;
        ck_assert_int_eq(ode_solve(s, &pr, &o, out, &st, &e), ERR_INVALID);
        ck_assert_msg(strcmp(e.field, cases[k].field) == 0, "case %zu: field '%s' (%s)", k, e.field,
                      e.message);
        ck_assert_int_eq(st.nfe, 0);
    }
    /* a method without an error estimate needs a step */
    ode_solver *f = ode_solver_new(rk_tableau_find("euler"), 4, NULL);
    err_clear(&e);
    ck_assert_int_eq(ode_solve(f, &good, NULL, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "fixed_step");
    ck_assert_ptr_nonnull(strstr(e.message, "euler"));
    ode_solver_free(f);
    err_clear(&e);
    ck_assert_ptr_null(ode_solver_new(rk_tableau_find("nope"), 4, &e));
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "method");
    err_clear(&e);
    ck_assert_int_eq(ode_solve(NULL, &good, NULL, y, NULL, &e), ERR_INVALID);
    ode_solver_free(s);
}
END_TEST

TCase *num_tcase_limits(void)
{
    TCase *tc = tcase_create("limits");
    tcase_add_test(tc, defaults_and_names);
    tcase_add_test(tc, outputs_at_t0_or_none);
    tcase_add_test(tc, ulp_close_outputs);
    tcase_add_test(tc, step_size_options);
    tcase_add_test(tc, rtol_zero);
    tcase_add_test(tc, solver_reuse_across_sizes);
    tcase_add_test(tc, dense_object_standalone);
    tcase_add_test(tc, dense_eval_n_same_bits);
    return tc;
}

TCase *num_tcase_errors(void)
{
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, max_steps_reached);
    tcase_add_test(tc, min_step_underflow);
    tcase_add_test(tc, blowup_underflow);
    tcase_add_test(tc, nan_recovered);
    tcase_add_test(tc, rhs_failures);
    tcase_add_test(tc, rhs_nonfinite_at_start_and_fixed);
    tcase_add_test(tc, rhs_nonfinite_every_position);
    tcase_add_test(tc, abort_hook_and_observer);
    tcase_add_test(tc, invalid_arguments);
    return tc;
}
