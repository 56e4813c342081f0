/* bench/bench_cnf: log_prob of a continuous normalizing flow (issue #27;
 * docs/cnf.md, docs/benchmarks.md "CNF").
 *
 * Two problems, float64, one thread, dopri5 at rtol = atol = 1e-5 (FFJORD's
 * defaults), time appended as the field's last input, weights as PyTorch's
 * nn.Linear default initialisation draws them (uniform in +-1/sqrt(in)) from
 * a fixed seed, points drawn from the standard normal:
 *   2d_exact    3-64-64-2 tanh field, exact trace, 1000 points;
 *   64d_hutch   65-256-256-64 tanh field, Hutchinson with 1 Rademacher
 *               probe, 1000 points.
 * Each in the shared-step batch (one GEMM per stage) and one solve per
 * point, and at batch 1. Lines: one JSON object each, with microseconds of
 * CPU time per point (the best of --reps runs) and the NFE. Then a "bound"
 * line per problem: the field's three GEMMs at batch 1000 and its tanh
 * calls timed alone, on this machine in this run (the measured dgemm rate,
 * not an assumed one), and the bound of a shared-step point,
 *   NFE x (3 x the GEMMs + the tanh) / 1000:
 * an evaluation with its trace costs about three forward passes' products
 * (forward, and the Jacobian columns or the probe's VJP) but one pass of
 * tanh (the derivative reuses the values).
 *
 *   ./bench/bench_cnf [--reps N] [--write-models DIR]
 * --write-models writes DIR/cnf_2d.json, DIR/cnf_64d.json and the points
 * DIR/cnf_2d_x.json, DIR/cnf_64d_x.json for bench/cnf_torchdiffeq.py.
 * Not part of make check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "codec/codec_model.h"
#include "codec/jbuf.h"
#include "model/cnf_model.h"
#include "model/rng.h"
#include "nn/nn_blas.h"
#include "nn/vmath.h"

#include <cblas.h>

static void net_def(model_def *d, size_t dim, size_t width, uint64_t seed)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CNF;
    d->state_dim = dim;
    d->n_nets = 1;
    model_net *n = &d->nets[0];
    n->in_dim = dim;
    n->time_input = true;
    n->n_layers = 3;
    n->layers[0] = (mlp_layer){.kind = MLP_LINEAR, .in = dim + 1, .out = width, .act = ACT_TANH};
    n->layers[1] = (mlp_layer){.kind = MLP_LINEAR, .in = width, .out = width, .act = ACT_TANH};
    n->layers[2] = (mlp_layer){.kind = MLP_LINEAR, .in = width, .out = dim, .act = ACT_IDENTITY};
    d->n_params = (dim + 1) * width + width + width * width + width + width * dim + dim;
    d->params = malloc(d->n_params * sizeof(double));
    rng r;
    rng_seed(&r, seed);
    size_t off = 0;
    for (size_t l = 0; l < 3; l++) {
        const double a = 1.0 / sqrt((double)n->layers[l].in);
        const size_t np = n->layers[l].in * n->layers[l].out + n->layers[l].out;
        for (size_t i = 0; i < np; i++)
            d->params[off + i] = rng_uniform_range(&r, -a, a);
        off += np;
    }
    d->solver.rtol = d->solver.atol = 1e-5;
    strcpy(d->solver.method, "dopri5");
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench_cnf: cannot write %s\n", path);
        exit(1);
    }
}

static void write_model(const char *dir, const char *name, const model_def *d, const double *x,
                        size_t n)
{
    char path[1024];
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(d, &b);
    size_t len;
    char *text = jbuf_take(&b, &len);
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    write_text(path, text);
    free(text);
    jbuf_init(&b);
    jbuf_rows(&b, x, n, d->state_dim);
    text = jbuf_take(&b, &len);
    snprintf(path, sizeof path, "%s/%s_x.json", dir, name);
    write_text(path, text);
    free(text);
}

static void run(const char *name, const cnf_model *m, const double *x, size_t n,
                const struct cnf_trace_opts *tr, cnf_batch_mode mode, int reps)
{
    double *lp = malloc(n * sizeof(double)), best = INFINITY;
    struct cnf_stats st = {0};
    for (int k = 0; k < reps; k++) {
        struct cnf_logp_query q = {.n = n, .x = x, .tr = *tr, .mode = mode};
        err e;
        err_clear(&e);
        double t0 = bench_cpu_now();
        if (cnf_model_log_prob(m, &q, lp, NULL, NULL, &st, &e) != ERR_OK) {
            fprintf(stderr, "bench_cnf: %s: %s\n", name, e.message);
            exit(1);
        }
        double s = bench_cpu_now() - t0;
        if (s < best) best = s;
    }
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += lp[i] / (double)n;
    printf("{\"case\": \"%s\", \"points\": %zu, \"mode\": \"%s\", \"us_per_point\": %.2f, "
           "\"nfe\": %ld, \"nfe_per_point\": %.1f, \"mean_log_prob\": %.6f}\n",
           name, n, st.mode == CNF_BATCH_SHARED ? "shared" : "per_point", best / (double)n * 1e6,
           st.nfe, (double)st.nfe / (st.mode == CNF_BATCH_SHARED ? 1.0 : (double)n), mean);
    free(lp);
}

/* CPU µs of the field's forward GEMMs (gemm) and of its tanh (act) for
 * n states of a (dim + 1)-width-width-dim network, best of 7. */
static void field_parts(size_t dim, size_t width, size_t n, double *gemm, double *act)
{
    const size_t in[3] = {dim + 1, width, width}, out[3] = {width, width, dim};
    double *W[3], *X[4];
    for (int l = 0; l < 3; l++) {
        W[l] = malloc(in[l] * out[l] * sizeof(double));
        for (size_t i = 0; i < in[l] * out[l]; i++)
            W[l][i] = 0.01 * (double)(i % 97) - 0.3;
    }
    X[0] = malloc(n * in[0] * sizeof(double));
    for (size_t i = 0; i < n * in[0]; i++)
        X[0][i] = 0.001 * (double)(i % 1013);
    for (int l = 0; l < 3; l++)
        X[l + 1] = calloc(n * out[l], sizeof(double));
    *gemm = *act = INFINITY;
    for (int k = 0; k < 7; k++) {
        double t0 = bench_cpu_now();
        for (int l = 0; l < 3; l++)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out[l], (int)in[l],
                        1.0, X[l], (int)in[l], W[l], (int)in[l], 0.0, X[l + 1], (int)out[l]);
        double t1 = bench_cpu_now();
        vmath_tanh(n * width, X[1], X[1]);
        vmath_tanh(n * width, X[2], X[2]);
        double t2 = bench_cpu_now();
        *gemm = fmin(*gemm, (t1 - t0) * 1e6);
        *act = fmin(*act, (t2 - t1) * 1e6);
    }
    for (int l = 0; l < 3; l++)
        free(W[l]);
    for (int l = 0; l < 4; l++)
        free(X[l]);
}

int main(int argc, char **argv)
{
    int reps = 3;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--write-models") == 0 && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_cnf [--reps N] [--write-models DIR]\n");
            return 2;
        }
    }
    /* One thread, as the daemon runs BLAS (service.c) and as the issue
     * measures: CPU time is this thread's, so a GEMM split across OpenBLAS's
     * threads would hide their share from both the cost and the bound. */
    nn_blas_single_thread();
    const size_t n = 1000;
    struct {
        const char *name;
        size_t dim, width;
        struct cnf_trace_opts tr;
    } cases[] = {
        {"2d_exact", 2, 64, {.trace = CNF_TRACE_EXACT}},
        {"64d_hutch", 64, 256, {.trace = CNF_TRACE_HUTCHINSON, .probes = 1, .seed = 1}},
    };
    for (size_t c = 0; c < 2; c++) {
        model_def d;
        net_def(&d, cases[c].dim, cases[c].width, 27 + c);
        double *x = malloc(n * cases[c].dim * sizeof(double));
        rng r;
        rng_seed(&r, 100 + c);
        for (size_t i = 0; i < n * cases[c].dim; i++)
            x[i] = rng_normal(&r);
        if (dir) write_model(dir, c == 0 ? "cnf_2d" : "cnf_64d", &d, x, n);
        cnf_model *m = NULL;
        err e;
        err_clear(&e);
        if (cnf_model_new(&m, &d, &e) != ERR_OK) {
            fprintf(stderr, "bench_cnf: %s\n", e.message);
            return 1;
        }
        run(cases[c].name, m, x, n, &cases[c].tr, CNF_BATCH_SHARED, reps);
        {
            double gemm, act;
            field_parts(cases[c].dim, cases[c].width, n, &gemm, &act);
            const double w = (double)cases[c].width, dd = (double)cases[c].dim;
            const double flops = 2.0 * (double)n * ((dd + 1) * w + w * w + w * dd);
            printf("{\"case\": \"%s\", \"bound\": \"per NFE of a shared-step batch of %zu\", "
                   "\"gemm_us\": %.1f, \"dgemm_gflops\": %.1f, \"tanh_us\": %.1f, "
                   "\"bound_us_per_point_per_nfe\": %.4f}\n",
                   cases[c].name, n, gemm, flops / gemm * 1e-3, act, (3 * gemm + act) / (double)n);
        }
        run(cases[c].name, m, x, n, &cases[c].tr, CNF_BATCH_PER_POINT, reps);
        run(cases[c].name, m, x, 1, &cases[c].tr, CNF_BATCH_PER_POINT, reps * 20);
        cnf_model_free(m);
        model_def_free(&d);
        free(x);
    }
    return 0;
}
