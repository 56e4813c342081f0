/* check_grad_cde: neural CDE gradients (model/grad_cde.h) on the real
 * paths of model/interp.h (model/grad_interp.h), for every interpolation
 * scheme.
 *
 * References and tolerances.
 * - Forward: the training forward (per-item mode) against cde_model_solve,
 *   the serving solve, on the same model, series and solver settings: the
 *   same steps in the same parameter s, so the readouts agree to rounding,
 *   |a - b| <= 1e-12 (1 + |b|).
 * - Backprop, fixed steps in s (n_steps; steps end at the stops): the
 *   exact gradient of the numerical solution, against central differences
 *   (h = 1e-6) of the same discretisation: |g - fd| <= 1e-7 + 1e-6 |fd|.
 * - Adjoint, dop853 at rtol 1e-11, atol 1e-13: against central differences
 *   (h = 1e-5) of a fine fixed-step solve (dop853, 300 steps), whose
 *   discretisation error is far below the tolerance and which, unlike an
 *   adaptive solve, is smooth in the parameters (adaptive FD across the
 *   natural cubic's knots, where X''' jumps, is off by ~1e-4 relative):
 *   |g - fd| <= 1e-6 + 1e-5 |fd|, every third parameter.
 * - Knots: the training solve's jump and stop times per item and their
 *   union over a batch are the path's interp_stops / interp_smooth_stops,
 *   as serving passes them.
 * Losses: mse on the readout at every observation time (per-item times,
 * irregular series, a missing value) and cross entropy at the last one; a
 * shared-step batch on a common time grid. */
#include "model/cde_model.h"
#include "model/cde_path.h"
#include "model/grad_cde.h"
#include "model/grad_interp.h"
#include "model/init.h"
#include "model/rng.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 3, N_OBS = 6, D = 2, C = 1 + D, H = 3, MAXP = 512 };

struct fixture {
    model_def def;
    mlp *net[3];
    cde_model *model;
    double t[B][N_OBS], x[B][N_OBS * D];
    interp *paths[B];
    grad_interp *gi;
    grad_cde *g;
    double s0[B], s[B][N_OBS];
    double target[B * N_OBS * 3];
    long label[B];
    struct grad_cde_options o;
    struct grad_cde_batch batch;
};

static void set_net(model_net *n, size_t in, size_t hidden, size_t out, act_kind last)
{
    n->in_dim = in;
    n->n_layers = 2;
    n->layers[0] = (mlp_layer){.kind = MLP_LINEAR, .in = in, .out = hidden, .act = ACT_TANH};
    n->layers[1] = (mlp_layer){.kind = MLP_LINEAR, .in = hidden, .out = out, .act = last};
}

static mlp *net_from_def(const model_def *d, size_t i)
{
    const model_net *n = &d->nets[i];
    mlp_spec spec = {.state_dim = n->in_dim, .n_layers = n->n_layers, .layers = n->layers};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &spec, NULL), ERR_OK);
    memcpy(mlp_params(m), d->params + model_def_net_offset(d, i), mlp_n_params(m) * sizeof(double));
    return m;
}

/* shared_grid: every series observed at the same times (for a shared-step batch). */
static void fixture_init(struct fixture *f, model_interp scheme, loss_kind loss, int shared_grid,
                         uint64_t seed)
{
    memset(f, 0, sizeof *f);
    rng r;
    rng_seed(&r, seed);
    const size_t O = loss == LOSS_CROSS_ENTROPY ? 3 : 2;
    model_def *d = &f->def;
    model_def_init(d);
    d->kind = MODEL_KIND_CDE;
    d->input_channels = C;
    d->hidden_dim = H;
    d->channel_time = true;
    d->interp = scheme;
    d->n_nets = 3;
    set_net(&d->nets[0], C, 4, H, ACT_IDENTITY);
    set_net(&d->nets[1], H, 5, H * C, ACT_TANH); /* torchcde's tanh on F */
    set_net(&d->nets[2], H, 4, O, ACT_IDENTITY);
    const struct init_config ic = {.scheme = INIT_NORMAL, .std = 0.6};
    ck_assert_int_eq(init_model_params(d, &ic, &r, NULL), ERR_OK);
    err e;
    err_clear(&e);
    ck_assert_msg(cde_model_new(&f->model, d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    for (size_t i = 0; i < 3; i++)
        f->net[i] = net_from_def(d, i);
    const struct cde_path_channels ch = cde_model_channels(f->model);
    for (size_t b = 0; b < B; b++) {
        for (size_t i = 0; i < N_OBS; i++) {
            f->t[b][i] = shared_grid ? 0.4 * (double)i
                                     : (i ? f->t[b][i - 1] + rng_uniform_range(&r, 0.1, 0.6)
                                          : rng_uniform_range(&r, -0.5, 0.5));
            for (size_t j = 0; j < D; j++)
                f->x[b][i * D + j] = rng_uniform_range(&r, -1.5, 1.5);
        }
        if (b == 1) f->x[b][2 * D + 1] = NAN; /* a missing value of the path */
        const struct cde_path_obs obs = {.n = N_OBS, .t = f->t[b], .x = f->x[b]};
        ck_assert_int_eq(cde_path_new(&f->paths[b], scheme, &ch, &obs, &e), ERR_OK);
    }
    ck_assert_int_eq(grad_interp_new(&f->gi, (const interp *const *)f->paths, B, &e), ERR_OK);
    for (size_t b = 0; b < B; b++) {
        f->s0[b] = grad_interp_s0(f->gi, b);
        grad_interp_params(f->gi, b, f->t[b], N_OBS, f->s[b]);
    }
    struct grad_cde_nets nets = {
        .initial = f->net[0], .vector_field = f->net[1], .readout = f->net[2]};
    ck_assert_int_eq(grad_cde_new(&f->g, &nets, B, &e), ERR_OK);
    for (size_t i = 0; i < B * N_OBS * O; i++)
        f->target[i] = rng_uniform_range(&r, -4, 4);
    f->target[5] = NAN;
    for (size_t b = 0; b < B; b++)
        f->label[b] = (long)rng_below(&r, O);
    grad_cde_options_init(&f->o);
    f->o.loss = loss;
    f->o.batch_mode = shared_grid ? GRAD_BATCH_SHARED : GRAD_BATCH_PER_ITEM;
    f->batch = (struct grad_cde_batch){.batch = B,
                                       .path = grad_interp_path(f->gi),
                                       .per_item_times = !shared_grid,
                                       .t0 = f->s0,
                                       .t = &f->s[0][0],
                                       .n_t = N_OBS,
                                       .target = f->target,
                                       .label = f->label};
}

static void fixture_free(struct fixture *f)
{
    grad_cde_free(f->g);
    grad_interp_free(f->gi);
    for (size_t b = 0; b < B; b++)
        interp_free(f->paths[b]);
    for (size_t i = 0; i < 3; i++)
        mlp_free(f->net[i]);
    cde_model_free(f->model);
    model_def_free(&f->def);
}

static double loss_of(struct fixture *f, double *dtheta, double *pred)
{
    double l;
    err e;
    err_clear(&e);
    ck_assert_msg(grad_cde_compute(f->g, &f->batch, &f->o, &l, dtheta, pred, &e) == ERR_OK,
                  "%s: %s", e.field, e.message);
    return l;
}

static const model_interp schemes[] = {MODEL_INTERP_LINEAR, MODEL_INTERP_RECTILINEAR,
                                       MODEL_INTERP_NATURAL_CUBIC, MODEL_INTERP_HERMITE_BDIFF};

/* The training forward is the serving forward. */
START_TEST(forward_matches_cde_model)
{
    struct fixture f;
    fixture_init(&f, schemes[_i], LOSS_MSE, 0, 10 + (uint64_t)_i);
    f.o.solve.tab = &rk_dopri5;
    f.o.solve.ode.rtol = 1e-6;
    f.o.solve.ode.atol = 1e-8;
    double pred[B * N_OBS * 2], ref[B * N_OBS * 2];
    loss_of(&f, NULL, pred);
    struct cde_series series[B];
    for (size_t b = 0; b < B; b++)
        series[b] = (struct cde_series){.obs = {.n = N_OBS, .t = f.t[b], .x = f.x[b]}};
    struct cde_model_query q = {.batch = B, .series = series};
    strcpy(q.solver.method, "dopri5");
    q.solver.rtol = 1e-6;
    q.solver.atol = 1e-8;
    err e;
    err_clear(&e);
    ck_assert_msg(cde_model_solve(f.model, &q, ref, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    for (size_t i = 0; i < B * N_OBS * 2; i++)
        ck_assert_msg(fabs(pred[i] - ref[i]) <= 1e-12 * (1 + fabs(ref[i])),
                      "%s: readout %zu: %.17g vs %.17g", model_interp_name(schemes[_i]), i, pred[i],
                      ref[i]);
    fixture_free(&f);
}
END_TEST

/* FD of the loss solved with options ref (NULL: f->o) against the gradient
 * with f->o. */
static void check_fd(struct fixture *f, const struct grad_cde_options *ref, size_t stride, double h,
                     double at, double rt)
{
    double g[MAXP];
    const size_t np = grad_cde_n_params(f->g);
    ck_assert_uint_le(np, MAXP);
    const double l = loss_of(f, g, NULL);
    ck_assert_double_eq_tol(l, loss_of(f, NULL, NULL), 1e-14);
    const struct grad_cde_options keep_o = f->o;
    if (ref) f->o = *ref;
    size_t off = 0;
    for (int k = 0; k < 3; k++) {
        double *p = mlp_params(f->net[k]);
        for (size_t i = (size_t)k % stride; i < mlp_n_params(f->net[k]); i += stride) {
            const double keep = p[i];
            p[i] = keep + h;
            const double lp = loss_of(f, NULL, NULL);
            p[i] = keep - h;
            const double lm = loss_of(f, NULL, NULL);
            p[i] = keep;
            const double fd = (lp - lm) / (2 * h), gi = g[off + i];
            ck_assert_msg(fabs(gi - fd) <= at + rt * fabs(fd),
                          "%s net %d param %zu: %.12g vs FD %.12g",
                          model_interp_name(f->def.interp), k, i, gi, fd);
        }
        off += mlp_n_params(f->net[k]);
    }
    f->o = keep_o;
}

START_TEST(backprop_fd)
{
    /* _i: scheme (4) x loss (mse, cross_entropy) x grid (irregular per item, shared) */
    const loss_kind loss = (_i / 4) % 2 ? LOSS_CROSS_ENTROPY : LOSS_MSE;
    struct fixture f;
    fixture_init(&f, schemes[_i % 4], loss, _i >= 8, 20 + (uint64_t)_i);
    f.o.solve.method = GRAD_BACKPROP;
    f.o.solve.tab = &rk_dopri5;
    f.o.solve.ode.n_steps = 17;
    check_fd(&f, NULL, 1, 1e-6, 1e-7, 1e-6);
    fixture_free(&f);
}
END_TEST

START_TEST(adjoint_fd)
{
    const loss_kind loss = (_i / 4) % 2 ? LOSS_CROSS_ENTROPY : LOSS_MSE;
    struct fixture f;
    fixture_init(&f, schemes[_i % 4], loss, _i >= 8, 40 + (uint64_t)_i);
    f.o.solve.method = GRAD_ADJOINT;
    f.o.solve.tab = &rk_dop853;
    f.o.solve.ode.rtol = 1e-11;
    f.o.solve.ode.atol = 1e-13;
    /* the reference: FD of a fine fixed-step solve (an adaptive one is not
     * smooth in the parameters where the step pattern changes: across the
     * natural cubic's knots, whose third derivative jumps, FD of a solve at
     * rtol 1e-11 is off by ~1e-4 relative) */
    struct grad_cde_options ref = f.o;
    ref.solve.ode.n_steps = 300;
    check_fd(&f, &ref, 3, 1e-5, 1e-6, 1e-5); /* every third parameter: the reference is slow */
    fixture_free(&f);
}
END_TEST

/* The implicit methods (rodas4, esdirk4 forward; the interpolating esdirk4
 * adjoint backward, model/grad_adjoint.c) at rtol 1e-10, atol 1e-12,
 * against the same fixed-step FD reference as adjoint_fd, to the same
 * bound; per item and (the block Jacobian) shared-step. */
START_TEST(implicit_adjoint_fd)
{
    const struct rk_tableau *tab = _i < 4 ? &rk_rodas4 : &rk_esdirk4;
    struct fixture f;
    fixture_init(&f, schemes[_i % 4], LOSS_MSE, _i >= 4, 60 + (uint64_t)_i);
    f.o.solve.method = GRAD_ADJOINT;
    f.o.solve.tab = tab;
    f.o.solve.ode.rtol = 1e-10;
    f.o.solve.ode.atol = 1e-12;
    f.o.solve.ode.max_steps = 1000000;
    struct grad_cde_options ref = f.o;
    ref.solve.tab = &rk_dop853;
    ref.solve.ode.n_steps = 300;
    check_fd(&f, &ref, 3, 1e-5, 1e-6, 1e-5);
    double g[MAXP];
    loss_of(&f, g, NULL);
    struct grad_stats st;
    grad_cde_stats(f.g, &st);
    ck_assert_int_gt(st.fwd_jac, 0);
    ck_assert_int_gt(st.bwd_jac, 0);
    fixture_free(&f);
}
END_TEST

/* adjoint_checkpointed (model/grad_ckpt.c) through the paths' jump and
 * stop times: re-solved segments end at the knots as the forward's steps
 * do. The same reference and bound as adjoint_fd; explicit dop853 on every
 * scheme, loss and grid, and the implicit methods with the esdirk4
 * interpolating backward (as implicit_adjoint_fd). */
START_TEST(checkpointed_fd)
{
    const loss_kind loss = (_i / 4) % 2 ? LOSS_CROSS_ENTROPY : LOSS_MSE;
    struct fixture f;
    fixture_init(&f, schemes[_i % 4], loss, _i >= 8, 80 + (uint64_t)_i);
    f.o.solve.method = GRAD_ADJOINT_CKPT;
    f.o.solve.tab = &rk_dop853;
    f.o.solve.ode.rtol = 1e-11;
    f.o.solve.ode.atol = 1e-13;
    struct grad_cde_options ref = f.o;
    ref.solve.ode.n_steps = 300;
    check_fd(&f, &ref, 3, 1e-5, 1e-6, 1e-5);
    fixture_free(&f);
}
END_TEST

START_TEST(checkpointed_implicit_fd)
{
    const struct rk_tableau *tab = _i < 4 ? &rk_rodas4 : &rk_esdirk4;
    struct fixture f;
    fixture_init(&f, schemes[_i % 4], LOSS_MSE, _i >= 4, 100 + (uint64_t)_i);
    f.o.solve.method = GRAD_ADJOINT_CKPT;
    f.o.solve.tab = tab;
    f.o.solve.ode.rtol = 1e-10;
    f.o.solve.ode.atol = 1e-12;
    f.o.solve.ode.max_steps = 1000000;
    struct grad_cde_options ref = f.o;
    ref.solve.method = GRAD_ADJOINT;
    ref.solve.tab = &rk_dop853;
    ref.solve.ode.n_steps = 300;
    check_fd(&f, &ref, 3, 1e-5, 1e-6, 1e-5);
    fixture_free(&f);
}
END_TEST

/* reversible steps over nothing: a path's knots make it refuse. */
START_TEST(reversible_refused)
{
    struct fixture f;
    fixture_init(&f, schemes[0], LOSS_MSE, false, 7);
    f.o.solve.method = GRAD_REVERSIBLE;
    f.o.solve.ode.n_steps = 50;
    double g[MAXP];
    err e;
    err_clear(&e);
    double loss;
    ck_assert_int_eq(grad_cde_compute(f.g, &f.batch, &f.o, &loss, g, NULL, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.field, "gradient") != NULL, "field %s", e.field);
    fixture_free(&f);
}
END_TEST

/* A path without a second derivative gives no Jacobian: the implicit
 * methods are refused, naming the field. */
START_TEST(implicit_needs_d2)
{
    struct fixture f;
    fixture_init(&f, MODEL_INTERP_LINEAR, LOSS_MSE, 1, 7);
    struct grad_path p = *grad_interp_path(f.gi);
    p.d2xdt2 = NULL;
    f.batch.path = &p;
    f.o.solve.tab = &rk_rodas4;
    double l, g[MAXP];
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_cde_compute(f.g, &f.batch, &f.o, &l, g, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "method");
    fixture_free(&f);
}
END_TEST

/* Training hands the solver the knots serving does: per item its jumps
 * (linear, rectilinear) or stops (the cubic schemes) in s, and for a range
 * of items the sorted union of theirs. */
START_TEST(knots_as_serving)
{
    struct fixture f;
    fixture_init(&f, schemes[_i], LOSS_MSE, 0, 60 + (uint64_t)_i);
    const struct grad_path *gp = grad_interp_path(f.gi);
    const bool smooth =
        schemes[_i] == MODEL_INTERP_NATURAL_CUBIC || schemes[_i] == MODEL_INTERP_HERMITE_BDIFF;
    double all[2 * B * N_OBS];
    size_t n_all = 0;
    for (size_t b = 0; b < B; b++) {
        size_t nj, ns;
        const double *j = gp->jumps(gp->ctx, b, 1, &nj), *st = gp->stops(gp->ctx, b, 1, &ns);
        ck_assert_uint_eq(nj, interp_n_stops(f.paths[b]));
        ck_assert_uint_eq(ns, interp_n_smooth_stops(f.paths[b]));
        ck_assert_uint_eq(smooth ? nj : ns, 0);
        const size_t n = smooth ? ns : nj;
        const double *k = smooth ? st : j, *knots = interp_knots(f.paths[b]);
        ck_assert_uint_eq(n, interp_n_knots(f.paths[b]) - 2);
        for (size_t i = 0; i < n; i++) {
            ck_assert_double_eq(k[i], knots[i + 1]);
            all[n_all++] = k[i];
        }
    }
    size_t nu;
    const double *u = smooth ? gp->stops(gp->ctx, 0, B, &nu) : gp->jumps(gp->ctx, 0, B, &nu);
    for (size_t i = 0; i < nu; i++) {
        if (i) ck_assert(u[i - 1] < u[i]);
        size_t hits = 0;
        for (size_t k = 0; k < n_all; k++)
            hits += all[k] == u[i];
        ck_assert_uint_ge(hits, 1);
    }
    for (size_t k = 0; k < n_all; k++) {
        size_t hits = 0;
        for (size_t i = 0; i < nu; i++)
            hits += all[k] == u[i];
        ck_assert_uint_eq(hits, 1);
    }
    fixture_free(&f);
}
END_TEST

START_TEST(interp_errors)
{
    err e;
    err_clear(&e);
    grad_interp *g = NULL;
    ck_assert_int_eq(grad_interp_new(&g, NULL, 0, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "paths");
    const double t[2] = {0, 1}, x1[2] = {0, 1}, x2[4] = {0, 1, 2, 3};
    interp *p[2] = {NULL, NULL};
    ck_assert_int_eq(interp_new(&p[0], MODEL_INTERP_LINEAR, t, 2, x1, 1, 0, NULL), ERR_OK);
    ck_assert_int_eq(interp_new(&p[1], MODEL_INTERP_LINEAR, t, 2, x2, 2, 0, NULL), ERR_OK);
    err_clear(&e);
    ck_assert_int_eq(grad_interp_new(&g, (const interp *const *)p, 2, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "paths[1]");
    interp_free(p[0]);
    interp_free(p[1]);
}
END_TEST

static Suite *grad_cde_suite(void)
{
    Suite *s = suite_create("grad_cde");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, forward_matches_cde_model, 0, 4);
    tcase_add_loop_test(tc, knots_as_serving, 0, 4);
    tcase_add_loop_test(tc, backprop_fd, 0, 12);
    tcase_add_loop_test(tc, adjoint_fd, 0, 12);
    tcase_add_loop_test(tc, implicit_adjoint_fd, 0, 8);
    tcase_add_test(tc, implicit_needs_d2);
    tcase_add_loop_test(tc, checkpointed_fd, 0, 12);
    tcase_add_loop_test(tc, checkpointed_implicit_fd, 0, 8);
    tcase_add_test(tc, reversible_refused);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, interp_errors);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    return tu_suite_run(grad_cde_suite());
}
