/* check_mlp_jac_batch: the batched Jacobian (nn/mlp_jac_batch.h), one GEMM
 * per layer over the states and their tangent columns, against the
 * separate single-state passes (mlp_jacobian, same maths: 1e-12) and
 * against central finite differences of mlp_forward (h = 1e-6: error
 * ~ h^2 |f'''| + eps |f| / h ~ 1e-10, tolerance 1e-7), for every
 * activation, with and without the time input, a first layer that is
 * linear or elementwise, batches below and above MLP_GEMM_MIN_BATCH, and
 * input rows with a stride (a solver's rows). The forward output must equal
 * mlp_forward_batch's bit for bit at a GEMM batch.
 * The two-hidden-layer trace (nn/mlp_trace2.h, tr J = s2^T (W2 o C) s1)
 * likewise against the sum of mlp_jacobian's diagonal (1e-12) for every
 * activation pair, dimensions 1-3 (d = 1 and 3 catch a C summed over the
 * wrong index), with and without the time input; mlp_trace2_fits refuses
 * every other shape. */
#include "nn/mlp_jac_batch.h"
#include "nn/mlp_trace2.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

static const act_kind acts[] = {ACT_TANH,   ACT_SOFTPLUS, ACT_SIGMOID, ACT_SILU, ACT_CUBE,
                                ACT_SQUARE, ACT_SIN,      ACT_ELU,     ACT_RELU, ACT_IDENTITY};
#define N_ACTS (int)(sizeof acts / sizeof acts[0])

/* [elementwise act ->] (d [+1]) -> 7 (act) -> elementwise act -> 6 (act) -> d */
static mlp *net(size_t d, bool time_input, bool elem_first, act_kind act)
{
    const size_t in = d + (time_input ? 1 : 0);
    mlp_layer L[5];
    size_t nl = 0;
    if (elem_first) L[nl++] = (mlp_layer){MLP_ELEMENTWISE, 0, 0, act};
    L[nl++] = (mlp_layer){MLP_LINEAR, in, 7, act};
    L[nl++] = (mlp_layer){MLP_ELEMENTWISE, 0, 0, act};
    L[nl++] = (mlp_layer){MLP_LINEAR, 7, 6, act};
    L[nl++] = (mlp_layer){MLP_LINEAR, 6, d, ACT_IDENTITY};
    mlp_spec s = {.state_dim = d, .time_input = time_input, .n_layers = nl, .layers = L};
    mlp *m = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(mlp_new(&m, &s, &e) == ERR_OK, "%s: %s", e.field, e.message);
    double *p = mlp_params(m);
    const double sc = act == ACT_CUBE || act == ACT_SQUARE ? 0.4 : 0.9;
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = urand(-sc, sc);
    return m;
}

static void near(double a, double b, double tol, const char *what, size_t i)
{
    ck_assert_msg(fabs(a - b) <= tol * fmax(1.0, fabs(a)), "%s[%zu]: %.17g vs %.17g", what, i, a,
                  b);
}

enum { NMAX = 20, DMAX = 3, LD = DMAX + 2 };

START_TEST(jac_batch)
{
    const act_kind act = acts[_i % N_ACTS];
    const size_t d = 1 + (size_t)(_i / N_ACTS) % DMAX;
    const bool time_input = (_i / N_ACTS / DMAX) % 2, elem_first = (_i / N_ACTS / DMAX / 2) % 2;
    mlp *m = net(d, time_input, elem_first, act);
    if (_i % 3 == 0) ck_assert_int_eq(mlp_pack(m, NULL), ERR_OK);
    mlp_jac_batch_ws *w = NULL;
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_jac_batch_ws_new(&w, m, NMAX, NULL), ERR_OK);
    ck_assert_int_eq(mlp_ws_new(&ws, m, NMAX, NULL), ERR_OK);
    const size_t sizes[] = {1, 5, MLP_GEMM_MIN_BATCH, NMAX};
    for (size_t si = 0; si < 4; si++) {
        const size_t n = sizes[si];
        const double t = urand(-1, 1);
        double x[NMAX * LD], xc[NMAX * DMAX], yb[NMAX * DMAX];
        for (size_t i = 0; i < n * LD; i++) /* relu, elu kinks: hit with probability ~0 */
            x[i] = urand(-1.2, 1.2);
        for (size_t b = 0; b < n; b++)
            memcpy(xc + b * d, x + b * LD, d * sizeof *x);
        mlp_jac_batch_eval(m, w, n, x, LD, t);
        const double *y = mlp_jac_batch_y(w);
        if (n >= MLP_GEMM_MIN_BATCH) {
            mlp_forward_batch(m, ws, n, xc, t, yb);
            ck_assert_msg(memcmp(y, yb, n * d * sizeof *y) == 0, "forward differs from batch");
        }
        for (size_t b = 0; b < n; b++) {
            double y1[DMAX], jac[DMAX * DMAX];
            mlp_jacobian(m, ws, xc + b * d, t, y1, jac, NULL);
            for (size_t o = 0; o < d; o++) {
                near(y[b * d + o], y1[o], 1e-12, "y", b * d + o);
                for (size_t j = 0; j < d; j++) {
                    const double c = mlp_jac_batch_col(w, j)[b * d + o];
                    near(c, jac[o * d + j], 1e-12, "J", o * d + j);
                    const double h = 1e-6;
                    double xp[DMAX], yp[DMAX], ym[DMAX];
                    memcpy(xp, xc + b * d, d * sizeof *xp);
                    xp[j] += h;
                    mlp_forward(m, ws, xp, t, yp);
                    xp[j] -= 2 * h;
                    mlp_forward(m, ws, xp, t, ym);
                    near(c, (yp[o] - ym[o]) / (2 * h), 1e-7, "J fd", o * d + j);
                }
            }
        }
    }
    ck_assert_int_eq(mlp_jac_batch_ws_new(&(mlp_jac_batch_ws *){NULL}, m, 0, NULL), ERR_INVALID);
    mlp_ws_free(ws);
    mlp_jac_batch_ws_free(w);
    mlp_free(m);
}
END_TEST

START_TEST(trace2)
{
    const act_kind a1 = acts[_i % N_ACTS], a2 = acts[(_i * 3 + 1) % N_ACTS];
    const size_t d = 1 + (size_t)(_i / N_ACTS) % DMAX;
    const bool time_input = (_i / N_ACTS / DMAX) % 2;
    const size_t in = d + time_input;
    const mlp_layer L[] = {
        {MLP_LINEAR, in, 7, a1}, {MLP_LINEAR, 7, 6, a2}, {MLP_LINEAR, 6, d, ACT_IDENTITY}};
    mlp_spec sp = {.state_dim = d, .time_input = time_input, .n_layers = 3, .layers = L};
    mlp *m = NULL;
    ck_assert_int_eq(mlp_new(&m, &sp, NULL), ERR_OK);
    double *p = mlp_params(m);
    for (size_t i = 0; i < mlp_n_params(m); i++)
        p[i] = urand(-0.6, 0.6);
    ck_assert(mlp_trace2_fits(m));
    mlp_trace2_ws *w = NULL;
    mlp_ws *ws = NULL;
    ck_assert_int_eq(mlp_trace2_ws_new(&w, m, NMAX, NULL), ERR_OK);
    ck_assert_int_eq(mlp_ws_new(&ws, m, NMAX, NULL), ERR_OK);
    mlp_trace2_prepare(m, w);
    const size_t sizes[] = {1, 5, MLP_GEMM_MIN_BATCH, NMAX};
    for (size_t si = 0; si < 4; si++) {
        const size_t n = sizes[si];
        const double t = urand(-1, 1);
        double x[NMAX * LD], xc[NMAX * DMAX], yb[NMAX * DMAX];
        for (size_t i = 0; i < n * LD; i++)
            x[i] = urand(-1.2, 1.2);
        for (size_t b = 0; b < n; b++)
            memcpy(xc + b * d, x + b * LD, d * sizeof *x);
        mlp_trace2_eval(m, w, n, x, LD, t);
        const double *y = mlp_trace2_y(w), *tr = mlp_trace2_tr(w);
        if (n >= MLP_GEMM_MIN_BATCH) {
            mlp_forward_batch(m, ws, n, xc, t, yb);
            ck_assert_msg(memcmp(y, yb, n * d * sizeof *y) == 0, "forward differs from batch");
        }
        for (size_t b = 0; b < n; b++) {
            double y1[DMAX], jac[DMAX * DMAX], sum = 0;
            mlp_jacobian(m, ws, xc + b * d, t, y1, jac, NULL);
            for (size_t o = 0; o < d; o++) {
                near(y[b * d + o], y1[o], 1e-12, "y", b * d + o);
                sum += jac[o * d + o];
            }
            near(tr[b], sum, 1e-12, "tr", b);
        }
    }
    mlp_ws_free(ws);
    mlp_trace2_ws_free(w);
    mlp_free(m);
}
END_TEST

START_TEST(trace2_shapes)
{
    const mlp_layer ok[] = {{MLP_LINEAR, 3, 4, ACT_TANH},
                            {MLP_LINEAR, 4, 4, ACT_TANH},
                            {MLP_LINEAR, 4, 2, ACT_IDENTITY}};
    const mlp_layer act_last[] = {
        {MLP_LINEAR, 3, 4, ACT_TANH}, {MLP_LINEAR, 4, 4, ACT_TANH}, {MLP_LINEAR, 4, 2, ACT_TANH}};
    const mlp_layer elem[] = {{MLP_LINEAR, 3, 4, ACT_TANH},
                              {MLP_ELEMENTWISE, 0, 0, ACT_TANH},
                              {MLP_LINEAR, 4, 2, ACT_IDENTITY}};
    const mlp_layer deep[] = {{MLP_LINEAR, 3, 4, ACT_TANH},
                              {MLP_LINEAR, 4, 4, ACT_TANH},
                              {MLP_LINEAR, 4, 4, ACT_TANH},
                              {MLP_LINEAR, 4, 2, ACT_IDENTITY}};
    const mlp_layer wide_out[] = {{MLP_LINEAR, 3, 4, ACT_TANH},
                                  {MLP_LINEAR, 4, 4, ACT_TANH},
                                  {MLP_LINEAR, 4, 3, ACT_IDENTITY}};
    const struct {
        const mlp_layer *L;
        size_t n;
        bool fits;
    } c[] = {{ok, 3, true},
             {act_last, 3, false},
             {elem, 3, false},
             {deep, 4, false},
             {wide_out, 3, false}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        mlp_spec sp = {.state_dim = 2, .time_input = true, .n_layers = c[i].n, .layers = c[i].L};
        mlp *m = NULL;
        ck_assert_int_eq(mlp_new(&m, &sp, NULL), ERR_OK);
        ck_assert_int_eq(mlp_trace2_fits(m), c[i].fits);
        mlp_trace2_ws *w = NULL;
        ck_assert_int_eq(mlp_trace2_ws_new(&w, m, 4, NULL), c[i].fits ? ERR_OK : ERR_INVALID);
        mlp_trace2_ws_free(w);
        mlp_free(m);
    }
}
END_TEST

static Suite *jac_batch_suite(void)
{
    Suite *s = suite_create("mlp_jac_batch");
    TCase *t = tcase_create("core");
    tcase_add_loop_test(t, jac_batch, 0, 4 * DMAX * N_ACTS);
    tcase_add_loop_test(t, trace2, 0, 2 * DMAX * N_ACTS);
    tcase_add_test(t, trace2_shapes);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_suite_run(jac_batch_suite());
}
