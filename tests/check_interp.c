/* check_interp: the interpolation schemes of model/interp.h.
 *
 * References, none of them the code under test:
 *   - exact data: linear data reproduced by every scheme (a natural spline,
 *     a Hermite spline with chord slopes and a broken line through collinear
 *     points are that line); |err| <= 1e-13 (1 + |x|);
 *   - defining properties: every scheme interpolates its knots; natural
 *     cubic: zero second derivative at both ends, C2 at interior knots;
 *     Hermite: the slope at t_k is the backward difference d_(k-1) (d_0 at
 *     t_0), C1; rectilinear: the doubled knots carry (t_k, x_k) and
 *     (t_k+1, x_k), time moves on even segments, data on odd ones;
 *     tolerance 1e-12 (1 + |value|) (rounding of a few operations on data
 *     of size ~1 over knots spread ~0.5 apart);
 *   - SciPy (tests/fixtures/cde_reference.json, "interp"): CubicSpline
 *     natural, CubicHermiteSpline, numpy.interp on each channel's own
 *     observations, with missing values; values and derivatives within
 *     1e-12 (1 + |ref|);
 *   - central finite differences of X for dX and of dX for d2X, h = 1e-6 at
 *     points at least 1e-3 from a knot: error ~ h^2 |X'''| / 6 + eps |X| / h,
 *     so |dX - fd| <= 1e-7 (1 + |dX|). */
#include "cde_testlib.h"
#include "model/interp.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_EXACT 1e-13
#define TOL_PROP 1e-12
#define TOL_SCIPY 1e-12
#define TOL_FD 1e-7

static const model_interp all_schemes[] = {MODEL_INTERP_LINEAR, MODEL_INTERP_RECTILINEAR,
                                           MODEL_INTERP_NATURAL_CUBIC, MODEL_INTERP_HERMITE_BDIFF};

/* n irregular increasing times from t0. */
static void random_times(double *t, size_t n, double t0)
{
    t[0] = t0;
    for (size_t i = 1; i < n; i++)
        t[i] = t[i - 1] + ct_urand(0.05, 1.0);
}

static interp *build(model_interp sc, const double *t, size_t n, const double *x, size_t c)
{
    interp *p = NULL;
    err e = {0};
    err_code rc = interp_new(&p, sc, t, n, x, c, 0, &e);
    ck_assert_msg(rc == ERR_OK, "interp_new: %s: %s", e.field, e.message);
    return p;
}

static void assert_close(double got, double want, double tol, const char *what)
{
    ck_assert_msg(fabs(got - want) <= tol * (1 + fabs(want)), "%s: got %.17g, want %.17g", what,
                  got, want);
}

/* ---- exact data ------------------------------------------------------------ */

START_TEST(test_linear_data_exact)
{
    /* channel 0 = t (needed by rectilinear), channels 1, 2: a + b t */
    enum { N = 25, C = 3 };
    const double a[C] = {0, 1.5, -2.0}, b[C] = {1, -0.75, 3.25};
    double t[N], x[N * C];
    random_times(t, N, -3.0);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < C; j++)
            x[i * C + j] = a[j] + b[j] * t[i];
    for (size_t k = 0; k < 4; k++) {
        const model_interp sc = all_schemes[k];
        if (sc == MODEL_INTERP_RECTILINEAR) continue; /* not a straight line in s; below */
        interp *p = build(sc, t, N, x, C);
        for (int r = 0; r < 500; r++) {
            double s = ct_urand(t[0], t[N - 1]), X[C], dX[C], d2X[C];
            interp_eval(p, s, X, dX, d2X);
            for (size_t j = 0; j < C; j++) {
                assert_close(X[j], a[j] + b[j] * s, TOL_EXACT, "X");
                assert_close(dX[j], b[j], TOL_EXACT * 10, "dX");
                ck_assert_msg(fabs(d2X[j]) <= 1e-11, "d2X = %g", d2X[j]);
            }
        }
        interp_free(p);
    }
}
END_TEST

/* With NaNs in a linear channel, linear and Hermite fill with points on the
 * line, so the path is still the line between the first and last
 * observation and constant outside. */
START_TEST(test_linear_data_with_gaps)
{
    enum { N = 12, C = 2 };
    double t[N], x[N * C];
    random_times(t, N, 0.5);
    for (size_t i = 0; i < N; i++) {
        x[i * C] = t[i];
        x[i * C + 1] = 2 - 0.5 * t[i];
    }
    const size_t gaps[] = {0, 1, 4, 5, 6, 9, 11}; /* leading, interior, trailing */
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++)
        x[gaps[g] * C + 1] = NAN;
    const double lo = t[2], hi = t[10];
    for (int sc = 0; sc < 2; sc++) {
        interp *p = build(sc ? MODEL_INTERP_HERMITE_BDIFF : MODEL_INTERP_LINEAR, t, N, x, C);
        for (int r = 0; r < 300; r++) {
            double s = ct_urand(t[0], t[N - 1]), X[C];
            interp_eval(p, s, X, NULL, NULL);
            double want = 2 - 0.5 * (s < lo ? lo : s > hi ? hi : s);
            if (sc == 0 || (s >= t[3] && s <= hi)) /* Hermite: slope 0 reaches t_2..t_3 */
                assert_close(X[1], want, TOL_EXACT, "filled line");
        }
        interp_free(p);
    }
}
END_TEST

/* ---- defining properties ----------------------------------------------------- */

START_TEST(test_knots_interpolated)
{
    enum { N = 15, C = 3 };
    double t[N], x[N * C];
    random_times(t, N, 1.0);
    for (size_t i = 0; i < N * C; i++)
        x[i] = ct_urand(-2, 2);
    for (size_t i = 0; i < N; i++)
        x[i * C] = t[i];
    for (size_t k = 0; k < 4; k++) {
        interp *p = build(all_schemes[k], t, N, x, C);
        for (size_t i = 0; i < N; i++) {
            double X[C];
            interp_eval(p, interp_param(p, t[i]), X, NULL, NULL);
            for (size_t j = 0; j < C; j++)
                assert_close(X[j], x[i * C + j], TOL_PROP, "knot value");
        }
        interp_free(p);
    }
}
END_TEST

/* One-sided values just left and right of s: evaluate both segments' cubics. */
static void sides(const interp *p, size_t k, size_t j, double *left, double *right)
{
    const double *kn = interp_knots(p);
    double cl[4], cr[4], h = kn[k] - kn[k - 1];
    interp_coeffs(p, k - 1, j, cl);
    interp_coeffs(p, k, j, cr);
    left[0] = cl[0] + h * (cl[1] + h * (cl[2] + h * cl[3]));
    left[1] = cl[1] + h * (2 * cl[2] + 3 * cl[3] * h);
    left[2] = 2 * cl[2] + 6 * cl[3] * h;
    right[0] = cr[0];
    right[1] = cr[1];
    right[2] = 2 * cr[2];
}

START_TEST(test_natural_cubic_properties)
{
    enum { N = 30, C = 2 };
    double t[N], x[N * C];
    random_times(t, N, -1.0);
    for (size_t i = 0; i < N * C; i++)
        x[i] = ct_urand(-1, 1);
    x[3 * C + 1] = x[4 * C + 1] = x[17 * C + 1] = NAN; /* own knots for channel 1 */
    interp *p = build(MODEL_INTERP_NATURAL_CUBIC, t, N, x, C);
    ck_assert_uint_eq(interp_n_jumps(p), 0);
    double d2[C];
    interp_eval(p, t[0], NULL, NULL, d2);
    for (size_t j = 0; j < C; j++)
        ck_assert_msg(fabs(d2[j]) <= 1e-12, "d2X(t_0) = %g", d2[j]);
    interp_eval(p, t[N - 1], NULL, NULL, d2);
    for (size_t j = 0; j < C; j++)
        ck_assert_msg(fabs(d2[j]) <= 1e-11, "d2X(t_n-1) = %g", d2[j]);
    for (size_t k = 1; k + 1 < N; k++)
        for (size_t j = 0; j < C; j++) {
            double l[3], r[3];
            sides(p, k, j, l, r);
            for (int d = 0; d < 3; d++)
                assert_close(l[d], r[d], 1e-10, "C2 at a knot");
        }
    interp_free(p);
}
END_TEST

START_TEST(test_hermite_slopes)
{
    enum { N = 20, C = 2 };
    double t[N], x[N * C];
    random_times(t, N, 0.0);
    for (size_t i = 0; i < N * C; i++)
        x[i] = ct_urand(-1, 1);
    interp *p = build(MODEL_INTERP_HERMITE_BDIFF, t, N, x, C);
    ck_assert_uint_eq(interp_n_jumps(p), 0);
    for (size_t j = 0; j < C; j++) {
        double dx[C];
        interp_eval(p, t[0], NULL, dx, NULL);
        assert_close(dx[j], (x[C + j] - x[j]) / (t[1] - t[0]), TOL_PROP, "slope d_0 at t_0");
        for (size_t k = 1; k + 1 < N; k++) {
            double l[3], r[3];
            sides(p, k, j, l, r);
            double bd = (x[k * C + j] - x[(k - 1) * C + j]) / (t[k] - t[k - 1]);
            assert_close(l[1], bd, 1e-11, "left slope = backward difference");
            assert_close(r[1], bd, TOL_PROP, "right slope = backward difference");
            assert_close(l[0], r[0], TOL_PROP, "C0");
        }
        interp_eval(p, t[N - 1], NULL, dx, NULL); /* the last knot: slope d_(n-2) */
        assert_close(dx[j], (x[(N - 1) * C + j] - x[(N - 2) * C + j]) / (t[N - 1] - t[N - 2]),
                     1e-11, "end slope");
    }
    interp_free(p);
}
END_TEST

START_TEST(test_rectilinear_grid)
{
    enum { N = 6, C = 3 };
    double t[N] = {0.5, 0.9, 2.0, 2.1, 3.5, 4.0}, x[N * C];
    for (size_t i = 0; i < N; i++) {
        x[i * C] = t[i];
        x[i * C + 1] = (double)i * i;
        x[i * C + 2] = i == 2 ? NAN : -(double)i; /* carried forward over t_2 */
    }
    x[0 * C + 1] = NAN; /* leading gap: the first value, 1, backfilled */
    interp *p = build(MODEL_INTERP_RECTILINEAR, t, N, x, C);
    ck_assert_uint_eq(interp_n_knots(p), 2 * N - 1);
    ck_assert_uint_eq(interp_n_jumps(p), 2 * N - 3);
    for (size_t i = 0; i < interp_n_knots(p); i++)
        ck_assert_double_eq(interp_knots(p)[i], (double)i);
    for (size_t i = 0; i < interp_n_jumps(p); i++)
        ck_assert_double_eq(interp_jumps(p)[i], (double)(i + 1));
    double held1 = 1, held2 = 0;
    for (size_t k = 0; k < N; k++) {
        ck_assert_double_eq(interp_param(p, t[k]), 2.0 * k);
        if (k > 0) held1 = x[k * C + 1];
        if (!isnan(x[k * C + 2])) held2 = x[k * C + 2];
        double X[C], dX[C];
        interp_eval(p, 2.0 * k, X, NULL, NULL);
        assert_close(X[0], t[k], TOL_EXACT, "time at 2k");
        assert_close(X[1], held1, TOL_EXACT, "data at 2k");
        assert_close(X[2], held2, TOL_EXACT, "carried data at 2k");
        if (k + 1 == N) break;
        /* time stretch: [2k, 2k+1], only channel 0 moves */
        double mid_t = t[k] + 0.25 * (t[k + 1] - t[k]);
        assert_close(interp_param(p, mid_t), 2.0 * k + 0.25, TOL_EXACT, "param");
        interp_eval(p, 2.0 * k + 0.25, X, dX, NULL);
        assert_close(X[0], mid_t, TOL_EXACT, "time on its stretch");
        assert_close(dX[0], t[k + 1] - t[k], TOL_EXACT, "dt/ds");
        ck_assert_double_eq(dX[1], 0);
        ck_assert_double_eq(dX[2], 0);
        /* data stretch: [2k+1, 2k+2], time held at t_k+1 */
        interp_eval(p, 2.0 * k + 1.5, X, dX, NULL);
        assert_close(X[0], t[k + 1], TOL_EXACT, "time held");
        ck_assert_double_eq(dX[0], 0);
    }
    interp_free(p);
}
END_TEST

START_TEST(test_linear_jumps)
{
    enum { N = 5 };
    double t[N] = {0, 1, 3, 4, 7}, x[N] = {0, 1, 0, 2, 1};
    interp *p = build(MODEL_INTERP_LINEAR, t, N, x, 1);
    ck_assert_uint_eq(interp_n_jumps(p), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_double_eq(interp_jumps(p)[i], t[i + 1]);
    /* torchcde's convention: at an interior knot the left segment */
    double dx;
    interp_deriv(p, 1.0, NULL, &dx);
    ck_assert_double_eq(dx, 1.0);
    interp_deriv(p, nextafter(1.0, 2.0), NULL, &dx);
    ck_assert_double_eq(dx, -0.5);
    interp_deriv(p, 0.0, NULL, &dx);
    ck_assert_double_eq(dx, 1.0);
    interp_free(p);
    double t2[2] = {0, 1}, x2[2] = {0, 1};
    p = build(MODEL_INTERP_LINEAR, t2, 2, x2, 1);
    ck_assert_uint_eq(interp_n_jumps(p), 0);
    ck_assert_ptr_null(interp_jumps(p));
    interp_free(p);
}
END_TEST

START_TEST(test_single_observation)
{
    double t = 2.5, x[2] = {2.5, -1};
    for (size_t k = 0; k < 4; k++) {
        interp *p = build(all_schemes[k], &t, 1, x, 2);
        double X[2], dX[2];
        interp_eval(p, interp_param(p, t), X, dX, NULL);
        ck_assert_double_eq(X[0], 2.5);
        ck_assert_double_eq(X[1], -1);
        ck_assert_double_eq(dX[0], 0);
        ck_assert_double_eq(dX[1], 0);
        ck_assert_uint_eq(interp_n_jumps(p), 0);
        interp_free(p);
    }
}
END_TEST

/* ---- finite differences -------------------------------------------------------- */

START_TEST(test_derivatives_fd)
{
    enum { N = 12, C = 3 };
    double t[N], x[N * C];
    random_times(t, N, 0.0);
    for (size_t i = 0; i < N; i++) {
        x[i * C] = t[i];
        for (size_t j = 1; j < C; j++)
            x[i * C + j] = ct_urand(-1, 1);
    }
    x[4 * C + 1] = x[5 * C + 2] = x[0 * C + 2] = NAN;
    const double h = 1e-6;
    for (size_t k = 0; k < 4; k++) {
        interp *p = build(all_schemes[k], t, N, x, C);
        const double *kn = interp_knots(p);
        for (size_t seg = 0; seg + 1 < interp_n_knots(p); seg++)
            for (int r = 0; r < 5; r++) {
                double s = ct_urand(kn[seg] + 1e-3, kn[seg + 1] - 1e-3);
                double X[C], dX[C], d2X[C], Xp[C], Xm[C], dXp[C], dXm[C];
                interp_eval(p, s, X, dX, d2X);
                interp_eval(p, s + h, Xp, dXp, NULL);
                interp_eval(p, s - h, Xm, dXm, NULL);
                for (size_t j = 0; j < C; j++) {
                    assert_close(dX[j], (Xp[j] - Xm[j]) / (2 * h), TOL_FD, "dX vs FD");
                    assert_close(d2X[j], (dXp[j] - dXm[j]) / (2 * h), TOL_FD, "d2X vs FD");
                }
                double d[C];
                interp_deriv(p, s, NULL, d);
                for (size_t j = 0; j < C; j++)
                    ck_assert_double_eq(d[j], dX[j]);
            }
        interp_free(p);
    }
}
END_TEST

/* ---- SciPy --------------------------------------------------------------------- */

START_TEST(test_scipy_fixture)
{
    const json_t *cases = json_object_get(ct_fixture(), "interp");
    ck_assert_uint_ge(json_array_size(cases), 8);
    size_t idx;
    const json_t *cs;
    json_array_foreach(cases, idx, cs)
    {
        model_interp sc;
        ck_assert_int_eq(
            model_interp_from_name(json_string_value(json_object_get(cs, "scheme")), &sc, NULL),
            ERR_OK);
        size_t n, n2, c, ns, r, cc;
        double *t = ct_vec(json_object_get(cs, "t"), &n);
        double *x = ct_mat(json_object_get(cs, "x"), &n2, &c);
        double *s = ct_vec(json_object_get(cs, "s"), &ns);
        double *X = ct_mat(json_object_get(cs, "X"), &r, &cc);
        double *dX = ct_mat(json_object_get(cs, "dX"), &r, &cc);
        const json_t *jd2 = json_object_get(cs, "d2X");
        double *d2X = json_is_array(jd2) ? ct_mat(jd2, &r, &cc) : NULL;
        ck_assert_uint_eq(n, n2);
        interp *p = build(sc, t, n, x, c);
        double got[3 * 16];
        ck_assert_uint_le(c, 16);
        for (size_t i = 0; i < ns; i++) {
            interp_eval(p, s[i], got, got + c, got + 2 * c);
            double ex = ct_rel_err(got, X + i * c, c), edx = ct_rel_err(got + c, dX + i * c, c);
            double ed2 = d2X ? ct_rel_err(got + 2 * c, d2X + i * c, c) : 0;
            ck_assert_msg(ex <= TOL_SCIPY && edx <= TOL_SCIPY && ed2 <= 1e-11,
                          "case %zu (%s) point %zu: X %g dX %g d2X %g", idx, model_interp_name(sc),
                          i, ex, edx, ed2);
        }
        interp_free(p);
        free(t);
        free(x);
        free(s);
        free(X);
        free(dX);
        free(d2X);
    }
}
END_TEST

/* ---- errors --------------------------------------------------------------------- */

static void expect_error(model_interp sc, const double *t, size_t n, const double *x, size_t c,
                         size_t tc, const char *field)
{
    interp *p = (interp *)1;
    err e = {0};
    err_code rc = interp_new(&p, sc, t, n, x, c, tc, &e);
    ct_assert_err(rc, e, ERR_INVALID, field);
    ck_assert_ptr_null(p);
}

START_TEST(test_errors)
{
    double t[4] = {0, 1, 2, 3}, x[8] = {0, 1, 1, 2, 2, 3, 3, 4};
    double tb[4] = {0, 1, 1, 3};
    expect_error(MODEL_INTERP_LINEAR, tb, 4, x, 2, 0, "t[2]");
    tb[2] = NAN;
    expect_error(MODEL_INTERP_LINEAR, tb, 4, x, 2, 0, "t[2]");
    tb[2] = 0.5;
    expect_error(MODEL_INTERP_LINEAR, tb, 4, x, 2, 0, "t[2]");
    double xb[8];
    memcpy(xb, x, sizeof x);
    xb[5] = INFINITY;
    expect_error(MODEL_INTERP_NATURAL_CUBIC, t, 4, xb, 2, 0, "x[2][1]");
    for (size_t i = 0; i < 4; i++)
        xb[2 * i + 1] = NAN;
    for (size_t k = 0; k < 4; k++)
        expect_error(all_schemes[k], t, 4, xb, 2, 0, "x[*][1]");
    expect_error(MODEL_INTERP_RECTILINEAR, t, 4, x, 2, INTERP_NO_TIME_CHANNEL, "time_channel");
    memcpy(xb, x, sizeof x);
    xb[2] = NAN; /* the time channel may not be missing */
    expect_error(MODEL_INTERP_RECTILINEAR, t, 4, xb, 2, 0, "time_channel");
    expect_error(MODEL_INTERP_LINEAR, t, 0, x, 2, 0, "t");
    expect_error(MODEL_INTERP__COUNT, t, 4, x, 2, 0, "scheme");
}
END_TEST

static Suite *interp_suite(void)
{
    Suite *s = suite_create("interp");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_linear_data_exact);
    tcase_add_test(core, test_linear_data_with_gaps);
    tcase_add_test(core, test_knots_interpolated);
    tcase_add_test(core, test_natural_cubic_properties);
    tcase_add_test(core, test_hermite_slopes);
    tcase_add_test(core, test_rectilinear_grid);
    tcase_add_test(core, test_linear_jumps);
    tcase_add_test(core, test_single_observation);
    tcase_add_test(core, test_derivatives_fd);
    tcase_add_test(core, test_scipy_fixture);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    int rc = tu_suite_run(interp_suite());
    ct_fixture_free();
    return rc;
}
