/* check_mlp_grad: the input gradient and Hessian of scalar MLPs
 * (nn/mlp_grad.h) against central finite differences, for random networks
 * with every smooth activation, single and batched; the refusals.
 *
 * Tolerances. Central differences with step h have error about
 * h^2 |f'''| / 6 + eps |f| / h. Gradients from values with h = 1e-5:
 * ~1e-10 + 1e-11; Hessians from the analytic gradient with h = 1e-5: the
 * same. We require |analytic - fd| <= 1e-6 max(1, |analytic|), well above
 * both terms for the O(1) weights used, far below any real mistake (a
 * missing curvature term is O(1)). Batched against single: 1e-13. */
#include "nn/mlp_grad.h"
#include "mlp_testlib.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

START_TEST(gradient_hessian_fd)
{
    const act_kind act = mt_smooth[_i % MT_N_SMOOTH];
    const size_t d = _i < MT_N_SMOOTH ? 2 : 6;
    mlp *m = mt_net(d, 7, act, &rng);
    if (_i % 2) ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK); /* panels: same numbers */
    mlp_grad_ws *w = NULL;
    ck_assert_int_eq(mlp_grad_ws_new(&w, m, 1, NULL), ERR_OK);
    double x[6], g[6], g2[6], gp[6], gm[6], H[36], xp[6];
    const double h = 1e-5;
    for (int rep = 0; rep < 5; rep++) {
        for (size_t i = 0; i < d; i++)
            x[i] = mt_urand(&rng, -1.5, 1.5);
        const double y = mlp_grad_eval(m, w, x, g);
        const double y2 = mlp_grad_hessian(m, w, x, g2, H);
        ck_assert_msg(fabs(y - y2) <= 1e-13 * fmax(1, fabs(y)), "%g vs %g", y, y2);
        for (size_t i = 0; i < d; i++) {
            ck_assert_msg(fabs(g[i] - g2[i]) <= 1e-12 * fmax(1, fabs(g[i])), "g %zu", i);
            memcpy(xp, x, d * sizeof *x);
            xp[i] = x[i] + h;
            const double fp = mlp_grad_eval(m, w, xp, gp);
            xp[i] = x[i] - h;
            const double fm = mlp_grad_eval(m, w, xp, gm);
            mt_near(g[i], (fp - fm) / (2 * h), "gradient", i);
            for (size_t j = 0; j < d; j++)
                mt_near(H[j * d + i], (gp[j] - gm[j]) / (2 * h), "hessian", j * d + i);
        }
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                ck_assert(H[i * d + j] == H[j * d + i]);
    }
    mlp_grad_ws_free(w);
    mlp_free(m);
}
END_TEST

/* Batched (below and above the GEMM threshold) against one at a time. */
START_TEST(gradient_batch)
{
    const act_kind act = mt_smooth[_i % MT_N_SMOOTH];
    const size_t d = 4, n = _i < MT_N_SMOOTH ? 3 : 40;
    mlp *m = mt_net(d, 7, act, &rng);
    mlp_grad_ws *w = NULL;
    ck_assert_int_eq(mlp_grad_ws_new(&w, m, n, NULL), ERR_OK);
    double *x = malloc(n * d * sizeof *x), *g = malloc(n * d * sizeof *g), y[40], g1[4];
    for (size_t i = 0; i < n * d; i++)
        x[i] = mt_urand(&rng, -1, 1);
    mlp_grad_eval_batch(m, w, n, x, y, g);
    for (size_t k = 0; k < n; k++) {
        const double y1 = mlp_grad_eval(m, w, x + k * d, g1);
        ck_assert_msg(fabs(y1 - y[k]) <= 1e-13 * (1 + fabs(y1)), "y[%zu]", k);
        for (size_t i = 0; i < d; i++)
            ck_assert_msg(fabs(g1[i] - g[k * d + i]) <= 1e-13 * (1 + fabs(g1[i])), "g[%zu][%zu]", k,
                          i);
    }
    mlp_grad_eval_batch(m, w, n, x, NULL, g); /* values not wanted */
    for (size_t k = 0; k < n; k++) {
        (void)mlp_grad_eval(m, w, x + k * d, g1);
        for (size_t i = 0; i < d; i++)
            ck_assert(fabs(g1[i] - g[k * d + i]) <= 1e-13 * (1 + fabs(g1[i])));
    }
    free(x);
    free(g);
    mlp_grad_ws_free(w);
    mlp_free(m);
}
END_TEST

/* H = 1/2 y^T S y exactly: y -> W y (identity) -> square -> weights s/2.
 * With W = I and the last layer's weights c_k / 2, H = sum c_k y_k^2 / 2:
 * gradient c .* y, Hessian diag(c), to rounding. */
START_TEST(quadratic_exact)
{
    const mlp_layer L[] = {{MLP_LINEAR, 3, 3, ACT_SQUARE}, {MLP_LINEAR, 3, 1, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = 3, .n_layers = 2, .layers = L};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
    double *p = mlp_params(m);
    memset(p, 0, mlp_n_params(m) * sizeof *p);
    const double c[3] = {2.0, 0.5, 3.0};
    for (int i = 0; i < 3; i++) {
        p[i * 3 + i] = 1.0;
        p[12 + i] = c[i] / 2;
    }
    mlp_grad_ws *w = NULL;
    ck_assert_int_eq(mlp_grad_ws_new(&w, m, 1, NULL), ERR_OK);
    const double x[3] = {0.3, -1.25, 2.0};
    double g[3], H[9];
    const double y = mlp_grad_hessian(m, w, x, g, H);
    ck_assert_double_eq_tol(y, 0.5 * (2 * 0.09 + 0.5 * 1.5625 + 3 * 4), 1e-14);
    for (int i = 0; i < 3; i++) {
        ck_assert_double_eq_tol(g[i], c[i] * x[i], 1e-14);
        for (int j = 0; j < 3; j++)
            ck_assert_double_eq_tol(H[i * 3 + j], i == j ? c[i] : 0.0, 1e-14);
    }
    mlp_grad_ws_free(w);
    mlp_free(m);
}
END_TEST

START_TEST(refusals)
{
    const act_kind bad[] = {ACT_RELU, ACT_ELU};
    for (int k = 0; k < 2; k++) {
        const mlp_layer L[] = {{MLP_LINEAR, 2, 4, ACT_TANH},
                               {MLP_LINEAR, 4, 4, bad[k]},
                               {MLP_LINEAR, 4, 1, ACT_IDENTITY}};
        mlp_spec s = {.state_dim = 2, .n_layers = 3, .layers = L};
        mlp *m = NULL;
        ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
        ck_assert(!mlp_grad_act_smooth(bad[k]));
        err e;
        err_clear(&e);
        mlp_grad_ws *w = NULL;
        ck_assert_int_eq(mlp_grad_ws_new(&w, m, 1, &e), ERR_INVALID);
        ck_assert_ptr_null(w);
        ck_assert_str_eq(e.field, "layers[1].activation");
        ck_assert_ptr_nonnull(strstr(e.message, "twice differentiable"));
        mlp_free(m);
    }
    /* two outputs; a time input */
    const mlp_layer L2[] = {{MLP_LINEAR, 2, 2, ACT_TANH}};
    mlp_spec s2 = {.state_dim = 2, .n_layers = 1, .layers = L2};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(mlp_new(&m, &s2, NULL), ERR_OK);
    ck_assert_int_eq(mlp_grad_check(m, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "layers[0]");
    mlp_free(m);
    const mlp_layer L3[] = {{MLP_LINEAR, 3, 1, ACT_TANH}};
    mlp_spec s3 = {.state_dim = 2, .time_input = true, .n_layers = 1, .layers = L3};
    ck_assert_int_eq(mlp_new(&m, &s3, NULL), ERR_OK);
    err_clear(&e);
    ck_assert_int_eq(mlp_grad_check(m, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "time_input");
    mlp_free(m);
}
END_TEST

static Suite *grad_suite(void)
{
    Suite *s = suite_create("mlp_grad");
    TCase *t = tcase_create("core");
    tcase_add_loop_test(t, gradient_hessian_fd, 0, 2 * MT_N_SMOOTH);
    tcase_add_loop_test(t, gradient_batch, 0, 2 * MT_N_SMOOTH);
    tcase_add_test(t, quadratic_exact);
    tcase_add_test(t, refusals);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_suite_run(grad_suite());
}
