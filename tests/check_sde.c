/* tests/check_sde.c: num/brownian.h and num/sde.h.
 *
 * Statistical checks use fixed seeds and tolerances from the sample size:
 * an estimate must lie within 5 standard errors of its reference (plus, where
 * the reference is the continuous solution, the scheme's own bias, computed
 * exactly). A seed is fixed, so a pass is reproducible, and a wrong formula
 * moves the estimate by many standard errors. References: closed forms for
 * geometric Brownian motion, the schemes' exact discrete moments on linear
 * problems, and tests/fixtures/sde_ou.json (SciPy, gen_sde_ou.py) for the
 * Ornstein-Uhlenbeck process with general noise. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num/brownian.h"
#include "num/sde.h"
#include "testutil.h"

/* ---- Philox and the normals ---- */

START_TEST(test_philox_known_answers)
{
    /* Random123's kat_vectors for philox4x32_10 */
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t o[4];
        brownian_philox(kat[i].ctr, kat[i].key, o);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(o[j] == kat[i].out[j], "kat %zu word %d: %08x", i, j, o[j]);
    }
}
END_TEST

START_TEST(test_normals_moments)
{
    const size_t n = 100000;
    double s1 = 0, s2 = 0, s4 = 0, c01 = 0;
    for (size_t i = 0; i < n; i++) {
        double z[2];
        brownian_normal2(11, 3, i, 0, z);
        s1 += z[0] + z[1];
        s2 += z[0] * z[0] + z[1] * z[1];
        s4 += z[0] * z[0] * z[0] * z[0] + z[1] * z[1] * z[1] * z[1];
        c01 += z[0] * z[1];
    }
    double N = 2.0 * n;
    ck_assert_double_le(fabs(s1 / N), 5 / sqrt(N));               /* mean 0, sd 1 */
    ck_assert_double_le(fabs(s2 / N - 1), 5 * sqrt(2 / N));       /* var 1, sd of z^2 = sqrt 2 */
    ck_assert_double_le(fabs(s4 / N - 3), 5 * sqrt(96 / N));      /* E z^4 = 3, var 96 */
    ck_assert_double_le(fabs(c01 / (double)n), 5 / sqrt((double)n)); /* the pair independent */
}
END_TEST

START_TEST(test_ndtri_known)
{
    /* AS 241 against SciPy's ndtri (Cephes, an independent implementation) */
    static const struct {
        double p, z;
    } ref[] = {{0.5, 0.0},
               {0.975, 1.959963984540054},
               {0.3, -0.5244005127080409},
               {0.075, -1.4395314709384563},
               {0.925, 1.4395314709384563},
               {0.01, -2.3263478740408408},
               {1e-10, -6.361340902404056},
               {0x1p-53, -8.209536151601387},
               {1 - 0x1p-40, 7.047700256664409},
               {0.9999, 3.719016485455709}};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        double z = brownian_ndtri(ref[i].p);
        ck_assert_msg(fabs(z - ref[i].z) <= 1e-14 * fmax(1, fabs(ref[i].z)), "p=%.17g: %.17g vs %.17g",
                      ref[i].p, z, ref[i].z);
    }
}
END_TEST

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

START_TEST(test_normals_ks_tails)
{
    /* the generator's distribution: Kolmogorov-Smirnov against the normal
     * CDF on 2 x 10^5 draws (sqrt(n) D <= 2: P ~ 2 e^-8 = 7e-4 for a true
     * normal), and the tail counts P(|z| > 3), P(|z| > 4) on 4 x 10^6 draws
     * within 5 binomial standard deviations */
    const size_t n = 200000;
    double *z = malloc(n * sizeof *z);
    for (size_t i = 0; i < n / 2; i++)
        brownian_normal2(2026, 9, i, 3, z + 2 * i);
    qsort(z, n, sizeof *z, cmp_dbl);
    double D = 0;
    for (size_t i = 0; i < n; i++) {
        double F = 0.5 * erfc(-z[i] / sqrt(2.0));
        D = fmax(D, fmax(fabs(F - (double)i / n), fabs((double)(i + 1) / n - F)));
    }
    ck_assert_msg(sqrt((double)n) * D <= 2.0, "KS: sqrt(n) D = %g", sqrt((double)n) * D);
    free(z);
    const size_t N = 4000000;
    size_t c3 = 0, c4 = 0;
    double zmax = 0;
    for (size_t i = 0; i < N / 2; i++) {
        double x[2];
        brownian_normal2(77, 1, i, 0, x);
        for (int j = 0; j < 2; j++) {
            c3 += fabs(x[j]) > 3;
            c4 += fabs(x[j]) > 4;
            zmax = fmax(zmax, fabs(x[j]));
        }
    }
    const double p3 = erfc(3 / sqrt(2.0)), p4 = erfc(4 / sqrt(2.0));
    ck_assert_msg(fabs(c3 - N * p3) <= 5 * sqrt(N * p3 * (1 - p3)), "|z| > 3: %zu vs %g", c3, N * p3);
    ck_assert_msg(fabs(c4 - N * p4) <= 5 * sqrt(N * p4 * (1 - p4)), "|z| > 4: %zu vs %g", c4, N * p4);
    ck_assert(zmax < 8.3 && isfinite(zmax));
}
END_TEST

/* ---- the Brownian tree ---- */

START_TEST(test_cursor_equals_pure)
{
    /* any query order, any times: the cursor's numbers are brownian_w's */
    const size_t d = 3;
    brownian_cursor *c;
    ck_assert_int_eq(brownian_cursor_new(&c, d, NULL), ERR_OK);
    brownian_cursor_reset(c, 42, 7);
    double u[] = {0.3, 0.30000001, 0.1, 5.5, 1.0, 2.0, 0.75, 1e-9, 1000.25, 0.3, 3.0, 0.5};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        double a[3], b[3], s[6];
        brownian_cursor_w(c, u[i], a);
        brownian_w(42, 7, d, u[i], b, s);
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "u=%g", u[i]);
    }
    double w0[3];
    brownian_cursor_w(c, 0, w0);
    ck_assert(w0[0] == 0 && w0[1] == 0 && w0[2] == 0);
    brownian_cursor_free(c);
}
END_TEST

START_TEST(test_increments_law)
{
    /* across samples: W(t) - W(s) ~ N(0, t - s), disjoint increments
     * uncorrelated, W(s) and W(t) - W(s) uncorrelated; points off the
     * dyadic grid, in one chain interval and across chain intervals */
    const double pts[] = {0.0, 0.137, 0.5, 0.8123, 1.9, 3.3};
    const size_t np = sizeof pts / sizeof pts[0], n = 20000;
    double v[6] = {0}, cov[6] = {0}, w[6], s[2];
    for (uint32_t k = 0; k < n; k++) {
        for (size_t i = 0; i < np; i++)
            brownian_w(5, k, 1, pts[i], &w[i], s);
        for (size_t i = 1; i < np; i++) {
            double d = w[i] - w[i - 1];
            v[i] += d * d;
            if (i > 1) cov[i] += d * (w[i - 1] - w[i - 2]);
        }
    }
    for (size_t i = 1; i < np; i++) {
        double h = pts[i] - pts[i - 1];
        ck_assert_msg(fabs(v[i] / n - h) <= 5 * h * sqrt(2.0 / n), "var %zu: %g vs %g", i,
                      v[i] / n, h);
        if (i > 1) {
            double h0 = pts[i - 1] - pts[i - 2];
            ck_assert_msg(fabs(cov[i] / n) <= 5 * sqrt(h * h0 / n), "cov %zu: %g", i, cov[i] / n);
        }
    }
}
END_TEST

START_TEST(test_dyadic_values_exact_refinement)
{
    /* W at a dyadic point does not depend on the other points asked for
     * (the tree is nested): asking for 0.25 then 0.125 gives the same
     * W(0.25) as asking for it alone */
    double a[2], b[2], s[4];
    brownian_cursor *c;
    ck_assert_int_eq(brownian_cursor_new(&c, 2, NULL), ERR_OK);
    brownian_cursor_reset(c, 9, 1);
    brownian_cursor_w(c, 0.125, a);
    brownian_cursor_w(c, 0.25, a);
    brownian_w(9, 1, 2, 0.25, b, s);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    /* other seeds and samples differ */
    brownian_w(9, 2, 2, 0.25, a, s);
    ck_assert(a[0] != b[0]);
    brownian_w(10, 1, 2, 0.25, a, s);
    ck_assert(a[0] != b[0]);
    brownian_cursor_free(c);
}
END_TEST

START_TEST(test_grid_cursor_equals_pure)
{
    /* on a step grid: the cursor's numbers are brownian_w_grid's, for grid
     * points in order (the solver's use), other times, repeats and any
     * order; steps below, at and above a power of two, above 1 and below
     * 2^-24 */
    const double hs[] = {0.01, 0.3, 1.0 / 3, 2.5, 0.0078125, 1e-8};
    const size_t d = 3;
    for (size_t hi = 0; hi < sizeof hs / sizeof hs[0]; hi++) {
        const double h = hs[hi];
        brownian_cursor *c;
        ck_assert_int_eq(brownian_cursor_new(&c, d, NULL), ERR_OK);
        brownian_cursor_reset(c, 42, 7);
        brownian_cursor_grid(c, h);
        double a[3], b[3], s[12];
        for (int k = 1; k <= 60; k++) {
            double u[] = {(double)k * h, (double)k * h + 0.37 * h, (double)k * h + 0.37 * h,
                          (double)k * h + 0.9 * h};
            for (size_t i = 0; i < 4; i++) {
                brownian_cursor_w(c, u[i], a);
                brownian_w_grid(42, 7, d, h, u[i], b, s);
                ck_assert_msg(memcmp(a, b, sizeof a) == 0, "h=%g u=%.17g", h, u[i]);
            }
        }
        double u[] = {0.3, 0.30000001, 0.1, 5.5, 1.0, 2.0, 0.75, 1e-9, 1000.25, 0.3, 3.0, 0.5,
                      7 * h, 3 * h, 3.5 * h, 7 * h};
        for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
            brownian_cursor_w(c, u[i], a);
            brownian_w_grid(42, 7, d, h, u[i], b, s);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0, "h=%g u=%.17g", h, u[i]);
        }
        /* the tree's dyadic points are the same path for every step */
        const double dy[] = {0.5, 0.25, 1.0, 3.0, 8.0};
        for (size_t i = 0; i < sizeof dy / sizeof dy[0]; i++) {
            if (dy[i] < 2 * h) continue; /* below a cell's width: not a tree point */
            brownian_w_grid(42, 7, d, h, dy[i], a, s);
            brownian_w(42, 7, d, dy[i], b, s);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0, "h=%g dyadic u=%g", h, dy[i]);
        }
        brownian_cursor_free(c);
    }
}
END_TEST

START_TEST(test_grid_increments_law)
{
    /* across samples, on the grid of h = 0.01 (cells of 2^-7: most hold
     * one grid point, some none): the grid increments are N(0, h) and
     * uncorrelated, and an output time between grid points splits its step
     * into increments of the right variances, uncorrelated */
    const double h = 0.01;
    const size_t n = 20000, K = 14;
    double v[14] = {0}, cv[14] = {0}, vo[2] = {0}, co = 0;
    for (uint32_t k = 0; k < n; k++) {
        double w[15], s[4], wo;
        for (size_t i = 0; i <= K; i++)
            brownian_w_grid(5, k, 1, h, (double)i * h, &w[i], s);
        for (size_t i = 1; i <= K; i++) {
            double dw = w[i] - w[i - 1];
            v[i - 1] += dw * dw;
            if (i > 1) cv[i - 1] += dw * (w[i - 1] - w[i - 2]);
        }
        brownian_w_grid(5, k, 1, h, 0.0537, &wo, s); /* between grid points 5 and 6 */
        double d0 = wo - w[5], d1 = w[6] - wo;
        vo[0] += d0 * d0;
        vo[1] += d1 * d1;
        co += d0 * d1;
    }
    for (size_t i = 0; i < K; i++) {
        ck_assert_msg(fabs(v[i] / n - h) <= 5 * h * sqrt(2.0 / n), "var %zu: %g", i, v[i] / n);
        if (i > 0) ck_assert_msg(fabs(cv[i] / n) <= 5 * h / sqrt((double)n), "cov %zu: %g", i, cv[i] / n);
    }
    const double h0 = 0.0537 - 5 * h, h1 = 6 * h - 0.0537;
    ck_assert_msg(fabs(vo[0] / n - h0) <= 5 * h0 * sqrt(2.0 / n), "var left %g vs %g", vo[0] / n, h0);
    ck_assert_msg(fabs(vo[1] / n - h1) <= 5 * h1 * sqrt(2.0 / n), "var right %g vs %g", vo[1] / n, h1);
    ck_assert_msg(fabs(co / n) <= 5 * sqrt(h0 * h1 / n), "cov %g", co / n);
}
END_TEST

/* ---- problems ---- */

typedef struct gbm {
    double mu, sigma;
} gbm;

static int gbm_f(void *ctx, double t, const double *y, double *f)
{
    (void)t;
    f[0] = ((gbm *)ctx)->mu * y[0];
    return 0;
}
static int gbm_g(void *ctx, double t, const double *y, double *g)
{
    (void)t;
    g[0] = ((gbm *)ctx)->sigma * y[0];
    return 0;
}
static int gbm_gq(void *ctx, double t, const double *y, double *g, double *q)
{
    double s = ((gbm *)ctx)->sigma;
    (void)t;
    g[0] = s * y[0];
    q[0] = s * s * y[0]; /* g dg/dy */
    return 0;
}

static sde_problem gbm_problem(gbm *c, sde_calculus cal)
{
    sde_problem p = {.dim = 1, .m = 1, .noise = SDE_NOISE_DIAGONAL, .calculus = cal,
                     .drift = gbm_f, .diffusion = gbm_g, .diffusion_d = gbm_gq, .ctx = c};
    return p;
}

/* y(T) for n samples of seed `seed` into out. */
static void solve_samples(const sde_problem *p, const char *method, double h, uint64_t seed,
                          const double *y0, double T, size_t n, double *out)
{
    const struct sde_method *me = sde_method_find(method);
    ck_assert_ptr_nonnull(me);
    ck_assert_int_eq(sde_method_check(me, p->calculus, p->noise, NULL), ERR_OK);
    sde_ws *w;
    ck_assert_int_eq(sde_ws_new(&w, p->dim, p->m, NULL), ERR_OK);
    for (size_t k = 0; k < n; k++) {
        err e;
        err_clear(&e);
        ck_assert_int_eq(sde_solve(p, me, h, seed, (uint32_t)k, 0, y0, &T, 1, NULL,
                                   out + k * p->dim, w, NULL, NULL, NULL, &e),
                         ERR_OK);
    }
    sde_ws_free(w);
}

static void moments(const double *x, size_t n, size_t stride, double *mean, double *var)
{
    double s = 0, s2 = 0;
    for (size_t k = 0; k < n; k++)
        s += x[k * stride];
    *mean = s / n;
    for (size_t k = 0; k < n; k++)
        s2 += (x[k * stride] - *mean) * (x[k * stride] - *mean);
    *var = s2 / (n - 1);
}

START_TEST(test_gbm_ito_moments)
{
    /* Ito GBM: E y = y0 e^{mu T}, Var y = y0^2 e^{2 mu T}(e^{sigma^2 T} - 1).
     * Euler-Maruyama's exact discrete moments are y0 (1 + mu h)^n and
     * y0^2 ((1 + mu h)^2 + sigma^2 h)^n: the bias is their distance to the
     * continuous ones, added to 5 standard errors. */
    gbm c = {0.5, 0.4};
    sde_problem p = gbm_problem(&c, SDE_ITO);
    const size_t n = 8000;
    const double y0 = 1.0, T = 1.0, h = 1.0 / 64;
    const char *methods[] = {"euler_maruyama", "milstein"};
    double *y = malloc(n * sizeof *y);
    for (size_t mi = 0; mi < 2; mi++) {
        solve_samples(&p, methods[mi], h, 1234, &y0, T, n, y);
        double mean, var;
        moments(y, n, 1, &mean, &var);
        double m_ex = y0 * exp(c.mu * T);
        double v_ex = y0 * y0 * exp(2 * c.mu * T) * (exp(c.sigma * c.sigma * T) - 1);
        double steps = T / h;
        double m_d = y0 * pow(1 + c.mu * h, steps);
        double v_d = y0 * y0 * pow(pow(1 + c.mu * h, 2) + c.sigma * c.sigma * h, steps) - m_d * m_d;
        double se_m = sqrt(v_ex / n);
        double kurt_m4 = 3 * v_ex * v_ex; /* a bound of the lognormal's: generous below */
        double se_v = sqrt((kurt_m4 * 10) / n);
        ck_assert_msg(fabs(mean - m_ex) <= 5 * se_m + fabs(m_d - m_ex), "%s mean %g vs %g",
                      methods[mi], mean, m_ex);
        ck_assert_msg(fabs(var - v_ex) <= 5 * se_v + fabs(v_d - v_ex) + 1e-3, "%s var %g vs %g",
                      methods[mi], var, v_ex);
        /* and Euler-Maruyama's sharper: its own discrete mean */
        if (mi == 0) ck_assert_double_le(fabs(mean - m_d), 5 * se_m);
    }
    free(y);
}
END_TEST

START_TEST(test_gbm_stratonovich_mean)
{
    /* Stratonovich GBM: E y = y0 e^{(mu + sigma^2/2) T} */
    gbm c = {0.5, 0.4};
    sde_problem p = gbm_problem(&c, SDE_STRATONOVICH);
    const size_t n = 8000;
    const double y0 = 1.0, T = 1.0, h = 1.0 / 128;
    const char *methods[] = {"euler_heun", "milstein", "reversible_heun"};
    double *y = malloc(n * sizeof *y);
    double m_ex = y0 * exp((c.mu + 0.5 * c.sigma * c.sigma) * T);
    double v_ex = y0 * y0 * exp(2 * c.mu * T + c.sigma * c.sigma * T) * (exp(c.sigma * c.sigma * T) - 1);
    for (size_t mi = 0; mi < 3; mi++) {
        solve_samples(&p, methods[mi], h, 99, &y0, T, n, y);
        double mean, var;
        moments(y, n, 1, &mean, &var);
        /* weak order 1: a bias of O(h), bounded here by 2 h m_ex (the
         * Euler-type drift's (1 + a h)^n against e^{aT} with a = 0.58) */
        ck_assert_msg(fabs(mean - m_ex) <= 5 * sqrt(v_ex / n) + 2 * h * m_ex, "%s mean %g vs %g",
                      methods[mi], mean, m_ex);
        /* Ito's mean is 5 standard errors away: the calculus is not ignored */
        ck_assert_double_gt(fabs(mean - y0 * exp(c.mu * T)), 5 * sqrt(v_ex / n));
    }
    free(y);
}
END_TEST

/* Least-squares slope of log e against log h. */
static double slope(const double *h, const double *e, size_t n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double x = log(h[i]), y = log(e[i]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

START_TEST(test_strong_order_gbm)
{
    /* against the exact pathwise solution on the same Brownian path:
     * y(T) = y0 exp((mu - sigma^2/2) T + sigma W(T)) (Ito) */
    gbm c = {0.5, 0.8};
    sde_problem p = gbm_problem(&c, SDE_ITO);
    const size_t n = 400, nh = 5;
    const double y0 = 1.0, T = 1.0;
    double hs[5], err_em[5], err_mil[5];
    double *y = malloc(n * sizeof *y);
    for (size_t j = 0; j < nh; j++) {
        hs[j] = ldexp(1.0, -(int)(3 + j));
        for (int mi = 0; mi < 2; mi++) {
            solve_samples(&p, mi ? "milstein" : "euler_maruyama", hs[j], 77, &y0, T, n, y);
            double s = 0;
            for (size_t k = 0; k < n; k++) {
                double w, sc[2];
                brownian_w(77, (uint32_t)k, 1, T, &w, sc);
                double ex = y0 * exp((c.mu - 0.5 * c.sigma * c.sigma) * T + c.sigma * w);
                s += fabs(y[k] - ex);
            }
            (mi ? err_mil : err_em)[j] = s / n;
        }
    }
    double s_em = slope(hs, err_em, nh), s_mil = slope(hs, err_mil, nh);
    ck_assert_msg(s_em > 0.4 && s_em < 0.65, "Euler-Maruyama strong order %g", s_em);
    ck_assert_msg(s_mil > 0.85 && s_mil < 1.2, "Milstein strong order %g", s_mil);
    free(y);
}
END_TEST

/* ---- additive noise: Ornstein-Uhlenbeck dy = -lambda y dt + sigma dW ---- */

typedef struct ou1 {
    double lambda, sigma;
} ou1;

static int ou1_f(void *ctx, double t, const double *y, double *f)
{
    (void)t;
    f[0] = -((ou1 *)ctx)->lambda * y[0];
    return 0;
}
static int ou1_g(void *ctx, double t, const double *y, double *g)
{
    (void)t;
    (void)y;
    g[0] = ((ou1 *)ctx)->sigma;
    return 0;
}

/* SRA1 on this problem is y' = a y + sigma (1 - lambda h / 2) dW - lambda h sigma H
 * (a = 1 - lambda h + (lambda h)^2 / 2, H ~ N(0, h/12)): its exact moments. */
static void sra1_ou_moments(const ou1 *c, double y0, double h, int steps, double *m, double *m2)
{
    double lh = c->lambda * h, a = 1 - lh + 0.5 * lh * lh;
    double v = c->sigma * c->sigma * (pow(1 - 0.5 * lh, 2) * h + lh * lh * h / 12);
    *m = y0;
    *m2 = y0 * y0;
    for (int i = 0; i < steps; i++) {
        *m = a * *m;
        *m2 = a * a * *m2 + v;
    }
}

START_TEST(test_sra1_weak_order)
{
    ou1 c = {1.5, 0.7};
    const double y0 = 1.0, T = 1.0;
    double ex_m = y0 * exp(-c.lambda * T);
    double ex_m2 = ex_m * ex_m + c.sigma * c.sigma / (2 * c.lambda) * (1 - exp(-2 * c.lambda * T));
    /* the method's order: its exact second moment converges as h^2 */
    double hs[4], errs[4];
    for (int j = 0; j < 4; j++) {
        hs[j] = ldexp(1.0, -(2 + j));
        double m, m2;
        sra1_ou_moments(&c, y0, hs[j], 1 << (2 + j), &m, &m2);
        errs[j] = fabs(m2 - ex_m2) + fabs(m - ex_m);
    }
    double s = slope(hs, errs, 4);
    ck_assert_msg(s > 1.8 && s < 2.3, "SRA1 weak order %g", s);
    /* the code is that method: sample moments within 5 standard errors of
     * the scheme's exact ones, at a coarse step where they differ from
     * Euler-Maruyama's by far more */
    sde_problem p = {.dim = 1, .m = 1, .noise = SDE_NOISE_ADDITIVE, .calculus = SDE_ITO,
                     .drift = ou1_f, .diffusion = ou1_g, .ctx = &c};
    const size_t n = 20000;
    const double h = 0.25;
    double *y = malloc(n * sizeof *y);
    solve_samples(&p, "sra1", h, 5, &y0, T, n, y);
    double mean, var;
    moments(y, n, 1, &mean, &var);
    double m, m2;
    sra1_ou_moments(&c, y0, h, 4, &m, &m2);
    double vd = m2 - m * m;
    ck_assert_msg(fabs(mean - m) <= 5 * sqrt(vd / n), "mean %g vs %g", mean, m);
    ck_assert_msg(fabs(var - vd) <= 5 * vd * sqrt(2.0 / n), "var %g vs %g", var, vd);
    /* and at a fine step, the continuous moments */
    solve_samples(&p, "sra1", 1.0 / 32, 6, &y0, T, n, y);
    moments(y, n, 1, &mean, &var);
    double vex = ex_m2 - ex_m * ex_m;
    ck_assert_double_le(fabs(mean - ex_m), 5 * sqrt(vex / n) + 1e-3);
    ck_assert_double_le(fabs(var - vex), 5 * vex * sqrt(2.0 / n) + 1e-3);
    free(y);
}
END_TEST

/* ---- general noise: the SciPy fixture ---- */

typedef struct ou2 {
    double A[2][2], B[2][3];
} ou2;

static int ou2_f(void *ctx, double t, const double *y, double *f)
{
    const ou2 *c = ctx;
    (void)t;
    for (int i = 0; i < 2; i++)
        f[i] = c->A[i][0] * y[0] + c->A[i][1] * y[1];
    return 0;
}
static int ou2_g(void *ctx, double t, const double *y, double *g)
{
    const ou2 *c = ctx;
    (void)t;
    (void)y;
    memcpy(g, c->B, sizeof c->B);
    return 0;
}

START_TEST(test_ou_general_noise)
{
    FILE *fp = tu_source_open("tests/fixtures/sde_ou.json");
    ck_assert_ptr_nonnull(fp);
    json_error_t je;
    json_t *fx = json_loadf(fp, 0, &je);
    fclose(fp);
    ck_assert_ptr_nonnull(fx);
    ou2 c;
    double y0[2];
    for (int i = 0; i < 2; i++) {
        y0[i] = json_number_value(json_array_get(json_object_get(fx, "y0"), i));
        for (int j = 0; j < 2; j++)
            c.A[i][j] = json_number_value(json_array_get(json_array_get(json_object_get(fx, "A"), i), j));
        for (int j = 0; j < 3; j++)
            c.B[i][j] = json_number_value(json_array_get(json_array_get(json_object_get(fx, "B"), i), j));
    }
    json_t *ts = json_object_get(fx, "t");
    const size_t nt = json_array_size(ts), n = 6000;
    double t[3];
    for (size_t i = 0; i < nt; i++)
        t[i] = json_number_value(json_array_get(ts, i));
    const char *methods[] = {"euler_maruyama", "euler_heun", "reversible_heun"};
    double *y = malloc(n * nt * 2 * sizeof *y);
    for (int mi = 0; mi < 3; mi++) {
        sde_problem p = {.dim = 2, .m = 3, .noise = SDE_NOISE_GENERAL,
                         .calculus = mi ? SDE_STRATONOVICH : SDE_ITO, .drift = ou2_f,
                         .diffusion = ou2_g, .ctx = &c};
        const struct sde_method *me = sde_method_find(methods[mi]);
        ck_assert_int_eq(sde_method_check(me, p.calculus, p.noise, NULL), ERR_OK);
        sde_ws *w;
        ck_assert_int_eq(sde_ws_new(&w, 2, 3, NULL), ERR_OK);
        for (size_t k = 0; k < n; k++)
            ck_assert_int_eq(sde_solve(&p, me, 1.0 / 256, 2024, (uint32_t)k, 0, y0, t, nt, NULL,
                                       y + k * nt * 2, w, NULL, NULL, NULL, NULL),
                             ERR_OK);
        sde_ws_free(w);
        for (size_t i = 0; i < nt; i++) {
            json_t *mr = json_array_get(json_object_get(fx, "mean"), i);
            json_t *cr = json_array_get(json_object_get(fx, "cov"), i);
            double S[2][2], mean[2] = {0, 0};
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    S[a][b] = json_number_value(json_array_get(json_array_get(cr, a), b));
            for (size_t k = 0; k < n; k++)
                for (int a = 0; a < 2; a++)
                    mean[a] += y[(k * nt + i) * 2 + a] / n;
            /* Euler's drift: a bias of about h |A|^2 t |y0| / 2 < 1e-2 h-units */
            const double bias = 3e-3;
            for (int a = 0; a < 2; a++) {
                double ref = json_number_value(json_array_get(mr, a));
                ck_assert_msg(fabs(mean[a] - ref) <= 5 * sqrt(S[a][a] / n) + bias,
                              "%s t=%g mean[%d] %g vs %g", methods[mi], t[i], a, mean[a], ref);
            }
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    double cv = 0;
                    for (size_t k = 0; k < n; k++)
                        cv += (y[(k * nt + i) * 2 + a] - mean[a]) * (y[(k * nt + i) * 2 + b] - mean[b]);
                    cv /= n - 1;
                    double se = sqrt((S[a][a] * S[b][b] + S[a][b] * S[a][b]) / n);
                    ck_assert_msg(fabs(cv - S[a][b]) <= 5 * se + bias, "%s t=%g cov[%d][%d] %g vs %g",
                                  methods[mi], t[i], a, b, cv, S[a][b]);
                }
        }
    }
    free(y);
    json_decref(fx);
}
END_TEST

/* ---- reproducibility ---- */

START_TEST(test_times_subset_identical)
{
    /* a time's value does not depend on the other times asked for, nor on
     * their order; every method */
    gbm c = {0.3, 0.5};
    for (size_t mi = 0; mi < sde_n_methods; mi++) {
        const struct sde_method *me = &sde_methods[mi];
        sde_problem p = gbm_problem(&c, me->calculus_mask & 1 ? SDE_ITO : SDE_STRATONOVICH);
        if (me->kernel == SDE_KERNEL_SRA) {
            p.noise = SDE_NOISE_ADDITIVE;
            p.drift = gbm_f;
        }
        sde_ws *w;
        ck_assert_int_eq(sde_ws_new(&w, 1, 1, NULL), ERR_OK);
        const double y0 = 1.0;
        double all_t[] = {0.3, 0.05, 1.0, 0.7, 0.3, 0.0}, all_y[6];
        size_t order[] = {5, 1, 0, 4, 3, 2};
        ck_assert_int_eq(sde_solve(&p, me, 0.01, 3, 4, 0, &y0, all_t, 6, order, all_y, w, NULL,
                                   NULL, NULL, NULL),
                         ERR_OK);
        for (size_t i = 0; i < 6; i++) {
            double one;
            ck_assert_int_eq(sde_solve(&p, me, 0.01, 3, 4, 0, &y0, &all_t[i], 1, NULL, &one, w,
                                       NULL, NULL, NULL, NULL),
                             ERR_OK);
            ck_assert_msg(memcmp(&one, &all_y[i], sizeof one) == 0, "%s t=%g: %.17g vs %.17g",
                          me->name, all_t[i], one, all_y[i]);
        }
        ck_assert(all_y[5] == 1.0);
        ck_assert(memcmp(&all_y[0], &all_y[4], sizeof(double)) == 0);
        sde_ws_free(w);
    }
}
END_TEST

START_TEST(test_output_time_on_grid)
{
    /* a time within rounding of a grid point is that grid point (0.1 * 3
     * is 0.30000000000000004, 30 * 0.01 is 0.3): no extra step; a time
     * 10^-9 past it is a step of its own */
    gbm c = {0.3, 0.5};
    sde_problem p = gbm_problem(&c, SDE_ITO);
    const struct sde_method *me = sde_method_find("euler_maruyama");
    sde_ws *w;
    ck_assert_int_eq(sde_ws_new(&w, 1, 1, NULL), ERR_OK);
    const double y0 = 1.0, h = 0.01;
    double ts[] = {30 * h, 0.1 * 3, 0.3, 0.3 + 1e-9}, y[4];
    ck_assert(ts[0] != ts[1]);
    long steps[4];
    for (int i = 0; i < 4; i++) {
        struct sde_stats st = {0};
        ck_assert_int_eq(sde_solve(&p, me, h, 3, 4, 0, &y0, &ts[i], 1, NULL, &y[i], w, NULL, NULL,
                                   &st, NULL),
                         ERR_OK);
        steps[i] = st.steps;
    }
    ck_assert(memcmp(&y[0], &y[1], sizeof y[0]) == 0 && memcmp(&y[0], &y[2], sizeof y[0]) == 0);
    ck_assert_int_eq(steps[0], 30);
    ck_assert_int_eq(steps[1], 30);
    ck_assert_int_eq(steps[3], 31);
    ck_assert(y[3] != y[0]);
    sde_ws_free(w);
}
END_TEST

START_TEST(test_pathwise_refinement)
{
    /* one path, refined steps: Milstein's y(T) converges to the exact
     * pathwise value on that path (the Brownian path does not change with
     * the step) */
    gbm c = {0.5, 0.8};
    sde_problem p = gbm_problem(&c, SDE_ITO);
    const double y0 = 1.0, T = 1.0;
    double w, sc[2];
    brownian_w(8, 0, 1, T, &w, sc);
    double ex = y0 * exp((c.mu - 0.5 * c.sigma * c.sigma) * T + c.sigma * w);
    double prev = INFINITY;
    for (int j = 4; j <= 12; j += 4) {
        double y;
        solve_samples(&p, "milstein", ldexp(1.0, -j), 8, &y0, T, 1, &y);
        double e = fabs(y - ex);
        ck_assert_msg(e < prev, "h=2^-%d: error %g not below %g", j, e, prev);
        prev = e;
    }
    ck_assert_double_lt(prev, 1e-3);
}
END_TEST

START_TEST(test_pathwise_refinement_grid)
{
    /* steps that are not powers of two (h = 0.1 2^-j): the grid's path
     * changes with h below the grid's dyadic cells, and converges to the
     * tree's path: Milstein's y(T) at T = 0.7 (not a dyadic point) tends to
     * the exact GBM value on the tree's W(0.7), at the rate of the cells'
     * width, h^(1/2) (docs/sde.md) */
    gbm c = {0.5, 0.8};
    sde_problem p = gbm_problem(&c, SDE_ITO);
    const double y0 = 1.0, T = 0.7;
    const size_t n = 200, nh = 6;
    double hs[6], errs[6], *y = malloc(n * sizeof *y);
    for (size_t j = 0; j < nh; j++) {
        hs[j] = ldexp(0.1, -(int)(2 * j));
        solve_samples(&p, "milstein", hs[j], 31, &y0, T, n, y);
        double s = 0;
        for (size_t k = 0; k < n; k++) {
            double w, sc[2];
            brownian_w(31, (uint32_t)k, 1, T, &w, sc);
            s += fabs(y[k] - y0 * exp((c.mu - 0.5 * c.sigma * c.sigma) * T + c.sigma * w));
        }
        errs[j] = s / n;
        if (j > 0) ck_assert_msg(errs[j] < errs[j - 1], "h=%g: %g not below %g", hs[j], errs[j], errs[j - 1]);
    }
    double sl = slope(hs, errs, nh);
    ck_assert_msg(sl > 0.35 && sl < 0.75, "pathwise rate %g", sl);
    free(y);
}
END_TEST

/* ---- errors ---- */

static int blow_f(void *ctx, double t, const double *y, double *f)
{
    (void)ctx;
    (void)t;
    f[0] = y[0] * y[0] * y[0];
    return 0;
}

static int fail_f(void *ctx, double t, const double *y, double *f)
{
    (void)ctx;
    (void)y;
    f[0] = 0;
    return t > 0.5 ? ERR_INTERNAL : 0;
}

static int abort_now(void *ctx)
{
    (void)ctx;
    return ERR_DEADLINE;
}

START_TEST(test_errors)
{
    err e;
    /* method / noise / calculus mismatches name solver.method */
    const struct {
        const char *m;
        sde_calculus c;
        sde_noise n;
    } bad[] = {{"milstein", SDE_ITO, SDE_NOISE_GENERAL},
               {"euler_maruyama", SDE_STRATONOVICH, SDE_NOISE_DIAGONAL},
               {"euler_heun", SDE_ITO, SDE_NOISE_SCALAR},
               {"reversible_heun", SDE_ITO, SDE_NOISE_GENERAL},
               {"sra1", SDE_ITO, SDE_NOISE_DIAGONAL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        ck_assert_int_eq(sde_method_check(sde_method_find(bad[i].m), bad[i].c, bad[i].n, &e),
                         ERR_INVALID);
        ck_assert_str_eq(e.field, "solver.method");
    }
    /* additive noise: either calculus fits every method */
    for (size_t i = 0; i < sde_n_methods; i++)
        for (int cal = 0; cal < 2; cal++)
            ck_assert_int_eq(sde_method_check(&sde_methods[i], cal, SDE_NOISE_ADDITIVE, NULL),
                             ERR_OK);
    ck_assert_ptr_null(sde_method_find("dopri5"));
    ck_assert_int_eq(sde_noise_from_name("general"), SDE_NOISE_GENERAL);
    ck_assert_int_eq(sde_noise_from_name("diag"), -1);
    ck_assert_int_eq(sde_calculus_from_name("stratonovich"), SDE_STRATONOVICH);
    ck_assert_int_eq(sde_calculus_from_name("Ito"), -1);

    gbm c = {0.5, 0.5};
    sde_problem p = gbm_problem(&c, SDE_ITO);
    const struct sde_method *em = sde_method_find("euler_maruyama");
    sde_ws *w;
    ck_assert_int_eq(sde_ws_new(&w, 1, 1, NULL), ERR_OK);
    double y0 = 1, t[2] = {1.0, -0.5}, y[2];
    err_clear(&e);
    ck_assert_int_eq(sde_solve(&p, em, 0.1, 1, 0, 0, &y0, t, 2, NULL, y, w, NULL, NULL, NULL, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "t[1]");
    t[1] = NAN;
    err_clear(&e);
    ck_assert_int_eq(sde_solve(&p, em, 0.1, 1, 0, 0, &y0, t, 2, NULL, y, w, NULL, NULL, NULL, &e),
                     ERR_INVALID);
    err_clear(&e);
    ck_assert_int_eq(sde_solve(&p, em, 0, 1, 0, 0, &y0, t, 1, NULL, y, w, NULL, NULL, NULL, &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.step");
    /* a blown-up state: ERR_SOLVER with the time */
    p.drift = blow_f;
    y0 = 3;
    struct sde_stats st = {0};
    err_clear(&e);
    t[0] = 10;
    ck_assert_int_eq(sde_solve(&p, em, 0.1, 1, 0, 0, &y0, t, 1, NULL, y, w, NULL, NULL, &st, &e),
                     ERR_SOLVER);
    ck_assert(isfinite(st.t_fail) && st.t_fail > 0 && st.t_fail < 10);
    /* a failing callback and the abort hook stop the solve with their code */
    p.drift = fail_f;
    y0 = 1;
    err_clear(&e);
    ck_assert_int_eq(sde_solve(&p, em, 0.1, 1, 0, 0, &y0, t, 1, NULL, y, w, NULL, NULL, NULL, &e),
                     ERR_INTERNAL);
    p.drift = gbm_f;
    err_clear(&e);
    ck_assert_int_eq(
        sde_solve(&p, em, 0.1, 1, 0, 0, &y0, t, 1, NULL, y, w, abort_now, NULL, NULL, &e),
        ERR_DEADLINE);
    sde_ws_free(w);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sde");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 600);
    tcase_add_test(core, test_philox_known_answers);
    tcase_add_test(core, test_normals_moments);
    tcase_add_test(core, test_ndtri_known);
    tcase_add_test(core, test_normals_ks_tails);
    tcase_add_test(core, test_cursor_equals_pure);
    tcase_add_test(core, test_increments_law);
    tcase_add_test(core, test_dyadic_values_exact_refinement);
    tcase_add_test(core, test_grid_cursor_equals_pure);
    tcase_add_test(core, test_grid_increments_law);
    tcase_add_test(core, test_gbm_ito_moments);
    tcase_add_test(core, test_gbm_stratonovich_mean);
    tcase_add_test(core, test_strong_order_gbm);
    tcase_add_test(core, test_sra1_weak_order);
    suite_add_tcase(s, core);
    TCase *ou = tcase_create("ou");
    tcase_set_timeout(ou, 600);
    tcase_add_test(ou, test_ou_general_noise);
    suite_add_tcase(s, ou);
    TCase *rep = tcase_create("limits");
    tcase_set_timeout(rep, 600); /* the refinement runs ~10^6 steps */
    tcase_add_test(rep, test_times_subset_identical);
    tcase_add_test(rep, test_output_time_on_grid);
    tcase_add_test(rep, test_pathwise_refinement);
    tcase_add_test(rep, test_pathwise_refinement_grid);
    suite_add_tcase(s, rep);
    TCase *er = tcase_create("errors");
    tcase_add_test(er, test_errors);
    suite_add_tcase(s, er);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
