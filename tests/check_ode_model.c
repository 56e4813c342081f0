/* check_ode_model: neural ODE models (model/ode_model.h) against independent
 * references.
 *
 *  - linear fields (one identity linear layer: dh/dt = W h + b, and with the
 *    time input dh/dt = W h + c t + b) against the closed-form solution,
 *    written out here for a 2 x 2 W with complex eigenvalues;
 *  - small tanh / softplus / cube MLPs, with time input and augmented
 *    states, against tests/fixtures/ode_model_reference.json (SciPy DOP853
 *    at rtol 1e-13, tests/fixtures/gen_ode_model_reference.py), in both batch
 *    modes, at unsorted, duplicated output times on both sides of t0;
 *  - the query's validation (fields as the HTTP request names them), solver
 *    failures naming the trajectory and the time, the abort hook, the
 *    solver-settings merge and the fixed-step default;
 *  - ODE_BATCH_AUTO: its rule (ode_batch_pick), answers bit for bit those
 *    of the mode it reports, for batches of 1, 2, 17 and 256 and a batch
 *    with one hard trajectory, failures and the abort hook;
 *  - the solve-cost guess served models learn (model/solve_cost.h).
 *
 * Accuracy criterion (as in check_num): per component,
 * |y - y_ref| <= C (atol + rtol max|y_ref|) + ref_err, with C = 100 (global
 * error of a tolerance-controlled solve over a few time units). */
#include "model/model_def.h"
#include "model/ode_model.h"
#include "model/solve_cost.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACC_C 100.0

/* ---- model builders ---------------------------------------------------- */

static void def_ode(model_def *d, size_t state_dim, size_t augment_dim, bool time_input)
{
    model_def_init(d);
    d->kind = MODEL_KIND_ODE;
    d->state_dim = state_dim;
    d->augment_dim = augment_dim;
    d->n_nets = 1;
    d->nets[0].in_dim = state_dim + augment_dim;
    d->nets[0].time_input = time_input;
}

static void def_add_linear(model_def *d, size_t in, size_t out, act_kind act)
{
    model_net *n = &d->nets[0];
    n->layers[n->n_layers++] = (mlp_layer){MLP_LINEAR, in, out, act};
    d->params = realloc(d->params, (d->n_params + in * out + out) * sizeof *d->params);
    ck_assert_ptr_nonnull(d->params);
    memset(d->params + d->n_params, 0, (in * out + out) * sizeof *d->params);
    d->n_params += in * out + out;
}

static ode_model *new_model(const model_def *d)
{
    ode_model *m = NULL;
    err e;
    err_clear(&e);
    err_code rc = ode_model_new(&m, d, &e);
    ck_assert_msg(rc == ERR_OK, "ode_model_new: %s: %s", e.field, e.message);
    return m;
}

/* The linear test field: W with eigenvalues -0.25 +- i sqrt(2.9975), b, and
 * (time input) c. */
static const double LW[4] = {-0.3, 2.0, -1.5, -0.2}, LB[2] = {0.5, -0.4}, LC[2] = {0.3, -0.2};

static void def_linear(model_def *d, bool time_input)
{
    def_ode(d, 2, 0, time_input);
    size_t in = time_input ? 3 : 2;
    def_add_linear(d, in, 2, ACT_IDENTITY);
    for (int o = 0; o < 2; o++) {
        d->params[o * in + 0] = LW[o * 2 + 0];
        d->params[o * in + 1] = LW[o * 2 + 1];
        if (time_input) d->params[o * in + 2] = LC[o];
        d->params[2 * in + o] = LB[o];
    }
}

/* ---- the closed form ----------------------------------------------------- */

static void mat2_vec(const double *M, const double *v, double *out)
{
    double a = M[0] * v[0] + M[1] * v[1], b = M[2] * v[0] + M[3] * v[1];
    out[0] = a, out[1] = b;
}

static void mat2_inv(const double *M, double *inv)
{
    double det = M[0] * M[3] - M[1] * M[2];
    inv[0] = M[3] / det, inv[1] = -M[1] / det, inv[2] = -M[2] / det, inv[3] = M[0] / det;
}

/* exp(W s) for a 2 x 2 W with complex eigenvalues alpha +- i beta:
 * e^{alpha s} (cos(beta s) I + sin(beta s)/beta (W - alpha I)). */
static void expm2(const double *W, double s, double *E)
{
    double alpha = 0.5 * (W[0] + W[3]), det = W[0] * W[3] - W[1] * W[2];
    double beta = sqrt(det - alpha * alpha);
    ck_assert(det - alpha * alpha > 0);
    double ea = exp(alpha * s), c = cos(beta * s), sn = sin(beta * s) / beta;
    E[0] = ea * (c + sn * (W[0] - alpha));
    E[1] = ea * sn * W[1];
    E[2] = ea * sn * W[2];
    E[3] = ea * (c + sn * (W[3] - alpha));
}

/* h(t) for dh/dt = W h + c t + b (c = 0 without time input), h(t0) = h0:
 * h = p(t) + e^{W (t - t0)} (h0 - p(t0)), p(t) = P + Q t the particular
 * solution, Q = -W^-1 c, P = W^-1 (Q - b). */
static void linear_exact(bool time_input, double t0, const double *h0, double t, double *h)
{
    double Wi[4], Q[2] = {0, 0}, P[2], r[2], E[4], d[2];
    mat2_inv(LW, Wi);
    if (time_input) {
        mat2_vec(Wi, LC, Q);
        Q[0] = -Q[0], Q[1] = -Q[1];
    }
    r[0] = Q[0] - LB[0], r[1] = Q[1] - LB[1];
    mat2_vec(Wi, r, P);
    d[0] = h0[0] - (P[0] + Q[0] * t0), d[1] = h0[1] - (P[1] + Q[1] * t0);
    expm2(LW, t - t0, E);
    mat2_vec(E, d, h);
    h[0] += P[0] + Q[0] * t, h[1] += P[1] + Q[1] * t;
}

/* unsorted, duplicated, both sides of t0 = 0.3, t0 itself */
static const double LT0 = 0.3;
static const double LTIMES[] = {2.0, -1.0, 0.3, 5.0, 2.0, -2.5, 0.31, 4.999, -1.0};
#define N_LTIMES (sizeof LTIMES / sizeof LTIMES[0])
static const double LY0[3][2] = {{1.0, -0.5}, {-2.0, 3.0}, {0.25, 0.125}};

static double err_bound(double rtol, double atol, double ymax, double ref_err)
{
    return ACC_C * (atol + rtol * ymax) + ref_err;
}

static struct ode_model_query linear_query(const double *y0, size_t batch, const char *method,
                                           double rtol, double atol)
{
    struct ode_model_query q = {.t0 = LT0, .batch = batch, .y0 = y0, .t = LTIMES, .n_t = N_LTIMES};
    snprintf(q.solver.method, sizeof q.solver.method, "%s", method);
    q.solver.rtol = rtol;
    q.solver.atol = atol;
    return q;
}

static void check_linear(bool time_input, const char *method, double rtol, double atol, double step,
                         double bound)
{
    model_def d;
    def_linear(&d, time_input);
    ode_model *m = new_model(&d);
    double y[3 * N_LTIMES * 2];
    struct ode_model_query q = linear_query(&LY0[0][0], 3, method, rtol, atol);
    q.solver.step = step;
    for (int mode = ODE_BATCH_SHARED; mode <= ODE_BATCH_PER_TRAJECTORY; mode++) {
        q.mode = (ode_batch_mode)mode;
        err e;
        err_clear(&e);
        struct ode_model_stats st;
        err_code rc = ode_model_solve(m, &q, y, &st, &e);
        ck_assert_msg(rc == ERR_OK, "%s: %s", method, e.message);
        ck_assert(isnan(st.t_fail));
        ck_assert_int_gt(st.nfe, 0);
        for (size_t b = 0; b < 3; b++)
            for (size_t i = 0; i < N_LTIMES; i++) {
                double ex[2];
                linear_exact(time_input, LT0, LY0[b], LTIMES[i], ex);
                double ymax = fmax(fabs(ex[0]), fabs(ex[1]));
                double tol = bound > 0 ? bound : err_bound(rtol, atol, ymax, 0);
                for (int k = 0; k < 2; k++) {
                    double got = y[(b * N_LTIMES + i) * 2 + k];
                    ck_assert_msg(fabs(got - ex[k]) <= tol,
                                  "%s mode %d time_input %d: y0[%zu] t=%g [%d]: %.17g vs exact "
                                  "%.17g (tol %g)",
                                  method, mode, time_input, b, LTIMES[i], k, got, ex[k], tol);
                }
            }
    }
    ode_model_free(m);
    model_def_free(&d);
}

START_TEST(linear_closed_form)
{
    static const char *const methods[] = {"dopri5", "tsit5", "dop853", "bosh3"};
    for (int ti = 0; ti < 2; ti++)
        for (size_t i = 0; i < 4; i++)
            check_linear(ti, methods[i], 1e-9, 1e-12, 0, 0);
    /* rk4 with a given step: global error ~ C h^4 */
    check_linear(false, "rk4", 0, 0, 0.01, 1e-7);
    check_linear(true, "rk4", 0, 0, 0.01, 1e-7);
    /* rk4 without a step: the default 1000 steps per direction */
    check_linear(true, "rk4", 0, 0, 0, 1e-8);
}
END_TEST

/* ---- the SciPy fixture ------------------------------------------------- */

struct fx_case {
    char name[32];
    model_def def;
    size_t batch, n_t, full_dim;
    double *y0; /* batch x state_dim */
    double *y;  /* batch x n_t x full_dim */
    double ref_err;
};

static struct {
    double t0;
    double *t;
    size_t n_t;
    struct fx_case c[8];
    size_t n;
} fx;

static void load_layer(model_def *d, json_t *L, size_t *width)
{
    act_kind act;
    ck_assert_int_eq(act_from_name(json_string_value(json_object_get(L, "activation")), &act, NULL),
                     ERR_OK);
    json_t *W = json_object_get(L, "weight");
    model_net *n = &d->nets[0];
    if (!W) {
        n->layers[n->n_layers++] = (mlp_layer){MLP_ELEMENTWISE, 0, 0, act};
        return;
    }
    size_t out = json_array_size(W), in = json_array_size(json_array_get(W, 0));
    ck_assert_uint_eq(in, *width);
    size_t base = d->n_params;
    def_add_linear(d, in, out, act);
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++)
            d->params[base + o * in + i] = json_real_value(json_array_get(json_array_get(W, o), i));
    for (size_t o = 0; o < out; o++)
        d->params[base + out * in + o] =
            json_real_value(json_array_get(json_object_get(L, "bias"), o));
    *width = out;
}

static void load_case(struct fx_case *c, json_t *j)
{
    snprintf(c->name, sizeof c->name, "%s", json_string_value(json_object_get(j, "name")));
    size_t sd = (size_t)json_integer_value(json_object_get(j, "state_dim"));
    size_t ad = (size_t)json_integer_value(json_object_get(j, "augment_dim"));
    bool ti = json_is_true(json_object_get(j, "time_input"));
    def_ode(&c->def, sd, ad, ti);
    size_t width = sd + ad + ti;
    json_t *layers = json_object_get(j, "layers");
    for (size_t l = 0; l < json_array_size(layers); l++)
        load_layer(&c->def, json_array_get(layers, l), &width);
    json_t *y0 = json_object_get(j, "y0"), *y = json_object_get(j, "y");
    c->batch = json_array_size(y0);
    c->n_t = fx.n_t;
    c->full_dim = sd + ad;
    c->y0 = malloc(c->batch * sd * sizeof *c->y0);
    c->y = malloc(c->batch * c->n_t * c->full_dim * sizeof *c->y);
    ck_assert(c->y0 && c->y && json_array_size(y) == c->batch);
    for (size_t b = 0; b < c->batch; b++) {
        for (size_t k = 0; k < sd; k++)
            c->y0[b * sd + k] = json_real_value(json_array_get(json_array_get(y0, b), k));
        for (size_t i = 0; i < c->n_t; i++)
            for (size_t k = 0; k < c->full_dim; k++)
                c->y[(b * c->n_t + i) * c->full_dim + k] =
                    json_real_value(json_array_get(json_array_get(json_array_get(y, b), i), k));
    }
    c->ref_err = json_real_value(json_object_get(j, "ref_err"));
}

static void fx_load(void)
{
    char path[1024];
    tu_source_path(path, sizeof path, "tests/fixtures/ode_model_reference.json");
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    ck_assert_msg(root != NULL, "cannot load %s: %s (set top_srcdir)", path, je.text);
    fx.t0 = json_real_value(json_object_get(root, "t0"));
    json_t *t = json_object_get(root, "t");
    fx.n_t = json_array_size(t);
    fx.t = malloc(fx.n_t * sizeof *fx.t);
    ck_assert_ptr_nonnull(fx.t);
    for (size_t i = 0; i < fx.n_t; i++)
        fx.t[i] = json_real_value(json_array_get(t, i));
    json_t *cases = json_object_get(root, "cases");
    fx.n = json_array_size(cases);
    ck_assert(fx.n >= 4 && fx.n <= 8);
    for (size_t i = 0; i < fx.n; i++)
        load_case(&fx.c[i], json_array_get(cases, i));
    json_decref(root);
}

static void fx_free(void)
{
    for (size_t i = 0; i < fx.n; i++) {
        model_def_free(&fx.c[i].def);
        free(fx.c[i].y0);
        free(fx.c[i].y);
    }
    free(fx.t);
    memset(&fx, 0, sizeof fx);
}

static struct ode_model_query fx_query(const struct fx_case *c, const char *method,
                                       ode_batch_mode mode, bool aug)
{
    struct ode_model_query q = {.t0 = fx.t0,
                                .batch = c->batch,
                                .y0 = c->y0,
                                .t = fx.t,
                                .n_t = fx.n_t,
                                .mode = mode,
                                .report_augmented = aug};
    snprintf(q.solver.method, sizeof q.solver.method, "%s", method);
    q.solver.rtol = 1e-8;
    q.solver.atol = 1e-10;
    return q;
}

/* y (batch x n_t x od) against the reference; returns the worst ratio
 * |y - ref| / bound. */
static double fx_check(const struct fx_case *c, const double *y, size_t od, const char *what)
{
    double worst = 0;
    for (size_t b = 0; b < c->batch; b++)
        for (size_t i = 0; i < c->n_t; i++) {
            const double *ref = c->y + (b * c->n_t + i) * c->full_dim;
            double ymax = 0;
            for (size_t k = 0; k < c->full_dim; k++)
                ymax = fmax(ymax, fabs(ref[k]));
            double tol = err_bound(1e-8, 1e-10, ymax, c->ref_err);
            for (size_t k = 0; k < od; k++) {
                double got = y[(b * c->n_t + i) * od + k], d = fabs(got - ref[k]);
                ck_assert_msg(d <= tol, "%s %s: y0[%zu] t=%g [%zu]: %.17g vs %.17g (tol %g)",
                              c->name, what, b, fx.t[i], k, got, ref[k], tol);
                worst = fmax(worst, d / tol);
            }
        }
    return worst;
}

START_TEST(fixture_modes_methods)
{
    fx_load();
    static const char *const methods[] = {"dopri5", "tsit5", "dop853"};
    static const char *const mode_names[] = {"auto", "shared", "per_trajectory"};
    for (size_t ci = 0; ci < fx.n; ci++) {
        struct fx_case *c = &fx.c[ci];
        ode_model *m = new_model(&c->def);
        ck_assert_uint_eq(ode_model_state_dim(m), c->def.state_dim);
        ck_assert_uint_eq(ode_model_augment_dim(m), c->def.augment_dim);
        ck_assert_uint_eq(ode_model_output_dim(m, false), c->def.state_dim);
        ck_assert_uint_eq(ode_model_output_dim(m, true), c->full_dim);
        double *y = malloc(c->batch * c->n_t * c->full_dim * sizeof *y);
        ck_assert_ptr_nonnull(y);
        for (size_t mi = 0; mi < 3; mi++)
            for (int mode = ODE_BATCH_AUTO; mode <= ODE_BATCH_PER_TRAJECTORY; mode++)
                for (int aug = 0; aug < 2; aug++) {
                    struct ode_model_query q = fx_query(c, methods[mi], mode, aug);
                    err e;
                    err_clear(&e);
                    ck_assert_msg(ode_model_solve(m, &q, y, NULL, &e) == ERR_OK, "%s: %s", c->name,
                                  e.message);
                    char what[64];
                    snprintf(what, sizeof what, "%s %s%s", methods[mi], mode_names[mode],
                             aug ? " augmented" : "");
                    fx_check(c, y, ode_model_output_dim(m, aug), what);
                }
        free(y);
        ode_model_free(m);
    }
    fx_free();
}
END_TEST

/* Shared-step and per-trajectory results agree with each other (each is
 * within the bound of the reference, so within twice the bound of the
 * other), and a batch of one is the same computation in both modes. */
START_TEST(fixture_batch_equals_single)
{
    fx_load();
    for (size_t ci = 0; ci < fx.n; ci++) {
        struct fx_case *c = &fx.c[ci];
        ode_model *m = new_model(&c->def);
        const size_t n = c->batch * c->n_t * c->full_dim, per = c->n_t * c->full_dim;
        double *ys = malloc(n * sizeof *ys), *yp = malloc(n * sizeof *yp);
        double *y1 = malloc(per * sizeof *y1);
        ck_assert(ys && yp && y1);
        struct ode_model_query q = fx_query(c, "dopri5", ODE_BATCH_SHARED, true);
        struct ode_model_stats ss, sp, s1;
        ck_assert_int_eq(ode_model_solve(m, &q, ys, &ss, NULL), ERR_OK);
        q.mode = ODE_BATCH_PER_TRAJECTORY;
        ck_assert_int_eq(ode_model_solve(m, &q, yp, &sp, NULL), ERR_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(ys[i] - yp[i]) <= 2 * err_bound(1e-8, 1e-10, fabs(yp[i]), 0) + 1e-8,
                          "%s: shared %.17g vs per-trajectory %.17g at %zu", c->name, ys[i], yp[i],
                          i);
        /* per-trajectory statistics are the sums of single solves */
        long nfe = 0, steps = 0, rej = 0;
        for (size_t b = 0; b < c->batch; b++) {
            struct ode_model_query one = q;
            one.batch = 1;
            one.y0 = c->y0 + b * c->def.state_dim;
            for (int mode = ODE_BATCH_SHARED; mode <= ODE_BATCH_PER_TRAJECTORY; mode++) {
                one.mode = (ode_batch_mode)mode;
                ck_assert_int_eq(ode_model_solve(m, &one, y1, &s1, NULL), ERR_OK);
                ck_assert_mem_eq(y1, yp + b * per, per * sizeof *y1); /* bit for bit */
            }
            nfe += s1.nfe, steps += s1.steps, rej += s1.rejected;
        }
        ck_assert_int_eq(sp.nfe, nfe);
        ck_assert_int_eq(sp.steps, steps);
        ck_assert_int_eq(sp.rejected, rej);
        /* the shared batch takes the steps of its hardest member, or more */
        ck_assert_int_le(ss.steps, steps);
        ck_assert(isnan(ss.t_fail) && isnan(sp.t_fail));
        free(ys);
        free(yp);
        free(y1);
        ode_model_free(m);
    }
    fx_free();
}
END_TEST

/* The augmented components start at zero and evolve; outputs without
 * report_augmented are the leading state_dim values of the full ones. */
START_TEST(augmented_outputs)
{
    fx_load();
    for (size_t ci = 0; ci < fx.n; ci++) {
        struct fx_case *c = &fx.c[ci];
        if (c->def.augment_dim == 0) continue;
        ode_model *m = new_model(&c->def);
        const size_t sd = c->def.state_dim, fd = c->full_dim;
        double *yf = malloc(c->batch * c->n_t * fd * sizeof *yf);
        double *yr = malloc(c->batch * c->n_t * sd * sizeof *yr);
        ck_assert(yf && yr);
        for (int mode = ODE_BATCH_SHARED; mode <= ODE_BATCH_PER_TRAJECTORY; mode++) {
            struct ode_model_query q = fx_query(c, "dopri5", mode, true);
            ck_assert_int_eq(ode_model_solve(m, &q, yf, NULL, NULL), ERR_OK);
            q.report_augmented = false;
            ck_assert_int_eq(ode_model_solve(m, &q, yr, NULL, NULL), ERR_OK);
            bool moved = false;
            for (size_t r = 0; r < c->batch * c->n_t; r++) {
                ck_assert_mem_eq(yr + r * sd, yf + r * fd, sd * sizeof *yr);
                for (size_t k = sd; k < fd; k++) {
                    if (fx.t[r % c->n_t] == fx.t0) ck_assert(yf[r * fd + k] == 0);
                    if (fabs(yf[r * fd + k]) > 1e-3) moved = true;
                }
            }
            ck_assert_msg(moved, "%s: the augmented components never moved", c->name);
        }
        free(yf);
        free(yr);
        ode_model_free(m);
    }
    fx_free();
}
END_TEST

/* One model, solved from several threads at once (shared-step and
 * per-trajectory in turn): every result equals the single-threaded one bit
 * for bit, so a solve keeps no state in the model. */
struct thread_job {
    const ode_model *m;
    const struct fx_case *c;
    const double *want[2]; /* shared, per-trajectory */
    size_t n;
    int mismatches;
};

static void *solve_repeatedly(void *arg)
{
    struct thread_job *j = arg;
    double *y = malloc(j->n * sizeof *y);
    if (!y) return NULL;
    for (int r = 0; r < 8; r++)
        for (int k = 0; k < 2; k++) {
            struct ode_model_query q =
                fx_query(j->c, "dopri5", k ? ODE_BATCH_PER_TRAJECTORY : ODE_BATCH_SHARED, true);
            if (ode_model_solve(j->m, &q, y, NULL, NULL) ||
                memcmp(y, j->want[k], j->n * sizeof *y) != 0)
                j->mismatches++;
        }
    free(y);
    return NULL;
}

START_TEST(concurrent_solves)
{
    fx_load();
    struct fx_case *c = &fx.c[0];
    ode_model *m = new_model(&c->def);
    const size_t n = c->batch * c->n_t * c->full_dim;
    double *want = malloc(2 * n * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (int k = 0; k < 2; k++) {
        struct ode_model_query q =
            fx_query(c, "dopri5", k ? ODE_BATCH_PER_TRAJECTORY : ODE_BATCH_SHARED, true);
        ck_assert_int_eq(ode_model_solve(m, &q, want + k * n, NULL, NULL), ERR_OK);
    }
    enum { N_THREADS = 4 };
    pthread_t th[N_THREADS];
    struct thread_job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (struct thread_job){.m = m, .c = c, .want = {want, want + n}, .n = n};
        ck_assert_int_eq(pthread_create(&th[i], NULL, solve_repeatedly, &jobs[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(jobs[i].mismatches, 0);
    }
    free(want);
    ode_model_free(m);
    fx_free();
}
END_TEST

/* ---- settings ------------------------------------------------------------ */

/* The model's defaults apply unless the query overrides them. */
START_TEST(solver_defaults_merge)
{
    model_def d;
    def_linear(&d, false);
    snprintf(d.solver.method, sizeof d.solver.method, "tsit5");
    d.solver.rtol = 1e-7;
    d.solver.atol = 1e-9;
    ode_model *m = new_model(&d);
    double y[N_LTIMES * 2];
    struct ode_model_stats s_def, s_tsit, s_dopri, s_tight;
    struct ode_model_query q = linear_query(LY0[0], 1, "", 0, 0);
    ck_assert_int_eq(ode_model_solve(m, &q, y, &s_def, NULL), ERR_OK);
    q = linear_query(LY0[0], 1, "tsit5", 1e-7, 1e-9);
    ck_assert_int_eq(ode_model_solve(m, &q, y, &s_tsit, NULL), ERR_OK);
    ck_assert_int_eq(s_def.nfe, s_tsit.nfe);
    ck_assert_int_eq(s_def.steps, s_tsit.steps);
    q = linear_query(LY0[0], 1, "dopri5", 0, 0); /* method overridden, tolerances kept */
    ck_assert_int_eq(ode_model_solve(m, &q, y, &s_dopri, NULL), ERR_OK);
    q = linear_query(LY0[0], 1, "", 1e-10, 0); /* rtol overridden */
    ck_assert_int_eq(ode_model_solve(m, &q, y, &s_tight, NULL), ERR_OK);
    ck_assert_int_ne(s_dopri.nfe, s_def.nfe);
    ck_assert_int_gt(s_tight.steps, s_def.steps);
    /* a model-level step is ignored by adaptive methods, used by rk4 */
    q = linear_query(LY0[0], 1, "", 0, 0);
    q.solver.step = 0.5;
    ck_assert_int_eq(ode_model_solve(m, &q, y, &s_tight, NULL), ERR_OK);
    ck_assert_int_eq(s_tight.nfe, s_def.nfe);
    snprintf(q.solver.method, sizeof q.solver.method, "rk4");
    ck_assert_int_eq(ode_model_solve(m, &q, y, &s_tight, NULL), ERR_OK);
    /* forward 0.3 -> 5 and backward 0.3 -> -2.5 in steps of 0.5 */
    ck_assert_int_eq(s_tight.steps, 10 + 6);
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

START_TEST(fixed_step_default)
{
    model_def d;
    def_linear(&d, false);
    ode_model *m = new_model(&d);
    double y[N_LTIMES * 2];
    struct ode_model_stats st;
    static const char *const methods[] = {"euler", "midpoint", "rk4"};
    for (int i = 0; i < 3; i++) {
        struct ode_model_query q = linear_query(LY0[1], 1, methods[i], 0, 0);
        err e;
        err_clear(&e);
        ck_assert_msg(ode_model_solve(m, &q, y, &st, &e) == ERR_OK, "%s", e.message);
        ck_assert_int_eq(st.steps, 2 * 1000); /* 1000 per direction */
        ck_assert_int_eq(st.rejected, 0);
    }
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

static void expect_invalid(const ode_model *m, const struct ode_model_query *q, double *y,
                           const char *field)
{
    err e;
    err_clear(&e);
    struct ode_model_stats st = {.nfe = -1};
    err_code rc = ode_model_solve(m, q, y, &st, &e);
    ck_assert_msg(rc == ERR_INVALID, "want invalid %s, got %d (%s)", field, rc, e.message);
    ck_assert_str_eq(e.field, field);
    ck_assert(e.message[0] != '\0');
    ck_assert_int_eq(st.nfe, 0);
}

START_TEST(invalid_queries)
{
    model_def d;
    def_linear(&d, false);
    d.solver.max_step = 1.0; /* a model default a query can clash with */
    ode_model *m = new_model(&d);
    double y[3 * N_LTIMES * 2], y0[6], t[N_LTIMES];
    memcpy(y0, LY0, sizeof y0);
    memcpy(t, LTIMES, sizeof t);
    struct ode_model_query q = linear_query(y0, 1, "dopri5", 1e-6, 1e-9);
    q.t = t;
    struct ode_model_query b;

    b = q, b.batch = 0;
    expect_invalid(m, &b, y, "y0");
    b = q, b.y0 = NULL;
    expect_invalid(m, &b, y, "y0");
    b = q, b.n_t = 0;
    expect_invalid(m, &b, y, "t");
    b = q, b.t = NULL;
    expect_invalid(m, &b, y, "t");
    b = q, b.t0 = INFINITY;
    expect_invalid(m, &b, y, "t0");
    b = q, b.mode = (ode_batch_mode)7;
    expect_invalid(m, &b, y, "mode");

    y0[1] = NAN; /* one state: "y0[k]" */
    expect_invalid(m, &q, y, "y0[1]");
    b = q, b.batch = 3; /* a batch: "y0[b][k]" */
    expect_invalid(m, &b, y, "y0[0][1]");
    y0[1] = LY0[0][1];
    y0[5] = -INFINITY;
    expect_invalid(m, &b, y, "y0[2][1]");
    ck_assert_int_eq(ode_model_solve(m, &q, y, NULL, NULL), ERR_OK); /* batch 1 reads y0[0] only */
    y0[5] = LY0[2][1];

    t[4] = NAN;
    expect_invalid(m, &q, y, "t[4]");
    t[4] = LTIMES[4];

    b = q, b.solver.rtol = -1;
    expect_invalid(m, &b, y, "solver.rtol");
    b = q, b.solver.atol = NAN;
    expect_invalid(m, &b, y, "solver.atol");
    b = q, b.solver.max_steps = -3;
    expect_invalid(m, &b, y, "solver.max_steps");
    b = q;
    snprintf(b.solver.method, sizeof b.solver.method, "rk9");
    expect_invalid(m, &b, y, "solver.method");
    b = q, b.solver.min_step = 2.0; /* above the model's max_step once merged */
    expect_invalid(m, &b, y, "solver.min_step");
    expect_invalid(m, &q, NULL, "");
    ck_assert_int_eq(ode_model_solve(m, &q, y, NULL, NULL), ERR_OK);
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

START_TEST(invalid_models)
{
    model_def d;
    ode_model *m = (ode_model *)&d;
    err e;

    def_linear(&d, false);
    d.kind = MODEL_KIND_CDE;
    err_clear(&e);
    ck_assert_int_eq(ode_model_new(&m, &d, &e), ERR_INVALID);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(e.field, "kind");
    model_def_free(&d);

    def_linear(&d, false);
    d.nets[0].layers[0].in = 3; /* the state has 2 values */
    err_clear(&e);
    ck_assert_int_eq(ode_model_new(&m, &d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "vector_field.layers[0]");
    model_def_free(&d);

    def_linear(&d, false);
    d.augment_dim = 1; /* the network must then take and give 3 values */
    err_clear(&e);
    ck_assert_int_eq(ode_model_new(&m, &d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "vector_field.layers[0]");
    model_def_free(&d);

    def_linear(&d, false);
    d.params[3] = NAN;
    err_clear(&e);
    ck_assert_int_eq(ode_model_new(&m, &d, &e), ERR_INVALID);
    model_def_free(&d);

    err_clear(&e);
    ck_assert_int_eq(ode_model_new(&m, NULL, &e), ERR_INVALID);
    ode_model_free(NULL);
}
END_TEST

/* A solver failure fails the whole query: ERR_SOLVER with the time reached,
 * the field naming the trajectory in per-trajectory mode. */
START_TEST(solver_failure)
{
    model_def d;
    def_linear(&d, false);
    ode_model *m = new_model(&d);
    /* trajectory 0 sits on the equilibrium (f = 0: few steps), 1 and 2 do not */
    double eq[2], Wi[4], y0[6];
    mat2_inv(LW, Wi);
    mat2_vec(Wi, LB, eq);
    y0[0] = -eq[0], y0[1] = -eq[1];
    memcpy(y0 + 2, LY0[1], 4 * sizeof *y0);
    double y[3 * N_LTIMES * 2];
    struct ode_model_query q = linear_query(y0, 3, "dopri5", 1e-8, 1e-10);
    q.solver.max_steps = 30;
    q.mode = ODE_BATCH_PER_TRAJECTORY;
    err e;
    err_clear(&e);
    struct ode_model_stats st;
    ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_SOLVER);
    ck_assert_str_eq(e.field, "y0[1]");
    ck_assert_msg(strstr(e.message, "max_steps (30) reached at t=") != NULL, "%s", e.message);
    ck_assert(isfinite(st.t_fail));
    ck_assert_double_ge(st.t_fail, -2.5);
    ck_assert_double_le(st.t_fail, 5.0);
    char want[64];
    snprintf(want, sizeof want, "at t=%.15g", st.t_fail);
    ck_assert_msg(strstr(e.message, want) != NULL, "%s vs t_fail %g", e.message, st.t_fail);
    ck_assert_int_gt(st.nfe, 0);

    q.mode = ODE_BATCH_SHARED; /* the batch is one system: the field names y0 */
    err_clear(&e);
    ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_SOLVER);
    ck_assert_str_eq(e.field, "y0");
    ck_assert_msg(strstr(e.message, "max_steps (30) reached at t=") != NULL, "%s", e.message);
    ck_assert(isfinite(st.t_fail));

    q.batch = 1, q.y0 = y0 + 2, q.mode = ODE_BATCH_PER_TRAJECTORY;
    err_clear(&e);
    ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_SOLVER);
    ck_assert_str_eq(e.field, "y0");
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

/* A vector field that overflows: the solver gives up with the time. */
START_TEST(non_finite_state)
{
    model_def d;
    def_ode(&d, 1, 0, false);
    def_add_linear(&d, 1, 1, ACT_CUBE); /* y' = y^3 blows up at t = 1/(2 y0^2) */
    d.params[0] = 1;
    ode_model *m = new_model(&d);
    const double y0 = 1, t = 2;
    double y;
    struct ode_model_query q = {.batch = 1, .y0 = &y0, .t = &t, .n_t = 1};
    err e;
    err_clear(&e);
    struct ode_model_stats st;
    ck_assert_int_eq(ode_model_solve(m, &q, &y, &st, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "at t=") != NULL, "%s", e.message);
    ck_assert_double_le(st.t_fail, 0.5);
    ck_assert_double_gt(st.t_fail, 0.4);
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

struct abort_ctx {
    int polls, limit;
};

static int abort_after(void *ctx)
{
    struct abort_ctx *a = ctx;
    return ++a->polls > a->limit ? ERR_DEADLINE : 0;
}

START_TEST(abort_hook)
{
    model_def d;
    def_linear(&d, false);
    ode_model *m = new_model(&d);
    double y[3 * N_LTIMES * 2];
    for (int mode = ODE_BATCH_SHARED; mode <= ODE_BATCH_PER_TRAJECTORY; mode++) {
        struct abort_ctx a = {0, 12};
        struct ode_model_query q = linear_query(&LY0[0][0], 3, "dopri5", 1e-8, 1e-10);
        q.mode = (ode_batch_mode)mode;
        q.abort = abort_after;
        q.abort_ctx = &a;
        err e;
        err_clear(&e);
        struct ode_model_stats st;
        ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_DEADLINE);
        ck_assert_msg(strstr(e.message, "deadline exceeded at t=") != NULL, "%s", e.message);
        ck_assert_str_eq(e.field, "");
        ck_assert_int_eq(a.polls, a.limit + 1); /* stopped at the first refusal */
        ck_assert(isfinite(st.t_fail));
        /* a hook that never fires changes nothing */
        a.limit = 1 << 30;
        ck_assert_int_eq(ode_model_solve(m, &q, y, NULL, NULL), ERR_OK);
        ck_assert_int_gt(a.polls, 13);
    }
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

/* ---- ODE_BATCH_AUTO's choice (ode_batch_pick) ---- */

START_TEST(batch_pick_rule)
{
    /* shared-step iff r x cost_row < cost_single */
    ck_assert_int_eq(ode_batch_pick(256, 1.0, 0.3, 2.0), ODE_BATCH_SHARED);
    ck_assert_int_eq(ode_batch_pick(256, 1.0, 0.6, 2.0), ODE_BATCH_PER_TRAJECTORY);
    ck_assert_int_eq(ode_batch_pick(16, 1.0, 0.9, 1.0), ODE_BATCH_SHARED);
    ck_assert_int_eq(ode_batch_pick(16, 1.0, 1.0, 1.0), ODE_BATCH_PER_TRAJECTORY);
    /* small batches, and missing figures, stay per trajectory */
    ck_assert_int_eq(ode_batch_pick(15, 1.0, 0.01, 1.0), ODE_BATCH_PER_TRAJECTORY);
    ck_assert_int_eq(ode_batch_pick(256, 0, 0.3, 2.0), ODE_BATCH_PER_TRAJECTORY);
    ck_assert_int_eq(ode_batch_pick(256, 1.0, 0, 2.0), ODE_BATCH_PER_TRAJECTORY);
    ck_assert_int_eq(ode_batch_pick(256, 1.0, 0.3, 0), ODE_BATCH_PER_TRAJECTORY);
    ck_assert_int_eq(ode_batch_pick(256, NAN, 0.3, 2.0), ODE_BATCH_PER_TRAJECTORY);
    ck_assert_int_eq(ode_batch_pick(256, 1.0, 0.3, NAN), ODE_BATCH_PER_TRAJECTORY);
}
END_TEST

/* A 2 -> 16 -> 2 tanh field with fixed pseudo-random weights. */
static void def_tanh_mlp(model_def *d)
{
    def_ode(d, 2, 0, false);
    def_add_linear(d, 2, 16, ACT_TANH);
    def_add_linear(d, 16, 2, ACT_IDENTITY);
    for (size_t i = 0; i < d->n_params; i++)
        d->params[i] = 0.8 * sin(1.7 * (double)i + 0.3);
}

/* AUTO's answer is bit for bit the answer of the mode stats.mode names,
 * with the same statistics. */
static void check_auto_is_mode(const ode_model *m, struct ode_model_query q, size_t od,
                               ode_batch_mode *used)
{
    const size_t n = q.batch * q.n_t * od;
    double *ya = malloc(2 * n * sizeof *ya), *ym = ya + n;
    ck_assert_ptr_nonnull(ya);
    struct ode_model_stats sa, sm;
    err e;
    err_clear(&e);
    q.mode = ODE_BATCH_AUTO;
    ck_assert_msg(ode_model_solve(m, &q, ya, &sa, &e) == ERR_OK, "%s", e.message);
    ck_assert(sa.mode == ODE_BATCH_SHARED || sa.mode == ODE_BATCH_PER_TRAJECTORY);
    if (q.batch < 16) ck_assert_int_eq(sa.mode, ODE_BATCH_PER_TRAJECTORY);
    q.mode = sa.mode;
    ck_assert_msg(ode_model_solve(m, &q, ym, &sm, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(sm.mode, sa.mode);
    ck_assert_int_eq(sa.nfe, sm.nfe);
    ck_assert_int_eq(sa.steps, sm.steps);
    ck_assert_int_eq(sa.rejected, sm.rejected);
    ck_assert_mem_eq(ya, ym, n * sizeof *ya);
    free(ya);
    *used = sa.mode;
}

START_TEST(auto_batch_sizes)
{
    static const size_t sizes[] = {1, 2, 17, 256};
    model_def d;
    def_tanh_mlp(&d);
    double *y0 = malloc(256 * 2 * sizeof *y0);
    ck_assert_ptr_nonnull(y0);
    for (size_t i = 0; i < 256 * 2; i++)
        y0[i] = 2.0 * sin(0.37 * (double)i * (double)i + 1.0);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        ode_model *m = new_model(&d);
        struct ode_model_query q = linear_query(y0, sizes[si], "dopri5", 1e-6, 1e-8);
        /* a fresh model knows no evaluation ratio: its first batch goes per
         * trajectory, and teaches it one; later ones follow the cost model,
         * exploring per trajectory now and then */
        for (int round = 0; round < 12; round++) {
            ode_batch_mode used;
            check_auto_is_mode(m, q, 2, &used);
            if (round == 0) ck_assert_int_eq(used, ODE_BATCH_PER_TRAJECTORY);
        }
        ode_model_free(m);
    }
    free(y0);
    model_def_free(&d);
}
END_TEST

/* y0: `batch` states at the linear field's equilibrium (f = 0: a few large
 * steps each) but for trajectory `hard`. */
static void mixed_y0(double *y0, size_t batch, size_t hard)
{
    double eq[2], Wi[4];
    mat2_inv(LW, Wi);
    mat2_vec(Wi, LB, eq);
    for (size_t b = 0; b < batch; b++)
        y0[2 * b] = -eq[0], y0[2 * b + 1] = -eq[1];
    y0[2 * hard] = LY0[1][0], y0[2 * hard + 1] = LY0[1][1];
}

START_TEST(auto_mixed_batch)
{
    model_def d;
    def_linear(&d, false);
    ode_model *m = new_model(&d);
    double y0[2 * 17];
    mixed_y0(y0, 17, 9);
    struct ode_model_query q = linear_query(y0, 17, "dopri5", 1e-8, 1e-10);
    /* the hard trajectory takes many more steps than the others alone */
    struct ode_model_stats st;
    double y[17 * N_LTIMES * 2];
    q.mode = ODE_BATCH_PER_TRAJECTORY;
    ck_assert_int_eq(ode_model_solve(m, &q, y, &st, NULL), ERR_OK);
    struct ode_model_query one = q;
    one.batch = 1, one.y0 = y0 + 18;
    struct ode_model_stats s1;
    double y1[N_LTIMES * 2];
    ck_assert_int_eq(ode_model_solve(m, &one, y1, &s1, NULL), ERR_OK);
    ck_assert_int_gt(s1.nfe, 4 * (st.nfe - s1.nfe) / 16);
    ck_assert_mem_eq(y + 9 * N_LTIMES * 2, y1, sizeof y1); /* a lane as it is alone */
    for (int round = 0; round < 10; round++) {
        ode_batch_mode used;
        check_auto_is_mode(m, q, 2, &used);
    }
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

START_TEST(auto_failure_and_abort)
{
    model_def d;
    def_linear(&d, false);
    ode_model *m = new_model(&d);
    double y0[2 * 17], y[17 * N_LTIMES * 2];
    mixed_y0(y0, 17, 5);
    struct ode_model_query q = linear_query(y0, 17, "dopri5", 1e-8, 1e-10);
    q.solver.max_steps = 30;
    err e;
    err_clear(&e);
    struct ode_model_stats st;
    /* a fresh model: per trajectory, and the failing lane is named */
    ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_SOLVER);
    ck_assert_int_eq(st.mode, ODE_BATCH_PER_TRAJECTORY);
    ck_assert_str_eq(e.field, "y0[5]");
    ck_assert_msg(strstr(e.message, "max_steps (30) reached at t=") != NULL, "%s", e.message);
    ck_assert(isfinite(st.t_fail));
    /* whatever AUTO picks later, the failure is reported in that mode's words */
    for (int round = 0; round < 4; round++) {
        q.solver.max_steps = 0;
        ck_assert_int_eq(ode_model_solve(m, &q, y, &st, NULL), ERR_OK); /* learns */
        q.solver.max_steps = 30;
        err_clear(&e);
        ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_SOLVER);
        ck_assert_str_eq(e.field, st.mode == ODE_BATCH_SHARED ? "y0" : "y0[5]");
    }
    /* the abort hook stops an AUTO batch at its first refusal */
    q.solver.max_steps = 0;
    for (int round = 0; round < 4; round++) {
        struct abort_ctx a = {0, 12};
        q.abort = abort_after;
        q.abort_ctx = &a;
        err_clear(&e);
        ck_assert_int_eq(ode_model_solve(m, &q, y, &st, &e), ERR_DEADLINE);
        ck_assert_str_eq(e.field, "");
        ck_assert_int_eq(a.polls, a.limit + 1);
        ck_assert(isfinite(st.t_fail));
    }
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

/* ---- the inline decision's cost guess (solve_cost.h) ---- */

START_TEST(solve_cost_units_scale)
{
    model_solver dflt = {0}, tight = {.rtol = 1e-12}, ref = {.rtol = 1e-6};
    model_solver rk4 = {.method = "rk4", .step = 0.01}, rk4fine = {.method = "rk4", .step = 0.001};
    /* one unit of setup per trajectory, even with nothing to integrate */
    ck_assert_double_eq(solve_cost_units(1, 0, &ref), 1.0);
    ck_assert_double_eq(solve_cost_units(3, 0, &dflt), 3.0);
    /* at the reference tolerance a unit of time is a unit of work */
    ck_assert_double_eq_tol(solve_cost_units(2, 25, &ref), 52.0, 1e-12);
    /* rtol^(-1/5): a million times tighter is 10^(6/5) times the steps */
    ck_assert_double_eq_tol(solve_cost_units(1, 10, &tight), 1 + 10 * pow(10, 1.2), 1e-9);
    ck_assert(solve_cost_units(1, 10, &dflt) < solve_cost_units(1, 10, &ref));
    /* fixed steps: span / step, relative to ~10 adaptive steps per unit time */
    ck_assert_double_eq_tol(solve_cost_units(1, 10, &rk4), 1 + 10 / (0.01 * 10), 1e-9);
    ck_assert(solve_cost_units(1, 10, &rk4fine) > solve_cost_units(1, 10, &rk4));
    /* nonsense spans count as none */
    ck_assert_double_eq(solve_cost_units(1, NAN, &ref), 1.0);
    ck_assert_double_eq(solve_cost_units(1, -1, &ref), 1.0);
}
END_TEST

START_TEST(solve_cost_learns)
{
    solve_cost c;
    solve_cost_init(&c);
    ck_assert_double_eq(solve_cost_predict(&c, 100), 0); /* nothing learned: try inline */
    solve_cost_observe(&c, 10, 1e-3);                    /* 1e-4 s per unit */
    ck_assert_double_eq_tol(solve_cost_predict(&c, 20), 2e-3, 1e-15);
    /* a mean: one slower solve moves the guess a quarter of the way */
    solve_cost_observe(&c, 10, 5e-3);
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10), 2e-3, 1e-15);
    /* a stopped solve raises the guess to its bound at once... */
    solve_cost_at_least(&c, 10, 0.05);
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10), 0.05, 1e-15);
    /* ...and never lowers it */
    solve_cost_at_least(&c, 10, 1e-6);
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10), 0.05, 1e-15);
    /* fast solves bring it back down, step by step */
    for (int i = 0; i < 40; i++)
        solve_cost_observe(&c, 10, 1e-3);
    ck_assert(solve_cost_predict(&c, 10) < 1.01e-3);
    solve_cost_observe(&c, 0, 1.0); /* ignored */
    solve_cost_observe(&c, 10, NAN);
    ck_assert(solve_cost_predict(&c, 10) < 1.01e-3);
}
END_TEST

/* Wall-clock observations follow the low end: a solve faster than the
 * guess moves it as the mean does, a slower one (a preempted thread) by
 * SOLVE_COST_UP_WEIGHT and at most SOLVE_COST_OUTLIER times the guess. */
START_TEST(solve_cost_wall_outliers_bounded)
{
    solve_cost c;
    solve_cost_init(&c);
    solve_cost_observe_wall(&c, 10, 2e-3); /* nothing learned: taken whole */
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10), 2e-3, 1e-15);
    /* faster: exactly solve_cost_observe, a quarter of the way */
    solve_cost_observe_wall(&c, 10, 1e-3);
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10), 1.75e-3, 1e-15);
    /* slower, within the bound: an eighth of the way */
    solve_cost_observe_wall(&c, 10, 2.75e-3);
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10), 1.875e-3, 1e-15);
    /* a hundred times the guess counts as SOLVE_COST_OUTLIER times it */
    solve_cost_observe_wall(&c, 10, 0.1875);
    ck_assert_double_eq_tol(solve_cost_predict(&c, 10),
                            1.875e-3 * (1 + SOLVE_COST_UP_WEIGHT * (SOLVE_COST_OUTLIER - 1)),
                            1e-15);
    /* one solve in five preempted for a time slice: the guess stays near the
     * fast solves' cost (a mean would sit at 20 times it) */
    for (int i = 0; i < 200; i++)
        solve_cost_observe_wall(&c, 10, i % 5 == 0 ? 0.1 : 1e-3);
    ck_assert(solve_cost_predict(&c, 10) < 1.5e-3);
    /* a model that really got slower is followed, if more slowly */
    for (int i = 0; i < 60; i++)
        solve_cost_observe_wall(&c, 10, 0.02);
    ck_assert(solve_cost_predict(&c, 10) > 0.9 * 0.02);
    solve_cost_observe_wall(&c, 0, 1.0); /* ignored */
    solve_cost_observe_wall(&c, 10, NAN);
    ck_assert(solve_cost_predict(&c, 10) > 0.9 * 0.02 && solve_cost_predict(&c, 10) <= 0.02);
}
END_TEST

/* The implicit methods through the model: the Jacobian is the mlp's own
 * (mlp_jacobian, with df/dt for a time input), both batch modes run per
 * trajectory; against the closed form and the SciPy fixture. */
START_TEST(implicit_methods)
{
    static const char *const methods[] = {"rodas4", "esdirk4"};
    for (int ti = 0; ti < 2; ti++)
        for (size_t i = 0; i < 2; i++)
            check_linear(ti, methods[i], 1e-9, 1e-12, 0, 0);
    fx_load();
    for (size_t ci = 0; ci < fx.n; ci++) {
        struct fx_case *c = &fx.c[ci];
        ode_model *m = new_model(&c->def);
        double *y = malloc(c->batch * c->n_t * c->full_dim * sizeof *y);
        ck_assert_ptr_nonnull(y);
        for (size_t mi = 0; mi < 2; mi++) {
            struct ode_model_query q = fx_query(c, methods[mi], ODE_BATCH_AUTO, 1);
            err e;
            err_clear(&e);
            ck_assert_msg(ode_model_solve(m, &q, y, NULL, &e) == ERR_OK, "%s: %s", c->name,
                          e.message);
            fx_check(c, y, ode_model_output_dim(m, true), methods[mi]);
        }
        free(y);
        ode_model_free(m);
    }
    fx_free();
}
END_TEST

/* A stiff MLP (stiffness ratio ~1e5; tests/fixtures/stiff_reference.json,
 * gen_reference.py --stiff) against SciPy Radau at rtol 1e-12: both
 * implicit methods and auto within the usual bound, in far fewer steps than
 * dopri5. */
/* The stiff MLP of tests/fixtures/stiff_reference.json: its model into d,
 * y0, the output times and SciPy Radau's answer there (at most 8 times). */
struct stiff_fixture {
    json_t *root;
    double y0[3], t[8], ref[8 * 3], ref_err;
    size_t n_t;
};

static void stiff_fixture_load(struct stiff_fixture *f, model_def *d)
{
    char path[1024];
    tu_source_path(path, sizeof path, "tests/fixtures/stiff_reference.json");
    json_error_t je;
    f->root = json_load_file(path, 0, &je);
    ck_assert_msg(f->root != NULL, "cannot load %s: %s (set top_srcdir)", path, je.text);
    json_t *pj = NULL, *it;
    size_t k;
    json_array_foreach(json_object_get(f->root, "problems"), k, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "name")), "stiff_mlp") == 0) pj = it;
    }
    ck_assert_ptr_nonnull(pj);
    def_ode(d, 3, 0, false);
    size_t width = 3;
    json_t *layers = json_object_get(pj, "layers");
    for (size_t l = 0; l < json_array_size(layers); l++)
        load_layer(d, json_array_get(layers, l), &width);
    for (size_t i = 0; i < 3; i++)
        f->y0[i] = json_real_value(json_array_get(json_object_get(pj, "y0"), i));
    f->n_t = json_array_size(json_object_get(pj, "t"));
    ck_assert_uint_le(f->n_t, 8);
    for (size_t i = 0; i < f->n_t; i++) {
        f->t[i] = json_real_value(json_array_get(json_object_get(pj, "t"), i));
        for (size_t c = 0; c < 3; c++)
            f->ref[i * 3 + c] =
                json_real_value(json_array_get(json_array_get(json_object_get(pj, "y"), i), c));
    }
    f->ref_err = json_real_value(json_object_get(pj, "ref_err_est"));
}

START_TEST(stiff_mlp)
{
    struct stiff_fixture sf;
    model_def d;
    stiff_fixture_load(&sf, &d);
    json_t *root = sf.root;
    ode_model *m = new_model(&d);
    double y0[3], t[8], ref[8 * 3], y[8 * 3];
    memcpy(y0, sf.y0, sizeof y0);
    memcpy(t, sf.t, sizeof t);
    memcpy(ref, sf.ref, sizeof ref);
    const size_t n_t = sf.n_t;
    const double ref_err = sf.ref_err;
    /* auto through the model: its stats reach ode_model_stats */
    static const char *const methods[] = {"rodas4", "esdirk4", "dopri5", "auto"};
    long steps[4];
    for (int mi = 0; mi < 4; mi++) {
        struct ode_model_query q = {.t0 = 0, .batch = 1, .y0 = y0, .t = t, .n_t = n_t};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", methods[mi]);
        q.solver.rtol = 1e-8;
        q.solver.atol = 1e-10;
        q.solver.max_steps = 5000000;
        err e;
        err_clear(&e);
        struct ode_model_stats st;
        ck_assert_msg(ode_model_solve(m, &q, y, &st, &e) == ERR_OK, "%s: %s", methods[mi],
                      e.message);
        steps[mi] = st.steps;
        if (mi != 2) ck_assert_int_gt(st.n_jac, 0);
        if (mi == 3) {
            ck_assert_int_gt(st.auto_steps[1], 0);
            ck_assert_int_ge(st.n_switches, 1);
            ck_assert_int_eq(st.auto_steps[0] + st.auto_steps[1], st.steps);
        } else {
            ck_assert_int_eq(st.auto_steps[0] + st.auto_steps[1] + st.n_switches, 0);
        }
        for (size_t i = 0; i < n_t; i++) {
            double ymax = 0;
            for (size_t c = 0; c < 3; c++)
                ymax = fmax(ymax, fabs(ref[i * 3 + c]));
            const double tol = err_bound(1e-8, 1e-10, ymax, ref_err);
            for (size_t c = 0; c < 3; c++)
                ck_assert_msg(fabs(y[i * 3 + c] - ref[i * 3 + c]) <= tol,
                              "%s t=%g [%zu]: %.17g vs %.17g (tol %g)", methods[mi], t[i], c,
                              y[i * 3 + c], ref[i * 3 + c], tol);
        }
    }
    ck_assert_msg(steps[0] * 100 < steps[2] && steps[1] * 100 < steps[2] &&
                      steps[3] * 100 < steps[2],
                  "steps: rodas4 %ld, esdirk4 %ld, dopri5 %ld, auto %ld", steps[0], steps[1],
                  steps[2], steps[3]);
    ode_model_free(m);
    model_def_free(&d);
    json_decref(root);
}
END_TEST

/* Shared-step batches take the implicit methods when asked (ODE_BATCH_SHARED:
 * one system, a block-diagonal Jacobian, auto switching the whole batch):
 * four states around the fixture's, at rtol 1e-8, atol 1e-10. The first
 * is the fixture's and meets SciPy Radau's answer within the usual bound;
 * every one meets its per-trajectory answer within twice that bound (both
 * are within the tolerance of the truth). */
START_TEST(stiff_mlp_shared)
{
    struct stiff_fixture sf;
    model_def d;
    stiff_fixture_load(&sf, &d);
    ode_model *m = new_model(&d);
    enum { NB = 4 };
    double y0[NB * 3], ys[NB * 8 * 3], yp[NB * 8 * 3];
    for (size_t b = 0; b < NB; b++)
        for (size_t c = 0; c < 3; c++)
            y0[b * 3 + c] = sf.y0[c] + (b ? 0.2 * (double)b * (c == b - 1 ? 1 : -0.5) : 0);
    static const char *const methods[] = {"rodas4", "esdirk4", "auto"};
    for (int mi = 0; mi < 3; mi++) {
        struct ode_model_stats st[2];
        for (int pass = 0; pass < 2; pass++) {
            struct ode_model_query q = {.t0 = 0, .batch = NB, .y0 = y0, .t = sf.t, .n_t = sf.n_t,
                                        .mode = pass ? ODE_BATCH_PER_TRAJECTORY
                                                     : ODE_BATCH_SHARED};
            snprintf(q.solver.method, sizeof q.solver.method, "%s", methods[mi]);
            q.solver.rtol = 1e-8;
            q.solver.atol = 1e-10;
            q.solver.max_steps = 100000;
            err e;
            err_clear(&e);
            ck_assert_msg(ode_model_solve(m, &q, pass ? yp : ys, &st[pass], &e) == ERR_OK,
                          "%s: %s", methods[mi], e.message);
            ck_assert_int_eq(st[pass].mode, pass ? ODE_BATCH_PER_TRAJECTORY : ODE_BATCH_SHARED);
            ck_assert_int_gt(st[pass].n_jac, 0);
            ck_assert_int_gt(st[pass].n_lu, 0);
        }
        if (mi == 2) { /* the whole batch went over to rodas4 */
            ck_assert_int_gt(st[0].auto_steps[1], 0);
            ck_assert_int_ge(st[0].n_switches, 1);
            ck_assert_int_eq(st[0].auto_steps[0] + st[0].auto_steps[1], st[0].steps);
        }
        for (size_t b = 0; b < NB; b++)
            for (size_t i = 0; i < sf.n_t; i++) {
                double ymax = 0;
                for (size_t c = 0; c < 3; c++)
                    ymax = fmax(ymax, fabs(sf.ref[i * 3 + c]));
                const double tol = err_bound(1e-8, 1e-10, ymax, sf.ref_err);
                for (size_t c = 0; c < 3; c++) {
                    const size_t at = (b * sf.n_t + i) * 3 + c;
                    if (b == 0)
                        ck_assert_msg(fabs(ys[at] - sf.ref[i * 3 + c]) <= tol,
                                      "%s shared t=%g [%zu]: %.17g vs Radau %.17g", methods[mi],
                                      sf.t[i], c, ys[at], sf.ref[i * 3 + c]);
                    ck_assert_msg(fabs(ys[at] - yp[at]) <= 2 * tol,
                                  "%s state %zu t=%g [%zu]: shared %.17g vs per trajectory %.17g",
                                  methods[mi], b, sf.t[i], c, ys[at], yp[at]);
                }
            }
    }
    ode_model_free(m);
    model_def_free(&d);
    json_decref(sf.root);
}
END_TEST


/* ---- per-trajectory time grids and events ------------------------------ */

/* Three states with grids of different lengths and orders (one empty, one
 * with a duplicate and a time before t0): per trajectory, each trajectory's
 * rows are bit for bit those of solving it alone at its own times; shared
 * step, bit for bit the rows of the shared solve at the union of the times. */
START_TEST(per_trajectory_grids)
{
    model_def d;
    def_tanh_mlp(&d);
    ode_model *m = new_model(&d);
    const double y0[6] = {1.0, -0.5, 0.3, 0.8, -1.2, 0.1};
    const size_t len[3] = {3, 0, 4};
    const double t[7] = {2.0, 0.5, 2.0, /* */ 1.5, -0.7, 3.0, 0.25};
    double y[14], one[8];
    err e;
    err_clear(&e);
    struct ode_model_query q = {.t0 = 0.1, .batch = 3, .y0 = y0, .t = t, .n_t = 7, .t_len = len};
    q.solver.rtol = 1e-8;
    q.solver.atol = 1e-10;
    q.mode = ODE_BATCH_PER_TRAJECTORY;
    ck_assert_msg(ode_model_solve(m, &q, y, NULL, &e) == ERR_OK, "%s", e.message);
    size_t off = 0;
    for (size_t b = 0; b < 3; off += len[b++]) {
        if (!len[b]) continue;
        struct ode_model_query qb = q;
        qb.batch = 1;
        qb.y0 = y0 + 2 * b;
        qb.t = t + off;
        qb.n_t = len[b];
        qb.t_len = NULL;
        ck_assert_msg(ode_model_solve(m, &qb, one, NULL, &e) == ERR_OK, "%s", e.message);
        ck_assert_mem_eq(y + 2 * off, one, 2 * len[b] * sizeof *one);
    }
    /* shared step: the union of the times for every trajectory */
    const double u[6] = {-0.7, 0.25, 0.5, 1.5, 2.0, 3.0};
    double ys[14], yu[36];
    q.mode = ODE_BATCH_SHARED;
    ck_assert_msg(ode_model_solve(m, &q, ys, NULL, &e) == ERR_OK, "%s", e.message);
    struct ode_model_query qu = q;
    qu.t = u;
    qu.n_t = 6;
    qu.t_len = NULL;
    ck_assert_msg(ode_model_solve(m, &qu, yu, NULL, &e) == ERR_OK, "%s", e.message);
    off = 0;
    for (size_t b = 0; b < 3; off += len[b++])
        for (size_t i = 0; i < len[b]; i++) {
            size_t k = 0;
            while (k < 5 && u[k] != t[off + i])
                k++;
            ck_assert_mem_eq(ys + 2 * (off + i), yu + 2 * (b * 6 + k), 2 * sizeof *ys);
        }
    /* the grids must add up to n_t */
    q.n_t = 6;
    ck_assert_int_eq(ode_model_solve(m, &q, ys, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "t");
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

/* Events of a batch: solved per trajectory (whatever the mode asked), each
 * trajectory's events bit for bit those of solving it alone, in ascending
 * time across both sweeps; a terminal event leaves NAN rows and its stop. */
START_TEST(events_per_trajectory)
{
    model_def d;
    def_linear(&d, false);
    ode_model *m = new_model(&d);
    const double y0[4] = {1.0, -0.5, -2.0, 3.0}, w[2] = {1.0, 0.0}, t[3] = {-3.0, 6.0, 2.0};
    const struct ode_event ev[2] = {{.w = w, .value = 0.1},
                                    {.w = w, .value = -0.2, .direction = -1, .terminal = 1}};
    double y[12], y1[6];
    struct ode_model_events out = {0}, alone = {0};
    struct ode_model_stats st;
    err e;
    err_clear(&e);
    struct ode_model_query q = {.t0 = 0.0, .batch = 2, .y0 = y0, .t = t, .n_t = 3,
                                .events = ev, .n_events = 2, .events_out = &out,
                                .mode = ODE_BATCH_SHARED};
    q.solver.rtol = 1e-10;
    q.solver.atol = 1e-12;
    ck_assert_msg(ode_model_solve(m, &q, y, &st, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(st.mode, ODE_BATCH_PER_TRAJECTORY);
    ck_assert_uint_gt(out.n, 0);
    size_t at = 0;
    for (size_t b = 0; b < 2; b++) {
        struct ode_model_query qb = q;
        qb.batch = 1;
        qb.y0 = y0 + 2 * b;
        qb.events_out = &alone;
        ck_assert_msg(ode_model_solve(m, &qb, y1, NULL, &e) == ERR_OK, "%s", e.message);
        for (size_t i = 0; i < 6; i++)
            ck_assert(y1[i] == y[6 * b + i] || (isnan(y1[i]) && isnan(y[6 * b + i])));
        for (size_t k = 0; k < alone.n; k++, at++) {
            ck_assert_uint_eq(out.b[at], b);
            ck_assert_uint_eq(out.which[at], alone.which[k]);
            ck_assert(out.t[at] == alone.t[k]);
            ck_assert_mem_eq(out.y + 2 * at, alone.y + 2 * k, 2 * sizeof *out.y);
            if (k) ck_assert_double_le(alone.t[k - 1], alone.t[k]);
            ck_assert_double_le(fabs(alone.y[2 * k] - ev[alone.which[k]].value), 1e-9);
        }
        ck_assert(out.stop_fwd[b] == alone.stop_fwd[0] ||
                  (isnan(out.stop_fwd[b]) && isnan(alone.stop_fwd[0])));
        /* rows past a forward stop are NAN, the others finite */
        for (size_t i = 0; i < 3; i++) {
            const int past = (!isnan(out.stop_fwd[b]) && t[i] > out.stop_fwd[b]) ||
                             (!isnan(out.stop_bwd[b]) && t[i] < out.stop_bwd[b]);
            ck_assert_int_eq(isnan(y[6 * b + 2 * i]), past);
        }
        ode_model_events_clear(&alone);
    }
    ck_assert_uint_eq(at, out.n);
    /* the linear field oscillates: trajectory 0 crosses -0.2 falling before t = 6 */
    ck_assert(!isnan(out.stop_fwd[0]) && out.stop_fwd[0] < 6.0);
    ode_model_events_clear(&out);
    /* a non-finite weight names its field */
    const double bad[2] = {1.0, NAN};
    const struct ode_event evb = {.w = bad};
    q.events = &evb;
    q.n_events = 1;
    ck_assert_int_eq(ode_model_solve(m, &q, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events[0].state[1]");
    ode_model_free(m);
    model_def_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ode_model");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_test(core, linear_closed_form);
    tcase_add_test(core, fixture_modes_methods);
    tcase_add_test(core, fixture_batch_equals_single);
    tcase_add_test(core, augmented_outputs);
    tcase_add_test(core, concurrent_solves);
    tcase_add_test(core, solver_defaults_merge);
    tcase_add_test(core, fixed_step_default);
    tcase_add_test(core, batch_pick_rule);
    tcase_add_test(core, auto_batch_sizes);
    tcase_add_test(core, auto_mixed_batch);
    tcase_add_test(core, solve_cost_units_scale);
    tcase_add_test(core, solve_cost_learns);
    tcase_add_test(core, solve_cost_wall_outliers_bounded);
    tcase_add_test(core, implicit_methods);
    tcase_add_test(core, stiff_mlp);
    tcase_add_test(core, stiff_mlp_shared);
    tcase_add_test(core, per_trajectory_grids);
    tcase_add_test(core, events_per_trajectory);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_set_timeout(errors, 60);
    tcase_add_test(errors, invalid_queries);
    tcase_add_test(errors, invalid_models);
    tcase_add_test(errors, solver_failure);
    tcase_add_test(errors, non_finite_state);
    tcase_add_test(errors, abort_hook);
    tcase_add_test(errors, auto_failure_and_abort);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
