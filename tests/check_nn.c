/* check_nn: activations, the vectorised elementary functions and MLPs.
 *
 * References are independent of the code under test: networks computed by
 * hand, long double libm (tanhl, expl, expm1l, log1pl, sinl) for values,
 * central finite differences for every derivative, VJP, JVP and Jacobian.
 *
 * Tolerances. Values: 4 ulp. Derivatives of the activations: central
 * differences in long double, |d - fd| <= 1e-8 (1 + |d|). Network
 * derivatives: central differences in double with h = 1e-6, whose error is
 * about h^2 f''' / 6 + eps |f| / h ~ 1e-10; we require
 * |analytic - fd| <= 1e-7 max(1, |analytic|). Batch against per-item
 * evaluation (GEMM against hand loops: different summation order):
 * 1e-13 (1 + |y|). */
#include "nn/act.h"
#include "nn/mlp.h"
#include "nn/vmath.h"
#include "testutil.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

static mlp *make_mlp(size_t sd, bool time, size_t n, const mlp_layer *layers)
{
    mlp_spec s = {.state_dim = sd, .time_input = time, .n_layers = n, .layers = layers};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, &s, &e) == ERR_OK, "mlp_new: %s: %s", e.field, e.message);
    return m;
}

static mlp_ws *make_ws(const mlp *m, size_t batch)
{
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_ws_new(&ws, m, batch, NULL), ERR_OK);
    return ws;
}

static void set_params(mlp *m, const double *p, size_t n)
{
    ck_assert_uint_eq(mlp_n_params(m), n);
    memcpy(mlp_params(m), p, n * sizeof *p);
}

static void random_params(mlp *m, double scale)
{
    double *p = mlp_params(m);
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = urand(-scale, scale);
}

#define ck_near(a, b, tol)                                                                         \
    ck_assert_msg(fabs((double)(a) - (double)(b)) <= (tol), "%s = %.17g, expected %.17g (tol %g)", \
                  #a, (double)(a), (double)(b), (double)(tol))

/* x87 long double carries 64 bits; valgrind emulates it with 53, which
 * makes it no reference at all. Detect that and loosen what depends on it. */
static bool long_double_is_extended(void)
{
    volatile long double a = 1.0L;
    a += 0x1p-60L;
    return a != 1.0L;
}

/* ---- hand-computed networks ---------------------------------------------------- */

START_TEST(hand_network)
{
    /* 2 -> 2 (tanh) -> 1: z1 = (0.5 - 2 + 0.1, 2 + 0.5 - 0.2) = (-1.4, 2.3),
     * y = 1.5 tanh(-1.4) - 0.5 tanh(2.3) + 0.3 (Python math.tanh, repr). */
    const mlp_layer L[] = {{MLP_LINEAR, 2, 2, ACT_TANH}, {MLP_LINEAR, 2, 1, ACT_IDENTITY}};
    mlp *m = make_mlp(2, false, 2, L);
    const double p[] = {0.5, -1.0, 2.0, 0.25, 0.1, -0.2, 1.5, -0.5, 0.3};
    set_params(m, p, 9);
    mlp_ws *ws = make_ws(m, 4);
    double x[2] = {1.0, 2.0}, y[1];
    mlp_forward(m, ws, x, 123.0 /* ignored */, y);
    ck_near(y[0], -1.5180756704364895, 1e-15);
    ck_assert_uint_eq(mlp_state_dim(m), 2);
    ck_assert_uint_eq(mlp_output_dim(m), 1);
    ck_assert(!mlp_time_input(m));
    mlp_ws_free(ws);
    mlp_free(m);
}
END_TEST

START_TEST(hand_network_time_input)
{
    /* [x; t] -> (x + 2t, 3x + 4t + 1) -> squared -> summed: exact in binary. */
    const mlp_layer L[] = {{MLP_LINEAR, 2, 2, ACT_IDENTITY},
                           {MLP_ELEMENTWISE, 0, 0, ACT_SQUARE},
                           {MLP_LINEAR, 2, 1, ACT_IDENTITY}};
    mlp *m = make_mlp(1, true, 3, L);
    const double p[] = {1, 2, 3, 4, 0, 1, 1, 1, 0};
    set_params(m, p, 9);
    mlp_ws *ws = make_ws(m, 1);
    double x = 0.5, y;
    mlp_forward(m, ws, &x, 0.25, &y);
    ck_assert_double_eq(y, 1.0 + 12.25);
    /* the time input goes through leading elementwise layers too:
     * cube([x; t]) -> x^3 + 10 t^3 */
    const mlp_layer C[] = {{MLP_ELEMENTWISE, 0, 0, ACT_CUBE}, {MLP_LINEAR, 2, 1, ACT_IDENTITY}};
    mlp *c = make_mlp(1, true, 2, C);
    const double q[] = {1, 10, 0};
    set_params(c, q, 3);
    mlp_ws *wc = make_ws(c, 1);
    x = 2.0;
    mlp_forward(c, wc, &x, 0.5, &y);
    ck_assert_double_eq(y, 8.0 + 1.25);
    mlp_ws_free(wc);
    mlp_free(c);
    mlp_ws_free(ws);
    mlp_free(m);
}
END_TEST

START_TEST(pytorch_layout)
{
    /* nn.Linear(2, 3): weight [[1, 2], [3, 4], [5, 6]] (out x in), bias
     * [0.5, 0.25, 0.125]; y = W x + b for x = (1, 10). */
    const mlp_layer L[] = {{MLP_LINEAR, 2, 3, ACT_IDENTITY}};
    mlp *m = make_mlp(2, false, 1, L);
    const double p[] = {1, 2, 3, 4, 5, 6, 0.5, 0.25, 0.125};
    set_params(m, p, 9);
    mlp_ws *ws = make_ws(m, 16);
    double x[32] = {1, 10, -1, 0}, y[48];
    mlp_forward(m, ws, x, 0, y);
    ck_assert_double_eq(y[0], 21.5);
    ck_assert_double_eq(y[1], 43.25);
    ck_assert_double_eq(y[2], 65.125);
    for (size_t n = 2; n <= 16; n += 14) { /* hand loops, then cblas_dgemm */
        ck_assert(2 < MLP_GEMM_MIN_BATCH && 16 >= MLP_GEMM_MIN_BATCH);
        mlp_forward_batch(m, ws, n, x, 0, y);
        ck_assert_double_eq(y[0], 21.5);
        ck_assert_double_eq(y[2], 65.125);
        ck_assert_double_eq(y[3], -0.5);
        ck_assert_double_eq(y[4], -2.75);
        ck_assert_double_eq(y[5], -4.875);
        if (n > 2) ck_assert_double_eq(y[3 * n - 1], 0.125); /* x = 0: the bias */
    }
    mlp_ws_free(ws);
    mlp_free(m);

    /* offsets: W then b per linear layer, elementwise layers own nothing */
    const mlp_layer M[] = {{MLP_ELEMENTWISE, 0, 0, ACT_CUBE},
                           {MLP_LINEAR, 2, 3, ACT_IDENTITY},
                           {MLP_ELEMENTWISE, 3, 3, ACT_TANH},
                           {MLP_LINEAR, 3, 4, ACT_RELU},
                           {MLP_LINEAR, 4, 1, ACT_IDENTITY}};
    m = make_mlp(2, false, 5, M);
    ck_assert_uint_eq(mlp_n_params(m), 9 + 16 + 5);
    const size_t off[] = {0, 0, 9, 9, 25};
    for (size_t i = 0; i < 5; i++)
        ck_assert_uint_eq(mlp_layer_offset(m, i), off[i]);
    ck_assert_uint_eq(mlp_layer_at(m, 2).in, 3);
    ck_assert_uint_eq(mlp_layer_at(m, 0).out, 2);
    ck_assert_uint_eq(mlp_max_width(m), 4);
    ck_assert_uint_eq(mlp_n_layers(m), 5);
    mlp_free(m);
}
END_TEST

/* ---- activations: values and derivatives ---------------------------------------- */

static long double ref_sigmoid(long double x)
{
    return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x));
}

static long double ref_act(act_kind a, long double z)
{
    switch (a) {
    case ACT_IDENTITY:
        return z;
    case ACT_TANH:
        return tanhl(z);
    case ACT_RELU:
        return z > 0 ? z : 0;
    case ACT_SOFTPLUS:
        return z > 0 ? z + log1pl(expl(-z)) : log1pl(expl(z));
    case ACT_SIGMOID:
        return ref_sigmoid(z);
    case ACT_ELU:
        return z > 0 ? z : expm1l(z);
    case ACT_SILU:
        return z * ref_sigmoid(z);
    case ACT_CUBE:
        return z * z * z;
    case ACT_SQUARE:
        return z * z;
    case ACT_SIN:
        return sinl(z);
    case ACT__COUNT:
        break;
    }
    return NAN;
}

START_TEST(activation_names)
{
    for (int a = 0; a < ACT__COUNT; a++) {
        act_kind got;
        ck_assert_int_eq(act_from_name(act_name((act_kind)a), &got, NULL), ERR_OK);
        ck_assert_int_eq(got, a);
    }
    ck_assert_str_eq(act_name(ACT_SILU), "silu");
    ck_assert_str_eq(act_name((act_kind)99), "?");
    err e;
    err_clear(&e);
    act_kind got;
    ck_assert_int_eq(act_from_name("gelu", &got, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "");
    ck_assert_ptr_nonnull(strstr(e.message, "\"gelu\""));
    err_prefix_field(&e, "layers[1].activation");
    ck_assert_str_eq(e.field, "layers[1].activation");
    ck_assert_int_eq(act_from_name(NULL, &got, NULL), ERR_INVALID);
    ck_assert_int_eq(act_from_name("Tanh", &got, NULL), ERR_INVALID);
}
END_TEST

START_TEST(activation_values)
{
    double ulps = long_double_is_extended() ? 4 : 32;
    enum { N = 4001 };
    static double z[N], a[N];
    for (int i = 0; i < N; i++)
        z[i] = -12.0 + 24.0 * i / (N - 1);
    for (int act = 0; act < ACT__COUNT; act++) {
        act_apply((act_kind)act, N, z, a);
        for (int i = 0; i < N; i++) {
            long double r = ref_act((act_kind)act, z[i]);
            double tol = ulps * DBL_EPSILON * fabs((double)r) + 1e-300;
            ck_assert_msg(fabsl(a[i] - r) <= tol, "%s(%.17g) = %.17g, expected %.17Lg",
                          act_name((act_kind)act), z[i], a[i], r);
        }
        /* in place */
        memcpy(a, z, sizeof z);
        act_apply((act_kind)act, N, a, a);
        ck_assert(fabsl(a[7] - ref_act((act_kind)act, z[7])) <= 1e-14 * (1 + fabs(a[7])));
    }
    /* NaN is never masked */
    double nan_in[1] = {NAN}, out[1];
    for (int act = 0; act < ACT__COUNT; act++) {
        act_apply((act_kind)act, 1, nan_in, out);
        ck_assert_msg(isnan(out[0]), "%s(NaN) = %g", act_name((act_kind)act), out[0]);
    }
}
END_TEST

START_TEST(activation_derivatives)
{
    enum { N = 2000 };
    static double z[N], a[N], d[N], g[N];
    for (int i = 0; i < N; i++) {
        z[i] = -9.0 + 18.0 * (i + 0.5) / N; /* never 0: relu and elu have a kink there */
        if (fabs(z[i]) < 1e-3) z[i] = 1e-3;
    }
    for (int act = 0; act < ACT__COUNT; act++) {
        act_kind A = (act_kind)act;
        act_apply(A, N, z, a);
        act_deriv(A, N, z, a, d);
        for (int i = 0; i < N; i++) {
            long double h = 1e-5L * (1 + fabs(z[i]));
            long double fd = (ref_act(A, z[i] + h) - ref_act(A, z[i] - h)) / (2 * h);
            ck_assert_msg(fabsl(d[i] - fd) <= 1e-8 * (1 + fabs(d[i])),
                          "%s'(%.17g) = %.17g, fd %.17Lg", act_name(A), z[i], d[i], fd);
            g[i] = 0.5 + i;
        }
        act_grad(A, N, z, a, g);
        for (int i = 0; i < N; i++)
            ck_assert_double_eq(g[i], (0.5 + i) * d[i]);
        if (act_deriv_from_output(A)) { /* the tape may keep a alone */
            act_deriv(A, N, a, a, g);
            ck_assert(memcmp(g, d, sizeof d) == 0);
        }
        act_deriv2(A, N, z, a, d);
        for (int i = 0; i < N; i++) { /* second central difference in long double */
            long double h = 1e-4L * (1 + fabs(z[i]));
            long double fd2 =
                (ref_act(A, z[i] + h) - 2 * ref_act(A, z[i]) + ref_act(A, z[i] - h)) / (h * h);
            ck_assert_msg(fabsl(d[i] - fd2) <= 1e-6 * (1 + fabs(d[i])),
                          "%s''(%.17g) = %.17g, fd %.17Lg", act_name(A), z[i], d[i], fd2);
        }
    }
    ck_assert(!act_deriv_from_output(ACT_SILU) && !act_deriv_from_output(ACT_CUBE));
    /* closed forms at a few points, PyTorch conventions at the kinks */
    double zz[3] = {-0.75, 0.0, 1.25}, aa[3], dd[3];
    act_apply(ACT_TANH, 3, zz, aa);
    act_deriv(ACT_TANH, 3, zz, aa, dd);
    ck_near(dd[0], 1 / (cosh(0.75) * cosh(0.75)), 1e-15);
    act_apply(ACT_RELU, 3, zz, aa);
    act_deriv(ACT_RELU, 3, zz, aa, dd);
    ck_assert(dd[0] == 0 && dd[1] == 0 && dd[2] == 1);
    act_apply(ACT_ELU, 3, zz, aa);
    act_deriv(ACT_ELU, 3, zz, aa, dd);
    ck_near(dd[0], exp(-0.75), 1e-15);
    ck_assert_double_eq(dd[1], 1.0);
    act_apply(ACT_SIN, 3, zz, aa);
    act_deriv(ACT_SIN, 3, zz, aa, dd);
    ck_near(dd[2], cos(1.25), 1e-16);
}
END_TEST

/* ---- vectorised elementary functions: ulp sweeps ------------------------------ */

/* |y - r| in units in the last place of the double nearest r. */
static double ulp_error(double y, long double r)
{
    double rd = (double)r;
    if (isnan(rd)) return isnan(y) ? 0 : INFINITY;
    if (isinf(rd)) return y == rd ? 0 : INFINITY;
    if (!isfinite(y)) return INFINITY;
    int ex = r == 0 ? -1022 : ilogbl(r);
    if (ex < -1022) ex = -1022;
    return (double)(fabsl((long double)y - r) / ldexpl(1.0L, ex - 52));
}

static long double r_exp(long double x)
{
    return expl(x);
}
static long double r_expm1(long double x)
{
    return expm1l(x);
}
static long double r_log1p(long double x)
{
    return log1pl(x);
}
static long double r_tanh(long double x)
{
    return tanhl(x);
}
static long double r_softplus(long double x)
{
    return ref_act(ACT_SOFTPLUS, x);
}
static long double r_silu(long double x)
{
    /* the limit at -inf (not isinf: valgrind's 64-bit x87 makes LDBL_MAX inf) */
    return x < -(long double)DBL_MAX ? -0.0L : x * ref_sigmoid(x);
}
static long double r_elu(long double x)
{
    return ref_act(ACT_ELU, x);
}

typedef struct sweep {
    const char *name;
    void (*f)(size_t, const double *, double *);
    long double (*ref)(long double);
    double lo, hi;   /* uniform part */
    double mlo, mhi; /* log-uniform magnitudes */
    bool positive;   /* domain x >= 0 (log1p: [0, 1]) */
    double bound;    /* asserted max ulp */
} sweep;

static const sweep sweeps[] = {
    {"exp", vmath_exp, r_exp, -750, 715, 1e-310, 800, false, 1.5},
    {"expm1", vmath_expm1, r_expm1, -50, 50, 1e-310, 800, false, 1.5},
    {"log1p", vmath_log1p, r_log1p, 0, 1, 1e-310, 1, true, 1.5},
    {"tanh", vmath_tanh, r_tanh, -25, 25, 1e-310, 1e6, false, 4},
    {"sigmoid", vmath_sigmoid, ref_sigmoid, -760, 760, 1e-310, 1e6, false, 4},
    {"softplus", vmath_softplus, r_softplus, -760, 760, 1e-310, 1e6, false, 4},
    {"silu", vmath_silu, r_silu, -760, 760, 1e-310, 1e6, false, 4},
    {"elu", vmath_elu, r_elu, -50, 50, 1e-310, 1e6, false, 4},
};

static const double specials[] = {
    0.0,        -0.0,    INFINITY, -INFINITY, NAN,      DBL_MIN, -DBL_MIN, 0x1p-1074,
    -0x1p-1074, DBL_MAX, -DBL_MAX, 1e-300,    -1e-300,  19.0,    19.06,    19.1,
    20.0,       -20.0,   36.0,     37.0,      -36.0,    -37.0,   40.0,     -40.0,
    708.0,      709.78,  709.79,   710.0,     -708.0,   -744.0,  -745.1,   -745.2,
    -746.0,     -800.0,  -1000.0,  0.34657,   -0.34657, 0.69315, 1.0,      0.5,
};

START_TEST(vmath_ulp)
{
    const sweep *s = &sweeps[_i];
    size_t n_lin = 500000, n_log = 400000, n_mid = 100000;
    const char *env = getenv("NN_SWEEP_SCALE"); /* e.g. 0.01 under valgrind */
    if (env) {
        double f = atof(env);
        n_lin = (size_t)(n_lin * f), n_log = (size_t)(n_log * f), n_mid = (size_t)(n_mid * f);
    }
    size_t n_sp = sizeof specials / sizeof specials[0], n = n_lin + n_log + n_mid + n_sp;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    ck_assert(x && y);
    size_t k = 0;
    for (size_t i = 0; i < n_lin; i++)
        x[k++] = s->lo + (s->hi - s->lo) * i / (n_lin - 1);
    for (size_t i = 0; i < n_log; i++) {
        double m = exp(log(s->mlo) + (log(s->mhi) - log(s->mlo)) * i / (n_log - 1));
        x[k++] = (!s->positive && (i & 1)) ? -m : m;
    }
    for (size_t i = 0; i < n_mid; i++)
        x[k++] = s->positive ? urand(0, 1) : urand(-2, 2);
    for (size_t i = 0; i < n_sp; i++) {
        double v = specials[i];
        x[k++] = s->positive ? (isnan(v) ? v : fmin(fabs(v), 1.0)) : v;
    }
    s->f(n, x, y);
    double worst = 0, at = 0;
    bool extended = long_double_is_extended();
    for (size_t i = 0; i < n; i++) {
        long double r = s->ref(x[i]);
        if (!extended && fabsl(r) < 0x1p-960L) continue; /* subnormal intermediates */
        double e = ulp_error(y[i], r);
        if (e > worst) worst = e, at = x[i];
    }
    fprintf(stderr, "vmath_ulp: %-8s %zu points, max %.3f ulp at %.17g\n", s->name, n, worst, at);
    if (extended)
        ck_assert_msg(worst <= s->bound, "%s: %.3f ulp at %.17g (bound %g)", s->name, worst, at,
                      s->bound);
    else
        ck_assert_msg(worst <= 64, "%s: %.3f ulp at %.17g", s->name, worst, at);
    /* in place gives the same */
    const size_t pick[4] = {1, n_lin + 3, n - 1, n_lin / 2};
    double y0[4];
    for (int i = 0; i < 4; i++)
        y0[i] = x[pick[i]];
    s->f(4, y0, y0);
    for (int i = 0; i < 4; i++)
        ck_assert(y0[i] == y[pick[i]] || (isnan(y0[i]) && isnan(y[pick[i]])));
    free(x);
    free(y);
}
END_TEST

START_TEST(vmath_specials)
{
    double in[] = {-0.0, 0.0, INFINITY, -INFINITY}, out[4];
    vmath_tanh(4, in, out);
    ck_assert(out[0] == 0 && signbit(out[0]) && out[1] == 0 && !signbit(out[1]));
    ck_assert(out[2] == 1 && out[3] == -1);
    vmath_sigmoid(4, in, out);
    ck_assert(out[0] == 0.5 && out[2] == 1 && out[3] == 0);
    vmath_softplus(4, in, out);
    ck_assert(out[2] == INFINITY && out[3] == 0);
    vmath_silu(4, in, out);
    ck_assert(out[2] == INFINITY && out[3] == 0 && signbit(out[3]));
    vmath_elu(4, in, out);
    ck_assert(out[2] == INFINITY && out[3] == -1);
    vmath_exp(4, in, out);
    ck_assert(out[0] == 1 && out[2] == INFINITY && out[3] == 0);
    vmath_expm1(4, in, out);
    ck_assert(out[0] == 0 && signbit(out[0]) && out[2] == INFINITY && out[3] == -1);
}
END_TEST

/* vmath_tanh goes through its values in blocks (two loops per block): any
 * length and any position in a block, in place or not, gives each value
 * the bits it gets alone. */
START_TEST(vmath_tanh_blocks)
{
    enum { N = 300 };
    double x[N], y[N], z[N];
    for (size_t i = 0; i < N; i++)
        x[i] = urand(-6, 6) * (i % 7 == 3 ? 1e-9 : 1.0);
    x[5] = -0.0, x[64] = 19.5, x[127] = -25, x[128] = NAN, x[200] = 0x1p-1074;
    double one[N];
    for (size_t i = 0; i < N; i++)
        vmath_tanh(1, x + i, one + i);
    for (size_t n = 1; n <= N; n += (n < 140 ? 1 : 37)) {
        vmath_tanh(n, x, y);
        memcpy(z, x, n * sizeof *z);
        vmath_tanh(n, z, z);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(memcmp(&y[i], &one[i], sizeof y[i]) == 0, "n %zu, value %zu", n, i);
            ck_assert_msg(memcmp(&z[i], &one[i], sizeof z[i]) == 0, "in place, n %zu, value %zu", n, i);
        }
    }
}
END_TEST

/* ---- network derivatives against central finite differences ------------------- */

enum { SD = 3, OD = 2, NB = 13 }; /* batches of 5 (hand loops) and 13 (GEMM) */
_Static_assert(5 < MLP_GEMM_MIN_BATCH && NB >= MLP_GEMM_MIN_BATCH, "both batch paths");

typedef struct fd_net {
    mlp *m;
    mlp_ws *ws;
    bool time;
} fd_net;

/* state 3 (+t) -> 13 (act) -> act elementwise -> 11 (act) -> 2 (identity):
 * the single-state kernels take every path (inputs narrower than 8, and
 * wider with a remainder; rows in blocks of 4 and left over). */
static fd_net fd_make(act_kind act, bool time)
{
    const mlp_layer L[] = {{MLP_LINEAR, SD + time, 13, act},
                           {MLP_ELEMENTWISE, 0, 0, act},
                           {MLP_LINEAR, 13, 11, act},
                           {MLP_LINEAR, 11, OD, ACT_IDENTITY}};
    fd_net f = {make_mlp(SD, time, 4, L), NULL, time};
    random_params(f.m, act == ACT_CUBE ? 0.4 : 0.6);
    f.ws = make_ws(f.m, NB);
    return f;
}

static void fd_free(fd_net *f)
{
    mlp_ws_free(f->ws);
    mlp_free(f->m);
}

/* sum_k v_k . f(x_k, t) over a batch of nb, through per-item forwards */
static double vdotf(fd_net *f, size_t nb, const double *x, double t, const double *v)
{
    double y[OD], s = 0;
    for (size_t k = 0; k < nb; k++) {
        mlp_forward(f->m, f->ws, x + k * SD, t, y);
        for (int o = 0; o < OD; o++)
            s += v[k * OD + o] * y[o];
    }
    return s;
}

/* Central differences with step FD_H. Besides the 1e-7 relative bound, the
 * tolerance carries the rounding error of the difference quotient: f is
 * computed to a few eps relative to mag = sum |v_k y_k| (the size of the
 * terms it sums), so the quotient is off by about 10 eps mag / FD_H. */
#define FD_H 1e-6
#define ck_fd(an, fd, mag, what, i)                                                                \
    ck_assert_msg(fabs((an) - (fd)) <= 1e-7 * fmax(1.0, fabs(an)) + 1e-8 * (mag),                  \
                  "%s, %s[%zu]: analytic %.12g, finite difference %.12g (mag %g)", act_name(act),  \
                  what, (size_t)(i), (double)(an), (double)(fd), (double)(mag))

static double mag_of(size_t n, const double *v, const double *y)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(v ? v[i] * y[i] : y[i]);
    return s;
}

static void check_fd(act_kind act, bool time, size_t nb)
{
    fd_net f = fd_make(act, time);
    size_t np = mlp_n_params(f.m);
    double x[NB * SD], v[NB * OD], y[NB * OD], t = urand(-1, 1);
    for (size_t i = 0; i < nb * SD; i++)
        x[i] = urand(-1, 1);
    for (size_t i = 0; i < nb * OD; i++)
        v[i] = urand(-1, 1);
    double dx[NB * SD], dt[NB], *dth = malloc(np * sizeof *dth);
    for (size_t i = 0; i < nb * SD; i++)
        dx[i] = 0.25; /* VJPs accumulate */
    for (size_t i = 0; i < nb; i++)
        dt[i] = -0.5;
    for (size_t i = 0; i < np; i++)
        dth[i] = 1.0;
    if (nb == 1) {
        mlp_forward(f.m, f.ws, x, t, y);
        mlp_vjp(f.m, f.ws, v, dx, dt, dth);
    } else {
        mlp_forward_batch(f.m, f.ws, nb, x, t, y);
        double yk[OD];
        for (size_t k = 0; k < nb; k++) { /* batch forward == per-item forward */
            mlp_forward(f.m, f.ws, x + k * SD, t, yk);
            for (int o = 0; o < OD; o++)
                ck_assert(fabs(y[k * OD + o] - yk[o]) <= 1e-13 * (1 + fabs(yk[o])));
        }
        mlp_forward_batch(f.m, f.ws, nb, x, t, y);
        mlp_vjp_batch(f.m, f.ws, nb, v, dx, dt, dth);
    }
    /* inputs: each item's x, per item */
    for (size_t k = 0; k < nb; k++) {
        for (size_t i = 0; i < SD; i++) {
            double *xi = &x[k * SD + i], x0 = *xi;
            *xi = x0 + FD_H;
            double fp = vdotf(&f, 1, x + k * SD, t, v + k * OD);
            *xi = x0 - FD_H;
            double fm = vdotf(&f, 1, x + k * SD, t, v + k * OD);
            *xi = x0;
            ck_fd(dx[k * SD + i] - 0.25, (fp - fm) / (2 * FD_H), mag_of(OD, v + k * OD, y + k * OD),
                  "dx", k * SD + i);
        }
        double fp = vdotf(&f, 1, x + k * SD, t + FD_H, v + k * OD);
        double fm = vdotf(&f, 1, x + k * SD, t - FD_H, v + k * OD);
        ck_fd(dt[k] + 0.5, time ? (fp - fm) / (2 * FD_H) : 0.0, mag_of(OD, v + k * OD, y + k * OD),
              "dt", k);
    }
    /* parameters: the sum over the batch */
    double *p = mlp_params(f.m);
    for (size_t j = 0; j < np; j++) {
        double p0 = p[j];
        p[j] = p0 + FD_H;
        double fp = vdotf(&f, nb, x, t, v);
        p[j] = p0 - FD_H;
        double fm = vdotf(&f, nb, x, t, v);
        p[j] = p0;
        ck_fd(dth[j] - 1.0, (fp - fm) / (2 * FD_H), mag_of(nb * OD, v, y), "dtheta", j);
    }
    free(dth);
    fd_free(&f);
}

START_TEST(vjp_single_fd)
{
    act_kind act = (act_kind)(_i / 2);
    check_fd(act, _i % 2, 1);
}
END_TEST

START_TEST(vjp_batch_fd)
{
    act_kind act = (act_kind)(_i / 2);
    check_fd(act, _i % 2, 5);
    check_fd(act, _i % 2, NB);
}
END_TEST

START_TEST(jacobian_jvp_fd)
{
    act_kind act = (act_kind)(_i / 2);
    bool time = _i % 2;
    fd_net f = fd_make(act, time);
    double x[SD], t = urand(-1, 1), y[OD], y2[OD], J[OD * SD], jt[OD] = {7, 7};
    for (int i = 0; i < SD; i++)
        x[i] = urand(-1, 1);
    mlp_jacobian(f.m, f.ws, x, t, y, J, jt);
    mlp_forward(f.m, f.ws, x, t, y2);
    for (int o = 0; o < OD; o++)
        ck_assert_double_eq(y[o], y2[o]);
    for (size_t i = 0; i <= SD; i++) {
        double yp[OD], ym[OD];
        if (i < SD) {
            double x0 = x[i];
            x[i] = x0 + FD_H;
            mlp_forward(f.m, f.ws, x, t, yp);
            x[i] = x0 - FD_H;
            mlp_forward(f.m, f.ws, x, t, ym);
            x[i] = x0;
        } else {
            mlp_forward(f.m, f.ws, x, t + FD_H, yp);
            mlp_forward(f.m, f.ws, x, t - FD_H, ym);
        }
        for (size_t o = 0; o < OD; o++) {
            double fd = (yp[o] - ym[o]) / (2 * FD_H);
            if (i < SD)
                ck_fd(J[o * SD + i], fd, fabs(y[o]), "J", o * SD + i);
            else
                ck_fd(jt[o], time ? fd : 0.0, fabs(y[o]), "jt", o);
        }
    }
    /* JVP along a random direction (ut is ignored without time input) */
    double u[SD], ut = urand(-1, 1), yd[OD], yp[OD], ym[OD], xp[SD], xm[SD];
    double tp = time ? t + FD_H * ut : t, tm = time ? t - FD_H * ut : t;
    for (int i = 0; i < SD; i++) {
        u[i] = urand(-1, 1);
        xp[i] = x[i] + FD_H * u[i], xm[i] = x[i] - FD_H * u[i];
    }
    mlp_forward(f.m, f.ws, xp, tp, yp);
    mlp_forward(f.m, f.ws, xm, tm, ym);
    mlp_forward(f.m, f.ws, x, t, y);
    mlp_jvp(f.m, f.ws, u, ut, yd);
    for (size_t o = 0; o < OD; o++)
        ck_fd(yd[o], (yp[o] - ym[o]) / (2 * FD_H), fabs(y[o]), "jvp", o);
    fd_free(&f);
}
END_TEST

/* ---- what a VJP may skip ---------------------------------------------------------- */

START_TEST(vjp_partial_outputs)
{
    /* cube first: without dx the backward pass stops at the first linear
     * layer; the parameter gradient must not change */
    const mlp_layer L[] = {{MLP_ELEMENTWISE, 0, 0, ACT_CUBE},
                           {MLP_LINEAR, 2, 6, ACT_TANH},
                           {MLP_LINEAR, 6, 2, ACT_IDENTITY}};
    mlp *m = make_mlp(2, false, 3, L);
    random_params(m, 0.5);
    mlp_ws *ws = make_ws(m, 13);
    size_t np = mlp_n_params(m);
    double x[26], v[26], y[26], dx1[26], dx2[26], dt[13];
    for (int i = 0; i < 26; i++)
        x[i] = urand(-1, 1), v[i] = urand(-1, 1);
    double *g1 = calloc(np, sizeof *g1), *g2 = calloc(np, sizeof *g2);
    for (size_t n = 1; n <= 13; n += n < 3 ? 2 : 10) { /* 1, 3: hand loops; 13: GEMM */
        memset(g1, 0, np * sizeof *g1), memset(g2, 0, np * sizeof *g2);
        memset(dx1, 0, sizeof dx1), memset(dx2, 0, sizeof dx2);
        for (int i = 0; i < 13; i++)
            dt[i] = 5;
        mlp_forward_batch(m, ws, n, x, 0, y);
        mlp_vjp_batch(m, ws, n, v, dx1, NULL, g1);
        mlp_vjp_batch(m, ws, n, v, NULL, NULL, g2); /* the tape is reusable */
        mlp_vjp_batch(m, ws, n, v, dx2, dt, NULL);  /* dt: no time input, untouched */
        for (size_t j = 0; j < np; j++)
            ck_assert_double_eq(g1[j], g2[j]);
        for (size_t i = 0; i < 2 * n; i++)
            ck_assert_double_eq(dx1[i], dx2[i]);
        for (size_t i = 0; i < n; i++)
            ck_assert_double_eq(dt[i], 5);
    }
    free(g1);
    free(g2);
    mlp_ws_free(ws);
    mlp_free(m);
}
END_TEST

/* ---- shapes and validation ------------------------------------------------------- */

static void expect_invalid(size_t sd, bool time, size_t n, const mlp_layer *L, const char *field,
                           const char *needle)
{
    mlp_spec s = {.state_dim = sd, .time_input = time, .n_layers = n, .layers = L};
    mlp *m = (mlp *)1;
    err e;
    err_clear(&e);
    ck_assert_int_eq(mlp_new(&m, &s, &e), ERR_INVALID);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.message, needle), "message \"%s\" lacks \"%s\"", e.message, needle);
}

START_TEST(shape_errors)
{
    const mlp_layer mismatch[] = {{MLP_LINEAR, 2, 4, ACT_TANH}, {MLP_LINEAR, 3, 1, 0}};
    expect_invalid(2, false, 2, mismatch, "layers[1]", "in = 3 does not match the width 4");
    const mlp_layer first[] = {{MLP_LINEAR, 2, 4, ACT_TANH}};
    expect_invalid(2, true, 1, first, "layers[0]", "state_dim 2 + time");
    expect_invalid(3, false, 1, first, "layers[0]", "network input has 3 values");
    const mlp_layer ew[] = {{MLP_LINEAR, 2, 4, ACT_TANH}, {MLP_ELEMENTWISE, 3, 3, ACT_SIN}};
    expect_invalid(2, false, 2, ew, "layers[1]", "input has width 4");
    const mlp_layer after_ew[] = {{MLP_LINEAR, 2, 4, ACT_TANH},
                                  {MLP_ELEMENTWISE, 0, 0, ACT_CUBE},
                                  {MLP_LINEAR, 5, 1, ACT_IDENTITY}};
    expect_invalid(2, false, 3, after_ew, "layers[2]", "does not match the width 4");
    const mlp_layer none[] = {{MLP_ELEMENTWISE, 0, 0, ACT_CUBE}};
    expect_invalid(2, false, 1, none, "layers", "at least one linear layer");
    expect_invalid(2, false, 0, first, "layers", "0 layers");
    expect_invalid(0, false, 1, first, "state_dim", "must be");
    const mlp_layer kind[] = {{(mlp_layer_kind)7, 2, 4, ACT_TANH}};
    expect_invalid(2, false, 1, kind, "layers[0]", "unknown layer kind");
    const mlp_layer act[] = {{MLP_LINEAR, 2, 4, (act_kind)42}};
    expect_invalid(2, false, 1, act, "layers[0]", "unknown activation");
    const mlp_layer zero[] = {{MLP_LINEAR, 2, 0, ACT_TANH}};
    expect_invalid(2, false, 1, zero, "layers[0]", "out = 0");
    const mlp_layer wide[] = {{MLP_LINEAR, 2, MLP_MAX_WIDTH + 1, ACT_TANH}};
    expect_invalid(2, false, 1, wide, "layers[0]", "each must be");
    mlp_layer many[MLP_MAX_LAYERS + 1];
    for (int i = 0; i <= MLP_MAX_LAYERS; i++)
        many[i] = (mlp_layer){MLP_LINEAR, 2, 2, 0};
    expect_invalid(2, false, MLP_MAX_LAYERS + 1, many, "layers", "must be 1 ..");
    mlp *m = make_mlp(2, false, MLP_MAX_LAYERS, many);
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_ws_new(&ws, m, 0, NULL), ERR_INVALID);
    ck_assert_ptr_null(ws);
    mlp_free(m);
    mlp_free(NULL);
    mlp_ws_free(NULL);
}
END_TEST

/* ---- sharing parameters between threads; clones; bound parameters ---------------- */

typedef struct share_job {
    const mlp *m;
    const double *x, *v;
    double y[64 * OD], g[512];
    size_t np;
    int rc;
} share_job;

static void share_eval(share_job *j, mlp_ws *ws)
{
    memset(j->g, 0, sizeof j->g);
    mlp_forward_batch(j->m, ws, 16, j->x, 0.5, j->y);
    mlp_vjp_batch(j->m, ws, 16, j->v, NULL, NULL, j->g);
}

static void *share_thread(void *arg)
{
    share_job *j = arg;
    mlp_ws *ws = NULL;
    j->rc = mlp_ws_new(&ws, j->m, 16, NULL);
    for (int r = 0; r < 200 && !j->rc; r++)
        share_eval(j, ws);
    mlp_ws_free(ws);
    return NULL;
}

START_TEST(shared_params_threads)
{
    fd_net f = fd_make(ACT_TANH, true);
    mlp_ws_free(f.ws);
    f.ws = make_ws(f.m, 16);
    double x[16 * SD], v[16 * OD];
    for (int i = 0; i < 16 * SD; i++)
        x[i] = urand(-1, 1);
    for (int i = 0; i < 16 * OD; i++)
        v[i] = urand(-1, 1);
    share_job ref = {.m = f.m, .x = x, .v = v, .np = mlp_n_params(f.m)};
    ck_assert_uint_le(ref.np, 512);
    share_eval(&ref, f.ws);
    share_job jobs[2] = {ref, ref};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, share_thread, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(jobs[i].rc, 0);
        ck_assert(memcmp(jobs[i].y, ref.y, sizeof ref.y) == 0);
        ck_assert(memcmp(jobs[i].g, ref.g, sizeof ref.g) == 0);
    }
    /* a clone has its own parameters and works with the same workspace */
    mlp *c = NULL;
    ck_assert_int_eq(mlp_clone(&c, f.m, NULL), ERR_OK);
    share_job cj = ref;
    cj.m = c;
    share_eval(&cj, f.ws);
    ck_assert(memcmp(cj.y, ref.y, sizeof ref.y) == 0);
    mlp_params(c)[0] += 1.0;
    share_eval(&cj, f.ws);
    ck_assert(memcmp(cj.y, ref.y, sizeof ref.y) != 0);
    /* bound parameters: the original's values through the clone */
    double *ext = malloc(ref.np * sizeof *ext);
    memcpy(ext, mlp_params_const(f.m), ref.np * sizeof *ext);
    mlp_params_bind(c, ext);
    ck_assert_ptr_eq(mlp_params(c), ext);
    share_eval(&cj, f.ws);
    ck_assert(memcmp(cj.y, ref.y, sizeof ref.y) == 0);
    mlp_params_bind(c, NULL);
    ck_assert_ptr_ne(mlp_params(c), ext);
    free(ext);
    mlp_free(c);
    fd_free(&f);
}
END_TEST

/* Single-state linear layers of many shapes (every row-block and tail path of
 * the hand kernels: narrow inputs, 8- and 4-row blocks, leftover rows and
 * columns) against the long double product, and the JVP (no bias) against
 * W1 diag(1) W2 computed the same way. Bound: a few ulps of sum |w u|.
 * Loop 0 without panels, 1 with (mlp_pack). */
START_TEST(linear_shapes)
{
    const bool pack = _i == 1;
    static const size_t shapes[][3] = {{1, 8, 3},    {7, 9, 8},     {8, 8, 8},    {8, 128, 24},
                                       {9, 17, 5},   {13, 24, 33},  {16, 12, 40}, {31, 40, 7},
                                       {64, 64, 64}, {3, 130, 129}, {128, 24, 8}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t a = shapes[k][0], h = shapes[k][1], o = shapes[k][2];
        const mlp_layer L[] = {{MLP_LINEAR, a, h, ACT_IDENTITY}, {MLP_LINEAR, h, o, ACT_IDENTITY}};
        mlp *m = make_mlp(a, false, 2, L);
        random_params(m, 1.0);
        if (pack) ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK);
        mlp_ws *ws = make_ws(m, 1);
        const double *p = mlp_params_const(m);
        const double *W1 = p, *b1 = W1 + h * a, *W2 = b1 + h, *b2 = W2 + o * h;
        double x[128], u[128], y[256], yd[256];
        for (size_t i = 0; i < a; i++)
            x[i] = urand(-2, 2), u[i] = urand(-1, 1);
        mlp_forward(m, ws, x, 0, y);
        mlp_jvp(m, ws, u, 0, yd);
        long double z[256], zabs[256], d[256], dabs[256];
        for (size_t r = 0; r < h; r++) {
            z[r] = b1[r], zabs[r] = fabs(b1[r]), d[r] = 0, dabs[r] = 0;
            for (size_t i = 0; i < a; i++) {
                z[r] += (long double)W1[r * a + i] * x[i];
                zabs[r] += fabsl((long double)W1[r * a + i] * x[i]);
                d[r] += (long double)W1[r * a + i] * u[i];
                dabs[r] += fabsl((long double)W1[r * a + i] * u[i]);
            }
        }
        for (size_t r = 0; r < o; r++) {
            long double ref = b2[r], refabs = fabs(b2[r]), dref = 0, drefabs = 0;
            for (size_t i = 0; i < h; i++) {
                ref += W2[r * h + i] * z[i];
                refabs += fabsl(W2[r * h + i]) * zabs[i];
                dref += W2[r * h + i] * d[i];
                drefabs += fabsl(W2[r * h + i]) * dabs[i];
            }
            double tol = 1e-14 * (double)refabs, dtol = 1e-14 * (double)drefabs;
            ck_assert_msg(fabs(y[r] - (double)ref) <= tol,
                          "shape %zu-%zu-%zu y[%zu] %.17g vs %.17Lg", a, h, o, r, y[r], ref);
            ck_assert_msg(fabs(yd[r] - (double)dref) <= dtol,
                          "shape %zu-%zu-%zu jvp[%zu] %.17g vs %.17Lg", a, h, o, r, yd[r], dref);
        }
        mlp_ws_free(ws);
        mlp_free(m);
    }
}
END_TEST

/* A value for the panel tests. Mix 0: ordinary; 1: often a signed zero, a
 * subnormal, a tiny or a huge number (whose sums may overflow to inf and
 * cancel to NaN); 2: signed zeros alone; 3: for parameters (param) -0,
 * otherwise positive, so every product is -0 and the sign of each zero
 * sum depends on the order and starting value of the additions. */
static double special_value(int mix, bool param)
{
    static const double sp[] = {0.0,    -0.0,    0x1p-1074, -0x1p-1074, 0x1p-1022, -3e-308,
                                1e-200, -1e-200, 1e300,     -1e300,     1.7e308,   -1.7e308};
    double r = urand(0, 1);
    if (mix == 3) return param ? -0.0 : urand(0, 2);
    if (mix == 2) return (r < 0.9) == param ? -0.0 : 0.0;
    if (mix == 0 || r < 0.5) return urand(-2, 2);
    return sp[(size_t)urand(0, sizeof sp / sizeof sp[0]) % (sizeof sp / sizeof sp[0])];
}

static void fill_special(double *p, size_t n, int mix, bool param)
{
    for (size_t i = 0; i < n; i++)
        p[i] = special_value(mix, param);
}

/* One linear layer (in, out), its values as mlp_forward, a batch of 3
 * (item by item) and mlp_jvp (no bias) give them: with panels (mlp_pack)
 * the same bits as without. Without panels is dot8/dot4/dot1 or the
 * column loop over W; with them, other code reading another copy: each
 * lane must repeat the same IEEE operations in the same order. */
static void packed_case(size_t in, size_t out, bool time, int mix)
{
    const mlp_layer L[] = {{MLP_LINEAR, in, out, ACT_IDENTITY}};
    size_t sd = in - time;
    mlp *plain = make_mlp(sd, time, 1, L);
    fill_special(mlp_params(plain), mlp_n_params(plain), mix, true);
    mlp *packed = NULL;
    ck_assert_int_eq(mlp_clone(&packed, plain, NULL), ERR_OK);
    ck_assert_int_eq(mlp_pack(packed, NULL), ERR_OK);
    mlp_ws *ws = make_ws(plain, 3);
    double x[3 * 128], u[128], t = special_value(mix, false), ut = special_value(mix, false);
    fill_special(x, 3 * sd, mix, false);
    fill_special(u, sd, mix, false);
    double y[2][3 * 130], yb[2][3 * 130], yd[2][130];
    mlp *net[2] = {plain, packed};
    for (int k = 0; k < 2; k++) {
        mlp_forward_batch(net[k], ws, 3, x, t, yb[k]);
        mlp_forward(net[k], ws, x, t, y[k]);
        mlp_jvp(net[k], ws, u, ut, yd[k]);
    }
    ck_assert_msg(memcmp(y[0], y[1], out * sizeof(double)) == 0,
                  "forward %zu -> %zu, time %d, mix %d", in, out, time, mix);
    ck_assert_msg(memcmp(yb[0], yb[1], 3 * out * sizeof(double)) == 0,
                  "batch %zu -> %zu, time %d, mix %d", in, out, time, mix);
    ck_assert_msg(memcmp(yd[0], yd[1], out * sizeof(double)) == 0,
                  "jvp %zu -> %zu, time %d, mix %d", in, out, time, mix);
    mlp_ws_free(ws);
    mlp_free(packed);
    mlp_free(plain);
}

START_TEST(packed_bitwise)
{
    size_t ins[42], outs[43], n_in = 0, n_out = 0;
    for (size_t i = 1; i <= 40; i++)
        ins[n_in++] = i, outs[n_out++] = i;
    ins[n_in++] = 64, ins[n_in++] = 128;
    outs[n_out++] = 64, outs[n_out++] = 128, outs[n_out++] = 130;
    for (size_t a = 0; a < n_in; a++)
        for (size_t b = 0; b < n_out; b++)
            for (int time = 0; time < 2; time++)
                for (int mix = 0; mix < 4; mix++)
                    if (ins[a] > (size_t)time) packed_case(ins[a], outs[b], time, mix);
}
END_TEST

/* A batch below the GEMM threshold answers, item for item, what each item
 * gets alone, bit for bit: with the AVX-512 panels the layers with in >= 8
 * and out a multiple of 8 take several states per pass over the weights
 * (panel_matvec_n), the others one at a time. Widths on both sides of
 * those conditions, with and without t, packed and not. */
START_TEST(small_batch_bitwise)
{
    static const size_t widths[] = {8, 24, 64, 12, 130};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
        for (int time = 0; time < 2; time++)
            for (int pack = 0; pack < 2; pack++) {
                const size_t h = widths[wi];
                const mlp_layer L[] = {{MLP_LINEAR, 3 + (size_t)time, h, ACT_TANH},
                                       {MLP_LINEAR, h, h, ACT_TANH},
                                       {MLP_LINEAR, h, 3, ACT_IDENTITY}};
                mlp *m = make_mlp(3, time, 3, L);
                random_params(m, 1.0);
                if (pack) ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK);
                enum { NMAX = MLP_GEMM_MIN_BATCH - 1 };
                mlp_ws *ws = make_ws(m, NMAX);
                double x[NMAX * 3], y[NMAX * 3], one[3];
                for (size_t i = 0; i < NMAX * 3; i++)
                    x[i] = sin(1.7 * (double)i + (double)h);
                for (size_t n = 1; n <= NMAX; n++) {
                    mlp_forward_batch(m, ws, n, x, 0.25, y);
                    for (size_t k = 0; k < n; k++) {
                        mlp_forward(m, ws, x + 3 * k, 0.25, one);
                        ck_assert_msg(memcmp(one, y + 3 * k, sizeof one) == 0,
                                      "width %zu, n %zu, item %zu, time %d, packed %d", h, n, k,
                                      time, pack);
                    }
                }
                mlp_ws_free(ws);
                mlp_free(m);
            }
}
END_TEST

/* Panels are a copy: writing the parameters through mlp_params or binding
 * others must drop them, or the next forward would use the old weights.
 * The first layer has in < 8, which gets panels on every CPU. */
START_TEST(packed_dropped_on_write)
{
    const mlp_layer L[] = {{MLP_LINEAR, 3, 24, ACT_TANH}, {MLP_LINEAR, 24, 16, ACT_IDENTITY}};
    mlp *m = make_mlp(3, false, 2, L), *fresh = make_mlp(3, false, 2, L);
    size_t np = mlp_n_params(m);
    random_params(m, 1.0);
    random_params(fresh, 1.0); /* other values */
    mlp_ws *ws = make_ws(m, 1);
    const double x[3] = {0.5, -1.25, 2.0};
    double y_old[16], y_new[16], y[16];
    mlp_forward(m, ws, x, 0, y_old);
    mlp_forward(fresh, ws, x, 0, y_new);
    ck_assert(memcmp(y_old, y_new, sizeof y) != 0);
    /* a write through mlp_params: the new parameters' answer */
    ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK);
    ck_assert(mlp_packed(m));
    mlp_forward(m, ws, x, 0, y);
    ck_assert(memcmp(y, y_old, sizeof y) == 0);
    memcpy(mlp_params(m), mlp_params_const(fresh), np * sizeof(double));
    ck_assert(!mlp_packed(m));
    mlp_forward(m, ws, x, 0, y);
    ck_assert(memcmp(y, y_new, sizeof y) == 0);
    /* a clone of a packed network is packed and answers the same */
    ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK);
    mlp *c = NULL;
    ck_assert_int_eq(mlp_clone(&c, m, NULL), ERR_OK);
    ck_assert(mlp_packed(c));
    mlp_forward(c, ws, x, 0, y);
    ck_assert(memcmp(y, y_new, sizeof y) == 0);
    mlp_free(c);
    /* binding other parameters (and unbinding) drops them too */
    double *ext = malloc(np * sizeof *ext);
    ck_assert_ptr_nonnull(ext);
    random_params(fresh, 1.0);
    memcpy(ext, mlp_params_const(fresh), np * sizeof *ext);
    mlp_forward(fresh, ws, x, 0, y_new);
    mlp_params_bind(m, ext);
    ck_assert(!mlp_packed(m));
    mlp_forward(m, ws, x, 0, y);
    ck_assert(memcmp(y, y_new, sizeof y) == 0);
    ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK); /* packed from ext */
    mlp_forward(m, ws, x, 0, y);
    ck_assert(memcmp(y, y_new, sizeof y) == 0);
    mlp_params_bind(m, NULL);
    ck_assert(!mlp_packed(m));
    mlp_forward(m, ws, x, 0, y);
    ck_assert(memcmp(y, y_new, sizeof y) != 0); /* the internal vector again */
    free(ext);
    mlp_ws_free(ws);
    mlp_free(fresh);
    mlp_free(m);
}
END_TEST

static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *core = tcase_create("core");
    tcase_add_test(core, hand_network);
    tcase_add_test(core, hand_network_time_input);
    tcase_add_test(core, pytorch_layout);
    tcase_add_loop_test(core, linear_shapes, 0, 2);
    tcase_add_test(core, packed_bitwise);
    tcase_add_test(core, packed_dropped_on_write);
    tcase_add_test(core, small_batch_bitwise);
    tcase_add_test(core, activation_names);
    tcase_add_test(core, activation_values);
    tcase_add_test(core, activation_derivatives);
    tcase_add_test(core, vmath_specials);
    tcase_add_test(core, vmath_tanh_blocks);
    tcase_add_test(core, vjp_partial_outputs);
    tcase_add_test(core, shared_params_threads);
    /* packed_bitwise sweeps ~2,000 shapes: seconds under ASan or valgrind on
     * a busy machine, past Check's default 4 s */
    tcase_set_timeout(core, 60);
    suite_add_tcase(s, core);

    TCase *deriv = tcase_create("derivatives");
    tcase_add_loop_test(deriv, vjp_single_fd, 0, 2 * ACT__COUNT);
    tcase_add_loop_test(deriv, vjp_batch_fd, 0, 2 * ACT__COUNT);
    tcase_add_loop_test(deriv, jacobian_jvp_fd, 0, 2 * ACT__COUNT);
    suite_add_tcase(s, deriv);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 120); /* long double libm under ASan or valgrind */
    tcase_add_loop_test(limits, vmath_ulp, 0, (int)(sizeof sweeps / sizeof sweeps[0]));
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, shape_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_suite_run(nn_suite());
}
