/* check_grad: neural ODE and CDE gradients (model/grad_*.h) against central
 * finite differences, adjoint against backprop, the adjoint's memory.
 *
 * References and tolerances.
 * - Backprop is the exact gradient of the numerical solution, so it is
 *   checked against central differences of that same solution with a step
 *   sequence that cannot change under the perturbation: fixed steps
 *   (n_steps), every table (observation times inside steps: the dense
 *   output; dop853's three extra dense stages), and for the CDE
 *   jump times (steps end at the knots; one-sided stage times). FD step
 *   1e-6: truncation ~1e-12, rounding ~eps L / 1e-6 ~ 1e-10; we hold
 *   |g - fd| <= 1e-7 + 1e-6 |fd|.
 * - The adjoint approximates the gradient of the exact flow; it is checked,
 *   solved tightly (dop853, rtol 1e-11, atol 1e-13), against central
 *   differences (step 1e-5) of an equally tight forward solve: the solver
 *   error over the FD step (~1e-13 / 1e-5 = 1e-8) plus the truncation
 *   (~1e-10) plus the adjoint's own error (~1e-9): |g - fd| <= 1e-6 + 1e-5 |fd|.
 * - Adjoint vs backprop, both with dopri5 at rtol 1e-6, atol 1e-8 (adaptive):
 *   each is within O(tol) of the exact gradient; we hold them to
 *   |a - b| <= 1e-4 (|b| + 0.1) (measured: about 1e-6 relative).
 * - l1 is checked away from its kink: targets are offset from the
 *   predictions by at least 0.1, far beyond any FD perturbation.
 * - Memory: the adjoint's byte count (every allocation of the engine goes
 *   through a counter) is the same for 20 and 200 steps; backprop's grows. */
#include "model/grad_cde.h"
#include "model/grad_ode.h"
#include "model/rng.h"
#include "num/tableau.h"
#include "grad_testlib.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------------- */

/* A small ODE problem: B items, 2 states, n_t times. */
struct ode_case {
    mlp *f;
    grad_ode *g;
    size_t B, n_t, dim;
    double t0, t[8];
    double y0[4 * 2];
    double target[4 * 8 * 2];
    struct grad_ode_options o;
};

static void ode_case_init(struct ode_case *c, bool time, size_t B, loss_kind loss, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    memset(c, 0, sizeof *c);
    c->dim = 2;
    c->f = gt_net2(2, time, 8, 2, ACT_TANH, &r, 0.6);
    c->B = B;
    c->t0 = 0.1;
    /* t0 itself, times inside steps and at step ends of a 30-step grid on [0.1, 1.6] */
    const double t[] = {0.1, 0.37, 0.6, 0.6, 0.93, 1.2, 1.6};
    c->n_t = sizeof t / sizeof t[0];
    memcpy(c->t, t, sizeof t);
    for (size_t i = 0; i < B * 2; i++)
        c->y0[i] = rng_uniform_range(&r, -1, 1);
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_ode_new(&c->g, c->f, B, &e), ERR_OK);
    grad_ode_options_init(&c->o);
    c->o.loss = loss;
    /* targets: the model's own prediction offset by +-(0.1 .. 0.6): no l1 kink nearby */
    double pred[4 * 8 * 2];
    struct grad_ode_batch b = {
        .batch = B, .y0 = c->y0, .t0 = &c->t0, .t = c->t, .n_t = c->n_t, .target = c->target};
    for (size_t i = 0; i < B * c->n_t * 2; i++)
        c->target[i] = 0;
    double loss_v;
    c->o.solve.tab = &rk_rk4;
    c->o.solve.ode.n_steps = 30;
    ck_assert_int_eq(grad_ode_compute(c->g, &b, &c->o, &loss_v, NULL, NULL, pred, &e), ERR_OK);
    for (size_t i = 0; i < B * c->n_t * 2; i++) {
        double off = rng_uniform_range(&r, 0.1, 0.6);
        c->target[i] = pred[i] + (rng_uniform(&r) < 0.5 ? -off : off);
    }
    c->target[3] = NAN; /* a missing value */
}

static void ode_case_free(struct ode_case *c)
{
    grad_ode_free(c->g);
    mlp_free(c->f);
}

static struct grad_ode_batch ode_batch(struct ode_case *c)
{
    return (struct grad_ode_batch){
        .batch = c->B, .y0 = c->y0, .t0 = &c->t0, .t = c->t, .n_t = c->n_t, .target = c->target};
}

static double ode_loss(void *ctx)
{
    struct ode_case *c = ctx;
    struct grad_ode_batch b = ode_batch(c);
    double l;
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(c->g, &b, &c->o, &l, NULL, NULL, NULL, &e) == ERR_OK, "%s",
                  e.message);
    return l;
}

static void ode_grad(struct ode_case *c, double *loss, double *dtheta, double *dy0)
{
    struct grad_ode_batch b = ode_batch(c);
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(c->g, &b, &c->o, loss, dtheta, dy0, NULL, &e) == ERR_OK,
                  "%s: %s", e.field, e.message);
}

/* The loss of a batch other than ode_batch(c)'s, for gt_central. */
struct batch_loss {
    struct ode_case *c;
    const struct grad_ode_batch *b;
};

static double batch_loss(void *ctx)
{
    const struct batch_loss *x = ctx;
    double l;
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(x->c->g, x->b, &x->c->o, &l, NULL, NULL, NULL, &e) == ERR_OK,
                  "%s", e.message);
    return l;
}

static void check_ode_fd(struct ode_case *c, double fd_h, double abs_tol, double rel_tol)
{
    const size_t np = mlp_n_params(c->f), ny = c->B * c->dim;
    double dtheta[128], dy0[8], loss;
    ck_assert_uint_le(np, 128);
    ode_grad(c, &loss, dtheta, dy0);
    ck_assert_double_eq_tol(loss, ode_loss(c), 1e-14);
    gt_central("dtheta", ode_loss, c, mlp_params(c->f), np, fd_h, dtheta, abs_tol, rel_tol);
    gt_central("dy0", ode_loss, c, c->y0, ny, fd_h, dy0, abs_tol, rel_tol);
}

/* ---- backprop: exact against FD of the same discretisation ------------------------- */

static const struct rk_tableau *const fixed_tabs[] = {
    &rk_euler, &rk_midpoint, &rk_rk4, &rk_bosh3, &rk_dopri5, &rk_tsit5, &rk_dop853};
enum { N_TABS = sizeof fixed_tabs / sizeof fixed_tabs[0] };

START_TEST(backprop_fixed_step_fd)
{
    /* _i: table (7) x loss (2) x time input (2) x batch mode (2) */
    const struct rk_tableau *tab = fixed_tabs[_i % N_TABS];
    const loss_kind loss = (_i / N_TABS) % 2 ? LOSS_L1 : LOSS_MSE;
    const bool time = (_i / (2 * N_TABS)) % 2;
    const bool per_item = (_i / (4 * N_TABS)) % 2;
    struct ode_case c;
    ode_case_init(&c, time, 3, loss, 100 + (uint64_t)_i);
    c.o.solve.method = GRAD_BACKPROP;
    c.o.solve.tab = tab;
    c.o.solve.ode.n_steps = tab == &rk_dop853 ? 7 : 13; /* observation times inside steps */
    c.o.batch_mode = per_item ? GRAD_BATCH_PER_ITEM : GRAD_BATCH_SHARED;
    check_ode_fd(&c, 1e-6, 1e-7, 1e-6);
    ode_case_free(&c);
}
END_TEST

/* The per-item and the shared modes take the same fixed steps: same gradient. */
START_TEST(backprop_modes_agree)
{
    struct ode_case c;
    ode_case_init(&c, true, 3, LOSS_MSE, 7);
    c.o.solve.method = GRAD_BACKPROP;
    c.o.solve.tab = &rk_dopri5;
    c.o.solve.ode.n_steps = 11;
    double a[128], b[128], ya[8], yb[8], la, lb;
    ode_grad(&c, &la, a, ya);
    c.o.batch_mode = GRAD_BATCH_PER_ITEM;
    ode_grad(&c, &lb, b, yb);
    ck_assert_double_eq_tol(la, lb, 1e-14);
    for (size_t i = 0; i < mlp_n_params(c.f); i++)
        ck_assert_double_eq_tol(a[i], b[i], 1e-13);
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq_tol(ya[i], yb[i], 1e-13);
    ode_case_free(&c);
}
END_TEST

/* Adaptive backprop is exact too: FD with the steps frozen is not possible
 * through the API, so check it against the adjoint at a tight tolerance
 * (where both are within ~1e-9 of the exact gradient). */
START_TEST(backprop_adaptive_tight)
{
    struct ode_case c;
    ode_case_init(&c, _i == 1, 2, LOSS_MSE, 11 + (uint64_t)_i);
    c.o.solve.tab = &rk_dop853;
    c.o.solve.ode.n_steps = 0;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    double a[128], b[128], ya[8], yb[8], la, lb;
    c.o.solve.method = GRAD_BACKPROP;
    ode_grad(&c, &la, a, ya);
    c.o.solve.method = GRAD_ADJOINT;
    ode_grad(&c, &lb, b, yb);
    for (size_t i = 0; i < mlp_n_params(c.f); i++)
        gt_close("dtheta", i, a[i], b[i], 1e-8, 1e-7);
    for (size_t i = 0; i < 4; i++)
        gt_close("dy0", i, ya[i], yb[i], 1e-8, 1e-7);
    ode_case_free(&c);
}
END_TEST

/* Per-item mode with each item's own t0 and times (both methods). */
START_TEST(per_item_times_fd)
{
    struct ode_case c;
    ode_case_init(&c, true, 3, LOSS_MSE, 150 + (uint64_t)_i);
    const double t0s[3] = {0.1, -0.4, 0.35};
    double ts[3 * 8];
    for (size_t b = 0; b < 3; b++)
        for (size_t i = 0; i < c.n_t; i++)
            ts[b * c.n_t + i] = c.t[i] + t0s[b] - 0.1 + 0.05 * (double)b * (double)i;
    c.o.batch_mode = GRAD_BATCH_PER_ITEM;
    c.o.solve.method = _i ? GRAD_ADJOINT : GRAD_BACKPROP;
    c.o.solve.tab = _i ? &rk_dop853 : &rk_dopri5;
    c.o.solve.ode.n_steps = _i ? 0 : 13;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    struct grad_ode_batch b = ode_batch(&c);
    b.per_item_times = true;
    b.t0 = t0s;
    b.t = ts;
    double dtheta[128], dy0[8], loss;
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, dy0, NULL, &e) == ERR_OK, "%s",
                  e.message);
    const double h = _i ? 1e-5 : 1e-6, at = _i ? 1e-6 : 1e-7, rt = _i ? 1e-5 : 1e-6;
    struct batch_loss bl = {&c, &b};
    gt_central("dtheta", batch_loss, &bl, mlp_params(c.f), mlp_n_params(c.f), h, dtheta, at, rt);
    gt_central("dy0", batch_loss, &bl, c.y0, 6, h, dy0, at, rt);
    /* a time before its item's t0 is named with the item */
    ts[1 * c.n_t + 2] = -1;
    err_clear(&e);
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, dy0, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "batch[1].t[2]");
    ode_case_free(&c);
}
END_TEST

/* ---- adjoint: against FD of a tight solve -------------------------------------- */

START_TEST(adjoint_tight_fd)
{
    /* _i: loss (2) x time input (2) x batch mode (2) */
    const loss_kind loss = _i % 2 ? LOSS_L1 : LOSS_MSE;
    const bool time = (_i / 2) % 2, per_item = (_i / 4) % 2;
    struct ode_case c;
    ode_case_init(&c, time, 2, loss, 200 + (uint64_t)_i);
    c.o.solve.method = GRAD_ADJOINT;
    c.o.solve.tab = &rk_dop853;
    c.o.solve.ode.n_steps = 0;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    c.o.batch_mode = per_item ? GRAD_BATCH_PER_ITEM : GRAD_BATCH_SHARED;
    check_ode_fd(&c, 1e-5, 1e-6, 1e-5);
    ode_case_free(&c);
}
END_TEST

/* The seminorm changes only the step sizes of the backward solve. */
START_TEST(adjoint_seminorm_fd)
{
    struct ode_case c;
    ode_case_init(&c, false, 2, LOSS_MSE, 300);
    c.o.solve.method = GRAD_ADJOINT;
    c.o.solve.adjoint_seminorm = true;
    c.o.solve.tab = &rk_dop853;
    c.o.solve.ode.n_steps = 0;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    check_ode_fd(&c, 1e-5, 1e-6, 1e-5);
    ode_case_free(&c);
}
END_TEST

/* Both methods at an everyday tolerance agree to what the tolerance allows. */
START_TEST(adjoint_vs_backprop)
{
    struct ode_case c;
    ode_case_init(&c, _i == 1, 3, LOSS_L1, 400 + (uint64_t)_i);
    c.o.solve.per_item_norm = _i == 1; /* max over items of each item's RMS norm */
    c.o.solve.tab = &rk_dopri5;
    c.o.solve.ode.n_steps = 0;
    c.o.solve.ode.rtol = 1e-6;
    c.o.solve.ode.atol = 1e-8;
    double a[128], b[128], ya[8], yb[8], la, lb;
    c.o.solve.method = GRAD_BACKPROP;
    ode_grad(&c, &la, a, ya);
    c.o.solve.method = GRAD_ADJOINT;
    ode_grad(&c, &lb, b, yb);
    double worst = 0;
    for (size_t i = 0; i < mlp_n_params(c.f); i++) {
        ck_assert_msg(fabs(a[i] - b[i]) <= 1e-4 * (fabs(b[i]) + 0.1), "dtheta[%zu]: %g vs %g", i,
                      a[i], b[i]);
        worst = fmax(worst, fabs(a[i] - b[i]) / (fabs(b[i]) + 0.1));
    }
    for (size_t i = 0; i < 6; i++)
        ck_assert_msg(fabs(ya[i] - yb[i]) <= 1e-4 * (fabs(yb[i]) + 0.1), "dy0[%zu]", i);
    fprintf(stderr, "adjoint vs backprop (dopri5, rtol 1e-6): worst relative difference %.2g\n",
            worst);
    ode_case_free(&c);
}
END_TEST

/* An augmented state, observed in its first component only. */
START_TEST(partial_observation_fd)
{
    struct ode_case c;
    ode_case_init(&c, false, 2, LOSS_MSE, 500);
    double tgt[4 * 8];
    for (size_t r = 0; r < c.B * c.n_t; r++)
        tgt[r] = c.target[2 * r];
    tgt[1] = NAN;
    memcpy(c.target, tgt, sizeof tgt);
    c.o.solve.method = _i ? GRAD_ADJOINT : GRAD_BACKPROP;
    c.o.solve.tab = _i ? &rk_dop853 : &rk_dopri5;
    c.o.solve.ode.n_steps = _i ? 0 : 17;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    /* ode_batch() with obs_dim = 1 */
    const size_t np = mlp_n_params(c.f);
    double dtheta[128], dy0[8], loss;
    struct grad_ode_batch b = ode_batch(&c);
    b.obs_dim = 1;
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, dy0, NULL, &e), ERR_OK);
    struct batch_loss bl = {&c, &b};
    gt_central("dtheta", batch_loss, &bl, mlp_params(c.f), np, _i ? 1e-5 : 1e-6, dtheta, 1e-6,
               1e-5);
    ode_case_free(&c);
}
END_TEST

/* Observations at t0 only: no step at all; dL/dy0 is the loss gradient. */
START_TEST(observed_at_t0_only)
{
    struct ode_case c;
    ode_case_init(&c, false, 2, LOSS_MSE, 550);
    c.o.solve.method = _i ? GRAD_ADJOINT : GRAD_BACKPROP;
    c.o.solve.tab = &rk_dopri5;
    c.o.solve.ode.n_steps = 0;
    struct grad_ode_batch b = ode_batch(&c);
    const double t[2] = {c.t0, c.t0};
    const double tgt[2 * 2 * 2] = {0, 1, 2, 3, 4, 5, 6, 7};
    b.t = t;
    b.n_t = 2;
    b.target = tgt;
    double dtheta[128], dy0[4], loss;
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, dy0, NULL, &e), ERR_OK);
    for (size_t i = 0; i < mlp_n_params(c.f); i++)
        ck_assert_double_eq(dtheta[i], 0);
    for (size_t k = 0; k < 4; k++) { /* two identical observations: 2 x 2 (y0 - y) / 8 */
        const size_t bb = k / 2, j = k % 2;
        const double want =
            (2 * (c.y0[k] - tgt[bb * 4 + j]) + 2 * (c.y0[k] - tgt[bb * 4 + 2 + j])) / 8;
        ck_assert_double_eq_tol(dy0[k], want, 1e-15);
    }
    ode_case_free(&c);
}
END_TEST

/* ---- memory --------------------------------------------------------------------- */

static size_t peak_bytes(grad_method m, long n_steps, struct grad_stats *st)
{
    struct ode_case c;
    ode_case_init(&c, false, 2, LOSS_MSE, 600);
    grad_ode_free(c.g); /* a fresh engine: its peak is this run's */
    ck_assert_int_eq(grad_ode_new(&c.g, c.f, 2, NULL), ERR_OK);
    c.o.solve.method = m;
    c.o.solve.tab = &rk_rk4;
    c.o.solve.ode.n_steps = n_steps;
    double dtheta[128], dy0[8], loss;
    ode_grad(&c, &loss, dtheta, dy0);
    size_t peak;
    grad_ode_mem(c.g, NULL, &peak);
    grad_ode_stats(c.g, st);
    ode_case_free(&c);
    return peak;
}

START_TEST(adjoint_memory_flat)
{
    struct grad_stats s1, s2, b1, b2;
    const size_t a1 = peak_bytes(GRAD_ADJOINT, 20, &s1), a2 = peak_bytes(GRAD_ADJOINT, 200, &s2);
    const size_t p1 = peak_bytes(GRAD_BACKPROP, 20, &b1), p2 = peak_bytes(GRAD_BACKPROP, 200, &b2);
    fprintf(stderr,
            "memory: adjoint %zu B (%ld + %ld steps) -> %zu B (%ld + %ld steps); "
            "backprop %zu B (%ld steps) -> %zu B (%ld steps)\n",
            a1, s1.fwd_steps, s1.bwd_steps, a2, s2.fwd_steps, s2.bwd_steps, p1, b1.fwd_steps, p2,
            b2.fwd_steps);
    ck_assert_int_ge(s2.fwd_steps, 10 * s1.fwd_steps);
    ck_assert_int_ge(s2.bwd_steps, 8 * s1.bwd_steps);
    ck_assert_uint_eq(a1, a2);
    ck_assert_uint_ge(p2, 5 * p1 / 2); /* the tape grows with the steps */
    ck_assert_uint_ge(b2.tape_bytes, 9 * b1.tape_bytes);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------ */

START_TEST(errors)
{
    struct ode_case c;
    ode_case_init(&c, false, 2, LOSS_MSE, 700);
    struct grad_ode_batch b = ode_batch(&c);
    double loss, dtheta[128];
    err e;
    err_clear(&e);
    c.t[3] = 0.5; /* before t[2] = 0.6 */
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "t[3]");
    c.t[3] = 0.6;
    err_clear(&e);
    const double early = 0.0;
    b.t0 = &early;
    c.t[0] = -1;
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "t[0]");
    c.t[0] = 0.1;
    b.t0 = &c.t0;
    err_clear(&e);
    c.o.loss = LOSS_CROSS_ENTROPY;
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "loss");
    c.o.loss = LOSS_MSE;
    err_clear(&e);
    b.per_item_times = true;
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "batch_mode");
    b.per_item_times = false;
    err_clear(&e);
    c.o.solve.tab = &rk_dopri5;
    c.o.solve.ode.n_steps = 0;
    c.o.solve.ode.rtol = 1e-10;
    c.o.solve.ode.max_steps = 3;
    ck_assert_int_eq(grad_ode_compute(c.g, &b, &c.o, &loss, dtheta, NULL, NULL, &e), ERR_SOLVER);
    ode_case_free(&c);
    grad_method m;
    err_clear(&e);
    ck_assert_int_eq(grad_method_from_name("backprop", &m, &e), ERR_OK);
    ck_assert_int_eq(m, GRAD_BACKPROP);
    ck_assert_int_eq(grad_method_from_name("magic", &m, &e), ERR_INVALID);
}
END_TEST

/* ---- neural CDE ------------------------------------------------------------------- */

/* The test's own path: piecewise linear through K knots, C channels
 * (channel 0 = time), one path per item. */
enum { CK = 6, CC = 3, CB = 3 };
struct lin_path {
    double knots[CK];
    double x[CB][CK][CC];
    int smooth; /* 1: X(t) = sin / cos curves instead (no jumps) */
};

static size_t seg_of(const struct lin_path *p, double t)
{
    size_t k = 0;
    while (k + 2 < CK && t > p->knots[k + 1])
        k++;
    return k;
}

static int path_x(void *ctx, size_t item, double t, double *out)
{
    const struct lin_path *p = ctx;
    if (p->smooth) {
        out[0] = t;
        out[1] = sin((1 + item) * t);
        out[2] = cos(0.5 * t + item);
        return 0;
    }
    const size_t k = seg_of(p, t);
    const double f = (t - p->knots[k]) / (p->knots[k + 1] - p->knots[k]);
    for (size_t c = 0; c < CC; c++)
        out[c] = p->x[item][k][c] + f * (p->x[item][k + 1][c] - p->x[item][k][c]);
    return 0;
}

static int path_dx(void *ctx, size_t item, double t, double *out)
{
    const struct lin_path *p = ctx;
    if (p->smooth) {
        out[0] = 1;
        out[1] = (1 + item) * cos((1 + item) * t);
        out[2] = -0.5 * sin(0.5 * t + item);
        return 0;
    }
    const size_t k = seg_of(p, t);
    for (size_t c = 0; c < CC; c++)
        out[c] = (p->x[item][k + 1][c] - p->x[item][k][c]) / (p->knots[k + 1] - p->knots[k]);
    return 0;
}

static const double *path_jumps(void *ctx, size_t item0, size_t n, size_t *nj)
{
    const struct lin_path *p = ctx;
    (void)item0, (void)n;
    *nj = p->smooth ? 0 : CK - 2;
    return p->smooth ? NULL : p->knots + 1;
}

struct cde_case {
    struct lin_path lp;
    struct grad_path path;
    mlp *init, *field, *read;
    grad_cde *g;
    double t0, t[5];
    size_t n_t;
    double target[CB * 5 * 2];
    long label[CB];
    struct grad_cde_options o;
};

static void cde_case_init(struct cde_case *c, int smooth, loss_kind loss, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    memset(c, 0, sizeof *c);
    const double knots[CK] = {0, 0.3, 0.55, 1.0, 1.3, 1.7};
    memcpy(c->lp.knots, knots, sizeof knots);
    for (size_t b = 0; b < CB; b++)
        for (size_t k = 0; k < CK; k++) {
            c->lp.x[b][k][0] = knots[k];
            for (size_t ch = 1; ch < CC; ch++)
                c->lp.x[b][k][ch] = rng_uniform_range(&r, -1, 1);
        }
    c->lp.smooth = smooth;
    c->path = (struct grad_path){
        .channels = CC, .x = path_x, .dxdt = path_dx, .jumps = path_jumps, .ctx = &c->lp};
    const size_t H = 3, O = loss == LOSS_CROSS_ENTROPY ? 3 : 2;
    c->init = gt_net2(CC, false, 5, H, ACT_TANH, &r, 0.5);
    c->field = gt_net2(H, false, 6, H * CC, ACT_TANH, &r, 0.5);
    c->read = gt_net2(H, false, 4, O, ACT_TANH, &r, 0.7);
    struct grad_cde_nets nets = {.initial = c->init, .vector_field = c->field, .readout = c->read};
    ck_assert_int_eq(grad_cde_new(&c->g, &nets, CB, NULL), ERR_OK);
    c->t0 = 0;
    const double t[] = {0.2, 0.55, 0.8, 1.3, 1.7};
    c->n_t = 5;
    memcpy(c->t, t, sizeof t);
    for (size_t i = 0; i < CB * 5 * 2; i++)
        c->target[i] = rng_uniform_range(&r, -3, 3); /* far from readouts in (-1.5, 1.5) */
    c->target[4] = NAN;
    for (size_t b = 0; b < CB; b++)
        c->label[b] = (long)rng_below(&r, O);
    grad_cde_options_init(&c->o);
    c->o.loss = loss;
}

static void cde_case_free(struct cde_case *c)
{
    grad_cde_free(c->g);
    mlp_free(c->init);
    mlp_free(c->field);
    mlp_free(c->read);
}

static double cde_loss(struct cde_case *c, double *dtheta)
{
    struct grad_cde_batch b = {.batch = CB,
                               .path = &c->path,
                               .t0 = &c->t0,
                               .t = c->t,
                               .n_t = c->n_t,
                               .target = c->target,
                               .label = c->label};
    double l;
    err e;
    err_clear(&e);
    ck_assert_msg(grad_cde_compute(c->g, &b, &c->o, &l, dtheta, NULL, &e) == ERR_OK, "%s: %s",
                  e.field, e.message);
    return l;
}

static double cde_loss_fd(void *c)
{
    return cde_loss(c, NULL);
}

static void check_cde_fd(struct cde_case *c, double h, double abs_tol, double rel_tol)
{
    double g[512];
    const size_t np = grad_cde_n_params(c->g);
    ck_assert_uint_le(np, 512);
    const double l = cde_loss(c, g);
    ck_assert_double_eq_tol(l, cde_loss(c, NULL), 1e-14);
    mlp *nets[3] = {c->init, c->field, c->read};
    size_t off = 0;
    for (int k = 0; k < 3; k++) {
        static const char *const names[] = {"initial", "vector_field", "readout"};
        gt_central(names[k], cde_loss_fd, c, mlp_params(nets[k]), mlp_n_params(nets[k]), h, g + off,
                   abs_tol, rel_tol);
        off += mlp_n_params(nets[k]);
    }
}

START_TEST(cde_backprop_fd)
{
    /* _i: loss (mse, l1, cross_entropy) x batch mode (2); fixed rk4 / dopri5 steps with jumps */
    const loss_kind loss = (loss_kind)(_i % 3);
    struct cde_case c;
    cde_case_init(&c, 0, loss, 800 + (uint64_t)_i);
    c.o.solve.method = GRAD_BACKPROP;
    c.o.solve.tab = (_i / 3) % 2 ? &rk_dopri5 : &rk_rk4;
    c.o.solve.ode.n_steps = 23;
    c.o.batch_mode = _i >= 3 ? GRAD_BATCH_PER_ITEM : GRAD_BATCH_SHARED;
    check_cde_fd(&c, 1e-6, 1e-7, 1e-6);
    cde_case_free(&c);
}
END_TEST

START_TEST(cde_adjoint_fd)
{
    /* _i: loss (3) x path (piecewise linear with jumps, smooth) */
    const loss_kind loss = (loss_kind)(_i % 3);
    struct cde_case c;
    cde_case_init(&c, _i >= 3, loss, 900 + (uint64_t)_i);
    c.o.solve.method = GRAD_ADJOINT;
    c.o.solve.tab = &rk_dop853;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    check_cde_fd(&c, 1e-5, 1e-6, 1e-5);
    cde_case_free(&c);
}
END_TEST

START_TEST(cde_errors)
{
    struct cde_case c;
    cde_case_init(&c, 0, LOSS_CROSS_ENTROPY, 1000);
    c.label[1] = 7;
    struct grad_cde_batch b = {.batch = CB,
                               .path = &c.path,
                               .t0 = &c.t0,
                               .t = c.t,
                               .n_t = c.n_t,
                               .target = c.target,
                               .label = c.label};
    double l;
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_cde_compute(c.g, &b, &c.o, &l, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "label[1]");
    /* a field of the wrong shape */
    struct grad_cde_nets bad = {.initial = c.init, .vector_field = c.read, .readout = c.read};
    grad_cde *g2 = NULL;
    err_clear(&e);
    ck_assert_int_eq(grad_cde_new(&g2, &bad, 1, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "vector_field");
    cde_case_free(&c);
}
END_TEST

static Suite *grad_suite(void)
{
    Suite *s = suite_create("grad");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, backprop_fixed_step_fd, 0, 8 * N_TABS);
    tcase_add_test(tc, backprop_modes_agree);
    tcase_add_loop_test(tc, per_item_times_fd, 0, 2);
    tcase_add_loop_test(tc, backprop_adaptive_tight, 0, 2);
    tcase_add_loop_test(tc, adjoint_tight_fd, 0, 8);
    tcase_add_test(tc, adjoint_seminorm_fd);
    tcase_add_loop_test(tc, adjoint_vs_backprop, 0, 2);
    tcase_add_loop_test(tc, partial_observation_fd, 0, 2);
    tcase_add_loop_test(tc, observed_at_t0_only, 0, 2);
    tcase_add_test(tc, adjoint_memory_flat);
    suite_add_tcase(s, tc);
    TCase *cde = tcase_create("cde");
    tcase_set_timeout(cde, 300);
    tcase_add_loop_test(cde, cde_backprop_fd, 0, 6);
    tcase_add_loop_test(cde, cde_adjoint_fd, 0, 6);
    suite_add_tcase(s, cde);
    TCase *errs = tcase_create("errors");
    tcase_add_test(errs, errors);
    tcase_add_test(errs, cde_errors);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return tu_suite_run(grad_suite());
}
