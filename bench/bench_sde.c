/* bench_sde: neural SDE sampling (issue #25; docs/benchmarks.md, "SDE").
 *
 * The problem: drift and diffusion 2-64-64-2 (tanh, tanh, identity),
 * diagonal noise, Ito, Euler-Maruyama with dt = 0.01 on [0, 10] (1000 steps),
 * output at 101 times; weights drawn as torch.nn.Linear draws them
 * (U(-1/sqrt(in), 1/sqrt(in))) from model/rng.h with seed 2025.
 * bench/sde_torchsde.py runs torchsde's sdeint on the same weights
 * (bench_sde --write-model FILE writes them as a model document).
 *
 * Lines (one JSON object each): µs of CPU per sample path at 1000 samples
 * in one request and at 1 sample per request, for euler_maruyama, milstein
 * and reversible_heun (Stratonovich, same networks); wall time of 1000
 * samples on 1 and 2 threads (a core/workq pool helping); ns per normal
 * draw and per Brownian query on the step grid (with the grid's own
 * construction, and without); the load average.
 *
 * The arithmetic bound (the issue's: network flops x steps at the measured
 * dgemm rate, plus the tanh and the normal draws), measured in the same
 * run at the best of several repetitions: the three layers of one network
 * as cblas_dgemm over the 1000 states of a step, the vectorised tanh on a
 * lockstep chunk's layer (4 x 64 values), the normal draw below; per path
 * 1000 steps x (2 networks + 4 x 64 tanh + 2 normals). Printed with EM's
 * ratio to it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h" /* next to this file */
#include "codec/codec_model.h"
#include "codec/jbuf.h"
#include "core/workq.h"
#include "model/rng.h"
#include "model/sde_model.h"
#include "nn/nn_blas.h"
#include "nn/vmath.h"
#include "num/brownian.h"

#include <cblas.h>

#define H 64

static size_t net(model_def *d, size_t which, size_t off, rng *r)
{
    model_net *n = &d->nets[which];
    const size_t w[] = {2, H, H, 2};
    n->in_dim = 2;
    n->n_layers = 3;
    for (int l = 0; l < 3; l++) {
        n->layers[l] = (mlp_layer){MLP_LINEAR, w[l], w[l + 1], l < 2 ? ACT_TANH : ACT_IDENTITY};
        double k = 1 / sqrt((double)w[l]);
        for (size_t i = 0; i < w[l] * w[l + 1] + w[l + 1]; i++)
            d->params[off++] = rng_uniform_range(r, -k, k);
    }
    return off;
}

static void build(model_def *d)
{
    model_def_init(d);
    d->kind = MODEL_KIND_SDE;
    d->state_dim = 2;
    d->sde_calculus = SDE_ITO;
    d->sde_noise = SDE_NOISE_DIAGONAL;
    d->n_nets = 2;
    d->n_params = 2 * (2 * H + H + H * H + H + H * 2 + 2);
    d->params = malloc(d->n_params * sizeof *d->params);
    rng r;
    rng_seed(&r, 2025);
    size_t off = net(d, 0, 0, &r);
    net(d, 1, off, &r);
    snprintf(d->solver.method, sizeof d->solver.method, "euler_maruyama");
    d->solver.step = 0.01;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best CPU seconds of one network's three layers by cblas_dgemm over S
 * states (no bias, no activation: the flops alone), and of the tanh of 256
 * values, over reps repetitions. */
static void bound_rates(const model_def *d, size_t S, int reps, double *gemm_s, double *tanh_s)
{
    const size_t w[] = {2, H, H, 2};
    double *a = malloc(S * H * sizeof *a), *b = malloc(S * H * sizeof *b);
    for (size_t i = 0; i < S * H; i++)
        a[i] = sin(0.37 * (double)i);
    *gemm_s = *tanh_s = 1e30;
    for (int r = 0; r < reps; r++) {
        double c0 = bench_cpu_now();
        const double *u = a;
        size_t off = 0;
        for (int l = 0; l < 3; l++) {
            double *z = l % 2 ? a : b;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, (int)w[l + 1], (int)w[l],
                        1.0, u, (int)w[l], d->params + off, (int)w[l], 0.0, z, (int)w[l + 1]);
            off += w[l] * w[l + 1] + w[l + 1];
            u = z;
        }
        double g = bench_cpu_now() - c0;
        if (g < *gemm_s) *gemm_s = g;
        for (size_t i = 0; i < S * H; i++) /* back into tanh's range */
            a[i] = sin(0.37 * (double)i);
        c0 = bench_cpu_now();
        for (int k = 0; k < 1000; k++)
            vmath_tanh(4 * H, a + 4 * H * (size_t)(k % 250), b);
        double th = (bench_cpu_now() - c0) / 1000;
        if (th < *tanh_s) *tanh_s = th;
    }
    free(a);
    free(b);
}

static double process_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv)
{
    model_def d;
    build(&d);
    err e;
    err_clear(&e);
    if (model_def_validate(&d, &e)) {
        fprintf(stderr, "bench_sde: %s: %s\n", e.field, e.message);
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--write-model") == 0) {
        jbuf b;
        jbuf_init(&b);
        codec_model_encode(&d, &b);
        size_t len;
        char *text = jbuf_take(&b, &len);
        FILE *f = fopen(argv[2], "w");
        if (!f || fwrite(text, 1, len, f) != len || fclose(f)) return 1;
        free(text);
        model_def_free(&d);
        return 0;
    }
    nn_blas_single_thread();
    const size_t S = 1000, nt = 101;
    double t[101];
    for (size_t i = 0; i < nt; i++)
        t[i] = 0.1 * (double)i;
    const double y0[2] = {0.5, -0.3};
    double *paths = malloc(S * nt * 2 * sizeof *paths);
    printf("{\"bench\":\"sde\",\"load1\":%.2f}\n", load1());
    double em_big = 0;
    const char *methods[] = {"euler_maruyama", "milstein", "reversible_heun"};
    for (int mi = 0; mi < 3; mi++) {
        d.sde_calculus = mi == 2 ? SDE_STRATONOVICH : SDE_ITO;
        snprintf(d.solver.method, sizeof d.solver.method, "%s", methods[mi]);
        sde_model *m;
        if (sde_model_new(&m, &d, &e)) {
            fprintf(stderr, "bench_sde: %s\n", e.message);
            return 1;
        }
        struct sde_model_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = nt, .samples = S, .seed = 1};
        double c0 = bench_cpu_now();
        if (sde_model_solve(m, &q, paths, NULL, &e)) return 1;
        double big = (bench_cpu_now() - c0) / (double)S;
        /* one sample per request: 100 requests */
        q.samples = 1;
        c0 = bench_cpu_now();
        for (int k = 0; k < 100; k++) {
            q.seed = (uint64_t)k;
            if (sde_model_solve(m, &q, paths, NULL, &e)) return 1;
        }
        double one = (bench_cpu_now() - c0) / 100;
        if (mi == 0) em_big = big;
        printf("{\"method\":\"%s\",\"batch1000_us_per_path\":%.1f,\"batch1_us_per_path\":%.1f}\n",
               methods[mi], big * 1e6, one * 1e6);
        sde_model_free(m);
    }
    /* threads: 1000 samples, wall time, 1 thread vs a pool of 2 helping */
    d.sde_calculus = SDE_ITO;
    snprintf(d.solver.method, sizeof d.solver.method, "euler_maruyama");
    sde_model *m;
    if (sde_model_new(&m, &d, &e)) return 1;
    workq *pool;
    if (workq_new(&pool, 2, 16, &e)) return 1;
    double w1 = 0, w2 = 0, p1 = 0, p2 = 0;
    int used = 0;
    for (int th = 1; th <= 2; th++) {
        struct sde_model_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = nt, .samples = S,
                                    .seed = 1, .pool = th > 1 ? pool : NULL,
                                    .max_helpers = th - 1};
        struct sde_model_stats st;
        double w0 = wall(), c0 = process_cpu();
        if (sde_model_solve(m, &q, paths, &st, &e)) return 1;
        *(th == 1 ? &w1 : &w2) = wall() - w0;
        *(th == 1 ? &p1 : &p2) = process_cpu() - c0;
        if (th == 2) used = st.threads;
    }
    /* the process's CPU time (every thread's): equal on 1 and 2 threads
     * when splitting the work costs nothing; the wall time then shows what
     * the scheduler gave the second thread */
    printf("{\"threads\":\"1 vs 2\",\"wall_s_1\":%.3f,\"wall_s_2\":%.3f,\"speedup\":%.2f,"
           "\"cpu_s_1\":%.3f,\"cpu_s_2\":%.3f,\"threads_used\":%d}\n",
           w1, w2, w1 / w2, p1, p2, used);
    workq_free(pool);
    sde_model_free(m);
    /* sample generation */
    const int N = 2000000;
    double z[2], acc = 0;
    double c0 = bench_cpu_now();
    for (int i = 0; i < N; i++) {
        brownian_normal2(7, 1, (uint64_t)i, 0, z);
        acc += z[0] + z[1];
    }
    double ns_normal = (bench_cpu_now() - c0) / (2.0 * N) * 1e9;
    /* Brownian queries at the step grid of 0.01, 2 components: with the
     * grid (as the solver asks) and without (every query to 2^-24) */
    double ns_query[2];
    for (int g = 0; g < 2; g++) {
        brownian_cursor *cur;
        if (brownian_cursor_new(&cur, 2, &e)) return 1;
        brownian_cursor_reset(cur, 7, 1);
        brownian_cursor_grid(cur, g ? 0.01 : 0);
        double w[2];
        c0 = bench_cpu_now();
        for (int i = 1; i <= 100000; i++) {
            brownian_cursor_w(cur, (double)i * 0.01, w);
            acc += w[0];
        }
        ns_query[g] = (bench_cpu_now() - c0) / 100000 * 1e9;
        brownian_cursor_free(cur);
    }
    printf("{\"ns_per_normal\":%.1f,\"ns_per_grid_query_2d\":%.0f,"
           "\"ns_per_query_2d_no_grid\":%.0f,\"checksum\":%g}\n",
           ns_normal, ns_query[1], ns_query[0], acc);
    double gemm_s, tanh_s;
    bound_rates(&d, S, 7, &gemm_s, &tanh_s);
    const double flops = 2.0 * (2 * H + H * H + H * 2); /* per state and network */
    const double steps = 1000, b_gemm = steps * 2 * gemm_s / (double)S,
                 b_tanh = steps * tanh_s / (4 * H) * (2 * 2 * H), /* 2 nets x 2 tanh layers */
                 b_norm = steps * 2 * ns_normal * 1e-9, bound = b_gemm + b_tanh + b_norm;
    printf("{\"dgemm_gflops\":%.1f,\"tanh_ns_per_elem\":%.3f,\"bound_us_per_path\":%.1f,"
           "\"bound_gemm_us\":%.1f,\"bound_tanh_us\":%.1f,\"bound_normals_us\":%.1f,"
           "\"em_batch1000_over_bound\":%.2f}\n",
           flops * (double)S / gemm_s * 1e-9, tanh_s / (4 * H) * 1e9, bound * 1e6, b_gemm * 1e6,
           b_tanh * 1e6, b_norm * 1e6, em_big / bound);
    printf("{\"bench\":\"sde\",\"load1_end\":%.2f}\n", load1());
    free(paths);
    model_def_free(&d);
    return 0;
}
