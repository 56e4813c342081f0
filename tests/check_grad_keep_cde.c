/* check_grad_keep_cde: backprop through a neural CDE with the forward's kept
 * evaluations (the vector field's activations and the items' dX/dt,
 * model/grad_cde.c's keep; grad_solve_options.keep_bytes) gives the same
 * loss, gradient and readouts, bit for bit (memcmp), as the reverse sweep
 * that evaluates the field again at every stage (keep_bytes 0): one system
 * of several series on a common grid (W3's index setup) and one solve per
 * series in its own times (what a job runs), for the linear, hermite_bdiff,
 * natural_cubic and rectilinear paths, with steps ending at the knots (the
 * observations are the knots, and the jumps and stops of the path end steps
 * too), steps rejected on the way, and a budget that keeps only some of the
 * stages. Each case also checks that kept stages were used (bwd_kept), that
 * they are counted in the engine's memory, that the sweep's VJP count is
 * unchanged, and that a loss-only call after a keeping one (the field back
 * on its own memory) gives the same loss. */
#include "model/cde_path.h"
#include "model/grad_cde.h"
#include "model/grad_interp.h"
#include "model/rng.h"
#include "num/tableau.h"
#include "grad_testlib.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { B = 4, N_OBS = 9, D = 2, C = 1 + D, H = 4, WIDTH = 16, MAX_O = 3 };

struct kcase {
    model_interp scheme;
    bool shared;       /* one system on a common grid; else one solve per series, own times */
    loss_kind loss;    /* mse at every observation, or cross_entropy at the last */
    double scale;      /* of the weights (larger: stiffer, more rejections) */
    double rtol;       /* atol = rtol / 100 */
    size_t keep_bytes; /* 0: the default budget */
    bool rejections;   /* the forward must reject steps */
};

/* W3's shapes, smaller: initial Linear(C, H); field Linear(H, WIDTH) relu,
 * Linear(WIDTH, H*C) tanh; readout Linear(H, O). */
static mlp *make_net(rng *r, double scale, size_t in, size_t n, const mlp_layer *layers)
{
    const mlp_spec spec = {.state_dim = in, .n_layers = n, .layers = layers};
    return gt_net(&spec, r, scale);
}

struct problem {
    mlp *net[3];
    interp *paths[B];
    grad_interp *gi;
    double t[B][N_OBS], x[B][N_OBS * D], s0[B], s[B][N_OBS];
    double target[B * N_OBS * MAX_O];
    long label[B];
    struct grad_cde_batch batch;
};

static void problem_init(struct problem *p, const struct kcase *c, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    rng r;
    rng_seed(&r, seed);
    const size_t O = c->loss == LOSS_CROSS_ENTROPY ? 3 : 2;
    const mlp_layer init[] = {{MLP_LINEAR, C, H, ACT_IDENTITY}};
    const mlp_layer field[] = {{MLP_LINEAR, H, WIDTH, ACT_RELU},
                               {MLP_LINEAR, WIDTH, H * C, ACT_TANH}};
    const mlp_layer readout[] = {{MLP_LINEAR, H, O, ACT_IDENTITY}};
    p->net[0] = make_net(&r, 0.5, C, 1, init);
    p->net[1] = make_net(&r, c->scale, H, 2, field);
    p->net[2] = make_net(&r, 0.5, H, 1, readout);
    const struct cde_path_channels ch = {.n_data = D, .time = true};
    err e;
    err_clear(&e);
    for (size_t b = 0; b < B; b++) {
        for (size_t i = 0; i < N_OBS; i++) {
            p->t[b][i] = c->shared ? 0.5 * (double)i
                                   : (i ? p->t[b][i - 1] + rng_uniform_range(&r, 0.2, 0.8)
                                        : rng_uniform_range(&r, -0.5, 0.5));
            for (size_t j = 0; j < D; j++)
                p->x[b][i * D + j] = rng_uniform_range(&r, -1.5, 1.5);
        }
        const struct cde_path_obs obs = {.n = N_OBS, .t = p->t[b], .x = p->x[b]};
        ck_assert_msg(cde_path_new(&p->paths[b], c->scheme, &ch, &obs, &e) == ERR_OK, "%s",
                      e.message);
    }
    ck_assert(grad_interp_new(&p->gi, (const interp *const *)p->paths, B, &e) == ERR_OK);
    for (size_t b = 0; b < B; b++) {
        p->s0[b] = grad_interp_s0(p->gi, b);
        grad_interp_params(p->gi, b, p->t[b], N_OBS, p->s[b]);
    }
    for (size_t i = 0; i < B * N_OBS * O; i++)
        p->target[i] = rng_uniform_range(&r, -2, 2);
    for (size_t b = 0; b < B; b++)
        p->label[b] = (long)rng_below(&r, O);
    p->batch = (struct grad_cde_batch){.batch = B,
                                       .path = grad_interp_path(p->gi),
                                       .per_item_times = !c->shared,
                                       .t0 = p->s0,
                                       .t = &p->s[0][0],
                                       .n_t = N_OBS,
                                       .target = p->target,
                                       .label = p->label};
}

static void problem_free(struct problem *p)
{
    grad_interp_free(p->gi);
    for (size_t b = 0; b < B; b++)
        interp_free(p->paths[b]);
    for (size_t i = 0; i < 3; i++)
        mlp_free(p->net[i]);
}

struct result {
    double loss, loss_only, *dth, *pred;
    struct grad_stats st;
    size_t mem_peak;
};

static void run(const struct kcase *c, const struct problem *p, size_t keep, struct result *out)
{
    const struct grad_cde_nets nets = {
        .initial = p->net[0], .vector_field = p->net[1], .readout = p->net[2]};
    grad_cde *g = NULL;
    err e;
    err_clear(&e);
    ck_assert(grad_cde_new(&g, &nets, B, &e) == ERR_OK);
    struct grad_cde_options o;
    grad_cde_options_init(&o);
    o.solve.method = GRAD_BACKPROP;
    o.solve.tab = &rk_dopri5;
    o.solve.ode.rtol = c->rtol;
    o.solve.ode.atol = c->rtol * 1e-2;
    o.solve.keep_bytes = keep;
    o.batch_mode = c->shared ? GRAD_BATCH_SHARED : GRAD_BATCH_PER_ITEM;
    o.loss = c->loss;
    const size_t P = grad_cde_n_params(g), O = mlp_output_dim(p->net[2]);
    out->dth = calloc(P, sizeof(double));
    out->pred = calloc(B * N_OBS * O, sizeof(double));
    ck_assert(out->dth && out->pred);
    /* the second gradient runs on grown buffers, as training does, after a
     * loss-only call that must find the field on its own memory again */
    ck_assert_msg(grad_cde_compute(g, &p->batch, &o, &out->loss, out->dth, out->pred, &e) == ERR_OK,
                  "%s: %s", e.field, e.message);
    ck_assert_msg(grad_cde_compute(g, &p->batch, &o, &out->loss_only, NULL, NULL, &e) == ERR_OK,
                  "%s: %s", e.field, e.message);
    ck_assert_msg(grad_cde_compute(g, &p->batch, &o, &out->loss, out->dth, out->pred, &e) == ERR_OK,
                  "%s: %s", e.field, e.message);
    grad_cde_stats(g, &out->st);
    grad_cde_mem(g, NULL, &out->mem_peak);
    grad_cde_free(g);
}

static void result_free(struct result *r)
{
    free(r->dth);
    free(r->pred);
}

static void check_case(const struct kcase *c, uint64_t seed)
{
    struct problem p;
    problem_init(&p, c, seed);
    struct result ref, kept;
    run(c, &p, 0, &ref);
    run(c, &p, c->keep_bytes ? c->keep_bytes : GRAD_KEEP_BYTES_DEFAULT, &kept);
    const size_t P = mlp_n_params(p.net[0]) + mlp_n_params(p.net[1]) + mlp_n_params(p.net[2]);
    const size_t O = mlp_output_dim(p.net[2]);
    ck_assert_msg(memcmp(&ref.loss, &kept.loss, sizeof ref.loss) == 0, "loss %.17g vs %.17g",
                  ref.loss, kept.loss);
    ck_assert(memcmp(&kept.loss, &kept.loss_only, sizeof kept.loss) == 0);
    for (size_t i = 0; i < P; i++)
        ck_assert_msg(memcmp(&ref.dth[i], &kept.dth[i], sizeof(double)) == 0,
                      "dtheta[%zu]: %.17g (evaluated again) vs %.17g (kept)", i, ref.dth[i],
                      kept.dth[i]);
    ck_assert(memcmp(ref.pred, kept.pred, B * N_OBS * O * sizeof(double)) == 0);
    ck_assert(ref.st.fwd_steps > 0);
    if (c->rejections)
        ck_assert_msg(ref.st.fwd_rejected > 0, "no step was rejected (%ld steps)",
                      ref.st.fwd_steps);
    ck_assert_int_eq(ref.st.fwd_steps, kept.st.fwd_steps);
    ck_assert_int_eq(ref.st.bwd_nfe, kept.st.bwd_nfe);
    ck_assert_int_eq(ref.st.bwd_kept, 0);
    ck_assert_msg(kept.st.bwd_kept > 0, "no stage was kept");
    if (c->keep_bytes)
        ck_assert_msg(kept.st.bwd_kept < kept.st.bwd_nfe, "the budget kept every stage");
    else /* every stage the sweep needs, at the knots too */
        ck_assert_msg(kept.st.bwd_kept == kept.st.bwd_nfe, "%ld of %ld stages kept",
                      kept.st.bwd_kept, kept.st.bwd_nfe);
    /* the kept evaluations are the engine's memory */
    ck_assert(kept.mem_peak > ref.mem_peak);
    ck_assert(kept.st.tape_bytes > ref.st.tape_bytes);
    result_free(&ref);
    result_free(&kept);
    problem_free(&p);
}

static const model_interp schemes[] = {MODEL_INTERP_LINEAR, MODEL_INTERP_HERMITE_BDIFF,
                                       MODEL_INTERP_NATURAL_CUBIC, MODEL_INTERP_RECTILINEAR};

static const struct kcase base = {.loss = LOSS_MSE, .scale = 0.5, .rtol = 1e-6};

START_TEST(keep_shared)
{
    struct kcase c = base;
    c.scheme = schemes[_i];
    c.shared = true;
    check_case(&c, 10 + (uint64_t)_i);
}
END_TEST

START_TEST(keep_per_item)
{
    struct kcase c = base;
    c.scheme = schemes[_i];
    check_case(&c, 20 + (uint64_t)_i);
}
END_TEST

START_TEST(keep_cross_entropy)
{
    struct kcase c = base;
    c.scheme = schemes[_i % 4];
    c.shared = _i >= 4;
    c.loss = LOSS_CROSS_ENTROPY;
    check_case(&c, 30 + (uint64_t)_i);
}
END_TEST

START_TEST(keep_rejections)
{
    /* weights large enough for the controller to reject steps */
    struct kcase c = base;
    c.scheme = schemes[_i % 4];
    c.shared = _i >= 4;
    c.scale = 3.0;
    c.rtol = 1e-9;
    c.rejections = true;
    check_case(&c, 40 + (uint64_t)_i);
}
END_TEST

START_TEST(keep_budget_partial)
{
    /* room for a few slots only: the rest of the stages are evaluated again
     * (a slot: the header and state, the field's tape, dX/dt) */
    struct kcase c = base;
    c.scheme = schemes[_i % 4];
    c.shared = _i >= 4;
    const size_t n = c.shared ? B : 1;
    c.keep_bytes = 6 * (8 + n * H + n * (H + 2 * WIDTH + 2 * H * C) + n * C + 32) * sizeof(double);
    check_case(&c, 50 + (uint64_t)_i);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("grad_keep_cde");
    TCase *tc = tcase_create("bit_identical");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, keep_shared, 0, 4);
    tcase_add_loop_test(tc, keep_per_item, 0, 4);
    tcase_add_loop_test(tc, keep_cross_entropy, 0, 8);
    tcase_add_loop_test(tc, keep_rejections, 0, 8);
    tcase_add_loop_test(tc, keep_budget_partial, 0, 8);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
