/* bench_nn: activation kernels and MLP evaluation times, single-threaded.
 *
 * Prints one JSON object per line: the median over REPS timed runs (after a
 * warm-up) of a loop long enough to dwarf the clock's resolution.
 *   <act>_libm / <act>_vm   ns per element of the activation over 256 x 64
 *                           values in [-4, 4] (libm element by element vs
 *                           nn/vmath.h)
 *   layer_<out>x<in>_loops  one linear layer, one state: mlp_forward (the
 *   layer_<out>x<in>_gemv   library's hand loops) vs cblas_dgemv
 *   fwd_single_loops        mlp_forward, 2 -> 64 -> 64 -> 2 (tanh, tanh, id)
 *   fwd_single_gemv         the same network through cblas_dgemv per layer
 *   fwd_batch<n>            mlp_forward_batch, n states (hand loops below 8,
 *                           cblas_dgemm from 8)
 *   fwd_batch<n>_gemm       cblas_dgemm per layer whatever n
 *   fwd_batch<n>_as_single  n calls of mlp_forward
 *   fwd_batch256_libm_tanh  the GEMM path with libm tanh element by element
 *   fwd_batch256_gemm_only  the three GEMMs alone (no activation)
 *   vjp_single, vjp_batch256, jacobian_single: forward + VJP (dx and
 *                           dtheta) / forward + Jacobian
 *   w2_fwd20, w2_vjp20      W2's field (bench_train: cube, Linear(2, 50)
 *                           tanh, Linear(50, 2)) on its 20-row batch:
 *                           mlp_forward_batch / mlp_vjp_batch alone on
 *                           one tape (dx and dtheta), as the backprop
 *                           sweep runs it on kept activations
 * With --cpu every figure is this thread's CPU time instead of wall time
 * (on a shared machine: what other processes' turns do not inflate);
 * --w2 runs the W2 lines alone.
 * Run from the build tree: bench/bench_nn [--cpu] [--w2] (make builds it). */
#include "bench_util.h" /* next to this file */
#include "build_config.h"

#include "core/clock.h"
#include "nn/mlp.h"
#include "nn/vmath.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 21, BATCH = 256, ACT_N = BATCH * 64 };

typedef void (*bench_fn)(void *ctx);

static double (*now)(void) = clock_mono; /* bench_cpu_now with --cpu */

/* Median seconds per call of fn(ctx) over REPS runs of `inner` calls. */
static double median_per_call(bench_fn fn, void *ctx, int inner)
{
    double t[REPS];
    for (int i = 0; i < inner; i++)
        fn(ctx); /* warm-up */
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        for (int i = 0; i < inner; i++)
            fn(ctx);
        t[r] = (now() - t0) / inner;
    }
    qsort(t, REPS, sizeof t[0], bench_cmp_double);
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
        {"tanh", libm_tanh, vmath_tanh},
        {"sigmoid", libm_sigmoid, vmath_sigmoid},
        {"softplus", libm_softplus, vmath_softplus},
        {"silu", libm_silu, vmath_silu},
        {"elu", libm_elu, vmath_elu},
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
    size_t n; /* batch size */
    int act;  /* manual GEMM path: 0 none, 1 libm tanh, 2 act_apply */
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
    size_t nl = mlp_n_layers(c->m);
    for (size_t l = 0; l < nl; l++) {
        mlp_layer L = mlp_layer_at(c->m, l);
        const double *W = th + mlp_layer_offset(c->m, l);
        double *out = l + 1 == nl ? c->y : (l % 2 ? c->h2 : c->h1);
        memcpy(out, W + L.out * L.in, L.out * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)L.out, (int)L.in, 1.0, W, (int)L.in, in, 1,
                    1.0, out, 1);
        act_apply(L.act, L.out, out, out);
        in = out;
    }
}

static void fwd_batch(void *p)
{
    net_ctx *c = p;
    mlp_forward_batch(c->m, c->ws, c->n, c->x, 0.0, c->y);
}

/* cblas_dgemm per layer whatever the batch size, with the activation
 * chosen by c->act. */
static void fwd_batch_gemm(void *p)
{
    net_ctx *c = p;
    const double *th = mlp_params_const(c->m);
    const double *in = c->x;
    size_t nl = mlp_n_layers(c->m);
    for (size_t l = 0; l < nl; l++) {
        mlp_layer L = mlp_layer_at(c->m, l);
        const double *W = th + mlp_layer_offset(c->m, l);
        double *out = l + 1 == nl ? c->y : (l % 2 ? c->h2 : c->h1);
        for (size_t k = 0; k < c->n; k++)
            memcpy(out + k * L.out, W + L.out * L.in, L.out * sizeof(double));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->n, (int)L.out, (int)L.in, 1.0,
                    in, (int)L.in, W, (int)L.in, 1.0, out, (int)L.out);
        if (c->act == 1 && L.act == ACT_TANH) libm_tanh(c->n * L.out, out, out);
        if (c->act == 2) act_apply(L.act, c->n * L.out, out, out);
        in = out;
    }
}

static void fwd_batch_as_single(void *p)
{
    net_ctx *c = p;
    size_t sd = mlp_state_dim(c->m), od = mlp_output_dim(c->m);
    for (size_t k = 0; k < c->n; k++)
        mlp_forward(c->m, c->ws, c->x + sd * k, 0.0, c->y + od * k);
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
    mlp_forward_batch(c->m, c->ws, c->n, c->x, 0.0, c->y);
    mlp_vjp_batch(c->m, c->ws, c->n, c->v, c->dx, NULL, c->dtheta);
}

static void vjp_batch_only(void *p)
{
    net_ctx *c = p;
    mlp_vjp_batch(c->m, c->ws, c->n, c->v, c->dx, NULL, c->dtheta);
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

static void report_batch(const char *name, size_t n, double s)
{
    printf("{\"bench\": \"%s\", \"batch\": %zu, \"us_per_call\": %.2f, \"ns_per_state\": %.1f}\n",
           name, n, s * 1e6, s * 1e9 / (double)n);
}

/* A network with the given layers, PyTorch's default initialisation
 * U(-1/sqrt(in), 1/sqrt(in)), a workspace for BATCH and buffers. */
static int net_open(net_ctx *c, size_t sd, size_t nl, const mlp_layer *layers)
{
    mlp_spec spec = {.state_dim = sd, .n_layers = nl, .layers = layers};
    err e;
    err_clear(&e);
    memset(c, 0, sizeof *c);
    if (mlp_new(&c->m, &spec, &e) || mlp_ws_new(&c->ws, c->m, BATCH, &e)) {
        fprintf(stderr, "bench_nn: %s: %s\n", e.field, e.message);
        return -1;
    }
    double *th = mlp_params(c->m);
    for (size_t l = 0; l < nl; l++) {
        mlp_layer L = mlp_layer_at(c->m, l);
        double bound = 1.0 / sqrt((double)L.in);
        for (size_t i = 0; i < L.out * (L.in + 1); i++)
            th[mlp_layer_offset(c->m, l) + i] = bound * (2.0 * urand() - 1.0);
    }
    if (mlp_pack(c->m, &e)) { /* as a loaded model is */
        fprintf(stderr, "bench_nn: %s\n", e.message);
        return -1;
    }
    size_t big = BATCH * mlp_max_width(c->m), np = mlp_n_params(c->m);
    double *mem = calloc(6 * big + np + big, sizeof(double));
    if (!mem) return -1;
    c->x = mem, c->y = c->x + big, c->v = c->y + big, c->dx = c->v + big, c->h1 = c->dx + big;
    c->h2 = c->h1 + big, c->dtheta = c->h2 + big, c->jac = c->dtheta + np;
    for (size_t i = 0; i < big; i++)
        c->x[i] = 4.0 * urand() - 2.0, c->v[i] = urand() - 0.5;
    c->n = BATCH;
    return 0;
}

static void net_close(net_ctx *c)
{
    free(c->x);
    mlp_ws_free(c->ws);
    mlp_free(c->m);
}

/* One linear layer (identity): the matrix-vector product alone. */
static int bench_layers(void)
{
    static const size_t shapes[][2] = {{64, 2}, {64, 64}, {2, 64}}; /* out, in */
    for (size_t s = 0; s < 3; s++) {
        mlp_layer L = {MLP_LINEAR, shapes[s][1], shapes[s][0], ACT_IDENTITY};
        net_ctx c;
        if (net_open(&c, L.in, 1, &L)) return 1;
        char name[64];
        snprintf(name, sizeof name, "layer_%zux%zu_loops", L.out, L.in);
        report_call(name, median_per_call(fwd_single, &c, 20000));
        snprintf(name, sizeof name, "layer_%zux%zu_gemv", L.out, L.in);
        report_call(name, median_per_call(fwd_single_gemv, &c, 20000));
        net_close(&c);
    }
    return 0;
}

static int bench_net(void)
{
    const mlp_layer layers[] = {
        {MLP_LINEAR, 2, 64, ACT_TANH},
        {MLP_LINEAR, 64, 64, ACT_TANH},
        {MLP_LINEAR, 64, 2, ACT_IDENTITY},
    };
    net_ctx c;
    if (net_open(&c, 2, 3, layers)) return 1;
    char name[64];
    report_call("fwd_single_loops", median_per_call(fwd_single, &c, 20000));
    report_call("fwd_single_gemv", median_per_call(fwd_single_gemv, &c, 20000));
    static const size_t sizes[] = {2, 4, 8, 16, 64, BATCH};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        c.n = sizes[i];
        int inner = (int)(20000 / c.n);
        snprintf(name, sizeof name, "fwd_batch%zu", c.n);
        report_batch(name, c.n, median_per_call(fwd_batch, &c, inner));
        c.act = 2;
        snprintf(name, sizeof name, "fwd_batch%zu_gemm", c.n);
        report_batch(name, c.n, median_per_call(fwd_batch_gemm, &c, inner));
        snprintf(name, sizeof name, "fwd_batch%zu_as_single", c.n);
        report_batch(name, c.n, median_per_call(fwd_batch_as_single, &c, inner));
    }
    c.n = BATCH;
    c.act = 1;
    report_batch("fwd_batch256_libm_tanh", BATCH, median_per_call(fwd_batch_gemm, &c, 100));
    c.act = 0;
    report_batch("fwd_batch256_gemm_only", BATCH, median_per_call(fwd_batch_gemm, &c, 100));
    report_call("vjp_single", median_per_call(vjp_single, &c, 10000));
    report_batch("vjp_batch256", BATCH, median_per_call(vjp_batch, &c, 100));
    report_call("jacobian_single", median_per_call(jacobian_single, &c, 10000));
    net_close(&c);
    return 0;
}

/* W2's field at its batch; the best of five medians, the figures being
 * a fraction of a microsecond. */
static int bench_w2(void)
{
    const mlp_layer layers[] = {
        {MLP_ELEMENTWISE, 0, 0, ACT_CUBE},
        {MLP_LINEAR, 2, 50, ACT_TANH},
        {MLP_LINEAR, 50, 2, ACT_IDENTITY},
    };
    net_ctx c;
    if (net_open(&c, 2, 3, layers)) return 1;
    c.n = 20;
    double f = 1e9, v = 1e9;
    for (int r = 0; r < 5; r++) {
        double t = median_per_call(fwd_batch, &c, 20000);
        f = t < f ? t : f;
        fwd_batch(&c); /* the tape the VJPs read */
        memset(c.dtheta, 0, mlp_n_params(c.m) * sizeof(double));
        t = median_per_call(vjp_batch_only, &c, 20000);
        v = t < v ? t : v;
    }
    report_batch("w2_fwd20", c.n, f);
    report_batch("w2_vjp20", c.n, v);
    net_close(&c);
    return 0;
}

int main(int argc, char **argv)
{
    bool w2_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu") == 0) now = bench_cpu_now;
        if (strcmp(argv[i], "--w2") == 0) w2_only = true;
    }
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
    if (w2_only) return bench_w2();
    bench_acts();
    return bench_layers() || bench_net() || bench_w2();
}
