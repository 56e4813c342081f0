/* check_train_alloc: nothing allocates in the training inner loop (issue
 * 23, docs/training.md, "Where the time goes").
 *
 * This program replaces malloc, calloc, realloc, aligned_alloc,
 * posix_memalign and memalign (each forwards to glibc's __libc_*) to count
 * the calls. The inner loop is one iteration of bench/bench_train's W2: the
 * loss and gradient of a batch of 20 windows through grad_ode_compute (a
 * 2-50-2 tanh field on y^3, dopri5, rtol 1e-7, atol 1e-9, shared steps, l1
 * loss) and an RMSprop step. Each gradient method runs the same iterations
 * twice from the same parameters and optimiser state: the first pass warms
 * the buffers up (they grow to the largest iteration and stay), the second
 * must not call the allocator at all, so a malloc/free pair per solve, per
 * step or per evaluation fails the test. The sanitizer builds replace malloc
 * themselves: there the loop still runs but the count is not checked (and
 * the skip is said). */
#include <check.h>
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/grad_ode.h"
#include "model/optim.h"
#include "nn/mlp.h"

#include "alloc_count.h"

enum { DATA = 200, BATCH = 20, BT = 10, HID = 50, ITERS = 12 };

/* The spiral's samples: y(t) of dy/dt = (y^3) A (bench_train's true
 * system) stands in here as any smooth curve; the loop's cost and buffers
 * do not depend on it. */
static void make_data(double *t, double *y)
{
    for (int i = 0; i < DATA; i++) {
        t[i] = 25.0 * i / (DATA - 1);
        const double r = 2.0 * exp(-0.05 * t[i]);
        y[2 * i] = r * cos(t[i]);
        y[2 * i + 1] = -r * sin(t[i]);
    }
}

static mlp *make_model(void)
{
    mlp_layer layers[3] = {
        {.kind = MLP_ELEMENTWISE, .act = ACT_CUBE},
        {.kind = MLP_LINEAR, .in = 2, .out = HID, .act = ACT_TANH},
        {.kind = MLP_LINEAR, .in = HID, .out = 2, .act = ACT_IDENTITY},
    };
    mlp_spec spec = {.state_dim = 2, .n_layers = 3, .layers = layers};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &spec, NULL), ERR_OK);
    double *p = mlp_params(m);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < mlp_n_params(m); i++) { /* xorshift, scaled to about N(0, 0.1^2) */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = 0.35 * ((double)(s >> 11) * 0x1p-53 - 0.5);
    }
    return m;
}

/* ITERS iterations of W2's loop; the allocator calls they made. */
static long run_iters(grad_ode *g, mlp *f, optim *opt, const struct grad_ode_options *o,
                      const double *t, const double *y, double *grad, double *losses)
{
    double y0[BATCH * 2], tgt[BATCH * BT * 2];
    err e;
    err_clear(&e);
    err_code rc = ERR_OK;
    long before = alloc_count();
    for (int it = 0; it < ITERS; it++) {
        for (int b = 0; b < BATCH; b++) { /* distinct starts, moving with it */
            const int s = (7 * b + 13 * it) % (DATA - BT);
            memcpy(y0 + 2 * b, y + 2 * s, 2 * sizeof *y0);
            memcpy(tgt + (size_t)b * BT * 2, y + 2 * s, BT * 2 * sizeof *tgt);
        }
        const struct grad_ode_batch batch = {
            .batch = BATCH, .y0 = y0, .t0 = &t[0], .t = t, .n_t = BT, .target = tgt};
        /* Check's assertions allocate (even when they hold): none in here */
        if ((rc = grad_ode_compute(g, &batch, o, &losses[it], grad, NULL, NULL, &e))) break;
        optim_step(opt, mlp_params(f), grad);
    }
    const long n = alloc_count() - before;
    ck_assert_msg(rc == ERR_OK, "%s", e.message);
    return n;
}

static void check_method(grad_method method)
{
    static double t[DATA], y[DATA * 2];
    make_data(t, y);
    mlp *f = make_model();
    const size_t np = mlp_n_params(f);
    double *p0 = malloc(np * sizeof *p0), *grad = malloc(np * sizeof *grad);
    ck_assert_ptr_nonnull(p0);
    ck_assert_ptr_nonnull(grad);
    memcpy(p0, mlp_params(f), np * sizeof *p0);
    struct grad_ode_options o;
    grad_ode_options_init(&o);
    o.solve.method = method;
    o.solve.tab = &rk_dopri5;
    o.solve.ode.rtol = 1e-7;
    o.solve.ode.atol = 1e-9;
    o.loss = LOSS_L1;
    struct optim_config oc;
    optim_config_init(&oc, OPTIM_RMSPROP);
    oc.lr = 1e-3;
    grad_ode *g = NULL;
    err e;
    err_clear(&e);
    ck_assert_int_eq(grad_ode_new(&g, f, BATCH, &e), ERR_OK);
    double warm[ITERS], loss[ITERS];
    optim *opt = NULL;
    ck_assert_int_eq(optim_new(&opt, &oc, np, &e), ERR_OK);
    run_iters(g, f, opt, &o, t, y, grad, warm); /* warm-up: buffers grow here */
    optim_free(opt);
    opt = NULL;
    ck_assert_int_eq(optim_new(&opt, &oc, np, &e), ERR_OK); /* the same start again */
    memcpy(mlp_params(f), p0, np * sizeof *p0);
    const long n = run_iters(g, f, opt, &o, t, y, grad, loss);
    for (int i = 0; i < ITERS; i++) /* the same iterations, so the same buffers suffice */
        ck_assert_msg(loss[i] == warm[i], "iteration %d: loss %.17g, warm-up %.17g", i, loss[i],
                      warm[i]);
    ck_assert_msg(isfinite(loss[ITERS - 1]) && loss[ITERS - 1] < loss[0],
                  "the loop trains (loss %g -> %g)", loss[0], loss[ITERS - 1]);
    if (alloc_count_hooked())
        ck_assert_msg(n == 0, "%s: %ld allocator calls in %d iterations after warm-up",
                      grad_method_name(method), n, ITERS);
    else
        fprintf(stderr, "check_train_alloc: sanitizer build, allocator not counted\n");
    optim_free(opt);
    grad_ode_free(g);
    mlp_free(f);
    free(p0);
    free(grad);
}

/* The counter itself counts: a loop that does allocate is seen. */
START_TEST(counter_sees_allocations)
{
    alloc_count_check_counts();
}
END_TEST

START_TEST(backprop_loop_allocates_nothing)
{
    check_method(GRAD_BACKPROP);
}
END_TEST

START_TEST(adjoint_loop_allocates_nothing)
{
    check_method(GRAD_ADJOINT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_alloc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, counter_sees_allocations);
    tcase_add_test(tc, backprop_loop_allocates_nothing);
    tcase_add_test(tc, adjoint_loop_allocates_nothing);
    suite_add_tcase(s, tc);
    return alloc_count_suite_run(s);
}
