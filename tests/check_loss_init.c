/* check_loss_init: losses (model/loss.h), the generator (model/rng.h) and
 * parameter initialisation (model/init.h).
 *
 * References: tests/fixtures/train_reference.json (gen_train_reference.py)
 * for xoshiro256** outputs (an independent Python transcription of the
 * authors' reference code: exact) and cross entropy (numpy: 1e-14);
 * hand-computed mse/l1; central differences (step 1e-6, |g - fd| <= 1e-8)
 * for the cross entropy gradient. Distributions by their moments over a
 * fixed seed, each held within 5 standard errors of the exact value
 * (mean: sigma / sqrt(n); variance: sigma^2 sqrt(2 / n) for the normal,
 * sqrt(mu4 - sigma^4) / sqrt(n) for the uniform). */
#include "model/init.h"
#include "model/loss.h"
#include "model/rng.h"
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

/* ---- rng -------------------------------------------------------------------------- */

START_TEST(xoshiro_reference)
{
    json_t *cases = json_object_get(load_fixture(), "rng");
    ck_assert_uint_ge(json_array_size(cases), 4);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        const uint64_t seed = strtoull(json_string_value(json_object_get(cs, "seed")), NULL, 10);
        json_t *u64 = json_object_get(cs, "u64"), *uni = json_object_get(cs, "uniform");
        rng a, b;
        rng_seed(&a, seed);
        rng_seed(&b, seed);
        for (size_t i = 0; i < json_array_size(u64); i++) {
            const uint64_t want = strtoull(json_string_value(json_array_get(u64, i)), NULL, 10);
            ck_assert_msg(rng_next(&a) == want, "seed %llu output %zu", (unsigned long long)seed,
                          i);
            ck_assert_double_eq(rng_uniform(&b), json_number_value(json_array_get(uni, i)));
        }
    }
}
END_TEST

START_TEST(state_roundtrip)
{
    rng a, b;
    rng_seed(&a, 7);
    for (int i = 0; i < 5; i++)
        rng_next(&a);
    uint64_t st[RNG_STATE_WORDS];
    rng_state_get(&a, st);
    ck_assert_int_eq(rng_state_set(&b, st, NULL), ERR_OK);
    for (int i = 0; i < 100; i++)
        ck_assert(rng_next(&a) == rng_next(&b));
    const uint64_t zero[RNG_STATE_WORDS] = {0};
    err e;
    err_clear(&e);
    ck_assert_int_eq(rng_state_set(&b, zero, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "rng");
}
END_TEST

START_TEST(normal_moments)
{
    rng r;
    rng_seed(&r, 2024);
    const int n = 200000;
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        const double x = rng_normal(&r);
        ck_assert(isfinite(x));
        s1 += x, s2 += x * x, s3 += x * x * x, s4 += x * x * x * x;
    }
    const double m = s1 / n, v = s2 / n - m * m;
    ck_assert_double_le(fabs(m), 5 / sqrt(n));
    ck_assert_double_le(fabs(v - 1), 5 * sqrt(2.0 / n));
    ck_assert_double_le(fabs(s3 / n), 5 * sqrt(15.0 / n));     /* skewness 0: var x^3 = 15 */
    ck_assert_double_le(fabs(s4 / n - 3), 5 * sqrt(96.0 / n)); /* E x^4 = 3, var x^4 = 96 */
    rng a, b;                                                  /* same seed, same numbers */
    rng_seed(&a, 5);
    rng_seed(&b, 5);
    for (int i = 0; i < 1000; i++)
        ck_assert(rng_normal(&a) == rng_normal(&b));
}
END_TEST

START_TEST(below_and_sample)
{
    rng r;
    rng_seed(&r, 3);
    int hist[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint64_t v = rng_below(&r, 7);
        ck_assert_uint_lt(v, 7);
        hist[v]++;
    }
    for (int k = 0; k < 7; k++) /* binomial(n, 1/7): sd ~ 92 */
        ck_assert_int_le(abs(hist[k] - n / 7), 500);
    ck_assert_uint_eq(rng_below(&r, 1), 0);
    size_t out[20];
    for (int rep = 0; rep < 200; rep++) {
        ck_assert_int_eq(rng_sample(&r, 990, 20, out, NULL), ERR_OK);
        for (int i = 0; i < 20; i++) {
            ck_assert_uint_lt(out[i], 990);
            for (int j = 0; j < i; j++)
                ck_assert_uint_ne(out[i], out[j]);
        }
    }
    ck_assert_int_eq(rng_sample(&r, 5, 5, out, NULL), ERR_OK); /* a permutation */
    int seen = 0;
    for (int i = 0; i < 5; i++)
        seen |= 1 << out[i];
    ck_assert_int_eq(seen, 31);
    ck_assert_int_eq(rng_sample(&r, 3, 4, out, NULL), ERR_INVALID);
}
END_TEST

/* ---- init -------------------------------------------------------------------------- */

static model_net wide_net(void)
{
    model_net n = {.in_dim = 300, .n_layers = 3};
    n.layers[0] = (mlp_layer){.kind = MLP_LINEAR, .in = 300, .out = 200, .act = ACT_TANH};
    n.layers[1] = (mlp_layer){.kind = MLP_ELEMENTWISE, .act = ACT_CUBE};
    n.layers[2] = (mlp_layer){.kind = MLP_LINEAR, .in = 200, .out = 4, .act = ACT_IDENTITY};
    return n;
}

START_TEST(pytorch_default_uniform)
{
    model_net net = wide_net();
    size_t np;
    ck_assert_int_eq(model_net_n_params(&net, &np, NULL), ERR_OK);
    double *p = malloc(np * sizeof *p);
    rng r;
    rng_seed(&r, 11);
    const struct init_config c = {.scheme = INIT_PYTORCH};
    ck_assert_int_eq(init_net_params(&net, &c, &r, p, NULL), ERR_OK);
    /* layer 0: W 200 x 300 then b 200, bound 1/sqrt(300) */
    const double bound = 1 / sqrt(300.0), var = bound * bound / 3;
    const size_t nw = 200 * 300;
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < nw; i++) {
        ck_assert_double_le(fabs(p[i]), bound);
        s1 += p[i], s2 += p[i] * p[i];
    }
    const double m = s1 / nw, v = s2 / nw - m * m;
    const double var_of_var = bound * bound * bound * bound / 5 - var * var; /* mu4 - sigma^4 */
    ck_assert_double_le(fabs(m), 5 * sqrt(var / nw));
    ck_assert_double_le(fabs(v - var), 5 * sqrt(var_of_var / nw));
    for (size_t i = nw; i < nw + 200; i++) /* bias: same bound */
        ck_assert_double_le(fabs(p[i]), bound);
    const double bound2 = 1 / sqrt(200.0); /* layer 2 */
    for (size_t i = nw + 200; i < np; i++)
        ck_assert_double_le(fabs(p[i]), bound2);
    /* same seed, same numbers */
    double *q = malloc(np * sizeof *q);
    rng_seed(&r, 11);
    init_net_params(&net, &c, &r, q, NULL);
    ck_assert_int_eq(memcmp(p, q, np * sizeof *p), 0);
    free(p);
    free(q);
}
END_TEST

START_TEST(normal_scheme)
{
    model_net net = wide_net();
    size_t np;
    model_net_n_params(&net, &np, NULL);
    double *p = malloc(np * sizeof *p);
    rng r;
    rng_seed(&r, 12);
    const struct init_config c = {.scheme = INIT_NORMAL, .std = 0.1};
    ck_assert_int_eq(init_net_params(&net, &c, &r, p, NULL), ERR_OK);
    const size_t nw = 200 * 300;
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < nw; i++)
        s1 += p[i], s2 += p[i] * p[i];
    const double m = s1 / nw, v = s2 / nw - m * m;
    ck_assert_double_le(fabs(m), 5 * 0.1 / sqrt(nw));
    ck_assert_double_le(fabs(v - 0.01), 5 * 0.01 * sqrt(2.0 / nw));
    for (size_t i = nw; i < nw + 200; i++)
        ck_assert_double_eq(p[i], 0);
    for (size_t i = np - 4; i < np; i++)
        ck_assert_double_eq(p[i], 0);
    err e;
    err_clear(&e);
    const struct init_config bad = {.scheme = INIT_NORMAL, .std = 0};
    ck_assert_int_eq(init_net_params(&net, &bad, &r, p, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "std");
    free(p);
}
END_TEST

START_TEST(model_params_allocated)
{
    model_def d;
    model_def_init(&d);
    d.kind = MODEL_KIND_ODE;
    d.state_dim = 2;
    d.n_nets = 1;
    d.nets[0] = (model_net){.in_dim = 2, .n_layers = 3};
    d.nets[0].layers[0] = (mlp_layer){.kind = MLP_ELEMENTWISE, .act = ACT_CUBE};
    d.nets[0].layers[1] = (mlp_layer){.kind = MLP_LINEAR, .in = 2, .out = 50, .act = ACT_TANH};
    d.nets[0].layers[2] = (mlp_layer){.kind = MLP_LINEAR, .in = 50, .out = 2, .act = ACT_IDENTITY};
    rng r;
    rng_seed(&r, 0);
    const struct init_config c = {.scheme = INIT_NORMAL, .std = 0.1};
    err e;
    err_clear(&e);
    ck_assert_int_eq(init_model_params(&d, &c, &r, &e), ERR_OK);
    ck_assert_uint_eq(d.n_params, 2 * 50 + 50 + 50 * 2 + 2);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_OK);
    ck_assert_double_eq(d.params[100], 0); /* first bias */
    ck_assert_double_ne(d.params[0], 0);
    model_def_free(&d);
    init_scheme s;
    ck_assert_int_eq(init_scheme_from_name("pytorch", &s, NULL), ERR_OK);
    ck_assert_int_eq(s, INIT_PYTORCH);
    ck_assert_int_eq(init_scheme_from_name("xavier", &s, NULL), ERR_INVALID);
}
END_TEST

/* ---- losses -------------------------------------------------------------------------- */

START_TEST(regression_by_hand)
{
    const double y[4] = {1, 2, 3, 4}, t[4] = {0.5, 2, NAN, 6};
    double g[4] = {0};
    /* mean over the 3 observed: mse = (0.25 + 0 + 4) / 3 */
    ck_assert_double_eq_tol(loss_regression(LOSS_MSE, 4, y, t, 0, g), 4.25 / 3, 1e-15);
    ck_assert_double_eq_tol(g[0], 2 * 0.5 / 3, 1e-15);
    ck_assert_double_eq(g[1], 0);
    ck_assert_double_eq(g[2], 0);
    ck_assert_double_eq_tol(g[3], 2 * -2.0 / 3, 1e-15);
    memset(g, 0, sizeof g);
    /* l1 with scale 0.5: 0.5 (0.5 + 0 + 2); sign(0) = 0 */
    ck_assert_double_eq_tol(loss_regression(LOSS_L1, 4, y, t, 0.5, g), 1.25, 1e-15);
    ck_assert_double_eq(g[0], 0.5);
    ck_assert_double_eq(g[1], 0);
    ck_assert_double_eq(g[3], -0.5);
    const double none[2] = {NAN, NAN};
    ck_assert_double_eq(loss_regression(LOSS_MSE, 2, y, none, 0, NULL), 0);
    ck_assert_uint_eq(loss_observed_count(4, t), 3);
    loss_kind k;
    ck_assert_int_eq(loss_from_name("cross_entropy", &k, NULL), ERR_OK);
    ck_assert_int_eq(k, LOSS_CROSS_ENTROPY);
    ck_assert_int_eq(loss_from_name("huber", &k, NULL), ERR_INVALID);
    ck_assert_str_eq(loss_name(LOSS_L1), "l1");
}
END_TEST

/* loss_regression_rows: the per-row calls' sum and gradients, bit for bit
 * (strided y and grad rows, missing targets, both losses, a given scale and
 * scale 0, with and without a gradient). */
START_TEST(regression_rows_as_per_row)
{
    enum { ROWS = 13, N = 3, STRIDE = 5 };
    double y[ROWS * STRIDE], t[ROWS * N], g1[ROWS * STRIDE], g2[ROWS * STRIDE];
    rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < ROWS * STRIDE; i++)
        y[i] = rng_normal(&r);
    for (size_t i = 0; i < ROWS * N; i++)
        t[i] = i % 7 == 3 ? NAN : rng_normal(&r);
    t[4] = y[1 * STRIDE + 1]; /* d = 0: sign 0 */
    const loss_kind kinds[2] = {LOSS_MSE, LOSS_L1};
    const double scales[3] = {0, 1.0 / 37, 0.3};
    for (int k = 0; k < 2; k++)
        for (int sc = 0; sc < 3; sc++)
            for (int wg = 0; wg < 2; wg++) {
                for (size_t i = 0; i < ROWS * STRIDE; i++)
                    g1[i] = g2[i] = 0.25 * (double)i;
                double want = 0;
                for (size_t q = 0; q < ROWS; q++)
                    want += loss_regression(kinds[k], N, y + q * STRIDE, t + q * N, scales[sc],
                                            wg ? g1 + q * STRIDE : NULL);
                const double got = loss_regression_rows(kinds[k], ROWS, N, y, STRIDE, t,
                                                        scales[sc], wg ? g2 : NULL);
                ck_assert(memcmp(&want, &got, sizeof got) == 0);
                ck_assert(memcmp(g1, g2, sizeof g1) == 0);
            }
}
END_TEST

START_TEST(cross_entropy_reference)
{
    json_t *cases = json_object_get(load_fixture(), "cross_entropy");
    ck_assert_uint_ge(json_array_size(cases), 2);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c), *lj = json_object_get(cs, "logits");
        const size_t rows = json_array_size(lj), cls = json_array_size(json_array_get(lj, 0));
        double z[16], want[16], g[16] = {0};
        long label[8];
        for (size_t r = 0; r < rows; r++) {
            label[r] = (long)json_integer_value(json_array_get(json_object_get(cs, "labels"), r));
            for (size_t k = 0; k < cls; k++) {
                z[r * cls + k] = json_number_value(json_array_get(json_array_get(lj, r), k));
                want[r * cls + k] = json_number_value(
                    json_array_get(json_array_get(json_object_get(cs, "grad"), r), k));
            }
        }
        double v;
        ck_assert_int_eq(loss_cross_entropy(rows, cls, z, label, 0, &v, g, NULL), ERR_OK);
        ck_assert(isfinite(v));
        const double wv = json_number_value(json_object_get(cs, "value"));
        ck_assert_double_eq_tol(v, wv, 1e-14 * (1 + fabs(wv)));
        for (size_t i = 0; i < rows * cls; i++)
            ck_assert_double_eq_tol(g[i], want[i], 1e-14);
    }
}
END_TEST

START_TEST(cross_entropy_fd)
{
    rng r;
    rng_seed(&r, 9);
    enum { R = 3, C = 4 };
    double z[R * C], g[R * C] = {0};
    const long label[R] = {2, 0, 3};
    for (int i = 0; i < R * C; i++)
        z[i] = rng_uniform_range(&r, -3, 3);
    double v;
    ck_assert_int_eq(loss_cross_entropy(R, C, z, label, 0.7, &v, g, NULL), ERR_OK);
    for (int i = 0; i < R * C; i++) {
        const double keep = z[i], h = 1e-6;
        double vp, vm;
        z[i] = keep + h;
        loss_cross_entropy(R, C, z, label, 0.7, &vp, NULL, NULL);
        z[i] = keep - h;
        loss_cross_entropy(R, C, z, label, 0.7, &vm, NULL, NULL);
        z[i] = keep;
        ck_assert_double_eq_tol(g[i], (vp - vm) / (2 * h), 1e-8);
    }
    err e;
    err_clear(&e);
    const long bad[R] = {0, 4, 0};
    ck_assert_int_eq(loss_cross_entropy(R, C, z, bad, 0, &v, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "label[1]");
}
END_TEST

static Suite *loss_init_suite(void)
{
    Suite *s = suite_create("loss_init");
    TCase *tr = tcase_create("rng");
    tcase_add_test(tr, xoshiro_reference);
    tcase_add_test(tr, state_roundtrip);
    tcase_add_test(tr, normal_moments);
    tcase_add_test(tr, below_and_sample);
    suite_add_tcase(s, tr);
    TCase *ti = tcase_create("init");
    tcase_add_test(ti, pytorch_default_uniform);
    tcase_add_test(ti, normal_scheme);
    tcase_add_test(ti, model_params_allocated);
    suite_add_tcase(s, ti);
    TCase *tl = tcase_create("loss");
    tcase_add_test(tl, regression_by_hand);
    tcase_add_test(tl, regression_rows_as_per_row);
    tcase_add_test(tl, cross_entropy_reference);
    tcase_add_test(tl, cross_entropy_fd);
    suite_add_tcase(s, tl);
    return s;
}

int main(void)
{
    int rc = tu_suite_run(loss_init_suite());
    json_decref(fixture);
    return rc;
}
