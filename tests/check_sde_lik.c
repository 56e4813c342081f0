/* check_sde_lik: the sde training objective (model/sde_lik.h) and its
 * networks' second-order reverse (model/sde_lik_net.h): the Jacobian
 * against nn's mlp_jacobian, the gradient by every parameter against
 * central finite differences for each noise type and every activation
 * (nonlinear drift and state-dependent diffusion, with the drift's
 * Jacobian in the covariance), and the exact Gaussian transition of a
 * linear drift with additive noise against its closed form. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/sde_lik.h"
#include "model/sde_lik_net.h"
#include "nn/mlp.h"
#include "testutil.h"

static unsigned long long lcg = 12345;
static double unif(double lo, double hi)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(lcg >> 11) / 9007199254740992.0;
}

static mlp *net(size_t in, bool ti, size_t n_layers, const mlp_layer *layers, double scale)
{
    mlp *m = NULL;
    mlp_spec s = {.state_dim = in, .time_input = ti, .n_layers = n_layers, .layers = layers};
    err e;
    err_clear(&e);
    ck_assert_int_eq(mlp_new(&m, &s, &e), ERR_OK);
    double *p = mlp_params(m);
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = unif(-scale, scale);
    return m;
}

START_TEST(jacobian_matches_mlp_jacobian)
{
    const mlp_layer ly[] = {{MLP_LINEAR, 4, 6, ACT_TANH},
                            {MLP_ELEMENTWISE, 0, 0, ACT_SIN},
                            {MLP_LINEAR, 6, 3, ACT_SOFTPLUS}};
    mlp *m = net(3, true, 3, ly, 0.8);
    sde_lik_net *w = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(sde_lik_net_new(&w, m, true, &e), ERR_OK);
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_ws_new(&ws, m, 1, &e), ERR_OK);
    const double x[3] = {0.3, -0.7, 1.1};
    double y[3], J[9], y2[3], J2[9];
    sde_lik_net_forward(w, x, 0.4, y, J);
    mlp_jacobian(m, ws, x, 0.4, y2, J2, NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(y[i], y2[i], 1e-14);
    for (int i = 0; i < 9; i++)
        ck_assert_double_eq_tol(J[i], J2[i], 1e-13);
    mlp_ws_free(ws);
    sde_lik_net_free(w);
    mlp_free(m);
}
END_TEST

/* A series of 4 observations of a 2-state system, irregular times. */
static const double T4[4] = {0.1, 0.35, 0.42, 0.9};
static const double T4_WIDE[4] = {0.1, 0.6, 1.3, 1.8};
static const double *times = T4;
static const double Y4[8] = {0.5, -0.2, 0.61, -0.05, 0.55, 0.02, 0.3, 0.4};

static double loss_of(const struct sde_lik_model *mm, double *df, double *dg)
{
    sde_lik *l = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(sde_lik_new(&l, mm, &e), ERR_OK);
    double loss = 0;
    ck_assert_msg(sde_lik_series(l, 4, times, Y4, 0.5, &loss, df, dg, &e) == ERR_OK, "%s",
                  e.message);
    sde_lik_free(l);
    return loss;
}

/* Every parameter of both networks: the reverse against central differences. */
static void check_grad(mlp *f, mlp *g, sde_noise noise, size_t bd, double step, double tol)
{
    const struct sde_lik_model mm = {
        .drift = f, .diffusion = g, .noise = noise, .dim = 2, .brownian_dim = bd, .step = step};
    times = noise == SDE_NOISE_SCALAR ? T4_WIDE : T4;
    const size_t nf = mlp_n_params(f), ng = mlp_n_params(g);
    double *df = calloc(nf, sizeof *df), *dg = calloc(ng, sizeof *dg);
    loss_of(&mm, df, dg);
    for (int which = 0; which < 2; which++) {
        mlp *m = which ? g : f;
        const double *grad = which ? dg : df;
        double *p = mlp_params(m);
        for (size_t i = 0; i < mlp_n_params(m); i++) {
            const double p0 = p[i], h = 1e-5;
            p[i] = p0 + h;
            double lp = loss_of(&mm, NULL, NULL);
            p[i] = p0 - h;
            double lm = loss_of(&mm, NULL, NULL);
            p[i] = p0;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - grad[i]) <= tol * (1 + fabs(fd)),
                          "noise %d, %s parameter %zu: reverse %.10g, differences %.10g", noise,
                          which ? "diffusion" : "drift", i, grad[i], fd);
        }
    }
    free(df), free(dg);
}

static const mlp_layer drift_ly[] = {{MLP_LINEAR, 3, 5, ACT_TANH},
                                     {MLP_LINEAR, 5, 4, ACT_SILU},
                                     {MLP_ELEMENTWISE, 0, 0, ACT_ELU},
                                     {MLP_LINEAR, 4, 2, ACT_IDENTITY}};

START_TEST(gradient_diagonal_noise)
{
    mlp *f = net(2, true, 4, drift_ly, 0.7);
    const mlp_layer gl[] = {{MLP_LINEAR, 2, 3, ACT_CUBE}, {MLP_LINEAR, 3, 2, ACT_SOFTPLUS}};
    mlp *g = net(2, false, 2, gl, 0.6);
    check_grad(f, g, SDE_NOISE_DIAGONAL, 0, 0.07, 1e-6);
    mlp_free(f), mlp_free(g);
}
END_TEST

START_TEST(gradient_scalar_noise)
{
    mlp *f = net(2, true, 4, drift_ly, 0.7);
    const mlp_layer gl[] = {{MLP_LINEAR, 3, 3, ACT_SIGMOID},
                            {MLP_ELEMENTWISE, 0, 0, ACT_SQUARE},
                            {MLP_LINEAR, 3, 2, ACT_IDENTITY}};
    mlp *g = net(2, true, 3, gl, 0.9);
    double *p = mlp_params(g);
    p[mlp_n_params(g) - 2] += 0.5; /* keep g away from zero */
    /* one Brownian motion drives 2 states: the covariance has full rank
     * only through the drift's mixing over several sub-steps (wider gaps
     * here), so it is nearly singular and the differences' own error is
     * larger */
    check_grad(f, g, SDE_NOISE_SCALAR, 0, 0.01, 1e-5);
    mlp_free(f), mlp_free(g);
}
END_TEST

START_TEST(gradient_general_noise)
{
    const mlp_layer fl[] = {{MLP_LINEAR, 2, 4, ACT_RELU},
                            {MLP_ELEMENTWISE, 0, 0, ACT_SIN},
                            {MLP_LINEAR, 4, 2, ACT_SIGMOID}};
    mlp *f = net(2, false, 3, fl, 0.9);
    const mlp_layer gl[] = {{MLP_LINEAR, 2, 6, ACT_TANH}};
    mlp *g = net(2, false, 1, gl, 0.8);
    check_grad(f, g, SDE_NOISE_GENERAL, 3, 0.07, 1e-6);
    mlp_free(f), mlp_free(g);
}
END_TEST

START_TEST(gradient_additive_noise)
{
    mlp *f = net(2, true, 4, drift_ly, 0.7);
    const mlp_layer gl[] = {{MLP_LINEAR, 1, 2, ACT_IDENTITY}};
    mlp *g = net(1, false, 1, gl, 0.8);
    check_grad(f, g, SDE_NOISE_ADDITIVE, 0, 0.07, 1e-6);
    mlp_free(f), mlp_free(g);
}
END_TEST

/* Linear drift A y + b, constant diagonal noise s: with n sub-steps of h
 * the scheme's transition is N(M^n y0 + sum_k M^k h b, sum_k M^k h S S^T M^kT),
 * M = I + h A, exactly. */
START_TEST(linear_additive_is_exact)
{
    const mlp_layer fl[] = {{MLP_LINEAR, 2, 2, ACT_IDENTITY}};
    const mlp_layer gl[] = {{MLP_LINEAR, 1, 2, ACT_IDENTITY}};
    mlp *f = net(2, false, 1, fl, 1), *g = net(1, false, 1, gl, 1);
    const double A[4] = {-0.8, 1.0, -1.0, -0.6}, b[2] = {0.1, -0.2}, s[2] = {0.3, 0.5};
    double *pf = mlp_params(f), *pg = mlp_params(g);
    memcpy(pf, A, sizeof A), memcpy(pf + 4, b, sizeof b);
    pg[0] = pg[1] = 0, pg[2] = s[0], pg[3] = s[1];
    const double step = 0.03, t[2] = {0.2, 0.45}, y[4] = {1.0, -0.5, 0.8, -0.1};
    const struct sde_lik_model mm = {
        .drift = f, .diffusion = g, .noise = SDE_NOISE_ADDITIVE, .dim = 2, .step = step};
    const int n = 9; /* ceil(0.25 / 0.03) */
    const double h = 0.25 / n;
    double m[2] = {y[0], y[1]}, P[4] = {0};
    for (int k = 0; k < n; k++) {
        double M[4] = {1 + h * A[0], h * A[1], h * A[2], 1 + h * A[3]};
        double m1[2] = {M[0] * m[0] + M[1] * m[1] + h * b[0], M[2] * m[0] + M[3] * m[1] + h * b[1]};
        double MP[4] = {M[0] * P[0] + M[1] * P[2], M[0] * P[1] + M[1] * P[3],
                        M[2] * P[0] + M[3] * P[2], M[2] * P[1] + M[3] * P[3]};
        P[0] = MP[0] * M[0] + MP[1] * M[1] + h * s[0] * s[0];
        P[1] = MP[0] * M[2] + MP[1] * M[3];
        P[2] = MP[2] * M[0] + MP[3] * M[1];
        P[3] = MP[2] * M[2] + MP[3] * M[3] + h * s[1] * s[1];
        m[0] = m1[0], m[1] = m1[1];
    }
    const double det = P[0] * P[3] - P[1] * P[2], r0 = y[2] - m[0], r1 = y[3] - m[1];
    const double quad = (P[3] * r0 * r0 - (P[1] + P[2]) * r0 * r1 + P[0] * r1 * r1) / det;
    const double want = 0.5 * (quad + log(det) + 2 * log(2 * M_PI));
    sde_lik *l = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(sde_lik_new(&l, &mm, &e), ERR_OK);
    double loss = 0;
    ck_assert_int_eq(sde_lik_series(l, 2, t, y, 1, &loss, NULL, NULL, &e), ERR_OK);
    ck_assert_double_eq_tol(loss, want, 1e-12 * fabs(want));
    ck_assert_int_eq(sde_lik_count(2, 2, y), 1);
    /* a missing value at either end skips the transition */
    const double ym[4] = {1.0, NAN, 0.8, -0.1};
    ck_assert_int_eq(sde_lik_count(2, 2, ym), 0);
    ck_assert_int_eq(sde_lik_series(l, 2, t, ym, 1, &loss, NULL, NULL, &e), ERR_OK);
    ck_assert_double_eq(loss, 0);
    /* a zero diffusion has no transition density */
    pg[2] = pg[3] = 0;
    ck_assert_int_eq(sde_lik_series(l, 2, t, y, 1, &loss, NULL, NULL, &e), ERR_SOLVER);
    /* a gap of more than SDE_LIK_MAX_SUBSTEPS sub-steps */
    pg[2] = s[0], pg[3] = s[1];
    const double tf[2] = {0, 1e4};
    err_clear(&e);
    ck_assert_int_eq(sde_lik_series(l, 2, tf, y, 1, &loss, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.step");
    sde_lik_free(l);
    mlp_free(f), mlp_free(g);
}
END_TEST

/* The same networks whether or not Check forks per test (valgrind runs
 * with CK_FORK=no). */
static void reseed(void)
{
    lcg = 12345;
}

static Suite *suite(void)
{
    Suite *s = suite_create("sde_lik");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, reseed, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, jacobian_matches_mlp_jacobian);
    tcase_add_test(tc, gradient_diagonal_noise);
    tcase_add_test(tc, gradient_scalar_noise);
    tcase_add_test(tc, gradient_general_noise);
    tcase_add_test(tc, gradient_additive_noise);
    tcase_add_test(tc, linear_additive_is_exact);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
