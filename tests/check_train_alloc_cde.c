/* check_train_alloc_cde: nothing allocates in a neural CDE's training inner
 * loop (issue 23, docs/training.md "The W3 CDE training step"), with
 * backprop keeping each stage's activations (the slots grow to the largest
 * solve and stay).
 *
 * The inner loop is W3's as a job runs it (model/trainer_cde.c): one
 * grad_cde_compute per series on its own path in its own times (W3's field,
 * Linear(8, 128) relu Linear(128, 24) tanh, smaller data: 8 spirals of 30
 * irregular observations, hermite_bdiff, dopri5 rtol 1e-4 atol 1e-6), the
 * gradients summed, then an Adam step. The same iterations run twice from
 * the same parameters and optimiser state: the first pass warms the buffers
 * up, the second must not call the allocator at all. This program replaces
 * malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign (each
 * forwards to glibc's __libc_*, as tests/check_train_alloc.c does for W2) to
 * count the calls; the sanitizer builds replace malloc themselves, so there
 * the loop runs but the count is not checked (and the skip is said). */
#include <check.h>
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cde_path.h"
#include "model/grad_cde.h"
#include "model/grad_interp.h"
#include "model/optim.h"
#include "nn/mlp.h"

#include "alloc_count.h"

enum { SERIES = 8, N_OBS = 30, HIDDEN = 8, DATA = 2, CH = 1 + DATA, WIDTH = 128, ITERS = 4 };

static uint64_t rng_state;

static double urand(void) /* uniform in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}

static mlp *make_net(size_t in, size_t n, const mlp_layer *layers)
{
    mlp_spec spec = {.state_dim = in, .n_layers = n, .layers = layers};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &spec, NULL), ERR_OK);
    double *p = mlp_params(m);
    const double bound = 1 / sqrt((double)in); /* PyTorch's Linear default, as W3 */
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = bound * (2 * urand() - 1);
    return m;
}

struct w3 {
    mlp *net[3];
    interp *path[SERIES];
    grad_interp *gi[SERIES];
    double t[SERIES][N_OBS], x[SERIES][N_OBS * DATA], label[SERIES], s0[SERIES], s1[SERIES];
    grad_cde *gc;
    struct grad_cde_options o;
};

static void w3_init(struct w3 *w)
{
    memset(w, 0, sizeof *w);
    rng_state = 0x9E3779B97F4A7C15ull;
    const mlp_layer init[] = {{MLP_LINEAR, CH, HIDDEN, ACT_IDENTITY}};
    const mlp_layer field[] = {{MLP_LINEAR, HIDDEN, WIDTH, ACT_RELU},
                               {MLP_LINEAR, WIDTH, HIDDEN * CH, ACT_TANH}};
    const mlp_layer readout[] = {{MLP_LINEAR, HIDDEN, 1, ACT_IDENTITY}};
    w->net[0] = make_net(CH, 1, init);
    w->net[1] = make_net(HIDDEN, 2, field);
    w->net[2] = make_net(HIDDEN, 1, readout);
    const struct cde_path_channels ch = {.n_data = DATA, .time = true};
    err e;
    err_clear(&e);
    for (size_t b = 0; b < SERIES; b++) { /* W3's spirals: sorted uniform times */
        double *t = w->t[b];
        for (size_t i = 0; i < N_OBS; i++) {
            t[i] = (i ? t[i - 1] : 0) + 0.05 + 0.8 * urand();
        }
        const double phase = 2 * M_PI * urand(), radius = 0.5 + urand();
        const double sense = urand() < 0.5 ? -1 : 1;
        w->label[b] = sense > 0;
        for (size_t i = 0; i < N_OBS; i++) {
            w->x[b][i * DATA] = radius * cos(sense * t[i] + phase);
            w->x[b][i * DATA + 1] = radius * sin(sense * t[i] + phase);
        }
        const struct cde_path_obs obs = {.n = N_OBS, .t = t, .x = w->x[b]};
        ck_assert_int_eq(cde_path_new(&w->path[b], MODEL_INTERP_HERMITE_BDIFF, &ch, &obs, &e),
                         ERR_OK);
        ck_assert_int_eq(grad_interp_new(&w->gi[b], (const interp *const *)&w->path[b], 1, &e),
                         ERR_OK);
        w->s0[b] = grad_interp_s0(w->gi[b], 0);
        grad_interp_params(w->gi[b], 0, &t[N_OBS - 1], 1, &w->s1[b]);
    }
    const struct grad_cde_nets nets = {
        .initial = w->net[0], .vector_field = w->net[1], .readout = w->net[2]};
    ck_assert_int_eq(grad_cde_new(&w->gc, &nets, 1, &e), ERR_OK);
    grad_cde_options_init(&w->o);
    w->o.solve.method = GRAD_BACKPROP;
    w->o.solve.ode.rtol = 1e-4;
    w->o.solve.ode.atol = 1e-6;
    w->o.loss = LOSS_MSE;
    w->o.loss_scale = 1.0 / SERIES;
}

static void w3_free(struct w3 *w)
{
    grad_cde_free(w->gc);
    for (size_t b = 0; b < SERIES; b++) {
        grad_interp_free(w->gi[b]);
        interp_free(w->path[b]);
    }
    for (size_t i = 0; i < 3; i++)
        mlp_free(w->net[i]);
}

/* The networks' parameters as one vector (grad_cde's order) and back. */
static void params_get(struct w3 *w, double *p)
{
    for (size_t i = 0; i < 3; i++) {
        const size_t n = mlp_n_params(w->net[i]);
        memcpy(p, mlp_params_const(w->net[i]), n * sizeof *p);
        p += n;
    }
}

static void params_set(struct w3 *w, const double *p)
{
    for (size_t i = 0; i < 3; i++) {
        const size_t n = mlp_n_params(w->net[i]);
        memcpy(mlp_params(w->net[i]), p, n * sizeof *p);
        p += n;
    }
}

/* ITERS iterations (per series: loss and gradient, summed; then the
 * optimiser's step); the allocator calls they made, the kept VJPs. */
static long run_iters(struct w3 *w, optim *opt, double *p, double *grad, double *g1, double *losses,
                      long *kept)
{
    const size_t np = grad_cde_n_params(w->gc);
    err e;
    err_clear(&e);
    err_code rc = ERR_OK;
    *kept = 0;
    const long before = alloc_count();
    for (int it = 0; it < ITERS && !rc; it++) {
        memset(grad, 0, np * sizeof *grad);
        losses[it] = 0;
        for (size_t b = 0; b < SERIES && !rc; b++) {
            const struct grad_cde_batch gb = {.batch = 1,
                                              .path = grad_interp_path(w->gi[b]),
                                              .t0 = &w->s0[b],
                                              .t = &w->s1[b],
                                              .n_t = 1,
                                              .target = &w->label[b]};
            double l;
            /* Check's assertions allocate (even when they hold): none in here */
            if ((rc = grad_cde_compute(w->gc, &gb, &w->o, &l, g1, NULL, &e))) break;
            losses[it] += l;
            for (size_t k = 0; k < np; k++)
                grad[k] += g1[k];
            struct grad_stats st;
            grad_cde_stats(w->gc, &st);
            *kept += st.bwd_kept;
        }
        optim_step(opt, p, grad);
        params_set(w, p);
    }
    const long n = alloc_count() - before;
    ck_assert_msg(rc == ERR_OK, "%s: %s", e.field, e.message);
    return n;
}

START_TEST(cde_backprop_loop_allocates_nothing)
{
    struct w3 w;
    w3_init(&w);
    const size_t np = grad_cde_n_params(w.gc);
    double *p0 = malloc(np * sizeof *p0), *p = malloc(np * sizeof *p),
           *grad = malloc(np * sizeof *grad), *g1 = malloc(np * sizeof *g1);
    ck_assert(p0 && p && grad && g1);
    params_get(&w, p0);
    struct optim_config oc;
    optim_config_init(&oc, OPTIM_ADAM);
    oc.lr = 1e-3;
    err e;
    err_clear(&e);
    double warm[ITERS], loss[ITERS];
    long kept_warm, kept;
    optim *opt = NULL;
    ck_assert_int_eq(optim_new(&opt, &oc, np, &e), ERR_OK);
    memcpy(p, p0, np * sizeof *p);
    run_iters(&w, opt, p, grad, g1, warm, &kept_warm); /* warm-up: buffers grow here */
    optim_free(opt);
    opt = NULL;
    ck_assert_int_eq(optim_new(&opt, &oc, np, &e), ERR_OK); /* the same start again */
    memcpy(p, p0, np * sizeof *p);
    params_set(&w, p);
    const long n = run_iters(&w, opt, p, grad, g1, loss, &kept);
    for (int i = 0; i < ITERS; i++) /* the same iterations, so the same buffers suffice */
        ck_assert_msg(loss[i] == warm[i], "iteration %d: loss %.17g, warm-up %.17g", i, loss[i],
                      warm[i]);
    ck_assert_msg(isfinite(loss[ITERS - 1]) && loss[ITERS - 1] < loss[0],
                  "the loop trains (loss %g -> %g)", loss[0], loss[ITERS - 1]);
    ck_assert_msg(kept > 0 && kept == kept_warm, "the sweep ran on kept stages (%ld, %ld)", kept,
                  kept_warm);
    if (alloc_count_hooked())
        ck_assert_msg(n == 0, "%ld allocator calls in %d iterations after warm-up", n, ITERS);
    else
        fprintf(stderr, "check_train_alloc_cde: sanitizer build, allocator not counted\n");
    optim_free(opt);
    w3_free(&w);
    free(p0), free(p), free(grad), free(g1);
}
END_TEST

/* The counter itself counts: a loop that does allocate is seen. */
START_TEST(counter_sees_allocations)
{
    alloc_count_check_counts();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_alloc_cde");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, counter_sees_allocations);
    tcase_add_test(tc, cde_backprop_loop_allocates_nothing);
    suite_add_tcase(s, tc);
    return alloc_count_suite_run(s);
}
