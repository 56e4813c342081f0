/* check_ham_train: the training maths of the derivative and symplectic fits
 * (docs/structured.md, "Training"; docs/training.md, "Objectives"):
 *   - the derivative rules (model/deriv_pairs.h): the three-point formula is
 *     exact on quadratics at irregular times, ends included; the natural
 *     spline's derivative of sin; missing rows skipped;
 *   - the gradients of the hnn loss (every form), of the ode derivative fit
 *     and of the trajectory fit (leapfrog and yoshida4, mass and kinetic
 *     forms, observations on and off the step grid, whole series and
 *     windows) against central differences of the same loss in every
 *     trained parameter;
 *   - the trajectory fit's states are serving's (hamiltonian_model_solve
 *     with the same method and step from the same start);
 *   - a trainer run on exact harmonic-oscillator data lowers the hnn loss.
 * The job documents go through the real decoder (codec_job_decode).
 *
 * Tolerance of the differences: h = 1e-6 on O(1) losses gives errors near
 * 1e-9; we require |g - fd| <= 1e-6 max(1, |g|), far below a missing term. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "model/deriv_pairs.h"
#include "model/hamiltonian.h"
#include "model/trainer.h"
#include "model/trainer_internal.h"
#include "testutil.h"
#include "train_testlib.h"

static void random_params(model_def *d, double sc)
{
    for (size_t k = 0; k < d->n_params - (model_def_ham_mass(d) ? d->state_dim / 2 : 0); k++)
        d->params[k] = tt_urand(-sc, sc);
}

START_TEST(central_difference_exact_on_quadratics)
{
    const double t[6] = {0.0, 0.3, 0.35, 1.0, 1.7, 1.75};
    double y[12];
    for (size_t i = 0; i < 6; i++) {
        y[2 * i] = 1.5 * t[i] * t[i] - 2 * t[i] + 0.5;
        y[2 * i + 1] = -t[i] * t[i] + 4;
    }
    dataset_series x = {.n = 6, .t = (double *)t, .y = y};
    deriv_pairs p;
    ck_assert_int_eq(deriv_pairs_of(&x, 2, 2, JOB_DERIVS_CENTRAL, &p, NULL), ERR_OK);
    ck_assert_uint_eq(p.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_msg(fabs(p.dx[2 * i] - (3 * t[i] - 2)) < 1e-12, "row %zu: %.17g", i, p.dx[2 * i]);
        ck_assert(fabs(p.dx[2 * i + 1] + 2 * t[i]) < 1e-12);
        ck_assert(p.x[2 * i] == y[2 * i] && p.t[i] == t[i]);
    }
    deriv_pairs_free(&p);
    /* a missing value drops every row whose formula reads it */
    y[2 * 3 + 1] = NAN;
    ck_assert_int_eq(deriv_pairs_of(&x, 2, 2, JOB_DERIVS_CENTRAL, &p, NULL), ERR_OK);
    ck_assert_uint_eq(p.n, 2); /* rows 0 and 1 read rows 0..2 only */
    deriv_pairs_free(&p);
    /* fewer than three rows: no pairs */
    x.n = 2;
    ck_assert_int_eq(deriv_pairs_of(&x, 2, 2, JOB_DERIVS_CENTRAL, &p, NULL), ERR_OK);
    ck_assert_uint_eq(p.n, 0);
    deriv_pairs_free(&p);
}
END_TEST

START_TEST(spline_and_channels)
{
    enum { N = 80 };
    double t[N], y[N], yc[N * 2];
    for (size_t i = 0; i < N; i++) {
        t[i] = 0.1 * (double)i + 0.03 * sin(3.0 * (double)i);
        y[i] = sin(t[i]);
        yc[2 * i] = y[i];
        yc[2 * i + 1] = i == 5 ? NAN : cos(t[i]);
    }
    dataset_series x = {.n = N, .t = t, .y = y};
    deriv_pairs p;
    ck_assert_int_eq(deriv_pairs_of(&x, 1, 1, JOB_DERIVS_SPLINE, &p, NULL), ERR_OK);
    ck_assert_uint_eq(p.n, N);
    for (size_t i = 5; i < N - 5; i++) /* the natural ends bend the spline near them */
        ck_assert_msg(fabs(p.dx[i] - cos(t[i])) < 2e-4, "t=%g: %g vs %g", t[i], p.dx[i], cos(t[i]));
    deriv_pairs_free(&p);
    dataset_series xc = {.n = N, .t = t, .y = yc};
    ck_assert_int_eq(deriv_pairs_of(&xc, 2, 1, JOB_DERIVS_UNSET, &p, NULL), ERR_OK);
    ck_assert_uint_eq(p.n, N - 1); /* the row with a missing derivative is skipped */
    ck_assert(p.dx[5] == yc[2 * 6 + 1] && p.x[5] == yc[2 * 6]);
    deriv_pairs_free(&p);
}
END_TEST

static const char *const ham_inits[] = {
    "\"hamiltonian\": {\"hidden\": [5, 4], \"activation\": \"tanh\"}",
    "\"potential\": {\"hidden\": [5], \"activation\": \"softplus\"}, \"mass\": [1.5, 0.7]",
    "\"potential\": {\"hidden\": [5], \"activation\": \"sin\"},"
    " \"kinetic\": {\"hidden\": [4], \"activation\": \"silu\"}",
};

START_TEST(hnn_gradient_fd)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1, \"seed\": 4,"
             " \"init\": {\"kind\": \"hamiltonian\", \"dof\": 2, %s}, \"objective\": \"hnn\"}",
             ham_inits[_i]);
    job_spec spec;
    tt_spec_from(doc, &spec);
    ck_assert_int_eq(spec.fit, JOB_FIT_HNN);
    model_def *def = &spec.init_def;
    random_params(def, 0.8);
    dataset ds;
    tt_ds_new(&ds, 1, 8);
    double t[7], y[7 * 8];
    for (size_t i = 0; i < 7; i++) {
        t[i] = (double)i;
        for (size_t c = 0; c < 8; c++)
            y[i * 8 + c] = tt_urand(-1, 1);
    }
    y[3 * 8 + 6] = NAN; /* a missing derivative: the pair is skipped */
    tt_series_set(&ds, 0, 7, t, y, 8);
    struct tt_td td;
    tt_td_new(&td, def, &ds, &spec, def->params);
    const size_t mass = model_def_ham_mass(def) ? 2 : 0;
    tt_check_fd(&trainer_deriv_kind, &td, def->n_params - mass, 0);
    tt_td_free(&td);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

START_TEST(ode_derivative_gradient_fd)
{
    job_spec spec;
    tt_spec_from(
        "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1,"
        " \"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [6]},"
        " \"objective\": {\"loss\": \"derivative\", \"derivatives\": \"central_difference\"}}",
        &spec);
    model_def *def = &spec.init_def;
    dataset ds;
    tt_ds_new(&ds, 1, 2);
    double t[6] = {0, 0.2, 0.5, 0.6, 1.0, 1.1}, y[12];
    for (size_t i = 0; i < 12; i++)
        y[i] = tt_urand(-1, 1);
    tt_series_set(&ds, 0, 6, t, y, 2);
    struct tt_td td;
    tt_td_new(&td, def, &ds, &spec, def->params);
    tt_check_fd(&trainer_deriv_kind, &td, def->n_params, 0);
    tt_td_free(&td);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* trajectory: (leapfrog, yoshida4) x (mass, kinetic) x (series, windows);
 * then implicit_midpoint x (general, mass, kinetic) x (series, windows) */
START_TEST(trajectory_gradient_fd)
{
    const int mid = _i >= 8, j = mid ? _i - 8 : _i;
    const char *method = mid ? "implicit_midpoint" : j & 1 ? "yoshida4" : "leapfrog";
    const char *init = mid ? ham_inits[j % 3] : ham_inits[1 + ((j >> 1) & 1)];
    const int windows = mid ? j / 3 : (j >> 2) & 1;
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1, \"seed\": 9,"
             " \"init\": {\"kind\": \"hamiltonian\", \"dof\": 2, %s},"
             " \"objective\": {\"loss\": \"trajectory\"%s},"
             " \"solver\": {\"method\": \"%s\", \"step\": 0.07}}",
             init, windows ? ", \"batch_time\": 3" : "", method);
    job_spec spec;
    tt_spec_from(doc, &spec);
    model_def *def = &spec.init_def;
    random_params(def, 0.7);
    dataset ds;
    tt_ds_new(&ds, 1, 4);
    /* times on the grid (0.07 k) and off it */
    double t[6] = {0.0, 0.14, 0.2, 0.35, 0.42, 0.5}, y[24];
    for (size_t i = 0; i < 24; i++)
        y[i] = tt_urand(-1, 1);
    y[2 * 4 + 1] = NAN;
    tt_series_set(&ds, 0, 6, t, y, 4);
    struct tt_td td;
    tt_td_new(&td, def, &ds, &spec, def->params);
    const size_t mass = model_def_ham_mass(def) ? 2 : 0;
    tt_check_fd(&trainer_ham_kind, &td, def->n_params - mass, windows);
    tt_td_free(&td);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* The trajectory fit's states are serving's: the loss computed from
 * hamiltonian_model_solve's answers equals the kind's series loss. */
START_TEST(trajectory_states_are_serving)
{
    const char *method = _i ? "implicit_midpoint" : "yoshida4";
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1, \"seed\": 2,"
             " \"init\": {\"kind\": \"hamiltonian\", \"dof\": 2, %s},"
             " \"objective\": \"trajectory\", \"solver\": {\"method\": \"%s\", \"step\": 0.05}}",
             ham_inits[_i ? 0 : 2], method);
    job_spec spec;
    tt_spec_from(doc, &spec);
    model_def *def = &spec.init_def;
    const size_t n = 9;
    double t[9], y[36], pred[36];
    for (size_t i = 0; i < n; i++)
        t[i] = 0.5 + 0.13 * (double)i * (double)i; /* off the grid, growing gaps */
    for (size_t i = 0; i < 4 * n; i++)
        y[i] = tt_urand(-1, 1);
    dataset ds;
    tt_ds_new(&ds, 1, 4);
    tt_series_set(&ds, 0, n, t, y, 4);
    hamiltonian_model *m = NULL;
    ck_assert_int_eq(hamiltonian_model_new(&m, def, NULL), ERR_OK);
    struct model_traj_query q = {.t0 = t[0], .batch = 1, .y0 = y, .t = t, .n_t = n};
    snprintf(q.solver.method, sizeof q.solver.method, "%s", method);
    q.solver.step = 0.05;
    q.solver.rtol = 1e-14; /* implicit_midpoint: serving's Newton tolerance */
    err e;
    err_clear(&e);
    ck_assert_msg(hamiltonian_model_solve(m, &q, pred, NULL, NULL, &e) == ERR_OK, "%s", e.message);
    double want = 0;
    for (size_t i = 0; i < 4 * n; i++)
        want += (pred[i] - y[i]) * (pred[i] - y[i]) / (4.0 * (double)n);
    struct tt_td td;
    tt_td_new(&td, def, &ds, &spec, def->params);
    void *ks = NULL;
    ck_assert_int_eq(trainer_ham_kind.setup(&ks, &td.d, NULL), ERR_OK);
    double l = 0;
    ck_assert_int_eq(
        trainer_ham_kind.series_loss(ks, &td.d, 0, 1.0 / (4.0 * (double)n), &l, NULL, NULL),
        ERR_OK);
    /* explicit: the same arithmetic; implicit: two Newton iterations to round-off */
    ck_assert_msg(fabs(l - want) <= (_i ? 1e-10 : 1e-12) * want, "%.17g vs serving %.17g", l, want);
    trainer_ham_kind.free(ks);
    tt_td_free(&td);
    hamiltonian_model_free(m);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* A fit whose state stops being finite fails with ERR_SOLVER naming the
 * time, no NaN loss. */
START_TEST(trajectory_not_finite)
{
    char doc[1024];
    snprintf(
        doc, sizeof doc,
        "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1,"
        " \"init\": {\"kind\": \"hamiltonian\", \"dof\": 2, %s},"
        " \"objective\": \"trajectory\", \"solver\": {\"method\": \"leapfrog\", \"step\": 0.1}}",
        ham_inits[1]);
    job_spec spec;
    tt_spec_from(doc, &spec);
    model_def *def = &spec.init_def;
    random_params(def, 0.7);
    for (size_t k = 0; k < def->n_params - 2; k++)
        def->params[k] *= 1e160; /* dV/dq of order 1e320: the state overflows */
    dataset ds;
    tt_ds_new(&ds, 1, 4);
    double t[3] = {0, 1, 2}, y[12] = {0.5, 0.1, 0.2, 0.3, 0, 0, 0, 0, 0, 0, 0, 0};
    tt_series_set(&ds, 0, 3, t, y, 4);
    struct tt_td td;
    tt_td_new(&td, def, &ds, &spec, def->params);
    void *ks = NULL;
    ck_assert_int_eq(trainer_ham_kind.setup(&ks, &td.d, NULL), ERR_OK);
    double l = 0;
    err e;
    err_clear(&e);
    ck_assert_int_eq(trainer_ham_kind.series_loss(ks, &td.d, 0, 1.0, &l, NULL, &e), ERR_SOLVER);
    ck_assert_msg(strstr(e.message, "not finite at t="), "%s", e.message);
    trainer_ham_kind.free(ks);
    tt_td_free(&td);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* A trainer on exact harmonic-oscillator pairs (H = (q^2 + p^2) / 2, the
 * derivatives by the spline rule) lowers the hnn loss a hundredfold. */
START_TEST(trainer_fits_oscillator)
{
    tt_fit_oscillator("{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 400, \"seed\": 1,"
                      " \"init\": {\"kind\": \"hamiltonian\", \"dof\": 1,"
                      "            \"hamiltonian\": {\"hidden\": [16], \"activation\": \"tanh\"}},"
                      " \"objective\": {\"loss\": \"hnn\", \"derivatives\": \"spline\"},"
                      " \"optimizer\": {\"lr\": 0.01}}",
                      "hnn");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ham_train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, central_difference_exact_on_quadratics);
    tcase_add_test(tc, spline_and_channels);
    tcase_add_loop_test(tc, hnn_gradient_fd, 0, 3);
    tcase_add_test(tc, ode_derivative_gradient_fd);
    tcase_add_loop_test(tc, trajectory_gradient_fd, 0, 14);
    tcase_add_loop_test(tc, trajectory_states_are_serving, 0, 2);
    tcase_add_test(tc, trajectory_not_finite);
    tcase_add_test(tc, trainer_fits_oscillator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
