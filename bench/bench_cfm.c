/* bench/bench_cfm: one flow-matching training iteration (issue #27;
 * docs/cnf-training.md, docs/benchmarks.md "CFM"): a 3-64-64-2 tanh field
 * (the time as its third input), batch 256, float64, one thread, Adam
 * (lr 1e-3). An iteration draws x0 ~ N(0, I), takes the next 256 data
 * points (standard normal draws shifted by 3: the numbers do not depend on
 * the data), draws t ~ U(0, 1), couples (independent, or exact OT by
 * model/lsap.h), evaluates the loss and its gradient (model/cfm.h) and
 * takes the Adam step: what trainer_cnf.c does per iteration. Lines: one
 * JSON object each, microseconds of CPU time per iteration (the best of
 * --reps runs of --iters iterations), and the assignment alone.
 * bench/cfm_torch.py is the PyTorch side (the same iteration).
 *
 *   ./bench/bench_cfm [--reps N] [--iters N]
 * Not part of make check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "model/cfm.h"
#include "model/lsap.h"
#include "model/optim.h"
#include "model/rng.h"
#include "nn/mlp.h"

enum { D = 2, H = 64, B = 256 };

static double run(cfm *c, optim *o, double *params, double *grad, size_t np, rng *r, int ot,
                  int iters, const double *data, size_t n_data)
{
    static double x0[B * D], x1[B * D], t[B];
    size_t next = 0;
    double loss = 0, c0 = bench_cpu_now();
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < B * D; i++)
            x0[i] = rng_normal(r);
        if (next + B > n_data) next = 0;
        memcpy(x1, data + next * D, sizeof x1);
        next += B;
        for (size_t k = 0; k < B; k++)
            t[k] = rng_uniform(r);
        if (ot) cfm_couple(c, B, x0, x1);
        cfm_loss(c, B, x0, x1, t, NULL, 0, &loss, grad);
        optim_step(o, params, grad);
    }
    (void)np;
    return (bench_cpu_now() - c0) / iters * 1e6;
}

int main(int argc, char **argv)
{
    int reps = 5, iters = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
    }
    mlp_layer layers[3] = {{MLP_LINEAR, D + 1, H, ACT_TANH},
                           {MLP_LINEAR, H, H, ACT_TANH},
                           {MLP_LINEAR, H, D, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = D, .time_input = true, .n_layers = 3, .layers = layers};
    mlp *f = NULL;
    cfm *c = NULL;
    optim *o = NULL;
    lsap *l = NULL;
    err e;
    err_clear(&e);
    if (mlp_new(&f, &s, &e)) return 1;
    const size_t np = mlp_n_params(f);
    double *params = malloc(np * sizeof *params), *grad = malloc(np * sizeof *grad);
    rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < 3; i++) { /* nn.Linear's default: U(+-1/sqrt(in)) */
        const size_t off = mlp_layer_offset(f, i), n = layers[i].in * layers[i].out + layers[i].out;
        for (size_t k = 0; k < n; k++)
            params[off + k] = rng_uniform_range(&r, -1 / sqrt((double)layers[i].in),
                                                1 / sqrt((double)layers[i].in));
    }
    mlp_params_bind(f, params);
    struct optim_config oc;
    optim_config_init(&oc, OPTIM_ADAM);
    const size_t n_data = 64 * B;
    double *data = malloc(n_data * D * sizeof *data), *cost = malloc(B * B * sizeof *cost);
    size_t col[B];
    for (size_t i = 0; i < n_data * D; i++)
        data[i] = 3 + rng_normal(&r);
    if (cfm_new(&c, f, params, B, &e) || optim_new(&o, &oc, np, &e) || lsap_new(&l, B, &e)) {
        fprintf(stderr, "bench_cfm: %s\n", e.message);
        return 1;
    }
    for (int ot = 0; ot < 2; ot++) {
        double best = 1e300;
        for (int k = 0; k < reps; k++) {
            double us = run(c, o, params, grad, np, &r, ot, iters, data, n_data);
            if (us < best) best = us;
        }
        printf("{\"bench\": \"cfm_iteration\", \"field\": \"3-64-64-2\", \"batch\": %d, "
               "\"coupling\": \"%s\", \"us_per_iteration\": %.1f}\n",
               B, ot ? "ot" : "independent", best);
    }
    double best = 1e300;
    for (int k = 0; k < reps; k++) {
        double tot = 0;
        for (int it = 0; it < 20; it++) {
            for (size_t i = 0; i < B; i++)
                for (size_t j = 0; j < B; j++) {
                    const double a = rng_normal(&r) - data[2 * j], b = rng_normal(&r) - data[2 * j + 1];
                    cost[i * B + j] = a * a + b * b;
                }
            double c0 = bench_cpu_now();
            lsap_solve(l, B, cost, col);
            tot += bench_cpu_now() - c0;
        }
        if (tot / 20 * 1e6 < best) best = tot / 20 * 1e6;
    }
    printf("{\"bench\": \"lsap\", \"n\": %d, \"us_per_solve\": %.1f}\n", B, best);
    lsap_free(l);
    optim_free(o);
    cfm_free(c);
    mlp_free(f);
    free(params), free(grad), free(data), free(cost);
    return 0;
}
