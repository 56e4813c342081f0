/* tests/check_cnf_model.c: model/cnf_model.h against closed forms.
 *
 * Linear field f(z, t) = A z: z(t) = expm(t A) z(0) and the log-density
 * changes by -t tr(A), with expm computed here by scaling and squaring of a
 * Taylor series (not by any solver). A 2-D tanh flow's density sums to 1 on
 * a fine grid. Hutchinson's estimate is unbiased over seeds, and with probes
 * held fixed along a solve its step count is the exact solve's. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/cnf_model.h"
#include "testutil.h"

#define D3 3

/* A, not symmetric, with a real spectrum (upper triangular plus a coupling). */
static const double A3[D3][D3] = {{-0.4, 0.7, 0.1}, {0.2, 0.3, -0.5}, {0.0, 0.6, -0.9}};

/* expm(s M) for a D3 x D3 M: Taylor to 30 terms at s M / 2^q, squared q times. */
static void expm3(double s, const double M[D3][D3], double out[D3][D3])
{
    double norm = 0;
    for (int i = 0; i < D3; i++)
        for (int j = 0; j < D3; j++)
            norm = fmax(norm, fabs(s * M[i][j]) * D3);
    int q = 0;
    while (norm / ldexp(1.0, q) > 0.25)
        q++;
    double X[D3][D3], T[D3][D3], R[D3][D3], tmp[D3][D3];
    for (int i = 0; i < D3; i++)
        for (int j = 0; j < D3; j++) {
            X[i][j] = s * M[i][j] / ldexp(1.0, q);
            T[i][j] = R[i][j] = (i == j);
        }
    for (int k = 1; k <= 30; k++) {
        for (int i = 0; i < D3; i++)
            for (int j = 0; j < D3; j++) {
                double v = 0;
                for (int l = 0; l < D3; l++)
                    v += T[i][l] * X[l][j];
                tmp[i][j] = v / k;
            }
        memcpy(T, tmp, sizeof T);
        for (int i = 0; i < D3; i++)
            for (int j = 0; j < D3; j++)
                R[i][j] += T[i][j];
    }
    for (int r = 0; r < q; r++) {
        for (int i = 0; i < D3; i++)
            for (int j = 0; j < D3; j++) {
                double v = 0;
                for (int l = 0; l < D3; l++)
                    v += R[i][l] * R[l][j];
                tmp[i][j] = v;
            }
        memcpy(R, tmp, sizeof R);
    }
    memcpy(out, R, sizeof R);
}

static double lognormal_std(const double *z, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += z[i] * z[i];
    return -0.5 * s - 0.5 * (double)d * log(2 * M_PI);
}

/* The linear model: one identity linear layer [A | 0] on [z; t]. */
static void linear_def(model_def *d, bool base)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CNF;
    d->state_dim = D3;
    d->n_nets = 1;
    model_net *n = &d->nets[0];
    n->in_dim = D3;
    n->time_input = true;
    n->n_layers = 1;
    n->layers[0] = (mlp_layer){.kind = MLP_LINEAR, .in = D3 + 1, .out = D3, .act = ACT_IDENTITY};
    d->n_params = D3 * (D3 + 1) + D3;
    d->params = calloc(d->n_params, sizeof(double));
    for (int i = 0; i < D3; i++)
        for (int j = 0; j < D3; j++)
            d->params[i * (D3 + 1) + j] = A3[i][j];
    if (base) {
        d->base_mean = malloc(D3 * sizeof(double));
        d->base_scale = malloc(D3 * sizeof(double));
        for (int i = 0; i < D3; i++) {
            d->base_mean[i] = 0.3 * i - 0.2;
            d->base_scale[i] = 0.5 + 0.4 * i;
        }
    }
}

/* A tanh flow dim -> width -> dim with time input and fixed pseudo-random weights. */
static void tanh_def(model_def *d, size_t dim, size_t width, double w_scale)
{
    model_def_init(d);
    d->kind = MODEL_KIND_CNF;
    d->state_dim = dim;
    d->n_nets = 1;
    model_net *n = &d->nets[0];
    n->in_dim = dim;
    n->time_input = true;
    n->n_layers = 2;
    n->layers[0] = (mlp_layer){.kind = MLP_LINEAR, .in = dim + 1, .out = width, .act = ACT_TANH};
    n->layers[1] = (mlp_layer){.kind = MLP_LINEAR, .in = width, .out = dim, .act = ACT_IDENTITY};
    d->n_params = (dim + 1) * width + width + width * dim + dim;
    d->params = malloc(d->n_params * sizeof(double));
    unsigned long long s = 12345;
    for (size_t i = 0; i < d->n_params; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        d->params[i] = w_scale * ((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
    }
}

static cnf_model *build(const model_def *d)
{
    cnf_model *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(cnf_model_new(&m, d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    return m;
}

static model_solver tight(void)
{
    model_solver s = {.rtol = 1e-12, .atol = 1e-12};
    strcpy(s.method, "dop853");
    return s;
}

static void check_linear_log_prob(cnf_batch_mode mode, size_t n)
{
    model_def d;
    linear_def(&d, false);
    cnf_model *m = build(&d);
    double E[D3][D3], *x = malloc(n * D3 * sizeof(double)), *lp = malloc(n * sizeof(double)),
                      *se = malloc(n * sizeof(double)), *z = malloc(n * D3 * sizeof(double));
    expm3(-1.0, A3, E);
    const double trA = A3[0][0] + A3[1][1] + A3[2][2];
    for (size_t b = 0; b < n * D3; b++)
        x[b] = sin(1.7 * (double)b + 0.3) * 1.5;
    struct cnf_logp_query q = {.n = n, .x = x, .solver = tight(), .mode = mode};
    struct cnf_stats st;
    err e;
    err_clear(&e);
    ck_assert_msg(cnf_model_log_prob(m, &q, lp, se, z, &st, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(st.mode, mode);
    for (size_t b = 0; b < n; b++) {
        double z0[D3];
        for (int i = 0; i < D3; i++) {
            z0[i] = 0;
            for (int j = 0; j < D3; j++)
                z0[i] += E[i][j] * x[b * D3 + j];
            ck_assert_double_eq_tol(z[b * D3 + i], z0[i], 1e-9);
        }
        double want = lognormal_std(z0, D3) - trA;
        ck_assert_msg(fabs(lp[b] - want) < 1e-8, "point %zu: %.15g vs %.15g", b, lp[b], want);
        ck_assert_double_eq(se[b], 0.0);
    }
    free(x);
    free(lp);
    free(se);
    free(z);
    cnf_model_free(m);
    model_def_free(&d);
}

START_TEST(test_linear_log_prob_per_point)
{
    check_linear_log_prob(CNF_BATCH_PER_POINT, 5);
}
END_TEST

START_TEST(test_linear_log_prob_shared)
{
    check_linear_log_prob(CNF_BATCH_SHARED, 40);
}
END_TEST

/* More points than one shared system holds (256): full chunks and a partial one. */
START_TEST(test_linear_log_prob_shared_chunks)
{
    check_linear_log_prob(CNF_BATCH_SHARED, 600);
}
END_TEST

/* Sample maps z by expm(A), the path at t by expm(t A), and the log-density
 * is the base's (a diagonal Gaussian here) minus tr(A). */
START_TEST(test_linear_sample_path_base)
{
    model_def d;
    linear_def(&d, true);
    cnf_model *m = build(&d);
    const size_t n = 4;
    double z[4 * D3], x[4 * D3], path[4 * 2 * D3], lp[4], se[4];
    for (size_t i = 0; i < n * D3; i++)
        z[i] = cos(0.9 * (double)i) * 2.0;
    const double ts[2] = {0.5, 0.0};
    struct cnf_sample_query q = {.n = n, .z = z, .t = ts, .n_t = 2, .log_prob = true,
                                 .solver = tight(), .mode = CNF_BATCH_SHARED};
    err e;
    err_clear(&e);
    ck_assert_msg(cnf_model_sample(m, &q, x, path, lp, se, NULL, &e) == ERR_OK, "%s", e.message);
    double E1[D3][D3], Eh[D3][D3];
    expm3(1.0, A3, E1);
    expm3(0.5, A3, Eh);
    const double trA = A3[0][0] + A3[1][1] + A3[2][2];
    for (size_t b = 0; b < n; b++) {
        double base = 0;
        for (int i = 0; i < D3; i++) {
            double w1 = 0, wh = 0;
            for (int j = 0; j < D3; j++) {
                w1 += E1[i][j] * z[b * D3 + j];
                wh += Eh[i][j] * z[b * D3 + j];
            }
            ck_assert_double_eq_tol(x[b * D3 + i], w1, 1e-9);
            ck_assert_double_eq_tol(path[(b * 2 + 0) * D3 + i], wh, 1e-9);
            ck_assert_double_eq_tol(path[(b * 2 + 1) * D3 + i], z[b * D3 + i], 1e-12);
            double u = (z[b * D3 + i] - d.base_mean[i]) / d.base_scale[i];
            base += -0.5 * u * u - log(d.base_scale[i]) - 0.5 * log(2 * M_PI);
        }
        ck_assert_double_eq_tol(lp[b], base - trA, 1e-8);
        /* and log_prob of the sample agrees with sample's own log-density */
        double lp2, se2;
        struct cnf_logp_query lq = {.n = 1, .x = x + b * D3, .solver = tight()};
        ck_assert(cnf_model_log_prob(m, &lq, &lp2, &se2, NULL, NULL, &e) == ERR_OK);
        ck_assert_double_eq_tol(lp2, lp[b], 1e-8);
    }
    cnf_model_free(m);
    model_def_free(&d);
}
END_TEST

/* Seeded base draws are reproducible and follow the base's mean and scale. */
START_TEST(test_sample_seeded)
{
    model_def d;
    linear_def(&d, true);
    cnf_model *m = build(&d);
    const size_t n = 2000;
    double *z = malloc(n * D3 * sizeof(double)), *x1 = malloc(n * D3 * sizeof(double)),
           *x2 = malloc(n * D3 * sizeof(double));
    double mean[D3] = {0}, var[D3] = {0};
    for (size_t b = 0; b < n; b++) {
        cnf_model_base_draw(m, 7, b, z + b * D3);
        for (int i = 0; i < D3; i++)
            mean[i] += z[b * D3 + i] / (double)n;
    }
    for (size_t b = 0; b < n; b++)
        for (int i = 0; i < D3; i++)
            var[i] += pow(z[b * D3 + i] - mean[i], 2) / (double)(n - 1);
    for (int i = 0; i < D3; i++) {
        ck_assert_double_eq_tol(mean[i], d.base_mean[i], 4 * d.base_scale[i] / sqrt((double)n));
        ck_assert_double_eq_tol(sqrt(var[i]) / d.base_scale[i], 1.0, 0.06);
    }
    /* sample with seed 7 equals sample of the drawn z; first 20 points */
    struct cnf_sample_query q = {.n = 20, .seed = 7, .solver = tight()};
    err e;
    err_clear(&e);
    ck_assert(cnf_model_sample(m, &q, x1, NULL, NULL, NULL, NULL, &e) == ERR_OK);
    q.z = z;
    ck_assert(cnf_model_sample(m, &q, x2, NULL, NULL, NULL, NULL, &e) == ERR_OK);
    ck_assert_mem_eq(x1, x2, 20 * D3 * sizeof(double));
    free(z);
    free(x1);
    free(x2);
    cnf_model_free(m);
    model_def_free(&d);
}
END_TEST

/* The density of a 2-D tanh flow integrates to 1 over a fine grid. */
START_TEST(test_normalisation_2d)
{
    model_def d;
    tanh_def(&d, 2, 16, 0.8);
    cnf_model *m = build(&d);
    const int g = 160;
    const double L = 8.0, h = 2 * L / g;
    double *x = malloc((size_t)g * g * 2 * sizeof(double)), *lp = malloc((size_t)g * g * sizeof(double));
    for (int i = 0; i < g; i++)
        for (int j = 0; j < g; j++) {
            x[(i * g + j) * 2] = -L + (i + 0.5) * h;
            x[(i * g + j) * 2 + 1] = -L + (j + 0.5) * h;
        }
    model_solver s = {.rtol = 1e-8, .atol = 1e-8};
    struct cnf_logp_query q = {.n = (size_t)g * g, .x = x, .solver = s};
    err e;
    err_clear(&e);
    ck_assert_msg(cnf_model_log_prob(m, &q, lp, NULL, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    double mass = 0;
    for (int i = 0; i < g * g; i++)
        mass += exp(lp[i]) * h * h;
    ck_assert_msg(fabs(mass - 1.0) < 1e-3, "mass %.8f", mass);
    /* the flow is not the identity: the density differs from the base's */
    double diff = 0;
    for (int i = 0; i < g * g; i++)
        diff = fmax(diff, fabs(exp(lp[i]) - exp(lognormal_std(x + 2 * i, 2))));
    ck_assert_msg(diff > 1e-3, "flow too close to the identity (%g)", diff);
    free(x);
    free(lp);
    cnf_model_free(m);
    model_def_free(&d);
}
END_TEST

/* Hutchinson: the mean over many seeds is within 3 standard errors of the
 * exact log-density; the per-call standard error is right in scale; fixed
 * probes leave the adaptive step count at the exact solve's. */
static void check_hutchinson(cnf_noise noise)
{
    model_def d;
    tanh_def(&d, 4, 24, 0.9);
    cnf_model *m = build(&d);
    const double x[4] = {0.3, -1.1, 0.8, 0.05};
    model_solver s = {.rtol = 1e-7, .atol = 1e-7};
    struct cnf_logp_query q = {.n = 1, .x = x, .solver = s};
    struct cnf_stats st_exact, st;
    double exact, lp, se;
    err e;
    err_clear(&e);
    ck_assert(cnf_model_log_prob(m, &q, &exact, NULL, NULL, &st_exact, &e) == ERR_OK);
    q.tr = (struct cnf_trace_opts){.trace = CNF_TRACE_HUTCHINSON, .probes = 1, .noise = noise};
    const int N = 400;
    double sum = 0, sum2 = 0;
    long max_steps = 0;
    for (int k = 0; k < N; k++) {
        q.tr.seed = 1000 + (uint64_t)k;
        ck_assert(cnf_model_log_prob(m, &q, &lp, &se, NULL, &st, &e) == ERR_OK);
        ck_assert(isnan(se)); /* one probe: no spread to estimate */
        sum += lp;
        sum2 += lp * lp;
        if (st.steps > max_steps) max_steps = st.steps;
    }
    const double mean = sum / N, sd = sqrt((sum2 - N * mean * mean) / (N - 1));
    ck_assert_msg(sd > 1e-3, "estimator without spread (%g): test is vacuous", sd);
    ck_assert_msg(fabs(mean - exact) < 3 * sd / sqrt((double)N), "mean %.6f exact %.6f se %.6f",
                  mean, exact, sd / sqrt((double)N));
    ck_assert_msg(max_steps <= 2 * st_exact.steps, "hutchinson %ld steps, exact %ld", max_steps,
                  st_exact.steps);
    /* 64 probes: the reported standard error is about sd / 8 */
    q.tr.probes = 64;
    q.tr.seed = 5;
    ck_assert(cnf_model_log_prob(m, &q, &lp, &se, NULL, &st, &e) == ERR_OK);
    ck_assert_msg(se > sd / 8 / 2 && se < sd / 8 * 2, "se %g vs sd/8 %g", se, sd / 8);
    ck_assert_msg(fabs(lp - exact) < 5 * se, "64 probes %.6f vs exact %.6f (se %g)", lp, exact, se);
    ck_assert_msg(st.steps <= 2 * st_exact.steps, "64 probes: %ld steps, exact %ld", st.steps,
                  st_exact.steps);
    cnf_model_free(m);
    model_def_free(&d);
}

START_TEST(test_hutchinson_rademacher)
{
    check_hutchinson(CNF_NOISE_RADEMACHER);
}
END_TEST

START_TEST(test_hutchinson_gaussian)
{
    check_hutchinson(CNF_NOISE_GAUSSIAN);
}
END_TEST

/* Point b's probes do not depend on the batch or its mode. */
START_TEST(test_hutchinson_batch_independent)
{
    model_def d;
    tanh_def(&d, 3, 8, 0.7);
    cnf_model *m = build(&d);
    const size_t n = 20;
    double x[20 * 3], a[20], b[20];
    for (size_t i = 0; i < n * 3; i++)
        x[i] = sin((double)i);
    model_solver s = {.rtol = 1e-10, .atol = 1e-10};
    struct cnf_logp_query q = {.n = n, .x = x, .solver = s, .mode = CNF_BATCH_SHARED,
                               .tr = {.trace = CNF_TRACE_HUTCHINSON, .probes = 2, .seed = 9}};
    err e;
    err_clear(&e);
    ck_assert(cnf_model_log_prob(m, &q, a, NULL, NULL, NULL, &e) == ERR_OK);
    q.mode = CNF_BATCH_PER_POINT;
    ck_assert(cnf_model_log_prob(m, &q, b, NULL, NULL, NULL, &e) == ERR_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(a[i], b[i], 1e-7);
    /* probes of 300 signs: +-1, balanced, different per probe and per point */
    double eps0[300], eps1[300], eps2[300];
    cnf_model_probe(300, 9, CNF_NOISE_RADEMACHER, 0, 0, eps0);
    cnf_model_probe(300, 9, CNF_NOISE_RADEMACHER, 0, 1, eps1);
    cnf_model_probe(300, 9, CNF_NOISE_RADEMACHER, 1, 0, eps2);
    double sum = 0;
    for (int i = 0; i < 300; i++) {
        ck_assert(fabs(eps0[i]) == 1.0);
        sum += eps0[i];
    }
    ck_assert_msg(fabs(sum) < 60, "unbalanced signs: %g", sum);
    ck_assert(memcmp(eps0, eps1, sizeof eps0) != 0);
    ck_assert(memcmp(eps0, eps2, sizeof eps0) != 0);
    cnf_model_free(m);
    model_def_free(&d);
}
END_TEST

START_TEST(test_errors)
{
    model_def d;
    tanh_def(&d, 2, 4, 0.5);
    cnf_model *m = build(&d);
    double x[4] = {0, 1, NAN, 2}, lp[2];
    struct cnf_logp_query q = {.n = 2, .x = x};
    err e;
    err_clear(&e);
    err_clear(&e);
    ck_assert_int_eq(cnf_model_log_prob(m, &q, lp, NULL, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "x[1][0]");
    x[2] = 1;
    q.tr.trace = CNF_TRACE_HUTCHINSON;
    err_clear(&e);
    ck_assert_int_eq(cnf_model_log_prob(m, &q, lp, NULL, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "probes");
    q.tr.trace = CNF_TRACE_EXACT;
    strcpy(q.solver.method, "rodas4");
    err_clear(&e);
    ck_assert_int_eq(cnf_model_log_prob(m, &q, lp, NULL, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    const double t[2] = {0.5, 1.5};
    double out[4];
    struct cnf_sample_query sq = {.n = 2, .seed = 1, .t = t, .n_t = 2};
    err_clear(&e);
    ck_assert_int_eq(cnf_model_sample(m, &sq, out, NULL, NULL, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "t[1]");
    /* a def of another kind, and a bad base */
    cnf_model *bad = NULL;
    d.kind = MODEL_KIND_ODE;
    err_clear(&e);
    ck_assert_int_eq(cnf_model_new(&bad, &d, &e), ERR_INVALID);
    d.kind = MODEL_KIND_CNF;
    d.base_mean = calloc(2, sizeof(double));
    d.base_scale = calloc(2, sizeof(double));
    d.base_scale[0] = 1;
    err_clear(&e);
    ck_assert_int_eq(cnf_model_new(&bad, &d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "base.scale[1]");
    ck_assert_ptr_null(bad);
    cnf_model_free(m);
    model_def_free(&d);
}
END_TEST

static Suite *cnf_suite(void)
{
    Suite *s = suite_create("cnf_model");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_linear_log_prob_per_point);
    tcase_add_test(tc, test_linear_log_prob_shared);
    tcase_add_test(tc, test_linear_log_prob_shared_chunks);
    tcase_add_test(tc, test_linear_sample_path_base);
    tcase_add_test(tc, test_sample_seeded);
    tcase_add_test(tc, test_normalisation_2d);
    tcase_add_test(tc, test_hutchinson_rademacher);
    tcase_add_test(tc, test_hutchinson_gaussian);
    tcase_add_test(tc, test_hutchinson_batch_independent);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(cnf_suite());
}
