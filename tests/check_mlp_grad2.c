/* check_mlp_grad2: the second derivatives of scalar MLPs that training needs
 * (nn/mlp_grad2.h) against central finite differences, for random networks
 * with every smooth activation (elementwise layers included):
 *   dtheta = d/dtheta [v' grad_x y]  against differences of v' grad_x y
 *            (grad_x y from nn/mlp_grad.h, itself checked by check_mlp_grad)
 *            in each parameter;
 *   dx     = Hess_x y v              against mlp_grad_hessian's Hessian
 *            times v, and differences of grad_x y along v;
 * plus accumulation (+=, the scale), several directions after one forward,
 * and the refusals (relu, two outputs).
 *
 * Tolerance: central differences with h = 1e-6 of a function with O(1)
 * derivatives have error about h^2 |f'''| / 6 + eps |f| / h ~ 1e-10; we
 * require |analytic - fd| <= 1e-6 max(1, |analytic|), far below any real
 * mistake (a missing term is O(1)). */
#include "nn/mlp_grad.h"
#include "nn/mlp_grad2.h"
#include "mlp_testlib.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;

/* v' grad_x y at x with the network's current parameters. */
static double dir_deriv(const mlp *m, mlp_grad_ws *gw, const double *x, const double *v, size_t d)
{
    double g[8];
    (void)mlp_grad_eval(m, gw, x, g);
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += v[i] * g[i];
    return s;
}

START_TEST(vhp_fd_every_activation)
{
    const act_kind act = mt_smooth[_i % MT_N_SMOOTH];
    const size_t d = _i < MT_N_SMOOTH ? 2 : 4;
    mlp *m = mt_net(d, 6, act, &rng);
    const size_t np = mlp_n_params(m);
    mlp_grad_ws *gw = NULL;
    mlp_grad2_ws *w = NULL;
    ck_assert_int_eq(mlp_grad_ws_new(&gw, m, 1, NULL), ERR_OK);
    ck_assert_int_eq(mlp_grad2_ws_new(&w, m, NULL), ERR_OK);
    double x[8], v[8], g[8], g1[8], gp[8], gm[8], xp[8], H[64], dx[8];
    double *dth = calloc(np, sizeof *dth);
    const double h = 1e-6;
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < d; i++) {
            x[i] = mt_urand(&rng, -1.5, 1.5);
            v[i] = mt_urand(&rng, -1, 1);
        }
        /* value and gradient agree with nn/mlp_grad.h */
        const double y = mlp_grad2_forward(m, w, x, g);
        const double y1 = mlp_grad_hessian(m, gw, x, g1, H);
        ck_assert_msg(fabs(y - y1) <= 1e-13 * fmax(1, fabs(y)), "y %g vs %g", y, y1);
        for (size_t i = 0; i < d; i++)
            ck_assert_msg(fabs(g[i] - g1[i]) <= 1e-12 * fmax(1, fabs(g[i])), "g[%zu]", i);
        memset(dx, 0, sizeof dx);
        memset(dth, 0, np * sizeof *dth);
        mlp_grad2_vjp(m, w, v, 1.0, dx, dth);
        /* dx = H v, against the explicit Hessian and differences along v */
        for (size_t i = 0; i < d; i++) {
            double hv = 0;
            for (size_t j = 0; j < d; j++)
                hv += H[i * d + j] * v[j];
            mt_near(dx[i], hv, "Hv", i);
        }
        for (size_t i = 0; i < d; i++)
            xp[i] = x[i] + h * v[i];
        (void)mlp_grad_eval(m, gw, xp, gp);
        for (size_t i = 0; i < d; i++)
            xp[i] = x[i] - h * v[i];
        (void)mlp_grad_eval(m, gw, xp, gm);
        for (size_t i = 0; i < d; i++)
            mt_near(dx[i], (gp[i] - gm[i]) / (2 * h), "Hv fd", i);
        /* dtheta: differences in every parameter */
        double *p = mlp_params(m);
        for (size_t k = 0; k < np; k++) {
            const double p0 = p[k];
            p[k] = p0 + h;
            const double fp = dir_deriv(m, gw, x, v, d);
            p[k] = p0 - h;
            const double fm = dir_deriv(m, gw, x, v, d);
            p[k] = p0;
            mt_near(dth[k], (fp - fm) / (2 * h), "dtheta", k);
        }
    }
    free(dth);
    mlp_grad2_ws_free(w);
    mlp_grad_ws_free(gw);
    mlp_free(m);
}
END_TEST

/* Accumulation: two directions after one forward add up, scaled, onto
 * what was there (the same as one call with scale a v1 + b v2). */
START_TEST(vjp_accumulates)
{
    const size_t d = 3;
    mlp *m = mt_net(d, 6, ACT_TANH, &rng);
    const size_t np = mlp_n_params(m);
    mlp_grad2_ws *w = NULL;
    ck_assert_int_eq(mlp_grad2_ws_new(&w, m, NULL), ERR_OK);
    double x[3] = {0.3, -0.7, 1.1}, v1[3] = {1, 0.5, -0.25}, v2[3] = {-0.4, 2, 0.1}, v[3];
    double dx[3] = {1, 2, 3}, dx2[3] = {1, 2, 3};
    double *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    for (size_t k = 0; k < np; k++)
        a[k] = b[k] = (double)k;
    (void)mlp_grad2_forward(m, w, x, NULL);
    mlp_grad2_vjp(m, w, v1, 0.5, dx, a);
    mlp_grad2_vjp(m, w, v2, -2.0, dx, a);
    for (size_t i = 0; i < d; i++)
        v[i] = 0.5 * v1[i] - 2.0 * v2[i];
    mlp_grad2_vjp(m, w, v, 1.0, dx2, b);
    for (size_t i = 0; i < d; i++)
        ck_assert_msg(fabs(dx[i] - dx2[i]) <= 1e-13 * (1 + fabs(dx[i])), "dx[%zu]", i);
    for (size_t k = 0; k < np; k++)
        ck_assert_msg(fabs(a[k] - b[k]) <= 1e-13 * (1 + fabs(a[k])), "dtheta[%zu]", k);
    mlp_grad2_vjp(m, w, v, 1.0, NULL, NULL); /* both parts optional */
    free(a);
    free(b);
    mlp_grad2_ws_free(w);
    mlp_free(m);
}
END_TEST

static err_code grad2_try_new(const mlp *m, err *e)
{
    mlp_grad2_ws *w = (mlp_grad2_ws *)1;
    err_code rc = mlp_grad2_ws_new(&w, m, e);
    ck_assert_ptr_null(w);
    return rc;
}

START_TEST(refusals)
{
    mt_check_refusals(grad2_try_new);
    mlp_grad2_ws_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mlp_grad2");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, vhp_fd_every_activation, 0, 2 * MT_N_SMOOTH);
    tcase_add_test(tc, vjp_accumulates);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
