/* check_grad_keep: backprop with the forward's kept activations
 * (grad_solve_options.keep_bytes, model/grad_backprop.c) gives the same
 * loss, gradients and predictions, bit for bit (memcmp), as the reverse
 * sweep that evaluates the field again at every stage (keep_bytes 0), on
 * batches in one system and per item, a time-input network, an augmented
 * state, networks with an elementwise cube layer, dopri5 (FSAL), dop853
 * (dense stages), bosh3 and rk4 (fixed steps), steps rejected on the way,
 * and a budget that keeps only some of the stages. Each case also checks
 * that kept stages were used (bwd_kept), that they are counted in the
 * engine's memory, and that the sweep's VJP count is unchanged. */
#include "model/grad_ode.h"
#include "model/rng.h"
#include "num/tableau.h"
#include "grad_testlib.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct kcase {
    size_t dim, obs_dim, hidden, batch, n_t;
    bool time_input, cube;
    grad_batch_mode mode;
    bool per_item_times;
    const struct rk_tableau *tab;
    double rtol, fixed_step;
    size_t keep_bytes; /* 0: the default budget */
    double scale;      /* of the weights (larger: stiffer, more rejections) */
    bool rejections;   /* the forward must reject steps */
};

static mlp *make_net(const struct kcase *c, rng *r)
{
    mlp_layer layers[3];
    size_t n = 0, in = c->dim + c->time_input;
    if (c->cube) layers[n++] = (mlp_layer){.kind = MLP_ELEMENTWISE, .act = ACT_CUBE};
    layers[n++] = (mlp_layer){.kind = MLP_LINEAR, .in = in, .out = c->hidden, .act = ACT_TANH};
    layers[n++] =
        (mlp_layer){.kind = MLP_LINEAR, .in = c->hidden, .out = c->dim, .act = ACT_IDENTITY};
    const mlp_spec spec = {
        .state_dim = c->dim, .time_input = c->time_input, .n_layers = n, .layers = layers};
    return gt_net(&spec, r, c->scale);
}

struct result {
    double loss, *dth, *dy0, *pred;
    struct grad_stats st;
    size_t mem_peak;
};

static void run(const struct kcase *c, mlp *f, const struct grad_ode_batch *b, size_t keep,
                struct result *out)
{
    grad_ode *g = NULL;
    err e;
    err_clear(&e);
    ck_assert(grad_ode_new(&g, f, c->batch, &e) == ERR_OK);
    struct grad_ode_options o;
    grad_ode_options_init(&o);
    o.solve.method = GRAD_BACKPROP;
    o.solve.tab = c->tab;
    o.solve.ode.rtol = c->rtol;
    o.solve.ode.atol = c->rtol * 1e-2;
    o.solve.ode.fixed_step = c->fixed_step;
    o.solve.keep_bytes = keep;
    o.batch_mode = c->mode;
    const size_t P = mlp_n_params(f);
    out->dth = calloc(P, sizeof(double));
    out->dy0 = calloc(c->batch * c->dim, sizeof(double));
    out->pred = calloc(c->batch * c->n_t * c->dim, sizeof(double));
    ck_assert(out->dth && out->dy0 && out->pred);
    /* twice: the second call runs on grown buffers, as training does */
    for (int rep = 0; rep < 2; rep++) {
        ck_assert_msg(grad_ode_compute(g, b, &o, &out->loss, out->dth, out->dy0, out->pred, &e) ==
                          ERR_OK,
                      "%s", e.message);
    }
    grad_ode_stats(g, &out->st);
    grad_ode_mem(g, NULL, &out->mem_peak);
    grad_ode_free(g);
}

static void result_free(struct result *r)
{
    free(r->dth);
    free(r->dy0);
    free(r->pred);
}

static void check_case(const struct kcase *c, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    mlp *f = make_net(c, &r);
    const size_t B = c->batch, nt = c->n_t, dim = c->dim, od = c->obs_dim ? c->obs_dim : dim;
    const size_t nti = c->per_item_times ? B : 1;
    double *y0 = calloc(B * dim, sizeof *y0), *t0 = calloc(nti, sizeof *t0),
           *t = calloc(nti * nt, sizeof *t), *target = calloc(B * nt * od, sizeof *target);
    ck_assert(y0 && t0 && t && target);
    for (size_t i = 0; i < B; i++)
        for (size_t d = 0; d < od; d++) /* augmented components start at 0 */
            y0[i * dim + d] = rng_uniform_range(&r, -1, 1);
    for (size_t i = 0; i < nti; i++) {
        t0[i] = 0.1 * (double)i;
        for (size_t j = 0; j < nt; j++) /* one at t0, the rest inside or at ends of steps */
            t[i * nt + j] = t0[i] + 1.7 * (double)j / (double)(nt - 1);
    }
    for (size_t i = 0; i < B * nt * od; i++)
        target[i] = rng_uniform_range(&r, -1, 1);
    struct grad_ode_batch b = {.batch = B,
                               .y0 = y0,
                               .per_item_times = c->per_item_times,
                               .t0 = t0,
                               .t = t,
                               .n_t = nt,
                               .obs_dim = c->obs_dim,
                               .target = target};
    struct result ref, kept;
    run(c, f, &b, 0, &ref);
    run(c, f, &b, c->keep_bytes ? c->keep_bytes : GRAD_KEEP_BYTES_DEFAULT, &kept);
    const size_t P = mlp_n_params(f);
    ck_assert_msg(memcmp(&ref.loss, &kept.loss, sizeof ref.loss) == 0, "loss %.17g vs %.17g",
                  ref.loss, kept.loss);
    for (size_t i = 0; i < P; i++)
        ck_assert_msg(memcmp(&ref.dth[i], &kept.dth[i], sizeof(double)) == 0,
                      "dtheta[%zu]: %.17g (evaluated again) vs %.17g (kept)", i, ref.dth[i],
                      kept.dth[i]);
    ck_assert(memcmp(ref.dy0, kept.dy0, B * dim * sizeof(double)) == 0);
    ck_assert(memcmp(ref.pred, kept.pred, B * nt * dim * sizeof(double)) == 0);
    ck_assert(ref.st.fwd_steps > 0);
    if (c->rejections) ck_assert_msg(ref.st.fwd_rejected > 0, "no step was rejected");
    ck_assert_int_eq(ref.st.fwd_steps, kept.st.fwd_steps);
    ck_assert_int_eq(ref.st.bwd_nfe, kept.st.bwd_nfe);
    ck_assert_int_eq(ref.st.bwd_kept, 0);
    ck_assert_msg(kept.st.bwd_kept > 0, "no stage was kept");
    if (c->keep_bytes) {
        ck_assert_msg(kept.st.bwd_kept < kept.st.bwd_nfe, "the budget kept every stage");
        /* the slots never grow past the budget (doubling would overshoot it);
         * beside them, each step's stage-to-slot index (at most 8 rows,
         * grown by doubling) */
        const size_t index = 2 * (size_t)kept.st.fwd_steps * 8 * sizeof(size_t);
        ck_assert_msg(kept.mem_peak - ref.mem_peak <= c->keep_bytes + 64 + index,
                      "slots hold %zu bytes over a budget of %zu (+ index %zu)",
                      kept.mem_peak - ref.mem_peak, c->keep_bytes, index);
    } else /* no jumps: every stage the sweep needs was kept */
        ck_assert_msg(kept.st.bwd_kept == kept.st.bwd_nfe, "%ld of %ld stages kept",
                      kept.st.bwd_kept, kept.st.bwd_nfe);
    /* the kept activations are the engine's memory */
    ck_assert(kept.mem_peak > ref.mem_peak);
    ck_assert(kept.st.tape_bytes > ref.st.tape_bytes);
    result_free(&ref);
    result_free(&kept);
    free(y0);
    free(t0);
    free(t);
    free(target);
    mlp_free(f);
}

static const struct kcase base = {.dim = 2,
                                  .hidden = 16,
                                  .batch = 5,
                                  .n_t = 7,
                                  .mode = GRAD_BATCH_SHARED,
                                  .rtol = 1e-7,
                                  .scale = 1.0};

START_TEST(keep_batch_dopri5)
{
    struct kcase c = base;
    c.tab = &rk_dopri5;
    check_case(&c, 1);
}
END_TEST

START_TEST(keep_cube_rejections)
{
    /* W2's field shape (a cube, then tanh), weights large enough for the
     * controller to reject steps */
    struct kcase c = base;
    c.tab = &rk_dopri5;
    c.cube = true;
    c.scale = 3.0;
    c.rtol = 1e-9;
    c.rejections = true;
    check_case(&c, 2);
}
END_TEST

START_TEST(keep_time_input)
{
    struct kcase c = base;
    c.tab = &rk_dopri5;
    c.time_input = true;
    check_case(&c, 3);
}
END_TEST

START_TEST(keep_augmented)
{
    struct kcase c = base;
    c.tab = &rk_dopri5;
    c.dim = 4;
    c.obs_dim = 2;
    check_case(&c, 4);
}
END_TEST

START_TEST(keep_per_item)
{
    struct kcase c = base;
    c.tab = &rk_dopri5;
    c.mode = GRAD_BATCH_PER_ITEM;
    c.per_item_times = true;
    c.time_input = true;
    check_case(&c, 5);
}
END_TEST

START_TEST(keep_dop853_dense)
{
    struct kcase c = base;
    c.tab = &rk_dop853;
    c.cube = true;
    check_case(&c, 6);
}
END_TEST

START_TEST(keep_bosh3)
{
    struct kcase c = base;
    c.tab = &rk_bosh3;
    c.rtol = 1e-6;
    check_case(&c, 7);
}
END_TEST

START_TEST(keep_rk4_fixed)
{
    struct kcase c = base;
    c.tab = &rk_rk4;
    c.fixed_step = 0.05;
    c.time_input = true;
    check_case(&c, 8);
}
END_TEST

START_TEST(keep_budget_partial)
{
    /* room for a few slots only: the rest of the stages are evaluated again */
    struct kcase c = base;
    c.tab = &rk_dopri5;
    c.keep_bytes = 6 * (size_t)(5 * 16 + 5 * 2 + 5 * 2 + 32) * sizeof(double);
    check_case(&c, 9);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("grad_keep");
    TCase *tc = tcase_create("bit_identical");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keep_batch_dopri5);
    tcase_add_test(tc, keep_cube_rejections);
    tcase_add_test(tc, keep_time_input);
    tcase_add_test(tc, keep_augmented);
    tcase_add_test(tc, keep_per_item);
    tcase_add_test(tc, keep_dop853_dense);
    tcase_add_test(tc, keep_bosh3);
    tcase_add_test(tc, keep_rk4_fixed);
    tcase_add_test(tc, keep_budget_partial);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
