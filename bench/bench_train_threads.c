/* bench/bench_train_threads: one training job's iteration on 1 and 2
 * threads (a job's "threads", model/trainer.h; docs/benchmarks.md,
 * "Training threads").
 *
 *   ode  torchdiffeq's spiral demo data (one series of 1000 points of the
 *        cubic spiral on [0, 25]) with batch_size 256, batch_time 10:
 *        eight chunks of 32 windows per mini-batch;
 *   cde  128 irregularly sampled spirals of 50 to 100 points (torchcde's
 *        irregular-data example's shape), batch_size 64, cross_entropy.
 *
 * For each job and thread count: the same iterations from the same start
 * (a fresh trainer, 3 warm-up iterations), ROUNDS rounds alternating the
 * thread counts; per iteration the wall time, the process CPU time (all
 * threads) and the caller thread's CPU time; the median round. The
 * speed-up is wall(1 thread) / wall(2 threads); on a loaded machine the
 * wall clock is unreliable, so the load average is printed with it, and
 * the CPU times show whether the split added work. Prints one JSON object
 * per line.
 *
 * Usage: bench/bench_train_threads [ITERATIONS [ROUNDS]] (default 20, 5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"
#include "codec/codec_job.h"
#include "model/rng.h"
#include "model/trainer.h"
#include "nn/nn_blas.h"

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void series_alloc(dataset_series *x, size_t n)
{
    x->n = n;
    x->t = calloc(n, sizeof(double));
    x->y = calloc(2 * n, sizeof(double));
    if (!x->t || !x->y) abort();
}

/* torchdiffeq's examples/ode_demo.py: y' = (y^3) A, A = [[-0.1, 2], [-2, -0.1]],
 * y0 = (2, 0), 1000 points on [0, 25] (RK4 with 100 sub-steps a point). */
static void ode_data(dataset *ds)
{
    dataset_init(ds);
    ds->channels = 2;
    ds->n_series = 1;
    ds->series = calloc(1, sizeof *ds->series);
    dataset_series *x = &ds->series[0];
    series_alloc(x, 1000);
    double y[2] = {2, 0};
    const double dt = 25.0 / 999;
    for (size_t i = 0; i < 1000; i++) {
        x->t[i] = dt * (double)i;
        x->y[2 * i] = y[0], x->y[2 * i + 1] = y[1];
        for (int s = 0; s < 100; s++) {
            double h = dt / 100, k[4][2], z[2];
#define F(o, a)                                                                                    \
    (o)[0] = (a)[0] * (a)[0] * (a)[0] * -0.1 + (a)[1] * (a)[1] * (a)[1] * -2.0;                    \
    (o)[1] = (a)[0] * (a)[0] * (a)[0] * 2.0 + (a)[1] * (a)[1] * (a)[1] * -0.1
            F(k[0], y);
            z[0] = y[0] + h / 2 * k[0][0], z[1] = y[1] + h / 2 * k[0][1];
            F(k[1], z);
            z[0] = y[0] + h / 2 * k[1][0], z[1] = y[1] + h / 2 * k[1][1];
            F(k[2], z);
            z[0] = y[0] + h * k[2][0], z[1] = y[1] + h * k[2][1];
            F(k[3], z);
#undef F
            for (int c = 0; c < 2; c++)
                y[c] += h / 6 * (k[0][c] + 2 * k[1][c] + 2 * k[2][c] + k[3][c]);
        }
    }
}

/* 128 spirals turning either way, 50 to 100 irregular times on [0, 4 pi]. */
static void cde_data(dataset *ds)
{
    rng r;
    rng_seed(&r, 11);
    dataset_init(ds);
    ds->channels = 2;
    ds->label_kind = DATASET_LABEL_CLASS;
    ds->n_series = 128;
    ds->series = calloc(128, sizeof *ds->series);
    for (size_t k = 0; k < 128; k++) {
        dataset_series *x = &ds->series[k];
        series_alloc(x, 50 + rng_below(&r, 51));
        x->label_class = (long)(k % 2);
        const double phi = rng_uniform_range(&r, 0, 6.283185307179586);
        for (size_t i = 0; i < x->n; i++) {
            x->t[i] = 12.566370614359172 * (double)i / (double)(x->n - 1);
            const double a = x->t[i] + phi, rad = 1 + x->t[i] / 10;
            x->y[2 * i] = rad * cos(a) + 0.1 * rng_normal(&r);
            x->y[2 * i + 1] = (x->label_class ? 1 : -1) * rad * sin(a) + 0.1 * rng_normal(&r);
        }
    }
}

static const char ODE_JOB[] =
    "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1000000, \"seed\": 1, "
    "\"gradient\": \"backprop\", "
    "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [50], \"activation\": \"tanh\"}, "
    "\"objective\": {\"loss\": \"l1\", \"batch_time\": 10, \"batch_size\": 256}, "
    "\"optimizer\": {\"name\": \"rmsprop\", \"lr\": 0.001}, "
    "\"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-7, \"atol\": 1e-9}}";

static const char CDE_JOB[] =
    "{\"model\": \"c\", \"dataset\": \"d\", \"iterations\": 1000000, \"seed\": 1, "
    "\"gradient\": \"backprop\", "
    "\"init\": {\"kind\": \"cde\", \"input_channels\": 3, \"hidden_dim\": 8, "
    "\"channels\": {\"time\": true}, \"interpolation\": \"natural_cubic\", "
    "\"vector_field\": {\"hidden\": [128], \"activation\": \"relu\"}, "
    "\"readout\": {\"hidden\": [], \"out\": 2}}, "
    "\"objective\": {\"loss\": \"cross_entropy\", \"batch_size\": 64}, "
    "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.01}, "
    "\"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-3, \"atol\": 1e-5}}";

struct timing {
    double wall, cpu, caller_cpu; /* seconds per iteration */
};

static struct timing time_job(const job_spec *spec, const dataset *ds, int threads, int iters)
{
    err e;
    err_clear(&e);
    trainer *t = NULL;
    if (trainer_new(&t, &spec->init_def, ds, spec, &e) || trainer_threads_set(t, threads, &e)) {
        fprintf(stderr, "bench_train_threads: %s: %s\n", e.field, e.message);
        exit(1);
    }
    struct trainer_row row;
    for (int i = 0; i < 3; i++)
        if (trainer_step(t, &row, &e)) goto fail;
    const double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID),
                 t0 = bench_cpu_now();
    for (int i = 0; i < iters; i++)
        if (trainer_step(t, &row, &e)) goto fail;
    struct timing out = {(now(CLOCK_MONOTONIC) - w0) / iters,
                         (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / iters,
                         (bench_cpu_now() - t0) / iters};
    trainer_free(t);
    return out;
fail:
    fprintf(stderr, "bench_train_threads: step: %s: %s\n", e.field, e.message);
    exit(1);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench(const char *name, const char *doc, const dataset *ds, int iters, int rounds)
{
    job_spec spec;
    err e;
    err_clear(&e);
    if (codec_job_decode(doc, strlen(doc), &spec, &e)) {
        fprintf(stderr, "bench_train_threads: %s: %s: %s\n", name, e.field, e.message);
        exit(1);
    }
    double wall[2][32], cpu[2][32], ccpu[2][32];
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 2; k++) {
            const int th = (r % 2 ? 1 - k : k) + 1; /* alternate which goes first */
            struct timing tm = time_job(&spec, ds, th, iters);
            wall[th - 1][r] = tm.wall, cpu[th - 1][r] = tm.cpu, ccpu[th - 1][r] = tm.caller_cpu;
        }
    double la[3] = {0};
    if (getloadavg(la, 3) < 0) la[0] = NAN;
    double w1 = median(wall[0], rounds), w2 = median(wall[1], rounds);
    /* the CPU-time bound of the speed-up: 1 thread's CPU over the busier
     * of the 2 threads' (what a quiet machine's wall clock would show if
     * neither thread waited) */
    double c1 = median(cpu[0], rounds), c2 = median(cpu[1], rounds), cc = median(ccpu[1], rounds);
    double busier = cc > c2 - cc ? cc : c2 - cc;
    printf("{\"bench\": \"train_threads\", \"job\": \"%s\", \"iterations\": %d, \"rounds\": %d, "
           "\"wall_ms_1\": %.3f, \"wall_ms_2\": %.3f, \"speedup\": %.2f, "
           "\"cpu_ms_1\": %.3f, \"cpu_ms_2\": %.3f, \"caller_cpu_ms_2\": %.3f, "
           "\"cpu_speedup\": %.2f, \"loadavg\": %.2f}\n",
           name, iters, rounds, 1e3 * w1, 1e3 * w2, w1 / w2, 1e3 * c1, 1e3 * c2, 1e3 * cc,
           c1 / busier, la[0]);
    fflush(stdout);
    job_spec_free(&spec);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20, rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (iters < 1 || rounds < 1 || rounds > 32) {
        fprintf(stderr, "usage: bench_train_threads [ITERATIONS [ROUNDS <= 32]]\n");
        return 2;
    }
    bench_blas_one_thread_from_start(argv);
    nn_blas_single_thread(); /* as odeserved */
    dataset ode, cde;
    ode_data(&ode);
    cde_data(&cde);
    bench("ode_batch256", ODE_JOB, &ode, iters, rounds);
    bench("cde_batch64", CDE_JOB, &cde, iters, rounds);
    dataset_free(&ode);
    dataset_free(&cde);
    return 0;
}
