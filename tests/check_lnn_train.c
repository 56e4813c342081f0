/* check_lnn_train: the lagrangian derivative fit ("lnn",
 * docs/structured.md "Training: lagrangian") through the trainer's kind
 * (model/trainer_deriv.c) and the real job decoder (codec_job_decode):
 *   - the gradient of the whole series' loss (every pair, a missing
 *     derivative skipped, the q rows included) against central differences
 *     in every parameter, dof 1 and 2, softplus and tanh;
 *   - the default fit of a lagrangian job is lnn;
 *   - a trainer run on exact harmonic-oscillator data lowers the loss.
 *
 * Tolerance of the differences: h = 1e-6 on O(1) losses gives errors near
 * 1e-9; we require |g - fd| <= 1e-6 max(1, |g|), far below a missing term. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "model/lag_fit.h"
#include "model/trainer.h"
#include "model/trainer_internal.h"
#include "testutil.h"
#include "train_testlib.h"

START_TEST(lnn_gradient_fd)
{
    const size_t n = 1 + (size_t)_i % 2, c = 4 * n;
    const char *act = _i < 2 ? "softplus" : "tanh";
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 1, \"seed\": 4,"
             " \"init\": {\"kind\": \"lagrangian\", \"dof\": %zu,"
             "            \"lagrangian\": {\"hidden\": [8, 8], \"activation\": \"%s\"}}}",
             n, act);
    job_spec spec;
    tt_spec_from(doc, &spec);
    ck_assert_int_eq(job_spec_fit(&spec, MODEL_KIND_LAGRANGIAN), JOB_FIT_LNN);
    model_def *def = &spec.init_def;
    ck_assert_int_eq(def->kind, MODEL_KIND_LAGRANGIAN);
    dataset ds;
    tt_ds_new(&ds, 1, c);
    double t[7], y[7 * 8];
    for (size_t i = 0; i < 7; i++) {
        t[i] = (double)i;
        for (size_t k = 0; k < c; k++)
            y[i * c + k] = tt_urand(-1, 1);
    }
    y[3 * c + c - 1] = NAN; /* a missing derivative: the pair is skipped */
    tt_series_set(&ds, 0, 7, t, y, c);
    struct tt_td td;
    tt_td_new(&td, def, &ds, &spec, def->params);
    /* random parameters whose mass matrix is well conditioned at every
     * observed state (|a| < 20): near a singular M the loss is ~1e9 and the
     * differences, not the gradient, lose their digits */
    lag_fit *lf = NULL;
    ck_assert_int_eq(lag_fit_new(&lf, td.net[0], NULL), ERR_OK);
    int ok = 0;
    for (int tries = 0; tries < 200 && !ok; tries++) {
        for (size_t k = 0; k < def->n_params; k++)
            def->params[k] = tt_urand(-0.8, 0.8);
        ok = 1;
        for (size_t i = 0; i < 7 && ok; i++) {
            double a[2];
            err e;
            err_clear(&e);
            ok = lag_fit_accel(lf, td.net[0], y + i * c, a, &e) == ERR_OK;
            for (size_t j = 0; j < n && ok; j++)
                ok = fabs(a[j]) < 20;
        }
    }
    ck_assert(ok);
    lag_fit_free(lf);
    tt_check_fd(&trainer_deriv_kind, &td, def->n_params, 0);
    tt_td_free(&td);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* A trainer on exact harmonic-oscillator pairs (L = (v^2 - q^2) / 2, the
 * derivatives by the spline rule) lowers the lnn loss. */
START_TEST(trainer_fits_oscillator)
{
    tt_fit_oscillator(
        "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 400, \"seed\": 1,"
        " \"init\": {\"kind\": \"lagrangian\", \"dof\": 1,"
        "            \"lagrangian\": {\"hidden\": [16], \"activation\": \"softplus\"}},"
        " \"objective\": {\"loss\": \"lnn\", \"derivatives\": \"spline\"},"
        " \"optimizer\": {\"lr\": 0.01}}",
        "lnn");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lnn_train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, lnn_gradient_fd, 0, 4);
    tcase_add_test(tc, trainer_fits_oscillator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
