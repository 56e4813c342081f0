/* bench_solve: trajectory solves through model/ode_model.h, single-threaded.
 *
 * Workload W1 (docs/benchmarks.md): an autonomous MLP 2 -> 64 -> 64 -> 2 (tanh, tanh,
 * identity), untrained: PyTorch's default nn.Linear initialisation (W, b ~
 * U(-1/sqrt(in), 1/sqrt(in))) drawn by model/init.h from seed W1_SEED (the
 * numbers are not PyTorch's: another generator); dopri5, rtol 1e-6, atol 1e-8;
 * 100 sorted irregular output times in [0, 25], 0 and 25 included (fixed
 * seed); y0 = (2, 0) for one trajectory, a batch's y0 uniform in [-2, 2]^2
 * (fixed seed).
 *
 * Prints one JSON object per line: the median wall time per solve over
 * --reps timed runs after a warm-up (each run repeats the solve enough times
 * to last ~20 ms), the statistics of one solve, and max_abs_err, the largest
 * deviation over every trajectory, time and component from a dop853 solve
 * at rtol 1e-12, atol 1e-14 (per trajectory) of the same problem.
 *   w1_single                 one trajectory (ODE_BATCH_AUTO)
 *   w1tsit5_single, w1auto_single   the same with "method" tsit5, auto
 *   w1_batch256               256 trajectories (ODE_BATCH_AUTO; "mode" says
 *                             which mode AUTO picked)
 *   w1_batch<n>_shared        n trajectories as one system (one GEMM/stage)
 *   w1_batch<n>_per_traj      n adaptive solves, one after the other
 * Fields: median_us (wall), median_cpu_us (this thread's CPU time: on a
 * shared machine the figure that does not count other processes' turns),
 * nfe, steps, rejected (of one solve; per-trajectory mode: the batch's
 * totals), us_per_nfe (median_cpu_us / nfe), max_abs_err, median_traj_err
 * (the median over the batch of each trajectory's largest error).
 *
 * Usage: bench/bench_solve [--reps N] [--sizes 1,4,16,64,256] [--only PREFIX]
 *                          [--rtol R --atol A] [--y0 uniform|near|mixed]
 *                          [--model FILE] [--print-request] [--print-model]
 * (--only: just the rows whose name starts with PREFIX, e.g. w1_single;
 * --rtol/--atol: other tolerances than W1's, for accuracy-matched
 * comparisons of the batch modes; the rows are then not W1's; --y0: the
 * batch rows on another batch: "near", named w1near_batch..., y0 = (2, 0) +
 * U(-0.1, 0.1)^2, the shape of an ensemble query around one state; "mixed",
 * w1mixed_batch..., y0 = (2, 0) for trajectory 0 and U(-0.3, 0.3)^2 for the
 * rest: one hard trajectory among easy ones.)
 * Run from the build tree (make builds it). --model FILE runs the same lines
 * on a model document (e.g. examples/spiral.json, the demo model: the same
 * network fitted to the spiral dy/dt = (y^3) A, ~20x the evaluations of
 * the untrained W1; or a user's model). --print-request prints W1's single-trajectory request as
 * the HTTP API takes it ({"y0", "t", "solver"}) and exits: bench_http.sh
 * posts exactly that to a running daemon. --print-model prints W1's model
 * document (bench/w1_torch.py solves the same weights in torchdiffeq). */
#include "bench_util.h" /* next to this file */
#include "build_config.h"

#include "codec/codec_model.h"
#include "core/clock.h"
#include "model/model_def.h"
#include "model/init.h"
#include "model/ode_model.h"
#include "model/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_T = 100, MAX_SIZES = 16, REPS_DEFAULT = 15 };
#define MIN_RUN_S 0.02 /* one timed run repeats the solve for at least this long */
#define W1_SEED 1      /* the built-in W1 weights: init_model_params, "pytorch" */

static uint64_t rng_state;

static double urand(void) /* xorshift64, uniform in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}

/* ---- the workload --------------------------------------------------------- */

/* W1: the built-in model, with its solver defaults; the weights drawn by
 * the project's own initialisation ("pytorch" scheme, seed W1_SEED). */
static err_code w1_model_def(model_def *d, err *e)
{
    model_def_init(d);
    d->kind = MODEL_KIND_ODE;
    d->state_dim = 2;
    d->n_nets = 1;
    model_net *n = &d->nets[MODEL_NET_ODE_FIELD];
    n->in_dim = 2;
    n->n_layers = 3;
    n->layers[0] = (mlp_layer){MLP_LINEAR, 2, 64, ACT_TANH};
    n->layers[1] = (mlp_layer){MLP_LINEAR, 64, 64, ACT_TANH};
    n->layers[2] = (mlp_layer){MLP_LINEAR, 64, 2, ACT_IDENTITY};
    const struct init_config ic = {.scheme = INIT_PYTORCH};
    rng r;
    rng_seed(&r, W1_SEED);
    if (init_model_params(d, &ic, &r, e)) return e->code;
    snprintf(d->solver.method, sizeof d->solver.method, "dopri5");
    d->solver.rtol = 1e-6;
    d->solver.atol = 1e-8;
    return model_def_validate(d, e);
}

/* The model the lines are measured on: W1, or a model document (--model
 * FILE, decoded by the API's codec; the W1 solver settings still apply: the
 * query overrides the model's own with dopri5, rtol 1e-6, atol 1e-8).
 * Everything below works for any "ode" model: y0 = (2, 0, 0, ...), a
 * batch's y0 uniform in [-2, 2]^state_dim. */
static err_code load_workload(const char *model_file, model_def *d, err *e)
{
    if (!model_file) return w1_model_def(d, e);
    if (codec_model_file_load(model_file, d, e) != ERR_OK) return e->code;
    if (d->kind != MODEL_KIND_ODE)
        return err_set(e, ERR_INVALID, "--model", "%s: a %s model; bench_solve measures ode models",
                       model_file, model_kind_name(d->kind));
    return ERR_OK;
}

struct workload {
    ode_model *m;
    size_t sd; /* state_dim */
    double t[N_T];
    double *y0;  /* max_batch x sd: row 0 is (2, 0, ...), the rest random */
    double *ref; /* max_batch x N_T x sd: the reference solution */
    size_t max_batch;
    double rtol, atol; /* W1: 1e-6, 1e-8 (--rtol, --atol change them) */
};

static void make_times(double *t)
{
    rng_state = 0x2545f4914f6cdd1dull;
    t[0] = 0;
    t[N_T - 1] = 25;
    for (int i = 1; i < N_T - 1; i++)
        t[i] = 25 * urand();
    qsort(t, N_T, sizeof *t, bench_cmp_double);
}

enum y0_dist { Y0_UNIFORM, Y0_NEAR, Y0_MIXED };
static enum y0_dist y0_dist; /* --y0 */

static void make_y0(struct workload *w, bool single)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    for (size_t b = 0; b < w->max_batch; b++)
        for (size_t k = 0; k < w->sd; k++) {
            double u = urand(), *v = &w->y0[b * w->sd + k];
            if (y0_dist == Y0_NEAR)
                *v = (k == 0 ? 2 : 0) + 0.2 * u - 0.1;
            else if (y0_dist == Y0_MIXED)
                *v = b == 0 ? (k == 0 ? 2 : 0) : 0.6 * u - 0.3;
            else
                *v = 4 * u - 2;
        }
    if (single) {
        memset(w->y0, 0, w->sd * sizeof *w->y0);
        w->y0[0] = 2;
    }
}

static struct ode_model_query base_query(const struct workload *w, const double *y0, size_t batch,
                                         ode_batch_mode mode)
{
    struct ode_model_query q = {
        .t0 = 0, .batch = batch, .y0 = y0, .t = w->t, .n_t = N_T, .mode = mode};
    snprintf(q.solver.method, sizeof q.solver.method, "dopri5");
    q.solver.rtol = w->rtol;
    q.solver.atol = w->atol;
    return q;
}

/* The reference: dop853, rtol 1e-12, atol 1e-14, one trajectory at a time. */
static err_code make_reference(const struct workload *w, const double *y0, size_t batch,
                               double *ref, err *e)
{
    struct ode_model_query q = base_query(w, y0, batch, ODE_BATCH_PER_TRAJECTORY);
    snprintf(q.solver.method, sizeof q.solver.method, "dop853");
    q.solver.rtol = 1e-12;
    q.solver.atol = 1e-14;
    q.solver.max_steps = 10000000;
    return ode_model_solve(w->m, &q, ref, NULL, e);
}

/* ---- timing ---------------------------------------------------------------- */

struct row {
    double median_us, median_cpu_us, max_abs_err, median_traj_err;
    struct ode_model_stats st;
};

static err_code time_query(const struct workload *w, const struct ode_model_query *q,
                           const double *ref, int reps, double *y, struct row *r, err *e)
{
    /* warm-up, twice: AUTO's first batch learns its cost model (ode_model.h);
     * the statistics are the second's */
    err_code rc = ode_model_solve(w->m, q, y, NULL, e);
    if (rc || (rc = ode_model_solve(w->m, q, y, &r->st, e))) return rc;
    int inner = 1;
    double t0 = clock_mono();
    if ((rc = ode_model_solve(w->m, q, y, NULL, e))) return rc;
    double once = clock_mono() - t0;
    if (once < MIN_RUN_S) inner = (int)(MIN_RUN_S / (once > 1e-7 ? once : 1e-7)) + 1;
    double *wall = malloc(2 * (size_t)reps * sizeof *wall), *cpu = wall + reps;
    if (!wall) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    for (int i = 0; i < reps && !rc; i++) {
        double c0 = bench_cpu_now();
        t0 = clock_mono();
        for (int j = 0; j < inner && !rc; j++)
            rc = ode_model_solve(w->m, q, y, NULL, e);
        wall[i] = (clock_mono() - t0) / inner;
        cpu[i] = (bench_cpu_now() - c0) / inner;
    }
    r->median_us = 1e6 * bench_median(wall, reps);
    r->median_cpu_us = 1e6 * bench_median(cpu, reps);
    free(wall);
    /* the worst error, and the median over trajectories of each one's worst */
    const size_t per = N_T * w->sd;
    double *traj = malloc(q->batch * sizeof *traj);
    if (!traj) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    r->max_abs_err = 0;
    for (size_t b = 0; b < q->batch; b++) {
        traj[b] = 0;
        for (size_t i = b * per; i < (b + 1) * per; i++) {
            double d = fabs(y[i] - ref[i]);
            if (!(d <= traj[b])) traj[b] = d;
        }
        if (!(traj[b] <= r->max_abs_err)) r->max_abs_err = traj[b];
    }
    r->median_traj_err = bench_median(traj, (int)q->batch);
    free(traj);
    return rc;
}

static void print_row(const char *name, const char *mode, const struct row *r)
{
    printf("{\"bench\": \"%s\", ", name);
    if (mode) printf("\"mode\": \"%s\", ", mode);
    printf("\"median_us\": %.1f, \"median_cpu_us\": %.1f, \"nfe\": %ld, \"steps\": %ld, "
           "\"rejected\": %ld, \"us_per_nfe\": %.3f, \"max_abs_err\": %.2e, "
           "\"median_traj_err\": %.2e}\n",
           r->median_us, r->median_cpu_us, r->st.nfe, r->st.steps, r->st.rejected,
           r->st.nfe ? r->median_cpu_us / (double)r->st.nfe : 0.0, r->max_abs_err,
           r->median_traj_err);
    fflush(stdout);
}

/* The mode ODE_BATCH_AUTO picked in the run that gave the statistics. */
static const char *auto_mode_name(const struct row *auto_row)
{
    return auto_row->st.mode == ODE_BATCH_SHARED ? "shared" : "per_trajectory";
}

/* ---- main ------------------------------------------------------------------ */

static int parse_sizes(const char *s, size_t *sizes, int *n)
{
    *n = 0;
    while (*s && *n < MAX_SIZES) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > 100000) return -1;
        sizes[(*n)++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return *n ? 0 : -1;
}

static const char *only; /* --only PREFIX: the rows whose name starts with it */

static bool want(const char *name)
{
    return !only || strncmp(name, only, strlen(only)) == 0;
}

static double opt_rtol = 1e-6, opt_atol = 1e-8;

static int run(const char *model_file, int reps, const size_t *sizes, int n_sizes)
{
    err e;
    err_clear(&e);
    model_def d;
    struct workload w = {0};
    double *y = NULL;
    int status = 1;
    w.max_batch = 256;
    w.rtol = opt_rtol;
    w.atol = opt_atol;
    for (int i = 0; i < n_sizes; i++)
        if (sizes[i] > w.max_batch) w.max_batch = sizes[i];
    if (load_workload(model_file, &d, &e) || ode_model_new(&w.m, &d, &e)) goto fail;
    w.sd = ode_model_state_dim(w.m);
    make_times(w.t);
    w.y0 = malloc(w.max_batch * w.sd * sizeof *w.y0);
    w.ref = malloc(w.max_batch * N_T * w.sd * sizeof *w.ref);
    y = malloc(w.max_batch * N_T * w.sd * sizeof *y);
    if (!w.y0 || !w.ref || !y) {
        err_set(&e, ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    struct row r;
    /* w1_single */
    make_y0(&w, true);
    struct ode_model_query q = base_query(&w, w.y0, 1, ODE_BATCH_AUTO);
    if (want("w1_single")) {
        if (make_reference(&w, w.y0, 1, w.ref, &e) || time_query(&w, &q, w.ref, reps, y, &r, &e))
            goto fail;
        print_row("w1_single", NULL, &r);
    }
    /* the same trajectory by tsit5 and by auto (dopri5 until stiff, then rodas4:
     * W1 is not stiff, so the rows measure what the stiffness test costs) */
    static const char *const alt[][2] = {{"w1tsit5_single", "tsit5"}, {"w1auto_single", "auto"}};
    for (int k = 0; k < 2; k++) {
        if (!want(alt[k][0])) continue;
        struct ode_model_query qa = q;
        snprintf(qa.solver.method, sizeof qa.solver.method, "%s", alt[k][1]);
        if (make_reference(&w, w.y0, 1, w.ref, &e) || time_query(&w, &qa, w.ref, reps, y, &r, &e))
            goto fail;
        print_row(alt[k][0], NULL, &r);
    }
    /* batches: y0 from the fixed seed; trajectory b is the same for every size */
    static const char *const families[] = {"w1_batch", "w1near_batch", "w1mixed_batch"};
    const char *fam = families[y0_dist];
    char name[64];
    make_y0(&w, false);
    if ((!only || strncmp(only, fam, strlen(fam)) == 0 || want(fam)) &&
        make_reference(&w, w.y0, w.max_batch, w.ref, &e))
        goto fail;
    q = base_query(&w, w.y0, 256, ODE_BATCH_AUTO);
    snprintf(name, sizeof name, "%s256", fam);
    if (want(name)) {
        if (time_query(&w, &q, w.ref, reps, y, &r, &e)) goto fail;
        print_row(name, auto_mode_name(&r), &r);
    }
    for (int i = 0; i < n_sizes; i++) {
        const ode_batch_mode modes[2] = {ODE_BATCH_SHARED, ODE_BATCH_PER_TRAJECTORY};
        const char *suffix[2] = {"shared", "per_traj"};
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%s%zu_%s", fam, sizes[i], suffix[k]);
            if (!want(name)) continue;
            q = base_query(&w, w.y0, sizes[i], modes[k]);
            if (time_query(&w, &q, w.ref, reps, y, &r, &e)) goto fail;
            print_row(name, NULL, &r);
        }
    }
    status = 0;
fail:
    if (status)
        fprintf(stderr, "bench_solve: %s%s%s\n", e.field, e.field[0] ? ": " : "", e.message);
    free(y);
    free(w.ref);
    free(w.y0);
    ode_model_free(w.m);
    model_def_free(&d);
    return status;
}

/* W1's built-in model as a model document (docs/model-format.md), so that
 * the anchor script bench/w1_torch.py solves with the very doubles measured
 * here (the initialisation is the project's generator, not one Python has). */
static int print_model(void)
{
    model_def d;
    err e;
    err_clear(&e);
    if (w1_model_def(&d, &e) != ERR_OK) {
        fprintf(stderr, "bench_solve: %s\n", e.message);
        model_def_free(&d);
        return 1;
    }
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(&d, &b);
    char *text = jbuf_take(&b, NULL);
    model_def_free(&d);
    if (!text) return 1;
    puts(text);
    free(text);
    return 0;
}

/* W1's single-trajectory request in the HTTP API's form, the numbers
 * through the API's number writer (the same doubles as the timed solve). */
static int print_request(void)
{
    double t[N_T];
    make_times(t);
    jbuf b;
    jbuf_init(&b);
    jbuf_lit(&b, "{\"y0\":[2.0,0.0],\"t\":[");
    for (int i = 0; i < N_T; i++) {
        if (i) jbuf_lit(&b, ",");
        jbuf_double(&b, t[i]);
    }
    jbuf_lit(&b, "],\"solver\":{\"method\":\"dopri5\",\"rtol\":");
    jbuf_double(&b, opt_rtol);
    jbuf_lit(&b, ",\"atol\":");
    jbuf_double(&b, opt_atol);
    jbuf_lit(&b, "}}");
    char *text = jbuf_take(&b, NULL);
    if (!text) return 1;
    puts(text);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
    const char *model_file = NULL;
    int reps = REPS_DEFAULT, n_sizes = 0;
    size_t sizes[MAX_SIZES];
    parse_sizes("1,4,16,64,256", sizes, &n_sizes);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            if (parse_sizes(argv[++i], sizes, &n_sizes)) {
                fprintf(stderr, "bench_solve: --sizes wants a list like 1,4,16\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) {
            opt_rtol = atof(argv[++i]);
        } else if (strcmp(argv[i], "--atol") == 0 && i + 1 < argc) {
            opt_atol = atof(argv[++i]);
        } else if (strcmp(argv[i], "--y0") == 0 && i + 1 < argc) {
            const char *d = argv[++i];
            y0_dist = strcmp(d, "near") == 0    ? Y0_NEAR
                      : strcmp(d, "mixed") == 0 ? Y0_MIXED
                                                : Y0_UNIFORM;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model_file = argv[++i];
        } else if (strcmp(argv[i], "--print-request") == 0) {
            return print_request();
        } else if (strcmp(argv[i], "--print-model") == 0) {
            return print_model();
        } else {
            fprintf(
                stderr,
                "usage: %s [--reps N] [--sizes 1,4,16,64,256] [--only PREFIX] [--rtol R --atol A] "
                "[--y0 uniform|near|mixed] [--model FILE] [--print-request] [--print-model]\n",
                argv[0]);
            return 2;
        }
    }
    return run(model_file, reps, sizes, n_sizes);
}
