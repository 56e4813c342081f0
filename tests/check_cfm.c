/* check_cfm: flow matching's pieces (model/lsap.h, model/cfm.h): the
 * assignment solver (LAPJV) against brute force over every permutation and
 * against the Hungarian method (tests/lsap_ref.c) at every size 1..300, the OT
 * coupling's optimality, and the loss's gradient against central finite
 * differences; the loss against a direct evaluation of the network. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfm.h"
#include "model/lsap.h"
#include "model/rng.h"
#include "lsap_ref.h"
#include "nn/mlp.h"
#include "testutil.h"

/* The least sum over every permutation of n (Heap's algorithm). */
static double brute_min(size_t n, const double *c)
{
    size_t perm[8], cnt[8] = {0};
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    double best = INFINITY;
    for (;;) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += c[i * n + perm[i]];
        if (s < best) best = s;
        size_t i = 1;
        while (i < n && cnt[i] >= i)
            cnt[i++] = 0;
        if (i >= n) break;
        size_t j = i % 2 ? cnt[i] : 0, tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        cnt[i]++;
    }
    return best;
}

START_TEST(lsap_matches_brute_force)
{
    rng r;
    rng_seed(&r, 11);
    lsap *l = NULL;
    ck_assert_int_eq(lsap_new(&l, 8, NULL), ERR_OK);
    for (size_t n = 1; n <= 8; n++)
        for (int rep = 0; rep < 30; rep++) {
            double c[64];
            size_t col[8];
            for (size_t i = 0; i < n * n; i++) /* some with ties: integer costs */
                c[i] = rep % 3 == 0 ? (double)rng_below(&r, 4) : rng_uniform_range(&r, -5, 5);
            double got = lsap_solve(l, n, c, col), want = brute_min(n, c);
            ck_assert_msg(fabs(got - want) <= 1e-12 * (1 + fabs(want)), "n %zu: %g vs %g", n, got,
                          want);
            char seen[8] = {0};
            double s = 0;
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_lt(col[i], n);
                ck_assert(!seen[col[i]]);
                seen[col[i]] = 1;
                s += c[i * n + col[i]];
            }
            ck_assert(fabs(s - got) <= 1e-12 * (1 + fabs(got))); /* summed in another order */
        }
    lsap_free(l);
}
END_TEST

/* Larger than brute force reaches: no single swap of two rows' columns
 * lowers the total (a necessary condition), and the result beats the
 * identity and a greedy assignment. */
START_TEST(lsap_no_improving_swap)
{
    enum { N = 60 };
    rng r;
    rng_seed(&r, 5);
    static double c[N * N];
    size_t col[N];
    for (size_t i = 0; i < N * N; i++)
        c[i] = rng_uniform(&r);
    lsap *l = NULL;
    ck_assert_int_eq(lsap_new(&l, N, NULL), ERR_OK);
    double total = lsap_solve(l, N, c, col), ident = 0;
    for (size_t i = 0; i < N; i++)
        ident += c[i * N + i];
    ck_assert(total < ident);
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            ck_assert(c[i * N + col[j]] + c[j * N + col[i]] >=
                      c[i * N + col[i]] + c[j * N + col[j]] - 1e-12);
    lsap_free(l);
}
END_TEST

/* Every square size 1..300 against the Hungarian method (an independent
 * exact solver): uniform costs, integer costs with many ties, and squared
 * distances between two shifted point clouds (flow matching's case, the
 * hard one for row reduction: near-ties everywhere). Same optimal total to
 * 1e-12 relative, and a permutation whose own sum is that total. */
START_TEST(lsap_matches_hungarian)
{
    enum { NMAX = 300 };
    const int kind = _i;
    rng r;
    rng_seed(&r, 100 + (uint64_t)kind);
    double *c = malloc(NMAX * NMAX * sizeof *c), *p = malloc(NMAX * 4 * sizeof *p);
    size_t *col = malloc(NMAX * sizeof *col), *col2 = malloc(NMAX * sizeof *col2);
    char *seen = malloc(NMAX);
    lsap *l = NULL;
    lsap_ref *h = lsap_ref_new(NMAX);
    ck_assert(c && p && col && col2 && seen && h);
    ck_assert_int_eq(lsap_new(&l, NMAX, NULL), ERR_OK);
    for (size_t n = 1; n <= NMAX; n++) {
        if (kind == 2) {
            for (size_t i = 0; i < n * 4; i++)
                p[i] = rng_normal(&r) + (i % 4 >= 2 ? 3.0 : 0.0);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    const double a = p[i * 4] - p[j * 4 + 2], b = p[i * 4 + 1] - p[j * 4 + 3];
                    c[i * n + j] = a * a + b * b;
                }
        } else {
            for (size_t i = 0; i < n * n; i++)
                c[i] = kind ? (double)rng_below(&r, 10) : rng_uniform_range(&r, -1, 1);
        }
        const double got = lsap_solve(l, n, c, col), want = lsap_ref_solve(h, n, c, col2);
        ck_assert_msg(fabs(got - want) <= 1e-12 * fmax(1, fabs(want)),
                      "kind %d, n %zu: LAPJV %.17g, Hungarian %.17g", kind, n, got, want);
        memset(seen, 0, n);
        double s = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_lt(col[i], n);
            ck_assert(!seen[col[i]]);
            seen[col[i]] = 1;
            s += c[i * n + col[i]];
        }
        ck_assert(s == got);
    }
    lsap_free(l);
    lsap_ref_free(h);
    free(c), free(p), free(col), free(col2), free(seen);
}
END_TEST

static mlp *field_new(size_t d, size_t h, double *params, rng *r)
{
    mlp_layer layers[3] = {{MLP_LINEAR, d + 1, h, ACT_TANH},
                           {MLP_LINEAR, h, h, ACT_TANH},
                           {MLP_LINEAR, h, d, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = d, .time_input = true, .n_layers = 3, .layers = layers};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
    for (size_t i = 0; i < mlp_n_params(m); i++)
        params[i] = rng_uniform_range(r, -0.8, 0.8);
    mlp_params_bind(m, params);
    return m;
}

START_TEST(couple_is_optimal)
{
    enum { N = 7, D = 2 };
    rng r;
    rng_seed(&r, 3);
    double params[512], x0[N * D], x1[N * D], x1c[N * D];
    mlp *f = field_new(D, 4, params, &r);
    cfm *c = NULL;
    ck_assert_int_eq(cfm_new(&c, f, params, N, NULL), ERR_OK);
    for (int rep = 0; rep < 5; rep++) {
        for (size_t i = 0; i < N * D; i++)
            x0[i] = rng_normal(&r), x1[i] = 3 + rng_normal(&r);
        memcpy(x1c, x1, sizeof x1);
        double cost[N * N];
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                cost[i * N + j] = pow(x0[i * D] - x1[j * D], 2) + pow(x0[i * D + 1] - x1[j * D + 1], 2);
        double got = cfm_couple(c, N, x0, x1c), s = 0;
        ck_assert(fabs(got - brute_min(N, cost)) < 1e-12);
        for (size_t i = 0; i < N; i++) /* the rows of x1, permuted, pair at that cost */
            s += pow(x0[i * D] - x1c[i * D], 2) + pow(x0[i * D + 1] - x1c[i * D + 1], 2);
        ck_assert(fabs(s - got) < 1e-12);
        double sum0 = 0, sum1 = 0;
        for (size_t i = 0; i < N * D; i++)
            sum0 += x1[i], sum1 += x1c[i];
        ck_assert(fabs(sum0 - sum1) < 1e-12);
    }
    cfm_free(c);
    mlp_free(f);
}
END_TEST

/* At flow matching's batch size: the coupling (solved on the centred
 * clouds) is optimal for the costs as given, by the Hungarian method on the
 * uncentred squared distances, to 1e-12 relative. */
START_TEST(couple_matches_hungarian)
{
    enum { N = 256, D = 2 };
    rng r;
    rng_seed(&r, 31);
    static double params[512], x0[N * D], x1[N * D], cost[N * N];
    size_t col[N];
    mlp *f = field_new(D, 4, params, &r);
    cfm *c = NULL;
    lsap_ref *h = lsap_ref_new(N);
    ck_assert(h);
    ck_assert_int_eq(cfm_new(&c, f, params, N, NULL), ERR_OK);
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < N * D; i++)
            x0[i] = rng_normal(&r), x1[i] = 3 * (rep + 1) + rng_normal(&r);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                cost[i * N + j] =
                    pow(x0[i * D] - x1[j * D], 2) + pow(x0[i * D + 1] - x1[j * D + 1], 2);
        const double want = lsap_ref_solve(h, N, cost, col), got = cfm_couple(c, N, x0, x1);
        ck_assert_msg(fabs(got - want) <= 1e-12 * want, "shift %d: %.17g vs %.17g", 3 * (rep + 1),
                      got, want);
    }
    lsap_ref_free(h);
    cfm_free(c);
    mlp_free(f);
}
END_TEST

START_TEST(loss_and_gradient)
{
    enum { N = 6, D = 2, H = 5 };
    rng r;
    rng_seed(&r, 9);
    double params[512], x0[N * D], x1[N * D], t[N], eps[N * D];
    mlp *f = field_new(D, H, params, &r);
    const size_t np = mlp_n_params(f);
    for (size_t i = 0; i < N * D; i++)
        x0[i] = rng_normal(&r), x1[i] = rng_uniform_range(&r, -2, 2), eps[i] = rng_normal(&r);
    for (size_t k = 0; k < N; k++)
        t[k] = rng_uniform(&r);
    cfm *c = NULL;
    ck_assert_int_eq(cfm_new(&c, f, params, N, NULL), ERR_OK);
    for (int with_noise = 0; with_noise < 2; with_noise++) {
        const double sigma = with_noise ? 0.1 : 0;
        /* the loss, by the time-input network one point at a time */
        mlp_ws *ws = NULL;
        ck_assert_int_eq(mlp_ws_new(&ws, f, 1, NULL), ERR_OK);
        double want = 0;
        for (size_t k = 0; k < N; k++) {
            double xt[D], y[D];
            for (size_t i = 0; i < D; i++)
                xt[i] = (1 - t[k]) * x0[k * D + i] + t[k] * x1[k * D + i] + sigma * eps[k * D + i];
            mlp_forward(f, ws, xt, t[k], y);
            for (size_t i = 0; i < D; i++)
                want += pow(y[i] - (x1[k * D + i] - x0[k * D + i]), 2) / (N * D);
        }
        mlp_ws_free(ws);
        double loss, g[512], lp, lm;
        cfm_loss(c, N, x0, x1, t, eps, sigma, &loss, g);
        ck_assert_msg(fabs(loss - want) < 1e-13 * (1 + want), "%.17g vs %.17g", loss, want);
        for (size_t p = 0; p < np; p++) {
            const double h = 1e-6, keep = params[p];
            params[p] = keep + h;
            cfm_loss(c, N, x0, x1, t, eps, sigma, &lp, NULL);
            params[p] = keep - h;
            cfm_loss(c, N, x0, x1, t, eps, sigma, &lm, NULL);
            params[p] = keep;
            const double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - g[p]) <= 1e-7 * (1 + fabs(fd)), "param %zu: %.12g vs fd %.12g",
                          p, g[p], fd);
        }
    }
    cfm_free(c);
    mlp_free(f);
}
END_TEST

START_TEST(field_shape_errors)
{
    mlp_layer layers[1] = {{MLP_LINEAR, 2, 2, ACT_IDENTITY}};
    mlp_spec s = {.state_dim = 2, .time_input = false, .n_layers = 1, .layers = layers};
    mlp *m = NULL;
    double p[8] = {0};
    ck_assert_int_eq(mlp_new(&m, &s, NULL), ERR_OK);
    cfm *c = (cfm *)1;
    err e;
    err_clear(&e);
    ck_assert_int_eq(cfm_new(&c, m, p, 4, &e), ERR_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(e.field, "vector_field");
    mlp_free(m);
    lsap *l = (lsap *)1;
    err_clear(&e);
    ck_assert_int_eq(lsap_new(&l, 0, &e), ERR_INVALID);
    ck_assert_ptr_null(l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cfm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120); /* the Hungarian reference at every size to 300 */
    tcase_add_test(tc, lsap_matches_brute_force);
    tcase_add_test(tc, lsap_no_improving_swap);
    tcase_add_loop_test(tc, lsap_matches_hungarian, 0, 3);
    tcase_add_test(tc, couple_is_optimal);
    tcase_add_test(tc, couple_matches_hungarian);
    tcase_add_test(tc, loss_and_gradient);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, field_shape_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
