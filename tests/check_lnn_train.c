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

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static double urand(double lo, double hi)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return lo + (hi - lo) * ((double)(seed >> 11) * 0x1p-53);
}

static void spec_from(const char *doc, job_spec *s)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(doc, strlen(doc), s, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
}

/* One series of n rows of c channels at times t (copied). */
static void series_set(dataset *ds, size_t s, size_t n, const double *t, const double *y, size_t c)
{
    dataset_series *x = &ds->series[s];
    x->n = n;
    x->t = malloc(n * sizeof *x->t);
    x->y = malloc(n * c * sizeof *x->y);
    memcpy(x->t, t, n * sizeof *t);
    memcpy(x->y, y, n * c * sizeof *y);
}

static void ds_new(dataset *ds, size_t n_series, size_t channels)
{
    dataset_init(ds);
    ds->channels = channels;
    ds->n_series = n_series;
    ds->series = calloc(n_series, sizeof *ds->series);
}

/* A trainer_data over def's networks bound to params, as trainer.c makes it. */
struct td {
    struct trainer_data d;
    mlp *net[MODEL_MAX_NETS];
};

static void td_new(struct td *t, const model_def *def, const dataset *ds, const job_spec *spec,
                   double *params)
{
    memset(t, 0, sizeof *t);
    t->d.def = def;
    t->d.ds = ds;
    t->d.spec = spec;
    t->d.params = params;
    t->d.np = def->n_params;
    t->d.ch = ds->channels;
    size_t nt = spec->batch_time;
    for (size_t s = 0; s < ds->n_series; s++)
        if (ds->series[s].n > nt) nt = ds->series[s].n;
    t->d.nt_max = nt;
    t->d.bmax = 4;
    for (size_t i = 0; i < def->n_nets; i++) {
        const model_net *n = &def->nets[i];
        mlp_spec ms = {.state_dim = n->in_dim, .n_layers = n->n_layers, .layers = n->layers,
                       .time_input = n->time_input};
        ck_assert_int_eq(mlp_new(&t->net[i], &ms, NULL), ERR_OK);
        mlp_params_bind(t->net[i], params + model_def_net_offset(def, i));
        t->d.net[i] = t->net[i];
    }
}

static void td_free(struct td *t)
{
    for (size_t i = 0; i < MODEL_MAX_NETS; i++)
        mlp_free(t->net[i]);
}

static void near(double a, double b, const char *what, size_t i)
{
    ck_assert_msg(fabs(a - b) <= 1e-6 * fmax(1.0, fabs(a)), "%s[%zu]: %.17g vs fd %.17g", what, i,
                  a, b);
}

/* The loss of series 0 (or of windows) and its gradient against central
 * differences in the first n_trained parameters. */
static void check_fd(const struct trainer_kind *kind, struct td *t, size_t n_trained, int windows)
{
    void *ks = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(kind->setup(&ks, &t->d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    const size_t np = t->d.np;
    double *g = calloc(np, sizeof *g), *scratch = calloc(np, sizeof *g), l = 0;
    size_t win_s[2] = {0, 0}, win_i[2] = {0, 3}, pick[2] = {0, 1}; /* fully observed starts */
    const double scale = 1.0 / (double)kind->count(ks, &t->d, 0);
#define LOSS(lp, gp)                                                                               \
    (windows ? kind->window_loss(ks, &t->d, win_s, win_i, pick, 2, lp, gp ? gp : scratch, &e)     \
             : kind->series_loss(ks, &t->d, 0, scale, lp, gp, &e))
    ck_assert_msg(LOSS(&l, g) == ERR_OK, "%s", e.message);
    ck_assert(l > 0 && isfinite(l));
    double *p = t->d.params;
    const double h = 1e-6;
    for (size_t k = 0; k < n_trained; k++) {
        const double p0 = p[k];
        double lp = 0, lm = 0;
        p[k] = p0 + h;
        ck_assert_int_eq(LOSS(&lp, NULL), ERR_OK);
        p[k] = p0 - h;
        ck_assert_int_eq(LOSS(&lm, NULL), ERR_OK);
        p[k] = p0;
        near(g[k], (lp - lm) / (2 * h), "dtheta", k);
    }
    for (size_t k = n_trained; k < np; k++)
        ck_assert_msg(g[k] == 0.0, "the mass %zu is not trained", k);
#undef LOSS
    kind->free(ks);
    free(g);
    free(scratch);
}

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
    spec_from(doc, &spec);
    ck_assert_int_eq(job_spec_fit(&spec, MODEL_KIND_LAGRANGIAN), JOB_FIT_LNN);
    model_def *def = &spec.init_def;
    ck_assert_int_eq(def->kind, MODEL_KIND_LAGRANGIAN);
    dataset ds;
    ds_new(&ds, 1, c);
    double t[7], y[7 * 8];
    for (size_t i = 0; i < 7; i++) {
        t[i] = (double)i;
        for (size_t k = 0; k < c; k++)
            y[i * c + k] = urand(-1, 1);
    }
    y[3 * c + c - 1] = NAN; /* a missing derivative: the pair is skipped */
    series_set(&ds, 0, 7, t, y, c);
    struct td td;
    td_new(&td, def, &ds, &spec, def->params);
    /* random parameters whose mass matrix is well conditioned at every
     * observed state (|a| < 20): near a singular M the loss is ~1e9 and the
     * differences, not the gradient, lose their digits */
    lag_fit *lf = NULL;
    ck_assert_int_eq(lag_fit_new(&lf, td.net[0], NULL), ERR_OK);
    int ok = 0;
    for (int tries = 0; tries < 200 && !ok; tries++) {
        for (size_t k = 0; k < def->n_params; k++)
            def->params[k] = urand(-0.8, 0.8);
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
    check_fd(&trainer_deriv_kind, &td, def->n_params, 0);
    td_free(&td);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* A trainer on exact harmonic-oscillator pairs (L = (v^2 - q^2) / 2, the
 * derivatives by the spline rule) lowers the lnn loss. */
START_TEST(trainer_fits_oscillator)
{
    job_spec spec;
    spec_from("{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 400, \"seed\": 1,"
              " \"init\": {\"kind\": \"lagrangian\", \"dof\": 1,"
              "            \"lagrangian\": {\"hidden\": [16], \"activation\": \"softplus\"}},"
              " \"objective\": {\"loss\": \"lnn\", \"derivatives\": \"spline\"},"
              " \"optimizer\": {\"lr\": 0.01}}",
              &spec);
    dataset ds;
    ds_new(&ds, 4, 2);
    double t[40], y[80];
    for (size_t s = 0; s < 4; s++) {
        const double r = 0.5 + 0.25 * (double)s, a = (double)s;
        for (size_t i = 0; i < 40; i++) {
            t[i] = 0.1 * (double)i;
            y[2 * i] = r * cos(t[i] + a);
            y[2 * i + 1] = -r * sin(t[i] + a);
        }
        series_set(&ds, s, 40, t, y, 2);
    }
    trainer *tr = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(trainer_new(&tr, &spec.init_def, &ds, &spec, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    struct trainer_row row;
    double first = NAN;
    while (!trainer_done(tr)) {
        ck_assert_msg(trainer_step(tr, &row, &e) == ERR_OK, "%s", e.message);
        if (isnan(first)) first = row.train_loss;
    }
    printf("lnn on the oscillator: loss %.3g -> %.3g\n", first, row.train_loss);
    ck_assert_msg(row.train_loss < first / 100, "%g -> %g", first, row.train_loss);
    trainer_free(tr);
    dataset_free(&ds);
    job_spec_free(&spec);
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
