/* check_mlp_grad3: the third derivative a Lagrangian network's training
 * needs (nn/mlp_grad3.h) against central finite differences, for random
 * networks with every smooth activation (elementwise layers included):
 *   S      = u' Hess_x y w   against mlp_grad_hessian's explicit Hessian;
 *   dtheta = dS/dtheta       against differences of that S in each parameter;
 *   dx     = dS/dx           against differences of S in each input;
 *   act''' (mlp_grad3_act_third) against differences of act''.
 * plus accumulation (the scale, +=) and the refusals.
 *
 * Tolerance: S is analytic (mlp_grad.h's Hessian, itself checked by
 * check_mlp_grad), so central differences with h = 1e-6 are off by about
 * h^2 |S'''| / 6 + eps |S| / h ~ 1e-10; we require 1e-6 max(1, |value|),
 * far below a real mistake (a missing term is O(1)). */
#include "nn/mlp_grad.h"
#include "nn/mlp_grad3.h"
#include "nn/mlp_tangent.h"
#include "mlp_testlib.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* u' H w from the explicit Hessian at x. */
static double uhw(const mlp *m, mlp_grad_ws *gw, const double *x, const double *u, const double *w,
                  size_t d)
{
    double g[8], H[64], s = 0;
    (void)mlp_grad_hessian(m, gw, x, g, H);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            s += u[i] * H[i * d + j] * w[j];
    return s;
}

START_TEST(uhw_fd_every_activation)
{
    const act_kind act = mt_smooth[_i % MT_N_SMOOTH];
    const size_t d = _i < MT_N_SMOOTH ? 2 : 4;
    mlp *m = mt_net(d, 6, act, &rng);
    const size_t np = mlp_n_params(m);
    mlp_grad_ws *gw = NULL;
    mlp_grad3_ws *w = NULL;
    ck_assert_int_eq(mlp_grad_ws_new(&gw, m, 1, NULL), ERR_OK);
    ck_assert_int_eq(mlp_grad3_ws_new(&w, m, NULL), ERR_OK);
    double x[8], u[8], v[8], xp[8], dx[8];
    double *dth = calloc(np, sizeof *dth);
    const double h = 1e-6;
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < d; i++) {
            x[i] = mt_urand(&rng, -1.5, 1.5);
            u[i] = mt_urand(&rng, -1, 1);
            v[i] = mt_urand(&rng, -1, 1);
        }
        memset(dx, 0, sizeof dx);
        memset(dth, 0, np * sizeof *dth);
        const double S = mlp_grad3_uhw(m, w, x, u, v, 1.0, dx, dth);
        const double S1 = uhw(m, gw, x, u, v, d);
        ck_assert_msg(fabs(S - S1) <= 1e-12 * fmax(1, fabs(S)), "S %.17g vs %.17g", S, S1);
        for (size_t i = 0; i < d; i++) {
            memcpy(xp, x, d * sizeof *x);
            xp[i] = x[i] + h;
            const double fp = uhw(m, gw, xp, u, v, d);
            xp[i] = x[i] - h;
            const double fm = uhw(m, gw, xp, u, v, d);
            mt_near(dx[i], (fp - fm) / (2 * h), "dx", i);
        }
        double *p = mlp_params(m);
        for (size_t k = 0; k < np; k++) {
            const double p0 = p[k];
            p[k] = p0 + h;
            const double fp = uhw(m, gw, x, u, v, d);
            p[k] = p0 - h;
            const double fm = uhw(m, gw, x, u, v, d);
            p[k] = p0;
            mt_near(dth[k], (fp - fm) / (2 * h), "dtheta", k);
        }
    }
    free(dth);
    mlp_grad3_ws_free(w);
    mlp_grad_ws_free(gw);
    mlp_free(m);
}
END_TEST

START_TEST(act_third_fd)
{
    const act_kind act = mt_smooth[_i];
    const double h = 1e-5;
    for (int r = 0; r < 20; r++) {
        double z[3], a[3], d2[3], d3;
        z[0] = mt_urand(&rng, -3, 3);
        z[1] = z[0] + h;
        z[2] = z[0] - h;
        act_apply(act, 3, z, a);
        act_deriv2(act, 3, z, a, d2);
        mlp_grad3_act_third(act, 1, z, a, &d3);
        ck_assert_msg(fabs(d3 - (d2[1] - d2[2]) / (2 * h)) <= 1e-7 * fmax(1, fabs(d3)),
                      "%s at %g: %.17g vs fd %.17g", act_name(act), z[0], d3,
                      (d2[1] - d2[2]) / (2 * h));
    }
}
END_TEST

/* The scale multiplies and the results add onto what was there. */
START_TEST(accumulates)
{
    const size_t d = 3;
    mlp *m = mt_net(d, 6, ACT_SOFTPLUS, &rng);
    const size_t np = mlp_n_params(m);
    mlp_grad3_ws *w = NULL;
    ck_assert_int_eq(mlp_grad3_ws_new(&w, m, NULL), ERR_OK);
    double x[3] = {0.3, -0.7, 1.1}, u[3] = {1, 0.5, -0.25}, v[3] = {-0.4, 2, 0.1};
    double dx[3] = {1, 2, 3}, dx1[3] = {0};
    double *a = malloc(np * sizeof *a), *b = calloc(np, sizeof *b);
    for (size_t k = 0; k < np; k++)
        a[k] = (double)k;
    const double S = mlp_grad3_uhw(m, w, x, u, v, -2.5, dx, a);
    ck_assert(mlp_grad3_uhw(m, w, x, u, v, 1.0, dx1, b) == S);
    ck_assert(mlp_grad3_uhw(m, w, x, u, v, 1.0, NULL, NULL) == S);
    for (size_t i = 0; i < d; i++)
        ck_assert_msg(fabs(dx[i] - ((double)i + 1 - 2.5 * dx1[i])) <= 1e-13 * (1 + fabs(dx[i])),
                      "dx[%zu]", i);
    for (size_t k = 0; k < np; k++)
        ck_assert_msg(fabs(a[k] - ((double)k - 2.5 * b[k])) <= 1e-13 * (1 + fabs(a[k])),
                      "dtheta[%zu]", k);
    free(a);
    free(b);
    mlp_grad3_ws_free(w);
    mlp_free(m);
}
END_TEST

static err_code grad3_try_new(const mlp *m, err *e)
{
    mlp_grad3_ws *w = (mlp_grad3_ws *)1;
    err_code rc = mlp_grad3_ws_new(&w, m, e);
    ck_assert_ptr_null(w);
    return rc;
}

START_TEST(refusals)
{
    mt_check_refusals(grad3_try_new);
    mlp_grad3_ws_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mlp_grad3");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, uhw_fd_every_activation, 0, 2 * MT_N_SMOOTH);
    tcase_add_loop_test(tc, act_third_fd, 0, MT_N_SMOOTH);
    tcase_add_test(tc, accumulates);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
