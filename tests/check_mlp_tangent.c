/* check_mlp_tangent: forward-mode tangents of an MLP and the reverse pass
 * over them (nn/mlp_tangent.h) against central finite differences, for
 * random vector fields with every activation, with and without the time
 * input, given tangents and the unit vectors, batches of several states.
 *
 *   - y and J u against mlp_forward and mlp_jvp (same maths: 1e-12);
 *   - dS/dx and dS/dtheta of S = sum ybar.f + sum vbar.(J u) against
 *     central differences of S with h = 1e-5 (S from the forward pass,
 *     itself checked): error ~ h^2 |S'''| + eps |S| / h ~ 1e-10, so
 *     |analytic - fd| <= 1e-6 max(1, |analytic|) catches any missing
 *     term (a dropped act'' term is O(1)).
 * relu and elu are checked away from their kinks (random points; the
 * probability of landing within h of one is ~1e-5 per unit). */
#include "nn/mlp_tangent.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

static const act_kind acts[] = {ACT_TANH, ACT_SOFTPLUS, ACT_SIGMOID, ACT_SILU, ACT_CUBE,
                                ACT_SQUARE, ACT_SIN, ACT_ELU, ACT_RELU, ACT_IDENTITY};
#define N_ACTS (int)(sizeof acts / sizeof acts[0])

/* (d [+1]) -> 6 (act) -> elementwise act -> 5 (act) -> d (identity) */
static mlp *net(size_t d, int time_input, act_kind act)
{
    const size_t in = d + (time_input ? 1 : 0);
    const mlp_layer L[] = {{MLP_LINEAR, in, 6, act},
                           {MLP_ELEMENTWISE, 0, 0, act},
                           {MLP_LINEAR, 6, 5, act},
                           {MLP_LINEAR, 5, d, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = d, .time_input = time_input, .n_layers = 4, .layers = L};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, &s, &e) == ERR_OK, "%s: %s", e.field, e.message);
    double *p = mlp_params(m);
    const double sc = act == ACT_CUBE || act == ACT_SQUARE ? 0.4 : 0.9;
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = urand(-sc, sc);
    return m;
}

enum { NB = 3, KMAX = 4, DMAX = 4 };

struct probe {
    size_t n, k, d;
    double t;
    const double *u; /* NULL: unit vectors */
    double ybar[NB * DMAX], vbar[NB * KMAX * DMAX];
};

static double objective(const mlp *m, mlp_tangent_ws *w, const struct probe *p, const double *x)
{
    double y[NB * DMAX], yd[NB * KMAX * DMAX];
    mlp_tangent_forward(m, w, p->n, x, p->t, p->k, p->u, y, yd);
    double s = 0;
    for (size_t i = 0; i < p->n * p->d; i++)
        s += p->ybar[i] * y[i];
    for (size_t i = 0; i < p->n * p->k * p->d; i++)
        s += p->vbar[i] * yd[i];
    return s;
}

static void near(double a, double b, double tol, const char *what, size_t i)
{
    ck_assert_msg(fabs(a - b) <= tol * fmax(1.0, fabs(a)), "%s[%zu]: %.17g vs %.17g", what, i, a,
                  b);
}

START_TEST(tangent_fd)
{
    const act_kind act = acts[_i % N_ACTS];
    const int time_input = (_i / N_ACTS) % 2;
    const int unit = _i / (2 * N_ACTS);
    const size_t d = 3, n = NB, k = unit ? d : 2;
    mlp *m = net(d, time_input, act);
    mlp_tangent_ws *w = NULL;
    mlp_ws *ws = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(mlp_tangent_ws_new(&w, m, NB, KMAX, &e), ERR_OK);
    ck_assert_int_eq(mlp_ws_new(&ws, m, 1, &e), ERR_OK);
    double x[NB * DMAX], u[NB * KMAX * DMAX], y[NB * DMAX], yd[NB * KMAX * DMAX];
    for (size_t i = 0; i < n * d; i++)
        x[i] = urand(-1.2, 1.2);
    for (size_t i = 0; i < n * k * d; i++)
        u[i] = urand(-1, 1);
    struct probe p = {.n = n, .k = k, .d = d, .t = 0.37, .u = unit ? NULL : u};
    for (size_t i = 0; i < n * d; i++)
        p.ybar[i] = urand(-1, 1);
    for (size_t i = 0; i < n * k * d; i++)
        p.vbar[i] = urand(-1, 1);
    /* the forward pass against nn/mlp.h */
    mlp_tangent_forward(m, w, n, x, p.t, k, p.u, y, yd);
    for (size_t b = 0; b < n; b++) {
        double yr[DMAX], jr[DMAX], e1[DMAX];
        mlp_forward(m, ws, x + b * d, p.t, yr);
        for (size_t i = 0; i < d; i++)
            near(y[b * d + i], yr[i], 1e-12, "y", b * d + i);
        for (size_t j = 0; j < k; j++) {
            const double *uj = u + (b * k + j) * d;
            if (unit) {
                memset(e1, 0, sizeof e1);
                e1[j] = 1;
                uj = e1;
            }
            mlp_jvp(m, ws, uj, 0.0, jr);
            for (size_t i = 0; i < d; i++)
                near(yd[(b * k + j) * d + i], jr[i], 1e-12, "Ju", (b * k + j) * d + i);
        }
    }
    /* the reverse pass against central differences */
    const size_t np = mlp_n_params(m);
    double *dth = calloc(np, sizeof *dth), dx[NB * DMAX] = {0};
    ck_assert(dth);
    mlp_tangent_forward(m, w, n, x, p.t, k, p.u, NULL, NULL);
    mlp_tangent_vjp(m, w, p.ybar, p.vbar, dx, dth);
    const double h = 1e-5;
    for (size_t i = 0; i < n * d; i++) {
        double xp[NB * DMAX];
        memcpy(xp, x, sizeof xp);
        xp[i] = x[i] + h;
        const double sp = objective(m, w, &p, xp);
        xp[i] = x[i] - h;
        const double sm = objective(m, w, &p, xp);
        near(dx[i], (sp - sm) / (2 * h), 1e-6, "dx", i);
    }
    double *th = mlp_params(m);
    for (size_t i = 0; i < np; i++) {
        const double v = th[i];
        th[i] = v + h;
        const double sp = objective(m, w, &p, x);
        th[i] = v - h;
        const double sm = objective(m, w, &p, x);
        th[i] = v;
        near(dth[i], (sp - sm) / (2 * h), 1e-6, "dtheta", i);
    }
    /* accumulation: a second vjp adds the same again; NULL cotangents add nothing */
    double dx2[NB * DMAX];
    memcpy(dx2, dx, sizeof dx2);
    mlp_tangent_forward(m, w, n, x, p.t, k, p.u, NULL, NULL);
    mlp_tangent_vjp(m, w, NULL, NULL, dx2, NULL);
    for (size_t i = 0; i < n * d; i++)
        ck_assert(dx2[i] == dx[i]);
    mlp_tangent_vjp(m, w, p.ybar, p.vbar, dx2, NULL);
    for (size_t i = 0; i < n * d; i++)
        near(dx2[i], 2 * dx[i], 1e-13, "dx twice", i);
    free(dth);
    mlp_ws_free(ws);
    mlp_tangent_ws_free(w);
    mlp_free(m);
}
END_TEST

/* tr(J) through the unit vectors against the Jacobian nn/mlp.h forms. */
START_TEST(trace_unit)
{
    const size_t d = 4;
    mlp *m = net(d, 1, ACT_TANH);
    mlp_tangent_ws *w = NULL;
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_tangent_ws_new(&w, m, 1, d, NULL), ERR_OK);
    ck_assert_int_eq(mlp_ws_new(&ws, m, 1, NULL), ERR_OK);
    double x[DMAX], yd[DMAX * DMAX], jac[DMAX * DMAX];
    for (size_t i = 0; i < d; i++)
        x[i] = urand(-1, 1);
    mlp_tangent_forward(m, w, 1, x, 0.5, d, NULL, NULL, yd);
    mlp_jacobian(m, ws, x, 0.5, NULL, jac, NULL);
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i < d; i++) /* yd row j = J e_j = column j of J */
            near(yd[j * d + i], jac[i * d + j], 1e-12, "J", j * d + i);
    ck_assert_int_eq(mlp_tangent_ws_new(&(mlp_tangent_ws *){NULL}, m, 0, 1, NULL), ERR_INVALID);
    mlp_ws_free(ws);
    mlp_tangent_ws_free(w);
    mlp_free(m);
}
END_TEST

static Suite *tangent_suite(void)
{
    Suite *s = suite_create("mlp_tangent");
    TCase *t = tcase_create("core");
    tcase_add_loop_test(t, tangent_fd, 0, 4 * N_ACTS);
    tcase_add_test(t, trace_unit);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_suite_run(tangent_suite());
}
