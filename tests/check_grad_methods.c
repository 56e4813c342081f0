/* check_grad_methods: the gradient methods adjoint_checkpointed and
 * reversible (model/grad_ckpt.c, model/grad_reversible.c) against closed
 * forms, finite differences, backprop and each other.
 *
 * - The contracting system y' = A y + b, A = [[-20, 1], [0, -0.5]], loss
 *   |y(10) - c|^2, as an ODE model (one linear layer, identity activation:
 *   weight A, bias b), against the closed form through the matrix
 *   exponential and its Frechet derivative (tests/fixtures/contracting.h,
 *   from gen_contracting.py). adjoint_checkpointed at rtol 1e-10 is exact
 *   to the tolerance; the plain adjoint back-solves the state, whose fast
 *   mode grows like exp(20 t) backwards, and is far off (or fails).
 * - reversible against backprop through the same reversible Heun steps
 *   (this file's own tape-based reverse sweep over the stored states) to
 *   1e-10, and against central differences of its own discrete loss.
 * - adjoint_checkpointed against central differences of a tight forward
 *   solve (dopri5, dop853 with its extra dense stages), observations inside
 *   segments, duplicates and at t0; on a long solve with thinned
 *   checkpoints against backprop (1e-7) and the plain adjoint (which
 *   back-solves the state and drifts by ~1e-3 there).
 * - Memory: reversible's engine bytes equal at 10^3 and 10^5 steps;
 *   adjoint_checkpointed holds less than backprop on a long solve. */
#include "fixtures/contracting.h"
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

static mlp *make_linear(void)
{
    mlp_layer layer = {.kind = MLP_LINEAR, .in = 2, .out = 2, .act = ACT_IDENTITY};
    mlp_spec spec = {.state_dim = 2, .n_layers = 1, .layers = &layer};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, &spec, &e) == ERR_OK, "%s", e.message);
    double *p = mlp_params(m);
    memcpy(p, contracting_A, 4 * sizeof *p);
    memcpy(p + 4, contracting_b, 2 * sizeof *p);
    return m;
}

/* ---- the contracting system ------------------------------------------------ */

struct contracting {
    mlp *f;
    grad_ode *g;
    double t0, t;
    struct grad_ode_batch b;
    struct grad_ode_options o;
};

static void contracting_init(struct contracting *c, grad_method m)
{
    memset(c, 0, sizeof *c);
    c->f = make_linear();
    err e;
    err_clear(&e);
    ck_assert(grad_ode_new(&c->g, c->f, 1, &e) == ERR_OK);
    c->t = CONTRACTING_T;
    c->b = (struct grad_ode_batch){.batch = 1,
                                   .y0 = contracting_y0,
                                   .t0 = &c->t0,
                                   .t = &c->t,
                                   .n_t = 1,
                                   .target = contracting_c};
    grad_ode_options_init(&c->o);
    c->o.loss_scale = 1.0; /* |y(T) - c|^2 */
    c->o.solve.method = m;
    c->o.solve.ode.rtol = 1e-10;
    c->o.solve.ode.atol = 1e-12;
}

static void contracting_free(struct contracting *c)
{
    grad_ode_free(c->g);
    mlp_free(c->f);
}

START_TEST(contracting_checkpointed_exact)
{
    struct contracting c;
    contracting_init(&c, GRAD_ADJOINT_CKPT);
    double loss, dth[6], dy0[2];
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(c.g, &c.b, &c.o, &loss, dth, dy0, NULL, &e) == ERR_OK, "%s",
                  e.message);
    gt_close("loss", 0, loss, contracting_loss, 1e-12, 1e-8);
    /* rtol 1e-10 on values of order 1 over 10 time units: 1e-8 relative */
    for (size_t i = 0; i < 2; i++)
        gt_close("dL/dy0", i, dy0[i], contracting_grad_y0[i], 1e-10, 1e-7);
    for (size_t i = 0; i < 4; i++)
        gt_close("dL/dA", i, dth[i], contracting_grad_A[i], 1e-10, 1e-7);
    for (size_t i = 0; i < 2; i++)
        gt_close("dL/db", i, dth[4 + i], contracting_grad_b[i], 1e-10, 1e-7);
    struct grad_stats st;
    grad_ode_stats(c.g, &st);
    ck_assert(st.bwd_resolve_nfe > 0);
    ck_assert(st.ckpt_n >= 1);
    contracting_free(&c);
}
END_TEST

/* The plain adjoint with an explicit method back-solves h from y(T): the
 * fast mode (rate 20) of any error grows by exp(200) over [0, 10], and
 * dL/dA (which reads h through dg/dA = a h^T) is lost. It either fails
 * (the back-solve overflows or runs out of steps) or is far off. */
START_TEST(contracting_plain_adjoint_far_off)
{
    struct contracting c;
    contracting_init(&c, GRAD_ADJOINT);
    double loss, dth[6], dy0[2];
    err e;
    err_clear(&e);
    err_code rc = grad_ode_compute(c.g, &c.b, &c.o, &loss, dth, dy0, NULL, &e);
    if (rc == ERR_OK) {
        double worst = 0;
        for (size_t i = 0; i < 4; i++) {
            const double d = fabs(dth[i] - contracting_grad_A[i]) / fabs(contracting_grad_A[i]);
            worst = d > worst || !isfinite(d) ? (isfinite(d) ? d : INFINITY) : worst;
        }
        ck_assert_msg(worst > 1.0, "the back-solved adjoint is only %.3g off", worst);
    } else {
        ck_assert_int_eq(rc, ERR_SOLVER);
    }
    contracting_free(&c);
}
END_TEST

/* Backprop is the gradient of the discrete solve: at rtol 1e-10 it meets
 * the closed form too (it never back-solves either). */
START_TEST(contracting_backprop_exact)
{
    struct contracting c;
    contracting_init(&c, GRAD_BACKPROP);
    double loss, dth[6], dy0[2];
    err e;
    err_clear(&e);
    ck_assert(grad_ode_compute(c.g, &c.b, &c.o, &loss, dth, dy0, NULL, &e) == ERR_OK);
    for (size_t i = 0; i < 4; i++)
        gt_close("dL/dA", i, dth[i], contracting_grad_A[i], 1e-10, 1e-7);
    for (size_t i = 0; i < 2; i++)
        gt_close("dL/dy0", i, dy0[i], contracting_grad_y0[i], 1e-10, 1e-7);
    contracting_free(&c);
}
END_TEST

/* ---- a small tanh MLP -------------------------------------------------------- */

#define B 2
#define NT 4
struct small {
    mlp *f;
    grad_ode *g;
    double t0, t[NT], y0[B * 2], target[B * NT * 2];
    struct grad_ode_batch b;
    struct grad_ode_options o;
};

static void small_init(struct small *c, grad_method m, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    memset(c, 0, sizeof *c);
    c->f = gt_net2(2, false, 8, 2, ACT_TANH, &r, 0.7);
    err e;
    err_clear(&e);
    ck_assert(grad_ode_new(&c->g, c->f, B, &e) == ERR_OK);
    /* an observation at t0, two inside, a duplicate */
    const double t[NT] = {0.0, 0.7, 1.9, 1.9};
    memcpy(c->t, t, sizeof t);
    for (size_t i = 0; i < B * 2; i++)
        c->y0[i] = rng_uniform_range(&r, -1, 1);
    for (size_t i = 0; i < B * NT * 2; i++)
        c->target[i] = rng_uniform_range(&r, -1, 1);
    c->b = (struct grad_ode_batch){
        .batch = B, .y0 = c->y0, .t0 = &c->t0, .t = c->t, .n_t = NT, .target = c->target};
    grad_ode_options_init(&c->o);
    c->o.solve.method = m;
}

static void small_free(struct small *c)
{
    grad_ode_free(c->g);
    mlp_free(c->f);
}

static double small_loss(void *ctx)
{
    struct small *c = ctx;
    double loss;
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(c->g, &c->b, &c->o, &loss, NULL, NULL, NULL, &e) == ERR_OK, "%s",
                  e.message);
    return loss;
}

static void small_grad(struct small *c, double *loss, double *dth, double *dy0)
{
    err e;
    err_clear(&e);
    ck_assert_msg(grad_ode_compute(c->g, &c->b, &c->o, loss, dth, dy0, NULL, &e) == ERR_OK, "%s",
                  e.message);
}

static void checkpointed_vs_fd(const struct rk_tableau *tab)
{
    struct small c;
    small_init(&c, GRAD_ADJOINT_CKPT, 7);
    c.o.solve.tab = tab;
    c.o.solve.ode.rtol = 1e-11;
    c.o.solve.ode.atol = 1e-13;
    const size_t P = mlp_n_params(c.f);
    double loss, *dth = calloc(P, sizeof *dth), dy0[B * 2];
    small_grad(&c, &loss, dth, dy0);
    gt_central("dtheta", small_loss, &c, mlp_params(c.f), P, 1e-5, dth, 1e-6, 1e-5);
    gt_central("dy0", small_loss, &c, c.y0, B * 2, 1e-5, dy0, 1e-6, 1e-5);
    free(dth);
    small_free(&c);
}

START_TEST(checkpointed_fd_dopri5)
{
    checkpointed_vs_fd(&rk_dopri5);
}
END_TEST

START_TEST(checkpointed_fd_dop853)
{
    checkpointed_vs_fd(&rk_dop853);
}
END_TEST

/* adjoint_checkpointed, the plain adjoint and backprop on a long, many-step
 * solve (many segments, thinned checkpoints): all within O(tol). */
START_TEST(methods_agree)
{
    const grad_method ms[] = {GRAD_ADJOINT, GRAD_BACKPROP, GRAD_ADJOINT_CKPT};
    struct small c[3];
    double *dth[3], dy0[3][B * 2], loss[3];
    for (size_t k = 0; k < 3; k++) {
        small_init(&c[k], ms[k], 11);
        c[k].t[1] = 3.0;
        c[k].t[2] = c[k].t[3] = 40.0;
        c[k].o.solve.ode.rtol = 1e-9;
        c[k].o.solve.ode.atol = 1e-11;
        dth[k] = calloc(mlp_n_params(c[k].f), sizeof *dth[k]);
        small_grad(&c[k], &loss[k], dth[k], dy0[k]);
    }
    struct grad_stats st;
    grad_ode_stats(c[2].g, &st);
    ck_assert_msg(st.fwd_steps > 64 && st.ckpt_every > 1,
                  "%ld steps, checkpoints every %ld: the test should thin", st.fwd_steps,
                  st.ckpt_every);
    const size_t P = mlp_n_params(c[0].f);
    /* checkpointed and backprop both read the forward state: they agree to
     * the tolerance; the plain adjoint back-solves h over 40 time units of
     * a dissipative field and is off by ~1e-3 relative (measured 5e-5 to
     * 2e-3): held loosely, as a sanity check */
    for (size_t i = 0; i < P; i++) {
        gt_close("ckpt vs backprop", i, dth[2][i], dth[1][i], 1e-8, 1e-7);
        gt_close("adjoint vs backprop", i, dth[0][i], dth[1][i], 1e-3, 1e-2);
    }
    for (size_t i = 0; i < B * 2; i++) {
        gt_close("dy0 ckpt vs backprop", i, dy0[2][i], dy0[1][i], 1e-8, 1e-7);
        gt_close("dy0 adjoint vs backprop", i, dy0[0][i], dy0[1][i], 1e-3, 1e-2);
    }
    size_t peak_ck, peak_bp;
    grad_ode_mem(c[2].g, NULL, &peak_ck);
    grad_ode_mem(c[1].g, NULL, &peak_bp);
    ck_assert_msg(peak_ck < peak_bp, "checkpointed %zu bytes, backprop %zu", peak_ck, peak_bp);
    for (size_t k = 0; k < 3; k++) {
        free(dth[k]);
        small_free(&c[k]);
    }
}
END_TEST

/* ---- reversible ------------------------------------------------------------------ */

/* Backprop through reversible Heun with every node's (y, z) stored: the
 * reference for the reversible method's reconstructing backward pass. The
 * grid is the method's (grad_reversible.c): each interval in
 * ceil(len / h) equal steps. */
static double tape_reversible(const mlp *f, size_t n, const double *y0, double t0, const double *t,
                              size_t n_t, double h, const double *target, double *dth, double *dy0)
{
    const size_t N = n * 2, P = mlp_n_params(f);
    err e;
    err_clear(&e);
    mlp_ws *ws = NULL;
    ck_assert(mlp_ws_new(&ws, f, n, &e) == ERR_OK);
    size_t cap = 16, nn = 0;
    double *Y = malloc(cap * N * sizeof *Y), *Z = malloc(cap * N * sizeof *Z);
    double *hs = malloc(cap * sizeof *hs), *ts = malloc(cap * sizeof *ts);
    long *obs_node = malloc(n_t * sizeof *obs_node);
    double *fz = malloc(N * sizeof *fz), *fn = malloc(N * sizeof *fn);
    memcpy(Y, y0, N * sizeof *Y);
    memcpy(Z, y0, N * sizeof *Z);
    ts[0] = t0;
    mlp_forward_batch(f, ws, n, Z, t0, fz);
    nn = 1;
    double loss = 0;
    for (size_t i = 0; i < n_t; i++) {
        const double tp = i ? t[i - 1] : t0, len = t[i] - tp;
        long m = len > 0 ? (long)ceil(len / h - 1e-9) : 0;
        if (len > 0 && m < 1) m = 1;
        const double hh = m ? len / (double)m : 0;
        for (long j = 1; j <= m; j++) {
            if (nn == cap) {
                cap *= 2;
                Y = realloc(Y, cap * N * sizeof *Y);
                Z = realloc(Z, cap * N * sizeof *Z);
                hs = realloc(hs, cap * sizeof *hs);
                ts = realloc(ts, cap * sizeof *ts);
            }
            const double *y = Y + (nn - 1) * N, *z = Z + (nn - 1) * N;
            double *y1 = Y + nn * N, *z1 = Z + nn * N;
            for (size_t k = 0; k < N; k++)
                z1[k] = 2 * y[k] - z[k] + hh * fz[k];
            ts[nn] = j == m ? t[i] : tp + (double)j * hh;
            hs[nn] = hh;
            mlp_forward_batch(f, ws, n, z1, ts[nn], fn);
            for (size_t k = 0; k < N; k++)
                y1[k] = y[k] + 0.5 * hh * (fz[k] + fn[k]);
            memcpy(fz, fn, N * sizeof *fz);
            nn++;
        }
        obs_node[i] = (long)nn - 1;
        for (size_t b = 0; b < n; b++)
            for (size_t k = 0; k < 2; k++) {
                const double r = Y[(nn - 1) * N + b * 2 + k] - target[(b * n_t + i) * 2 + k];
                loss += r * r;
            }
    }
    /* reverse: cotangents of y_m, z_m, f_m = f(z_m) */
    double *yb = calloc(N, sizeof *yb), *zb = calloc(N, sizeof *zb), *fb = calloc(N, sizeof *fb);
    memset(dth, 0, P * sizeof *dth);
    size_t oi = n_t;
    for (long m = (long)nn - 1; m >= 0; m--) {
        for (; oi > 0 && obs_node[oi - 1] == m; oi--)
            for (size_t b = 0; b < n; b++)
                for (size_t k = 0; k < 2; k++)
                    yb[b * 2 + k] +=
                        2 * (Y[m * N + b * 2 + k] - target[(b * n_t + oi - 1) * 2 + k]);
        if (m > 0)
            for (size_t k = 0; k < N; k++)
                fb[k] += 0.5 * hs[m] * yb[k]; /* y_m = y_{m-1} + h (f_{m-1} + f_m) / 2 */
        mlp_forward_batch(f, ws, n, Z + m * N, ts[m], fn);
        mlp_vjp_batch(f, ws, n, fb, zb, NULL, dth);
        if (m == 0) break;
        for (size_t k = 0; k < N; k++) { /* z_m = 2 y_{m-1} - z_{m-1} + h f_{m-1} */
            const double ybo = yb[k], zbo = zb[k];
            yb[k] = ybo + 2 * zbo;
            fb[k] = 0.5 * hs[m] * ybo + hs[m] * zbo;
            zb[k] = -zbo;
        }
    }
    for (size_t k = 0; k < N; k++)
        dy0[k] = yb[k] + zb[k];
    free(yb), free(zb), free(fb), free(Y), free(Z), free(hs), free(ts), free(obs_node), free(fz),
        free(fn);
    mlp_ws_free(ws);
    return loss;
}

START_TEST(reversible_equals_backprop)
{
    struct small c;
    small_init(&c, GRAD_REVERSIBLE, 3);
    c.o.loss_scale = 1.0;
    c.t[1] = 0.73; /* not on the nominal grid: that interval gets its own step */
    c.o.solve.ode.n_steps = 40;
    const size_t P = mlp_n_params(c.f);
    double loss, *dth = calloc(P, sizeof *dth), *ref = calloc(P, sizeof *ref), dy0[B * 2],
                 rdy0[B * 2];
    small_grad(&c, &loss, dth, dy0);
    const double h = (c.t[NT - 1] - c.t0) / 40;
    const double rl = tape_reversible(c.f, B, c.y0, c.t0, c.t, NT, h, c.target, ref, rdy0);
    gt_close("loss", 0, loss, rl, 0, 1e-13);
    for (size_t i = 0; i < P; i++)
        gt_close("dtheta", i, dth[i], ref[i], 1e-10, 1e-10);
    for (size_t i = 0; i < B * 2; i++)
        gt_close("dy0", i, dy0[i], rdy0[i], 1e-10, 1e-10);
    struct grad_stats st;
    grad_ode_stats(c.g, &st);
    ck_assert_int_eq(st.fwd_steps, st.bwd_steps);
    /* and its own discrete loss's central differences */
    gt_central("dtheta vs fd", small_loss, &c, mlp_params(c.f), P, 1e-6, dth, 1e-7, 1e-6);
    gt_central("dy0 vs fd", small_loss, &c, c.y0, B * 2, 1e-6, dy0, 1e-7, 1e-6);
    free(dth), free(ref);
    small_free(&c);
}
END_TEST

/* Second order: at 4000 steps it agrees with the tight adjoint. */
START_TEST(reversible_converges)
{
    struct small a, r;
    small_init(&a, GRAD_ADJOINT, 5);
    small_init(&r, GRAD_REVERSIBLE, 5);
    a.o.solve.ode.rtol = 1e-11;
    a.o.solve.ode.atol = 1e-13;
    r.o.solve.ode.n_steps = 4000;
    const size_t P = mlp_n_params(a.f);
    double la, lr, *ga = calloc(P, sizeof *ga), *gr = calloc(P, sizeof *gr), ya[B * 2], yr[B * 2];
    small_grad(&a, &la, ga, ya);
    small_grad(&r, &lr, gr, yr);
    for (size_t i = 0; i < P; i++)
        gt_close("reversible vs adjoint", i, gr[i], ga[i], 1e-5, 1e-4);
    free(ga), free(gr);
    small_free(&a);
    small_free(&r);
}
END_TEST

static size_t reversible_peak(long steps)
{
    struct small c;
    small_init(&c, GRAD_REVERSIBLE, 9);
    c.o.solve.ode.n_steps = steps;
    c.o.solve.ode.max_steps = steps + 10;
    const size_t P = mlp_n_params(c.f);
    double loss, *dth = calloc(P, sizeof *dth), dy0[B * 2];
    small_grad(&c, &loss, dth, dy0);
    ck_assert(isfinite(loss));
    struct grad_stats st;
    grad_ode_stats(c.g, &st);
    ck_assert_int_ge(st.fwd_steps, steps);
    size_t peak;
    grad_ode_mem(c.g, NULL, &peak);
    free(dth);
    small_free(&c);
    return peak;
}

START_TEST(reversible_memory_flat)
{
    const size_t p3 = reversible_peak(1000), p5 = reversible_peak(100000);
    ck_assert_msg(p3 == p5, "peak %zu bytes at 1e3 steps, %zu at 1e5", p3, p5);
}
END_TEST

START_TEST(reversible_needs_steps)
{
    struct small c;
    small_init(&c, GRAD_REVERSIBLE, 3);
    const size_t P = mlp_n_params(c.f);
    double loss, *dth = calloc(P, sizeof *dth), dy0[B * 2];
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_ode_compute(c.g, &c.b, &c.o, &loss, dth, dy0, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "n_steps");
    free(dth);
    small_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("grad_methods");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, contracting_checkpointed_exact);
    tcase_add_test(tc, contracting_plain_adjoint_far_off);
    tcase_add_test(tc, contracting_backprop_exact);
    tcase_add_test(tc, checkpointed_fd_dopri5);
    tcase_add_test(tc, checkpointed_fd_dop853);
    tcase_add_test(tc, methods_agree);
    tcase_add_test(tc, reversible_equals_backprop);
    tcase_add_test(tc, reversible_converges);
    tcase_add_test(tc, reversible_memory_flat);
    tcase_add_test(tc, reversible_needs_steps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
