/* check_lag_fit: the lagrangian derivative fit at one pair
 * (model/lag_fit.h): the acceleration satisfies the Euler-Lagrange
 * equations (M a = dL/dq - C v with M, C from nn/mlp_grad.h's Hessian),
 * and the exact gradient of the pair's squared error (lambda = M^-T r,
 * nn/mlp_grad2 and nn/mlp_grad3) matches central differences of the loss
 * in every parameter, for dof 1, 2 and 3 and the smooth activations a
 * Lagrangian network uses. A singular mass matrix is ERR_SOLVER.
 *
 * Tolerance: the loss is analytic in theta; central differences with
 * h = 1e-6 are off by ~1e-9 relative here, we require 1e-5 max(1, |g|):
 * a missing term (the C or M variation, the transposed solve) is O(1). */
#include "model/lag_fit.h"
#include "nn/mlp_grad.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x1234567887654321ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

static const act_kind acts[] = {ACT_SOFTPLUS, ACT_TANH, ACT_SILU, ACT_SIN};
#define N_ACTS (int)(sizeof acts / sizeof acts[0])

/* 2n -> 8 (act) -> 8 (act) -> 1 */
static mlp *net(size_t n, act_kind act)
{
    const mlp_layer L[] = {{MLP_LINEAR, 2 * n, 8, act},
                           {MLP_LINEAR, 8, 8, act},
                           {MLP_LINEAR, 8, 1, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = 2 * n, .n_layers = 3, .layers = L};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
    double *p = mlp_params(m);
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = urand(-0.8, 0.8);
    return m;
}

START_TEST(accel_solves_euler_lagrange)
{
    const size_t n = 1 + (size_t)_i % 3, d = 2 * n;
    mlp *m = net(n, acts[_i % N_ACTS]);
    lag_fit *k = NULL;
    mlp_grad_ws *gw = NULL;
    ck_assert_int_eq(lag_fit_new(&k, m, NULL), ERR_OK);
    ck_assert_int_eq(mlp_grad_ws_new(&gw, m, 1, NULL), ERR_OK);
    double x[6], a[3], g[6], H[36];
    for (size_t i = 0; i < d; i++)
        x[i] = urand(-1, 1);
    err e;
    err_clear(&e);
    ck_assert_int_eq(lag_fit_accel(k, m, x, a, &e), ERR_OK);
    (void)mlp_grad_hessian(m, gw, x, g, H);
    for (size_t i = 0; i < n; i++) {
        double r = g[i], sc = fabs(g[i]);
        for (size_t j = 0; j < n; j++) {
            r -= H[(n + i) * d + j] * x[n + j] + H[(n + i) * d + n + j] * a[j];
            sc += fabs(H[(n + i) * d + n + j] * a[j]);
        }
        ck_assert_msg(fabs(r) <= 1e-12 * fmax(1, sc), "residual[%zu] %g", i, r);
    }
    mlp_grad_ws_free(gw);
    lag_fit_free(k);
    mlp_free(m);
}
END_TEST

START_TEST(gradient_fd)
{
    const size_t n = 1 + (size_t)_i % 3, d = 2 * n;
    mlp *m = net(n, acts[_i % N_ACTS]);
    const size_t np = mlp_n_params(m);
    lag_fit *k = NULL;
    ck_assert_int_eq(lag_fit_new(&k, m, NULL), ERR_OK);
    double x[6], xd[6], sq, sp, sm;
    for (size_t i = 0; i < d; i++) {
        x[i] = urand(-1, 1);
        xd[i] = urand(-1, 1);
    }
    double *g = calloc(np, sizeof *g);
    const double scale = 0.7, h = 1e-6;
    ck_assert_int_eq(lag_fit_pair(k, m, x, xd, scale, &sq, g, NULL), ERR_OK);
    double *p = mlp_params(m);
    for (size_t j = 0; j < np; j++) {
        const double p0 = p[j];
        p[j] = p0 + h;
        ck_assert_int_eq(lag_fit_pair(k, m, x, xd, scale, &sp, NULL, NULL), ERR_OK);
        p[j] = p0 - h;
        ck_assert_int_eq(lag_fit_pair(k, m, x, xd, scale, &sm, NULL, NULL), ERR_OK);
        p[j] = p0;
        const double fd = scale * (sp - sm) / (2 * h);
        ck_assert_msg(fabs(g[j] - fd) <= 1e-5 * fmax(1, fabs(g[j])),
                      "%s dof %zu: dtheta[%zu] %.12g vs fd %.12g", act_name(acts[_i % N_ACTS]), n,
                      j, g[j], fd);
    }
    free(g);
    lag_fit_free(k);
    mlp_free(m);
}
END_TEST

/* L = c . q (no velocity dependence): M = 0, refused, never NaN. */
START_TEST(singular_mass)
{
    const mlp_layer L[] = {{MLP_LINEAR, 4, 1, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = 4, .n_layers = 1, .layers = L};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
    mlp_params(m)[0] = 1.0;
    lag_fit *k = NULL;
    ck_assert_int_eq(lag_fit_new(&k, m, NULL), ERR_OK);
    double x[4] = {0.1, 0.2, 0.3, 0.4}, xd[4] = {0}, sq = -1, g[5] = {0};
    err e;
    err_clear(&e);
    ck_assert_int_eq(lag_fit_pair(k, m, x, xd, 1.0, &sq, g, &e), ERR_SOLVER);
    ck_assert_ptr_nonnull(strstr(e.message, "singular"));
    lag_fit_free(k);
    mlp_free(m);
}
END_TEST

START_TEST(odd_input_refused)
{
    const mlp_layer L[] = {{MLP_LINEAR, 3, 1, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = 3, .n_layers = 1, .layers = L};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
    lag_fit *k = (lag_fit *)1;
    err e;
    err_clear(&e);
    ck_assert_int_eq(lag_fit_new(&k, m, &e), ERR_INVALID);
    ck_assert_ptr_null(k);
    ck_assert_str_eq(e.field, "layers[0]");
    lag_fit_free(NULL);
    mlp_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lag_fit");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, accel_solves_euler_lagrange, 0, 3 * N_ACTS);
    tcase_add_loop_test(tc, gradient_fd, 0, 3 * N_ACTS);
    tcase_add_test(tc, singular_mass);
    tcase_add_test(tc, odd_input_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
