/* check_nn_pair: the fused reverse pass through a network's last two
 * linear layers (nn/linear_pair.h, taken by mlp_vjp_batch at batches of
 * 12 to 256 for narrow layers), and the fused forward (taken by
 * mlp_forward_batch for the same shapes with tanh or identity between).
 *
 * Three references:
 *   - bitwise: the layer-by-layer loop of mlp_vjp_batch. A trailing
 *     elementwise identity layer changes no value but keeps the network
 *     off the fused path, so the same network with and without it must
 *     give the same dx, dt and dtheta bit for bit, for every shape on
 *     both sides of the fused path's limits (in 1..7, hid 8..512, out
 *     1..3, batches across its row blocks), with ordinary values and with
 *     signed zeros, subnormals, huge values whose sums overflow, inf and
 *     NaN cotangents; the forward's outputs and its whole tape (each
 *     layer's input, pre-activation and output, as mlp_ws_tape_bind
 *     lays it out in caller memory) likewise;
 *   - a straightforward loop in long double over the chain rule;
 *   - central finite differences of v . f. */
#include "nn/act.h"
#include "nn/linear_pair.h"
#include "nn/simd.h"
#include "nn/mlp.h"
#include "testutil.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

/* mix 0: ordinary values; 1: half of them signed zeros, subnormals, tiny
 * or huge; 2: signed zeros alone; 3: inf and NaN among ordinary values.
 * The NaN is -NAN, the one x86 makes of inf - inf: which of two NaNs a
 * sum keeps depends on the operand order the compiler picks (it may swap
 * them), and that is no part of the contract. */
static double special(int mix)
{
    static const double sp[] = {0.0,    -0.0,    0x1p-1074, -0x1p-1074, 0x1p-1022, -3e-308,
                                1e-200, -1e-200, 1e300,     -1e300,     1.7e308,   -1.7e308};
    double r = urand(0, 1);
    if (mix == 0 || (mix != 2 && r < 0.5)) return urand(-2, 2);
    if (mix == 2) return r < 0.75 ? -0.0 : 0.0;
    if (mix == 3) return r < 0.6 ? INFINITY : r < 0.8 ? -INFINITY : -NAN;
    return sp[(size_t)urand(0, 12) % 12];
}

typedef struct pair_net {
    size_t sd, in, hid, out;
    bool time, cube; /* cube: an elementwise cube layer first (bench_train's field) */
    act_kind act;
} pair_net;

/* The network, with a trailing elementwise identity layer if tail. */
static mlp *pair_make(const pair_net *p, bool tail)
{
    mlp_layer L[4];
    size_t n = 0;
    if (p->cube) L[n++] = (mlp_layer){MLP_ELEMENTWISE, 0, 0, ACT_CUBE};
    L[n++] = (mlp_layer){MLP_LINEAR, p->in, p->hid, p->act};
    L[n++] = (mlp_layer){MLP_LINEAR, p->hid, p->out, ACT_IDENTITY};
    if (tail) L[n++] = (mlp_layer){MLP_ELEMENTWISE, 0, 0, ACT_IDENTITY};
    mlp_spec s = {.state_dim = p->sd, .time_input = p->time, .n_layers = n, .layers = L};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, &s, &e) == ERR_OK, "mlp_new: %s: %s", e.field, e.message);
    return m;
}

/* mix 4: positive parameters and +inf cotangents, so that the input
 * cotangent is +inf, not NaN: the fused path must not let the lanes past
 * the last hidden unit (inf * 0) into its sums. */

/* Both networks from the same parameters and inputs, forward then VJP
 * (what = 0: dx, dt and dtheta; 1: dtheta alone; 2: dx alone), compared
 * with memcmp. */
static void bitwise_case(const pair_net *p, size_t n, int mix, int what)
{
    mlp *m[2] = {pair_make(p, false), pair_make(p, true)};
    const size_t np = mlp_n_params(m[0]);
    ck_assert_uint_eq(np, mlp_n_params(m[1]));
    double *theta = malloc(np * sizeof *theta);
    double *x = malloc(n * p->sd * sizeof *x), *v = malloc(n * p->out * sizeof *v);
    double *dx[2], *dt[2], *dth[2], *y[2], *tape[2];
    ck_assert(theta && x && v);
    for (size_t i = 0; i < np; i++)
        theta[i] = mix == 4 ? urand(0.25, 1) : mix == 3 ? urand(-1, 1) : special(mix);
    for (size_t i = 0; i < n * p->sd; i++)
        x[i] = mix >= 3 ? urand(-2, 2) : special(mix);
    for (size_t i = 0; i < n * p->out; i++)
        v[i] = mix == 4 ? INFINITY : special(mix);
    const double t = mix >= 3 ? 0.5 : special(mix);
    for (int k = 0; k < 2; k++) {
        memcpy(mlp_params(m[k]), theta, np * sizeof *theta);
        dx[k] = malloc(n * p->sd * sizeof(double));
        dt[k] = malloc(n * sizeof(double));
        dth[k] = malloc(np * sizeof(double));
        y[k] = malloc(n * p->out * sizeof(double));
        ck_assert(dx[k] && dt[k] && dth[k] && y[k]);
        for (size_t i = 0; i < n * p->sd; i++)
            dx[k][i] = 0.25 * (double)(i % 5); /* VJPs add: start from values */
        for (size_t i = 0; i < n; i++)
            dt[k][i] = -0.5;
        for (size_t i = 0; i < np; i++)
            dth[k][i] = (i % 3) ? -0.0 : 1.0;
        mlp_ws *ws = NULL;
        ck_assert_int_eq(mlp_ws_new(&ws, m[k], n, NULL), ERR_OK);
        /* the tape in caller memory, as the kept activations of training:
         * the trailing identity layer adds no buffer, so both tapes have
         * the same layout */
        ck_assert_uint_eq(mlp_tape_doubles(m[k], n), mlp_tape_doubles(m[0], n));
        tape[k] = calloc(mlp_tape_doubles(m[k], n), sizeof(double));
        ck_assert(tape[k]);
        mlp_ws_tape_bind(ws, m[k], tape[k], n);
        mlp_forward_batch(m[k], ws, n, x, t, y[k]);
        mlp_vjp_batch(m[k], ws, n, v, what == 1 ? NULL : dx[k], what == 0 ? dt[k] : NULL,
                      what == 2 ? NULL : dth[k]);
        mlp_ws_free(ws);
    }
    ck_assert_msg(memcmp(y[0], y[1], n * p->out * sizeof(double)) == 0 &&
                      memcmp(tape[0], tape[1], mlp_tape_doubles(m[0], n) * sizeof(double)) == 0,
                  "forward: in %zu hid %zu out %zu act %s time %d cube %d n %zu mix %d", p->in,
                  p->hid, p->out, act_name(p->act), p->time, p->cube, n, mix);
    ck_assert_msg(memcmp(dx[0], dx[1], n * p->sd * sizeof(double)) == 0 &&
                      memcmp(dt[0], dt[1], n * sizeof(double)) == 0 &&
                      memcmp(dth[0], dth[1], np * sizeof(double)) == 0,
                  "in %zu hid %zu out %zu act %s time %d cube %d n %zu mix %d what %d", p->in,
                  p->hid, p->out, act_name(p->act), p->time, p->cube, n, mix, what);
    for (int k = 0; k < 2; k++) {
        free(dx[k]);
        free(dt[k]);
        free(dth[k]);
        free(y[k]);
        free(tape[k]);
        mlp_free(m[k]);
    }
    free(theta);
    free(x);
    free(v);
}

static pair_net net_of(size_t in, size_t hid, size_t out, act_kind act, bool time, bool cube)
{
    pair_net p = {in - time, in, hid, out, time, cube, act};
    return p;
}

static const act_kind acts[] = {ACT_TANH, ACT_SIGMOID, ACT_IDENTITY, ACT_RELU};

/* Every (in, hid, out) around the limits, with and without t and a cube
 * layer before, the batch sizes around the fused path's (12, 256) and its
 * blocks of 32 states. relu: not fused (its derivative is a select), the
 * same answer either way. */
START_TEST(pair_bitwise_shapes)
{
    static const size_t ins[] = {1, 2, 3, 5, 7, 8};
    static const size_t hids[] = {1, 7, 8, 9, 17, 50, 64, 65};
    static const size_t outs[] = {1, 2, 3, 4};
    static const size_t ns[] = {11, 12, 33};
    const act_kind act = acts[_i];
    for (size_t a = 0; a < sizeof ins / sizeof ins[0]; a++)
        for (size_t b = 0; b < sizeof hids / sizeof hids[0]; b++)
            for (size_t c = 0; c < sizeof outs / sizeof outs[0]; c++)
                for (int time = 0; time < 2; time++) {
                    if (ins[a] <= (size_t)time) continue;
                    pair_net p = net_of(ins[a], hids[b], outs[c], act, time, (a + b + c) % 2);
                    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
                        bitwise_case(&p, ns[k], (int)((a + b + k) % 5), (int)((b + c + k) % 3));
                }
}
END_TEST

/* Every mix of values and every choice of outputs on bench_train's shape
 * (cube, 2 -> 50 tanh -> 2) and on the largest layers the path takes. */
START_TEST(pair_bitwise_values)
{
    const pair_net shapes[] = {
        net_of(2, 50, 2, ACT_TANH, false, true), net_of(2, 50, 2, ACT_TANH, true, false),
        net_of(1, 512, 1, ACT_TANH, false, false), net_of(7, 73, 3, ACT_SIGMOID, true, false),
        net_of(2, 256, 2, ACT_TANH, false, true),  net_of(3, 171, 3, ACT_IDENTITY, false, false),
    };
    static const size_t ns[] = {12, 20, 32, 64, 65, 256, 257};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
            for (int mix = 0; mix < 5; mix++)
                for (int what = 0; what < 3; what++)
                    bitwise_case(&shapes[s], ns[k], mix, what);
}
END_TEST

/* The bitwise tests above compare something only where the fused
 * forward is taken: with the AVX2 or AVX-512 kernels (CI's CPUs, valgrind's
 * AVX2; not a build without clones, whose layer b may be BLAS's dgemv) at
 * bench_train's shape and the limits; never for sigmoid, relu or batches
 * outside 12..256. */
START_TEST(pair_forward_taken)
{
    if (simd_vector_doubles() >= 4) {
        ck_assert(linear_pair_forward_fits(20, 2, 50, 2, ACT_TANH));
        ck_assert(linear_pair_forward_fits(12, 1, 512, 1, ACT_TANH));
        ck_assert(linear_pair_forward_fits(256, 7, 73, 3, ACT_IDENTITY));
    }
    ck_assert(!linear_pair_forward_fits(11, 2, 50, 2, ACT_TANH));
    ck_assert(!linear_pair_forward_fits(257, 2, 50, 2, ACT_TANH));
    ck_assert(!linear_pair_forward_fits(20, 2, 50, 2, ACT_SIGMOID));
    ck_assert(!linear_pair_forward_fits(20, 2, 50, 2, ACT_RELU));
    ck_assert(!linear_pair_forward_fits(20, 8, 50, 2, ACT_TANH));
    ck_assert(!linear_pair_forward_fits(20, 2, 7, 2, ACT_TANH));
    ck_assert(!linear_pair_forward_fits(20, 2, 50, 4, ACT_TANH));
}
END_TEST

/* ---- against the chain rule in long double, and finite differences ---- */

static long double act_l(act_kind a, long double z)
{
    switch (a) {
    case ACT_TANH:
        return tanhl(z);
    case ACT_SIGMOID:
        return 1 / (1 + expl(-z));
    default:
        return z;
    }
}

static long double act_dl(act_kind a, long double z)
{
    long double h = act_l(a, z);
    return a == ACT_TANH ? 1 - h * h : a == ACT_SIGMOID ? h * (1 - h) : 1;
}

/* dx_k = cube'(x) * (W_a^T (act'(z) * (W_b^T v_k))) and the parameter
 * cotangents summed over the batch, from the formulas, in long double. */
static void reference_vjp(const pair_net *p, size_t n, const double *th, const double *x, double t,
                          const double *v, long double *dx, long double *dth)
{
    const size_t in = p->in, hid = p->hid, out = p->out;
    const double *Wa = th, *ba = th + hid * in, *Wb = ba + hid, *bb = Wb + out * hid;
    (void)bb;
    long double u[8], z[512], gh[512];
    for (size_t k = 0; k < n; k++) {
        for (size_t j = 0; j < p->sd; j++) {
            long double xj = x[k * p->sd + j];
            u[j] = p->cube ? xj * xj * xj : xj;
        }
        if (p->time) u[p->sd] = p->cube ? (long double)t * t * t : t;
        for (size_t o = 0; o < hid; o++) {
            long double s = ba[o];
            for (size_t j = 0; j < in; j++)
                s += (long double)Wa[o * in + j] * u[j];
            z[o] = s;
        }
        const double *vk = v + k * out;
        for (size_t o = 0; o < hid; o++) {
            long double s = 0;
            for (size_t r = 0; r < out; r++)
                s += (long double)vk[r] * Wb[r * hid + o];
            gh[o] = s * act_dl(p->act, z[o]);
            dth[hid * in + o] += gh[o];
            for (size_t j = 0; j < in; j++)
                dth[o * in + j] += gh[o] * u[j];
            for (size_t r = 0; r < out; r++)
                dth[hid * in + hid + r * hid + o] += (long double)vk[r] * act_l(p->act, z[o]);
        }
        for (size_t r = 0; r < out; r++)
            dth[hid * in + hid + out * hid + r] += vk[r];
        for (size_t j = 0; j < p->sd; j++) {
            long double s = 0;
            for (size_t o = 0; o < hid; o++)
                s += gh[o] * Wa[o * in + j];
            long double xj = x[k * p->sd + j];
            dx[k * p->sd + j] = s * (p->cube ? 3 * xj * xj : 1);
        }
    }
}

/* v . f summed over the batch, by the library's forward */
static double vdotf(mlp *m, mlp_ws *ws, size_t n, size_t out, const double *x, double t,
                    const double *v, double *y)
{
    mlp_forward_batch(m, ws, n, x, t, y);
    double s = 0;
    for (size_t i = 0; i < n * out; i++)
        s += v[i] * y[i];
    return s;
}

static void reference_case(const pair_net *p, size_t n)
{
    mlp *m = pair_make(p, false);
    const size_t np = mlp_n_params(m), sd = p->sd;
    double *th = mlp_params(m);
    for (size_t i = 0; i < np; i++)
        th[i] = urand(-0.8, 0.8);
    double *x = malloc(n * sd * sizeof *x), *v = malloc(n * p->out * sizeof *v);
    double *y = malloc(n * p->out * sizeof *y), *dx = calloc(n * sd, sizeof *dx);
    double *dth = calloc(np, sizeof *dth);
    long double *rdx = calloc(n * sd, sizeof *rdx), *rdth = calloc(np, sizeof *rdth);
    ck_assert(x && v && y && dx && dth && rdx && rdth);
    for (size_t i = 0; i < n * sd; i++)
        x[i] = urand(-1.2, 1.2);
    for (size_t i = 0; i < n * p->out; i++)
        v[i] = urand(-1, 1);
    const double t = 0.375;
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_ws_new(&ws, m, n, NULL), ERR_OK);
    mlp_forward_batch(m, ws, n, x, t, y);
    mlp_vjp_batch(m, ws, n, v, dx, NULL, dth);
    reference_vjp(p, n, th, x, t, v, rdx, rdth);
    long double mag = 0;
    for (size_t i = 0; i < np; i++)
        mag = fmaxl(mag, fabsl(rdth[i]));
    for (size_t i = 0; i < n * sd; i++)
        mag = fmaxl(mag, fabsl(rdx[i]));
    const double tol = 1e-12 * (double)(1 + mag);
    for (size_t i = 0; i < n * sd; i++)
        ck_assert_msg(fabsl(dx[i] - rdx[i]) <= tol, "in %zu hid %zu out %zu: dx[%zu] %.17g ref %.17Lg",
                      p->in, p->hid, p->out, i, dx[i], rdx[i]);
    for (size_t i = 0; i < np; i++)
        ck_assert_msg(fabsl(dth[i] - rdth[i]) <= tol,
                      "in %zu hid %zu out %zu: dtheta[%zu] %.17g ref %.17Lg", p->in, p->hid,
                      p->out, i, dth[i], rdth[i]);
    /* central differences of v . f in a few parameters and inputs */
    const double h = 1e-6;
    for (size_t q = 0; q < 6; q++) {
        size_t i = (q * 7919) % np;
        double t0 = th[i];
        th[i] = t0 + h;
        double fp = vdotf(m, ws, n, p->out, x, t, v, y);
        th[i] = t0 - h;
        double fm = vdotf(m, ws, n, p->out, x, t, v, y);
        th[i] = t0;
        double fd = (fp - fm) / (2 * h);
        ck_assert_msg(fabs(fd - dth[i]) <= 1e-6 * (1 + fabs(dth[i])),
                      "dtheta[%zu] %.12g, finite difference %.12g", i, dth[i], fd);
        size_t j = (q * 104729) % (n * sd);
        double x0 = x[j];
        x[j] = x0 + h;
        fp = vdotf(m, ws, n, p->out, x, t, v, y);
        x[j] = x0 - h;
        fm = vdotf(m, ws, n, p->out, x, t, v, y);
        x[j] = x0;
        fd = (fp - fm) / (2 * h);
        ck_assert_msg(fabs(fd - dx[j]) <= 1e-6 * (1 + fabs(dx[j])),
                      "dx[%zu] %.12g, finite difference %.12g", j, dx[j], fd);
    }
    mlp_ws_free(ws);
    mlp_free(m);
    free(x);
    free(v);
    free(y);
    free(dx);
    free(dth);
    free(rdx);
    free(rdth);
}

START_TEST(pair_reference)
{
    static const size_t ins[] = {1, 2, 3, 7};
    static const size_t hids[] = {8, 9, 17, 50, 64, 65};
    static const size_t ns[] = {12, 13, 20, 33, 64, 65};
    const act_kind act = acts[_i];
    for (size_t a = 0; a < sizeof ins / sizeof ins[0]; a++)
        for (size_t b = 0; b < sizeof hids / sizeof hids[0]; b++)
            for (size_t out = 1; out <= 3; out++) {
                bool time = (a + b + out) % 2, cube = (a + out) % 2;
                if (ins[a] <= (size_t)time) time = false;
                pair_net p = net_of(ins[a], hids[b], out, act, time, cube);
                reference_case(&p, ns[(a + b + out) % 6]);
            }
}
END_TEST

static Suite *pair_suite(void)
{
    Suite *s = suite_create("nn_pair");
    TCase *tc = tcase_create("pair");
    tcase_set_timeout(tc, 120); /* thousands of networks under valgrind */
    tcase_add_loop_test(tc, pair_bitwise_shapes, 0, 4);
    tcase_add_test(tc, pair_bitwise_values);
    tcase_add_test(tc, pair_forward_taken);
    tcase_add_loop_test(tc, pair_reference, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(pair_suite());
}
