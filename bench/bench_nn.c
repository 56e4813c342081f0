/* bench_nn: activation kernels and MLP evaluation times, single-threaded.
 *
 * Prints one JSON object per line: the median over REPS timed runs (after a
 * warm-up) of a loop long enough to dwarf the clock's resolution.
 *   <act>_libm / <act>_vm   ns per element of the activation over 256 x 64
 *                           values in [-4, 4] (libm element by element vs
 *                           nn/vmath.h)
 *   fwd_single_loops        mlp_forward, 2 -> 64 -> 64 -> 2 (tanh, tanh, id)
 *   fwd_single_gemv         the same network through cblas_dgemv per layer
 *   fwd_batch256_gemm       mlp_forward_batch, 256 states
 *   fwd_batch256_libm       the same with libm tanh instead of vm_tanh
 *   fwd_batch256_gemm_only  its three GEMMs alone (no activation)
 *   fwd_batch256_as_single  256 calls of mlp_forward
 *   vjp_single, vjp_batch256, jacobian_single: forward + VJP (dx and
 *                           dtheta) / forward + Jacobian
 * Run from the build tree: bench/bench_nn (make builds it). */
#include "config.h"

#include "core/clock.h"
#include "nn/mlp.h"
#include "nn/vmath.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 21, BATCH = 256, ACT_N = BATCH * 64 };

typedef void (*bench_fn)(void *ctx);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per call of fn(ctx) over REPS runs of `inner` calls. */
static double median_per_call(bench_fn fn, void *ctx, int inner)
{
    double t[REPS];
    for (int i = 0; i < inner; i++)
        fn(ctx); /* warm-up */
    for (int r = 0; r < REPS; r++) {
        double t0 = clock_mono();
        for (int i = 0; i < inner; i++)
            fn(ctx);
        t[r] = (clock_mono() - t0) / inner;
    }
    qsort(t, REPS, sizeof t[0], cmp_double);
    return t[REPS / 2];
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void) /* uniform in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}

/* ---- activations ------------------------------------------------------- */

typedef struct act_ctx {
    void (*f)(size_t n, const double *x, double *y);
    double *x, *y;
} act_ctx;

static void libm_tanh(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = tanh(x[i]);
}

static void libm_sigmoid(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0 / (1.0 + exp(-x[i]));
}

static void libm_softplus(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = fmax(x[i], 0.0) + log1p(exp(-fabs(x[i])));
}

static void libm_silu(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] / (1.0 + exp(-x[i]));
}

static void libm_elu(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : expm1(x[i]);
}

static void run_act(void *p)
{
    act_ctx *c = p;
    c->f(ACT_N, c->x, c->y);
}

static void bench_acts(void)
{
    static const struct {
        const char *name;
        void (*libm)(size_t, const double *, double *);
        void (*vm)(size_t, const double *, double *);
    } acts[] = {
        {"tanh", libm_tanh, vm_tanh},
        {"sigmoid", libm_sigmoid, vm_sigmoid},
        {"softplus", libm_softplus, vm_softplus},
        {"silu", libm_silu, vm_silu},
        {"elu", libm_elu, vm_elu},
    };
    act_ctx c = {NULL, malloc(ACT_N * sizeof(double)), malloc(ACT_N * sizeof(double))};
    for (int i = 0; i < ACT_N; i++)
        c.x[i] = 8.0 * urand() - 4.0;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        c.f = acts[a].libm;
        double tl = median_per_call(run_act, &c, 20);
        c.f = acts[a].vm;
        double tv = median_per_call(run_act, &c, 20);
        printf("{\"bench\": \"%s_libm\", \"ns_per_elem\": %.3f}\n", acts[a].name, tl * 1e9 / ACT_N);
        printf("{\"bench\": \"%s_vm\", \"ns_per_elem\": %.3f}\n", acts[a].name, tv * 1e9 / ACT_N);
    }
    free(c.x);
    free(c.y);
}

/* ---- the W1 network ------------------------------------------------------ */

typedef struct net_ctx {
    mlp *m;
    mlp_ws *ws;
    double *x, *y, *v, *dx, *dtheta, *jac, *h1, *h2;
} net_ctx;

static void fwd_single(void *p)
{
    net_ctx *c = p;
    mlp_forward(c->m, c->ws, c->x, 0.0, c->y);
}

/* The alternative kept out of the library: cblas_dgemv per layer. */
static void fwd_single_gemv(void *p)
{
    net_ctx *c = p;
    const double *th = mlp_params_const(c->m);
    const double *in = c->x;
    double *bufs[3] = {c->h1, c->h2, c->y};
    for (size_t l = 0; l < 3; l++) {
        mlp_layer L = mlp_layer_at(c->m, l);
        const double *W = th + mlp_layer_offset(c->m, l);
        memcpy(bufs[l], W + L.out * L.in, L.out * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)L.out, (int)L.in, 1.0, W, (int)L.in, in, 1,
                    1.0, bufs[l], 1);
        mlp_act_apply(L.act, L.out, bufs[l], bufs[l]);
        in = bufs[l];
    }
}

static void fwd_batch(void *p)
{
    net_ctx *c = p;
    mlp_forward_batch(c->m, c->ws, BATCH, c->x, 0.0, c->y);
}

/* dgemm per layer with libm tanh (gemm_only: no activation at all). */
static void fwd_batch_manual(net_ctx *c, int act)
{
    const double *th = mlp_params_const(c->m);
    const double *in = c->x;
    double *bufs[3] = {c->h1, c->h2, c->y};
    for (size_t l = 0; l < 3; l++) {
        mlp_layer L = mlp_layer_at(c->m, l);
        const double *W = th + mlp_layer_offset(c->m, l);
        for (int k = 0; k < BATCH; k++)
            memcpy(bufs[l] + k * L.out, W + L.out * L.in, L.out * sizeof(double));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, (int)L.out, (int)L.in, 1.0, in,
                    (int)L.in, W, (int)L.in, 1.0, bufs[l], (int)L.out);
        if (act && L.act == MLP_ACT_TANH) libm_tanh(BATCH * L.out, bufs[l], bufs[l]);
        in = bufs[l];
    }
}

static void fwd_batch_libm(void *p)
{
    fwd_batch_manual(p, 1);
}

static void fwd_batch_gemm_only(void *p)
{
    fwd_batch_manual(p, 0);
}

static void fwd_batch_as_single(void *p)
{
    net_ctx *c = p;
    for (int k = 0; k < BATCH; k++)
        mlp_forward(c->m, c->ws, c->x + 2 * k, 0.0, c->y + 2 * k);
}

static void vjp_single(void *p)
{
    net_ctx *c = p;
    mlp_forward(c->m, c->ws, c->x, 0.0, c->y);
    mlp_vjp(c->m, c->ws, c->v, c->dx, NULL, c->dtheta);
}

static void vjp_batch(void *p)
{
    net_ctx *c = p;
    mlp_forward_batch(c->m, c->ws, BATCH, c->x, 0.0, c->y);
    mlp_vjp_batch(c->m, c->ws, BATCH, c->v, c->dx, NULL, c->dtheta);
}

static void jacobian_single(void *p)
{
    net_ctx *c = p;
    mlp_jacobian(c->m, c->ws, c->x, 0.0, c->y, c->jac, NULL);
}

static void report_call(const char *name, double s)
{
    printf("{\"bench\": \"%s\", \"ns_per_call\": %.1f}\n", name, s * 1e9);
}

static void report_batch(const char *name, double s)
{
    printf("{\"bench\": \"%s\", \"us_per_call\": %.2f, \"ns_per_state\": %.1f}\n", name, s * 1e6,
           s * 1e9 / BATCH);
}

static int bench_net(void)
{
    const mlp_layer layers[] = {
        {MLP_LINEAR, 2, 64, MLP_ACT_TANH},
        {MLP_LINEAR, 64, 64, MLP_ACT_TANH},
        {MLP_LINEAR, 64, 2, MLP_ACT_IDENTITY},
    };
    mlp_spec spec = {.state_dim = 2, .n_layers = 3, .layers = layers};
    err e;
    err_clear(&e);
    net_ctx c = {0};
    if (mlp_new(&c.m, &spec, &e) || mlp_ws_new(&c.ws, c.m, BATCH, &e)) {
        fprintf(stderr, "bench_nn: %s\n", e.message);
        return 1;
    }
    double *th = mlp_params(c.m); /* PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) */
    for (size_t l = 0; l < 3; l++) {
        mlp_layer L = mlp_layer_at(c.m, l);
        double bound = 1.0 / sqrt((double)L.in);
        for (size_t i = 0; i < L.out * (L.in + 1); i++)
            th[mlp_layer_offset(c.m, l) + i] = bound * (2.0 * urand() - 1.0);
    }
    size_t big = BATCH * 64;
    double *mem = calloc(6 * big + mlp_n_params(c.m) + 4, sizeof(double));
    if (!mem) return 1;
    c.x = mem, c.y = c.x + big, c.v = c.y + big, c.dx = c.v + big, c.h1 = c.dx + big;
    c.h2 = c.h1 + big, c.dtheta = c.h2 + big, c.jac = c.dtheta + mlp_n_params(c.m);
    for (int i = 0; i < 2 * BATCH; i++)
        c.x[i] = 4.0 * urand() - 2.0, c.v[i] = urand() - 0.5;

    report_call("fwd_single_loops", median_per_call(fwd_single, &c, 20000));
    report_call("fwd_single_gemv", median_per_call(fwd_single_gemv, &c, 20000));
    report_batch("fwd_batch256_gemm", median_per_call(fwd_batch, &c, 200));
    report_batch("fwd_batch256_libm", median_per_call(fwd_batch_libm, &c, 200));
    report_batch("fwd_batch256_gemm_only", median_per_call(fwd_batch_gemm_only, &c, 200));
    report_batch("fwd_batch256_as_single", median_per_call(fwd_batch_as_single, &c, 100));
    report_call("vjp_single", median_per_call(vjp_single, &c, 10000));
    report_batch("vjp_batch256", median_per_call(vjp_batch, &c, 100));
    report_call("jacobian_single", median_per_call(jacobian_single, &c, 10000));
    free(mem);
    mlp_ws_free(c.ws);
    mlp_free(c.m);
    return 0;
}

int main(void)
{
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
    bench_acts();
    return bench_net();
}
