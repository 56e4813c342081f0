/* bench_cde: workload W3 (docs/benchmarks.md), neural CDE evaluation, single-threaded.
 *
 * The model: 3 input channels (time + 2 data), hidden 8; initial
 * Linear(3, 8); vector field Linear(8, 128) relu, Linear(128, 24) tanh;
 * readout Linear(8, 1); hermite_bdiff; dopri5 rtol 1e-4 atol 1e-6. Weights
 * drawn as PyTorch's default for Linear layers (U(-1/sqrt(in), 1/sqrt(in))
 * for W and b), from a fixed seed.
 * The data: 32 series of 100 irregular observations each (times sorted
 * uniform on [0, 4 pi], one per series), a spiral per series (torchcde's
 * example data: (cos t, sin t) with a random phase, radius and sense of
 * rotation, plus 0.01 Gaussian-ish noise), no missing values.
 *
 * Prints one JSON object per line, the median over REPS timed runs after a
 * warm-up:
 *   w3_batch32          ms per batch of 32 series (wall and this thread's
 *                       CPU time), readout at every observation time (the
 *                       "t" default), with the solver statistics per series
 *                       (field_evals: evaluations of the vector_field
 *                       network, the rest of nfe reuse F(z) across a knot);
 *   w3_batch32_final    the same, readout at the last observation only
 *                       (classification);
 *   w3_batch32_missing  the same as w3_batch32 with 30% of the values null;
 *   w3_rhs              ns per right-hand-side evaluation (interp_deriv +
 *                       the 8 -> 128 -> 24 network + the 8 x 3 product).
 * Run from the build tree: bench/bench_cde (make builds it). */
#include "bench_util.h" /* next to this file */
#include "build_config.h"

#include "core/clock.h"
#include "model/cde_model.h"

#include <cblas.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 21, BATCH = 32, N_OBS = 100, HIDDEN = 8, DATA = 2, CH = 1 + DATA, WIDTH = 128 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void) /* uniform in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}

static void model(model_def *d)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CDE;
    d->input_channels = CH;
    d->hidden_dim = HIDDEN;
    d->channel_time = true;
    d->interp = MODEL_INTERP_HERMITE_BDIFF;
    d->n_nets = 3;
    const mlp_layer init[] = {{MLP_LINEAR, CH, HIDDEN, ACT_IDENTITY}};
    const mlp_layer field[] = {{MLP_LINEAR, HIDDEN, WIDTH, ACT_RELU},
                               {MLP_LINEAR, WIDTH, HIDDEN * CH, ACT_TANH}};
    const mlp_layer readout[] = {{MLP_LINEAR, HIDDEN, 1, ACT_IDENTITY}};
    const mlp_layer *nets[3] = {init, field, readout};
    const size_t n_layers[3] = {1, 2, 1};
    size_t np = 0;
    for (size_t i = 0; i < 3; i++) {
        d->nets[i].in_dim = nets[i][0].in;
        d->nets[i].n_layers = n_layers[i];
        for (size_t l = 0; l < n_layers[i]; l++) {
            d->nets[i].layers[l] = nets[i][l];
            np += nets[i][l].in * nets[i][l].out + nets[i][l].out;
        }
    }
    d->n_params = np;
    d->params = malloc(np * sizeof *d->params);
    double *p = d->params;
    for (size_t i = 0; i < 3; i++)
        for (size_t l = 0; l < n_layers[i]; l++) {
            const mlp_layer *L = &nets[i][l];
            double bound = 1 / sqrt((double)L->in);
            for (size_t k = 0; k < L->in * L->out + L->out; k++)
                *p++ = bound * (2 * urand() - 1);
        }
    snprintf(d->solver.method, sizeof d->solver.method, "dopri5");
    d->solver.rtol = 1e-4;
    d->solver.atol = 1e-6;
}

struct data {
    double t[BATCH][N_OBS], x[BATCH][N_OBS * DATA];
    unsigned char miss[BATCH][N_OBS * DATA];
    struct cde_series s[BATCH];
};

static void data(struct data *D, double p_missing)
{
    for (size_t b = 0; b < BATCH; b++) {
        double *t = D->t[b];
        for (size_t i = 0; i < N_OBS; i++)
            t[i] = 4 * M_PI * urand();
        qsort(t, N_OBS, sizeof *t, bench_cmp_double);
        double phase = 2 * M_PI * urand(), radius = 0.5 + urand(), sense = urand() < 0.5 ? -1 : 1;
        for (size_t i = 0; i < N_OBS; i++) {
            double noise = 0.01 * (urand() + urand() + urand() - 1.5);
            D->x[b][i * DATA] = radius * cos(sense * t[i] + phase) + noise;
            D->x[b][i * DATA + 1] = radius * sin(sense * t[i] + phase) - noise;
            for (size_t j = 0; j < DATA; j++)
                D->miss[b][i * DATA + j] = urand() < p_missing;
        }
        for (size_t j = 0; j < DATA; j++)
            D->miss[b][j] = 0; /* every channel observed at least once */
        D->s[b] = (struct cde_series){.obs = {.n = N_OBS, .t = t, .x = D->x[b]}};
        if (p_missing > 0) D->s[b].obs.missing = D->miss[b];
    }
}

/* Median wall and CPU ms per solve of q; fills the statistics of the last run. */
static void time_query(const cde_model *m, const struct cde_model_query *q, double *out,
                       struct cde_model_stats *st, double ms[2])
{
    double t[REPS], c[REPS];
    err e = {0};
    for (int r = -1; r < REPS; r++) {
        double t0 = clock_mono(), c0 = bench_cpu_now();
        if (cde_model_solve(m, q, out, NULL, st, &e)) {
            fprintf(stderr, "bench_cde: %s: %s\n", e.field, e.message);
            exit(1);
        }
        if (r >= 0) t[r] = clock_mono() - t0, c[r] = bench_cpu_now() - c0;
    }
    qsort(t, REPS, sizeof t[0], bench_cmp_double);
    qsort(c, REPS, sizeof c[0], bench_cmp_double);
    ms[0] = t[REPS / 2] * 1e3;
    ms[1] = c[REPS / 2] * 1e3;
}

static void report(const char *name, const cde_model *m, const struct cde_model_query *q,
                   double *out)
{
    struct cde_model_stats st;
    double ms[2];
    time_query(m, q, out, &st, ms);
    const double B = (double)q->batch;
    printf("{\"bench\": \"%s\", \"ms_per_batch\": %.3f, \"cpu_ms_per_batch\": %.3f, "
           "\"series\": %zu, \"obs_per_series\": %d, \"steps_per_series\": %.1f, "
           "\"rejected_per_series\": %.1f, \"nfe_per_series\": %.1f, "
           "\"field_evals_per_series\": %.1f%s}\n",
           name, ms[0], ms[1], q->batch, N_OBS, (double)st.steps / B, (double)st.rejected / B,
           (double)st.nfe / B, (double)st.field_evals / B,
           q->batch == BATCH ? ", \"target_ms\": 10" : "");
}

/* ns per evaluation of the right-hand side, outside the solver. */
static void bench_rhs(const cde_model *m, const struct data *D)
{
    interp *path = NULL;
    mlp_ws *ws = NULL;
    const mlp *field = cde_model_net(m, MODEL_NET_CDE_FIELD);
    if (cde_model_path(m, &D->s[0].obs, &path, NULL) || mlp_ws_new(&ws, field, 1, NULL)) exit(1);
    double z[HIDDEN], v[CH], dz[HIDDEN], F[HIDDEN * CH], t[REPS];
    for (size_t i = 0; i < HIDDEN; i++)
        z[i] = 0.1 * (double)i;
    const int inner = 20000;
    const double t0 = D->t[0][0], span = D->t[0][N_OBS - 1] - t0;
    for (int r = -1; r < REPS; r++) {
        double c0 = clock_mono();
        for (int i = 0; i < inner; i++) {
            interp_deriv(path, t0 + span * (i % 997) / 997.0, NULL, v);
            cde_field_apply(field, ws, HIDDEN, CH, z, v, dz, F);
            z[i % HIDDEN] += 1e-9 * dz[0];
        }
        if (r >= 0) t[r] = (clock_mono() - c0) / inner;
    }
    qsort(t, REPS, sizeof t[0], bench_cmp_double);
    printf("{\"bench\": \"w3_rhs\", \"ns_per_eval\": %.1f}\n", t[REPS / 2] * 1e9);
    mlp_ws_free(ws);
    interp_free(path);
}

int main(void)
{
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
    model_def d;
    model(&d);
    cde_model *m = NULL;
    err e = {0};
    if (cde_model_new(&m, &d, &e)) {
        fprintf(stderr, "bench_cde: %s: %s\n", e.field, e.message);
        return 1;
    }
    struct data *D = malloc(sizeof *D);
    double *out = malloc(BATCH * N_OBS * sizeof *out);
    if (!D || !out) return 1;
    data(D, 0);
    struct cde_model_query q = {.batch = BATCH, .series = D->s};
    report("w3_batch32", m, &q, out);
    for (size_t b = 0; b < BATCH; b++) {
        D->s[b].t = &D->t[b][N_OBS - 1];
        D->s[b].n_t = 1;
    }
    report("w3_batch32_final", m, &q, out);
    data(D, 0.3);
    report("w3_batch32_missing", m, &q, out);
    bench_rhs(m, D);
    free(out);
    free(D);
    cde_model_free(m);
    model_def_free(&d);
    return 0;
}
