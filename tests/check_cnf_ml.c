/* check_cnf_ml: the maximum-likelihood loss of a cnf (model/cnf_ml.h) and
 * its parameter gradient, on a tiny model (2-D, [z, t] -> 6 tanh -> 6
 * softplus -> 2), a few points:
 *
 *   - the loss is the mean of -log p from cnf_model_log_prob (the served
 *     density) for the same fixed steps: exact trace and Hutchinson with
 *     the same probes (same seed), to 1e-11;
 *   - the backprop gradient is the derivative of that loss: against central
 *     differences of the whole NLL (every parameter; h = 1e-5: error
 *     ~ h^2 |L'''| + (the loss's round-off ~1e-15) / h ~ 1e-10; required to
 *     1e-6 relative, above 1e-8 absolute) for fixed steps (rk4) and for an
 *     adaptive dopri5 solve at tight tolerances (the steps taken then
 *     depend on theta only through the error control, a 1e-9 effect);
 *     exact trace, and Hutchinson with fixed probes (Rademacher, Gaussian);
 *   - the adjoint gradient agrees with backprop's at tight tolerances;
 *   - a Hutchinson solve (probes fixed along it) takes about the exact
 *     trace's steps.
 * A missing trace term (the mixed second derivative) is an O(1) change of
 * the gradient, so each check could fail. */
#include "model/cnf_ml.h"
#include "model/cnf_model.h"
#include "num/tableau.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 2, H = 6, NPT = 5 };

static const mlp_layer layers[] = {{MLP_LINEAR, D + 1, H, ACT_TANH},
                                   {MLP_LINEAR, H, H, ACT_SOFTPLUS},
                                   {MLP_LINEAR, H, D, ACT_IDENTITY}};
#define NL 3

static void def_make(model_def *d, bool base)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CNF;
    d->state_dim = D;
    d->n_nets = 1;
    model_net *n = &d->nets[0];
    n->in_dim = D;
    n->time_input = true;
    n->n_layers = NL;
    for (size_t i = 0; i < NL; i++)
        n->layers[i] = layers[i];
    d->n_params = (D + 1) * H + H + H * H + H + H * D + D;
    d->params = malloc(d->n_params * sizeof(double));
    unsigned long long s = 2718281828ull;
    for (size_t i = 0; i < d->n_params; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        d->params[i] = 0.9 * ((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
    }
    if (base) {
        d->base_mean = malloc(D * sizeof(double));
        d->base_scale = malloc(D * sizeof(double));
        d->base_mean[0] = 0.3, d->base_mean[1] = -0.2;
        d->base_scale[0] = 0.7, d->base_scale[1] = 1.3;
    }
}

static mlp *net_of(model_def *d)
{
    const mlp_spec spec = {.state_dim = D, .time_input = true, .n_layers = NL, .layers = layers};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &spec, NULL), ERR_OK);
    ck_assert_uint_eq(mlp_n_params(m), d->n_params);
    mlp_params_bind(m, d->params);
    return m;
}

static const double X[NPT * D] = {0.5, -1.0, 1.4, 0.3, -0.8, -0.6, 0.1, 0.9, -1.7, 1.2};

static void opts_fixed(struct grad_solve_options *so, grad_method gm)
{
    grad_solve_options_init(so);
    so->method = gm;
    so->tab = rk_tableau_find("rk4");
    ck_assert_ptr_nonnull(so->tab);
    so->ode.fixed_step = 0.125;
}

static void opts_tight(struct grad_solve_options *so, grad_method gm)
{
    grad_solve_options_init(so);
    so->method = gm;
    so->tab = rk_tableau_find("dopri5");
    so->ode.rtol = 1e-11;
    so->ode.atol = 1e-11;
}

static double loss_of(cnf_ml *c, const struct grad_solve_options *so, uint64_t seed, double *g)
{
    double l = NAN;
    err e;
    err_clear(&e);
    ck_assert_msg(cnf_ml_loss(c, so, NPT, X, seed, &l, g, NULL, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    return l;
}

static const struct cnf_ml_opts trace_opts[] = {
    {.trace = CNF_TRACE_EXACT},
    {.trace = CNF_TRACE_HUTCHINSON, .probes = 3, .noise = CNF_NOISE_RADEMACHER},
    {.trace = CNF_TRACE_HUTCHINSON, .probes = 2, .noise = CNF_NOISE_GAUSSIAN},
};

/* The loss is the served model's mean -log p for the same steps and probes. */
START_TEST(loss_is_served_nll)
{
    const struct cnf_ml_opts *o = &trace_opts[_i % 3];
    const bool base = _i >= 3;
    model_def d;
    def_make(&d, base);
    mlp *f = net_of(&d);
    cnf_ml *c = NULL;
    ck_assert_int_eq(cnf_ml_new(&c, f, d.base_mean, d.base_scale, NPT, o, NULL), ERR_OK);
    struct grad_solve_options so;
    opts_fixed(&so, GRAD_BACKPROP);
    const uint64_t seed = 77;
    const double l = loss_of(c, &so, seed, NULL);
    cnf_model *m = NULL;
    ck_assert_int_eq(cnf_model_new(&m, &d, NULL), ERR_OK);
    struct cnf_logp_query q = {.n = NPT, .x = X,
                               .tr = {.trace = o->trace, .probes = o->probes, .seed = seed,
                                      .noise = o->noise},
                               .mode = CNF_BATCH_SHARED};
    strcpy(q.solver.method, "rk4");
    q.solver.step = 0.125;
    double lp[NPT], ref = 0;
    err e;
    err_clear(&e);
    ck_assert_msg(cnf_model_log_prob(m, &q, lp, NULL, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    for (size_t b = 0; b < NPT; b++)
        ref -= lp[b] / NPT;
    ck_assert_msg(fabs(l - ref) <= 1e-11 * fmax(1, fabs(ref)), "loss %.17g vs served %.17g", l,
                  ref);
    cnf_model_free(m);
    cnf_ml_free(c);
    mlp_free(f);
    model_def_free(&d);
}
END_TEST

/* Backprop's gradient against central differences of the whole NLL. */
START_TEST(gradient_fd)
{
    const struct cnf_ml_opts *o = &trace_opts[_i % 3];
    const bool fixed = _i < 3;
    model_def d;
    def_make(&d, true);
    mlp *f = net_of(&d);
    cnf_ml *c = NULL;
    ck_assert_int_eq(cnf_ml_new(&c, f, d.base_mean, d.base_scale, NPT, o, NULL), ERR_OK);
    struct grad_solve_options so;
    if (fixed)
        opts_fixed(&so, GRAD_BACKPROP);
    else
        opts_tight(&so, GRAD_BACKPROP);
    const uint64_t seed = 1234;
    double *g = calloc(d.n_params, sizeof *g);
    ck_assert_ptr_nonnull(g);
    const double l0 = loss_of(c, &so, seed, g);
    ck_assert(isfinite(l0));
    const double h = 1e-5, tol = fixed ? 1e-6 : 2e-6;
    double gmax = 0;
    for (size_t i = 0; i < d.n_params; i++) {
        const double v = d.params[i];
        d.params[i] = v + h;
        const double lp = loss_of(c, &so, seed, NULL);
        d.params[i] = v - h;
        const double lm = loss_of(c, &so, seed, NULL);
        d.params[i] = v;
        const double fd = (lp - lm) / (2 * h);
        gmax = fmax(gmax, fabs(g[i]));
        ck_assert_msg(fabs(g[i] - fd) <= tol * fmax(1e-2, fabs(fd)),
                      "%s trace, %s: dL/dtheta[%zu] = %.12g, central difference %.12g",
                      o->trace == CNF_TRACE_EXACT ? "exact" : "hutchinson",
                      fixed ? "rk4" : "dopri5", i, g[i], fd);
    }
    ck_assert(gmax > 1e-2); /* a gradient worth checking */
    free(g);
    cnf_ml_free(c);
    mlp_free(f);
    model_def_free(&d);
}
END_TEST

/* The adjoint's gradient (optimise-then-discretise) agrees with backprop's
 * when both solve tightly. */
START_TEST(adjoint_matches_backprop)
{
    const struct cnf_ml_opts *o = &trace_opts[_i % 3];
    model_def d;
    def_make(&d, false);
    mlp *f = net_of(&d);
    cnf_ml *c = NULL;
    ck_assert_int_eq(cnf_ml_new(&c, f, NULL, NULL, NPT, o, NULL), ERR_OK);
    struct grad_solve_options sb, sa;
    opts_tight(&sb, GRAD_BACKPROP);
    opts_tight(&sa, GRAD_ADJOINT);
    double *gb = calloc(d.n_params, sizeof *gb), *ga = calloc(d.n_params, sizeof *ga);
    ck_assert(gb && ga);
    const double lb = loss_of(c, &sb, 9, gb), la = loss_of(c, &sa, 9, ga);
    ck_assert_msg(fabs(lb - la) < 1e-9, "%.15g vs %.15g", lb, la);
    for (size_t i = 0; i < d.n_params; i++)
        ck_assert_msg(fabs(gb[i] - ga[i]) <= 1e-6 * fmax(1e-2, fabs(gb[i])),
                      "theta[%zu]: backprop %.12g, adjoint %.12g", i, gb[i], ga[i]);
    free(gb), free(ga);
    cnf_ml_free(c);
    mlp_free(f);
    model_def_free(&d);
}
END_TEST

/* Probes fixed along each solve: an adaptive Hutchinson solve takes about
 * the exact trace's steps (within 2x, one probe and several; probes drawn
 * afresh at every evaluation would make the integrand noise and the step
 * count explode). */
START_TEST(hutchinson_steps_like_exact)
{
    model_def d;
    def_make(&d, false);
    mlp *f = net_of(&d);
    struct grad_solve_options so;
    grad_solve_options_init(&so);
    so.method = GRAD_BACKPROP;
    so.tab = rk_tableau_find("dopri5");
    so.ode.rtol = 1e-6;
    so.ode.atol = 1e-8;
    long steps[3];
    for (int c = 0; c < 3; c++) {
        struct cnf_ml_opts o = trace_opts[0];
        if (c) o = (struct cnf_ml_opts){.trace = CNF_TRACE_HUTCHINSON, .probes = c == 1 ? 1 : 8};
        cnf_ml *m = NULL;
        ck_assert_int_eq(cnf_ml_new(&m, f, NULL, NULL, NPT, &o, NULL), ERR_OK);
        struct grad_stats st;
        double l;
        ck_assert_int_eq(cnf_ml_loss(m, &so, NPT, X, 5, &l, NULL, &st, NULL), ERR_OK);
        steps[c] = st.fwd_steps + st.fwd_rejected;
        cnf_ml_free(m);
    }
    printf("step attempts: exact %ld, hutchinson 1 probe %ld, 8 probes %ld\n", steps[0], steps[1],
           steps[2]);
    ck_assert(steps[0] > 3);
    ck_assert_msg(steps[1] <= 2 * steps[0] && steps[2] <= 2 * steps[0], "%ld %ld vs %ld", steps[1],
                  steps[2], steps[0]);
    mlp_free(f);
    model_def_free(&d);
}
END_TEST

START_TEST(refusals)
{
    model_def d;
    def_make(&d, false);
    mlp *f = net_of(&d);
    cnf_ml *c = NULL;
    err e;
    err_clear(&e);
    const struct cnf_ml_opts bad = {.trace = CNF_TRACE_HUTCHINSON, .probes = 0};
    ck_assert_int_eq(cnf_ml_new(&c, f, NULL, NULL, 4, &bad, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "objective.probes");
    ck_assert_int_eq(cnf_ml_new(&c, f, NULL, NULL, 4, &trace_opts[0], NULL), ERR_OK);
    struct grad_solve_options so;
    opts_fixed(&so, GRAD_BACKPROP);
    double l;
    err_clear(&e);
    ck_assert_int_eq(cnf_ml_loss(c, &so, 5, X, 0, &l, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "objective.batch_size");
    cnf_ml_free(c);
    cnf_ml_free(NULL);
    mlp_free(f);
    model_def_free(&d);
}
END_TEST

static Suite *ml_suite(void)
{
    Suite *s = suite_create("cnf_ml");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, loss_is_served_nll, 0, 6);
    tcase_add_loop_test(t, gradient_fd, 0, 6);
    tcase_add_loop_test(t, adjoint_matches_backprop, 0, 3);
    tcase_add_test(t, hutchinson_steps_like_exact);
    tcase_add_test(t, refusals);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_suite_run(ml_suite());
}
