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
 *                       the 8 -> 128 -> 24 network + the 8 x 3 product);
 *   w3_train_loop32     one training step on the 32 series (no missing
 *                       values): forward solve, loss, gradient by backprop
 *                       through the solver (grad_cde.h, as a job with
 *                       "gradient": "backprop" runs it, trainer_cde.c: one
 *                       solve per series in its own time, steps ending at
 *                       its knots). Loss: mse of the readout at each
 *                       series' last observation against its label (1 when
 *                       the spiral turns anticlockwise, else 0), the mean
 *                       over the 32 (torchcde's irregular_data example uses
 *                       binary cross-entropy on that readout; grad_cde has
 *                       no BCE, and W3's readout gives one value, so mse
 *                       on both sides). No optimiser step (on either side,
 *                       bench/w3_torch.py): the weights stay those of W3,
 *                       every rep is the same step. Prints the loss, |grad|
 *                       and the tape's work, to compare with w3_torch.py's
 *                       train lines, and cpu_ms_loss_only: the same solves
 *                       and loss without the tape or the gradient (the
 *                       forward's share of the step);
 *   w3_train_batch32    the same step as one grad_cde call on a batch of 32
 *                       with one solve per item (GRAD_BATCH_PER_ITEM);
 *   w3_train_index32    torchcde's irregular_data example's setup (bench/
 *                       w3_torch.py's train_batch32): the path in the
 *                       observation index (knots 0, 1, ..., 99 for every
 *                       series, the real time as channel 0 of the data),
 *                       the 32 series as ONE system (GRAD_BATCH_SHARED:
 *                       shared steps, batched GEMMs, the RMS error norm
 *                       over the batch as torchdiffeq's), steps ending at
 *                       the 98 shared interior knots;
 *   w3_train_index32_cross  the same with no stops at the knots (the steps
 *                       cross them, as cdeint without jump_t).
 * The train lines' backprop keeps each stage's activations for the reverse
 * sweep (grad_solve_options.keep_bytes, docs/training.md "Kept
 * activations"): the per-series lines within the default budget, the index
 * lines with a budget of INDEX_KEEP_MIB, room for every stage of their
 * 32-row evaluations (torchcde's autograd keeps every activation too);
 *   w3_train_index32_keep_default  w3_train_index32 with the default
 *                       budget, which keeps only some of those stages.
 * bwd_kept: the sweep's VJPs that ran on kept activations (the rest
 * evaluated the field again); tape_mib: the largest solve's tape, kept
 * activations included. keep_mib: the budget.
 * Run from the build tree: bench/bench_cde (make builds it). */
#include "bench_util.h" /* next to this file */
#include "build_config.h"

#include "core/clock.h"
#include "model/cde_model.h"
#include "model/grad_cde.h"
#include "model/grad_interp.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 21, BATCH = 32, N_OBS = 100, HIDDEN = 8, DATA = 2, CH = 1 + DATA, WIDTH = 128 };
enum { INDEX_KEEP_MIB = 96 };

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
    double label[BATCH]; /* 1: anticlockwise (sense +1) */
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
        D->label[b] = sense > 0;
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

/* One training step (see the header): the loss, and the gradient into g. */
struct train {
    grad_cde *gc1, *gc32; /* batches of one series; of all 32 */
    interp *path[BATCH], *ipath[BATCH];
    grad_interp *gi1[BATCH], *gi32, *gidx;
    struct grad_path cross; /* gidx's callbacks without the stops */
    cde_model *mi;          /* the same weights, time as a data channel */
    double idx[N_OBS], xi[BATCH][N_OBS * CH];
    struct grad_cde_options o;
    double s0[BATCH], tt[BATCH];
    double *g, *g1;
    size_t np;
    size_t index_keep; /* keep_bytes of the index lines */
    bool loss_only;    /* the forward solve and loss alone (no tape, no gradient) */
};

static void train_fail(const err *e)
{
    fprintf(stderr, "bench_cde: train: %s: %s\n", e->field, e->message);
    exit(1);
}

static void train_new(struct train *T, const cde_model *m, const model_def *d, const struct data *D)
{
    err e = {0};
    memset(T, 0, sizeof *T);
    const struct grad_cde_nets nets = {.initial = cde_model_net(m, MODEL_NET_CDE_INITIAL),
                                       .vector_field = cde_model_net(m, MODEL_NET_CDE_FIELD),
                                       .readout = cde_model_net(m, MODEL_NET_CDE_READOUT)};
    if (grad_cde_new(&T->gc1, &nets, 1, &e) || grad_cde_new(&T->gc32, &nets, BATCH, &e))
        train_fail(&e);
    for (size_t b = 0; b < BATCH; b++) {
        if (cde_model_path(m, &D->s[b].obs, &T->path[b], &e) ||
            grad_interp_new(&T->gi1[b], (const interp *const *)&T->path[b], 1, &e))
            train_fail(&e);
        T->s0[b] = grad_interp_s0(T->gi1[b], 0);
        grad_interp_params(T->gi1[b], 0, &D->t[b][N_OBS - 1], 1, &T->tt[b]);
    }
    if (grad_interp_new(&T->gi32, (const interp *const *)T->path, BATCH, &e)) train_fail(&e);
    model_def di = *d; /* read-only copy: cde_model_new keeps its own */
    di.channel_time = false;
    if (cde_model_new(&T->mi, &di, &e)) train_fail(&e);
    for (size_t i = 0; i < N_OBS; i++)
        T->idx[i] = (double)i;
    for (size_t b = 0; b < BATCH; b++) {
        for (size_t i = 0; i < N_OBS; i++) {
            T->xi[b][i * CH] = D->t[b][i];
            for (size_t j = 0; j < DATA; j++)
                T->xi[b][i * CH + 1 + j] = D->x[b][i * DATA + j];
        }
        const struct cde_path_obs obs = {.n = N_OBS, .t = T->idx, .x = T->xi[b]};
        if (cde_model_path(T->mi, &obs, &T->ipath[b], &e)) train_fail(&e);
    }
    if (grad_interp_new(&T->gidx, (const interp *const *)T->ipath, BATCH, &e)) train_fail(&e);
    T->cross = *grad_interp_path(T->gidx);
    T->cross.stops = NULL;
    grad_cde_options_init(&T->o);
    T->o.solve.method = GRAD_BACKPROP;
    T->o.solve.ode.rtol = cde_model_solver(m)->rtol;
    T->o.solve.ode.atol = cde_model_solver(m)->atol;
    T->o.loss = LOSS_MSE;
    T->o.loss_scale = 1.0 / BATCH;
    T->index_keep = (size_t)INDEX_KEEP_MIB << 20;
    T->np = grad_cde_n_params(T->gc1);
    T->g = malloc(T->np * sizeof *T->g);
    T->g1 = malloc(T->np * sizeof *T->g1);
    if (!T->g || !T->g1) exit(1);
}

static void train_free(struct train *T)
{
    for (size_t b = 0; b < BATCH; b++)
        grad_interp_free(T->gi1[b]), interp_free(T->path[b]);
    for (size_t b = 0; b < BATCH; b++)
        interp_free(T->ipath[b]);
    grad_interp_free(T->gi32), grad_interp_free(T->gidx);
    cde_model_free(T->mi);
    grad_cde_free(T->gc1), grad_cde_free(T->gc32);
    free(T->g), free(T->g1);
}

/* Per series, as trainer_cde.c: the mean loss and its gradient summed over
 * the 32 solves; the work counters summed into st. */
static double train_loop32(struct train *T, const struct data *D, struct grad_stats *st)
{
    err e = {0};
    double loss = 0;
    memset(T->g, 0, T->np * sizeof *T->g);
    memset(st, 0, sizeof *st);
    for (size_t b = 0; b < BATCH; b++) {
        const struct grad_cde_batch gb = {.batch = 1,
                                          .path = grad_interp_path(T->gi1[b]),
                                          .t0 = &T->s0[b],
                                          .t = &T->tt[b],
                                          .n_t = 1,
                                          .target = &D->label[b]};
        double l;
        if (grad_cde_compute(T->gc1, &gb, &T->o, &l, T->loss_only ? NULL : T->g1, NULL, &e))
            train_fail(&e);
        loss += l;
        for (size_t k = 0; k < T->np && !T->loss_only; k++)
            T->g[k] += T->g1[k];
        struct grad_stats s;
        grad_cde_stats(T->gc1, &s);
        st->fwd_steps += s.fwd_steps, st->fwd_nfe += s.fwd_nfe, st->bwd_nfe += s.bwd_nfe;
        st->fwd_rejected += s.fwd_rejected, st->bwd_kept += s.bwd_kept;
        if (s.tape_bytes > st->tape_bytes) st->tape_bytes = s.tape_bytes;
    }
    return loss;
}

static double train_batch32(struct train *T, const struct data *D, struct grad_stats *st)
{
    err e = {0};
    struct grad_cde_options o = T->o;
    o.batch_mode = GRAD_BATCH_PER_ITEM;
    const struct grad_cde_batch gb = {.batch = BATCH,
                                      .path = grad_interp_path(T->gi32),
                                      .per_item_times = true,
                                      .t0 = T->s0,
                                      .t = T->tt,
                                      .n_t = 1,
                                      .target = D->label};
    double loss;
    if (grad_cde_compute(T->gc32, &gb, &o, &loss, T->loss_only ? NULL : T->g, NULL, &e))
        train_fail(&e);
    grad_cde_stats(T->gc32, st);
    return loss;
}

static double train_index(struct train *T, const struct data *D, const struct grad_path *path,
                          struct grad_stats *st)
{
    err e = {0};
    const double t0 = 0, t1 = N_OBS - 1;
    const struct grad_cde_batch gb = {
        .batch = BATCH, .path = path, .t0 = &t0, .t = &t1, .n_t = 1, .target = D->label};
    struct grad_cde_options o = T->o;
    o.solve.keep_bytes = T->index_keep;
    double loss;
    if (grad_cde_compute(T->gc32, &gb, &o, &loss, T->loss_only ? NULL : T->g, NULL, &e))
        train_fail(&e);
    grad_cde_stats(T->gc32, st);
    return loss;
}

static double train_index32(struct train *T, const struct data *D, struct grad_stats *st)
{
    return train_index(T, D, grad_interp_path(T->gidx), st);
}

static double train_index32_cross(struct train *T, const struct data *D, struct grad_stats *st)
{
    return train_index(T, D, &T->cross, st);
}

static double train_index32_keep_default(struct train *T, const struct data *D,
                                         struct grad_stats *st)
{
    const size_t keep = T->index_keep;
    T->index_keep = T->o.solve.keep_bytes;
    const double loss = train_index(T, D, grad_interp_path(T->gidx), st);
    T->index_keep = keep;
    return loss;
}

static void report_train(const char *name, struct train *T, const struct data *D,
                         double (*step)(struct train *, const struct data *, struct grad_stats *),
                         size_t keep_bytes)
{
    double t[REPS], c[REPS], f[REPS], loss = 0;
    struct grad_stats st;
    T->loss_only = true; /* the forward's share: the same solve without the tape */
    for (int r = -1; r < REPS; r++) {
        double c0 = bench_cpu_now();
        step(T, D, &st);
        if (r >= 0) f[r] = bench_cpu_now() - c0;
    }
    T->loss_only = false;
    for (int r = -1; r < REPS; r++) {
        double t0 = clock_mono(), c0 = bench_cpu_now();
        loss = step(T, D, &st);
        if (r >= 0) t[r] = clock_mono() - t0, c[r] = bench_cpu_now() - c0;
    }
    qsort(t, REPS, sizeof t[0], bench_cmp_double);
    qsort(c, REPS, sizeof c[0], bench_cmp_double);
    qsort(f, REPS, sizeof f[0], bench_cmp_double);
    printf("{\"bench\": \"%s\", \"ms_per_step\": %.3f, \"cpu_ms_per_step\": %.3f, "
           "\"cpu_ms_loss_only\": %.3f, \"loss\": %.10g, \"grad_norm\": %.10g, \"fwd_steps\": %ld, "
           "\"fwd_rejected\": %ld, "
           "\"fwd_nfe\": %ld, \"bwd_vjp\": %ld, \"bwd_kept\": %ld, \"tape_mib\": %.2f, "
           "\"keep_mib\": %zu, \"gradient\": \"backprop\", \"optimiser_step\": false}\n",
           name, t[REPS / 2] * 1e3, c[REPS / 2] * 1e3, f[REPS / 2] * 1e3, loss,
           cblas_dnrm2((int)T->np, T->g, 1), st.fwd_steps, st.fwd_rejected, st.fwd_nfe, st.bwd_nfe,
           st.bwd_kept, (double)st.tape_bytes / (1 << 20), keep_bytes >> 20);
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
    struct train T;
    train_new(&T, m, &d, D);
    report_train("w3_train_loop32", &T, D, train_loop32, T.o.solve.keep_bytes);
    report_train("w3_train_batch32", &T, D, train_batch32, T.o.solve.keep_bytes);
    report_train("w3_train_index32", &T, D, train_index32, T.index_keep);
    report_train("w3_train_index32_cross", &T, D, train_index32_cross, T.index_keep);
    report_train("w3_train_index32_keep_default", &T, D, train_index32_keep_default,
                 T.o.solve.keep_bytes);
    train_free(&T);
    data(D, 0.3);
    report("w3_batch32_missing", m, &q, out);
    bench_rhs(m, D);
    free(out);
    free(D);
    cde_model_free(m);
    model_def_free(&d);
    return 0;
}
