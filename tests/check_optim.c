/* check_optim: the optimisers and gradient clipping (model/optim.h).
 *
 * Reference: tests/fixtures/train_reference.json, written by
 * tests/fixtures/gen_train_reference.py, a numpy reimplementation of
 * PyTorch's documented update rules (SGD with momentum, dampening,
 * nesterov; RMSprop with momentum, centered; Adam; L2 weight decay) and of
 * clip_grad_norm_. Tolerance: 1e-14 (1 + |p|) on the parameters after each
 * of three steps, and on the final state buffers (the same formulas in
 * another evaluation order can differ in the last bits). Checkpoints:
 * restoring the state after step 2 and taking step 3 must give the very
 * same bits as the uninterrupted run. */
#include "model/optim.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *fixture;

static json_t *load_fixture(void)
{
    if (fixture) return fixture;
    char path[4096];
    tu_source_path(path, sizeof path, "tests/fixtures/train_reference.json");
    json_error_t je;
    fixture = json_load_file(path, 0, &je);
    ck_assert_msg(fixture != NULL, "%s:%d: %s (set top_srcdir)", path, je.line, je.text);
    return fixture;
}

static size_t get_vec(json_t *a, double *out, size_t cap)
{
    size_t n = json_array_size(a);
    ck_assert_uint_le(n, cap);
    for (size_t i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(a, i));
    return n;
}

static double opt_num(json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return v ? json_number_value(v) : def;
}

static void config_of(json_t *c, struct optim_config *oc)
{
    optim_kind kind;
    ck_assert_int_eq(
        optim_kind_from_name(json_string_value(json_object_get(c, "kind")), &kind, NULL), ERR_OK);
    optim_config_init(oc, kind);
    json_t *o = json_object_get(c, "options");
    oc->lr = opt_num(o, "lr", oc->lr);
    oc->momentum = opt_num(o, "momentum", 0);
    oc->dampening = opt_num(o, "dampening", 0);
    oc->weight_decay = opt_num(o, "weight_decay", 0);
    oc->alpha = opt_num(o, "alpha", oc->alpha);
    oc->eps = opt_num(o, "eps", oc->eps);
    oc->beta1 = opt_num(o, "beta1", oc->beta1);
    oc->beta2 = opt_num(o, "beta2", oc->beta2);
    oc->nesterov = json_is_true(json_object_get(o, "nesterov"));
    oc->centered = json_is_true(json_object_get(o, "centered"));
}

static void assert_vec(const char *name, const char *what, const double *got, const double *want,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-14 * (1 + fabs(want[i])),
                      "%s: %s[%zu] = %.17g, expected %.17g", name, what, i, got[i], want[i]);
}

START_TEST(pytorch_rules)
{
    json_t *cases = json_object_get(load_fixture(), "optim");
    ck_assert_uint_ge(json_array_size(cases), 7);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        const char *name = json_string_value(json_object_get(cs, "name"));
        struct optim_config oc;
        config_of(cs, &oc);
        double p[8], g[8], want[8], state[32], wstate[32];
        const size_t n = get_vec(json_object_get(cs, "p0"), p, 8);
        optim *o = NULL;
        err e;
        err_clear(&e);
        ck_assert_msg(optim_new(&o, &oc, n, &e) == ERR_OK, "%s: %s", name, e.message);
        json_t *grads = json_object_get(cs, "grads"), *params = json_object_get(cs, "params");
        for (size_t s = 0; s < json_array_size(grads); s++) {
            get_vec(json_array_get(grads, s), g, 8);
            double g_copy[8];
            memcpy(g_copy, g, sizeof g);
            optim_step(o, p, g);
            ck_assert_int_eq(memcmp(g, g_copy, n * sizeof *g), 0); /* grad untouched */
            get_vec(json_array_get(params, s), want, 8);
            assert_vec(name, "params", p, want, n);
        }
        ck_assert_int_eq(optim_steps(o), 3);
        const size_t ns = get_vec(json_object_get(cs, "state"), wstate, 32);
        ck_assert_uint_eq(optim_state_len(o), ns);
        optim_state_get(o, state);
        assert_vec(name, "state", state, wstate, ns);
        optim_free(o);
    }
}
END_TEST

/* Stop after step 2, save, restore into a new optimiser, take step 3: the
 * same bits as the uninterrupted run. */
START_TEST(checkpoint_resume_exact)
{
    json_t *cases = json_object_get(load_fixture(), "optim");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        struct optim_config oc;
        config_of(cs, &oc);
        double p[8], q[8], g[3][8], state[32];
        const size_t n = get_vec(json_object_get(cs, "p0"), p, 8);
        for (int s = 0; s < 3; s++)
            get_vec(json_array_get(json_object_get(cs, "grads"), (size_t)s), g[s], 8);
        optim *a = NULL, *b = NULL;
        ck_assert_int_eq(optim_new(&a, &oc, n, NULL), ERR_OK);
        ck_assert_int_eq(optim_new(&b, &oc, n, NULL), ERR_OK);
        optim_step(a, p, g[0]);
        optim_step(a, p, g[1]);
        memcpy(q, p, sizeof p);
        optim_state_get(a, state);
        ck_assert_int_eq(optim_state_set(b, optim_steps(a), state, optim_state_len(a), NULL),
                         ERR_OK);
        optim_step(a, p, g[2]);
        optim_step(b, q, g[2]);
        ck_assert_int_eq(memcmp(p, q, n * sizeof *p), 0);
        optim_free(a);
        optim_free(b);
    }
}
END_TEST

START_TEST(clip_grad_norm)
{
    json_t *cases = json_object_get(load_fixture(), "clip");
    ck_assert_uint_ge(json_array_size(cases), 4);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        double g[8], want[8];
        const size_t n = get_vec(json_object_get(cs, "g"), g, 8);
        get_vec(json_object_get(cs, "clipped"), want, 8);
        const double norm =
            optim_clip_grad_norm(g, n, json_number_value(json_object_get(cs, "max_norm")));
        ck_assert_double_eq_tol(norm, json_number_value(json_object_get(cs, "norm")), 1e-15);
        assert_vec("clip", "g", g, want, n);
    }
    double g[2] = {3, 4};
    ck_assert_double_eq(optim_clip_grad_norm(g, 2, 0), 5); /* measure only */
    ck_assert_double_eq(g[0], 3);
    double h[2] = {NAN, 1};
    ck_assert(isnan(optim_clip_grad_norm(h, 2, 1.0)));
    ck_assert_double_eq(h[1], 1);
}
END_TEST

START_TEST(hand_rmsprop_step)
{
    /* one RMSprop step by hand: v = 0.01 g^2, p -= lr g / (sqrt(v) + eps) */
    struct optim_config oc;
    optim_config_init(&oc, OPTIM_RMSPROP);
    oc.lr = 1e-3;
    optim *o = NULL;
    ck_assert_int_eq(optim_new(&o, &oc, 1, NULL), ERR_OK);
    double p = 1.0, g = 0.5;
    optim_step(o, &p, &g);
    ck_assert_double_eq_tol(p, 1.0 - 1e-3 * 0.5 / (sqrt(0.01 * 0.25) + 1e-8), 1e-16);
    optim_free(o);
}
END_TEST

START_TEST(config_errors)
{
    struct optim_config oc;
    optim *o = NULL;
    err e;
    optim_config_init(&oc, OPTIM_SGD);
    oc.lr = 0;
    err_clear(&e);
    ck_assert_int_eq(optim_new(&o, &oc, 3, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "lr");
    optim_config_init(&oc, OPTIM_SGD);
    oc.nesterov = true;
    err_clear(&e);
    ck_assert_int_eq(optim_new(&o, &oc, 3, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "nesterov");
    optim_config_init(&oc, OPTIM_RMSPROP);
    oc.alpha = 1.0;
    err_clear(&e);
    ck_assert_int_eq(optim_new(&o, &oc, 3, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "alpha");
    optim_config_init(&oc, OPTIM_ADAM);
    oc.eps = 0;
    err_clear(&e);
    ck_assert_int_eq(optim_new(&o, &oc, 3, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "eps");
    optim_config_init(&oc, OPTIM_ADAM);
    oc.weight_decay = -1;
    err_clear(&e);
    ck_assert_int_eq(optim_new(&o, &oc, 3, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "weight_decay");
    ck_assert_ptr_null(o);
    /* state of the wrong length, non-finite state */
    optim_config_init(&oc, OPTIM_ADAM);
    ck_assert_int_eq(optim_new(&o, &oc, 3, NULL), ERR_OK);
    ck_assert_uint_eq(optim_state_len(o), 6);
    double st[6] = {0};
    err_clear(&e);
    ck_assert_int_eq(optim_state_set(o, 1, st, 5, &e), ERR_INVALID);
    st[2] = NAN;
    err_clear(&e);
    ck_assert_int_eq(optim_state_set(o, 1, st, 6, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "state");
    optim_free(o);
    optim_kind k;
    ck_assert_int_eq(optim_kind_from_name("adamw", &k, NULL), ERR_INVALID);
    ck_assert_str_eq(optim_kind_name(OPTIM_RMSPROP), "rmsprop");
    optim_free(NULL);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pytorch_rules);
    tcase_add_test(tc, checkpoint_resume_exact);
    tcase_add_test(tc, clip_grad_norm);
    tcase_add_test(tc, hand_rmsprop_step);
    suite_add_tcase(s, tc);
    TCase *errs = tcase_create("errors");
    tcase_add_test(errs, config_errors);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    int rc = tu_suite_run(optim_suite());
    json_decref(fixture);
    return rc;
}
