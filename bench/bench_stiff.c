/* bench/bench_stiff: a stiff neural ODE (state 3) solved to t = 10 through
 * model/ode_model.h, one JSON line per method: steps, rejected steps, f
 * evaluations, Jacobians, LU factorisations, median CPU µs per solve, and
 * y at the output times (bench/stiff_scipy.py turns those into errors
 * against SciPy Radau at rtol 1e-13, and times SciPy's Radau and BDF on the
 * same weights for the ratio; docs/benchmarks.md, docs/solvers.md).
 *
 * The field: f(y) = W2 tanh(W1 y + b1) + b2, 3 -> 8 (tanh) -> 3. Hidden
 * units 0..2 are tanh(s y_k) with s = 0.05, so that near the states the
 * solution visits (|y| <= 2, tanh nearly linear) their share of f is ~ M y,
 * M = V B V^-1, B = [[-0.1, 1, 0], [-1, -0.1, 0], [0, 0, -1e5]]: a slowly
 * decaying rotation and a mode 1e5 times faster (the stiffness ratio,
 * which stiff_scipy.py computes from the Jacobian's eigenvalues along the
 * solution). Units 3..7 have pseudo-random weights (a fixed xorshift seed)
 * and add a nonlinear forcing of order 0.5. The weights go to a file with
 * --weights FILE (the model's parameter vector, in model_def order).
 *
 * Usage: bench_stiff [--weights FILE] [--rtol R] [--atol A] [--repeat N]
 *                    [--methods rodas4,esdirk4,auto,dopri5]
 * ("auto" lines add its steps per method and its switches.) */
#include "bench_util.h" /* next to this file */
#include "model/model_def.h"
#include "model/ode_model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE 3
#define HIDDEN 8
#define N_T 11

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd(void) /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static void inv3(const double *A, double *X)
{
    const double det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) +
                       A[2] * (A[3] * A[7] - A[4] * A[6]);
    X[0] = (A[4] * A[8] - A[5] * A[7]) / det;
    X[1] = (A[2] * A[7] - A[1] * A[8]) / det;
    X[2] = (A[1] * A[5] - A[2] * A[4]) / det;
    X[3] = (A[5] * A[6] - A[3] * A[8]) / det;
    X[4] = (A[0] * A[8] - A[2] * A[6]) / det;
    X[5] = (A[2] * A[3] - A[0] * A[5]) / det;
    X[6] = (A[3] * A[7] - A[4] * A[6]) / det;
    X[7] = (A[1] * A[6] - A[0] * A[7]) / det;
    X[8] = (A[0] * A[4] - A[1] * A[3]) / det;
}

static void build(model_def *d)
{
    model_def_init(d);
    d->kind = MODEL_KIND_ODE;
    d->state_dim = STATE;
    d->n_nets = 1;
    d->nets[0].in_dim = STATE;
    d->nets[0].layers[0] = (mlp_layer){MLP_LINEAR, STATE, HIDDEN, ACT_TANH};
    d->nets[0].layers[1] = (mlp_layer){MLP_LINEAR, HIDDEN, STATE, ACT_IDENTITY};
    d->nets[0].n_layers = 2;
    d->n_params = HIDDEN * STATE + HIDDEN + STATE * HIDDEN + STATE;
    d->params = calloc(d->n_params, sizeof *d->params);
    double *W1 = d->params, *b1 = W1 + HIDDEN * STATE, *W2 = b1 + HIDDEN, *b2 = W2 + STATE * HIDDEN;
    const double s = 0.05;
    const double V[9] = {1, 0.3, 0.2, 0.1, 1, 0.4, 0.2, 0.1, 1};
    const double B[9] = {-0.1, 1, 0, -1, -0.1, 0, 0, 0, -1e5};
    double Vi[9], VB[9], M[9];
    inv3(V, Vi);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            VB[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                VB[i * 3 + j] += V[i * 3 + k] * B[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            M[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                M[i * 3 + j] += VB[i * 3 + k] * Vi[k * 3 + j];
        }
    for (int k = 0; k < STATE; k++)
        W1[k * STATE + k] = s;
    for (int h = STATE; h < HIDDEN; h++) {
        for (int k = 0; k < STATE; k++)
            W1[h * STATE + k] = rnd();
        b1[h] = 0.5 * rnd();
    }
    for (int o = 0; o < STATE; o++) {
        for (int k = 0; k < STATE; k++)
            W2[o * HIDDEN + k] = M[o * 3 + k] / s;
        for (int h = STATE; h < HIDDEN; h++)
            W2[o * HIDDEN + h] = 0.5 * rnd();
        b2[o] = 0.2 * rnd();
    }
}

static void write_weights(const model_def *d, const char *path, const double *y0,
                          const double *t)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "{\"state\": %d, \"hidden\": %d, \"params\": [", STATE, HIDDEN);
    for (size_t i = 0; i < d->n_params; i++)
        fprintf(f, "%s%.17g", i ? ", " : "", d->params[i]);
    fprintf(f, "],\n \"layout\": \"W1 (hidden x state, row-major), b1, W2 (state x hidden), b2\",\n");
    fprintf(f, " \"y0\": [%.17g, %.17g, %.17g], \"t\": [", y0[0], y0[1], y0[2]);
    for (int i = 0; i < N_T; i++)
        fprintf(f, "%s%.17g", i ? ", " : "", t[i]);
    fprintf(f, "]}\n");
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *weights = NULL, *methods = "rodas4,esdirk4,auto,dopri5";
    double rtol = 1e-6, atol = 1e-9;
    int repeat = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--rtol") && i + 1 < argc) rtol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--atol") && i + 1 < argc) atol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--methods") && i + 1 < argc) methods = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--weights FILE] [--rtol R] [--atol A] [--repeat N] "
                            "[--methods a,b]\n", argv[0]);
            return 2;
        }
    }
    model_def d;
    build(&d);
    const double y0[STATE] = {1.0, 0.5, -0.5};
    double t[N_T];
    for (int i = 0; i < N_T; i++)
        t[i] = i;
    if (weights) write_weights(&d, weights, y0, t);
    ode_model *m = NULL;
    err e;
    err_clear(&e);
    if (ode_model_new(&m, &d, &e)) {
        fprintf(stderr, "model: %s: %s\n", e.field, e.message);
        return 1;
    }
    char list[256];
    snprintf(list, sizeof list, "%s", methods);
    double *times = malloc((size_t)repeat * sizeof *times);
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        struct ode_model_query q = {.t0 = 0, .batch = 1, .y0 = y0, .t = t, .n_t = N_T};
        snprintf(q.solver.method, sizeof q.solver.method, "%s", name);
        q.solver.rtol = rtol;
        q.solver.atol = atol;
        q.solver.max_steps = 10000000;
        const int reps = strcmp(name, "dopri5") == 0 ? (repeat < 5 ? repeat : 5) : repeat;
        double y[N_T * STATE];
        struct ode_model_stats st;
        for (int r = 0; r < reps; r++) {
            const double c0 = bench_cpu_now();
            err_code rc = ode_model_solve(m, &q, y, &st, &e);
            times[r] = bench_cpu_now() - c0;
            if (rc) {
                fprintf(stderr, "%s: %s: %s\n", name, e.field, e.message);
                return 1;
            }
        }
        qsort(times, (size_t)reps, sizeof *times, bench_cmp_double);
        printf("{\"bench\": \"stiff\", \"method\": \"%s\", \"rtol\": %g, \"atol\": %g, "
               "\"steps\": %ld, \"rejected\": %ld, \"nfe\": %ld, \"n_jac\": %ld, \"n_lu\": %ld, "
               "\"repeats\": %d, \"median_cpu_us\": %.2f",
               name, rtol, atol, st.steps, st.rejected, st.nfe, st.n_jac, st.n_lu, reps,
               1e6 * times[reps / 2]);
        if (strcmp(name, "auto") == 0)
            printf(", \"auto_steps\": {\"dopri5\": %ld, \"rodas4\": %ld}, \"switches\": %ld",
                   st.auto_steps[0], st.auto_steps[1], st.n_switches);
        printf(", \"y\": [");
        for (int i = 0; i < N_T * STATE; i++)
            printf("%s%.17g", i ? ", " : "", y[i]);
        printf("]}\n");
        fflush(stdout);
    }
    free(times);
    ode_model_free(m);
    model_def_free(&d);
    return 0;
}
