#include "train_testlib.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "model/rng.h"
#include "model/trainer.h"

uint64_t tt_seed = 0x9e3779b97f4a7c15ull;

double tt_urand(double lo, double hi)
{
    tt_seed ^= tt_seed << 13;
    tt_seed ^= tt_seed >> 7;
    tt_seed ^= tt_seed << 17;
    return lo + (hi - lo) * ((double)(tt_seed >> 11) * 0x1p-53);
}

void tt_spec_from(const char *doc, job_spec *s)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(doc, strlen(doc), s, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
}

/* One series of n rows of c channels at times t (copied). */
void tt_series_set(dataset *ds, size_t s, size_t n, const double *t, const double *y, size_t c)
{
    dataset_series *x = &ds->series[s];
    x->n = n;
    x->t = malloc(n * sizeof *x->t);
    x->y = malloc(n * c * sizeof *x->y);
    memcpy(x->t, t, n * sizeof *t);
    memcpy(x->y, y, n * c * sizeof *y);
}

void tt_ds_new(dataset *ds, size_t n_series, size_t channels)
{
    dataset_init(ds);
    ds->channels = channels;
    ds->n_series = n_series;
    ds->series = calloc(n_series, sizeof *ds->series);
}

void tt_td_new(struct tt_td *t, const model_def *def, const dataset *ds, const job_spec *spec,
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
        mlp_spec ms = {.state_dim = n->in_dim,
                       .n_layers = n->n_layers,
                       .layers = n->layers,
                       .time_input = n->time_input};
        ck_assert_int_eq(mlp_new(&t->net[i], &ms, NULL), ERR_OK);
        mlp_params_bind(t->net[i], params + model_def_net_offset(def, i));
        t->d.net[i] = t->net[i];
    }
}

void tt_td_free(struct tt_td *t)
{
    for (size_t i = 0; i < MODEL_MAX_NETS; i++)
        mlp_free(t->net[i]);
}

void tt_near(double a, double b, const char *what, size_t i)
{
    ck_assert_msg(fabs(a - b) <= 1e-6 * fmax(1.0, fabs(a)), "%s[%zu]: %.17g vs fd %.17g", what, i,
                  a, b);
}

/* The loss of series 0 (or of windows) and its gradient against central
 * differences in the first n_trained parameters. */
void tt_check_fd(const struct trainer_kind *kind, struct tt_td *t, size_t n_trained, int windows)
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
    (windows ? kind->window_loss(ks, &t->d, win_s, win_i, pick, 2, lp, gp ? gp : scratch, &e)      \
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
        tt_near(g[k], (lp - lm) / (2 * h), "dtheta", k);
    }
    for (size_t k = n_trained; k < np; k++)
        ck_assert_msg(g[k] == 0.0, "the mass %zu is not trained", k);
#undef LOSS
    kind->free(ks);
    free(g);
    free(scratch);
}

/* n spirals (cos(t + phi), +-sin(t + phi)), label 1 = anticlockwise; even:
 * 10 times 0.3 apart, all observed; else 8 to 12 irregular times with
 * interior values missing with probability 0.2. */
void tt_spirals(dataset *ds, size_t n, int even, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    dataset_init(ds);
    ds->channels = 2;
    ds->label_kind = DATASET_LABEL_CLASS;
    ds->n_series = n;
    ds->series = calloc(n, sizeof *ds->series);
    ck_assert_ptr_nonnull(ds->series);
    for (size_t k = 0; k < n; k++) {
        dataset_series *x = &ds->series[k];
        x->n = even ? 10 : 8 + rng_below(&r, 5);
        x->t = calloc(x->n, sizeof(double));
        x->y = calloc(2 * x->n, sizeof(double));
        ck_assert(x->t && x->y);
        x->label_class = (long)(k % 2);
        const double phi = rng_uniform_range(&r, 0, 6.283185307179586);
        for (size_t i = 0; i < x->n; i++) {
            x->t[i] =
                even ? 0.3 * (double)i : (i ? x->t[i - 1] : 0) + rng_uniform_range(&r, 0.2, 0.8);
            x->y[2 * i] = cos(x->t[i] + phi);
            x->y[2 * i + 1] = (x->label_class ? 1 : -1) * sin(x->t[i] + phi);
            for (size_t j = 0; !even && j < 2; j++)
                if (i > 0 && i + 1 < x->n && rng_uniform(&r) < 0.2) x->y[2 * i + j] = NAN;
        }
    }
}

void tt_fit_oscillator(const char *job_doc, const char *what)
{
    job_spec spec;
    tt_spec_from(job_doc, &spec);
    dataset ds;
    tt_ds_new(&ds, 4, 2);
    double t[40], y[80];
    for (size_t s = 0; s < 4; s++) {
        const double r = 0.5 + 0.25 * (double)s, a = (double)s;
        for (size_t i = 0; i < 40; i++) {
            t[i] = 0.1 * (double)i;
            y[2 * i] = r * cos(t[i] + a);
            y[2 * i + 1] = -r * sin(t[i] + a);
        }
        tt_series_set(&ds, s, 40, t, y, 2);
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
    printf("%s on the oscillator: loss %.3g -> %.3g\n", what, first, row.train_loss);
    ck_assert_msg(row.train_loss < first / 100, "%g -> %g", first, row.train_loss);
    trainer_free(tr);
    dataset_free(&ds);
    job_spec_free(&spec);
}
