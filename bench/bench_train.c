/* bench_train: time per training iteration on the reference spiral setup
 * (torchdiffeq's examples/ode_demo.py), single-threaded.
 *
 * The true system dy/dt = (y^3) A, A = [[-0.1, 2], [-2, -0.1]] (y a row
 * vector), y0 = (2, 0), sampled at 1000 points on [0, 25], is solved here
 * (dop853, rtol 1e-12, atol 1e-14). The model: y -> y^3 elementwise, then
 * Linear(2, 50) + tanh, then Linear(50, 2), weights N(0, 0.1^2), biases 0.
 * Each iteration: 20 windows of 10 consecutive samples with random distinct
 * starts (as the demo's get_batch: the same times t[0..9] for every
 * window, from the window's first sample), the l1 loss (mean), its
 * gradient (backprop or adjoint; dopri5, rtol 1e-7, atol 1e-9, shared
 * steps, RMS norm over the batch as torchdiffeq), and an RMSprop step
 * (lr 1e-3). Timed: gradient + optimiser step.
 *
 * Prints one JSON object per line, per gradient mode:
 *   {"bench": "train_backprop", "median_ms_per_iter": ..., "iters": ...,
 *    "loss_first": ..., "loss_last10": ..., "steps_median": ...,
 *    "bwd_steps_median": ..., "mae_full": ..., "mae_best": ...}
 * steps_median is the forward solve's accepted steps, bwd_steps_median the
 * steps swept backwards (backprop: the same) or taken by the adjoint's
 * backward solves (all intervals together); nfe_median the forward solve's
 * evaluations of the field (each one of the whole batch of 20),
 * bwd_nfe_median the backward pass's (backprop: VJPs of the sweep, each
 * after a forward re-evaluation at the stage; adjoint: the augmented
 * field's, each a forward and a VJP);
 * loss_last10 is the mean training loss of the last 10 iterations;
 * mae_full the mean absolute error of the trained model over the whole
 * trajectory integrated from y0 (the demo's test), mae_best the smallest
 * of those errors evaluated every 20 iterations (untimed), which is what a
 * job keeping its best validation loss would store.
 *
 * median_cpu_ms_per_iter: the same median in this thread's CPU time (on a
 * shared machine, the figure other processes' turns do not move).
 *
 * Usage: bench/bench_train [iterations (200)] [seed (0)] [adjoint|backprop|both]
 *        bench/bench_train --print-setup [iterations (200)] [seed (0)]
 * --print-setup prints, as one JSON object, what a run with those arguments
 * starts from and feeds the solver, and exits: "params" (the initial
 * parameters in mlp.h's layout: W1 50 x 2, b1, W2 2 x 50, b2), "starts" (per
 * iteration the 20 window starts), "t" and "y" (the 1000 samples): the
 * anchor script bench/w2_torch.py trains from exactly these. */
#include "bench_util.h" /* next to this file */
#include "build_config.h"

#include "core/clock.h"
#include "model/grad_ode.h"
#include "model/init.h"
#include "model/optim.h"
#include "model/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DATA = 1000, BATCH = 20, BT = 10 };

static int true_rhs(double t, const double *y, double *dydt, void *ctx)
{
    (void)t, (void)ctx;
    const double A[2][2] = {{-0.1, 2.0}, {-2.0, -0.1}};
    const double c0 = y[0] * y[0] * y[0], c1 = y[1] * y[1] * y[1];
    dydt[0] = c0 * A[0][0] + c1 * A[1][0];
    dydt[1] = c0 * A[0][1] + c1 * A[1][1];
    return 0;
}

static int make_data(double *t, double *y)
{
    for (int i = 0; i < DATA; i++)
        t[i] = 25.0 * i / (DATA - 1);
    const double y0[2] = {2, 0};
    err e;
    err_clear(&e);
    ode_solver *s = ode_solver_new(&rk_dop853, 2, &e);
    struct ode_options o;
    ode_options_init(&o);
    o.rtol = 1e-12;
    o.atol = 1e-14;
    const struct ode_problem p = {
        .f = true_rhs, .dim = 2, .t0 = 0, .y0 = y0, .t_out = t, .n_out = DATA};
    int rc = s ? ode_solve(s, &p, &o, y, NULL, &e) : 1;
    ode_solver_free(s);
    if (rc) fprintf(stderr, "true trajectory: %s\n", e.message);
    return rc;
}

static mlp *make_model(uint64_t seed)
{
    mlp_layer layers[3] = {
        {.kind = MLP_ELEMENTWISE, .act = ACT_CUBE},
        {.kind = MLP_LINEAR, .in = 2, .out = 50, .act = ACT_TANH},
        {.kind = MLP_LINEAR, .in = 50, .out = 2, .act = ACT_IDENTITY},
    };
    mlp_spec spec = {.state_dim = 2, .n_layers = 3, .layers = layers};
    mlp *m = NULL;
    if (mlp_new(&m, &spec, NULL)) return NULL;
    model_net net = {.in_dim = 2, .n_layers = 3};
    memcpy(net.layers, layers, sizeof layers);
    rng r;
    rng_seed(&r, seed);
    const struct init_config ic = {.scheme = INIT_NORMAL, .std = 0.1};
    if (init_net_params(&net, &ic, &r, mlp_params(m), NULL)) {
        mlp_free(m);
        return NULL;
    }
    return m;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Mean absolute error of the model over the whole trajectory from y0. */
static double full_mae(grad_ode *g, const double *t, const double *y,
                       const struct grad_ode_options *base)
{
    struct grad_ode_options o = *base;
    o.loss = LOSS_L1;
    const double y0[2] = {y[0], y[1]};
    struct grad_ode_batch b = {.batch = 1, .y0 = y0, .t0 = &t[0], .t = t, .n_t = DATA, .target = y};
    double loss = NAN;
    err e;
    err_clear(&e);
    if (grad_ode_compute(g, &b, &o, &loss, NULL, NULL, NULL, &e))
        fprintf(stderr, "full trajectory: %s\n", e.message);
    return loss;
}

static int run(grad_method method, int iters, uint64_t seed, const double *t, const double *y)
{
    mlp *f = make_model(seed);
    grad_ode *g = NULL;
    optim *opt = NULL;
    struct optim_config oc;
    optim_config_init(&oc, OPTIM_RMSPROP);
    oc.lr = 1e-3;
    err e;
    err_clear(&e);
    if (!f || grad_ode_new(&g, f, BATCH, &e) || optim_new(&opt, &oc, mlp_n_params(f), &e)) {
        fprintf(stderr, "setup: %s\n", e.message);
        return 1;
    }
    struct grad_ode_options o;
    grad_ode_options_init(&o);
    o.solve.method = method;
    o.solve.tab = &rk_dopri5;
    o.solve.ode.rtol = 1e-7;
    o.solve.ode.atol = 1e-9;
    o.loss = LOSS_L1;
    rng r;
    rng_seed(&r, seed + 1);
    const size_t np = mlp_n_params(f);
    double *grad = malloc(np * sizeof *grad), *ms = malloc((size_t)iters * sizeof *ms);
    double *cpu = malloc((size_t)iters * sizeof *cpu);
    double *steps = malloc((size_t)iters * sizeof *steps), y0[BATCH * 2], tgt[BATCH * BT * 2];
    double *bsteps = malloc((size_t)iters * sizeof *bsteps);
    double *nfe = malloc((size_t)iters * sizeof *nfe), *bnfe = malloc((size_t)iters * sizeof *bnfe);
    double loss_first = NAN, loss_tail = 0, mae_best = INFINITY;
    size_t start[BATCH];
    int rc = 0;
    for (int it = 0; it < iters && !rc; it++) {
        rng_sample(&r, DATA - BT, BATCH, start, NULL);
        for (int b = 0; b < BATCH; b++) {
            memcpy(y0 + 2 * b, y + 2 * start[b], 2 * sizeof *y0);
            memcpy(tgt + (size_t)b * BT * 2, y + 2 * start[b], BT * 2 * sizeof *tgt);
        }
        struct grad_ode_batch batch = {
            .batch = BATCH, .y0 = y0, .t0 = &t[0], .t = t, .n_t = BT, .target = tgt};
        double loss;
        const double c0 = clock_mono(), p0 = bench_cpu_now();
        rc = grad_ode_compute(g, &batch, &o, &loss, grad, NULL, NULL, &e);
        if (!rc) optim_step(opt, mlp_params(f), grad);
        ms[it] = 1e3 * (clock_mono() - c0);
        cpu[it] = 1e3 * (bench_cpu_now() - p0);
        struct grad_stats st;
        grad_ode_stats(g, &st);
        steps[it] = (double)st.fwd_steps;
        bsteps[it] = (double)st.bwd_steps;
        nfe[it] = (double)st.fwd_nfe;
        bnfe[it] = (double)st.bwd_nfe;
        if (it == 0) loss_first = loss;
        if (it >= iters - 10) loss_tail += loss / (iters < 10 ? iters : 10);
        if (!rc && (it + 1) % 20 == 0) mae_best = fmin(mae_best, full_mae(g, t, y, &o));
    }
    if (rc) {
        fprintf(stderr, "training (%s): %s\n", grad_method_name(method), e.message);
    } else {
        const double mae = full_mae(g, t, y, &o);
        printf("{\"bench\": \"train_%s\", \"median_ms_per_iter\": %.4f, "
               "\"median_cpu_ms_per_iter\": %.4f, \"iters\": %d, \"loss_first\": %.5f, "
               "\"loss_last10\": %.5f, \"steps_median\": %.0f, \"bwd_steps_median\": %.0f, "
               "\"nfe_median\": %.0f, \"bwd_nfe_median\": %.0f, "
               "\"mae_full\": %.5f, \"mae_best\": %.5f}\n",
               grad_method_name(method), median(ms, iters), median(cpu, iters), iters, loss_first,
               loss_tail, median(steps, iters), median(bsteps, iters), median(nfe, iters),
               median(bnfe, iters), mae, mae_best);
    }
    free(grad);
    free(ms);
    free(cpu);
    free(steps);
    free(bsteps);
    free(nfe);
    free(bnfe);
    optim_free(opt);
    grad_ode_free(g);
    mlp_free(f);
    return rc;
}

static void print_array(const char *key, const double *v, size_t n)
{
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        printf("%s%.17g", i ? ", " : "", v[i]);
    printf("]");
}

/* --print-setup: the initial parameters and the windows run() draws. */
static int print_setup(int iters, uint64_t seed, const double *t, const double *y)
{
    mlp *f = make_model(seed);
    if (!f) return 1;
    printf("{");
    print_array("params", mlp_params(f), mlp_n_params(f));
    printf(", \"starts\": [");
    rng r;
    rng_seed(&r, seed + 1);
    size_t start[BATCH];
    int rc = 0;
    for (int it = 0; it < iters && !rc; it++) {
        rc = rng_sample(&r, DATA - BT, BATCH, start, NULL) != ERR_OK;
        printf("%s[", it ? ", " : "");
        for (int b = 0; b < BATCH; b++)
            printf("%s%zu", b ? ", " : "", start[b]);
        printf("]");
    }
    printf("], ");
    print_array("t", t, DATA);
    printf(", ");
    print_array("y", y, 2 * DATA);
    printf("}\n");
    mlp_free(f);
    return rc;
}

int main(int argc, char **argv)
{
    const bool setup = argc > 1 && strcmp(argv[1], "--print-setup") == 0;
    if (setup) argc--, argv++;
    const int iters = argc > 1 ? atoi(argv[1]) : 200;
    const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    const char *which = argc > 3 ? argv[3] : "both";
    if (iters < 1) {
        fprintf(stderr, "usage: %s [--print-setup] [iterations] [seed] [adjoint|backprop|both]\n",
                argv[0]);
        return 2;
    }
    static double t[DATA], y[DATA * 2];
    if (make_data(t, y)) return 1;
    if (setup) return print_setup(iters, seed, t, y);
    int rc = 0;
    if (strcmp(which, "adjoint")) rc |= run(GRAD_BACKPROP, iters, seed, t, y);
    if (strcmp(which, "backprop")) rc |= run(GRAD_ADJOINT, iters, seed, t, y);
    return rc;
}
